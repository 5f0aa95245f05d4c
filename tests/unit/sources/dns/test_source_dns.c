// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The dns: source: "dns:NAME:PORT" texts (source_dns_spec.c), the refresh
 * policy and its failure states (dns_refresh.h), --dns-server values, c-ares
 * in the event loop against a DNS server played by the test itself
 * (dns_resolver.h), and dns: services in the service table.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "model/service_table.h"
#include "sources/dns/dns_refresh.h"
#include "sources/dns/dns_resolver.h"
#include "lib/event_loop.h"
#include "helpers.h"
#include "lib/log.h"
#include "sources/source.h"
#include "suites.h"

#define NAME "sample-service-grpc.default.svc.cluster.local"

/* ------------------------------------------------------------ spec texts */

START_TEST(test_parse_dns)
{
	struct service_spec s;
	char buf[ENDPOINT_STR_LEN];

	spec("10.96.0.10:8080=dns:" NAME ":8080", &s);
	ck_assert_int_eq(s.kind, SOURCE_DNS);
	ck_assert_str_eq(s.source, "dns:" NAME ":8080");
	ck_assert_str_eq(s.dns_name, NAME);
	ck_assert_uint_eq(ntohs(s.dns_port), 8080);
	ck_assert_str_eq(endpoint_str(&s.vip, buf, sizeof(buf)), "10.96.0.10:8080");
	/* Backends come from the resolver, never from the text. */
	ck_assert_uint_eq(s.n_backends, 0);
	ck_assert_ptr_null(s.backends);
	service_spec_free(&s);
	ck_assert_ptr_null(s.dns_name);
}
END_TEST

START_TEST(test_parse_dns_forms)
{
	static const struct {
		const char *text, *name;
		unsigned port;
	} ok[] = {
	    {"[fd00:96::10]:8080=dns:web.default:9090", "web.default", 9090},
	    {"10.96.0.10:80=dns:web:1", "web", 1},
	    {"10.96.0.10:80=dns:Web-1.Example.COM.:65535", "Web-1.Example.COM.", 65535},
	    {"10.96.0.10:80=dns:1password.example:80", "1password.example", 80},
	};

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		struct service_spec s;

		spec(ok[i].text, &s);
		ck_assert_int_eq(s.kind, SOURCE_DNS);
		ck_assert_str_eq(s.dns_name, ok[i].name);
		ck_assert_uint_eq(ntohs(s.dns_port), ok[i].port);
		service_spec_free(&s);
	}
}
END_TEST

static char long_label[80], long_name[300], max_name[300];

static void make_long_names(void)
{
	/* 64 'a's: one too many for a label. */
	memset(long_label, 0, sizeof(long_label));
	memset(long_label, 'a', 64);
	/* 63 + 1 + 63 + 1 + 63 + 1 + 61 = 253: the longest name. */
	snprintf(max_name, sizeof(max_name), "%.63s.%.63s.%.63s.%.61s", long_label, long_label,
		 long_label, long_label);
	snprintf(long_name, sizeof(long_name), "%.63s.%.63s.%.63s.%.62s", long_label, long_label,
		 long_label, long_label);
}

START_TEST(test_name_lengths)
{
	char err[256] = "";
	char fqdn[300];

	make_long_names();
	ck_assert_uint_eq(strlen(max_name), 253);
	ck_assert_int_eq(dns_name_check(max_name, strlen(max_name), err, sizeof(err)), 0);
	snprintf(fqdn, sizeof(fqdn), "%s.", max_name);
	ck_assert_int_eq(dns_name_check(fqdn, strlen(fqdn), err, sizeof(err)), 0);
	ck_assert_int_eq(dns_name_check(long_name, strlen(long_name), err, sizeof(err)), -EINVAL);
	ck_assert_str_contains(err, "254 characters long; at most 253");
	ck_assert_int_eq(dns_name_check(long_label, 63, err, sizeof(err)), 0);
	ck_assert_int_eq(dns_name_check(long_label, 64, err, sizeof(err)), -EINVAL);
	ck_assert_str_contains(err, "64 characters long; at most 63");
	/* Only the first len bytes count. */
	ck_assert_int_eq(dns_name_check("web:80", 3, err, sizeof(err)), 0);
}
END_TEST

struct bad_dns {
	const char *text;
	const char *needles[3];
};

