/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Backend choice for one connect: least connections or random.  Sets of up
 * to SOCKLB_INLINE_BACKENDS sit in the service entry itself, so choosing
 * among them costs array reads only; larger sets are read from
 * backend_slots, two random slots at a time.
 */
#ifndef SOCKLB_BPF_SELECT_H
#define SOCKLB_BPF_SELECT_H

#include "lib/config.h"
#include "lib/counters.h"

#define SOCKLB_INLINE_MASK (SOCKLB_INLINE_BACKENDS - 1)
_Static_assert((SOCKLB_INLINE_BACKENDS & SOCKLB_INLINE_MASK) == 0, "a power of two");

/* Slot index of a set of any size: inline, or in backend_slots. */
static __always_inline __u32 set_member(const struct socklb_service *svc, __u32 index)
{
	struct socklb_slot_key key = {
	    .service_id = svc->service_id,
	    .slot = socklb_slot(svc->active_half, index),
	};
	__u32 *id;

	if (svc->backend_count <= SOCKLB_INLINE_BACKENDS)
		return svc->backend_ids[index & SOCKLB_INLINE_MASK];
	id = bpf_map_lookup_elem(&backend_slots, &key);
	return id ? *id : SOCKLB_BACKEND_ID_NONE;
}

/*
 * Connections a backend has or is about to have: the least-conn load.  With
 * the cluster view on, also those the other nodes hold on it (one array read,
 * compiled out otherwise): this node's own counts are exact and instant, the
 * others' as they last published them.  A steered service (time-fair) adds
 * the agent's steering instead: how far each backend is ahead of where the
 * rotation wants connections now.  *connecting: the connecting count it
 * was read with, which the choice is taken on (choose_backend).
 */
static __always_inline __u64 backend_load(__u32 backend_id, bool steered, __u64 *connecting)
{
	struct socklb_backend_stats *st = backend_stats_of(backend_id);
	__u64 load;
	__u32 *extra;

	if (!st)
		return ~0ULL;
	/*
	 * connecting before live, and sockops adds to live before it takes
	 * from connecting: a connection becoming established is never missed.
	 */
	*connecting = *(volatile __u64 *)&st->connecting;
	load = *connecting + *(volatile __u64 *)&st->live;
	if (socklb_cfg.cluster_view || steered) {
		extra = bpf_map_lookup_elem(&backend_extra, &backend_id);
		if (extra)
			load += *extra;
	}
	return load;
}

/* A choice, and for an exact one the backend's connecting count it was made on. */
struct pick {
	__u32 id;
	bool exact;
	__u64 seen;
};

/*
 * Exact least connections over an inline set: every member, starting at a
 * random one so that ties spread instead of piling on the first.
 */
static __always_inline struct pick pick_least_inline(const struct socklb_service *svc, __u32 seed)
{
	__u32 n = svc->backend_count;
	__u32 start = seed % n;
	struct pick best = {SOCKLB_BACKEND_ID_NONE, true, 0};
	__u64 best_load = ~0ULL;
	bool steered = svc->flags & SOCKLB_SERVICE_STEERED;

	for (__u32 i = 0; i < SOCKLB_INLINE_BACKENDS && i < n; i++) {
		__u32 index = start + i;

		if (index >= n)
			index -= n;
		__u32 id = svc->backend_ids[index & SOCKLB_INLINE_MASK];
		__u64 load, connecting = 0;

		if (id == SOCKLB_BACKEND_ID_NONE)
			continue;
		load = backend_load(id, steered, &connecting);
		if (load < best_load) {
			best.id = id;
			best.seen = connecting; /* as the comparison saw it, not read again */
			best_load = load;
		}
	}
	return best;
}

/* Power of two random choices: two distinct random slots, the lighter wins. */
static __always_inline __u32 pick_two_choices(const struct socklb_service *svc)
{
	__u32 n = svc->backend_count;
	__u32 a = bpf_get_prandom_u32() % n;
	__u32 b = (a + 1 + bpf_get_prandom_u32() % (n - 1)) % n;
	__u32 id_a = set_member(svc, a);
	__u32 id_b = set_member(svc, b);
	bool steered = svc->flags & SOCKLB_SERVICE_STEERED;
	__u64 unused;

	if (id_a == SOCKLB_BACKEND_ID_NONE)
		return id_b;
	if (id_b == SOCKLB_BACKEND_ID_NONE)
		return id_a;
	return backend_load(id_b, steered, &unused) < backend_load(id_a, steered, &unused) ? id_b
											   : id_a;
}

/* One choice (SOCKLB_BACKEND_ID_NONE if the service has no backend). */
static __always_inline struct pick pick_backend(const struct socklb_service *svc, __u32 seed)
{
	__u32 n = svc->backend_count;
	struct pick p = {SOCKLB_BACKEND_ID_NONE, false, 0};

	if (n == 0 || n > SOCKLB_MAX_BACKENDS_PER_SERVICE)
		return p;
	if (n > 1 && socklb_cfg.policy != SOCKLB_POLICY_RANDOM && n <= SOCKLB_INLINE_BACKENDS)
		return pick_least_inline(svc, seed);
	if (n == 1)
		p.id = set_member(svc, 0);
	else if (socklb_cfg.policy == SOCKLB_POLICY_RANDOM)
		p.id = set_member(svc, bpf_get_prandom_u32() % n);
	else
		p.id = pick_two_choices(svc);
	return p;
}

/* Exact choices tried before one is taken as it is (connects racing on every CPU). */
#define SOCKLB_CHOICE_TRIES 3

/*
 * Chooses a backend and makes the choice weigh on it (connecting) at once,
 * or returns SOCKLB_BACKEND_ID_NONE.  An exact choice is taken only if the
 * backend's connecting count is still the one the scan saw: connects
 * racing on other CPUs would otherwise all see the same lightest backend
 * and pile on it (20 at once gave 5,5,4,3,3).  Lost, the scan runs again
 * on the new counts.  seed: differs from connect to connect (where an
 * exact scan starts, so that ties spread).
 */
static __always_inline __u32 choose_backend(const struct socklb_service *svc, __u32 seed)
{
	struct socklb_backend_stats *st;
	struct pick p = {SOCKLB_BACKEND_ID_NONE, false, 0};

	for (__u32 try = 0; try < SOCKLB_CHOICE_TRIES; try++) {
		p = pick_backend(svc, seed + try);
		if (p.id == SOCKLB_BACKEND_ID_NONE)
			return p.id;
		st = backend_stats_of(p.id);
		if (!p.exact || !st)
			break;
		if (__sync_val_compare_and_swap(&st->connecting, p.seen, p.seen + 1) == p.seen)
			return p.id;
	}
	choice_weighs(p.id, true);
	return p.id;
}

#endif
