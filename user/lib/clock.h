/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The agent's clocks.  Monotonic time (the clock of bpf_ktime_get_ns) for
 * every deadline and interval; wall-clock time only for what people and
 * other machines read (logs, status, metrics, API objects).
 */
#ifndef SOCKLB_CLOCK_H
#define SOCKLB_CLOCK_H

#include <stdint.h>
#include <time.h>

#define NS_PER_MS 1000000ULL
#define NS_PER_SEC 1000000000ULL

/* CLOCK_MONOTONIC in nanoseconds: comparable with bpf_ktime_get_ns(). */
static inline uint64_t mono_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NS_PER_SEC + (uint64_t)ts.tv_nsec;
}

static inline uint64_t mono_now_ms(void)
{
	return mono_now_ns() / NS_PER_MS;
}

/* Wall-clock seconds since the epoch (CLOCK_REALTIME), with fractions. */
static inline double wall_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The same in whole milliseconds. */
static inline uint64_t wall_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / NS_PER_MS;
}

#endif
