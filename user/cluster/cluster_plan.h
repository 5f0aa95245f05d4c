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
	/*
	 * A stable order of the nodes every node agrees on (e.g. a hash of the
	 * name), all different; moves go to deficits in the nodes' index order,
	 * so for every node to agree on them, index them in that order too.
	 */
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
 * Splits the n connections to move off one backend over its holders:
 * between them they keep the rest, an equal part each (never more than a
 * holder holds; the remainder to the lower ranks), and each moves what it
 * holds beyond its part (share[] out; ranks must differ).  Put another way:
 * number every holder's connections 0, 1, ...; keep the lowest numbers, the
 * lower rank first among equals.  So a node that has moved some of its share
 * leaves every other node's share as it was: nodes that see each other's
 * progress at different times never move the same excess twice.  (A split in
 * proportion to what each holds cannot do that: once a node has moved x of
 * e from h of H, the others' part of the rest, (e - x) / (H - x), is not
 * their part of e / H.)
 */
void cluster_split(__u32 n, const __u32 *held, const __u64 *rank, size_t count, __u32 *share);

#endif
