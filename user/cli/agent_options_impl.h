/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Inside "socklb agent"'s command line: the option keys, and how the values
 * of each group land in the configuration (agent_option_values.c), shared
 * with the table and dispatch in agent_options.c.
 */
#ifndef SOCKLB_AGENT_OPTIONS_IMPL_H
#define SOCKLB_AGENT_OPTIONS_IMPL_H

#include <argp.h>
#include <stdbool.h>
#include "cli/agent_options.h"

enum agent_option {
	OPT_POLICY = 1000,
	OPT_PIN_PATH,
	OPT_CGROUP,
	OPT_MAX_SERVICES,
	OPT_MAX_BACKENDS,
	OPT_MAX_SOCKETS,
	OPT_NO_REBALANCE,
	OPT_PERSIST,
	OPT_METRICS_ADDR,
	OPT_LOG_LEVEL,
	OPT_CLEANUP,
	OPT_MAX_AGE,
	OPT_DRAIN_DEADLINE,
	OPT_REMOVAL_GRACE,
	OPT_IDLE_QUIET,
	OPT_REBALANCE_INTERVAL,
	OPT_REBALANCE_WINDOW,
	OPT_IMBALANCE_THRESHOLD,
	OPT_TIME_FAIR,
	OPT_MIN_DWELL,
	OPT_DNS_SERVER,
	OPT_DNS_MIN_INTERVAL,
	OPT_DNS_MAX_INTERVAL,
	OPT_DNS_EMPTY_GRACE,
	OPT_STATE_FILE,
	OPT_API_SERVER,
	OPT_TOKEN_FILE,
	OPT_CA_FILE,
	OPT_K8S_DISCOVER,
	OPT_K8S_WATCH_TIMEOUT,
	OPT_K8S_NAMESPACE,
	OPT_NO_CLUSTER,
	OPT_NODE_NAME,
	OPT_PUBLISH_INTERVAL,
	OPT_HEARTBEAT_INTERVAL,
	OPT_GRACEFUL,
};

void opt_check_dns_timing(struct argp_state *state, const struct dns_timing *t);
void opt_set_log_level(struct argp_state *state, const char *what, const char *name);
void opt_add_service_arg(struct argp_state *state, struct agent_config *cfg, char *arg);
void opt_set_policy(struct argp_state *state, struct agent_config *cfg, const char *arg);
bool opt_parse_rebalance_option(int key, char *arg, struct argp_state *state,
				struct rebalancer_opts *r);
bool opt_parse_cluster_option(int key, char *arg, struct argp_state *state,
			      struct cluster_options *c);
void opt_check_cluster_timing(struct argp_state *state, const struct cluster_options *c);
bool opt_parse_source_option(int key, char *arg, struct argp_state *state,
			     struct agent_config *cfg);

#endif
