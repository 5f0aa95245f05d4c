// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * "socklb agent"'s command line.  Every default is written once, below, as
 * the text a user would type: the parser starts by applying them through
 * the same code as the user's options, and --help shows the same text.
 */
#include "cli/agent_options.h"
#include "lib/log.h"
#include "lib/util.h"
#include "agent/state_file.h"
#include "sources/dns/dns_resolver.h"
#include "sources/source.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STR_(x) #x
#define STR(x) STR_(x)

#define D_PIN_PATH SOCKLB_DEFAULT_PIN_PATH
#define D_POLICY "least-conn"
#define D_MAX_SERVICES STR(SOCKLB_DEFAULT_MAX_SERVICES)
#define D_MAX_BACKENDS STR(SOCKLB_DEFAULT_MAX_BACKENDS)
#define D_DRAIN_DEADLINE "10s"
#define D_REMOVAL_GRACE "50ms"
#define D_IDLE_QUIET "50ms"
#define D_REBALANCE_INTERVAL "100ms"
#define D_REBALANCE_WINDOW "200ms"
#define D_IMBALANCE_THRESHOLD "0"
#define D_DNS_MIN_INTERVAL "1s"
#define D_DNS_MAX_INTERVAL "30s"
#define D_DNS_EMPTY_GRACE "30s"
#define D_K8S_WATCH_TIMEOUT "300s"
#define D_PUBLISH_INTERVAL "1s"
#define D_HEARTBEAT_INTERVAL "30s"
#define D_LOG_LEVEL "info"

/* Connections ended and not back by then are no longer expected (not an option). */
#define PENDING_TTL_MS 5000

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
	OPT_K8S_NAMESPACE,
	OPT_NO_CLUSTER,
	OPT_NODE_NAME,
	OPT_PUBLISH_INTERVAL,
	OPT_HEARTBEAT_INTERVAL,
};

/* Applied, in this order, before the user's options. */
static const struct {
	int key;
	const char *value;
} defaults[] = {
    {OPT_PIN_PATH, D_PIN_PATH},
    {OPT_POLICY, D_POLICY},
    {OPT_MAX_SERVICES, D_MAX_SERVICES},
    {OPT_MAX_BACKENDS, D_MAX_BACKENDS},
    {OPT_DRAIN_DEADLINE, D_DRAIN_DEADLINE},
    {OPT_REMOVAL_GRACE, D_REMOVAL_GRACE},
    {OPT_IDLE_QUIET, D_IDLE_QUIET},
    {OPT_REBALANCE_INTERVAL, D_REBALANCE_INTERVAL},
    {OPT_REBALANCE_WINDOW, D_REBALANCE_WINDOW},
    {OPT_IMBALANCE_THRESHOLD, D_IMBALANCE_THRESHOLD},
    {OPT_DNS_MIN_INTERVAL, D_DNS_MIN_INTERVAL},
    {OPT_DNS_MAX_INTERVAL, D_DNS_MAX_INTERVAL},
    {OPT_DNS_EMPTY_GRACE, D_DNS_EMPTY_GRACE},
    {OPT_K8S_WATCH_TIMEOUT, D_K8S_WATCH_TIMEOUT},
    {OPT_PUBLISH_INTERVAL, D_PUBLISH_INTERVAL},
    {OPT_HEARTBEAT_INTERVAL, D_HEARTBEAT_INTERVAL},
};

/* argp groups: a header without a group would start a new one. */
enum option_group { G_GENERAL = 1, G_REBALANCE, G_DNS, G_K8S, G_CLUSTER };

