/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* The agent: loads socklb, keeps the maps true to the configured services. */
#ifndef SOCKLB_AGENT_H
#define SOCKLB_AGENT_H

#include <stdbool.h>
#include "sources/dns/dns_refresh.h"
#include "sources/k8s/k8s_api.h"
#include "rebalance/rebalancer.h"
#include "model/service_spec.h"
#include "cluster/cluster.h"

struct agent_config {
	char **service_args; /* --service VIP:PORT=SOURCE texts */
	size_t n_service_args;
	const char *config_path; /* --config, re-read on SIGHUP; may be NULL */
	const char *cgroup_path;
	const char *pin_path;
	enum socklb_policy policy;
	struct lb_map_sizes sizes; /* --max-services, --max-backends */
	bool persist;		   /* --persist: leave everything attached for the next agent */
	const char *metrics_addr;  /* --metrics-addr, or NULL: no metrics server */
	struct rebalancer_opts rebalance;
	char *dns_servers; /* --dns-server list for c-ares, or NULL: resolv.conf's */
	struct dns_timing
	    dns_timing;		/* --dns-min-interval, --dns-max-interval, --dns-empty-grace */
	const char *state_file; /* --state-file; NULL: the default path, "": none */
	struct k8s_options k8s; /* --api-server, --token-file, --ca-file, --k8s-discover, ... */
	struct cluster_options cluster; /* --no-cluster, --node-name, --publish-interval, ... */
};

/*
 * Loads socklb with the services in specs (from config_gather) and runs until
 * SIGTERM or SIGINT; returns the process exit status (EXIT_SUCCESS or
 * EXIT_FAILURE).
 */
int agent_run(const struct agent_config *cfg, const struct service_spec_list *specs);

#endif