static const struct bad_dns bad_dns[] = {
    {"10.96.0.10:80=dns:web", {"source 'dns:web'", "expected dns:NAME:PORT"}},
    {"10.96.0.10:80=dns:", {"source 'dns:'", "expected dns:NAME:PORT"}},
    {"10.96.0.10:80=dns::80", {"source 'dns::80'", "no name"}},
    {"10.96.0.10:80=dns:web:0", {"'dns:web:0'", "port '0'", "1 to 65535"}},
    {"10.96.0.10:80=dns:web:65536", {"port '65536'"}},
    {"10.96.0.10:80=dns:web:-1", {"port '-1'"}},
    {"10.96.0.10:80=dns:web:80x", {"port '80x'"}},
    {"10.96.0.10:80=dns:web:", {"port ''"}},
    {"10.96.0.10:80=dns:web..default:80", {"'dns:web..default:80'", "empty label"}},
    {"10.96.0.10:80=dns:.web:80", {"empty label"}},
    {"10.96.0.10:80=dns:web_1.default:80", {"label 'web_1' has '_'"}},
    {"10.96.0.10:80=dns:-web.default:80", {"label '-web'", "start or end with '-'"}},
    {"10.96.0.10:80=dns:web-.default:80", {"label 'web-'"}},
    {"10.96.0.10:80=dns:[fd00::1]:80", {"label '[fd00::1]' has '['"}},
    {"10.96.0.10:80=dns:web.default:80:80", {"label 'default:80'", "':'"}},
    {"10.96.0.10:80=dns:w b:80", {"' '"}},
    {"10.96.0.10:80=dns:web..:80", {"empty label"}},
    {"10.96.0.10:80=dns:.:80", {"empty label"}},
};

START_TEST(test_parse_dns_bad)
{
	const struct bad_dns *b = &bad_dns[_i];
	struct service_spec s;
	char err[512] = "";

	memset(&s, 0xa5, sizeof(s));
	ck_assert_msg(service_spec_parse(b->text, &s, err, sizeof(err)) == -EINVAL,
		      "'%s' was accepted", b->text);
	/* Every message names the service, then the detail. */
	ck_assert_str_contains(err, "service '10.96.0.10:80'");
	for (size_t i = 0; i < 3 && b->needles[i]; i++)
		ck_assert_str_contains(err, b->needles[i]);
	ck_assert_ptr_null(s.source);
	ck_assert_ptr_null(s.dns_name);
	service_spec_free(&s);
}
END_TEST

START_TEST(test_name_too_long_in_spec)
{
	char text[400], err[512] = "";
	struct service_spec s;

	make_long_names();
	snprintf(text, sizeof(text), "10.96.0.10:80=dns:%s:80", long_name);
	ck_assert_int_eq(service_spec_parse(text, &s, err, sizeof(err)), -EINVAL);
	ck_assert_str_contains(err, "at most 253");
	snprintf(text, sizeof(text), "10.96.0.10:80=dns:%s.example:80", long_label);
	ck_assert_int_eq(service_spec_parse(text, &s, err, sizeof(err)), -EINVAL);
	ck_assert_str_contains(err, "at most 63");
}
END_TEST

START_TEST(test_unknown_source_mentions_dns)
{
	struct service_spec s;
	char err[512] = "";

	ck_assert_int_eq(service_spec_parse("10.96.0.10:80=dnss:web:80", &s, err, sizeof(err)),
			 -EINVAL);
	ck_assert_str_contains(err, "unknown source 'dnss:web:80'");
	ck_assert_str_contains(err, "dns:NAME:PORT");
}
END_TEST

/* ------------------------------------------------------- refresh timing */

static const struct dns_timing defaults = {1000, 30000, 30000};

START_TEST(test_ttl_delay)
{
	const struct dns_timing custom = {5000, 10000, 0};

	ck_assert_uint_eq(dns_ttl_delay_ms(&defaults, 0), 1000); /* TTL 0: the minimum */
	ck_assert_uint_eq(dns_ttl_delay_ms(&defaults, 1), 1000);
	ck_assert_uint_eq(dns_ttl_delay_ms(&defaults, 7), 7000);
	ck_assert_uint_eq(dns_ttl_delay_ms(&defaults, 30), 30000);
	ck_assert_uint_eq(dns_ttl_delay_ms(&defaults, 3600), 30000); /* capped */
	ck_assert_uint_eq(dns_ttl_delay_ms(&defaults, UINT32_MAX), 30000);
	ck_assert_uint_eq(dns_ttl_delay_ms(&custom, 1), 5000);
	ck_assert_uint_eq(dns_ttl_delay_ms(&custom, 8), 8000);
	ck_assert_uint_eq(dns_ttl_delay_ms(&custom, 11), 10000);
}
END_TEST

