// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * One service's part of a pass: this node's counts (into its report), the
 * plan over every fresh node's counts, backend_extra, and this node's part
 * of the moves.
 */
#include "cluster/cluster_impl.h"
#include "cluster/cluster_project.h"
#include "lib/clock.h"
#include "lib/log.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

bool cluster_wants(const struct agent_service *svc)
{
	return svc->source && !strncmp(svc->source, "k8s:", 4);
}

/* How far a counter moved since last seen; a reused id starts over. */
static __u64 moved_by(__u64 *seen, __u64 now)
{
	__u64 delta = now >= *seen ? now - *seen : now;

	*seen = now;
	return delta;
}

static struct cluster_service_memory *service_memory(struct cluster *c,
						     const struct agent_service *svc)
{
	char vip[ENDPOINT_STR_LEN];
	struct cluster_service_memory *m;

	endpoint_str(&svc->vip, vip, sizeof(vip));
	m = strmap_get(&c->services, vip);
	if (!m) {
		m = calloc(1, sizeof(*m));
		if (!m || strmap_put(&c->services, vip, m)) {
			free(m);
			return NULL;
		}
	}
	m->pass = c->pass;
	return m;
}

void cluster_service_memory_free(struct cluster_service_memory *m)
{
	if (m)
		free(m->ids);
	free(m);
}

/*
 * Whether svc's backend set grew since the last pass: backends added, none
 * removed (a scale-out).  A first pass is no growth: what it finds is old.
 */
static bool compare_set(struct cluster_service_memory *sm, const struct agent_service *svc)
{
	size_t n = svc->backends.n;
	bool changed = sm->n_ids != n, removed = false, first = !sm->ids;
	__u32 *ids;

	for (size_t i = 0; i < sm->n_ids; i++) {
		bool kept = false;

		for (size_t j = 0; j < n && !kept; j++)
			kept = svc->backends.items[j].id == sm->ids[i];
		removed |= !kept;
	}
	for (size_t j = 0; j < n && !changed; j++)
		changed = svc->backends.items[j].id != sm->ids[j];
	if ((changed || first) && (ids = calloc(n ? n : 1, sizeof(*ids)))) {
		for (size_t j = 0; j < n; j++)
			ids[j] = svc->backends.items[j].id;
		free(sm->ids);
		sm->ids = ids;
		sm->n_ids = n;
	}
	return changed && !removed && !first;
}

static struct cluster_backend_memory *backend_memory(struct cluster *c, __u32 id)
{
	static struct cluster_backend_memory none;

	if (id < c->mem_size)
		return &c->mem[id];
	memset(&none, 0, sizeof(none));
	return &none;
}

/*
 * A connection ended is gone until its client reconnects (any connect to
 * the service counts): it is still counted on its backend meanwhile, so the
 * report and the plan see it neither twice nor nowhere.
 */
static void count_gone(struct cluster *c, const struct agent_service *svc,
		       struct cluster_service_memory *sm, __u64 connects, bool ended)
{
	__u64 now = mono_now_ms();
	bool expired;

	if (ended)
		sm->last_end_ms = now;
	expired = now - sm->last_end_ms > c->ctx.gone_ttl_ms;
	for (size_t i = 0; i < svc->backends.n; i++) {
		struct cluster_backend_memory *m = backend_memory(c, svc->backends.items[i].id);
		__u32 back = connects < m->gone ? (__u32)connects : m->gone;

		m->gone = expired ? 0 : m->gone - back;
		connects -= expired ? 0 : back;
	}
}

/* This node's counts on svc's backends: live + connecting + gone. */
static void own_counts(struct cluster *c, const struct agent_service *svc,
		       struct cluster_service_memory *sm, cluster_stats_fn rd, void *arg,
		       __u32 *counts)
{
	__u64 connects = 0;
	bool ended = false;

	for (size_t i = 0; i < svc->backends.n; i++) {
		struct socklb_backend_stats st = {0};
		struct cluster_backend_memory *m = backend_memory(c, svc->backends.items[i].id);
		__u64 e;

		rd(arg, svc->backends.items[i].id, &st);
		e = moved_by(&m->ended_seen, socklb_backend_ended(&st));
		connects += moved_by(&m->connects_seen, st.connects);
		m->gone += (__u32)e;
		ended |= e > 0;
		counts[i] = (__u32)(st.live + st.connecting);
	}
	count_gone(c, svc, sm, connects, ended);
	for (size_t i = 0; i < svc->backends.n; i++)
		counts[i] += backend_memory(c, svc->backends.items[i].id)->gone;
}

