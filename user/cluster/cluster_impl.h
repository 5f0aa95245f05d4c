/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The cluster's insides, shared by cluster.c (lifecycle, the view's health,
 * polling), cluster_pass.c (one service's counts, plan and extras) and
 * cluster_state.c (what status shows), and no one else.
 */
#ifndef SOCKLB_CLUSTER_IMPL_H
#define SOCKLB_CLUSTER_IMPL_H

#include "cluster/cluster.h"
#include "cluster/cluster_publisher.h"
#include "cluster/cluster_report.h"
#include "cluster/cluster_view.h"
#include "lib/strmap.h"

/* What the cluster remembers of one backend id. */
struct cluster_backend_memory {
	__u64 ended_seen;    /* socklb_backend_ended, last seen */
	__u64 connects_seen; /* connects, last seen */
	__u32 gone;	     /* ended by socklb, the client not reconnected yet */
	__u32 extra;	     /* what backend_extra holds for it (CLUSTER_EXTRA_UNKNOWN: not ours) */
};

/* backend_extra was written by the time-fair rotation: the next value is written whatever it is. */
#define CLUSTER_EXTRA_UNKNOWN UINT32_MAX

/*
 * A plan that asks this node to move connections is acted on only once it
 * has stood this much longer than a publish interval: a count another node
 * changed is in the API by then.  Until then the plan may be made of a
 * report about to change (clients connecting on every node at once), and
 * moving on it would be moving on what the others are already doing.
 * Except right after backends were only added (a scale-out): every count is
 * as published, and the plan is sure at once.
 */
#define CLUSTER_SETTLE_MARGIN_MS 500

/* What the cluster remembers of one service (by its VIP's text). */
struct cluster_service_memory {
	__u64 pass;	   /* the last pass that saw it */
	__u64 last_end_ms; /* monotonic: when one of its connections was last ended */
	__u32 *ids;	   /* its backend set at the last pass (ids, in set order) */
	size_t n_ids;
	/* monotonic: since when the plan has moved this node's connections; 0: it does not */
	__u64 moving_since_ms;
	bool at_once;	     /* those moves came with a scale-out: no settling */
	bool view_known;     /* the last pass saw the cluster's counts */
	__u64 cluster_conns; /* every node's connections to it then */
	__u32 ranked_before; /* those of the nodes named before this one */
};

struct cluster {
	char node[CLUSTER_NAME_LEN];
	struct cluster_options opts;
	struct cluster_ctx ctx;
	struct k8s_informer *informer; /* every SocklbNode */
	struct cluster_publisher *publisher;
	struct cluster_report report;	    /* this node's */
	struct cluster_backend_memory *mem; /* by backend id */
	__u32 mem_size;
	struct strmap services;	    /* VIP text -> struct cluster_service_memory */
	struct cluster_peers peers; /* this pass's fresh reports (valid within the pass) */
	__u64 pass;
	bool up;	     /* this pass balances cluster-wide */
	bool report_changed; /* this pass changed the report */
	enum cluster_mode mode;
	char reason[320];
	size_t n_fresh; /* at the last look, to notice a peer going stale */
	void (*replan)(void *arg);
	void *replan_arg;
	struct loop_timer poll_timer;
	struct loop_timer view_timer;
	struct loop_timer settle_timer; /* a plan that settles wants another pass then */
	__u64 last_activity;
	bool view_dirty; /* the view changed since the last pass */
};

/* cluster_pass.c: forgets what backend_extra holds for svc (per node again). */
void cluster_forget_extras(struct cluster *c, const struct agent_service *svc);
void cluster_service_memory_free(struct cluster_service_memory *m);
/* cluster.c: another pass in delay_ms (or sooner, if one was asked for sooner). */
void cluster_wake_in(struct cluster *c, __u64 delay_ms);

#endif