START_TEST(test_backoff)
{
	const uint64_t want[] = {1000, 1000, 2000, 4000, 8000, 16000, 30000, 30000};
	const struct dns_timing slow = {5000, 60000, 0};
	const struct dns_timing tight = {200, 500, 0};

	for (unsigned i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		ck_assert_uint_eq(dns_backoff_ms(&defaults, i), want[i]);
	ck_assert_uint_eq(dns_backoff_ms(&defaults, 1000), 30000); /* no overflow */
	/* Never faster than --dns-min-interval. */
	ck_assert_uint_eq(dns_backoff_ms(&slow, 1), 5000);
	ck_assert_uint_eq(dns_backoff_ms(&slow, 2), 10000);
	ck_assert_uint_eq(dns_backoff_ms(&slow, 4), 40000);
	ck_assert_uint_eq(dns_backoff_ms(&slow, 5), 60000);
	/* Never slower than --dns-max-interval, even below the 1 s start. */
	ck_assert_uint_eq(dns_backoff_ms(&tight, 1), 500);
}
END_TEST

/* ------------------------------------------------------- failure states */

struct run {
	struct dns_tracker tr;
	struct dns_timing t;
	uint64_t now;
	struct dns_step last;
};

/* Feeds one answer at the current time, then advances the clock to the next lookup. */
static enum dns_action feed(struct run *r, enum dns_outcome o, uint32_t ttl)
{
	r->last = dns_tracker_step(&r->tr, &r->t, o, ttl, r->now);
	r->now += r->last.next_ms;
	return r->last.action;
}

START_TEST(test_first_answer_publishes)
{
	struct run r = {.t = defaults, .now = 500};

	ck_assert_int_eq(r.tr.state, DNS_STATE_PENDING);
	ck_assert_int_eq(feed(&r, DNS_OUTCOME_ADDRESSES, 5), DNS_PUBLISH_ANSWER);
	ck_assert_int_eq(r.last.from, DNS_STATE_PENDING);
	ck_assert_int_eq(r.tr.state, DNS_STATE_OK);
	ck_assert_uint_eq(r.last.next_ms, 5000);
	/* Every later answer is published too: the table applies only differences. */
	ck_assert_int_eq(feed(&r, DNS_OUTCOME_ADDRESSES, 0), DNS_PUBLISH_ANSWER);
	ck_assert_int_eq(r.last.from, DNS_STATE_OK);
	ck_assert_uint_eq(r.last.next_ms, 1000);
}
END_TEST

START_TEST(test_errors_before_first_answer_publish_nothing)
{
	struct run r = {.t = defaults};

	for (int i = 0; i < 10; i++)
		ck_assert_int_eq(feed(&r, DNS_OUTCOME_ERROR, 0), DNS_KEEP);
	ck_assert_int_eq(r.tr.state, DNS_STATE_FAILING);
	ck_assert_uint_eq(r.last.next_ms, 30000);
	ck_assert_int_eq(feed(&r, DNS_OUTCOME_ADDRESSES, 2), DNS_PUBLISH_ANSWER);
	ck_assert_int_eq(r.last.from, DNS_STATE_FAILING);
}
END_TEST

START_TEST(test_errors_keep_last_known_and_back_off)
{
	const uint64_t want[] = {1000, 2000, 4000, 8000, 16000, 30000, 30000};
	struct run r = {.t = defaults};

	feed(&r, DNS_OUTCOME_ADDRESSES, 10);
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		ck_assert_int_eq(feed(&r, DNS_OUTCOME_ERROR, 0), DNS_KEEP);
		ck_assert_uint_eq(r.last.next_ms, want[i]);
		ck_assert_int_eq(r.last.from, i == 0 ? DNS_STATE_OK : DNS_STATE_FAILING);
		ck_assert_int_eq(r.tr.state, DNS_STATE_FAILING);
	}
	/* Recovery resets the backoff: the next failure starts at 1 s again. */
	ck_assert_int_eq(feed(&r, DNS_OUTCOME_ADDRESSES, 3), DNS_PUBLISH_ANSWER);
	ck_assert_uint_eq(r.last.next_ms, 3000);
	ck_assert_int_eq(feed(&r, DNS_OUTCOME_ERROR, 0), DNS_KEEP);
	ck_assert_uint_eq(r.last.next_ms, 1000);
}
END_TEST

