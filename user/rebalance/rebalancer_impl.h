/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Inside the rebalancer: shared by rebalancer.c and rebalancer_time_fair.c. */
#ifndef SOCKLB_REBALANCER_IMPL_H
#define SOCKLB_REBALANCER_IMPL_H

#include "rebalance/rebalancer.h"

struct backend_memory {
	__u64 connects_seen;
	__u64 ended_seen;
	__u64 overloaded_since_ms; /* 0: not overloaded */
};

/* Ends what the maps ask for, in every namespace that holds such connections. */
void rebalancer_act(struct rebalancer *r);
/* A tick now (timer callback; arg: the rebalancer). */
void rebalancer_on_kick(void *arg);

/* rebalancer_time_fair.c */
int rebalancer_start_time_fair(struct rebalancer *r, const struct loader *loader);
/* The rotation's pass, when due. */
void rebalancer_time_fair_tick(struct rebalancer *r);
/* While a named move waits: act again soon. */
void rebalancer_chase(struct rebalancer *r);
/* A rotating service's phase ends before the next tick: a tick right then. */
void rebalancer_arm_phase_end(struct rebalancer *r);

#endif
