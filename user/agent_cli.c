// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* "socklb agent": options, checks, then the agent itself. */
#include "agent.h"
#include "cli.h"
#include "config_file.h"
#include "dns_resolver.h"
#include "loader.h"
#include "log.h"
#include "preflight.h"
#include "state_file.h"

#include <argp.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
};

static const struct argp_option agent_options[] = {
	{ "service", 's', "VIP:PORT=SOURCE", 0,
	  "Balance connects to VIP:PORT over the backends SOURCE gives. SOURCE is "
	  "static:IP:PORT[,IP:PORT...] (IPv6 as [ADDR]:PORT; 'static:' alone means no "
	  "backends: connects are refused with ECONNREFUSED) or dns:NAME:PORT (every "
	  "address NAME resolves to, A for an IPv4 VIP, AAAA for IPv6, on PORT; e.g. a "
	  "headless Service) or k8s:NAMESPACE/SERVICE[:PORT-NAME] (the Service's ready "
	  "endpoints; without 'VIP:PORT=' its cluster IPs are the VIPs). Repeatable.",
	  0 },
	{ "config", 'c', "FILE", 0,
	  "Read services from FILE, one VIP:PORT=SOURCE per line ('#' comments). "
	  "SIGHUP re-reads it.",
	  0 },
	{ "cgroup", OPT_CGROUP, "PATH", 0,
	  "Attach to this cgroup v2 directory (default: the cgroup v2 root, from the mounts)", 0 },
	{ "pin-path", OPT_PIN_PATH, "PATH", 0, "Pin maps here (default " SOCKLB_DEFAULT_PIN_PATH ")",
	  0 },
	{ "policy", OPT_POLICY, "least-conn|random", 0, "Backend choice (default least-conn)", 0 },
	{ "max-services", OPT_MAX_SERVICES, "N", 0, "Service map size (default 65536)", 0 },
	{ "max-backends", OPT_MAX_BACKENDS, "N", 0, "Backend map size (default 262144)", 0 },
	{ "max-sockets", OPT_MAX_SOCKETS, "N", 0,
	  "Tracked-connection map size (default 262144); beyond it the oldest entries are "
	  "forgotten and their live counts are lost",
	  0 },
	{ "persist", OPT_PERSIST, NULL, 0,
	  "Pin the program links too and leave everything attached and pinned on exit: "
	  "a restarted agent (even after kill -9) adopts the maps and swaps in its "
	  "programs atomically, so balancing never stops (for DaemonSets)",
	  0 },
	{ "metrics-addr", OPT_METRICS_ADDR, "ADDR", 0,
	  "Serve Prometheus metrics on http://ADDR/metrics and a health check on /healthz; "
	  "ADDR is :PORT (all addresses), IP:PORT or [IPV6]:PORT (default: off)",
	  0 },
	{ "cleanup", OPT_CLEANUP, NULL, 0,
	  "Detach and unpin everything an agent left in --pin-path, then exit", 0 },
	{ NULL, 0, NULL, 0, "Rebalancing (moves existing connections; needs Linux 6.5+):", 1 },
	{ "no-rebalance", OPT_NO_REBALANCE, NULL, 0,
	  "Only balance new connections; never end one", 1 },
	{ "max-age", OPT_MAX_AGE, "DURATION", 0,
	  "End connections older than DURATION (+-10% jitter each), idle first; "
	  "like gRPC's MaxConnectionAge (default off)",
	  1 },
	{ "drain-deadline", OPT_DRAIN_DEADLINE, "DURATION", 0,
	  "A connection to move that never looks idle is ended anyway after this "
	  "(default 10s)",
	  1 },
	{ "removal-grace", OPT_REMOVAL_GRACE, "DURATION", 0,
	  "A removed backend's connections are ended when idle, and all of them "
	  "after this (default 50ms)",
	  1 },
	{ "idle-quiet", OPT_IDLE_QUIET, "DURATION", 0,
	  "Idle means no data either way for this long, nothing unacknowledged or "
	  "unread, and the last response after the last request (default 50ms)",
	  1 },
	{ "rebalance-interval", OPT_REBALANCE_INTERVAL, "DURATION", 0,
	  "How often imbalance is checked and idle connections are looked for "
	  "(default 100ms)",
	  1 },
	{ "rebalance-window", OPT_REBALANCE_WINDOW, "DURATION", 0,
	  "An imbalance is worked off over about this long, so reconnects see the "
	  "counts they change (default 200ms)",
	  1 },
	{ "imbalance-threshold", OPT_IMBALANCE_THRESHOLD, "N", 0,
	  "Connections a backend may hold above its fair share, ceil(total / "
	  "backends), before any is moved (default 0)",
	  1 },
	{ NULL, 0, NULL, 0, "dns: sources (resolv.conf's servers, search list and ndots apply):", 2 },
	{ "dns-server", OPT_DNS_SERVER, "IP[:PORT]", 0,
	  "Ask this DNS server instead of resolv.conf's (IPv6 as [ADDR]:PORT). Repeatable", 2 },
	{ "dns-min-interval", OPT_DNS_MIN_INTERVAL, "DURATION", 0,
	  "Never look a name up more often than this, whatever the TTL (default 1s)", 2 },
	{ "dns-max-interval", OPT_DNS_MAX_INTERVAL, "DURATION", 0,
	  "Look a name up at least this often, and back off after failures up to this "
	  "(default 30s)",
	  2 },
	{ "dns-empty-grace", OPT_DNS_EMPTY_GRACE, "DURATION", 0,
	  "When a name stops existing (NXDOMAIN) or has no addresses, keep its last "
	  "backends this long before publishing none (default 30s; 0: at once)",
	  2 },
	{ "state-file", OPT_STATE_FILE, "PATH", 0,
	  "Where `socklb status` finds each service's source, last refresh and last error "
	  "(default " STATE_FILE_DIR "/<name of the pin path>.json; '' for none)",
	  2 },
	{ NULL, 0, NULL, 0,
	  "k8s: sources (in a pod the API, token and CA come from the service account):", 3 },
	{ "api-server", OPT_API_SERVER, "URL", 0,
	  "The Kubernetes API, e.g. https://10.0.0.1:6443, instead of the in-cluster one "
	  "(KUBERNETES_SERVICE_HOST)",
	  3 },
	{ "token-file", OPT_TOKEN_FILE, "FILE", 0,
	  "Bearer token for the API, read again for every request (default in a pod: the "
	  "service account's)",
	  3 },
	{ "ca-file", OPT_CA_FILE, "FILE", 0,
	  "CA certificates to verify the API server with (default in a pod: the service "
	  "account's ca.crt; else the system's)",
	  3 },
	{ "k8s-discover", OPT_K8S_DISCOVER, NULL, 0,
	  "Balance every ClusterIP Service annotated socklb.io/enabled: \"true\" (all "
	  "namespaces, every TCP port)",
	  3 },
	{ "k8s-watch-timeout", OPT_K8S_WATCH_TIMEOUT, "DURATION", 0,
	  "timeoutSeconds of each watch; one silent for twice this is reconnected "
	  "(default 300s)",
	  3 },
	{ NULL, 0, NULL, 0, "Other:", 4 },
	{ "log-level", OPT_LOG_LEVEL, "LEVEL", 0,
	  "debug, info (default), warn or error; SOCKLB_LOG_LEVEL sets the default", 2 },
	{ "verbose", 'v', NULL, 0, "Debug logging, including libbpf and the verifier", 0 },
	{ 0 },
};