START_TEST(test_empty_kept_for_grace_then_published)
{
	struct run r = {.t = defaults};
	uint64_t first_empty;
	int lookups = 0;

	feed(&r, DNS_OUTCOME_ADDRESSES, 1);
	first_empty = r.now;
	while (feed(&r, DNS_OUTCOME_EMPTY, 0) == DNS_KEEP) {
		ck_assert_int_eq(r.tr.state, DNS_STATE_EMPTY);
		ck_assert_uint_le(r.now - first_empty, 30000); /* never looks past the grace */
		ck_assert_int_lt(++lookups, 20);
	}
	/* Published on the lookup the grace ends at: 1 + 2 + 4 + 8 + 15 s. */
	ck_assert_int_eq(r.last.action, DNS_PUBLISH_EMPTY);
	ck_assert_uint_eq(r.now - r.last.next_ms - first_empty, 30000);
	ck_assert_int_eq(lookups, 5);
	ck_assert_int_eq(r.last.from, DNS_STATE_EMPTY);
	/* It stays published empty, and backs off up to the maximum. */
	ck_assert_int_eq(feed(&r, DNS_OUTCOME_EMPTY, 0), DNS_PUBLISH_EMPTY);
	ck_assert_int_eq(feed(&r, DNS_OUTCOME_EMPTY, 0), DNS_PUBLISH_EMPTY);
	ck_assert_uint_eq(r.last.next_ms, 30000);
	/* The name comes back: published at once. */
	ck_assert_int_eq(feed(&r, DNS_OUTCOME_ADDRESSES, 1), DNS_PUBLISH_ANSWER);
	ck_assert_int_eq(r.tr.state, DNS_STATE_OK);
}
END_TEST

START_TEST(test_empty_streak_survives_errors_not_answers)
{
	struct run r = {.t = {1000, 30000, 10000}};
	uint64_t first_empty;

	feed(&r, DNS_OUTCOME_ADDRESSES, 1);
	first_empty = r.now;
	ck_assert_int_eq(feed(&r, DNS_OUTCOME_EMPTY, 0), DNS_KEEP);
	ck_assert_int_eq(feed(&r, DNS_OUTCOME_ERROR, 0), DNS_KEEP);
	ck_assert_int_eq(r.tr.state, DNS_STATE_FAILING);
	r.now = first_empty + 10000;
	/* The error did not restart the grace: empty since first_empty. */
	ck_assert_int_eq(feed(&r, DNS_OUTCOME_EMPTY, 0), DNS_PUBLISH_EMPTY);
	/* An error after publishing empty keeps it empty (KEEP changes nothing). */
	ck_assert_int_eq(feed(&r, DNS_OUTCOME_ERROR, 0), DNS_KEEP);

	/* Addresses end the streak: the next empty answer starts a new grace. */
	feed(&r, DNS_OUTCOME_ADDRESSES, 1);
	ck_assert_int_eq(feed(&r, DNS_OUTCOME_EMPTY, 0), DNS_KEEP);
	ck_assert_int_eq(r.tr.state, DNS_STATE_EMPTY);
}
END_TEST

START_TEST(test_empty_grace_zero_publishes_at_once)
{
	struct run r = {.t = {1000, 30000, 0}};

	feed(&r, DNS_OUTCOME_ADDRESSES, 1);
	ck_assert_int_eq(feed(&r, DNS_OUTCOME_EMPTY, 0), DNS_PUBLISH_EMPTY);
	ck_assert_int_eq(r.last.from, DNS_STATE_OK);
}
END_TEST

START_TEST(test_empty_from_the_start_waits_for_the_grace)
{
	struct run r = {.t = {1000, 30000, 5000}};

	ck_assert_int_eq(feed(&r, DNS_OUTCOME_EMPTY, 0), DNS_KEEP);
	ck_assert_int_eq(r.last.from, DNS_STATE_PENDING);
	ck_assert_int_eq(feed(&r, DNS_OUTCOME_EMPTY, 0), DNS_KEEP);
	ck_assert_uint_eq(r.now, 1000 + 2000);
	ck_assert_int_eq(feed(&r, DNS_OUTCOME_EMPTY, 0), DNS_KEEP);
	ck_assert_uint_eq(r.last.next_ms, 2000); /* 4 s of backoff, cut to the grace left */
	ck_assert_int_eq(feed(&r, DNS_OUTCOME_EMPTY, 0), DNS_PUBLISH_EMPTY);
	ck_assert_uint_eq(r.now - r.last.next_ms, 5000);
}
END_TEST

