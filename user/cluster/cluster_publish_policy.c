// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "cluster/cluster_publish_policy.h"

static uint64_t wait_until(uint64_t due_ms, uint64_t now_ms)
{
	return due_ms > now_ms ? due_ms - now_ms : 0;
}

/* 1 s, 2 s, 4 s ... after the failures in a row, within [interval, heartbeat]. */
static uint64_t backoff_ms(const struct publish_policy *p, unsigned failures)
{
	uint64_t ms = PUBLISH_BACKOFF_START_MS;

	for (unsigned i = 1; i < failures && ms < p->heartbeat_ms; i++)
		ms *= 2;
	if (ms > p->heartbeat_ms)
		ms = p->heartbeat_ms;
	return ms > p->interval_ms ? ms : p->interval_ms;
}

uint64_t publish_due_in(const struct publish_policy *p, const struct publish_state *s,
			uint64_t now_ms)
{
	if (s->in_flight)
		return PUBLISH_NOT_DUE;
	if (s->failures)
		return wait_until(s->last_attempt_ms + backoff_ms(p, s->failures), now_ms);
	if (!s->written)
		return 0;
	if (s->changed)
		return wait_until(s->last_write_ms + p->interval_ms, now_ms);
	return wait_until(s->last_write_ms + p->heartbeat_ms, now_ms);
}
