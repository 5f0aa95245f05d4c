/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * When this node writes its SocklbNode object: only when its counts
 * changed, at most once per publish interval (a burst of changes shares one
 * write), and at least once per heartbeat interval even if nothing changed,
 * so the others know it is alive.  After a failed write, the next one waits
 * 1 s, 2 s, 4 s ... (never longer than a heartbeat interval, never shorter
 * than a publish interval).  The API cost per node is then 1 / heartbeat
 * writes a second while nothing changes, and at most 1 / publish interval
 * while connections move.  Pure: the publisher keeps the state and the clock.
 */
#ifndef SOCKLB_CLUSTER_PUBLISH_POLICY_H
#define SOCKLB_CLUSTER_PUBLISH_POLICY_H

#include <stdbool.h>
#include <stdint.h>

#define PUBLISH_BACKOFF_START_MS 1000ULL

struct publish_policy {
	uint64_t interval_ms;  /* --publish-interval */
	uint64_t heartbeat_ms; /* --heartbeat-interval */
};

struct publish_state {
	bool written;		  /* a write succeeded once */
	bool changed;		  /* the report differs from the last one written */
	bool in_flight;		  /* a write (or its re-read after a conflict) is under way */
	unsigned failures;	  /* failed writes in a row */
	uint64_t last_write_ms;	  /* monotonic: the last write that succeeded */
	uint64_t last_attempt_ms; /* monotonic: when the last failed one ended */
};

#define PUBLISH_NOT_DUE UINT64_MAX

/* Milliseconds from now_ms until the next write is due: 0 now, PUBLISH_NOT_DUE while one is under
 * way. */
uint64_t publish_due_in(const struct publish_policy *p, const struct publish_state *s,
			uint64_t now_ms);

#endif