static const struct argp_option agent_options[] = {
    {NULL, 0, NULL, 0, "Services and where they are balanced:", G_GENERAL},
    {"service", 's', "VIP:PORT=SOURCE", 0,
     "Balance connects to VIP:PORT over the backends SOURCE gives. SOURCE is "
     "static:IP:PORT[,IP:PORT...] (IPv6 as [ADDR]:PORT; 'static:' alone means no "
     "backends: connects are refused with ECONNREFUSED) or dns:NAME:PORT (every "
     "address NAME resolves to, A for an IPv4 VIP, AAAA for IPv6, on PORT; e.g. a "
     "headless Service) or k8s:NAMESPACE/SERVICE[:PORT-NAME] (the Service's ready "
     "endpoints; without 'VIP:PORT=' its cluster IPs are the VIPs). Repeatable.",
     G_GENERAL},
    {"config", 'c', "FILE", 0,
     "Read services from FILE, one VIP:PORT=SOURCE per line ('#' comments). "
     "SIGHUP re-reads it.",
     G_GENERAL},
    {"cgroup", OPT_CGROUP, "PATH", 0,
     "Attach to this cgroup v2 directory (default: the cgroup v2 root, from the mounts)",
     G_GENERAL},
    {"pin-path", OPT_PIN_PATH, "PATH", 0, "Pin maps here (default " D_PIN_PATH ")", G_GENERAL},
    {"policy", OPT_POLICY, "least-conn|random", 0, "Backend choice (default " D_POLICY ")",
     G_GENERAL},
    {"max-services", OPT_MAX_SERVICES, "N", 0, "Service map size (default " D_MAX_SERVICES ")",
     G_GENERAL},
    {"max-backends", OPT_MAX_BACKENDS, "N", 0, "Backend map size (default " D_MAX_BACKENDS ")",
     G_GENERAL},
    {"max-sockets", OPT_MAX_SOCKETS, "N", OPTION_HIDDEN,
     "Ignored (connection state lives with each socket); kept for old command lines", G_GENERAL},
    {"persist", OPT_PERSIST, NULL, 0,
     "Pin the program links too and leave everything attached and pinned on exit: "
     "a restarted agent (even after kill -9) adopts the maps and swaps in its "
     "programs atomically, so balancing never stops (for DaemonSets)",
     G_GENERAL},
    {"metrics-addr", OPT_METRICS_ADDR, "ADDR", 0,
     "Serve Prometheus metrics on http://ADDR/metrics and a health check on /healthz; "
     "ADDR is :PORT (all addresses), IP:PORT or [IPV6]:PORT (default: off)",
     G_GENERAL},
    {"state-file", OPT_STATE_FILE, "PATH", 0,
     "Where `socklb status` finds each service's source, last refresh and last error "
     "(default " STATE_FILE_DIR "/<name of the pin path>.json; '' for none)",
     G_GENERAL},
    {"cleanup", OPT_CLEANUP, NULL, 0,
     "Detach and unpin everything an agent left in --pin-path, then exit", G_GENERAL},
    {"log-level", OPT_LOG_LEVEL, "LEVEL", 0,
     "debug, info, warn or error (default " D_LOG_LEVEL "; SOCKLB_LOG_LEVEL sets the "
     "default)",
     G_GENERAL},
    {"verbose", 'v', NULL, 0, "Debug logging, including libbpf and the verifier", G_GENERAL},

    {NULL, 0, NULL, 0, "Rebalancing (moves existing connections; needs Linux 6.5+):", G_REBALANCE},
    {"no-rebalance", OPT_NO_REBALANCE, NULL, 0, "Only balance new connections; never end one",
     G_REBALANCE},
    {"max-age", OPT_MAX_AGE, "DURATION", 0,
     "End connections older than DURATION (+-10% jitter each), idle first; "
     "like gRPC's MaxConnectionAge (default off)",
     G_REBALANCE},
    {"drain-deadline", OPT_DRAIN_DEADLINE, "DURATION", 0,
     "A connection to move that never looks idle is ended anyway after this "
     "(default " D_DRAIN_DEADLINE ")",
     G_REBALANCE},
    {"removal-grace", OPT_REMOVAL_GRACE, "DURATION", 0,
     "A removed backend's connections are ended when idle, and all of them "
     "after this (default " D_REMOVAL_GRACE ")",
     G_REBALANCE},
    {"idle-quiet", OPT_IDLE_QUIET, "DURATION", 0,
     "Idle means no data either way for this long, nothing unacknowledged or "
     "unread, and the last response after the last request (default " D_IDLE_QUIET ")",
     G_REBALANCE},
    {"rebalance-interval", OPT_REBALANCE_INTERVAL, "DURATION", 0,
     "How often imbalance is checked and idle connections are looked for "
     "(default " D_REBALANCE_INTERVAL ")",
     G_REBALANCE},
    {"rebalance-window", OPT_REBALANCE_WINDOW, "DURATION", 0,
     "An imbalance is worked off over about this long, so reconnects see the "
     "counts they change (default " D_REBALANCE_WINDOW ")",
     G_REBALANCE},
    {"imbalance-threshold", OPT_IMBALANCE_THRESHOLD, "N", 0,
     "Connections a backend may hold above its fair share, ceil(total / "
     "backends), before any is moved (default " D_IMBALANCE_THRESHOLD ")",
     G_REBALANCE},

    {NULL, 0, NULL, 0, "dns: sources (resolv.conf's servers, search list and ndots apply):", G_DNS},
    {"dns-server", OPT_DNS_SERVER, "IP[:PORT]", 0,
     "Ask this DNS server instead of resolv.conf's (IPv6 as [ADDR]:PORT). Repeatable", G_DNS},
    {"dns-min-interval", OPT_DNS_MIN_INTERVAL, "DURATION", 0,
     "Never look a name up more often than this, whatever the TTL (default " D_DNS_MIN_INTERVAL ")",
     G_DNS},
    {"dns-max-interval", OPT_DNS_MAX_INTERVAL, "DURATION", 0,
     "Look a name up at least this often, and back off after failures up to this "
     "(default " D_DNS_MAX_INTERVAL ")",
     G_DNS},
    {"dns-empty-grace", OPT_DNS_EMPTY_GRACE, "DURATION", 0,
     "When a name stops existing (NXDOMAIN) or has no addresses, keep its last "
     "backends this long before publishing none (default " D_DNS_EMPTY_GRACE "; 0: at once)",
     G_DNS},

    {NULL, 0, NULL, 0,
     "k8s: sources (in a pod the API, token and CA come from the service account):", G_K8S},
    {"api-server", OPT_API_SERVER, "URL", 0,
     "The Kubernetes API, e.g. https://10.0.0.1:6443, instead of the in-cluster one "
     "(KUBERNETES_SERVICE_HOST)",
     G_K8S},
    {"token-file", OPT_TOKEN_FILE, "FILE", 0,
     "Bearer token for the API, read again for every request (default in a pod: the "
     "service account's)",
     G_K8S},
    {"ca-file", OPT_CA_FILE, "FILE", 0,
     "CA certificates to verify the API server with (default in a pod: the service "
     "account's ca.crt; else the system's)",
     G_K8S},
    {"k8s-discover", OPT_K8S_DISCOVER, NULL, 0,
     "Balance every ClusterIP Service annotated socklb.io/enabled: \"true\" (all "
     "namespaces, every TCP port)",
     G_K8S},
    {"k8s-namespace", OPT_K8S_NAMESPACE, "NS", 0,
     "Watch Services and EndpointSlices in this namespace only (repeatable), for RBAC "
     "that grants them per namespace (default: one watch of each for the whole cluster)",
     G_K8S},
    {"k8s-watch-timeout", OPT_K8S_WATCH_TIMEOUT, "DURATION", 0,
     "timeoutSeconds of each watch; one silent for twice this is reconnected "
     "(default " D_K8S_WATCH_TIMEOUT ")",
     G_K8S},

    {NULL, 0, NULL, 0,
     "Cluster-wide balance of k8s: services (every node's agent publishes its connections "
     "per backend in a SocklbNode object and reads everyone's):",
     G_CLUSTER},
    {"no-cluster", OPT_NO_CLUSTER, NULL, 0,
     "Balance k8s: services per node, as static: and dns: ones always are: publish and read "
     "nothing (also the case without a Kubernetes API)",
     G_CLUSTER},
    {"node-name", OPT_NODE_NAME, "NAME", 0,
     "This node's name: its SocklbNode object's, owner-referenced to the Node of that name "
     "(default: $NODE_NAME, which the DaemonSet sets from spec.nodeName; else the host name)",
     G_CLUSTER},
    {"publish-interval", OPT_PUBLISH_INTERVAL, "DURATION", 0,
     "Write this node's counts at most this often, and only when they changed "
     "(default " D_PUBLISH_INTERVAL ")",
     G_CLUSTER},
    {"heartbeat-interval", OPT_HEARTBEAT_INTERVAL, "DURATION", 0,
     "Write them at least this often, changed or not; a node silent for 3 of its intervals "
     "counts as gone (default " D_HEARTBEAT_INTERVAL ")",
     G_CLUSTER},
    {0},
};

