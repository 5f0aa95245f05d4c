/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Which balanced connections socklb wants to end now: those whose backend
 * has an end budget (removed, or over its fair share), those the agent named
 * (move_requests: the time-fair rotation), and those older than the max age.  Shared by the finder
 * (which namespaces to visit) and the ender (which sockets to end), so both answer alike.
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
	struct socklb_end_budget *budget; /* NULL: ended for its age, no budget to spend */
	__u32 reason;			  /* enum socklb_end_reason */
	__u64 force_after_ns;		  /* past this, end it even if busy */
};

/* Whether s should be ended now, and why; false for anything not established. */
static __always_inline bool end_wanted(const struct socklb_sock *s, struct end_wish *w)
{
	__u32 id = s->backend_id;
	struct socklb_move_request *request;
	struct socklb_end_budget *budget;
	__u64 limit;

	if (s->phase != SOCKLB_SOCK_ESTABLISHED)
		return false;
	budget = bpf_map_lookup_elem(&end_budgets, &id);
	if (budget && budget->budget > 0) {
		w->budget = budget;
		w->reason = budget->reason;
		w->force_after_ns = budget->force_after_ns;
		return true;
	}
	request = bpf_map_lookup_elem(&move_requests, &s->cookie);
	if (request) {
		w->budget = NULL;
		w->reason = request->reason;
		w->force_after_ns = request->force_after_ns;
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

#endif
