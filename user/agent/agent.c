// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "agent/agent.h"
#include "model/service_table.h"
#include "agent/agent_sources.h"
#include "agent/config_file.h"
#include "datapath/loader.h"
#include "datapath/preflight.h"
#include "lib/util.h"
#include "lib/clock.h"
#include "lib/event_loop.h"
#include "lib/log.h"
#include "metrics/metrics.h"
#include "rebalance/rebalancer.h"

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
	struct loop_watch *signal_watch;
	struct loop_timer tick;
	size_t n_draining; /* retired backends at the last tick, for the state file */
	bool started;	   /* the programs were attached */
	struct missing_privilege missing[4]; /* capabilities it runs without */
	size_t n_missing;
};

/* The rebalancer plans k8s: services on cluster-wide counts once there is a cluster view. */
static void attach_cluster(struct agent *a)
{
	if (a->rebalancing)
		rebalancer_set_cluster(&a->rebalancer, agent_sources_cluster(a->sources));
}

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
		log_error("msg=\"reload failed, keeping the current services\" error=%s",
			  log_q(err));
		return;
	}
	service_table_apply(&a->table, &specs);
	agent_sources_apply(a->sources, &specs);
	attach_cluster(a); /* a k8s: spec may have started it */
	/* After the apply: whoever waits for this line then sees the new services. */
	log_info("msg=reloaded config=%s services=%zu", log_q(a->cfg->config_path), specs.n);
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
	if (a->table.n_retired != a->n_draining) {
		a->n_draining = a->table.n_retired;
		agent_sources_changed(a->sources);
	}
	if (loop_timer_arm(a->loop, &a->tick, AGENT_TICK_MS, on_tick, a))
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
		return -errno;
	a->loop = loop_new();
	if (!a->loop)
		return -ENOMEM;
	a->signal_fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (a->signal_fd < 0)
		return -errno;
	a->signal_watch = loop_watch(a->loop, a->signal_fd, EPOLLIN, on_signal, a);
	if (!a->signal_watch)
		return -errno;
	return loop_timer_arm(a->loop, &a->tick, AGENT_TICK_MS, on_tick, a);
}

/* Without rebalancing socklb still balances new connections: warn, go on. */
/* What status shows of the rebalancer changed: the state file is written soon. */
static void state_changed(void *sources)
{
	agent_sources_changed(sources);
}

static void start_rebalancer(struct agent *a)
{
	struct rebalancer_opts opts = a->cfg->rebalance;
	char err[1024];

	if (!opts.enabled) {
		log_info("msg=\"rebalancing off (--no-rebalance)\"");
		return;
	}
	if (rebalancer_start(&a->rebalancer, &opts, &a->loader, &a->table, a->loop, err,
			     sizeof(err))) {
		log_warn("msg=\"rebalancing disabled\" error=%s", log_q(err));
		return;
	}
	a->rebalancing = true;
	log_info(
	    "msg=\"rebalancing on\" graceful=%s quiet_ms=%llu drain_deadline_ms=%llu "
	    "removal_grace_ms=%llu max_age_ms=%llu interval_ms=%llu window_ms=%llu threshold=%u "
	    "time_fair_ms=%llu min_dwell_ms=%llu",
	    opts.graceful ? "on" : "off", (unsigned long long)opts.quiet_ms,
	    (unsigned long long)opts.drain_deadline_ms, (unsigned long long)opts.removal_grace_ms,
	    (unsigned long long)opts.max_age_ms, (unsigned long long)opts.interval_ms,
	    (unsigned long long)opts.window_ms, opts.threshold,
	    (unsigned long long)opts.time_fair_window_ms, (unsigned long long)opts.min_dwell_ms);
}

static int start_metrics(struct agent *a)
{
	struct metrics_ctx ctx = {
	    .table = &a->table,
	    .maps = &a->loader.maps,
	    .sources = a->sources,
	    .missing = a->missing,
	    .n_missing = a->n_missing,
	    .netns_denied = a->rebalancing ? &a->rebalancer.netns_denied : NULL,
	    .time_fair = a->rebalancing ? a->rebalancer.time_fair : NULL,
	};
	char err[1024];

	if (!a->cfg->metrics_addr)
		return 0;
	a->metrics = metrics_start(a->loop, a->cfg->metrics_addr, &ctx, err, sizeof(err));
	if (!a->metrics) {
		log_error("msg=%s", log_q(err));
		return -EADDRNOTAVAIL;
	}
	log_info("msg=\"serving /metrics and /healthz\" addr=%s", log_q(a->cfg->metrics_addr));
	return 0;
}

