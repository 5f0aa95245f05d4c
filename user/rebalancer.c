// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "rebalancer.h"
#include "kernel_hz.h"
#include "log.h"
#include "rebalance.skel.h"
#include "rebalance_plan.h"

#include <bpf/bpf.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NS_PER_MS 1000000ULL
#define PIDS_PER_NETNS 4

struct backend_memory {
	__u64 connects_seen;
	__u64 ended_seen;
	__u64 overloaded_since_ms; /* 0: not overloaded */
};

/* A namespace to visit and processes through which to enter it. */
struct netns_visit {
	__u64 cookie;
	__u32 pids[PIDS_PER_NETNS];
	size_t n_pids;
};

static __u64 now_ns(void)
{
	struct timespec ts;

	/* CLOCK_MONOTONIC: the clock of bpf_ktime_get_ns. */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (__u64)ts.tv_sec * 1000000000ULL + (__u64)ts.tv_nsec;
}

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
	struct socklb_end_budget b = { budget, reason, force_after_ns };

	return bpf_map_update_elem(r->maps->end_budgets, &id, &b, BPF_ANY);
}

/*
 * Every backend's counters in one batch syscall per tick, instead of one
 * lookup per backend: with 65,536 services the latter kept a core 40 % busy.
 */
static void snapshot_stats(struct rebalancer *r)
{
	__u32 want = r->table->backend_ids.next_fresh, done = 0, next = 0;
	bool first = true;

	r->n_snapshot = 0;
	while (done < want) {
		__u32 count = want - done;
		int err = bpf_map_lookup_batch(r->maps->backend_stats, first ? NULL : &next, &next,
					       r->snapshot_keys + done, r->snapshot + done, &count,
					       NULL);

		first = false;
		done += count;
		if (err && errno != ENOENT)
			break; /* the rest is read one by one */
		if (err || count == 0)
			break;
	}
	r->n_snapshot = done;
}

static int read_stats(struct rebalancer *r, __u32 id, struct socklb_backend_stats *st)
{
	if (id < r->n_snapshot) {
		*st = r->snapshot[id];
		return 0;
	}
	return lb_maps_read_stats(r->maps, id, st);
}

