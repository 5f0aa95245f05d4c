// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "rebalance/rebalancer.h"
#include "datapath/iter_read.h"
#include "datapath/loader.h"
#include "lib/clock.h"
#include "lib/log.h"
#include "rebalance.skel.h"
#include "socklb.skel.h"
#include "rebalance/rebalance_plan.h"
#include "cluster/cluster.h"
#include "rebalance/rebalancer_impl.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define PIDS_PER_NETNS 4

/* A namespace to visit and processes through which to enter it. */
#define MAX_NETNS_PER_TICK 4096
/* How often the namespaces netns_conns holds are checked for gone ones. */
#define NETNS_PRUNE_MS 10000

struct netns_visit {
	__u64 cookie;
	__u32 pids[PIDS_PER_NETNS];
	size_t n_pids;
};

/* How far a counter moved since last seen; a reused id starts over. */
static __u64 advance(__u64 *seen, __u64 now)
{
	__u64 delta = now >= *seen ? now - *seen : now;

	*seen = now;
	return delta;
}

static int set_budget(struct rebalancer *r, __u32 id, __u32 budget, __u32 reason,
		      __u64 force_after_ns)
{
	struct socklb_end_budget b = {budget, reason, force_after_ns};

	return lb_maps_set_end_budget(r->maps, id, &b);
}

/*
 * Every backend's counters in one batch syscall per tick, instead of one
 * lookup per backend: with 65,536 services the latter kept a core 40 % busy.
 */
static void snapshot_stats(struct rebalancer *r)
{
	r->n_snapshot = lb_maps_snapshot_stats(r->maps, r->table->backend_ids.next_fresh,
					       r->snapshot_keys, r->snapshot);
}

static int read_stats(struct rebalancer *r, __u32 id, struct socklb_backend_stats *st)
{
	if (id < r->n_snapshot) {
		*st = r->snapshot[id];
		return 0;
	}
	return lb_maps_read_stats(r->maps, id, st);
}

static int read_stats_for_cluster(void *arg, __u32 id, struct socklb_backend_stats *st)
{
	return read_stats(arg, id, st);
}

/* Budgets for one service's overloaded backends. */
static void plan_service(struct rebalancer *r, struct agent_service *svc, __u32 *ids, size_t *n_ids,
			 size_t cap_ids)
{
	size_t n = svc->backends.n;
	__u64 live[n ? n : 1], excess[n ? n : 1], ended = 0, connects = 0;
	__u64 now_ms = mono_now_ms();
	__u32 sid = svc->slots.service_id;

	for (size_t i = 0; i < n; i++) {
		struct socklb_backend_stats st = {0};
		__u32 id = svc->backends.items[i].id;

		read_stats(r, id, &st);
		live[i] = st.live;
		connects += advance(&r->mem[id].connects_seen, st.connects);
		ended += advance(&r->mem[id].ended_seen, socklb_backend_ended(&st));
	}
	if (ended)
		r->pending_since_ms[sid] = now_ms;
	r->pending[sid] = rebalance_pending(r->pending[sid], ended, connects);
	if (now_ms - r->pending_since_ms[sid] > r->opts.pending_ttl_ms)
		r->pending[sid] = 0;
	/* k8s: services with a cluster view: this node's part of the cluster's excess. */
	if (!r->cluster ||
	    !cluster_service_pass(r->cluster, svc, read_stats_for_cluster, r, excess))
		rebalance_excess(live, n, r->pending[sid], r->opts.threshold, excess);
	/*
	 * The time-fair rotation places a service it steers: its targets are as
	 * even as counts can be, and a move between two classes leaves one
	 * backend a connection above the rest for a moment, not an imbalance.
	 */
	if (svc->slots.flags & SOCKLB_SERVICE_STEERED)
		memset(excess, 0, n * sizeof(*excess));
	for (size_t i = 0; i < n; i++) {
		struct backend_memory *m = &r->mem[svc->backends.items[i].id];
		__u64 share =
		    rebalance_tick_share(excess[i], r->opts.interval_ms, r->opts.window_ms);

		if (!share || *n_ids == cap_ids) {
			m->overloaded_since_ms = 0;
			continue;
		}
		if (!m->overloaded_since_ms)
			m->overloaded_since_ms = now_ms;
		set_budget(r, svc->backends.items[i].id, (__u32)share, SOCKLB_END_IMBALANCE,
			   (m->overloaded_since_ms + r->opts.drain_deadline_ms) * NS_PER_MS);
		ids[(*n_ids)++] = svc->backends.items[i].id;
	}
}