static void set_extra(struct cluster *c, __u32 id, __u32 value)
{
	struct cluster_backend_memory *m = backend_memory(c, id);

	if (m->extra == value || id >= c->mem_size)
		return;
	if (lb_maps_set_extra(c->ctx.maps, id, value) == 0)
		m->extra = value;
}

void cluster_forget_extras(struct cluster *c, const struct agent_service *svc)
{
	for (size_t i = 0; i < svc->backends.n; i++)
		set_extra(c, svc->backends.items[i].id, 0);
}

/* The time-fair rotation steers svc and owns its extras now: none written, none trusted. */
static void yield_extras(struct cluster *c, const struct agent_service *svc)
{
	for (size_t i = 0; i < svc->backends.n; i++) {
		__u32 id = svc->backends.items[i].id;

		if (id < c->mem_size)
			backend_memory(c, id)->extra = CLUSTER_EXTRA_UNKNOWN;
	}
}

static int update_report(struct cluster *c, const struct agent_service *svc, const __u32 *counts)
{
	size_t n = svc->backends.n;
	struct endpoint *eps = calloc(n ? n : 1, sizeof(*eps));
	int ret;

	if (!eps)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		eps[i] = svc->backends.items[i].ep;
	ret = cluster_report_set(&c->report, &svc->vip, eps, counts, n);
	free(eps);
	if (ret > 0)
		c->report_changed = true;
	return ret < 0 ? ret : 0;
}

/* Every fresh node that reports svc, this one first; peer counts into matrix (node-major). */
static size_t gather_nodes(struct cluster *c, const struct agent_service *svc, const __u32 *own,
			   __u32 *matrix, struct cluster_node_counts *nodes)
{
	size_t n = svc->backends.n, k = 1;

	nodes[0] = (struct cluster_node_counts){c->node, own};
	for (size_t p = 0; p < c->peers.n_fresh; p++) {
		const struct cluster_service_counts *s =
		    cluster_report_service(c->peers.fresh[p], &svc->vip);
		__u32 *row = &matrix[(k - 1) * n];

		if (!s)
			continue;
		for (size_t i = 0; i < n; i++)
			row[i] = cluster_report_count(s, &svc->backends.items[i].ep);
		nodes[k++] = (struct cluster_node_counts){c->peers.fresh[p]->name, row};
	}
	return k;
}

/* A fresh peer's connections to svc (0: it reported none). */
static __u64 peer_total(const struct cluster *c, size_t p, const struct agent_service *svc)
{
	const struct cluster_service_counts *s =
	    cluster_report_service(c->peers.fresh[p], &svc->vip);
	__u64 total = 0;

	for (size_t i = 0; s && i < svc->backends.n; i++)
		total += cluster_report_count(s, &svc->backends.items[i].ep);
	return total;
}

/* The cluster's connections to svc (this node's are own), and those ranked before this node. */
static void count_cluster(const struct cluster *c, const struct agent_service *svc,
			  const __u32 *own, struct cluster_service_memory *sm)
{
	sm->cluster_conns = 0;
	sm->ranked_before = 0;
	for (size_t i = 0; i < svc->backends.n; i++)
		sm->cluster_conns += own[i];
	for (size_t p = 0; p < c->peers.n_fresh; p++) {
		__u64 t = peer_total(c, p, svc);

		sm->cluster_conns += t;
		if (strcmp(c->peers.fresh[p]->name, c->node) < 0)
			sm->ranked_before += (__u32)t;
	}
}

/* This node's part of a move, for whoever wonders why a connection was ended. */
static void log_plan(const struct agent_service *svc, size_t i, const struct cluster_projection *p,
		     __u32 gone, bool act)
{
	char vip[ENDPOINT_STR_LEN], be[ENDPOINT_STR_LEN];

	log_debug("msg=\"cluster plan: this node's part\" service=%s backend=%s move=%u ended=%u "
		  "cluster=%u target=%u every_node_moves=%zu state=%s",
		  endpoint_str(&svc->vip, vip, sizeof(vip)),
		  endpoint_str(&svc->backends.items[i].ep, be, sizeof(be)), p->self_out[i], gone,
		  p->cluster[i], p->target[i], p->moves, act ? "moving" : "settling");
}

/*
 * Whether to act on this node's part of the plan now (CLUSTER_SETTLE_MARGIN_MS):
 * at once after a scale-out, else once the plan has stood long enough.
 */
