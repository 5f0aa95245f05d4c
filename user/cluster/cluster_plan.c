// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "cluster/cluster_plan.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* Whether a comes before b: the larger value first, then the lower index. */
static bool before(__u64 va, __u64 ra, __u64 vb, __u64 rb)
{
	return va != vb ? va > vb : ra < rb;
}

static __u64 kept_below(const __u32 *held, size_t count, __u64 level)
{
	__u64 sum = 0;

	for (size_t i = 0; i < count; i++)
		sum += held[i] < level ? held[i] : level;
	return sum;
}

static int by_rank(const void *a, const void *b, void *rank_arg)
{
	const __u64 *rank = rank_arg;
	__u64 x = rank[*(const size_t *)a], y = rank[*(const size_t *)b];

	return x < y ? -1 : x > y;
}

void cluster_split(__u32 n, const __u32 *held, const __u64 *rank, size_t count, __u32 *share)
{
	__u64 total = kept_below(held, count, ~0ULL), keep, lo = 0, hi = 0, left;
	size_t *above = calloc(count ? count : 1, sizeof(*above)), n_above = 0;

	memset(share, 0, count * sizeof(*share));
	if (!above)
		return; /* moving nothing is always safe */
	keep = n < total ? total - n : 0;
	for (size_t i = 0; i < count; i++)
		hi = held[i] > hi ? held[i] : hi;
	/* The highest level whose connections below it all fit in keep. */
	while (lo < hi) {
		__u64 mid = lo + (hi - lo + 1) / 2;

		if (kept_below(held, count, mid) <= keep)
			lo = mid;
		else
			hi = mid - 1;
	}
	left = keep - kept_below(held, count, lo);
	for (size_t i = 0; i < count; i++) {
		share[i] = held[i] > lo ? (__u32)(held[i] - lo) : 0;
		if (held[i] > lo)
			above[n_above++] = i;
	}
	/* The rest of keep: one more each for the lowest ranks that hold more. */
	qsort_r(above, n_above, sizeof(*above), by_rank, (void *)rank);
	for (size_t k = 0; k < n_above && k < left; k++)
		share[above[k]]--;
	free(above);
}

static __u32 backend_total(const struct plan_input *in, size_t b)
{
	__u32 sum = 0;

	for (size_t k = 0; k < in->n_nodes; k++)
		sum += in->counts[k * in->n_backends + b];
	return sum;
}

/*
 * floor(T / B) everywhere, and one more on the T % B backends that hold the
 * most now (ties to the lower index): the fewest moves reach it.
 */
static void targets(const struct plan_input *in, const __u32 *cur, __u32 *target)
{
	size_t nb = in->n_backends;
	__u64 total = 0;
	size_t extra;

	for (size_t b = 0; b < nb; b++)
		total += cur[b];
	extra = (size_t)(total % nb);
	for (size_t b = 0; b < nb; b++) {
		size_t ahead = 0;

		for (size_t o = 0; o < nb; o++)
			ahead += before(cur[o], o, cur[b], b);
		target[b] = (__u32)(total / nb) + (ahead < extra);
	}
}

size_t cluster_plan(const struct plan_input *in, __u32 *target, struct plan_move *moves, size_t max)
{
	size_t nb = in->n_backends, nn = in->n_nodes, n_moves = 0, to = 0;
	__u32 *cur = calloc(nb ? nb : 1, sizeof(*cur));
	__u32 *held = calloc(nn ? nn : 1, sizeof(*held));
	__u32 *share = calloc(nn ? nn : 1, sizeof(*share));
	__u32 *room = calloc(nb ? nb : 1, sizeof(*room));

	if (!nb || !cur || !held || !share || !room)
		goto out;
	for (size_t b = 0; b < nb; b++)
		cur[b] = backend_total(in, b);
	targets(in, cur, target);
	for (size_t b = 0; b < nb; b++)
		room[b] = target[b] > cur[b] ? target[b] - cur[b] : 0;
	for (size_t b = 0; b < nb; b++) {
		if (cur[b] <= target[b])
			continue;
		for (size_t k = 0; k < nn; k++)
			held[k] = in->counts[k * nb + b];
		cluster_split(cur[b] - target[b], held, in->node_rank, nn, share);
		/* Each node's part goes to the backends short of their target, in order. */
		for (size_t k = 0; k < nn; k++) {
			while (share[k] > 0 && to < nb) {
				__u32 n;

				if (room[to] == 0) {
					to++;
					continue;
				}
				n = share[k] < room[to] ? share[k] : room[to];
				if (n_moves < max)
					moves[n_moves] =
					    (struct plan_move){(__u32)k, (__u32)b, (__u32)to, n};
				n_moves++;
				share[k] -= n;
				room[to] -= n;
			}
		}
	}
out:
	free(cur);
	free(held);
	free(share);
	free(room);
	return n_moves;
}
