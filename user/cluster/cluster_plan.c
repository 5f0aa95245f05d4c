// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "cluster/cluster_plan.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* Whether a comes before b: the larger value first, then the lower rank. */
static bool before(__u64 va, __u64 ra, __u64 vb, __u64 rb)
{
	return va != vb ? va > vb : ra < rb;
}

void cluster_split(__u32 n, const __u32 *held, const __u64 *rank, size_t count, __u32 *share)
{
	__u64 total = 0, given = 0;

	for (size_t i = 0; i < count; i++)
		total += held[i];
	if (n > total)
		n = (__u32)total;
	for (size_t i = 0; i < count; i++) {
		share[i] = total ? (__u32)((__u64)n * held[i] / total) : 0;
		given += share[i];
	}
	/* The remainder, one each, to the largest fractional parts (then rank). */
	while (given < n) {
		size_t best = count;
		__u64 best_frac = 0;

		for (size_t i = 0; i < count; i++) {
			__u64 frac = (__u64)n * held[i] % total;

			if (share[i] >= held[i])
				continue;
			if (best == count || before(frac, rank[i], best_frac, rank[best])) {
				best = i;
				best_frac = frac;
			}
		}
		if (best == count)
			break;
		share[best]++;
		given++;
	}
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