START_TEST(test_grace_end_respects_min_interval)
{
	/* 2.5 s of grace left but a 3 s minimum: wait 3 s, not 2.5 s. */
	struct run r = {.t = {3000, 30000, 5500}};

	ck_assert_int_eq(feed(&r, DNS_OUTCOME_EMPTY, 0), DNS_KEEP);
	ck_assert_uint_eq(r.last.next_ms, 3000);
	ck_assert_int_eq(feed(&r, DNS_OUTCOME_EMPTY, 0), DNS_KEEP);
	ck_assert_uint_eq(r.last.next_ms, 3000);
	ck_assert_int_eq(feed(&r, DNS_OUTCOME_EMPTY, 0), DNS_PUBLISH_EMPTY);
}
END_TEST

START_TEST(test_state_names)
{
	ck_assert_str_eq(dns_state_name(DNS_STATE_PENDING), "pending");
	ck_assert_str_eq(dns_state_name(DNS_STATE_OK), "ok");
	ck_assert_str_eq(dns_state_name(DNS_STATE_EMPTY), "empty");
	ck_assert_str_eq(dns_state_name(DNS_STATE_FAILING), "failing");
}
END_TEST

/* ------------------------------------------------------- --dns-server */

START_TEST(test_dns_server_list)
{
	char *csv = NULL;
	char err[256] = "";

	ck_assert_int_eq(dns_server_list_add(&csv, "10.0.0.53", err, sizeof(err)), 0);
	ck_assert_str_eq(csv, "10.0.0.53:53");
	ck_assert_int_eq(dns_server_list_add(&csv, "10.0.0.54:5353", err, sizeof(err)), 0);
	ck_assert_int_eq(dns_server_list_add(&csv, "fd00::53", err, sizeof(err)), 0);
	ck_assert_int_eq(dns_server_list_add(&csv, "[fd00::54]", err, sizeof(err)), 0);
	ck_assert_int_eq(dns_server_list_add(&csv, "[fd00::55]:5353", err, sizeof(err)), 0);
	ck_assert_str_eq(csv, "10.0.0.53:53,10.0.0.54:5353,[fd00::53]:53,[fd00::54]:53,"
			      "[fd00::55]:5353");
	free(csv);
}
END_TEST

START_TEST(test_dns_server_bad)
{
	const char *bad[] = {"",	   "dns.example", "10.0.0.1:0",	 "10.0.0.1:x",
			     "10.0.0.300", "[fd00::1",	  "fd00::1]:53", "[10.0.0.1]"};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *csv = NULL;
		char err[256] = "", needle[64];

		ck_assert_msg(dns_server_list_add(&csv, bad[i], err, sizeof(err)) == -EINVAL,
			      "'%s' accepted", bad[i]);
		snprintf(needle, sizeof(needle), "--dns-server '%s'", bad[i]);
		ck_assert_str_contains(err, needle);
		ck_assert_ptr_null(csv);
	}
}
END_TEST

/* ------------------------------------------- c-ares against a fake server */

enum fake_mode { FAKE_A, FAKE_AAAA, FAKE_NXDOMAIN, FAKE_NODATA, FAKE_SERVFAIL, FAKE_MALFORMED };

struct fake_dns {
	int fd;
	__u16 port; /* host byte order */
	enum fake_mode mode;
	unsigned queries;
	char last_qname[128];
};

struct resolve_test {
	struct event_loop *loop;
	struct fake_dns server;
	struct dns_resolver *resolver;
	struct dns_query *query;
	bool answered;
	struct dns_answer answer;
	union socklb_addr addrs[8];
	char error[64];
	struct loop_watch *server_watch;
	struct loop_timer deadline;
};

static size_t put16(__u8 *p, unsigned v)
{
	p[0] = (__u8)(v >> 8);
	p[1] = (__u8)v;
	return 2;
}

static size_t put_record(__u8 *p, unsigned type, unsigned ttl, const void *data, unsigned len)
{
	size_t n = 0;

	n += put16(p + n, 0xc00c); /* the name: a pointer to the question's */
	n += put16(p + n, type);
	n += put16(p + n, 1); /* IN */
	n += put16(p + n, ttl >> 16);
	n += put16(p + n, ttl & 0xffff);
	n += put16(p + n, len);
	memcpy(p + n, data, len);
	return n + len;
}

