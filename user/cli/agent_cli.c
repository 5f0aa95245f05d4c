// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* "socklb agent": options, the checks that need no BPF, then the agent itself. */
#include "agent/config_file.h"
#include "agent/state_file.h"
#include "cli/agent_options.h"
#include "datapath/loader.h"
#include "datapath/preflight.h"
#include "lib/log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

static int check_machine(struct agent_args *args)
{
	struct agent_config *cfg = &args->cfg;
	char err[1024];

	if (!cfg->cgroup_path) {
		if (find_cgroup2_root(args->cgroup_root, sizeof(args->cgroup_root), err,
				      sizeof(err)))
			goto fail;
		cfg->cgroup_path = args->cgroup_root;
	}
	if (preflight_privileges(err, sizeof(err)) || preflight_btf(err, sizeof(err)) ||
	    preflight_bpffs(cfg->pin_path, err, sizeof(err)) ||
	    preflight_cgroup(cfg->cgroup_path, err, sizeof(err)))
		goto fail;
	return 0;
fail:
	fprintf(stderr, "socklb agent: %s\n", err);
	return -EPERM;
}

/* k8s: sources need an API to talk to: refuse at once (exit 64) if there is none. */
static int check_k8s(const struct agent_config *cfg, const struct service_spec_list *specs,
		     char *err, size_t errlen)
{
	struct k8s_api_config api;
	bool wanted = cfg->k8s.discover;

	for (size_t i = 0; i < specs->n; i++)
		wanted = wanted || specs->items[i].kind == SOURCE_K8S;
	return wanted ? k8s_api_config_resolve(&cfg->k8s, &api, err, errlen) : 0;
}

static int cleanup(struct agent_args *args)
{
	char err[1024], state_path[4096];

	state_file_path(args->cfg.state_file, args->cfg.pin_path, state_path, sizeof(state_path));
	if (preflight_privileges(err, sizeof(err)) ||
	    loader_cleanup(args->cfg.pin_path, err, sizeof(err)) ||
	    state_file_remove(state_path, err, sizeof(err))) {
		fprintf(stderr, "socklb agent --cleanup: %s\n", err);
		return EXIT_FAILURE;
	}
	return EXIT_SUCCESS;
}

/* Bad input exits with EXIT_USAGE, a machine that cannot run socklb with EXIT_FAILURE. */
static int run(struct agent_args *args)
{
	struct service_spec_list specs;
	char err[1024];
	int status;

	if (args->cleanup)
		return cleanup(args);
	if (config_gather(args->cfg.service_args, args->cfg.n_service_args, args->cfg.config_path,
			  &specs, err, sizeof(err))) {
		fprintf(stderr, "socklb agent: %s\n", err);
		return EXIT_USAGE;
	}
	if (check_k8s(&args->cfg, &specs, err, sizeof(err))) {
		fprintf(stderr, "socklb agent: %s\n", err);
		service_spec_list_free(&specs);
		return EXIT_USAGE;
	}
	status = EXIT_FAILURE;
	if (check_machine(args) == 0) {
		log_capture_libbpf();
		status = agent_run(&args->cfg, &specs);
	}
	service_spec_list_free(&specs);
	return status;
}

int cmd_agent(int argc, char **argv)
{
	struct agent_args args;
	int status;

	if (agent_parse_args(argc, argv, &args))
		return EXIT_USAGE;
	status = run(&args);
	agent_args_free(&args);
	return status;
}
