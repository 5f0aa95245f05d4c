// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "agent.h"
#include "agent_services.h"
#include "agent_sources.h"
#include "config_file.h"
#include "event_loop.h"
#include "loader.h"
#include "log.h"
#include "metrics.h"
#include "rebalancer.h"
#include "socklb.skel.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

/* How often retired backends are checked for their last connection. */
#define AGENT_TICK_MS 1000

struct agent {
	const struct agent_config *cfg;
	struct loader loader;
	struct service_table table;
	struct event_loop *loop;
	struct rebalancer rebalancer;
	bool rebalancing;
	struct agent_sources *sources; /* dns: lookups, state file */
	struct metrics_server *metrics;
	int signal_fd;
};

static void reload(struct agent *a)
{
	struct service_spec_list specs;
	char err[1024];

	if (!a->cfg->config_path) {
		log_info("msg=\"SIGHUP: no --config file to re-read\"");
		return;
	}
	if (config_gather(a->cfg->service_args, a->cfg->n_service_args, a->cfg->config_path, &specs,
			  err, sizeof(err))) {
		log_error("msg=\"reload failed, keeping the current services\" error=\"%s\"", err);
		return;
	}
	log_info("msg=\"reloading\" config=%s services=%zu", a->cfg->config_path, specs.n);
	service_table_apply(&a->table, &specs);
	agent_sources_apply(a->sources, &specs);
	service_spec_list_free(&specs);
}

static void on_signal(void *arg, int fd, uint32_t events)
{
	struct agent *a = arg;
	struct signalfd_siginfo si;

	(void)events;
	while (read(fd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGHUP) {
			reload(a);
		} else {
			log_info("msg=stopping signal=%s", strsignal((int)si.ssi_signo));
			loop_stop(a->loop);
			return;
		}
	}
}

static void on_tick(void *arg)
{
	struct agent *a = arg;

	service_table_reap_retired(&a->table);
	if (!loop_add_timer(a->loop, AGENT_TICK_MS, on_tick, a))
		log_error("msg=\"cannot re-arm the agent tick\"");
}

static int setup_events(struct agent *a)
{
	sigset_t mask;

	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &mask, NULL))
		return -1;
	a->loop = loop_new();
	a->signal_fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (!a->loop || a->signal_fd < 0)
		return -1;
	if (loop_add_fd(a->loop, a->signal_fd, EPOLLIN, on_signal, a))
		return -1;
	return loop_add_timer(a->loop, AGENT_TICK_MS, on_tick, a) ? 0 : -1;
}

/* Without rebalancing socklb still balances new connections: warn, go on. */
static void start_rebalancer(struct agent *a)
{
	struct rebalancer_opts opts = a->cfg->rebalance;
	char err[1024];

	if (!opts.enabled) {
		log_info("msg=\"rebalancing off (--no-rebalance)\"");
		return;
	}
	opts.max_backends = a->cfg->max_backends;
	if (rebalancer_start(&a->rebalancer, &opts, &a->loader.maps, &a->table,
			     a->cfg->max_services, a->loop, &a->loader.skel->bss->activity, err,
			     sizeof(err))) {
		log_warn("msg=\"rebalancing disabled\" error=\"%s\"", err);
		return;
	}
	a->rebalancing = true;
	log_info("msg=\"rebalancing on\" quiet_ms=%llu drain_deadline_ms=%llu removal_grace_ms=%llu "
		 "max_age_ms=%llu interval_ms=%llu window_ms=%llu threshold=%u",
		 (unsigned long long)opts.quiet_ms, (unsigned long long)opts.drain_deadline_ms,
		 (unsigned long long)opts.removal_grace_ms,
		 (unsigned long long)opts.max_age_ms, (unsigned long long)opts.interval_ms,
		 (unsigned long long)opts.window_ms, opts.threshold);
}

static int start_metrics(struct agent *a)
{
	struct metrics_ctx ctx = { &a->table, &a->loader.maps, a->sources };
	char err[1024];

	if (!a->cfg->metrics_addr)
		return 0;
	a->metrics = metrics_start(a->loop, a->cfg->metrics_addr, &ctx, err, sizeof(err));
	if (!a->metrics) {
		log_error("msg=\"%s\"", err);
		return -1;
	}
	log_info("msg=\"serving /metrics and /healthz\" addr=%s", a->cfg->metrics_addr);
	return 0;
}

static int start(struct agent *a, const struct service_spec_list *specs)
{
	struct loader_opts opts = {
		.cgroup_path = a->cfg->cgroup_path,
		.pin_path = a->cfg->pin_path,
		.policy = a->cfg->policy,
		.max_services = a->cfg->max_services,
		.max_backends = a->cfg->max_backends,
		.max_sockets = a->cfg->max_sockets,
		.persist = a->cfg->persist,
	};
	char err[1024];

	if (setup_events(a)) {
		log_error("msg=\"cannot set up the event loop\" error=\"%s\"", strerror(errno));
		return -1;
	}
	if (loader_start(&a->loader, &opts, err, sizeof(err))) {
		log_error("msg=\"%s\"", err);
		return -1;
	}
	service_table_init(&a->table, &a->loader.maps, a->cfg->max_services, a->cfg->max_backends);
	if (a->loader.adopted && service_table_adopt(&a->table)) {
		log_error("msg=\"cannot read the state the earlier agent left in %s: run 'socklb "
			  "agent --cleanup' to start over\"",
			  a->cfg->pin_path);
		return -1;
	}
	if (service_table_apply(&a->table, specs)) {
		log_error("msg=\"cannot load the configured services (see above)\"");
		return -1;
	}
	a->sources = agent_sources_start(a->loop, &a->table, a->cfg, specs);
	if (!a->sources)
		return -1;
	start_rebalancer(a);
	return start_metrics(a);
}

int agent_run(const struct agent_config *cfg, const struct service_spec_list *specs)
{
	struct agent a = { .cfg = cfg, .signal_fd = -1 };
	int status = EXIT_FAILURE;

	a.loader.cgroup_fd = -1;
	a.loader.pin_dir_fd = -1;
	if (start(&a, specs) == 0) {
		log_info("msg=ready cgroup=%s pin_path=%s policy=%s services=%zu", cfg->cgroup_path,
			 cfg->pin_path, cfg->policy == SOCKLB_POLICY_RANDOM ? "random" : "least-conn",
			 specs->n);
		status = loop_run(a.loop) ? EXIT_FAILURE : EXIT_SUCCESS;
	}
	metrics_stop(a.metrics);
	if (a.rebalancing)
		rebalancer_stop(&a.rebalancer);
	agent_sources_free(a.sources);
	loader_stop(&a.loader);
	service_table_free(&a.table);
	loop_free(a.loop);
	if (a.signal_fd >= 0)
		close(a.signal_fd);
	if (cfg->persist)
		log_info("msg=stopped detail=\"programs stay attached and maps pinned "
			 "(--persist): the next agent adopts them\" exit_status=%d",
			 status);
	else
		log_info("msg=stopped detail=\"programs detached, maps unpinned\" exit_status=%d",
			 status);
	return status;
}
