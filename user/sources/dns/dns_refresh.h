/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The dns: source's policy, without any I/O: what an answer means for the
 * published backends, and when to ask again.  Kept apart from c-ares so that
 * it can be tested with a clock the test controls.
 *
 * - Addresses: publish them; ask again when the smallest TTL runs out,
 *   bounded by [min_ms, max_ms].
 * - Error (timeout, SERVFAIL, REFUSED, a truncated or garbled answer): keep
 *   what is published; retry with exponential backoff from max(1 s, min_ms),
 *   doubling up to max_ms.
 * - Empty (NXDOMAIN, or NOERROR without addresses): keep what is published
 *   for empty_grace_ms from the first empty answer (a Deployment being
 *   replaced, a DNS blip that answers NXDOMAIN), then publish no backends
 *   (connects are refused).  Retries back off as for errors, but never
 *   past the end of the grace period.
 * - Before the first answer with addresses nothing is published, unless the
 *   name stays empty for the whole grace period.
 */
#ifndef SOCKLB_DNS_REFRESH_H
#define SOCKLB_DNS_REFRESH_H

#include <stdbool.h>
#include <stdint.h>

enum dns_outcome {
	DNS_OUTCOME_ADDRESSES, /* one address or more */
	DNS_OUTCOME_EMPTY,     /* NXDOMAIN, or NOERROR without addresses (NODATA) */
	DNS_OUTCOME_ERROR,     /* no usable answer: timeout, SERVFAIL, garbage, ... */
};

enum dns_state {
	DNS_STATE_PENDING, /* no answer yet */
	DNS_STATE_OK,	   /* the last answer had addresses */
	DNS_STATE_EMPTY,   /* the last answer said the name has no addresses */
	DNS_STATE_FAILING, /* the last query failed */
};

struct dns_timing {
	uint64_t min_ms;	 /* --dns-min-interval */
	uint64_t max_ms;	 /* --dns-max-interval */
	uint64_t empty_grace_ms; /* --dns-empty-grace */
};

#define DNS_BACKOFF_START_MS 1000

enum dns_action {
	DNS_KEEP,	    /* leave the published backends as they are */
	DNS_PUBLISH_ANSWER, /* publish the answer's addresses */
	DNS_PUBLISH_EMPTY,  /* publish no backends */
};

struct dns_tracker {
	enum dns_state state;
	unsigned retries; /* answers in a row without addresses */
	bool empty;	  /* every answer since empty_since_ms was empty or an error */
	uint64_t empty_since_ms;
};

struct dns_step {
	enum dns_action action;
	uint64_t next_ms;    /* ask again after this long */
	enum dns_state from; /* the state before this answer */
};

/* Delay until the next query after an answer whose smallest TTL is ttl_s. */
uint64_t dns_ttl_delay_ms(const struct dns_timing *t, uint32_t ttl_s);
/* Delay before retry number retries (1 for the first retry). */
uint64_t dns_backoff_ms(const struct dns_timing *t, unsigned retries);
/* Takes one answer (ttl_s counts for addresses only); now_ms is monotonic. */
struct dns_step dns_tracker_step(struct dns_tracker *tr, const struct dns_timing *t,
				 enum dns_outcome outcome, uint32_t ttl_s, uint64_t now_ms);
const char *dns_state_name(enum dns_state state);

#endif
