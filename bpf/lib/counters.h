/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Per-backend and per-reason counters, and the data path's activity count.
 * Every increment goes through here, so what status and metrics show has
 * one definition.
 */
#ifndef SOCKLB_BPF_COUNTERS_H
#define SOCKLB_BPF_COUNTERS_H

#include "lib/maps.h"

/*
 * Bumped by every balanced connect, establishment and close: the agent reads
 * it (mmapped, no syscall) to skip its rebalancing scan while nothing moves.
 */
__u64 activity = 0;

static __always_inline void note_activity(void)
{
	__sync_fetch_and_add(&activity, 1);
}

static __always_inline struct socklb_backend_stats *backend_stats_of(__u32 backend_id)
{
	return bpf_map_lookup_elem(&backend_stats, &backend_id);
}

static __always_inline void count_connect(__u32 backend_id)
{
	struct socklb_backend_stats *st = backend_stats_of(backend_id);

	note_activity();
	if (st)
		__sync_fetch_and_add(&st->connects, 1);
}

/* A connection socklb ended: per reason and per backend, idle (graceful) or forced. */
static __always_inline void count_end(__u32 reason, __u32 backend_id, bool forced)
{
	struct socklb_end_stats *es = bpf_map_lookup_elem(&end_stats, &reason);
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
	struct socklb_end_stats *es = bpf_map_lookup_elem(&end_stats, &reason);

	if (es)
		__sync_fetch_and_add(&es->busy_skipped, 1);
}

#endif
