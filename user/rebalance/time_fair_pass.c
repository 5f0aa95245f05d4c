// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "rebalance/time_fair_impl.h"
#include "rebalance/time_fair.h"
#include "lib/array.h"
#include "lib/clock.h"
#include "lib/log.h"
#include "model/service_table.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct time_fair_pass *time_fair_pass_new(const struct time_fair_opts *opts, __u32 max_backends,
					  const struct time_fair_ops *ops)
{
	struct time_fair_pass *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	p->opts = *opts;
	p->ops = *ops;
	p->max_backends = max_backends;
	p->extra_written = calloc((size_t)max_backends + 1, sizeof(*p->extra_written));
	if (!p->extra_written) {
		free(p);
		return NULL;
	}
	return p;
}

void time_fair_pass_free(struct time_fair_pass *p)
{
	if (!p)
		return;
	free(p->extra_written);
	free(p->mem);
	free(p->next_mem);
	free(p->pending);
	free(p->views);
	free(p->counts);
	free(p->sorted);
	free(p->conns);
	free(p->rates);
	free(p->cls);
	free(p->targets);
	free(p->total);
	free(p);
}

bool time_fair_pass_due(const struct time_fair_pass *p, const struct service_table *t, __u64 now_ms,
			__u64 wall_ms)
{
	__u64 gap = MIN_PASS_GAP_MS;
	bool candidates = false;

	if (!p || !p->opts.window_ms)
		return false;
	for (size_t i = 0; i < t->n && !candidates; i++)
		candidates = t->items[i].backends.n >= 2 || t->items[i].slots.flags;
	if (!candidates && !p->n_pending)
		return false;
	if (p->next_phase_wall_ms && wall_ms >= p->next_phase_wall_ms)
		gap = 0;
	if (p->stats.last_pass_ms * PASS_CPU_SHARE > (double)gap)
		gap = (__u64)(p->stats.last_pass_ms * PASS_CPU_SHARE);
	return now_ms - p->last_pass_ms >= gap;
}

__u64 time_fair_pass_next_phase_in(const struct time_fair_pass *p, __u64 wall_ms)
{
	if (!p || !p->next_phase_wall_ms)
		return 0;
	return p->next_phase_wall_ms > wall_ms ? p->next_phase_wall_ms - wall_ms : 1;
}

void time_fair_pass_took(struct time_fair_pass *p, double ms)
{
	p->stats.last_pass_ms = ms;
}

bool time_fair_pass_moving(const struct time_fair_pass *p)
{
	for (size_t i = 0; p && i < p->n_pending; i++) {
		if (!p->pending[i].gone_ms)
			return true;
	}
	return false;
}

/* ----------------------------------------------------------- steering */

static void write_extra(struct time_fair_pass *p, __u32 id, __u32 extra)
{
	if (id > p->max_backends || p->extra_written[id] == extra + 1)
		return;
	if (p->ops.set_extra(p->ops.arg, id, extra) == 0)
		p->extra_written[id] = extra + 1;
}

/* Each backend's extra: how far it is ahead of its target (most behind: 0 more). */
static void steer(struct time_fair_pass *p, struct agent_service *svc, const __u32 *total)
{
	size_t n = svc->backends.n;
	__u32 top = 0;

	for (size_t b = 0; b < n; b++)
		top = total[b] > top ? total[b] : top;
	for (size_t b = 0; b < n; b++)
		write_extra(p, svc->backends.items[b].id, top - total[b]);
	p->ops.steer(p->ops.arg, svc, true);
}

/* Far enough that least-conn never picks a backend for its load alone. */
#define STEER_AWAY (1u << 20)

/*
 * A move is asked for: its reconnect goes to `to`, the backend its class
 * lacks (the totals of several classes can be even while one class is
 * not).  Kept until the connection is back; then the next pass steers by
 * totals again.
 */
static void steer_to(struct time_fair_pass *p, struct agent_service *svc, size_t to)
{
	for (size_t b = 0; b < svc->backends.n; b++)
		write_extra(p, svc->backends.items[b].id, b == to ? 0 : STEER_AWAY);
	p->ops.steer(p->ops.arg, svc, true);
}

static void unsteer(struct time_fair_pass *p, struct agent_service *svc)
{
	if (!(svc->slots.flags & SOCKLB_SERVICE_STEERED))
		return;
	for (size_t b = 0; b < svc->backends.n; b++) {
		__u32 id = svc->backends.items[b].id;

		write_extra(p, id, 0);
		/* The cluster plan may write it now: rewritten when steered again. */
		if (id <= p->max_backends)
			p->extra_written[id] = 0;
	}
	p->ops.steer(p->ops.arg, svc, false);
}