/* The programs' load-time settings, from the agent's options. */
static struct socklb_config datapath_config(const struct agent_config *cfg)
{
	return (struct socklb_config){
	    .policy = cfg->policy,
	    .idle_quiet_ns = cfg->rebalance.quiet_ms * NS_PER_MS,
	    .max_age_ns = cfg->rebalance.max_age_ms * NS_PER_MS,
	    .drain_deadline_ns = cfg->rebalance.drain_deadline_ms * NS_PER_MS,
	    .cluster_view = cfg->cluster.enabled,
	    .graceful = cfg->rebalance.enabled && cfg->rebalance.graceful,
	};
}

/* What the agent can do without, said at start, in status and in the metrics. */
static void note_missing_privileges(struct agent *a)
{
	size_t n = preflight_missing_privileges(a->missing, ARRAY_SIZE(a->missing));

	a->n_missing = n < ARRAY_SIZE(a->missing) ? n : ARRAY_SIZE(a->missing);
	for (size_t i = 0; i < a->n_missing; i++)
		log_warn("msg=\"missing privilege\" capability=%s effect=%s",
			 a->missing[i].capability, log_q(a->missing[i].effect));
}

static int start(struct agent *a, const struct service_spec_list *specs)
{
	struct loader_opts opts = {
	    .cgroup_path = a->cfg->cgroup_path,
	    .pin_path = a->cfg->pin_path,
	    .cfg = datapath_config(a->cfg),
	    .sizes = a->cfg->sizes,
	    .persist = a->cfg->persist,
	};
	char err[1024];
	int ret;

	ret = setup_events(a);
	if (ret) {
		log_error("msg=\"cannot set up the event loop\" error=%s", log_q(strerror(-ret)));
		return ret;
	}
	note_missing_privileges(a);
	ret = loader_start(&a->loader, &opts, err, sizeof(err));
	if (ret) {
		log_error("msg=%s", log_q(err));
		return ret;
	}
	a->started = true;
	service_table_init(&a->table, &a->loader.maps, a->cfg->sizes.max_services,
			   a->cfg->sizes.max_backends);
	if (a->loader.adopted && service_table_adopt(&a->table)) {
		log_error("msg=\"cannot read the state the earlier agent left: run 'socklb agent "
			  "--cleanup' to start over\" pin_path=%s",
			  log_q(a->cfg->pin_path));
		return -EIO;
	}
	if (a->loader.adopted)
		service_table_zero_extras(&a->table);
	if (service_table_apply(&a->table, specs)) {
		log_error("msg=\"cannot load the configured services (see above)\"");
		return -EINVAL;
	}
	a->sources =
	    agent_sources_start(a->loop, &a->table, a->cfg, specs, a->missing, a->n_missing);
	if (!a->sources)
		return -ENOMEM;
	start_rebalancer(a);
	if (a->rebalancing) {
		agent_sources_set_time_fair(a->sources, a->rebalancer.time_fair);
		a->rebalancer.status_changed = state_changed;
		a->rebalancer.status_arg = a->sources;
	}
	attach_cluster(a);
	return start_metrics(a);
}

int agent_run(const struct agent_config *cfg, const struct service_spec_list *specs)
{
	struct agent a = {.cfg = cfg, .signal_fd = -1};
	int status = EXIT_FAILURE;

	a.loader.cgroup_fd = -1;
	a.loader.pin_dir_fd = -1;
	if (start(&a, specs) == 0) {
		log_info("msg=ready cgroup=%s pin_path=%s policy=%s services=%zu",
			 log_q(cfg->cgroup_path), log_q(cfg->pin_path),
			 cfg->policy == SOCKLB_POLICY_RANDOM ? "random" : "least-conn", specs->n);
		status = loop_run(a.loop) ? EXIT_FAILURE : EXIT_SUCCESS;
	}
	metrics_stop(a.metrics);
	if (a.rebalancing)
		rebalancer_stop(&a.rebalancer);
	agent_sources_free(a.sources);
	loader_stop(&a.loader);
	service_table_free(&a.table);
	if (a.loop) {
		loop_timer_cancel(a.loop, &a.tick);
		loop_unwatch(a.loop, a.signal_watch);
	}
	loop_free(a.loop);
	if (a.signal_fd >= 0)
		close(a.signal_fd);
	if (!a.started)
		log_info("msg=stopped detail=\"nothing was attached or pinned\" exit_status=%d",
			 status);
	else if (cfg->persist)
		log_info("msg=stopped detail=\"programs stay attached and maps pinned "
			 "(--persist): the next agent adopts them\" exit_status=%d",
			 status);
	else
		log_info("msg=stopped detail=\"programs detached, maps unpinned\" exit_status=%d",
			 status);
	return status;
}
