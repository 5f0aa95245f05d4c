// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * "socklb agent"'s command line.  Every default is written once, below, as
 * the text a user would type: the parser starts by applying them through
 * the same code as the user's options, and --help shows the same text.
 */
#include "cli/agent_options.h"
#include "cli/agent_options_impl.h"
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
#define D_GRACEFUL "on"
#define D_DRAIN_DEADLINE "10s"
#define D_REMOVAL_GRACE "50ms"
#define D_IDLE_QUIET "50ms"
#define D_REBALANCE_INTERVAL "100ms"
#define D_REBALANCE_WINDOW "200ms"
#define D_IMBALANCE_THRESHOLD "0"
#define D_TIME_FAIR "10s"
#define D_MIN_DWELL "1s"
#define D_DNS_MIN_INTERVAL "1s"
#define D_DNS_MAX_INTERVAL "30s"
#define D_DNS_EMPTY_GRACE "30s"
#define D_K8S_WATCH_TIMEOUT "300s"
#define D_PUBLISH_INTERVAL "1s"
#define D_HEARTBEAT_INTERVAL "30s"
#define D_LOG_LEVEL "info"

/* Connections ended and not back by then are no longer expected (not an option). */
#define PENDING_TTL_MS 5000

/* Applied, in this order, before the user's options. */
static const struct {
	int key;
	const char *value;
} defaults[] = {
    {OPT_PIN_PATH, D_PIN_PATH},
    {OPT_POLICY, D_POLICY},
    {OPT_MAX_SERVICES, D_MAX_SERVICES},
    {OPT_MAX_BACKENDS, D_MAX_BACKENDS},
    {OPT_GRACEFUL, D_GRACEFUL},
    {OPT_DRAIN_DEADLINE, D_DRAIN_DEADLINE},
    {OPT_REMOVAL_GRACE, D_REMOVAL_GRACE},
    {OPT_IDLE_QUIET, D_IDLE_QUIET},
    {OPT_REBALANCE_INTERVAL, D_REBALANCE_INTERVAL},
    {OPT_REBALANCE_WINDOW, D_REBALANCE_WINDOW},
    {OPT_IMBALANCE_THRESHOLD, D_IMBALANCE_THRESHOLD},
    {OPT_TIME_FAIR, D_TIME_FAIR},
    {OPT_MIN_DWELL, D_MIN_DWELL},
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
    {"graceful", OPT_GRACEFUL, "on|off", 0,
     "on: cleartext HTTP/2 (h2c) connections are moved with a GOAWAY put into the "
     "client's stream at a frame boundary, so no call fails; others (TLS, HTTP/1) "
     "are destroyed idle-first. off: every move destroys (default " D_GRACEFUL ")",
     G_REBALANCE},
    {"drain-deadline", OPT_DRAIN_DEADLINE, "DURATION", 0,
     "A connection to move that never looks idle, or that was sent a GOAWAY and "
     "has not closed, is ended anyway after this "
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
    {"time-fair", OPT_TIME_FAIR, "WINDOW|off", 0,
     "When a service's connections are fewer than its backends, do not divide "
     "evenly or differ in load, rotate them one at a time so that every backend "
     "gets its share of the load over any WINDOW; only moves that lose no call "
     "(default " D_TIME_FAIR ")",
     G_REBALANCE},
    {"min-dwell", OPT_MIN_DWELL, "DURATION", 0,
     "The time-fair rotation never moves a connection younger than this; with "
     "many backends the rotation slows down rather than move faster (default " D_MIN_DWELL ")",
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
	opt_set_log_level(state, "SOCKLB_LOG_LEVEL", env_level ? env_level : D_LOG_LEVEL);
}

static error_t parse_agent_option(int key, char *arg, struct argp_state *state)
{
	struct agent_args *args = state->input;
	struct agent_config *cfg = &args->cfg;

	if (opt_parse_rebalance_option(key, arg, state, &cfg->rebalance) ||
	    opt_parse_source_option(key, arg, state, cfg) ||
	    opt_parse_cluster_option(key, arg, state, &cfg->cluster))
		return 0;
	switch (key) {
	case ARGP_KEY_INIT:
		apply_defaults(state);
		break;
	case 's':
		opt_add_service_arg(state, cfg, arg);
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
		opt_set_policy(state, cfg, arg);
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
		opt_set_log_level(state, "--log-level", arg);
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
		opt_check_dns_timing(state, &cfg->dns_timing);
		opt_check_cluster_timing(state, &cfg->cluster);
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
