/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Per-backend and per-reason counters, and the data path's event counts.
 * Every increment goes through here, so what status and metrics show has
 * one definition.
 */
#ifndef SOCKLB_BPF_COUNTERS_H
#define SOCKLB_BPF_COUNTERS_H

#include "lib/maps.h"

/* One data path event (enum socklb_dp_event), counted on this CPU only. */
static __always_inline void count_event(__u32 event)
{
	__u64 *n = bpf_map_lookup_elem(&dp_stats, &event);

	/* Atomic even per CPU: a softirq's sockops may interrupt a connect hook. */
	if (n)
		__sync_fetch_and_add(n, 1);
}

/*
 * A balanced connect, establishment or close: the agent skips its
 * rebalancing scan while this count stands still.
 */
static __always_inline void note_activity(void)
{
	count_event(SOCKLB_DP_ACTIVITY);
}

static __always_inline struct socklb_backend_stats *backend_stats_of(__u32 backend_id)
{
	return bpf_map_lookup_elem(&backend_stats, &backend_id);
}

static __always_inline struct socklb_end_stats *end_stats_of(__u32 reason)
{
	return bpf_map_lookup_elem(&end_stats, &reason);
}

/*
 * A choice weighs on its backend from the connect hook on (connecting), so
 * that connects racing on other CPUs see it: counted at the SYN instead,
 * 20 connects at once put 5 on one backend and 3 on another.  A choice no
 * connection takes (its connect failed before the SYN) is given back by
 * whoever claims its slot: the next connect hook that finds it stale, or
 * sockops when the socket closes first.
 */
static __always_inline void choice_weighs(__u32 backend_id, bool on)
{
	struct socklb_backend_stats *st = backend_stats_of(backend_id);

	if (!st)
		return;
	if (on)
		__sync_fetch_and_add(&st->connecting, 1);
	else
		__sync_fetch_and_sub(&st->connecting, 1);
}

/* A connection socklb ended: per reason and per backend, idle (graceful) or forced. */
static __always_inline void count_end(__u32 reason, __u32 backend_id, bool forced)
{
	struct socklb_end_stats *es = end_stats_of(reason);
	struct socklb_backend_stats *bs = backend_stats_of(backend_id);

	if (es) {
		if (forced)
			__sync_fetch_and_add(&es->forced, 1);
		else
			__sync_fetch_and_add(&es->graceful, 1);
	}
	if (bs) {
		if (forced)
			__sync_fetch_and_add(&bs->ended_forced, 1);
		else
			__sync_fetch_and_add(&bs->ended_graceful, 1);
	}
}

/* A connection wanted for an end, left alone because it was busy and not yet due. */
static __always_inline void count_busy(__u32 reason)
{
	struct socklb_end_stats *es = end_stats_of(reason);

	if (es)
		__sync_fetch_and_add(&es->busy_skipped, 1);
}

/* One GOAWAY follower event (enum socklb_h2_event), on this CPU only. */
static __always_inline void count_h2(__u32 event)
{
	__u64 *n = bpf_map_lookup_elem(&h2_stats, &event);

	if (n)
		__sync_fetch_and_add(n, 1);
}

/* A connection socklb asked to go away with a GOAWAY: per reason and per backend. */
static __always_inline void count_goaway(__u32 reason, __u32 backend_id)
{
	struct socklb_end_stats *es = end_stats_of(reason);
	struct socklb_backend_stats *bs = backend_stats_of(backend_id);

	if (es)
		__sync_fetch_and_add(&es->goaway, 1);
	if (bs)
		__sync_fetch_and_add(&bs->ended_goaway, 1);
}

static __always_inline void count_goaway_delivered(__u32 reason)
{
	struct socklb_end_stats *es = end_stats_of(reason);

	if (es)
		__sync_fetch_and_add(&es->goaway_delivered, 1);
}

/* A GOAWAY's connection destroyed after all: idle with nothing to carry it, or due. */
static __always_inline void count_goaway_destroyed(__u32 reason, bool forced)
{
	struct socklb_end_stats *es = end_stats_of(reason);

	if (!es)
		return;
	if (forced)
		__sync_fetch_and_add(&es->goaway_then_forced, 1);
	else
		__sync_fetch_and_add(&es->goaway_then_idle, 1);
}

#endif
