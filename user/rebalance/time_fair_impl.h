/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Inside the time-fair pass: its state, shared by time_fair_pass.c (the pass:
 * per service, steering, moves) and time_fair_memory.c (what it remembers
 * from pass to pass: rates, moves in flight, connection counts).
 */
#ifndef SOCKLB_TIME_FAIR_IMPL_H
#define SOCKLB_TIME_FAIR_IMPL_H

#include "rebalance/time_fair_pass.h"
#include "rebalance/time_fair.h"
#include "model/endpoint.h"

#define TCP_ESTABLISHED 1
#define MIN_PASS_GAP_MS 100
#define PASS_CPU_SHARE 20 /* a pass of T ms waits at least 20 T: 5 % of a core */
#define RATE_PERIOD_MS 2000
#define FIRST_RATE_AGE_MS 1000 /* younger, a connection's rate is not known yet */
#define INHERIT_MS 5000	       /* a reconnect this soon after a move is the moved one */
#define ARRIVAL_WAIT_MS 2000   /* a moved connection not back by then: move on */
#define EXPIRY_GRACE_MS 2000   /* past the drain deadline: the ender gave up */
#define MAX_SERVICES_SHOWN 64

/* A connection's load as the last passes saw it. */
struct conn_memory {
	__u64 cookie;
	__u64 base_load; /* segments either way at base_ms */
	__u64 base_ms;
	double rate; /* segments per second; < 0: not known yet */
};

/* A move asked for and not yet over: one per service at a time. */
struct pending_move {
	__u64 cookie;
	__u64 netns_cookie;
	__u32 service_id;
	double rate; /* the moved connection's: its reconnect's until that has its own */
	__u64 asked_ms;
	__u64 expires_ms;  /* not ended gracefully by then: withdrawn */
	__u64 gone_ms;	   /* 0: the connection is still there */
	bool arrived;	   /* a connection of its namespace came back */
	bool back_counted; /* ... and the count it changed was taken as settled */
};

/* How many connections a service had, since when. */
struct service_count {
	__u32 service_id;
	size_t n;
	__u64 since_ms, seen_ms;
};

struct service_view {
	__u32 service_id;
	struct endpoint vip;
	__u32 conns, backends, classes;
	__u64 phase_ms;
};

struct time_fair_pass {
	struct time_fair_opts opts;
	struct time_fair_ops ops;
	__u32 max_backends;
	__u32 *extra_written; /* per backend id: what backend_extra holds (+1; 0: unknown) */
	struct conn_memory *mem, *next_mem;
	size_t n_mem, n_next, cap_mem, cap_next;
	struct pending_move *pending;
	size_t n_pending, cap_pending;
	struct service_view *views;
	size_t n_views, cap_views;
	struct service_count *counts;
	size_t n_counts, cap_counts;
	/* Scratch space of the passes, grown as needed and kept: no allocation per pass. */
	const struct socklb_conn_record **sorted;
	struct time_fair_conn *conns;
	double *rates;
	int *cls;
	size_t cap_conns;
	__u32 *targets; /* [TIME_FAIR_CLASSES][backends] */
	__u32 *total;	/* [backends] */
	size_t cap_backends;
	struct time_fair_stats stats;
	__u64 last_pass_ms;
	__u64 next_phase_wall_ms; /* the earliest end of a rotating service's phase; 0: none */
};

/* The load of a connection now (time_fair_memory.c), and what the next pass recalls. */
struct conn_memory tf_rate_of(const struct time_fair_pass *p, const struct socklb_conn_record *r,
			      __u64 now_ms);
int tf_remember(struct time_fair_pass *p, const struct conn_memory *m);
/* This pass's memory becomes the next pass's. */
void tf_swap_memory(struct time_fair_pass *p);
/* The rate a moved connection had, if r looks like it coming back; < 0: none. */
double tf_inherited_rate(const struct time_fair_pass *p, const struct socklb_conn_record *r,
			 __u64 now_ms);
/* Follows a service's move in flight; true while it still holds the service. */
bool tf_follow_pending(struct time_fair_pass *p, __u32 service_id,
		       const struct socklb_conn_record *const *conns, size_t n, __u64 now_ms);
void tf_prune_pending(struct time_fair_pass *p, __u64 now_ms);
/* Asks for r to be moved (never forced) and follows it; 0 or -errno. */
int tf_ask_move(struct time_fair_pass *p, const struct socklb_conn_record *r, double rate,
		__u64 now_ms);
/* Whether the service has had n connections long enough to plan on. */
bool tf_settled(struct time_fair_pass *p, __u32 service_id, size_t n, __u64 now_ms);
void tf_prune_counts(struct time_fair_pass *p, __u64 now_ms);

#endif
