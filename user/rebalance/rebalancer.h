/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Moves balanced connections: ends those on removed backends at once, the
 * excess on overloaded backends idle-first, (optionally) those older than a
 * max age, and those the time-fair rotation names (time_fair_pass.h).  The agent decides how many
 * per backend (end_budgets map); the iter/tcp program in rebalance.bpf.c picks idle ones and ends
 * them, run inside every network namespace that holds such connections.
 */
#ifndef SOCKLB_REBALANCER_H
#define SOCKLB_REBALANCER_H

#include <stdbool.h>
#include "lib/event_loop.h"
#include "model/service_table.h"
#include "datapath/conn_walk.h"
#include "datapath/goaway_injector.h"
#include "datapath/netns_iter.h"
#include "rebalance/time_fair_pass.h"

struct loader;
struct cluster;

struct rebalancer_opts {
	bool enabled;
	bool graceful;		   /* GOAWAY for followed h2c connections (--graceful) */
	__u64 interval_ms;	   /* how often budgets are planned and spent */
	__u64 window_ms;	   /* an imbalance is worked off over about this long */
	__u64 quiet_ms;		   /* no data either way for this long: idle */
	__u64 drain_deadline_ms;   /* then end it even if busy */
	__u64 removal_grace_ms;	   /* a removed backend's busy connections: this long */
	__u64 max_age_ms;	   /* 0: off */
	__u64 pending_ttl_ms;	   /* forget ended connections not back by then */
	__u32 threshold;	   /* connections above the fair share tolerated */
	__u64 time_fair_window_ms; /* rotate to be fair over this long; 0: off */
	__u64 min_dwell_ms;	   /* no connection is rotated sooner after connecting */
	__u32 max_backends;	   /* set by rebalancer_start from the maps' size */
};

/* GOAWAYs injected per act at most; the rest are asked for again next tick. */
#define REBALANCER_MAX_INJECTS 4096

struct backend_memory; /* per backend id: counters seen last tick, deadlines */

struct rebalancer {
	struct rebalancer_opts opts;
	struct rebalance_bpf *skel;
	struct bpf_link *iter_link; /* socklb_end_connections, run in each namespace */
	struct bpf_link *find_link; /* socklb_find_work, over every balanced connection */
	struct netns_runner netns;
	const struct lb_maps *maps;
	struct service_table *table;
	struct event_loop *loop;
	struct backend_memory *mem; /* max_backends + 1 entries */
	__u64 *pending;		    /* per service id: ended, not yet reconnected */
	__u64 *pending_since_ms;
	__u32 *budget_ids; /* ids given a budget last tick */
	size_t n_budget_ids;
	__u32 max_services;
	struct loop_timer tick_timer;
	struct loop_timer kick_timer;
	struct loop_timer chase_timer;	       /* a named move waits: look for its idle moment */
	double act_ms;			       /* how long the last act() took */
	const volatile __u64 *activity;	       /* the data path's event count */
	struct socklb_backend_stats *snapshot; /* this tick's counters, by backend id */
	__u32 *snapshot_keys;
	__u32 *plan_ids; /* this tick's budgets, before they replace budget_ids */
	__u32 n_snapshot;
	size_t visit_start; /* rotates the order namespaces are visited in */
	__u64 last_activity;
	bool dirty;		 /* the service table changed since the last plan */
	bool work_left;		 /* the last act found connections to end or GOAWAYs to watch */
	struct cluster *cluster; /* k8s: services balanced cluster-wide; NULL: none */
	struct time_fair_pass *time_fair; /* NULL: off */
	struct conn_walk conns;		  /* the data path's connections */
	struct goaway_injector injector;  /* fd -1: none (no --graceful, or no loopback) */
	__u64 *injects;			  /* this act's GOAWAYs to inject, by cookie */
	size_t n_injects;
	bool goaways_waiting; /* the last act left GOAWAYs waiting for a moment at rest */
	__u64 pruned_ms;      /* netns_conns last checked for gone namespaces */
	struct socklb_conn_record *recs; /* the last time-fair pass's connections */
	size_t n_recs, cap_recs;
	/* Called when what status shows of the rotation changed (the agent writes its state). */
	void (*status_changed)(void *arg);
	void *status_arg;
	struct time_fair_stats
	    shown; /* the rotation's counts when status_changed was last called */
	unsigned long long netns_denied; /* namespaces not entered: permission denied */
};

/*
 * Loads the iterator on the loader's maps and starts the tick.  Returns 0,
 * or -errno with err set (the agent then runs without rebalancing).
 */
int rebalancer_start(struct rebalancer *r, const struct rebalancer_opts *opts,
		     const struct loader *loader, struct service_table *table,
		     struct event_loop *loop, char *err, size_t errlen);
/* Plans and acts now rather than at the next tick (after a backend change). */
void rebalancer_kick(struct rebalancer *r);
/*
 * Plans the services of k8s: sources on cluster-wide counts from now on
 * (cluster_service_pass: this node ends its own part of each excess only);
 * NULL: per node again.  The rebalancer's tick drives the cluster's passes.
 */
void rebalancer_set_cluster(struct rebalancer *r, struct cluster *c);
void rebalancer_stop(struct rebalancer *r);

#endif
