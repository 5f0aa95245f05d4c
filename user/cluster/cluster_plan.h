/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The cluster-wide plan for one service: from every node's connections per
 * backend, where the cluster should stand (every backend at floor or ceil of
 * the fair share) and which node moves how many connections from which
 * backend to which.  Pure arithmetic.  Every node computes it from the same
 * published counts, so each does its own part, and no two nodes move the
 * same excess: no over-correction, and nothing left undone.
 */
#ifndef SOCKLB_CLUSTER_PLAN_H
#define SOCKLB_CLUSTER_PLAN_H

#include <stddef.h>
#include <linux/types.h>

struct plan_input {
	size_t n_nodes;
	size_t n_backends;
	/* counts[node * n_backends + backend]: connections of node on backend */
	const __u32 *counts;
	/* A stable order of the nodes every node agrees on (e.g. a hash of the name). */
	const __u64 *node_rank;
};

/* Connections a node moves from one backend to another. */
struct plan_move {
	__u32 node;
	__u32 from;
	__u32 to;
	__u32 n;
};

/*
 * The target of every backend (target[n_backends]) and every move, in a
 * fixed order (moves[] up to max; returns how many there are, which may be
 * more than max).  Backends that keep the extra connection of an uneven
 * total are those that hold the most now, so that as few move as possible.
 */
size_t cluster_plan(const struct plan_input *in, __u32 *target, struct plan_move *moves,
		    size_t max);

/*
 * Splits n units over holders in proportion to held[] (largest remainder;
 * ties to the lower rank), never more than a holder holds.  share[] out.
 */
void cluster_split(__u32 n, const __u32 *held, const __u64 *rank, size_t count, __u32 *share);

#endif
