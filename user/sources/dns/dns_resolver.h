/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Non-blocking DNS lookups inside the agent's event loop, with c-ares: one
 * channel for every dns: service, its sockets watched by the loop and its
 * retransmissions driven by a loop timer.  Names are looked up as a pod's
 * resolver would: /etc/resolv.conf's servers, search list and ndots, unless
 * --dns-server overrides the servers.
 */
#ifndef SOCKLB_DNS_RESOLVER_H
#define SOCKLB_DNS_RESOLVER_H

#include <stddef.h>
#include <stdint.h>
#include "sources/dns/dns_refresh.h"
#include "lib/event_loop.h"
#include "socklb.h"

/* Per-try timeout and tries: a dead server is noticed in about 6 s. */
#define DNS_QUERY_TIMEOUT_MS 2000
#define DNS_QUERY_TRIES 2

struct dns_answer {
	enum dns_outcome outcome;
	const char *error;		/* EMPTY/ERROR: short reason ("timeout", "nxdomain", ...) */
	const union socklb_addr *addrs; /* ADDRESSES: as received, maybe repeated */
	size_t n_addrs;
	uint32_t ttl_s; /* ADDRESSES: the smallest TTL among them */
};

/*
 * A raw answer that c-ares accepted (status ARES_SUCCESS) read as addresses
 * of family (A for AF_INET, AAAA for AF_INET6), the way every lookup's answer
 * is: addrs needs room for dns_answer_max_records(alen).  Public for the
 * fuzzer, which feeds it hostile answers.
 */
size_t dns_answer_max_records(int alen);
struct dns_answer dns_answer_read(int family, const unsigned char *abuf, int alen,
				  union socklb_addr *addrs);

typedef void (*dns_answer_cb)(void *arg, const struct dns_answer *answer);

struct dns_resolver;
struct dns_query;

/* servers_csv: "IP:PORT,[IP6]:PORT" to override resolv.conf, or NULL. */
struct dns_resolver *dns_resolver_new(struct event_loop *loop, const char *servers_csv, char *err,
				      size_t errlen);
/* Cancels every lookup in flight (their callbacks are not called). */
void dns_resolver_free(struct dns_resolver *r);

/*
 * Looks name up (A for AF_INET, AAAA for AF_INET6) and calls cb once with
 * the answer, possibly before returning.  *handle holds the lookup while it
 * runs and is set to NULL just before cb is called, so that the owner can
 * cancel it with dns_query_cancel.  Returns -1 if it could not start.
 */
int dns_resolver_lookup(struct dns_resolver *r, const char *name, int family, dns_answer_cb cb,
			void *arg, struct dns_query **handle);
/* The lookup's callback will not be called; sets *handle to NULL. */
void dns_query_cancel(struct dns_query **handle);

/*
 * Appends one --dns-server value ("IP", "IP:PORT", "[IP6]" or "[IP6]:PORT";
 * port 53 when none) to the c-ares server list *csv (malloc'd, grown).
 */
int dns_server_list_add(char **csv, const char *text, char *err, size_t errlen);

#endif
