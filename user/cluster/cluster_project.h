/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * One service seen cluster-wide, from this node: every node's connections
 * per backend in, the cluster plan (cluster_plan.h) over them, and out what
 * this node does with it:
 *
 * - extra[b]: what the other nodes hold on backend b once they have made
 *   their planned moves (their counts, plus the moves the plan sends them
 *   into b, minus those it takes them out of b).  Least-conn adds it to this
 *   node's own exact counts, so a connection this node ends per the plan
 *   reconnects onto its planned backend, and a new one goes to a deficit;
 * - self_out[b]: the connections this node is to move off b.
 *
 * Every node computes the same plan from the same counts: nodes are put in
 * one order (by a hash of their names) whoever computes.  Pure arithmetic.
 */
#ifndef SOCKLB_CLUSTER_PROJECT_H
#define SOCKLB_CLUSTER_PROJECT_H

#include <stddef.h>
#include <linux/types.h>

struct cluster_node_counts {
	const char *name;
	const __u32 *counts; /* [n_backends], backends in the same (sorted) order on every node */
};

struct cluster_projection {
	/* each [n_backends], the caller's */
	__u32 *cluster;	 /* every node's connections on b now */
	__u32 *target;	 /* where the plan puts b: floor or ceil of the fair share */
	__u32 *extra;	 /* the other nodes' projected connections on b */
	__u32 *self_out; /* this node's connections to move off b */
	size_t moves;	 /* connections the plan moves, every node's */
};

/* The rank every node gives a node name (FNV-1a, 64 bits). */
__u64 cluster_node_rank(const char *name);

/*
 * Plans nodes[0..n_nodes) (names all different; nodes[self] is this node)
 * over n_backends.  A backend is left alone unless it holds more than
 * threshold above the ceiling of the fair share.  0 or -ENOMEM.
 */
int cluster_project(const struct cluster_node_counts *nodes, size_t n_nodes, size_t self,
		    size_t n_backends, __u32 threshold, struct cluster_projection *out);

#endif