static const char agent_doc[] =
    "Load socklb, attach it to a cgroup and keep its service maps up to date until "
    "SIGTERM or SIGINT (SIGHUP re-reads --config). Needs root."
    "\v"
    "EXAMPLES:\n"
    "  Balance one service over two pods, for the whole node:\n"
    "    socklb agent \\\n"
    "      --service 10.96.0.10:8080=static:10.244.1.11:8080,10.244.2.7:8080\n"
    "  Services from a file (kill -HUP re-reads it), for the pods' cgroup only:\n"
    "    socklb agent --config /etc/socklb/services.conf \\\n"
    "      --cgroup /sys/fs/cgroup/kubepods\n"
    "  Backends from a headless Service's DNS name:\n"
    "    socklb agent \\\n"
    "      --service 10.96.0.11:8080=dns:web.default.svc.cluster.local:8080\n"
    "  As the DaemonSet runs it (annotated Services, balanced cluster-wide as node\n"
    "  $NODE_NAME; restarts keep connections):\n"
    "    socklb agent --k8s-discover --persist --metrics-addr :9090\n"
    "  The same, publishing counts at most every 2 s, a heartbeat every minute:\n"
    "    socklb agent --k8s-discover --publish-interval 2s --heartbeat-interval 60s\n"
    "  Each node balanced on its own (no SocklbNode objects written or read):\n"
    "    socklb agent --k8s-discover --no-cluster\n"
    "  Detach and unpin what an agent left behind:\n"
    "    socklb agent --cleanup --pin-path /sys/fs/bpf/socklb\n";