/*
 * Removed backends lose every connection within removal_grace_ms: idle ones
 * at once, busy ones when the grace is over, so calls that finish within it
 * do not fail.
 */
static void plan_removed(struct rebalancer *r, __u32 *ids, size_t *n_ids, size_t cap_ids)
{
	__u64 now_ms = mono_now_ms();

	for (size_t i = 0; i < r->table->n_retired && *n_ids < cap_ids; i++) {
		struct socklb_backend_stats st = {0};
		__u32 id = r->table->retired[i].id;
		struct backend_memory *m = &r->mem[id];

		if (read_stats(r, id, &st) || st.live == 0) {
			m->overloaded_since_ms = 0;
			continue;
		}
		if (!m->overloaded_since_ms)
			m->overloaded_since_ms = now_ms;
		set_budget(r, id, UINT32_MAX, SOCKLB_END_REMOVED,
			   (m->overloaded_since_ms + r->opts.removal_grace_ms) * NS_PER_MS);
		ids[(*n_ids)++] = id;
	}
}

static int by_id(const void *a, const void *b)
{
	__u32 x = *(const __u32 *)a, y = *(const __u32 *)b;

	return x < y ? -1 : x > y;
}

/* Zeroes the budgets of last tick that this tick did not renew. */
static void retire_old_budgets(struct rebalancer *r, __u32 *ids, size_t n_ids)
{
	qsort(ids, n_ids, sizeof(*ids), by_id);
	for (size_t i = 0; i < r->n_budget_ids; i++) {
		__u32 id = r->budget_ids[i];

		if (!bsearch(&id, ids, n_ids, sizeof(*ids), by_id))
			set_budget(r, id, 0, 0, 0);
	}
	memcpy(r->budget_ids, ids, n_ids * sizeof(*ids));
	r->n_budget_ids = n_ids;
}

static void note_netns(struct netns_visit *visits, size_t *n, size_t cap,
		       const struct socklb_work_record *w)
{
	struct netns_visit *v = NULL;

	for (size_t i = 0; i < *n && !v; i++) {
		if (visits[i].cookie == w->netns_cookie)
			v = &visits[i];
	}
	if (!v) {
		if (*n == cap)
			return;
		v = &visits[(*n)++];
		v->cookie = w->netns_cookie;
		v->n_pids = 0;
	}
	for (size_t i = 0; i < v->n_pids; i++) {
		if (v->pids[i] == w->pid)
			return;
	}
	if (v->n_pids < PIDS_PER_NETNS)
		v->pids[v->n_pids++] = w->pid;
}

struct netns_search {
	struct netns_visit *visits;
	size_t n, cap;
};

static int visit_record(void *arg, const void *record)
{
	struct netns_search *q = arg;

	note_netns(q->visits, &q->n, q->cap, record);
	return 0;
}

/*
 * Without a finder (a kernel that refuses map-element iterators): the
 * agent's namespace and each that netns_conns says holds balanced
 * connections; the ender tells which have work.
 */
static size_t every_namespace(struct rebalancer *r, struct netns_visit *visits, size_t cap)
{
	static struct netns_door doors[MAX_NETNS_PER_TICK];
	size_t n = conn_walk_namespaces(&r->conns, doors,
					cap < MAX_NETNS_PER_TICK ? cap : MAX_NETNS_PER_TICK);
	__u64 now_ms = mono_now_ms();

	for (size_t i = 0; i < n; i++) {
		visits[i] = (struct netns_visit){.cookie = doors[i].cookie, .n_pids = 1};
		visits[i].pids[0] = doors[i].pid;
	}
	/* Gone namespaces leave the map (at most every 10 s: a rescan enters each). */
	if (now_ms - r->pruned_ms >= NETNS_PRUNE_MS) {
		r->pruned_ms = now_ms;
		conn_walk_prune(&r->conns);
	}
	return n;
}

/* What one act's ender runs reported: connections with work, GOAWAYs to inject. */
struct end_reports {
	struct rebalancer *r;
	size_t work, waiting;
};