/* The reply to query q for the server's mode; returns its length. */
static size_t fake_reply(struct fake_dns *f, const __u8 *q, size_t qlen, __u8 *out)
{
	static const unsigned rcodes[] = {[FAKE_NXDOMAIN] = 3, [FAKE_SERVFAIL] = 2};
	size_t qend = 12, n;
	struct in6_addr a6;
	__u32 a4;

	while (qend < qlen && q[qend])
		qend += q[qend] + 1u;
	qend += 5; /* the root label, QTYPE, QCLASS */
	ck_assert_uint_le(qend, qlen);
	snprintf(f->last_qname, sizeof(f->last_qname), "%.*s", (int)(q[12]), q + 13);
	memcpy(out, q, qend);
	out[2] = 0x84 | (q[2] & 1); /* a response, authoritative, RD copied */
	out[3] = (__u8)(f->mode < sizeof(rcodes) / sizeof(rcodes[0]) ? rcodes[f->mode] : 0);
	n = qend;
	switch (f->mode) {
	case FAKE_A:
		out[7] = 3;
		a4 = inet_addr("10.244.1.12");
		n += put_record(out + n, 1, 30, &a4, 4);
		a4 = inet_addr("10.244.1.11");
		n += put_record(out + n, 1, 7, &a4, 4);	 /* the smallest TTL counts */
		n += put_record(out + n, 1, 30, &a4, 4); /* repeated: the source dedups */
		break;
	case FAKE_AAAA:
		out[7] = 1;
		inet_pton(AF_INET6, "fd00:5a1b::b", &a6);
		n += put_record(out + n, 28, 12, &a6, 16);
		break;
	case FAKE_MALFORMED:
		out[7] = 2; /* two answers announced, one and a half sent */
		a4 = inet_addr("10.244.1.11");
		n += put_record(out + n, 1, 5, &a4, 4);
		n += put_record(out + n, 1, 5, &a4, 4) - 3;
		break;
	default:
		break;
	}
	return n;
}

static void on_fake_query(void *arg, int fd, uint32_t events)
{
	struct fake_dns *f = arg;
	struct sockaddr_in from;
	socklen_t fromlen = sizeof(from);
	__u8 q[512], out[512];
	ssize_t len;

	(void)events;
	len = recvfrom(fd, q, sizeof(q), 0, (struct sockaddr *)&from, &fromlen);
	if (len < 12)
		return;
	f->queries++;
	sendto(fd, out, fake_reply(f, q, (size_t)len, out), 0, (struct sockaddr *)&from, fromlen);
}