/* A zero minimum would let a TTL of 0 spin the agent on lookups. */
static void check_dns_timing(struct argp_state *state, const struct dns_timing *t)
{
	if (t->min_ms < 100)
		argp_error(state, "--dns-min-interval: at least 100ms");
	if (t->max_ms < t->min_ms)
		argp_error(state,
			   "--dns-max-interval (%llums) is below --dns-min-interval (%llums)",
			   (unsigned long long)t->max_ms, (unsigned long long)t->min_ms);
}

static void set_log_level(struct argp_state *state, const char *what, const char *name)
{
	enum log_level level;

	if (log_parse_level(name, &level))
		argp_error(state, "%s '%s': use debug, info, warn or error", what, name);
	log_set_level(level);
}

static void add_service_arg(struct argp_state *state, struct agent_config *cfg, char *arg)
{
	char **grown = realloc(cfg->service_args, (cfg->n_service_args + 1) * sizeof(*grown));

	if (!grown)
		argp_failure(state, 1, ENOMEM, "--service");
	cfg->service_args = grown;
	cfg->service_args[cfg->n_service_args++] = arg;
}

static void set_policy(struct argp_state *state, struct agent_config *cfg, const char *arg)
{
	if (!strcmp(arg, "least-conn"))
		cfg->policy = SOCKLB_POLICY_LEAST_CONN;
	else if (!strcmp(arg, "random"))
		cfg->policy = SOCKLB_POLICY_RANDOM;
	else
		argp_error(state, "unknown --policy '%s': use least-conn or random", arg);
}