static int take_end_record(void *arg, const void *record)
{
	const struct socklb_end_record *rec = record;
	struct end_reports *q = arg;
	struct rebalancer *r = q->r;

	if (rec->kind == SOCKLB_END_REC_WORK)
		q->work++;
	else if (rec->kind == SOCKLB_END_REC_WAITING)
		q->waiting++;
	else if (rec->kind == SOCKLB_END_REC_INJECT && r->n_injects < REBALANCER_MAX_INJECTS)
		r->injects[r->n_injects++] = rec->cookie;
	return 0;
}

/* Runs the ender in one namespace, its records into q. */
static int end_in(struct rebalancer *r, const struct netns_visit *v, struct end_reports *q)
{
	int link_fd = bpf_link__fd(r->iter_link);

	return netns_read_iter(&r->netns, link_fd, v->cookie, v->pids, v->n_pids,
			       sizeof(struct socklb_end_record), take_end_record, q);
}

/*
 * The GOAWAYs the ender asked for, written from the agent's own namespace
 * (the redirect crosses namespaces): the sooner after the ender saw each
 * connection at rest, the smaller the window for a part frame to come.
 */
static void inject_all(struct rebalancer *r)
{
	for (size_t i = 0; i < r->n_injects; i++) {
		int ret = goaway_injector_send(&r->injector, r->injects[i]);

		/* EACCES: the program refused it, an skb had carried the GOAWAY first. */
		if (ret && ret != -EACCES)
			log_debug("msg=\"cannot inject a GOAWAY\" cookie=%llu error=%s",
				  (unsigned long long)r->injects[i], log_q(strerror(-ret)));
	}
	r->n_injects = 0;
}

/*
 * The namespaces holding a connection to end, from the finder iterator (one
 * walk over every balanced connection, in the kernel); how many were found.
 */
static size_t find_namespaces(struct rebalancer *r, struct netns_visit *visits, size_t cap)
{
	struct netns_search q = {visits, 0, cap};
	int ret;

	if (!r->find_link)
		return every_namespace(r, visits, cap);
	ret = iter_read_records(bpf_link__fd(r->find_link), sizeof(struct socklb_work_record),
				visit_record, &q);

	if (ret)
		log_warn("msg=\"cannot look for connections to end\" error=%s",
			 log_q(strerror(-ret)));
	return q.n;
}

/*
 * Not allowed into a namespace that holds connections to end: said once (a
 * warning naming the missing capability), then counted for the metrics.
 */
static void note_denied(struct rebalancer *r, __u64 cookie, int ret)
{
	if (r->netns_denied++ == 0)
		log_warn("msg=\"cannot enter a network namespace: its connections are not ended\" "
			 "netns_cookie=%llu error=%s hint=\"CAP_SYS_PTRACE missing? (entering "
			 "another process's namespace needs it)\"",
			 (unsigned long long)cookie, log_q(strerror(-ret)));
	else
		log_debug("msg=\"cannot enter network namespace, skipped\" netns_cookie=%llu "
			  "error=%s",
			  (unsigned long long)cookie, log_q(strerror(-ret)));
}

void rebalancer_act(struct rebalancer *r)
{
	static struct netns_visit visits[MAX_NETNS_PER_TICK];
	__u64 start = mono_now_ns();
	size_t n = find_namespaces(r, visits, MAX_NETNS_PER_TICK);
	struct end_reports q = {r, 0, 0};

	/* Work found (GOAWAYs not yet acted on among it): look again next tick. */
	r->work_left = r->find_link && n > 0;

	/* Start one namespace further each time, so no namespace always pays first. */
	r->visit_start++;
	for (size_t k = 0; k < n; k++) {
		size_t i = (k + r->visit_start) % n;

		int ret = end_in(r, &visits[i], &q);

		if (ret == -ENOENT)
			log_debug("msg=\"network namespace gone, skipped\" netns_cookie=%llu",
				  (unsigned long long)visits[i].cookie);
		else if (ret == -EACCES || ret == -EPERM)
			note_denied(r, visits[i].cookie, ret);
		else if (ret)
			log_debug(
			    "msg=\"cannot enter network namespace, skipped\" netns_cookie=%llu "
			    "error=%s",
			    (unsigned long long)visits[i].cookie, log_q(strerror(-ret)));
	}
	inject_all(r);
	r->goaways_waiting = q.waiting > 0;
	if (!r->find_link)
		r->work_left = q.work > 0;
	r->act_ms = (double)(mono_now_ns() - start) / (double)NS_PER_MS;
}

