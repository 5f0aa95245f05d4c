/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Time-fair placement: where each connection of a service should be, phase
 * by phase, so that over any window of W every backend serves the same
 * share of the load, even with fewer connections than backends or with
 * connections of different loads.  Pure arithmetic.
 *
 * Connections are grouped in classes of similar load (rates within a
 * factor of two).  A class of c connections over n backends keeps
 * q = c / n on every backend and rotates the other r = c % n: they sit on r
 * consecutive backends, and each phase (W / n long) the run moves on by
 * one, which takes one move.  Every backend is in the run for r phases of
 * every n, so any window of n phases gives each backend q + r / n of the
 * class exactly, whatever the classes' loads.  A class that divides evenly
 * never moves; a service whose connections are all of one class and divide
 * evenly is left to least connections.
 */
#ifndef SOCKLB_TIME_FAIR_H
#define SOCKLB_TIME_FAIR_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>

/* Classes are rate buckets a factor of two apart; class 0 holds rates below 1. */
#define TIME_FAIR_CLASSES 24

/*
 * How long one phase lasts: W / n, but never shorter than min_dwell (then
 * the rotation takes n * min_dwell, longer than W, and is fair over that).
 */
__u64 time_fair_phase_ms(__u64 window_ms, size_t n_backends, __u64 min_dwell_ms);

/*
 * The class of a connection of the given rate (load per second).  prev: its
 * class so far, or -1: a connection keeps its class until its rate leaves
 * it by more than a quarter of a bucket, so a rate at a boundary does not
 * flip between two classes and move connections for nothing.
 */
int time_fair_class(double rate, int prev);

/*
 * target[n_backends]: how many connections of a class of n_conns belong on
 * each backend at this phase.  offset: where the class's run starts at
 * phase 0 (spread classes and nodes apart with it).
 */
void time_fair_targets(size_t n_backends, __u32 n_conns, __u64 phase, size_t offset, __u32 *target);

/* One connection the policy may move, and where it is now. */
struct time_fair_conn {
	__u32 backend; /* index into the service's backends */
	int cls;
	__u64 dwell_ms; /* how long it has been on its backend */
};

struct time_fair_move {
	size_t conn; /* index into the connections given */
	__u32 to;    /* backend index */
};

/*
 * The moves that bring every class to its targets (targets[cls * n_backends
 * + b]), each from a backend above its target to one below it, choosing
 * there the connection that has dwelt longest and at least min_dwell_ms.
 * Up to max moves in moves[]; returns how many.
 */
size_t time_fair_moves(const struct time_fair_conn *conns, size_t n_conns, size_t n_backends,
		       const __u32 *targets, __u64 min_dwell_ms, struct time_fair_move *moves,
		       size_t max);

/*
 * Whether a service needs the policy at all: false when every connection
 * is of one class and their number divides evenly over the backends (least
 * connections already gives each backend the same load).
 */
bool time_fair_needed(const struct time_fair_conn *conns, size_t n_conns, size_t n_backends);

#endif
