/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The other nodes as this node sees them: the SocklbNode objects of the
 * informer's cache (one list+watch of every node's object), and which of
 * them still count.  A report older than CLUSTER_STALE_HEARTBEATS of its
 * node's heartbeat intervals is of a node that stopped reporting (gone,
 * partitioned, its agent stopped): it counts as absent, so its connections
 * are not planned with.
 */
#ifndef SOCKLB_CLUSTER_VIEW_H
#define SOCKLB_CLUSTER_VIEW_H

#include <stdbool.h>
#include "cluster/cluster_report.h"
#include "sources/k8s/k8s_cache.h"

#define CLUSTER_STALE_HEARTBEATS 3

/* SocklbNode objects, kept in the cache as struct cluster_report. */
extern const struct k8s_resource cluster_nodes_resource;

/*
 * Whether r still counts at wall time now: its heartbeat is younger than
 * CLUSTER_STALE_HEARTBEATS of its own heartbeat interval (default_ms when it
 * says none).  A heartbeat from the future (clock skew) counts.
 */
bool cluster_report_fresh(const struct cluster_report *r, double now,
			  unsigned long long default_ms);

struct cluster_peers {
	const struct cluster_report **fresh;
	size_t n_fresh, cap;
	size_t n_stale;
};

/*
 * The reports of cache that count now, every one but self's, into p (its
 * earlier contents replaced); the others are counted in n_stale.  0 or -ENOMEM.
 */
int cluster_peers_collect(struct cluster_peers *p, const struct k8s_cache *cache, const char *self,
			  double now, unsigned long long default_ms);
void cluster_peers_free(struct cluster_peers *p);

#endif
