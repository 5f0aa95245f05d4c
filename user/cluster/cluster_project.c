// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "cluster/cluster_project.h"
#include "cluster/cluster_plan.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

__u64 cluster_node_rank(const char *name)
{
	__u64 h = 0xcbf29ce484222325ULL;

	for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
		h ^= *p;
		h *= 0x100000001b3ULL;
	}
	return h;
}

struct ranked {
	__u64 rank;
	size_t index; /* in the caller's nodes[] */
	const char *name;
};

static int by_rank(const void *a, const void *b)
{
	const struct ranked *x = a, *y = b;

	if (x->rank != y->rank)
		return x->rank < y->rank ? -1 : 1;
	return strcmp(x->name, y->name);
}

/* The nodes in rank order, their counts node-major in that order (the plan's input). */
static struct ranked *order_nodes(const struct cluster_node_counts *nodes, size_t n_nodes,
				  size_t nb, __u32 *counts, __u64 *rank)
{
	struct ranked *order = calloc(n_nodes ? n_nodes : 1, sizeof(*order));

	if (!order)
		return NULL;
	for (size_t k = 0; k < n_nodes; k++)
		order[k] = (struct ranked){cluster_node_rank(nodes[k].name), k, nodes[k].name};
	qsort(order, n_nodes, sizeof(*order), by_rank);
	for (size_t k = 0; k < n_nodes; k++) {
		memcpy(&counts[k * nb], nodes[order[k].index].counts, nb * sizeof(*counts));
		rank[k] = k; /* the position: equal hashes are ordered by name */
	}
	return order;
}

/* The plan's moves (as many as it has); NULL if out of memory. */
static struct plan_move *plan_moves(const struct plan_input *in, __u32 *target, size_t *n)
{
	size_t cap = in->n_backends + in->n_nodes;
	struct plan_move *moves = NULL;

	for (int tries = 0; tries < 2; tries++) {
		free(moves);
		moves = calloc(cap, sizeof(*moves));
		if (!moves)
			return NULL;
		*n = cluster_plan(in, target, moves, cap);
		if (*n <= cap)
			return moves;
		cap = *n;
	}
	free(moves);
	return NULL;
}

/*
 * With a threshold, moves are made only off backends holding more than it
 * above the ceiling of the fair share (--imbalance-threshold, as per node);
 * without, every move: the plan is exact.
 */
static __u32 tolerated(const struct cluster_projection *out, size_t nb, __u32 threshold)
{
	__u32 ceil = 0;

	for (size_t i = 0; i < nb; i++)
		ceil = out->target[i] > ceil ? out->target[i] : ceil;
	return threshold ? ceil + threshold : 0;
}

static void apply_moves(const struct plan_move *moves, size_t n, size_t self_pos, size_t nb,
			__u32 threshold, struct cluster_projection *out)
{
	__u32 most = tolerated(out, nb, threshold);

	for (size_t i = 0; i < n; i++) {
		const struct plan_move *m = &moves[i];

		if (out->cluster[m->from] <= most)
			continue;
		out->moves += m->n;
		if (m->node == self_pos) {
			out->self_out[m->from] += m->n;
			continue;
		}
		out->extra[m->from] -= m->n;
		out->extra[m->to] += m->n;
	}
}

int cluster_project(const struct cluster_node_counts *nodes, size_t n_nodes, size_t self, size_t nb,
		    __u32 threshold, struct cluster_projection *out)
{
	size_t cells = n_nodes * nb;
	__u32 *counts = calloc(cells ? cells : 1, sizeof(*counts));
	__u64 *rank = calloc(n_nodes ? n_nodes : 1, sizeof(*rank));
	struct ranked *order =
	    counts && rank ? order_nodes(nodes, n_nodes, nb, counts, rank) : NULL;
	struct plan_input in = {n_nodes, nb, counts, rank};
	struct plan_move *moves = NULL;
	size_t n_moves = 0, self_pos = 0;
	int ret = -ENOMEM;

	memset(out->cluster, 0, nb * sizeof(*out->cluster));
	memset(out->extra, 0, nb * sizeof(*out->extra));
	memset(out->self_out, 0, nb * sizeof(*out->self_out));
	memset(out->target, 0, nb * sizeof(*out->target));
	out->moves = 0;
	if (!order || (nb && !(moves = plan_moves(&in, out->target, &n_moves))))
		goto out;
	for (size_t k = 0; k < n_nodes; k++) {
		if (order[k].index == self)
			self_pos = k;
		for (size_t b = 0; b < nb; b++) {
			out->cluster[b] += counts[k * nb + b];
			if (order[k].index != self)
				out->extra[b] += counts[k * nb + b];
		}
	}
	apply_moves(moves, n_moves, self_pos, nb, threshold, out);
	ret = 0;
out:
	free(moves);
	free(order);
	free(rank);
	free(counts);
	return ret;
}