struct agent_args {
	struct agent_config cfg;
	bool cleanup;
	char cgroup_root[4096];
};

/* A zero minimum would let a TTL of 0 spin the agent on lookups. */
static void check_dns_timing(struct argp_state *state, const struct dns_timing *t)
{
	if (t->min_ms < 100)
		argp_error(state, "--dns-min-interval: at least 100ms");
	if (t->max_ms < t->min_ms)
		argp_error(state, "--dns-max-interval (%llums) is below --dns-min-interval (%llums)",
			   (unsigned long long)t->max_ms, (unsigned long long)t->min_ms);
}

static void set_log_level(struct argp_state *state, const char *what, const char *name)
{
	enum log_level level;

	if (log_parse_level(name, &level))
		argp_error(state, "%s '%s': use debug, info, warn or error", what, name);
	log_set_level(level);
}

static error_t parse_agent_option(int key, char *arg, struct argp_state *state)
{
	struct agent_args *args = state->input;
	struct agent_config *cfg = &args->cfg;
	char err[256];
	char **grown;

	switch (key) {
	case 's':
		grown = realloc(cfg->service_args, (cfg->n_service_args + 1) * sizeof(*grown));
		if (!grown)
			argp_failure(state, 1, ENOMEM, "--service");
		cfg->service_args = grown;
		cfg->service_args[cfg->n_service_args++] = arg;
		break;
	case 'c':
		cfg->config_path = arg;
		break;
	case OPT_CGROUP:
		cfg->cgroup_path = arg;
		break;
	case OPT_PIN_PATH:
		cfg->pin_path = arg;
		break;
	case OPT_POLICY:
		if (!strcmp(arg, "least-conn"))
			cfg->policy = SOCKLB_POLICY_LEAST_CONN;
		else if (!strcmp(arg, "random"))
			cfg->policy = SOCKLB_POLICY_RANDOM;
		else
			argp_error(state, "unknown --policy '%s': use least-conn or random", arg);
		break;
	case OPT_MAX_SERVICES:
		cfg->max_services = cli_parse_count(state, "--max-services", arg, false);
		break;
	case OPT_MAX_BACKENDS:
		cfg->max_backends = cli_parse_count(state, "--max-backends", arg, false);
		break;
	case OPT_MAX_SOCKETS:
		cfg->max_sockets = cli_parse_count(state, "--max-sockets", arg, false);
		break;
	case OPT_LOG_LEVEL:
		set_log_level(state, "--log-level", arg);
		break;
	case OPT_METRICS_ADDR:
		cfg->metrics_addr = arg;
		break;
	case OPT_PERSIST:
		cfg->persist = true;
		break;
	case OPT_CLEANUP:
		args->cleanup = true;
		break;
	case OPT_NO_REBALANCE:
		cfg->rebalance.enabled = false;
		break;
	case OPT_MAX_AGE:
		cfg->rebalance.max_age_ms = cli_parse_duration_ms(state, "--max-age", arg);
		break;
	case OPT_DRAIN_DEADLINE:
		cfg->rebalance.drain_deadline_ms =
			cli_parse_duration_ms(state, "--drain-deadline", arg);
		break;
	case OPT_REMOVAL_GRACE:
		cfg->rebalance.removal_grace_ms = cli_parse_duration_ms(state, "--removal-grace", arg);
		break;
	case OPT_IDLE_QUIET:
		cfg->rebalance.quiet_ms = cli_parse_duration_ms(state, "--idle-quiet", arg);
		break;
	case OPT_REBALANCE_INTERVAL:
		cfg->rebalance.interval_ms =
			cli_parse_duration_ms(state, "--rebalance-interval", arg);
		break;
	case OPT_REBALANCE_WINDOW:
		cfg->rebalance.window_ms = cli_parse_duration_ms(state, "--rebalance-window", arg);
		break;
	case OPT_IMBALANCE_THRESHOLD:
		cfg->rebalance.threshold =
			cli_parse_count(state, "--imbalance-threshold", arg, true);
		break;
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
		cfg->dns_timing.empty_grace_ms = cli_parse_duration_ms(state, "--dns-empty-grace", arg);
		break;
	case OPT_STATE_FILE:
		cfg->state_file = arg;
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
	case OPT_K8S_WATCH_TIMEOUT:
		cfg->k8s.watch_timeout_ms = cli_parse_duration_ms(state, "--k8s-watch-timeout", arg);
		if (cfg->k8s.watch_timeout_ms < 1000)
			argp_error(state, "--k8s-watch-timeout: at least 1s");
		break;
	case ARGP_KEY_END:
		check_dns_timing(state, &cfg->dns_timing);
		break;
	case 'v':
		log_set_level(LOG_DEBUG);
		break;

	case ARGP_KEY_ARG:
		argp_error(state, "unexpected argument '%s'", arg);
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

static const struct argp agent_argp = {
	agent_options, parse_agent_option, NULL,
	"Load socklb, attach it to a cgroup and keep its service maps up to date until "
	"SIGTERM or SIGINT (SIGHUP re-reads --config). Needs root.",
	NULL, NULL, NULL,
};

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
	return -1;
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
	int status = EXIT_SUCCESS;

	state_file_path(args->cfg.state_file, args->cfg.pin_path, state_path, sizeof(state_path));
	if (preflight_privileges(err, sizeof(err)) ||
	    loader_cleanup(args->cfg.pin_path, err, sizeof(err)) ||
	    state_file_remove(state_path, err, sizeof(err))) {
		fprintf(stderr, "socklb agent --cleanup: %s\n", err);
		status = EXIT_FAILURE;
	}
	free(args->cfg.service_args);
	return status;
}

int cmd_agent(int argc, char **argv)
{
	struct agent_args args = {
		.cfg = {
			.pin_path = SOCKLB_DEFAULT_PIN_PATH,
			.policy = SOCKLB_POLICY_LEAST_CONN,
			.max_services = SOCKLB_DEFAULT_MAX_SERVICES,
			.max_backends = SOCKLB_DEFAULT_MAX_BACKENDS,
			.max_sockets = SOCKLB_DEFAULT_MAX_SOCKETS,
			.rebalance = {
				.enabled = true,
				.interval_ms = 100,
				.window_ms = 200,
				.quiet_ms = 50,
				.drain_deadline_ms = 10000,
				.removal_grace_ms = 50,
				.max_age_ms = 0,
				.pending_ttl_ms = 5000,
				.threshold = 0,
			},
			.dns_timing = { .min_ms = 1000, .max_ms = 30000, .empty_grace_ms = 30000 },
		},
	};
	const char *env_level = getenv("SOCKLB_LOG_LEVEL");
	struct service_spec_list specs;
	enum log_level level;
	char err[1024];
	int status = EXIT_USAGE;

	if (env_level && log_parse_level(env_level, &level)) {
		fprintf(stderr, "socklb agent: SOCKLB_LOG_LEVEL '%s': use debug, info, warn or error\n",
			env_level);
		return EXIT_USAGE;
	}
	if (env_level)
		log_set_level(level);
	if (argp_parse(&agent_argp, argc, argv, 0, NULL, &args))
		return EXIT_USAGE;
	if (args.cleanup)
		return cleanup(&args);
	if (config_gather(args.cfg.service_args, args.cfg.n_service_args, args.cfg.config_path,
			  &specs, err, sizeof(err))) {
		fprintf(stderr, "socklb agent: %s\n", err);
		goto out;
	}
	if (check_k8s(&args.cfg, &specs, err, sizeof(err))) {
		fprintf(stderr, "socklb agent: %s\n", err);
		service_spec_list_free(&specs);
		goto out;
	}
	status = EXIT_FAILURE;
	if (check_machine(&args) == 0) {
		log_capture_libbpf();
		status = agent_run(&args.cfg, &specs);
	}
	service_spec_list_free(&specs);
out:
	free(args.cfg.service_args);
	free(args.cfg.dns_servers);
	return status;
}
