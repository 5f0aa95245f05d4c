/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The time-fair rotation, run by the rebalancer: for every service whose
 * connections are fewer than its backends, do not divide evenly over them,
 * or carry different loads, it moves one connection at a time so that over
 * a window every backend serves the same share (time_fair.h has the
 * arithmetic), and steers the reconnect to the backend most behind.
 *
 * Each pass takes this node's balanced connections as the connections
 * iterator reports them (with the kernel's segment counts, the load), keeps
 * a rate per connection across passes, and acts through a small set of
 * operations (the map layer in the agent, a recorder in the tests):
 *   - steer: the service's backends get an extra load (backend_extra, read
 *     by least-conn only for SOCKLB_SERVICE_STEERED services) of how far
 *     each is ahead of the rotation's targets, so the next connect goes to
 *     the one most behind;
 *   - move: one connection (by cookie) is asked to end (move_requests),
 *     ended by the rebalancer's ender as any other move.
 * One move per service is in flight at a time: the next waits until the
 * moved connection has gone (or its request expired).
 */
#ifndef SOCKLB_TIME_FAIR_PASS_H
#define SOCKLB_TIME_FAIR_PASS_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include "socklb.h"

struct service_table;
struct agent_service;

struct time_fair_opts {
	__u64 window_ms;	 /* fair over any window this long; 0: off */
	__u64 min_dwell_ms;	 /* no connection moves sooner after it connected */
	__u64 drain_deadline_ms; /* a move that never looks idle is withdrawn after this */
};

/* What a pass does to the world: map writes in the agent, a recorder in tests. */
struct time_fair_ops {
	int (*steer)(void *arg, struct agent_service *svc, bool on);
	int (*set_extra)(void *arg, __u32 backend_id, __u32 extra);
	int (*move)(void *arg, __u64 cookie, const struct socklb_move_request *req);
	int (*cancel)(void *arg, __u64 cookie);
	void *arg;
};

/* What status and metrics show. */
struct time_fair_stats {
	unsigned long long moves;	  /* connections asked to move, ever */
	unsigned long long moves_expired; /* asked, never idle by the drain deadline: withdrawn */
	unsigned int rotating;		  /* services rotating at the last pass */
	double last_pass_ms;		  /* how long the last pass took */
};

struct time_fair_pass;

/* NULL when out of memory.  max_backends: the highest backend id. */
struct time_fair_pass *time_fair_pass_new(const struct time_fair_opts *opts, __u32 max_backends,
					  const struct time_fair_ops *ops);
void time_fair_pass_free(struct time_fair_pass *p);

/*
 * Whether a pass is due at now_ms (wall_ms on the wall clock): never while
 * off or when the table has no service of two backends; every 100 ms, and
 * at once when a rotating service's phase ends; but never more than 5 % of
 * the time (a pass over many connections waits longer).
 */
bool time_fair_pass_due(const struct time_fair_pass *p, const struct service_table *t, __u64 now_ms,
			__u64 wall_ms);
/* Milliseconds from wall_ms to the next end of a rotating service's phase; 0: none. */
__u64 time_fair_pass_next_phase_in(const struct time_fair_pass *p, __u64 wall_ms);

/* What the rotation may do with a service this pass (the rebalancer says). */
enum time_fair_say {
	TIME_FAIR_PLAN, /* rotate it if it needs it */
	TIME_FAIR_HOLD, /* another move is under way (the count rebalancer's): change nothing */
	TIME_FAIR_SKIP, /* not the rotation's (balanced cluster-wide): unsteered, never moved */
};
/*
 * *offset (0 unless set): how many places on this node's rotation starts,
 * so that nodes rotating the same service do not put their connections on
 * the same backends at the same time (the connections other nodes rank
 * before this one hold).
 */
typedef enum time_fair_say (*time_fair_judge)(void *arg, const struct agent_service *svc,
					      __u32 *offset);

/*
 * One pass over the connections recs[n] (this node's, any service).  now_ms:
 * monotonic (bpf_ktime_get_ns's clock, in ms); wall_ms: the wall clock, on
 * which phases start (so that agents would agree).  judge (NULL: plan
 * every service) says what may be done with each service.  A service whose
 * number of connections changed less than half a second ago is held too:
 * clients still connecting are no state to plan on.
 */
void time_fair_pass_run(struct time_fair_pass *p, struct service_table *t,
			const struct socklb_conn_record *recs, size_t n, __u64 now_ms,
			__u64 wall_ms, time_fair_judge judge, void *judge_arg);
/* Records how long the pass took (for the 5 % budget and status). */
void time_fair_pass_took(struct time_fair_pass *p, double ms);

/* Whether a move asked for is still waiting for the ender. */
bool time_fair_pass_moving(const struct time_fair_pass *p);

void time_fair_pass_stats(const struct time_fair_pass *p, struct time_fair_stats *out);
/* The state file's "time_fair" section (json_object_put it); NULL: out of memory. */
json_object *time_fair_pass_json(const struct time_fair_pass *p);

#endif
