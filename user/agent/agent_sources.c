// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "agent/agent_sources.h"
#include "lib/clock.h"
#include "lib/log.h"
#include "sources/dns/source_dns.h"
#include "sources/k8s/k8s_source.h"
#include "cluster/cluster.h"
#include "agent/state_file.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/*
 * At most one write of the state file per this long, a burst of changes
 * sharing one; and at least STATE_WRITE_COST_SHARE times as long as the last
 * write took: the file has a line per service (5,000 Services: about 60 ms
 * a write), so that under a steady stream of events it costs the agent at
 * most a tenth of its time, whatever the number of services.
 */
#define STATE_WRITE_INTERVAL_MS 100
#define STATE_WRITE_COST_SHARE 10
/* Two informers per namespace, and the cluster's. */
#define AGENT_MAX_WATCHES (2 * K8S_MAX_NAMESPACES + 1)

struct agent_sources {
	struct event_loop *loop;
	struct service_table *table;
	struct dns_source *dns;
	struct k8s_source *k8s;	 /* NULL until a k8s: spec or --k8s-discover needs it */
	struct cluster *cluster; /* with the k8s: source, unless --no-cluster */
	const struct agent_config *cfg;
	const char *pin_path;
	char state_path[4096]; /* "" when --state-file is "" */
	double config_read_at; /* wall clock: static services' last refresh */
	struct loop_timer write_timer;
	uint64_t last_write_ms; /* mono_now_ms of the last write */
	uint64_t write_gap_ms;	/* how long to wait after a write before the next */
	bool write_failing;	/* log a failing write once, not every time */
	const struct missing_privilege *missing; /* the agent's, for the state file */
	size_t n_missing;
};

/* One service as the state file shows it; dns: services report their watch. */
struct state_service agent_sources_describe(const struct agent_sources *s,
					    const struct agent_service *svc)
{
	struct state_service out = {
	    .vip = svc->vip,
	    .source = svc->source,
	    .kind = "static",
	    .state = "ok",
	    .published = svc->published,
	    .n_backends = svc->backends.n,
	    .last_refresh = s->config_read_at,
	};
	struct dns_watch_status dns;
	struct k8s_watch_status k8s;

	if (k8s_source_status(s->k8s, svc, &k8s)) {
		out.kind = "k8s";
		out.state = k8s.state;
		out.last_refresh = k8s.last_refresh;
		out.last_error = k8s.last_error;
		out.last_error_at = k8s.last_error_at;
		out.refreshes = k8s.refreshes;
		out.errors = k8s.errors;
	} else if (dns_source_status(s->dns, &svc->vip, &dns)) {
		out.kind = "dns";
		out.state = dns_state_name(dns.state);
		out.last_refresh = dns.last_refresh;
		out.last_error = dns.last_error;
		out.last_error_at = dns.last_error_at;
		out.refreshes = dns.refreshes;
		out.errors = dns.errors;
	}
	return out;
}

static void write_state(void *arg)
{
	struct agent_sources *s = arg;
	/* k8s: services whose VIPs are not known yet are listed without one. */
	size_t n_unplaced = k8s_source_unplaced(s->k8s, NULL, 0);
	size_t n = s->table->n + n_unplaced;
	struct state_service *svcs = calloc(n + 1, sizeof(*svcs));
	struct k8s_informer_health watches[AGENT_MAX_WATCHES];
	struct state_agent agent = {
	    .missing = s->missing, .n_missing = s->n_missing, .watches = watches};
	uint64_t began_ns = mono_now_ns(), took_ms;
	char err[4300];

	s->last_write_ms = mono_now_ms();
	if (!svcs)
		return;
	for (size_t i = 0; i < s->table->n; i++)
		svcs[i] = agent_sources_describe(s, &s->table->items[i]);
	k8s_source_unplaced(s->k8s, svcs + s->table->n, n_unplaced);
	agent.n_watches = agent_sources_watches(s, watches, AGENT_MAX_WATCHES);
	if (agent.n_watches > AGENT_MAX_WATCHES)
		agent.n_watches = AGENT_MAX_WATCHES;
	agent.draining = s->table->retired;
	agent.n_draining = s->table->n_retired;
	agent.cluster = s->cluster ? cluster_state_json(s->cluster, s->table) : NULL;
	if (state_file_write(s->state_path, s->pin_path, svcs, n, &agent, err, sizeof(err))) {
		if (!s->write_failing)
			log_warn("msg=\"socklb status will not show sources\" error=%s",
				 log_q(err));
		s->write_failing = true;
	} else {
		s->write_failing = false;
	}
	json_object_put(agent.cluster);
	free(svcs);
	took_ms = (mono_now_ns() - began_ns) / NS_PER_MS;
	s->write_gap_ms = took_ms * STATE_WRITE_COST_SHARE > STATE_WRITE_INTERVAL_MS
			      ? took_ms * STATE_WRITE_COST_SHARE
			      : STATE_WRITE_INTERVAL_MS;
}

/*
 * Writes now, so that status agrees with the maps, unless the file was just
 * written: then once more when the interval is over, for the whole burst.
 */
