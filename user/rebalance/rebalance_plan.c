// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "rebalance/rebalance_plan.h"

void rebalance_excess(const __u64 *live, size_t n, __u64 pending, __u32 threshold, __u64 *excess)
{
	__u64 total = pending, fair;

	for (size_t i = 0; i < n; i++)
		total += live[i];
	fair = n ? (total + n - 1) / n : 0;
	for (size_t i = 0; i < n; i++)
		excess[i] = live[i] > fair + threshold ? live[i] - fair : 0;
}

__u64 rebalance_tick_share(__u64 excess, __u64 tick_ms, __u64 window_ms)
{
	__u64 share;

	if (excess == 0)
		return 0;
	if (window_ms <= tick_ms)
		return excess;
	share = (excess * tick_ms + window_ms - 1) / window_ms;
	return share ? share : 1;
}

__u64 rebalance_pending(__u64 pending, __u64 ended, __u64 connects)
{
	__u64 due = pending + ended;

	return due > connects ? due - connects : 0;
}
