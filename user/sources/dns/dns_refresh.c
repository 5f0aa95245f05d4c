// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "sources/dns/dns_refresh.h"

static uint64_t clamp(uint64_t v, uint64_t lo, uint64_t hi)
{
	return v < lo ? lo : v > hi ? hi : v;
}

uint64_t dns_ttl_delay_ms(const struct dns_timing *t, uint32_t ttl_s)
{
	return clamp((uint64_t)ttl_s * 1000, t->min_ms, t->max_ms);
}

uint64_t dns_backoff_ms(const struct dns_timing *t, unsigned retries)
{
	/* Never faster than --dns-min-interval: it is the user's rate limit. */
	uint64_t start = t->min_ms > DNS_BACKOFF_START_MS ? t->min_ms : DNS_BACKOFF_START_MS;
	unsigned shift = retries > 1 ? retries - 1 : 0;

	if (shift > 32) /* start << 32 is far past any sane maximum already */
		shift = 32;
	return clamp(start << shift, 0, t->max_ms);
}

static struct dns_step on_addresses(struct dns_tracker *tr, const struct dns_timing *t,
				    uint32_t ttl_s)
{
	struct dns_step step = {DNS_PUBLISH_ANSWER, dns_ttl_delay_ms(t, ttl_s), tr->state};

	tr->state = DNS_STATE_OK;
	tr->retries = 0;
	tr->empty = false;
	return step;
}

static struct dns_step on_empty(struct dns_tracker *tr, const struct dns_timing *t, uint64_t now_ms)
{
	struct dns_step step = {DNS_KEEP, 0, tr->state};
	uint64_t waited;

	if (!tr->empty) {
		tr->empty = true;
		tr->empty_since_ms = now_ms;
	}
	tr->state = DNS_STATE_EMPTY;
	tr->retries++;
	step.next_ms = dns_backoff_ms(t, tr->retries);
	waited = now_ms - tr->empty_since_ms;
	if (waited >= t->empty_grace_ms)
		step.action = DNS_PUBLISH_EMPTY;
	else if (step.next_ms > t->empty_grace_ms - waited)
		/* Ask again when the grace ends, but not faster than the user allows. */
		step.next_ms = clamp(t->empty_grace_ms - waited, t->min_ms, step.next_ms);
	return step;
}

static struct dns_step on_error(struct dns_tracker *tr, const struct dns_timing *t)
{
	struct dns_step step = {DNS_KEEP, 0, tr->state};

	/* An error says nothing about the name: an empty streak goes on. */
	tr->state = DNS_STATE_FAILING;
	tr->retries++;
	step.next_ms = dns_backoff_ms(t, tr->retries);
	return step;
}

struct dns_step dns_tracker_step(struct dns_tracker *tr, const struct dns_timing *t,
				 enum dns_outcome outcome, uint32_t ttl_s, uint64_t now_ms)
{
	switch (outcome) {
	case DNS_OUTCOME_ADDRESSES:
		return on_addresses(tr, t, ttl_s);
	case DNS_OUTCOME_EMPTY:
		return on_empty(tr, t, now_ms);
	default:
		return on_error(tr, t);
	}
}

const char *dns_state_name(enum dns_state state)
{
	switch (state) {
	case DNS_STATE_PENDING:
		return "pending";
	case DNS_STATE_OK:
		return "ok";
	case DNS_STATE_EMPTY:
		return "empty";
	default:
		return "failing";
	}
}