/* Budgets for one service's overloaded backends. */
static void plan_service(struct rebalancer *r, struct agent_service *svc, __u32 *ids, size_t *n_ids,
			 size_t cap_ids)
{
	size_t n = svc->backends.n;
	__u64 live[n ? n : 1], excess[n ? n : 1], ended = 0, connects = 0;
	__u64 now_ms = loop_now_ms();
	__u32 sid = svc->slots.service_id;

	for (size_t i = 0; i < n; i++) {
		struct socklb_backend_stats st = { 0 };
		__u32 id = svc->backends.items[i].id;

		read_stats(r, id, &st);
		live[i] = st.live;
		connects += advance(&r->mem[id].connects_seen, st.connects);
		ended += advance(&r->mem[id].ended_seen, st.ended_graceful + st.ended_forced);
	}
	if (ended)
		r->pending_since_ms[sid] = now_ms;
	r->pending[sid] = rebalance_pending(r->pending[sid], ended, connects);
	if (now_ms - r->pending_since_ms[sid] > r->opts.pending_ttl_ms)
		r->pending[sid] = 0;
	rebalance_excess(live, n, r->pending[sid], r->opts.threshold, excess);
	for (size_t i = 0; i < n; i++) {
		struct backend_memory *m = &r->mem[svc->backends.items[i].id];
		__u64 share = rebalance_tick_share(excess[i], r->opts.interval_ms, r->opts.window_ms);

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
	__u64 now_ms = loop_now_ms();

	for (size_t i = 0; i < r->table->n_retired && *n_ids < cap_ids; i++) {
		struct socklb_backend_stats st = { 0 };
		__u32 id = r->table->retired[i];
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

static bool wants_end(struct rebalancer *r, const struct socklb_socket *s, __u64 now)
{
	__u32 id = s->backend_id;

	if (s->state != SOCKLB_SOCK_ESTABLISHED)
		return false;
	if (bsearch(&id, r->budget_ids, r->n_budget_ids, sizeof(id), by_id))
		return true;
	/* Jitter never brings the limit below 90% of the max age. */
	return r->opts.max_age_ms &&
	       now - s->established_ns >= r->opts.max_age_ms * NS_PER_MS / 10 * 9;
}

static void note_netns(struct netns_visit *visits, size_t *n, size_t cap,
		       const struct socklb_socket *s)
{
	struct netns_visit *v = NULL;

	for (size_t i = 0; i < *n && !v; i++) {
		if (visits[i].cookie == s->netns_cookie)
			v = &visits[i];
	}
	if (!v) {
		if (*n == cap)
			return;
		v = &visits[(*n)++];
		v->cookie = s->netns_cookie;
		v->n_pids = 0;
	}
	for (size_t i = 0; i < v->n_pids; i++) {
		if (v->pids[i] == s->pid)
			return;
	}
	if (v->n_pids < PIDS_PER_NETNS)
		v->pids[v->n_pids++] = s->pid;
}

/* Namespaces holding connections to end; returns how many were found. */
static size_t find_namespaces(struct rebalancer *r, struct netns_visit *visits, size_t cap)
{
	__u64 key, next, now = now_ns();
	void *prev = NULL;
	size_t n = 0;

	while (bpf_map_get_next_key(r->maps->sockets, prev, &next) == 0) {
		struct socklb_socket s;

		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(r->maps->sockets, &key, &s) == 0 && wants_end(r, &s, now))
			note_netns(visits, &n, cap, &s);
	}
	return n;
}

#define MAX_NETNS_PER_TICK 4096

static void act(struct rebalancer *r)
{
	static struct netns_visit visits[MAX_NETNS_PER_TICK];
	size_t n = find_namespaces(r, visits, MAX_NETNS_PER_TICK);
	int link_fd = bpf_link__fd(r->iter_link);

	/* Start one namespace further each time, so no namespace always pays first. */
	r->visit_start++;
	for (size_t k = 0; k < n; k++) {
		size_t i = (k + r->visit_start) % n;

		if (netns_run_iter(&r->netns, link_fd, visits[i].cookie, visits[i].pids,
				   visits[i].n_pids))
			log_debug("msg=\"network namespace gone, skipped\" netns_cookie=%llu",
				  (unsigned long long)visits[i].cookie);
	}
}

/*
 * Nothing to plan while no connection came, went or was established, no
 * service changed, and no end is pending: an idle node costs no syscalls.
 */
static bool quiet(struct rebalancer *r)
{
	__u64 now = *r->activity;
	bool quiet = now == r->last_activity && !r->dirty && !r->n_budget_ids &&
		     !r->table->n_retired;

	r->last_activity = now;
	r->dirty = false;
	return quiet;
}

static void tick(struct rebalancer *r)
{
	size_t cap = r->opts.max_backends + 1, n_ids = 0;
	__u32 *ids = r->plan_ids;

	if (quiet(r)) {
		if (r->opts.max_age_ms)
			act(r);
		return;
	}
	snapshot_stats(r);
	for (size_t i = 0; i < r->table->n; i++)
		plan_service(r, &r->table->items[i], ids, &n_ids, cap);
	plan_removed(r, ids, &n_ids, cap);
	retire_old_budgets(r, ids, n_ids);
	if (r->n_budget_ids || r->opts.max_age_ms)
		act(r);
}

static void on_tick(void *arg)
{
	struct rebalancer *r = arg;

	tick(r);
	if (!loop_add_timer(r->loop, r->opts.interval_ms, on_tick, r))
		log_error("msg=\"cannot re-arm the rebalance tick\"");
}

static void on_kick(void *arg)
{
	struct rebalancer *r = arg;

	r->kick_timer = 0;
	tick(r);
}

void rebalancer_kick(struct rebalancer *r)
{
	if (r->skel && !r->kick_timer)
		r->kick_timer = loop_add_timer(r->loop, 0, on_kick, r);
}

static void on_table_change(void *arg)
{
	struct rebalancer *r = arg;

	r->dirty = true;
	rebalancer_kick(r);
}

static int reuse_maps(struct rebalancer *r)
{
	/* One set of maps: the iterator works on the ones the data path uses. */
	for (size_t i = 0; i < LB_MAP_COUNT; i++) {
		struct bpf_map *m = bpf_object__find_map_by_name(r->skel->obj, lb_map_names[i]);

		if (m && bpf_map__reuse_fd(m, lb_maps_fd(r->maps, i)))
			return -1;
	}
	return 0;
}

static int load(struct rebalancer *r, char *err, size_t errlen)
{
	unsigned int hz = kernel_hz();

	if (!hz) {
		hz = 250;
		log_warn("msg=\"kernel CONFIG_HZ not found in /boot or /proc/config.gz, assuming 250\"");
	}
	r->skel = rebalance_bpf__open();
	if (!r->skel) {
		snprintf(err, errlen, "cannot open the rebalance BPF object: %s", strerror(errno));
		return -1;
	}
	r->skel->rodata->jiffies_hz = hz;
	r->skel->rodata->quiet_ms = r->opts.quiet_ms;
	r->skel->rodata->max_age_ns = r->opts.max_age_ms * NS_PER_MS;
	r->skel->rodata->drain_deadline_ns = r->opts.drain_deadline_ms * NS_PER_MS;
	if (reuse_maps(r) || rebalance_bpf__load(r->skel)) {
		snprintf(err, errlen,
			 "the kernel refused the rebalancing iterator (bpf_sock_destroy needs "
			 "Linux 6.5 or newer): %s",
			 strerror(errno));
		return -1;
	}
	r->iter_link = bpf_program__attach_iter(r->skel->progs.socklb_end_connections, NULL);
	if (!r->iter_link) {
		snprintf(err, errlen, "cannot create the TCP iterator: %s", strerror(errno));
		return -1;
	}
	return 0;
}

int rebalancer_start(struct rebalancer *r, const struct rebalancer_opts *opts,
		     const struct lb_maps *maps, struct service_table *table, __u32 max_services,
		     struct event_loop *loop, const volatile __u64 *activity, char *err,
		     size_t errlen)
{
	memset(r, 0, sizeof(*r));
	r->opts = *opts;
	r->maps = maps;
	r->table = table;
	r->loop = loop;
	r->max_services = max_services;
	r->activity = activity;
	r->dirty = true;
	r->netns.own_netns_fd = -1;
	r->mem = calloc(opts->max_backends + 1, sizeof(*r->mem));
	r->pending = calloc(max_services + 1, sizeof(*r->pending));
	r->pending_since_ms = calloc(max_services + 1, sizeof(*r->pending_since_ms));
	r->budget_ids = calloc(opts->max_backends + 1, sizeof(*r->budget_ids));
	r->snapshot = calloc(opts->max_backends + 1, sizeof(*r->snapshot));
	r->snapshot_keys = calloc(opts->max_backends + 1, sizeof(*r->snapshot_keys));
	r->plan_ids = calloc(opts->max_backends + 1, sizeof(*r->plan_ids));
	if (!r->plan_ids || !r->mem || !r->pending || !r->pending_since_ms || !r->budget_ids || !r->snapshot ||
	    !r->snapshot_keys) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	if (netns_runner_init(&r->netns)) {
		snprintf(err, errlen, "cannot open the agent's own network namespace: %s",
			 strerror(errno));
		goto fail;
	}
	if (load(r, err, errlen))
		goto fail;
	table->changed = on_table_change;
	table->changed_arg = r;
	if (!loop_add_timer(loop, opts->interval_ms, on_tick, r)) {
		snprintf(err, errlen, "cannot arm the rebalance tick");
		goto fail;
	}
	return 0;
fail:
	rebalancer_stop(r);
	return -1;
}

void rebalancer_stop(struct rebalancer *r)
{
	if (r->table && r->table->changed_arg == r) {
		r->table->changed = NULL;
		r->table->changed_arg = NULL;
	}
	bpf_link__destroy(r->iter_link);
	r->iter_link = NULL;
	rebalance_bpf__destroy(r->skel);
	r->skel = NULL;
	netns_runner_free(&r->netns);
	free(r->mem);
	free(r->pending);
	free(r->pending_since_ms);
	free(r->budget_ids);
	free(r->snapshot);
	free(r->snapshot_keys);
	free(r->plan_ids);
	r->plan_ids = NULL;
	r->snapshot = NULL;
	r->snapshot_keys = NULL;
	r->mem = NULL;
	r->pending = NULL;
	r->pending_since_ms = NULL;
	r->budget_ids = NULL;
}
