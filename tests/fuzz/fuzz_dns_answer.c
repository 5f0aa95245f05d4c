// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * A DNS answer as the dns: source consumes it: the raw message a lookup
 * gets (the first input byte picks A or AAAA, the rest is the message),
 * read through c-ares' ares_parse_a_reply / ares_parse_aaaa_reply
 * (dns_answer_read), turned into backends (dns_answer_backends) and fed to
 * the refresh policy, exactly the agent's path from the wire to endpoints.
 */
#include "fuzz.h"
#include "sources/dns/dns_resolver.h"
#include "sources/dns/source_dns.h"

#include <arpa/inet.h>
#include <sys/socket.h>

static const struct dns_timing timing = {1000, 30000, 30000};

static void check_backends(const struct dns_answer *a, int family)
{
	struct endpoint *eps = calloc(a->n_addrs, sizeof(*eps));
	size_t n;

	if (!eps)
		abort();
	n = dns_answer_backends(a, htons(8080), (__u8)family, eps);
	FUZZ_ASSERT(n >= 1 && n <= a->n_addrs && n <= SOCKLB_MAX_BACKENDS_PER_SERVICE);
	for (size_t i = 1; i < n; i++)
		FUZZ_ASSERT(endpoint_cmp(&eps[i - 1], &eps[i]) < 0);
	free(eps);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int family = fuzz_take_byte(&data, &size) & 1 ? AF_INET6 : AF_INET;
	int alen = size > 65535 ? 65535 : (int)size; /* a DNS message is at most 64 KiB */
	union socklb_addr *addrs = calloc(dns_answer_max_records(alen), sizeof(*addrs));
	struct dns_tracker tracker = {0};
	struct dns_answer a;
	struct dns_step step;

	if (!addrs)
		abort();
	a = dns_answer_read(family, data, alen, addrs);
	if (a.outcome == DNS_OUTCOME_ADDRESSES) {
		FUZZ_ASSERT(a.n_addrs > 0 && a.n_addrs <= dns_answer_max_records(alen));
		check_backends(&a, family);
	} else {
		FUZZ_ASSERT(a.error != NULL);
	}
	step = dns_tracker_step(&tracker, &timing, a.outcome, a.ttl_s, 5000);
	FUZZ_ASSERT(step.next_ms >= timing.min_ms && step.next_ms <= timing.max_ms);
	free(addrs);
	return 0;
}
