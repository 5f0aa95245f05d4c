// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* What the time-fair pass remembers from pass to pass (time_fair_impl.h). */
#include "rebalance/time_fair_impl.h"
#include "lib/array.h"
#include "lib/clock.h"
#include "lib/log.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------- load */

static int by_cookie(const void *a, const void *b)
{
	__u64 x = ((const struct conn_memory *)a)->cookie,
	      y = ((const struct conn_memory *)b)->cookie;

	return x < y ? -1 : x > y;
}

static const struct conn_memory *remembered(const struct time_fair_pass *p, __u64 cookie)
{
	struct conn_memory key = {.cookie = cookie};

	return p->n_mem ? bsearch(&key, p->mem, p->n_mem, sizeof(key), by_cookie) : NULL;
}

static __u64 load_of(const struct socklb_conn_record *r)
{
	return (__u64)r->data_segs_in + r->data_segs_out;
}

/*
 * The connection's rate now: over the last RATE_PERIOD_MS once known, over
 * its life until then (once it is FIRST_RATE_AGE_MS old).
 */
struct conn_memory tf_rate_of(const struct time_fair_pass *p, const struct socklb_conn_record *r,
			      __u64 now_ms)
{
	const struct conn_memory *old = remembered(p, r->sock.cookie);
	__u64 load = load_of(r), born_ms = r->sock.established_ns / NS_PER_MS;
	struct conn_memory m = {r->sock.cookie, load, now_ms, -1.0};
	bool grown = now_ms > born_ms && now_ms - born_ms >= FIRST_RATE_AGE_MS;

	if (old) {
		m = *old;
		if (m.rate < 0 && grown)
			m.rate = (double)load * 1000.0 / (double)(now_ms - born_ms);
		if (now_ms - old->base_ms >= RATE_PERIOD_MS) {
			m.rate = (double)(load - old->base_load) * 1000.0 /
				 (double)(now_ms - old->base_ms);
			m.base_load = load;
			m.base_ms = now_ms;
		}
	} else if (grown) {
		m.rate = (double)load * 1000.0 / (double)(now_ms - born_ms);
	}
	return m;
}

/* The rate a moved connection had, if r looks like it coming back; < 0: none. */
double tf_inherited_rate(const struct time_fair_pass *p, const struct socklb_conn_record *r,
			 __u64 now_ms)
{
	for (size_t i = 0; i < p->n_pending; i++) {
		const struct pending_move *m = &p->pending[i];

		if (m->gone_ms && m->service_id == r->sock.service_id &&
		    m->netns_cookie == r->sock.netns_cookie && now_ms - m->gone_ms < INHERIT_MS)
			return m->rate;
	}
	return -1.0;
}

int tf_remember(struct time_fair_pass *p, const struct conn_memory *m)
{
	if (ARRAY_RESERVE(p->next_mem, p->cap_next, p->n_next))
		return -ENOMEM;
	p->next_mem[p->n_next++] = *m;
	return 0;
}

/* ------------------------------------------------------ pending moves */

static struct pending_move *pending_of(struct time_fair_pass *p, __u32 service_id)
{
	for (size_t i = 0; i < p->n_pending; i++) {
		if (p->pending[i].service_id == service_id)
			return &p->pending[i];
	}
	return NULL;
}

static bool has_cookie(const struct socklb_conn_record *const *conns, size_t n, __u64 cookie)
{
	for (size_t i = 0; i < n; i++) {
		if (conns[i]->sock.cookie == cookie)
			return true;
	}
	return false;
}

static bool came_back(const struct pending_move *m, const struct socklb_conn_record *const *conns,
		      size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (conns[i]->sock.netns_cookie == m->netns_cookie &&
		    conns[i]->sock.cookie != m->cookie &&
		    conns[i]->sock.established_ns / NS_PER_MS >= m->asked_ms)
			return true;
	}
	return false;
}

/*
 * Follows svc's move in flight against its connections now; true while it
 * still holds the service (no new plan until the moved connection is back).
 */
bool tf_follow_pending(struct time_fair_pass *p, __u32 service_id,
		       const struct socklb_conn_record *const *conns, size_t n, __u64 now_ms)
{
	struct pending_move *m = pending_of(p, service_id);

	if (!m)
		return false;
	if (!m->gone_ms && !has_cookie(conns, n, m->cookie))
		m->gone_ms = now_ms;
	if (!m->gone_ms && now_ms > m->expires_ms) {
		p->ops.cancel(p->ops.arg, m->cookie);
		p->stats.moves_expired++;
		m->gone_ms = now_ms;
		m->arrived = true; /* it never left: nothing to wait for */
	}
	if (m->gone_ms && !m->arrived)
		m->arrived = came_back(m, conns, n);
	return !m->gone_ms || (!m->arrived && now_ms - m->gone_ms < ARRIVAL_WAIT_MS);
}

