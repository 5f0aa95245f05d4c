/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Which balanced connections socklb wants to end now: those asked for one
 * by one (move_requests: the time-fair rotation), those whose backend has an
 * end budget (removed, or over its fair share), and those older than the max
 * age.  Shared by the finder (which namespaces to visit) and the ender (which
 * sockets to end), so both answer alike.
 */
#ifndef SOCKLB_BPF_END_POLICY_H
#define SOCKLB_BPF_END_POLICY_H

#include "lib/config.h"
#include "lib/maps.h"

/* Max age with +-10% jitter per connection, from its cookie, as gRPC's MaxConnectionAge. */
static __always_inline __u64 age_limit_ns(__u64 cookie)
{
	__u64 max_age_ns = socklb_cfg.max_age_ns;
	__u64 spread = max_age_ns / 5; /* 20% wide: -10% .. +10% */
	__u64 hash = cookie * 0x9E3779B97F4A7C15ULL;

	return max_age_ns - max_age_ns / 10 + (spread ? (hash >> 32) % spread : 0);
}

struct end_wish {
	struct socklb_end_budget *budget; /* NULL: ended for its age or by request */
	__u32 reason;			  /* enum socklb_end_reason */
	bool requested;			  /* asked for in move_requests (by cookie) */
	__u64 force_after_ns;		  /* past this, end it even if busy; 0: the deadline */
};

/*
 * A request for this very connection (a policy that picks connections, not
 * counts): before any budget, so that it is never spent on another.
 */
static __always_inline bool move_requested(const struct socklb_sock *s, struct end_wish *w)
{
	__u64 cookie = s->cookie;
	struct socklb_move_request *req = bpf_map_lookup_elem(&move_requests, &cookie);

	if (!req)
		return false;
	w->budget = NULL;
	w->reason = req->reason < SOCKLB_END_REASONS ? req->reason : SOCKLB_END_IMBALANCE;
	w->requested = true;
	/* 0: the drain deadline from now, as its documentation says. */
	w->force_after_ns = req->force_after_ns ? req->force_after_ns
						: bpf_ktime_get_ns() + socklb_cfg.drain_deadline_ns;
	return true;
}

/* Whether s should be ended now, and why; false for anything not established. */
static __always_inline bool end_wanted(const struct socklb_sock *s, struct end_wish *w)
{
	__u32 id = s->backend_id;
	struct socklb_end_budget *budget;
	__u64 limit;

	if (s->phase != SOCKLB_SOCK_ESTABLISHED)
		return false;
	w->requested = false;
	if (move_requested(s, w))
		return true;
	budget = bpf_map_lookup_elem(&end_budgets, &id);
	if (budget && budget->budget > 0) {
		w->budget = budget;
		w->reason = budget->reason;
		w->force_after_ns = budget->force_after_ns;
		return true;
	}
	if (socklb_cfg.max_age_ns == 0)
		return false;
	limit = age_limit_ns(s->cookie);
	if (bpf_ktime_get_ns() - s->established_ns < limit)
		return false;
	w->budget = NULL;
	w->reason = SOCKLB_END_MAX_AGE;
	w->force_after_ns = s->established_ns + limit + socklb_cfg.drain_deadline_ns;
	return true;
}

/*
 * Sent a GOAWAY, not closed yet: the ender looks at it again (destroyed if
 * its client does not close in time), so the finder reports its namespace.
 */
static __always_inline bool end_pending(const struct socklb_sock *s)
{
	return s->phase == SOCKLB_SOCK_DRAINING;
}

#endif