static void state_changed(void *arg)
{
	struct agent_sources *s = arg;
	uint64_t since = mono_now_ms() - s->last_write_ms;

	if (!s->state_path[0] || loop_timer_armed(&s->write_timer))
		return;
	if (since >= s->write_gap_ms)
		write_state(s);
	else if (loop_timer_arm(s->loop, &s->write_timer, s->write_gap_ms - since, write_state, s))
		write_state(s); /* cannot wait: write now */
}

void agent_sources_changed(struct agent_sources *s)
{
	state_changed(s);
}

size_t agent_sources_watches(const struct agent_sources *s, struct k8s_informer_health *out,
			     size_t max)
{
	size_t n = k8s_source_watches(s->k8s, out, max);

	if (s->cluster && n < max)
		cluster_informer_health(s->cluster, &out[n]);
	return n + (s->cluster != NULL);
}

struct cluster *agent_sources_cluster(const struct agent_sources *s)
{
	return s->cluster;
}

void agent_sources_k8s_api(const struct agent_sources *s, struct k8s_api_stats *out)
{
	memset(out, 0, sizeof(*out));
	if (s->k8s)
		k8s_source_api_stats(s->k8s, out);
}

struct agent_sources *agent_sources_start(struct event_loop *loop, struct service_table *table,
					  const struct agent_config *cfg,
					  const struct service_spec_list *specs,
					  const struct missing_privilege *missing, size_t n_missing)
{
	struct agent_sources *s = calloc(1, sizeof(*s));
	struct dns_source_opts dns_opts = {
	    .servers_csv = cfg->dns_servers,
	    .timing = cfg->dns_timing,
	    .changed = state_changed,
	};
	char err[1024];

	if (!s) {
		log_error("msg=\"out of memory\"");
		return NULL;
	}
	s->loop = loop;
	s->table = table;
	s->pin_path = cfg->pin_path;
	s->cfg = cfg;
	s->missing = missing;
	s->n_missing = n_missing;
	state_file_path(cfg->state_file, cfg->pin_path, s->state_path, sizeof(s->state_path));
	dns_opts.changed_arg = s;
	s->dns = dns_source_new(loop, table, &dns_opts, err, sizeof(err));
	if (!s->dns) {
		log_error("msg=%s", log_q(err));
		free(s);
		return NULL;
	}
	agent_sources_apply(s, specs);
	return s;
}

static bool wants_k8s(const struct agent_sources *s, const struct service_spec_list *specs)
{
	for (size_t i = 0; i < specs->n; i++) {
		if (specs->items[i].kind == SOURCE_K8S)
			return true;
	}
	return s->cfg->k8s.discover;
}

/* The cluster view, on the k8s: source's API client: the same HTTP/2 connection. */
static void start_cluster(struct agent_sources *s)
{
	const struct agent_config *cfg = s->cfg;
	struct cluster_ctx ctx = {
	    .loop = s->loop,
	    .api = k8s_source_api(s->k8s),
	    .maps = s->table->maps,
	    .table = s->table,
	    .threshold = cfg->rebalance.threshold,
	    .gone_ttl_ms = cfg->rebalance.pending_ttl_ms,
	    .poll_ms = cfg->rebalance.interval_ms,
	    .changed = state_changed,
	    .changed_arg = s,
	};
	char err[1024];

	if (!cfg->cluster.enabled) {
		log_info("msg=\"cluster view off (--no-cluster): k8s: services are balanced per "
			 "node\"");
		return;
	}
	s->cluster = cluster_start(&cfg->cluster, &ctx, err, sizeof(err));
	if (!s->cluster)
		log_error("msg=\"cluster view off: k8s: services are balanced per node\" error=%s",
			  log_q(err));
}

/* The k8s: source, started the first time a spec (or --k8s-discover) asks for it. */
static void start_k8s(struct agent_sources *s)
{
	struct k8s_source_opts opts = {
	    .discover = s->cfg->k8s.discover,
	    .namespaces = s->cfg->k8s.namespaces,
	    .n_namespaces = s->cfg->k8s.n_namespaces,
	    .changed = state_changed,
	    .changed_arg = s,
	};
	char err[1024];

	if (k8s_api_config_resolve(&s->cfg->k8s, &opts.api, err, sizeof(err)) == 0)
		s->k8s = k8s_source_new(s->loop, s->table, &opts, err, sizeof(err));
	if (!s->k8s)
		log_error("msg=\"k8s: services not watched\" error=%s", log_q(err));
	else
		start_cluster(s);
}

void agent_sources_apply(struct agent_sources *s, const struct service_spec_list *specs)
{
	s->config_read_at = wall_now();
	dns_source_sync(s->dns, specs);
	if (!s->k8s && wants_k8s(s, specs))
		start_k8s(s);
	if (s->k8s)
		k8s_source_sync(s->k8s, specs);
	else
		service_table_drop_unclaimed(s->table); /* no source will claim them */
	state_changed(s);
}

void agent_sources_free(struct agent_sources *s)
{
	if (!s)
		return;
	dns_source_free(s->dns);
	cluster_stop(s->cluster); /* before the source: it uses its API client */
	k8s_source_free(s->k8s);
	loop_timer_cancel(s->loop, &s->write_timer);
	/* The file describes a running agent: a stopped one leaves none behind. */
	if (s->state_path[0])
		unlink(s->state_path);
	free(s);
}