/* Options that say how connections are moved. */
static bool parse_rebalance_option(int key, char *arg, struct argp_state *state,
				   struct rebalancer_opts *r)
{
	switch (key) {
	case OPT_NO_REBALANCE:
		r->enabled = false;
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
	default:
		return false;
	}
	return true;
}

/* Options of the cluster view. */
static bool parse_cluster_option(int key, char *arg, struct argp_state *state,
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
static void check_cluster_timing(struct argp_state *state, const struct cluster_options *c)
{
	if (c->heartbeat_ms < c->publish_ms)
		argp_error(state,
			   "--heartbeat-interval (%llums) is below --publish-interval (%llums)",
			   c->heartbeat_ms, c->publish_ms);
}

/* Options of the dns: and k8s: sources. */
static bool parse_source_option(int key, char *arg, struct argp_state *state,
				struct agent_config *cfg)
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

static error_t parse_agent_option(int key, char *arg, struct argp_state *state);

static void apply_defaults(struct argp_state *state)
{
	struct agent_args *args = state->input;
	const char *env_level = getenv("SOCKLB_LOG_LEVEL");

	args->cfg.rebalance.enabled = true;
	args->cfg.cluster.enabled = true;
	args->cfg.rebalance.pending_ttl_ms = PENDING_TTL_MS;
	for (size_t i = 0; i < ARRAY_SIZE(defaults); i++)
		parse_agent_option(defaults[i].key, (char *)defaults[i].value, state);
	set_log_level(state, "SOCKLB_LOG_LEVEL", env_level ? env_level : D_LOG_LEVEL);
}

static error_t parse_agent_option(int key, char *arg, struct argp_state *state)
{
	struct agent_args *args = state->input;
	struct agent_config *cfg = &args->cfg;

	if (parse_rebalance_option(key, arg, state, &cfg->rebalance) ||
	    parse_source_option(key, arg, state, cfg) ||
	    parse_cluster_option(key, arg, state, &cfg->cluster))
		return 0;
	switch (key) {
	case ARGP_KEY_INIT:
		apply_defaults(state);
		break;
	case 's':
		add_service_arg(state, cfg, arg);
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
		set_policy(state, cfg, arg);
		break;
	case OPT_MAX_SERVICES:
		cfg->sizes.max_services = cli_parse_count(state, "--max-services", arg, false);
		break;
	case OPT_MAX_BACKENDS:
		cfg->sizes.max_backends = cli_parse_count(state, "--max-backends", arg, false);
		break;
	case OPT_MAX_SOCKETS:
		cli_parse_count(state, "--max-sockets", arg, false);
		log_warn("msg=\"--max-sockets is ignored: connection state lives with each socket, "
			 "nothing to size\"");
		break;
	case OPT_LOG_LEVEL:
		set_log_level(state, "--log-level", arg);
		break;
	case 'v':
		log_set_level(LOG_DEBUG);
		break;
	case OPT_METRICS_ADDR:
		cfg->metrics_addr = arg;
		break;
	case OPT_STATE_FILE:
		cfg->state_file = arg;
		break;
	case OPT_PERSIST:
		cfg->persist = true;
		break;
	case OPT_CLEANUP:
		args->cleanup = true;
		break;
	case ARGP_KEY_END:
		check_dns_timing(state, &cfg->dns_timing);
		check_cluster_timing(state, &cfg->cluster);
		break;
	case ARGP_KEY_ARG:
		argp_error(state, "unexpected argument '%s'", arg);
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

int agent_parse_args(int argc, char **argv, struct agent_args *args)
{
	static const struct argp agent_argp = {
	    agent_options, parse_agent_option, NULL, agent_doc, NULL, NULL, NULL,
	};

	memset(args, 0, sizeof(*args));
	return argp_parse(&agent_argp, argc, argv, 0, NULL, args) ? -EINVAL : 0;
}

void agent_args_free(struct agent_args *args)
{
	free(args->cfg.service_args);
	free(args->cfg.dns_servers);
	args->cfg.service_args = NULL;
	args->cfg.dns_servers = NULL;
}