/* ------------------------------------------------------------- a service */

struct service_pass {
	struct agent_service *svc;
	const struct socklb_conn_record **recs; /* the service's connections */
	struct time_fair_conn *conns;		/* the same, as the policy sees them */
	double *rates;				/* their loads per second */
	int *cls;
	size_t n;
	__u32 classes;	/* how many classes the connections make */
	__u32 *targets; /* [TIME_FAIR_CLASSES][backends] */
	__u32 *total;	/* [backends] */
	__u32 offset;	/* the judge's: where this node's rotation starts */
};

static size_t backend_index(const struct agent_service *svc, __u32 id)
{
	for (size_t b = 0; b < svc->backends.n; b++) {
		if (svc->backends.items[b].id == id)
			return b;
	}
	return svc->backends.n;
}

/* The rate of the service's known connections' middle one; 0 when none is known. */
static int by_value(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double middle_rate(const double *rates, size_t n)
{
	double *known = malloc((n ? n : 1) * sizeof(*known)), middle;
	size_t k = 0;

	if (!known)
		return 0.0;
	for (size_t i = 0; i < n; i++) {
		if (rates[i] >= 0)
			known[k++] = rates[i];
	}
	qsort(known, k, sizeof(*known), by_value);
	middle = k ? known[k / 2] : 0.0;
	free(known);
	return middle;
}

/*
 * Rates and classes of the service's connections; remembers the rates for
 * the next pass.  A connection too young to have a rate takes the one it
 * replaces (a moved connection coming back), else the service's middle one.
 */
static void classify(struct time_fair_pass *p, struct service_pass *s, __u64 now_ms)
{
	double middle;

	for (size_t i = 0; i < s->n; i++) {
		struct conn_memory m = tf_rate_of(p, s->recs[i], now_ms);

		tf_remember(p, &m);
		s->rates[i] = m.rate >= 0 ? m.rate : tf_inherited_rate(p, s->recs[i], now_ms);
	}
	middle = middle_rate(s->rates, s->n);
	for (size_t i = 0; i < s->n; i++) {
		const struct socklb_conn_record *r = s->recs[i];
		__u64 born_ms = r->sock.established_ns / NS_PER_MS;

		if (s->rates[i] < 0)
			s->rates[i] = middle;
		s->conns[i] = (struct time_fair_conn){
		    .backend = (__u32)backend_index(s->svc, r->sock.backend_id),
		    .dwell_ms = now_ms > born_ms ? now_ms - born_ms : 0,
		};
	}
	s->classes = (__u32)time_fair_group(s->rates, s->n, s->cls);
	for (size_t i = 0; i < s->n; i++)
		s->conns[i].cls = s->cls[i];
}

/*
 * Every class's targets at this phase, runs laid end to end around the
 * backends (each class starts where the one before ended), so that the
 * totals differ by at most one from backend to backend.
 */
static void plan_targets(struct service_pass *s, __u64 phase)
{
	size_t nb = s->svc->backends.n, offset = (size_t)s->svc->slots.service_id + s->offset;
	__u32 count[TIME_FAIR_CLASSES] = {0};

	for (size_t i = 0; i < s->n; i++)
		count[s->conns[i].cls]++;
	memset(s->total, 0, nb * sizeof(*s->total));
	for (int c = 0; c < TIME_FAIR_CLASSES; c++) {
		__u32 *target = s->targets + (size_t)c * nb;

		time_fair_targets(nb, count[c], phase, offset, target);
		for (size_t b = 0; b < nb; b++)
			s->total[b] += target[b];
		offset += count[c] % nb;
	}
}

static void note_view(struct time_fair_pass *p, const struct service_pass *s, __u64 phase_ms)
{
	struct service_view *v;

	if (p->n_views == MAX_SERVICES_SHOWN || ARRAY_RESERVE(p->views, p->cap_views, p->n_views))
		return;
	v = &p->views[p->n_views++];
	*v = (struct service_view){s->svc->slots.service_id,  s->svc->vip, (__u32)s->n,
				   (__u32)s->svc->backends.n, s->classes,  phase_ms};
}

/* The service's own window (its annotation), else the agent's. */
static __u64 window_of(const struct time_fair_pass *p, const struct agent_service *svc)
{
	return svc->time_fair.own ? svc->time_fair.window_ms : p->opts.window_ms;
}

static void note_phase_end(struct time_fair_pass *p, __u64 end_wall_ms)
{
	if (!p->next_phase_wall_ms || end_wall_ms < p->next_phase_wall_ms)
		p->next_phase_wall_ms = end_wall_ms;
}

/*
 * One service's part of the pass.  hold: change nothing now, steering
 * included (its own move is in flight, the count rebalancer is at work, or
 * its clients are still connecting); the rates are followed all the same.
 */
static void run_service(struct time_fair_pass *p, struct service_pass *s, __u64 now_ms,
			__u64 wall_ms, bool hold)
{
	size_t nb = s->svc->backends.n;
	__u64 phase_ms = time_fair_phase_ms(window_of(p, s->svc), nb, p->opts.min_dwell_ms);
	struct time_fair_move move;

	classify(p, s, now_ms);
	if (hold) { /* steering stays as it is: a move's reconnect may be on its way */
		if (s->svc->slots.flags & SOCKLB_SERVICE_STEERED) {
			note_view(p, s, phase_ms);
			note_phase_end(p, (wall_ms / phase_ms + 1) * phase_ms);
			p->stats.rotating++;
		}
		return;
	}
	if (!time_fair_needed(s->conns, s->n, nb)) {
		unsteer(p, s->svc);
		return;
	}
	plan_targets(s, wall_ms / phase_ms);
	note_phase_end(p, (wall_ms / phase_ms + 1) * phase_ms);
	steer(p, s->svc, s->total);
	p->stats.rotating++;
	note_view(p, s, phase_ms);
	if (time_fair_moves(s->conns, s->n, nb, s->targets, p->opts.min_dwell_ms, &move, 1) == 1 &&
	    tf_ask_move(p, s->recs[move.conn], s->rates[move.conn], now_ms) == 0)
		steer_to(p, s->svc, move.to);
}

/* ------------------------------------------------------------- a pass */

static int by_service_then_cookie(const void *a, const void *b)
{
	const struct socklb_sock *x = &(*(const struct socklb_conn_record *const *)a)->sock;
	const struct socklb_sock *y = &(*(const struct socklb_conn_record *const *)b)->sock;

	if (x->service_id != y->service_id)
		return x->service_id < y->service_id ? -1 : 1;
	return x->cookie < y->cookie ? -1 : x->cookie > y->cookie;
}

static int by_service_id(const void *key, const void *elem)
{
	__u32 id = *(const __u32 *)key;
	__u32 other = (*(const struct socklb_conn_record *const *)elem)->sock.service_id;

	return id < other ? -1 : id > other;
}

/* The established connections of svc: a run of sorted[n]. */
static size_t service_run(const struct socklb_conn_record **sorted, size_t n, __u32 service_id,
			  const struct socklb_conn_record ***first)
{
	const struct socklb_conn_record **hit =
	    n ? bsearch(&service_id, sorted, n, sizeof(*sorted), by_service_id) : NULL;
	size_t lo, hi;

	if (!hit) {
		*first = sorted;
		return 0;
	}
	lo = hi = (size_t)(hit - sorted);
	while (lo > 0 && sorted[lo - 1]->sock.service_id == service_id)
		lo--;
	while (hi < n && sorted[hi]->sock.service_id == service_id)
		hi++;
	*first = sorted + lo;
	return hi - lo;
}

static size_t established(const struct socklb_conn_record *recs, size_t n,
			  const struct socklb_conn_record **out)
{
	size_t k = 0;

	for (size_t i = 0; i < n; i++) {
		if (recs[i].tcp_state == TCP_ESTABLISHED &&
		    recs[i].sock.phase == SOCKLB_SOCK_ESTABLISHED)
			out[k++] = &recs[i];
	}
	qsort(out, k, sizeof(*out), by_service_then_cookie);
	return k;
}

/* Room for n connections and the largest set of backends of the table; false: out of memory. */
static bool fit_scratch(struct time_fair_pass *p, size_t n, const struct service_table *t)
{
	size_t nb = 1;
	void *a, *b, *c, *d;

	for (size_t i = 0; i < t->n; i++)
		nb = t->items[i].backends.n > nb ? t->items[i].backends.n : nb;
	if (n > p->cap_conns) {
		a = realloc(p->sorted, n * sizeof(*p->sorted));
		p->sorted = a ? a : p->sorted;
		b = realloc(p->conns, n * sizeof(*p->conns));
		p->conns = b ? b : p->conns;
		c = realloc(p->rates, n * sizeof(*p->rates));
		p->rates = c ? c : p->rates;
		d = realloc(p->cls, n * sizeof(*p->cls));
		p->cls = d ? d : p->cls;
		if (!a || !b || !c || !d)
			return false;
		p->cap_conns = n;
	}
	if (nb > p->cap_backends) {
		a = realloc(p->targets, nb * TIME_FAIR_CLASSES * sizeof(*p->targets));
		p->targets = a ? a : p->targets;
		b = realloc(p->total, nb * sizeof(*p->total));
		p->total = b ? b : p->total;
		if (!a || !b)
			return false;
		p->cap_backends = nb;
	}
	return true;
}

void time_fair_pass_run(struct time_fair_pass *p, struct service_table *t,
			const struct socklb_conn_record *recs, size_t n, __u64 now_ms,
			__u64 wall_ms, time_fair_judge judge, void *judge_arg)
{
	size_t n_sorted;

	p->last_pass_ms = now_ms;
	p->next_phase_wall_ms = 0;
	p->stats.rotating = 0;
	p->n_views = 0;
	if (!fit_scratch(p, n ? n : 1, t)) {
		log_warn("msg=\"out of memory for the time-fair pass\" connections=%zu", n);
		return;
	}
	n_sorted = established(recs, n, p->sorted);
	for (size_t i = 0; i < t->n; i++) {
		struct agent_service *svc = &t->items[i];
		struct service_pass s = {.svc = svc,
					 .conns = p->conns,
					 .rates = p->rates,
					 .cls = p->cls,
					 .targets = p->targets,
					 .total = p->total};
		enum time_fair_say say = judge ? judge(judge_arg, svc, &s.offset) : TIME_FAIR_PLAN;

		if (svc->backends.n < 2 || say == TIME_FAIR_SKIP || !window_of(p, svc)) {
			unsteer(p, svc);
			continue;
		}
		s.n = service_run(p->sorted, n_sorted, svc->slots.service_id, &s.recs);
		/* Both always, in this order: a move coming back changes the count. */
		bool moving = tf_follow_pending(p, svc->slots.service_id, s.recs, s.n, now_ms);
		bool steady = tf_settled(p, svc->slots.service_id, s.n, now_ms);

		run_service(p, &s, now_ms, wall_ms, moving || say == TIME_FAIR_HOLD || !steady);
	}
	tf_prune_pending(p, now_ms);
	tf_prune_counts(p, now_ms);
	tf_swap_memory(p);
}

void time_fair_pass_stats(const struct time_fair_pass *p, struct time_fair_stats *out)
{
	memset(out, 0, sizeof(*out));
	if (p)
		*out = p->stats;
}

json_object *time_fair_pass_json(const struct time_fair_pass *p)
{
	json_object *o = json_object_new_object(), *list = json_object_new_array();
	char vip[ENDPOINT_STR_LEN];

	if (!o || !list) {
		json_object_put(o);
		json_object_put(list);
		return NULL;
	}
	json_object_object_add(o, "window_ms", json_object_new_int64((int64_t)p->opts.window_ms));
	json_object_object_add(o, "min_dwell_ms",
			       json_object_new_int64((int64_t)p->opts.min_dwell_ms));
	json_object_object_add(o, "moves", json_object_new_int64((int64_t)p->stats.moves));
	json_object_object_add(o, "moves_expired",
			       json_object_new_int64((int64_t)p->stats.moves_expired));
	json_object_object_add(o, "last_pass_ms", json_object_new_double(p->stats.last_pass_ms));
	for (size_t i = 0; i < p->n_views; i++) {
		const struct service_view *v = &p->views[i];
		json_object *s = json_object_new_object();

		if (!s)
			break;
		json_object_object_add(
		    s, "vip", json_object_new_string(endpoint_str(&v->vip, vip, sizeof(vip))));
		json_object_object_add(s, "connections", json_object_new_int64(v->conns));
		json_object_object_add(s, "backends", json_object_new_int64(v->backends));
		json_object_object_add(s, "classes", json_object_new_int64(v->classes));
		json_object_object_add(s, "phase_ms", json_object_new_int64((int64_t)v->phase_ms));
		json_object_array_add(list, s);
	}
	json_object_object_add(o, "rotating", list);
	return o;
}
