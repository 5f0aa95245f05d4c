// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "rebalance/time_fair.h"

#include <stdlib.h>

__u64 time_fair_phase_ms(__u64 window_ms, size_t n_backends, __u64 min_dwell_ms)
{
	__u64 phase = n_backends ? window_ms / n_backends : window_ms;

	return phase > min_dwell_ms ? phase : min_dwell_ms;
}

static double floor_rate(double rate)
{
	return rate > 1.0 ? rate : 1.0;
}

/* A connection's rate and where it came from, to sort by rate. */
struct ranked {
	double rate;
	size_t i;
};

static int by_rate(const void *a, const void *b)
{
	double x = ((const struct ranked *)a)->rate, y = ((const struct ranked *)b)->rate;

	return x < y ? -1 : x > y;
}

int time_fair_group(const double *rates, size_t n, int *cls)
{
	struct ranked *order = malloc((n ? n : 1) * sizeof(*order));
	double lightest = 0.0;
	int c = -1;

	if (!order) {
		for (size_t i = 0; i < n; i++)
			cls[i] = 0; /* out of memory: one class, still fair by count */
		return n ? 1 : 0;
	}
	for (size_t i = 0; i < n; i++)
		order[i] = (struct ranked){floor_rate(rates[i]), i};
	qsort(order, n, sizeof(*order), by_rate);
	for (size_t k = 0; k < n; k++) {
		double r = order[k].rate;

		if (c < 0 || (r >= 2.0 * lightest && c < TIME_FAIR_CLASSES - 1)) {
			c++;
			lightest = r;
		}
		cls[order[k].i] = c;
	}
	free(order);
	return c + 1;
}

void time_fair_targets(size_t n_backends, __u32 n_conns, __u64 phase, size_t offset, __u32 *target)
{
	__u32 q, r;
	size_t start;

	if (!n_backends)
		return;
	q = (__u32)(n_conns / n_backends);
	r = (__u32)(n_conns % n_backends);
	start = (size_t)((offset + phase) % n_backends);
	for (size_t b = 0; b < n_backends; b++) {
		size_t from_start = (b + n_backends - start) % n_backends;

		target[b] = q + (from_start < r);
	}
}

/* The longest-dwelling connection of cls on backend b that may move, or n. */
static size_t pick(const struct time_fair_conn *conns, size_t n, const bool *taken, int cls,
		   __u32 b, __u64 min_dwell_ms)
{
	size_t best = n;

	for (size_t i = 0; i < n; i++) {
		if (taken[i] || conns[i].cls != cls || conns[i].backend != b ||
		    conns[i].dwell_ms < min_dwell_ms)
			continue;
		if (best == n || conns[i].dwell_ms > conns[best].dwell_ms)
			best = i;
	}
	return best;
}

static void count_class(const struct time_fair_conn *conns, size_t n_conns, int cls,
			size_t n_backends, __u32 *have)
{
	for (size_t b = 0; b < n_backends; b++)
		have[b] = 0;
	for (size_t i = 0; i < n_conns; i++) {
		if (conns[i].cls == cls && conns[i].backend < n_backends)
			have[conns[i].backend]++;
	}
}

/* The moves of one class: surplus backends, in order, to deficit ones. */
static size_t class_moves(const struct time_fair_conn *conns, size_t n_conns, size_t n_backends,
			  int cls, const __u32 *target, __u32 *have, bool *taken,
			  __u64 min_dwell_ms, struct time_fair_move *moves, size_t max)
{
	size_t n = 0, to = 0;

	count_class(conns, n_conns, cls, n_backends, have);
	for (size_t from = 0; from < n_backends && n < max; from++) {
		while (have[from] > target[from] && n < max) {
			size_t c;

			while (to < n_backends && have[to] >= target[to])
				to++;
			if (to == n_backends)
				return n;
			c = pick(conns, n_conns, taken, cls, (__u32)from, min_dwell_ms);
			if (c == n_conns)
				break; /* none may move yet: next tick */
			taken[c] = true;
			moves[n++] = (struct time_fair_move){c, (__u32)to};
			have[from]--;
			have[to]++;
		}
	}
	return n;
}

size_t time_fair_moves(const struct time_fair_conn *conns, size_t n_conns, size_t n_backends,
		       const __u32 *targets, __u64 min_dwell_ms, struct time_fair_move *moves,
		       size_t max)
{
	__u32 *have = calloc(n_backends ? n_backends : 1, sizeof(*have));
	bool *taken = calloc(n_conns ? n_conns : 1, sizeof(*taken));
	size_t n = 0;

	if (have && taken && n_backends) {
		for (int cls = 0; cls < TIME_FAIR_CLASSES && n < max; cls++)
			n += class_moves(conns, n_conns, n_backends, cls,
					 targets + (size_t)cls * n_backends, have, taken,
					 min_dwell_ms, moves + n, max - n);
	}
	free(have);
	free(taken);
	return n;
}

bool time_fair_needed(const struct time_fair_conn *conns, size_t n_conns, size_t n_backends)
{
	if (n_backends < 2 || n_conns == 0)
		return false;
	for (size_t i = 1; i < n_conns; i++) {
		if (conns[i].cls != conns[0].cls)
			return true;
	}
	return n_conns % n_backends != 0;
}