/* Forgets moves that are over (kept a while: reconnects inherit their class). */
void tf_prune_pending(struct time_fair_pass *p, __u64 now_ms)
{
	size_t kept = 0;

	for (size_t i = 0; i < p->n_pending; i++) {
		struct pending_move *m = &p->pending[i];

		if (!m->gone_ms || now_ms - m->gone_ms < INHERIT_MS)
			p->pending[kept++] = *m;
	}
	p->n_pending = kept;
}

int tf_ask_move(struct time_fair_pass *p, const struct socklb_conn_record *r, double rate,
		__u64 now_ms)
{
	/*
	 * Never forced: a rotation is worth no failed call.  A connection that
	 * cannot be ended gracefully by the drain deadline is left where it is.
	 */
	struct socklb_move_request req = {
	    .reason = SOCKLB_END_IMBALANCE,
	    .force_after_ns = UINT64_MAX,
	};
	struct pending_move *m = pending_of(p, r->sock.service_id);
	int ret;

	if (!m && ARRAY_RESERVE(p->pending, p->cap_pending, p->n_pending))
		return -ENOMEM;
	ret = p->ops.move(p->ops.arg, r->sock.cookie, &req);
	if (ret)
		return ret;
	if (!m)
		m = &p->pending[p->n_pending++];
	*m = (struct pending_move){
	    .cookie = r->sock.cookie,
	    .netns_cookie = r->sock.netns_cookie,
	    .service_id = r->sock.service_id,
	    .rate = rate,
	    .asked_ms = now_ms,
	    .expires_ms = now_ms + p->opts.drain_deadline_ms + EXPIRY_GRACE_MS,
	};
	p->stats.moves++;
	log_debug("msg=\"time-fair move\" service_id=%u cookie=%llu backend_id=%u rate=%.1f",
		  r->sock.service_id, (unsigned long long)r->sock.cookie, r->sock.backend_id, rate);
	return 0;
}

#define SETTLE_MS 500

/*
 * Whether the service has had n connections for SETTLE_MS (its counts
 * remembered per service id, rebuilt every pass like the rates).
 */
/* Whether the service's last move has just come back (so the count changed by it). */
static bool own_move_back(struct time_fair_pass *p, __u32 service_id)
{
	struct pending_move *m = pending_of(p, service_id);

	return m && m->gone_ms && m->arrived && !m->back_counted && (m->back_counted = true);
}

bool tf_settled(struct time_fair_pass *p, __u32 service_id, size_t n, __u64 now_ms)
{
	struct service_count *c = NULL;

	for (size_t i = 0; i < p->n_counts && !c; i++) {
		if (p->counts[i].service_id == service_id)
			c = &p->counts[i];
	}
	if (!c) {
		if (ARRAY_RESERVE(p->counts, p->cap_counts, p->n_counts))
			return false;
		c = &p->counts[p->n_counts++];
		/* First seen: as settled as it will be (an agent starting on old connections). */
		*c = (struct service_count){service_id, n, 0, now_ms};
	}
	if (c->n != n) {
		c->n = n;
		/* Back from the rotation's own move: its change, nothing to wait for. */
		c->since_ms = own_move_back(p, service_id) ? 0 : now_ms;
	}
	c->seen_ms = now_ms;
	return now_ms - c->since_ms >= SETTLE_MS;
}

/* Forgets the counts of services no longer seen. */
void tf_prune_counts(struct time_fair_pass *p, __u64 now_ms)
{
	size_t kept = 0;

	for (size_t i = 0; i < p->n_counts; i++) {
		if (p->counts[i].seen_ms == now_ms)
			p->counts[kept++] = p->counts[i];
	}
	p->n_counts = kept;
}

void tf_swap_memory(struct time_fair_pass *p)
{
	struct conn_memory *tmp = p->mem;
	size_t cap = p->cap_mem;

	if (p->n_next)
		qsort(p->next_mem, p->n_next, sizeof(*p->next_mem), by_cookie);
	p->mem = p->next_mem;
	p->n_mem = p->n_next;
	p->cap_mem = p->cap_next;
	p->next_mem = tmp;
	p->cap_next = cap;
	p->n_next = 0;
}