/*
 * Nothing to plan while no connection came, went or was established, no
 * service changed, and no end is pending: an idle node costs one map read
 * per tick (the data path's activity count), no pass.
 */
static bool quiet(struct rebalancer *r)
{
	__u64 now = r->last_activity + 1; /* unreadable: assume something moved */

	lb_maps_read_dp_event(r->maps, SOCKLB_DP_ACTIVITY, &now);
	bool quiet =
	    now == r->last_activity && !r->dirty && !r->n_budget_ids && !r->table->n_retired;

	r->last_activity = now;
	r->dirty = false;
	return quiet;
}

static void tick(struct rebalancer *r)
{
	size_t cap = r->opts.max_backends + 1, n_ids = 0;
	__u32 *ids = r->plan_ids;

	rebalancer_time_fair_tick(r);
	if (quiet(r)) {
		if (r->opts.max_age_ms || r->work_left || time_fair_pass_moving(r->time_fair))
			rebalancer_act(r);
		return;
	}
	snapshot_stats(r);
	if (r->cluster)
		cluster_pass_begin(r->cluster);
	for (size_t i = 0; i < r->table->n; i++)
		plan_service(r, &r->table->items[i], ids, &n_ids, cap);
	if (r->cluster)
		cluster_pass_done(r->cluster);
	plan_removed(r, ids, &n_ids, cap);
	retire_old_budgets(r, ids, n_ids);
	if (r->n_budget_ids || r->opts.max_age_ms || r->work_left ||
	    time_fair_pass_moving(r->time_fair))
		rebalancer_act(r);
}

static void on_tick(void *arg)
{
	struct rebalancer *r = arg;

	tick(r);
	rebalancer_chase(r);
	rebalancer_arm_phase_end(r);
	if (loop_timer_arm(r->loop, &r->tick_timer, r->opts.interval_ms, on_tick, r))
		log_error("msg=\"cannot re-arm the rebalance tick\"");
}

void rebalancer_on_kick(void *arg)
{
	tick(arg);
	rebalancer_chase(arg);
}

void rebalancer_kick(struct rebalancer *r)
{
	if (r->skel && !loop_timer_armed(&r->kick_timer) &&
	    loop_timer_arm(r->loop, &r->kick_timer, 0, rebalancer_on_kick, r))
		log_error("msg=\"cannot schedule a rebalance\"");
}

static void on_table_change(void *arg)
{
	struct rebalancer *r = arg;

	r->dirty = true;
	rebalancer_kick(r);
}

void rebalancer_set_cluster(struct rebalancer *r, struct cluster *c)
{
	if (r->cluster == c)
		return;
	if (r->cluster)
		cluster_drive(r->cluster, NULL, NULL);
	r->cluster = c;
	if (c)
		cluster_drive(c, on_table_change, r);
}

static int load(struct rebalancer *r, const struct loader *loader, char *err, size_t errlen)
{
	union bpf_iter_link_info info = {.map.map_fd = bpf_map__fd(loader->skel->maps.sock_state)};
	LIBBPF_OPTS(bpf_iter_attach_opts, opts, .link_info = &info, .link_info_len = sizeof(info));

	r->skel = loader_load_rebalance(loader, err, errlen);
	if (!r->skel)
		return -errno;
	r->iter_link = bpf_program__attach_iter(r->skel->progs.socklb_end_connections, NULL);
	if (!r->iter_link) {
		snprintf(err, errlen, "cannot create the TCP iterator: %s", strerror(errno));
		return -errno;
	}
	if (loader->conns_per_netns)
		return 0; /* no finder: every namespace is visited */
	r->find_link = bpf_program__attach_iter(r->skel->progs.socklb_find_work, &opts);
	if (!r->find_link) {
		snprintf(err, errlen, "cannot create the connection finder: %s", strerror(errno));
		return -errno;
	}
	return 0;
}

/*
 * With the GOAWAY follower: the injector, so that idle connections get
 * their GOAWAY at once.  Without it (no loopback in the agent's namespace)
 * they still get it, with the answer to their next call: said once.
 */
