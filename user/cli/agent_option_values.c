// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* How the value of each of "socklb agent"'s options lands in its configuration. */
#include "cli/agent_options_impl.h"
#include "lib/duration.h"
#include "lib/log.h"
#include "lib/util.h"
#include "agent/state_file.h"
#include "sources/dns/dns_resolver.h"
#include "sources/source.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A zero minimum would let a TTL of 0 spin the agent on lookups. */
void opt_check_dns_timing(struct argp_state *state, const struct dns_timing *t)
{
	if (t->min_ms < 100)
		argp_error(state, "--dns-min-interval: at least 100ms");
	if (t->max_ms < t->min_ms)
		argp_error(state,
			   "--dns-max-interval (%llums) is below --dns-min-interval (%llums)",
			   (unsigned long long)t->max_ms, (unsigned long long)t->min_ms);
}

void opt_set_log_level(struct argp_state *state, const char *what, const char *name)
{
	enum log_level level;

	if (log_parse_level(name, &level))
		argp_error(state, "%s '%s': use debug, info, warn or error", what, name);
	log_set_level(level);
}

void opt_add_service_arg(struct argp_state *state, struct agent_config *cfg, char *arg)
{
	char **grown = realloc(cfg->service_args, (cfg->n_service_args + 1) * sizeof(*grown));

	if (!grown)
		argp_failure(state, 1, ENOMEM, "--service");
	cfg->service_args = grown;
	cfg->service_args[cfg->n_service_args++] = arg;
}

void opt_set_policy(struct argp_state *state, struct agent_config *cfg, const char *arg)
{
	if (!strcmp(arg, "least-conn"))
		cfg->policy = SOCKLB_POLICY_LEAST_CONN;
	else if (!strcmp(arg, "random"))
		cfg->policy = SOCKLB_POLICY_RANDOM;
	else
		argp_error(state, "unknown --policy '%s': use least-conn or random", arg);
}

/* Options that say how connections are moved. */
bool opt_parse_rebalance_option(int key, char *arg, struct argp_state *state,
				struct rebalancer_opts *r)
{
	switch (key) {
	case OPT_NO_REBALANCE:
		r->enabled = false;
		break;
	case OPT_GRACEFUL:
		if (strcmp(arg, "on") && strcmp(arg, "off"))
			argp_error(state, "--graceful takes on or off, not '%s'", arg);
		r->graceful = !strcmp(arg, "on");
		break;
	case OPT_MAX_AGE:
		r->max_age_ms = cli_parse_duration_ms(state, "--max-age", arg);
		break;
	case OPT_DRAIN_DEADLINE:
		r->drain_deadline_ms = cli_parse_duration_ms(state, "--drain-deadline", arg);
		break;
	case OPT_REMOVAL_GRACE:
		r->removal_grace_ms = cli_parse_duration_ms(state, "--removal-grace", arg);
		break;
	case OPT_IDLE_QUIET:
		r->quiet_ms = cli_parse_duration_ms(state, "--idle-quiet", arg);
		break;
	case OPT_REBALANCE_INTERVAL:
		r->interval_ms = cli_parse_duration_ms(state, "--rebalance-interval", arg);
		break;
	case OPT_REBALANCE_WINDOW:
		r->window_ms = cli_parse_duration_ms(state, "--rebalance-window", arg);
		break;
	case OPT_IMBALANCE_THRESHOLD:
		r->threshold = cli_parse_count(state, "--imbalance-threshold", arg, true);
		break;
	case OPT_TIME_FAIR:
		r->time_fair_window_ms = 0;
		if (strcmp(arg, "off") &&
		    (duration_parse_ms(arg, &r->time_fair_window_ms) || !r->time_fair_window_ms))
			argp_error(state,
				   "--time-fair '%s': expected off or a window such as 10s or 1m",
				   arg);
		break;
	case OPT_MIN_DWELL:
		r->min_dwell_ms = cli_parse_duration_ms(state, "--min-dwell", arg);
		break;
	default:
		return false;
	}
	return true;
}

/* Options of the cluster view. */
bool opt_parse_cluster_option(int key, char *arg, struct argp_state *state,
			      struct cluster_options *c)
{
	switch (key) {
	case OPT_NO_CLUSTER:
		c->enabled = false;
		break;
	case OPT_NODE_NAME:
		c->node_name = arg;
		break;
	case OPT_PUBLISH_INTERVAL:
		c->publish_ms = cli_parse_duration_ms(state, "--publish-interval", arg);
		if (c->publish_ms < 100)
			argp_error(state, "--publish-interval: at least 100ms");
		break;
	case OPT_HEARTBEAT_INTERVAL:
		c->heartbeat_ms = cli_parse_duration_ms(state, "--heartbeat-interval", arg);
		break;
	default:
		return false;
	}
	return true;
}

/* A heartbeat more often than the counts may be written would be writes for nothing. */
void opt_check_cluster_timing(struct argp_state *state, const struct cluster_options *c)
{
	if (c->heartbeat_ms < c->publish_ms)
		argp_error(state,
			   "--heartbeat-interval (%llums) is below --publish-interval (%llums)",
			   c->heartbeat_ms, c->publish_ms);
}

/* Options of the dns: and k8s: sources. */
bool opt_parse_source_option(int key, char *arg, struct argp_state *state, struct agent_config *cfg)
{
	char err[256];

	switch (key) {
	case OPT_DNS_SERVER:
		if (dns_server_list_add(&cfg->dns_servers, arg, err, sizeof(err)))
			argp_error(state, "%s", err);
		break;
	case OPT_DNS_MIN_INTERVAL:
		cfg->dns_timing.min_ms = cli_parse_duration_ms(state, "--dns-min-interval", arg);
		break;
	case OPT_DNS_MAX_INTERVAL:
		cfg->dns_timing.max_ms = cli_parse_duration_ms(state, "--dns-max-interval", arg);
		break;
	case OPT_DNS_EMPTY_GRACE:
		cfg->dns_timing.empty_grace_ms =
		    cli_parse_duration_ms(state, "--dns-empty-grace", arg);
		break;
	case OPT_API_SERVER:
		cfg->k8s.api_server = arg;
		break;
	case OPT_TOKEN_FILE:
		cfg->k8s.token_file = arg;
		break;
	case OPT_CA_FILE:
		cfg->k8s.ca_file = arg;
		break;
	case OPT_K8S_DISCOVER:
		cfg->k8s.discover = true;
		break;
	case OPT_K8S_NAMESPACE:
		if (k8s_label_check("--k8s-namespace", arg, strlen(arg), err, sizeof(err)))
			argp_error(state, "%s", err);
		if (cfg->k8s.n_namespaces == K8S_MAX_NAMESPACES)
			argp_error(state, "--k8s-namespace: at most %d", K8S_MAX_NAMESPACES);
		cfg->k8s.namespaces[cfg->k8s.n_namespaces++] = arg;
		break;
	case OPT_K8S_WATCH_TIMEOUT:
		cfg->k8s.watch_timeout_ms =
		    cli_parse_duration_ms(state, "--k8s-watch-timeout", arg);
		if (cfg->k8s.watch_timeout_ms < 1000)
			argp_error(state, "--k8s-watch-timeout: at least 1s");
		break;
	default:
		return false;
	}
	return true;
}