static void start_fake(struct resolve_test *t, enum fake_mode mode)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(sa);

	t->server.mode = mode;
	t->server.fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(t->server.fd, 0);
	ck_assert_int_eq(bind(t->server.fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(getsockname(t->server.fd, (struct sockaddr *)&sa, &len), 0);
	t->server.port = ntohs(sa.sin_port);
	t->server_watch = loop_watch(t->loop, t->server.fd, EPOLLIN, on_fake_query, &t->server);
	ck_assert_ptr_nonnull(t->server_watch);
}

static void on_test_answer(void *arg, const struct dns_answer *a)
{
	struct resolve_test *t = arg;

	ck_assert_ptr_null(t->query); /* forgotten before the callback */
	t->answered = true;
	t->answer = *a;
	ck_assert_uint_le(a->n_addrs, 8);
	if (a->n_addrs)
		memcpy(t->addrs, a->addrs, a->n_addrs * sizeof(*a->addrs));
	t->answer.addrs = t->addrs;
	snprintf(t->error, sizeof(t->error), "%s", a->error ? a->error : "");
	loop_stop(t->loop);
}

static void on_deadline(void *arg)
{
	loop_stop(arg);
}

static void setup_resolver(struct resolve_test *t, enum fake_mode mode)
{
	char csv[64], err[256] = "";

	memset(t, 0, sizeof(*t));
	log_set_level(LOG_WARN);
	t->loop = loop_new();
	ck_assert_ptr_nonnull(t->loop);
	start_fake(t, mode);
	snprintf(csv, sizeof(csv), "127.0.0.1:%u", t->server.port);
	t->resolver = dns_resolver_new(t->loop, csv, err, sizeof(err));
	ck_assert_msg(t->resolver != NULL, "%s", err);
}

/* Looks name up (absolute, so the machine's search list is not tried) and waits. */
static void resolve(struct resolve_test *t, const char *name, int family)
{
	ck_assert_int_eq(
	    dns_resolver_lookup(t->resolver, name, family, on_test_answer, t, &t->query), 0);
	ck_assert_int_eq(loop_timer_arm(t->loop, &t->deadline, 10000, on_deadline, t->loop), 0);
	ck_assert_int_eq(loop_run(t->loop), 0);
	ck_assert_msg(t->answered, "no answer within 10 s");
}

static void teardown_resolver(struct resolve_test *t)
{
	dns_resolver_free(t->resolver);
	loop_timer_cancel(t->loop, &t->deadline);
	loop_unwatch(t->loop, t->server_watch);
	close(t->server.fd);
	loop_free(t->loop);
}

START_TEST(test_resolve_a)
{
	struct resolve_test t;
	char buf[INET6_ADDRSTRLEN];

	setup_resolver(&t, FAKE_A);
	resolve(&t, NAME ".", AF_INET);
	ck_assert_int_eq(t.answer.outcome, DNS_OUTCOME_ADDRESSES);
	ck_assert_uint_eq(t.answer.ttl_s, 7);
	ck_assert_uint_eq(t.answer.n_addrs, 3);
	ck_assert_str_eq(inet_ntop(AF_INET, &t.addrs[0].ip4, buf, sizeof(buf)), "10.244.1.12");
	ck_assert_str_eq(inet_ntop(AF_INET, &t.addrs[1].ip4, buf, sizeof(buf)), "10.244.1.11");
	ck_assert_str_eq(t.server.last_qname, "sample-service-grpc");
	ck_assert_uint_eq(t.server.queries, 1);
	teardown_resolver(&t);
}
END_TEST

START_TEST(test_resolve_aaaa)
{
	struct resolve_test t;
	char buf[INET6_ADDRSTRLEN];

	setup_resolver(&t, FAKE_AAAA);
	resolve(&t, "web.default.svc.cluster.local.", AF_INET6);
	ck_assert_int_eq(t.answer.outcome, DNS_OUTCOME_ADDRESSES);
	ck_assert_uint_eq(t.answer.ttl_s, 12);
	ck_assert_uint_eq(t.answer.n_addrs, 1);
	ck_assert_str_eq(inet_ntop(AF_INET6, t.addrs[0].bytes, buf, sizeof(buf)), "fd00:5a1b::b");
	teardown_resolver(&t);
}
END_TEST

START_TEST(test_resolve_failures)
{
	static const struct {
		enum fake_mode mode;
		enum dns_outcome outcome;
		const char *error;
	} cases[] = {
	    {FAKE_NXDOMAIN, DNS_OUTCOME_EMPTY, "nxdomain"},
	    {FAKE_NODATA, DNS_OUTCOME_EMPTY, "nodata"},
	    /* c-ares 1.18 tries every server, then reports them alike. */
	    {FAKE_SERVFAIL, DNS_OUTCOME_ERROR, "server-failed"},
	    {FAKE_MALFORMED, DNS_OUTCOME_ERROR, "bad-response"},
	    /* An A answer to an AAAA question has no address of ours. */
	    {FAKE_A, DNS_OUTCOME_EMPTY, "nodata"},
	};
	struct resolve_test t;

	setup_resolver(&t, cases[_i].mode);
	resolve(&t, "web.default.svc.cluster.local.",
		cases[_i].mode == FAKE_A ? AF_INET6 : AF_INET);
	ck_assert_int_eq(t.answer.outcome, cases[_i].outcome);
	ck_assert_str_eq(t.error, cases[_i].error);
	ck_assert_uint_eq(t.answer.n_addrs, 0);
	teardown_resolver(&t);
}
END_TEST

START_TEST(test_cancelled_lookup_is_never_answered)
{
	struct resolve_test t;

	setup_resolver(&t, FAKE_A);
	ck_assert_int_eq(
	    dns_resolver_lookup(t.resolver, NAME ".", AF_INET, on_test_answer, &t, &t.query), 0);
	ck_assert_ptr_nonnull(t.query);
	dns_query_cancel(&t.query);
	ck_assert_ptr_null(t.query);
	dns_query_cancel(&t.query); /* harmless twice */
	/* The server still answers; the callback must not run. */
	ck_assert_int_eq(loop_timer_arm(t.loop, &t.deadline, 300, on_deadline, t.loop), 0);
	ck_assert_int_eq(loop_run(t.loop), 0);
	ck_assert_uint_eq(t.server.queries, 1);
	ck_assert(!t.answered);
	teardown_resolver(&t);
}
END_TEST

START_TEST(test_free_with_lookup_in_flight)
{
	struct resolve_test t;

	setup_resolver(&t, FAKE_A);
	ck_assert_int_eq(
	    dns_resolver_lookup(t.resolver, NAME ".", AF_INET, on_test_answer, &t, &t.query), 0);
	dns_query_cancel(&t.query);
	/* Freed before the answer arrives: no callback, no leak (ASan checks). */
	teardown_resolver(&t);
	ck_assert(!t.answered);
}
END_TEST

/* ------------------------------------------- dns: services in the table */

START_TEST(test_table_does_not_publish_dns_before_an_answer)
{
	const char *texts[] = {"10.96.0.10:8080=dns:" NAME ":8080",
			       "10.96.0.11:80=static:10.244.1.5:80"};
	struct endpoint vip = ep("10.96.0.10:8080");
	struct endpoint backends[2] = {ep("10.244.1.11:8080"), ep("10.244.1.12:8080")};
	struct service_spec_list list;
	struct socklb_service svc;
	struct service_table t;
	struct lb_maps m;

	REQUIRE_MAPS(&m, NULL);
	log_set_level(LOG_WARN);
	service_table_init(&t, &m, TEST_MAX_SERVICES, TEST_MAX_BACKENDS);
	spec_list(&list, texts, 2);
	ck_assert_int_eq(service_table_apply(&t, &list), 0);
	/* Known to the table, absent from the maps: connects are left alone. */
	ck_assert_int_eq(test_read_service(&m, &vip, &svc), -ENOENT);
	ck_assert_int_eq(test_read_service(&m, &list.items[1].vip, &svc), 0);

	ck_assert_int_eq(service_table_set_backends(&t, &vip, backends, 2), 0);
	ck_assert_int_eq(test_read_service(&m, &vip, &svc), 0);
	ck_assert_uint_eq(svc.backend_count, 2);

	/* A reload with the same dns: spec keeps the published backends. */
	ck_assert_int_eq(service_table_apply(&t, &list), 0);
	ck_assert_int_eq(test_read_service(&m, &vip, &svc), 0);
	ck_assert_uint_eq(svc.backend_count, 2);

	/* The empty set is published as a service without backends. */
	ck_assert_int_eq(service_table_set_backends(&t, &vip, NULL, 0), 0);
	ck_assert_int_eq(test_read_service(&m, &vip, &svc), 0);
	ck_assert_uint_eq(svc.backend_count, 0);
	service_spec_list_free(&list);
	service_table_free(&t);
	test_maps_destroy(&m);
}
END_TEST

Suite *source_dns_suite(void)
{
	Suite *s = suite_create("source_dns");
	TCase *parse = tcase_create("parse");
	TCase *refresh = tcase_create("refresh");
	TCase *resolver = tcase_create("resolver");
	TCase *table = tcase_create("table");

	tcase_add_test(parse, test_parse_dns);
	tcase_add_test(parse, test_parse_dns_forms);
	tcase_add_test(parse, test_name_lengths);
	tcase_add_loop_test(parse, test_parse_dns_bad, 0, sizeof(bad_dns) / sizeof(bad_dns[0]));
	tcase_add_test(parse, test_name_too_long_in_spec);
	tcase_add_test(parse, test_unknown_source_mentions_dns);
	tcase_add_test(parse, test_dns_server_list);
	tcase_add_test(parse, test_dns_server_bad);
	suite_add_tcase(s, parse);

	tcase_add_test(refresh, test_ttl_delay);
	tcase_add_test(refresh, test_backoff);
	tcase_add_test(refresh, test_first_answer_publishes);
	tcase_add_test(refresh, test_errors_before_first_answer_publish_nothing);
	tcase_add_test(refresh, test_errors_keep_last_known_and_back_off);
	tcase_add_test(refresh, test_empty_kept_for_grace_then_published);
	tcase_add_test(refresh, test_empty_streak_survives_errors_not_answers);
	tcase_add_test(refresh, test_empty_grace_zero_publishes_at_once);
	tcase_add_test(refresh, test_empty_from_the_start_waits_for_the_grace);
	tcase_add_test(refresh, test_grace_end_respects_min_interval);
	tcase_add_test(refresh, test_state_names);
	suite_add_tcase(s, refresh);

	tcase_set_timeout(resolver, 30);
	tcase_add_test(resolver, test_resolve_a);
	tcase_add_test(resolver, test_resolve_aaaa);
	tcase_add_loop_test(resolver, test_resolve_failures, 0, 5);
	tcase_add_test(resolver, test_cancelled_lookup_is_never_answered);
	tcase_add_test(resolver, test_free_with_lookup_in_flight);
	suite_add_tcase(s, resolver);

	tcase_add_test(table, test_table_does_not_publish_dns_before_an_answer);
	suite_add_tcase(s, table);
	return s;
}