static void open_injector(struct rebalancer *r, const struct loader *loader)
{
	char err[256];

	if (!loader->goaway)
		return;
	if (goaway_injector_open(&r->injector, r->maps, err, sizeof(err)))
		log_warn("msg=\"GOAWAYs are not injected\" error=%s effect=\"an idle "
			 "connection gets its GOAWAY with the answer to its next call\"",
			 log_q(err));
}

int rebalancer_start(struct rebalancer *r, const struct rebalancer_opts *opts,
		     const struct loader *loader, struct service_table *table,
		     struct event_loop *loop, char *err, size_t errlen)
{
	__u32 max_services = loader->opts.sizes.max_services;
	int ret;

	memset(r, 0, sizeof(*r));
	r->opts = *opts;
	r->opts.max_backends = loader->opts.sizes.max_backends;
	r->maps = &loader->maps;
	r->table = table;
	r->loop = loop;
	r->max_services = max_services;

	r->dirty = true;
	r->netns.own_netns_fd = -1;
	r->injector.fd = r->injector.peer = -1;
	r->injects = calloc(REBALANCER_MAX_INJECTS, sizeof(*r->injects));
	r->mem = calloc(r->opts.max_backends + 1, sizeof(*r->mem));
	r->pending = calloc(max_services + 1, sizeof(*r->pending));
	r->pending_since_ms = calloc(max_services + 1, sizeof(*r->pending_since_ms));
	r->budget_ids = calloc(r->opts.max_backends + 1, sizeof(*r->budget_ids));
	r->snapshot = calloc(r->opts.max_backends + 1, sizeof(*r->snapshot));
	r->snapshot_keys = calloc(r->opts.max_backends + 1, sizeof(*r->snapshot_keys));
	r->plan_ids = calloc(r->opts.max_backends + 1, sizeof(*r->plan_ids));
	if (!r->plan_ids || !r->mem || !r->pending || !r->pending_since_ms || !r->budget_ids ||
	    !r->snapshot || !r->snapshot_keys || !r->injects) {
		snprintf(err, errlen, "out of memory");
		ret = -ENOMEM;
		goto fail;
	}
	ret = netns_runner_init(&r->netns);
	if (ret) {
		snprintf(err, errlen, "cannot open the agent's own network namespace: %s",
			 strerror(-ret));
		goto fail;
	}
	ret = load(r, loader, err, errlen);
	if (ret)
		goto fail;
	ret = rebalancer_start_time_fair(r, loader);
	if (ret) {
		snprintf(err, errlen, "cannot start the time-fair rotation: %s", strerror(-ret));
		goto fail;
	}
	open_injector(r, loader);
	table->changed = on_table_change;
	table->changed_arg = r;
	ret = loop_timer_arm(loop, &r->tick_timer, r->opts.interval_ms, on_tick, r);
	if (ret) {
		snprintf(err, errlen, "cannot arm the rebalance tick");
		goto fail;
	}
	return 0;
fail:
	rebalancer_stop(r);
	return ret;
}

void rebalancer_stop(struct rebalancer *r)
{
	rebalancer_set_cluster(r, NULL);
	if (r->loop) {
		loop_timer_cancel(r->loop, &r->tick_timer);
		loop_timer_cancel(r->loop, &r->kick_timer);
		loop_timer_cancel(r->loop, &r->chase_timer);
	}
	if (r->table && r->table->changed_arg == r) {
		r->table->changed = NULL;
		r->table->changed_arg = NULL;
	}
	bpf_link__destroy(r->iter_link);
	r->iter_link = NULL;
	bpf_link__destroy(r->find_link);
	r->find_link = NULL;
	rebalance_bpf__destroy(r->skel);
	r->skel = NULL;
	goaway_injector_close(&r->injector);
	free(r->injects);
	r->injects = NULL;
	netns_runner_free(&r->netns);
	free(r->mem);
	free(r->pending);
	free(r->pending_since_ms);
	free(r->budget_ids);
	free(r->snapshot);
	free(r->snapshot_keys);
	free(r->plan_ids);
	r->plan_ids = NULL;
	time_fair_pass_free(r->time_fair);
	r->time_fair = NULL;
	free(r->recs);
	r->recs = NULL;
	r->n_recs = r->cap_recs = 0;
	r->snapshot = NULL;
	r->snapshot_keys = NULL;
	r->mem = NULL;
	r->pending = NULL;
	r->pending_since_ms = NULL;
	r->budget_ids = NULL;
}