static bool settled(struct cluster *c, struct cluster_service_memory *sm,
		    const struct agent_service *svc, bool moves)
{
	__u64 now = mono_now_ms(), settle = c->opts.publish_ms + CLUSTER_SETTLE_MARGIN_MS;
	bool grew = compare_set(sm, svc);

	if (!moves) {
		sm->moving_since_ms = 0;
		return true;
	}
	if (!sm->moving_since_ms) {
		sm->moving_since_ms = now;
		sm->at_once = grew;
	}
	if (sm->at_once || now - sm->moving_since_ms >= settle)
		return true;
	cluster_wake_in(c, sm->moving_since_ms + settle - now);
	return false;
}

/* The plan for svc: extras into the map, this node's part into excess (may be NULL). */
static int plan(struct cluster *c, struct cluster_service_memory *sm,
		const struct agent_service *svc, const __u32 *own, __u64 *excess)
{
	size_t n = svc->backends.n, np = c->peers.n_fresh, cells = (np ? np : 1) * (n ? n : 1);
	__u32 *matrix = calloc(cells, sizeof(*matrix)),
	      *out = calloc(4 * (n ? n : 1), sizeof(*out));
	struct cluster_node_counts *nodes = calloc(np + 1, sizeof(*nodes));
	struct cluster_projection proj = {out, out + n, out + 2 * n, out + 3 * n, 0};
	bool moves = false, act;
	int ret = -ENOMEM;

	if (matrix && out && nodes)
		ret = cluster_project(nodes, gather_nodes(c, svc, own, matrix, nodes), 0, n,
				      c->ctx.threshold, &proj);
	for (size_t i = 0; i < n && ret == 0; i++)
		moves |= proj.self_out[i] > 0;
	act = ret == 0 && settled(c, sm, svc, moves);
	for (size_t i = 0; i < n && ret == 0; i++) {
		__u32 id = svc->backends.items[i].id, gone = backend_memory(c, id)->gone;

		set_extra(c, id, proj.extra[i]);
		if (excess)
			excess[i] = act && proj.self_out[i] > gone ? proj.self_out[i] - gone : 0;
		if (proj.self_out[i])
			log_plan(svc, i, &proj, gone, act);
	}
	free(nodes);
	free(out);
	free(matrix);
	return ret;
}

static const struct cluster_service_memory *known_view(struct cluster *c,
						       const struct agent_service *svc)
{
	char vip[ENDPOINT_STR_LEN];
	const struct cluster_service_memory *sm =
	    strmap_get(&c->services, endpoint_str(&svc->vip, vip, sizeof(vip)));

	return sm && sm->view_known ? sm : NULL;
}

bool cluster_divides(struct cluster *c, const struct agent_service *svc)
{
	const struct cluster_service_memory *sm = known_view(c, svc);
	size_t n = svc->backends.n;

	return sm && n && sm->cluster_conns >= n && sm->cluster_conns % n == 0;
}

__u32 cluster_rotation_offset(struct cluster *c, const struct agent_service *svc)
{
	const struct cluster_service_memory *sm = known_view(c, svc);

	return sm ? sm->ranked_before : 0;
}

bool cluster_service_pass(struct cluster *c, const struct agent_service *svc,
			  cluster_stats_fn read_stats, void *read_arg, __u64 *excess)
{
	size_t n = svc->backends.n;
	struct cluster_service_memory *sm;
	__u32 *own;
	bool balanced = false;

	if (!cluster_wants(svc) || !(sm = service_memory(c, svc)))
		return false;
	own = calloc(n ? n : 1, sizeof(*own));
	if (!own)
		return false;
	own_counts(c, svc, sm, read_stats, read_arg, own);
	if (update_report(c, svc, own))
		log_error("msg=\"cluster: out of memory for this node's report\"");
	/*
	 * Rotated by time-fair (cluster_divides said no): the counts are still
	 * published, for the others' plans and for this node's next judgement,
	 * but the rotation places this node's connections.
	 */
	sm->view_known = c->up && n;
	if (sm->view_known)
		count_cluster(c, svc, own, sm);
	if (sm->view_known && (svc->slots.flags & SOCKLB_SERVICE_STEERED)) {
		yield_extras(c, svc);
		free(own);
		return false;
	}
	if (sm->view_known)
		balanced = plan(c, sm, svc, own, excess) == 0;
	if (!balanced)
		cluster_forget_extras(c, svc);
	free(own);
	return balanced;
}
