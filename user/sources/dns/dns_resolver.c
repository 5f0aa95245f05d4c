// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "sources/dns/dns_resolver.h"
#include "lib/array.h"
#include "model/endpoint.h"
#include "lib/log.h"

#include <ares.h>
#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

/* c-ares's sockets (one or two per server) and their watches. */
struct dns_socket {
	int fd;
	struct loop_watch *watch;
};

struct dns_resolver {
	struct event_loop *loop;
	ares_channel channel;
	struct loop_timer timer; /* c-ares's next timeout */
	struct dns_socket *sockets;
	size_t n_sockets, cap_sockets;
};

struct dns_query {
	int family;
	dns_answer_cb cb;
	void *arg;
	struct dns_query **handle; /* the owner's pointer to us; NULL once cancelled */
};

static void on_fd(void *arg, int fd, uint32_t events);
static void on_timer(void *arg);

/* Keeps one loop timer on c-ares's earliest retransmission or timeout. */
static void arm_timer(struct dns_resolver *r)
{
	struct timeval tv;

	loop_timer_cancel(r->loop, &r->timer);
	if (!ares_timeout(r->channel, NULL, &tv))
		return; /* nothing in flight */
	/* Round up: a 0 ms timer for a 0.4 ms wait would spin. */
	if (loop_timer_arm(r->loop, &r->timer,
			   (uint64_t)tv.tv_sec * 1000 + ((uint64_t)tv.tv_usec + 999) / 1000,
			   on_timer, r))
		log_error("msg=\"cannot arm the DNS timer\"");
}

