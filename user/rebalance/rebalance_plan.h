/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * How many connections to end on each backend of a service, so that no
 * backend holds more than its fair share.  Pure arithmetic, kept apart from
 * the maps so that it can be tested alone.
 */
#ifndef SOCKLB_REBALANCE_PLAN_H
#define SOCKLB_REBALANCE_PLAN_H

#include <stddef.h>
#include <linux/types.h>

/*
 * live[i]: connections on backend i.  pending: connections ended recently
 * whose clients have not reconnected yet; they will come back, so they count
 * toward the total.  A backend above ceil(total / n) by more than threshold
 * gets excess[i] = live[i] - ceil(total / n); others get 0.  Ending exactly
 * that much never empties a backend below the fair share, and least-conn
 * sends each reconnect to a backend under it, never back where it was.
 */
void rebalance_excess(const __u64 *live, size_t n, __u64 pending, __u32 threshold, __u64 *excess);

/*
 * The part of excess to end in one tick, so that ends spread over window_ms
 * (reconnects then find the counts they change): at least one.
 */
__u64 rebalance_tick_share(__u64 excess, __u64 tick_ms, __u64 window_ms);

/*
 * Connections ended and not yet back: what was pending, plus those just
 * ended, minus the new connects seen since (floored at 0).
 */
__u64 rebalance_pending(__u64 pending, __u64 ended, __u64 connects);

#endif
