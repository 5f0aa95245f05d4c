/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The dns: source at run time: one watch per dns: service, which looks its
 * name up, hands each answer to the policy in dns_refresh.h, publishes what
 * the policy says through service_table_set_backends (only the difference
 * reaches the maps), and asks again when the policy says.
 */
#ifndef SOCKLB_SOURCE_DNS_H
#define SOCKLB_SOURCE_DNS_H

#include <stdbool.h>
#include "model/service_table.h"
#include "sources/dns/dns_refresh.h"
#include "sources/dns/dns_resolver.h"
#include "lib/event_loop.h"

struct dns_source;

/* Called after every answer (for the state file). */
typedef void (*dns_source_changed_cb)(void *arg);

struct dns_source_opts {
	const char *servers_csv; /* --dns-server list, or NULL for resolv.conf */
	struct dns_timing timing;
	dns_source_changed_cb changed;
	void *changed_arg;
};

/* What `socklb status` shows about one dns: service. */
struct dns_watch_status {
	const char *name;
	enum dns_state state;
	double last_refresh; /* wall clock (s) of the last answer (addresses or empty); 0: none */
	const char *last_error;	      /* NULL: none yet */
	double last_error_at;	      /* wall clock (s) */
	unsigned long long refreshes; /* answers (addresses or empty) */
	unsigned long long errors;    /* failed lookups */
};

struct dns_source *dns_source_new(struct event_loop *loop, struct service_table *table,
				  const struct dns_source_opts *opts, char *err, size_t errlen);
/*
 * Starts watching the dns: services of specs that are not watched yet (or
 * whose name or port changed) and stops the watches of the others.  Call
 * after service_table_apply with the same specs.
 */
void dns_source_sync(struct dns_source *s, const struct service_spec_list *specs);
/* False if vip is not a watched dns: service. */
bool dns_source_status(const struct dns_source *s, const struct endpoint *vip,
		       struct dns_watch_status *out);
void dns_source_free(struct dns_source *s);

/*
 * An answer as the backends it publishes: port (network order) on every
 * address, family as the VIP's, sorted, no repeats, at most
 * SOCKLB_MAX_BACKENDS_PER_SERVICE.  out needs room for a->n_addrs; returns
 * how many it holds.
 */
size_t dns_answer_backends(const struct dns_answer *a, __u16 port, __u8 family,
			   struct endpoint *out);

#endif