static void on_timer(void *arg)
{
	struct dns_resolver *r = arg;

	ares_process_fd(r->channel, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
	arm_timer(r);
}

static void on_fd(void *arg, int fd, uint32_t events)
{
	struct dns_resolver *r = arg;
	/* Errors are reported by reading: let c-ares read and see them. */
	ares_socket_t rfd = events & (EPOLLIN | EPOLLERR | EPOLLHUP) ? fd : ARES_SOCKET_BAD;
	ares_socket_t wfd = events & EPOLLOUT ? fd : ARES_SOCKET_BAD;

	ares_process_fd(r->channel, rfd, wfd);
	arm_timer(r);
}

static struct dns_socket *find_socket(struct dns_resolver *r, int fd)
{
	for (size_t i = 0; i < r->n_sockets; i++) {
		if (r->sockets[i].fd == fd)
			return &r->sockets[i];
	}
	return NULL;
}

static int watch_socket(struct dns_resolver *r, int fd, uint32_t events)
{
	struct loop_watch *w;

	if (ARRAY_RESERVE(r->sockets, r->cap_sockets, r->n_sockets))
		return -ENOMEM;
	w = loop_watch(r->loop, fd, events, on_fd, r);
	if (!w)
		return -errno;
	r->sockets[r->n_sockets++] = (struct dns_socket){fd, w};
	return 0;
}

/* c-ares opens, changes and closes its sockets through here. */
static void on_sock_state(void *data, ares_socket_t fd, int readable, int writable)
{
	struct dns_resolver *r = data;
	uint32_t events = (readable ? EPOLLIN : 0) | (writable ? EPOLLOUT : 0);
	struct dns_socket *sock = find_socket(r, fd);

	if (!events) {
		if (sock) {
			loop_unwatch(r->loop, sock->watch);
			*sock = r->sockets[--r->n_sockets];
		}
		return;
	}
	if (sock ? loop_watch_events(r->loop, sock->watch, events) : watch_socket(r, fd, events))
		log_error("msg=\"cannot watch a DNS socket\" fd=%d", fd);
}

static int init_channel(struct dns_resolver *r, const char *servers_csv, char *err, size_t errlen)
{
	struct ares_options opts = {
	    .sock_state_cb = on_sock_state,
	    .sock_state_cb_data = r,
	    .timeout = DNS_QUERY_TIMEOUT_MS,
	    .tries = DNS_QUERY_TRIES,
	};
	int optmask = ARES_OPT_SOCK_STATE_CB | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES;
	int rc;

	/* Everything else (servers, search list, ndots) comes from resolv.conf. */
	rc = ares_init_options(&r->channel, &opts, optmask);
	if (rc != ARES_SUCCESS) {
		snprintf(err, errlen, "cannot set up the DNS resolver: %s", ares_strerror(rc));
		return -EINVAL;
	}
	if (servers_csv) {
		rc = ares_set_servers_ports_csv(r->channel, servers_csv);
		if (rc != ARES_SUCCESS) {
			snprintf(err, errlen, "--dns-server '%s': %s", servers_csv,
				 ares_strerror(rc));
			ares_destroy(r->channel);
			return -EINVAL;
		}
	}
	return 0;
}

struct dns_resolver *dns_resolver_new(struct event_loop *loop, const char *servers_csv, char *err,
				      size_t errlen)
{
	struct dns_resolver *r = calloc(1, sizeof(*r));
	int rc = ares_library_init(ARES_LIB_INIT_ALL);

	if (rc != ARES_SUCCESS || !r) {
		snprintf(err, errlen, "cannot set up the DNS resolver: %s",
			 r ? ares_strerror(rc) : "out of memory");
		free(r);
		return NULL;
	}
	r->loop = loop;
	if (init_channel(r, servers_csv, err, errlen)) {
		free(r);
		ares_library_cleanup();
		return NULL;
	}
	return r;
}

void dns_resolver_free(struct dns_resolver *r)
{
	if (!r)
		return;
	/* Calls every pending callback with ARES_EDESTRUCTION: they free themselves. */
	ares_destroy(r->channel);
	loop_timer_cancel(r->loop, &r->timer);
	for (size_t i = 0; i < r->n_sockets; i++)
		loop_unwatch(r->loop, r->sockets[i].watch);
	free(r->sockets);
	free(r);
	ares_library_cleanup();
}

static const char *status_reason(int status)
{
	switch (status) {
	case ARES_ENOTFOUND:
		return "nxdomain";
	case ARES_ENODATA:
		return "nodata";
	case ARES_ETIMEOUT:
		return "timeout";
	case ARES_ESERVFAIL:
		return "servfail";
	case ARES_EREFUSED:
		return "refused";
	case ARES_ENOTIMP:
		return "notimp";
	case ARES_EFORMERR:
	case ARES_EBADRESP:
		return "bad-response";
	case ARES_ECONNREFUSED:
		/*
		 * What c-ares 1.18 reports once every server has been tried and none
		 * gave a usable answer: SERVFAIL and REFUSED (it moves on to the
		 * next server on those) as well as an unreachable server.
		 */
		return "server-failed";
	case ARES_ENOMEM:
		return "out-of-memory";
	default:
		return ares_strerror(status);
	}
}

static struct dns_answer failed_answer(int status)
{
	struct dns_answer a = {.outcome = DNS_OUTCOME_ERROR, .error = status_reason(status)};

	if (status == ARES_ENOTFOUND || status == ARES_ENODATA)
		a.outcome = DNS_OUTCOME_EMPTY;
	return a;
}

/* Each A record takes at least 16 bytes of the message, an AAAA record 28. */
size_t dns_answer_max_records(int alen)
{
	return (size_t)alen / 16 + 1;
}

static uint32_t ttl_of(int ttl)
{
	return ttl > 0 ? (uint32_t)ttl : 0;
}

/* Fills addrs (room for dns_answer_max_records(alen)) and *n from an A answer. */
static int parse_a(const unsigned char *abuf, int alen, union socklb_addr *addrs, size_t *n,
		   uint32_t *ttl)
{
	int count = (int)dns_answer_max_records(alen);
	struct ares_addrttl *rec = calloc((size_t)count, sizeof(*rec));
	int rc;

	if (!rec)
		return ARES_ENOMEM;
	rc = ares_parse_a_reply(abuf, alen, NULL, rec, &count);
	for (int i = 0; rc == ARES_SUCCESS && i < count; i++) {
		addrs[i].ip4 = rec[i].ipaddr.s_addr;
		if (i == 0 || ttl_of(rec[i].ttl) < *ttl)
			*ttl = ttl_of(rec[i].ttl);
	}
	*n = rc == ARES_SUCCESS ? (size_t)count : 0;
	free(rec);
	return rc;
}

static int parse_aaaa(const unsigned char *abuf, int alen, union socklb_addr *addrs, size_t *n,
		      uint32_t *ttl)
{
	int count = (int)dns_answer_max_records(alen);
	struct ares_addr6ttl *rec = calloc((size_t)count, sizeof(*rec));
	int rc;

	if (!rec)
		return ARES_ENOMEM;
	rc = ares_parse_aaaa_reply(abuf, alen, NULL, rec, &count);
	for (int i = 0; rc == ARES_SUCCESS && i < count; i++) {
		memcpy(addrs[i].bytes, &rec[i].ip6addr, sizeof(addrs[i].bytes));
		if (i == 0 || ttl_of(rec[i].ttl) < *ttl)
			*ttl = ttl_of(rec[i].ttl);
	}
	*n = rc == ARES_SUCCESS ? (size_t)count : 0;
	free(rec);
	return rc;
}

struct dns_answer dns_answer_read(int family, const unsigned char *abuf, int alen,
				  union socklb_addr *addrs)
{
	struct dns_answer a = {.outcome = DNS_OUTCOME_ADDRESSES, .addrs = addrs};
	int rc = family == AF_INET ? parse_a(abuf, alen, addrs, &a.n_addrs, &a.ttl_s)
				   : parse_aaaa(abuf, alen, addrs, &a.n_addrs, &a.ttl_s);

	/* ENODATA here: no record of our type in it (a CNAME alone, say). */
	if (rc == ARES_SUCCESS && a.n_addrs == 0)
		rc = ARES_ENODATA;
	return rc == ARES_SUCCESS ? a : failed_answer(rc);
}

static void deliver(struct dns_query *q, int status, const unsigned char *abuf, int alen)
{
	union socklb_addr *addrs = NULL;
	struct dns_answer a;

	if (status == ARES_SUCCESS)
		addrs = calloc(dns_answer_max_records(alen), sizeof(*addrs));
	if (status == ARES_SUCCESS && !addrs)
		status = ARES_ENOMEM;
	a = status == ARES_SUCCESS ? dns_answer_read(q->family, abuf, alen, addrs)
				   : failed_answer(status);
	q->cb(q->arg, &a);
	free(addrs);
}

static void on_answer(void *arg, int status, int timeouts, unsigned char *abuf, int alen)
{
	struct dns_query *q = arg;

	(void)timeouts;
	if (q->handle) {
		*q->handle = NULL; /* finished: nothing left to cancel */
		if (status != ARES_EDESTRUCTION && status != ARES_ECANCELLED)
			deliver(q, status, abuf, alen);
	}
	free(q);
}

int dns_resolver_lookup(struct dns_resolver *r, const char *name, int family, dns_answer_cb cb,
			void *arg, struct dns_query **handle)
{
	struct dns_query *q = calloc(1, sizeof(*q));

	if (!q)
		return -ENOMEM;
	q->family = family;
	q->cb = cb;
	q->arg = arg;
	q->handle = handle;
	*handle = q;
	/* ares_search, not ares_query: the search list and ndots apply, as in a pod. */
	ares_search(r->channel, name, ns_c_in, family == AF_INET ? ns_t_a : ns_t_aaaa, on_answer,
		    q);
	arm_timer(r);
	return 0;
}

void dns_query_cancel(struct dns_query **handle)
{
	if (!*handle)
		return;
	/* c-ares cannot drop one query: let it finish, and forget its answer. */
	(*handle)->handle = NULL;
	*handle = NULL;
}

static int format_server(const char *text, char *out, size_t outlen)
{
	struct endpoint ep;
	struct in6_addr a6;
	struct in_addr a4;
	char err[256], bare[INET6_ADDRSTRLEN + 2];
	size_t len = strlen(text);

	if (endpoint_parse(text, &ep, err, sizeof(err)) == 0) {
		endpoint_str(&ep, out, outlen);
		return 0;
	}
	if (inet_pton(AF_INET, text, &a4) == 1) {
		snprintf(out, outlen, "%s:53", text);
		return 0;
	}
	if (len >= 2 && len < sizeof(bare) && text[0] == '[' && text[len - 1] == ']') {
		memcpy(bare, text + 1, len - 2);
		bare[len - 2] = '\0';
		text = bare;
	}
	if (inet_pton(AF_INET6, text, &a6) == 1) {
		snprintf(out, outlen, "[%s]:53", text);
		return 0;
	}
	return -EINVAL;
}

int dns_server_list_add(char **csv, const char *text, char *err, size_t errlen)
{
	char server[ENDPOINT_STR_LEN + 8];
	size_t old = *csv ? strlen(*csv) : 0;
	char *grown;

	if (format_server(text, server, sizeof(server))) {
		snprintf(err, errlen,
			 "--dns-server '%.64s': expected IP, IP:PORT, [IPV6] or "
			 "[IPV6]:PORT",
			 text);
		return -EINVAL;
	}
	grown = realloc(*csv, old + strlen(server) + 2);
	if (!grown) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	snprintf(grown + old, strlen(server) + 2, "%s%s", old ? "," : "", server);
	*csv = grown;
	return 0;
}
