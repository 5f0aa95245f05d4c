// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The GOAWAY follower on real sockets: a "server" writes HTTP/2 frames
 * (big DATA frames spanning many skbs, headers cut between writes, PING
 * ACKs) to a balanced client socket; a GOAWAY is asked for at chosen
 * moments, mid-frame included.  What the client reads must be the server's
 * stream with one GOAWAY frame at a frame boundary, nothing else changed
 * (but a PING ACK replaced by it, or cut to pay its 17 bytes back).
 */
#include <bpf/bpf.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "datapath/goaway_injector.h"
#include "datapath/iter_read.h"
#include "fixture.h"
#include "lib/clock.h"
#include "rebalance.skel.h"
#include "socklb.skel.h"
#include "suites.h"

#define VIP "10.255.0.2:80"
#define STREAM_MAX (1 << 20)
#define HDR 9

static const unsigned char goaway[17] = {0,    0,    8,	   7,	 0, 0, 0, 0, 0,
					 0x7f, 0xff, 0xff, 0xff, 0, 0, 0, 0};

struct stream {
	unsigned char *b;
	size_t n;
};

static void put_frame(struct stream *s, __u32 len, __u8 type, __u8 flags, __u32 stream_id)
{
	unsigned char *h = s->b + s->n;

	ck_assert_uint_le(s->n + HDR + len, STREAM_MAX);
	h[0] = len >> 16;
	h[1] = len >> 8;
	h[2] = len;
	h[3] = type;
	h[4] = flags;
	h[5] = stream_id >> 24;
	h[6] = stream_id >> 16;
	h[7] = stream_id >> 8;
	h[8] = stream_id;
	for (__u32 i = 0; i < len; i++)
		h[HDR + i] = (unsigned char)(s->n + i * 7);
	s->n += HDR + len;
}

static void put_ping_ack(struct stream *s)
{
	put_frame(s, 8, 6, 1, 0);
}

struct conn {
	struct fixture f;
	int client, server;
	__u64 cookie;
	struct stream got;
};

static void conn_open(struct conn *c)
{
	struct socklb_config cfg = {
	    .idle_quiet_ns = 20000000ULL, .drain_deadline_ns = 10000000000ULL, .graceful = 1};
	socklen_t len = sizeof(c->cookie);
	int one = 1;

	memset(c, 0, sizeof(*c));
	c->got.b = calloc(1, STREAM_MAX);
	ck_assert_ptr_nonnull(c->got.b);
	REQUIRE_FIXTURE(&c->f, &cfg);
	fixture_listeners(&c->f, 1);
	fixture_service(&c->f, VIP, 0, 1, 1);
	ck_assert_int_ge(c->client = fixture_connect(VIP), 0);
	ck_assert_uint_eq(fixture_accept_all(&c->f, 0, &c->server, 1), 1);
	ck_assert_int_eq(getsockopt(c->client, SOL_SOCKET, SO_COOKIE, &c->cookie, &len), 0);
	/* Every write its own segments, so the test decides where skbs end. */
	ck_assert_int_eq(setsockopt(c->server, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)), 0);
	fcntl(c->server, F_SETFL, O_NONBLOCK);
	fcntl(c->client, F_SETFL, O_NONBLOCK);
}

static void conn_close(struct conn *c)
{
	close(c->client);
	close(c->server);
	free(c->got.b);
	fixture_stop(&c->f);
}

/*
 * Reads what the client has until want bytes in all, or 2 s; slack: it may
 * have a GOAWAY more (added to the skbs that brought the last of them).
 */
static void client_read(struct conn *c, size_t want, size_t slack)
{
	__u64 deadline = mono_now_ms() + 2000;

	while (c->got.n < want && mono_now_ms() < deadline) {
		struct pollfd p = {.fd = c->client, .events = POLLIN};
		ssize_t n;

		poll(&p, 1, 50);
		n = recv(c->client, c->got.b + c->got.n, STREAM_MAX - c->got.n, 0);
		ck_assert_msg(n > 0 || errno == EAGAIN, "recv: %s", strerror(errno));
		if (n > 0)
			c->got.n += (size_t)n;
	}
	ck_assert_msg(c->got.n == want || c->got.n == want + slack, "read %zu, want %zu (+%zu)",
		      c->got.n, want, slack);
}

/* Sends s[from, to) from the server, reading on the client meanwhile; the client has all of it. */
static void server_send_slack(struct conn *c, const struct stream *s, size_t from, size_t to,
			      size_t client_total, size_t slack)
{
	__u64 deadline = mono_now_ms() + 2000;

	while (from < to && mono_now_ms() < deadline) {
		ssize_t n = send(c->server, s->b + from, to - from, MSG_DONTWAIT);

		ck_assert_msg(n > 0 || errno == EAGAIN, "send: %s", strerror(errno));
		if (n > 0)
			from += (size_t)n;
		ssize_t r = recv(c->client, c->got.b + c->got.n, STREAM_MAX - c->got.n, 0);

		if (r > 0)
			c->got.n += (size_t)r;
	}
	ck_assert_uint_eq(from, to);
	client_read(c, client_total, slack);
}

static void server_send(struct conn *c, const struct stream *s, size_t from, size_t to,
			size_t client_total)
{
	server_send_slack(c, s, from, to, client_total, 0);
}

static struct socklb_h2_follow follow_state(struct conn *c)
{
	struct socklb_h2_follow st;

	ck_assert_int_eq(lb_maps_read_h2_follow(&c->f.loader.maps, c->cookie, &st), 0);
	return st;
}

/* As the rebalancer does: a GOAWAY asked for, waited for a PING ACK to replace since at_ns. */
static void ask_goaway(struct conn *c, __u64 at_ns)
{
	struct socklb_h2_follow st = follow_state(c);

	st.goaway = SOCKLB_GOAWAY_PENDING;
	st.goaway_ns = at_ns;
	ck_assert_int_eq(bpf_map_update_elem(lb_maps_fd(&c->f.loader.maps, "h2_follow"), &c->cookie,
					     &st, BPF_EXIST),
			 0);
}

/* Offset of the only GOAWAY frame in got, which must parse into whole frames; -1: none. */
static long goaway_at(const struct stream *got)
{
	long found = -1;
	size_t off = 0;

	while (off + HDR <= got->n) {
		__u32 len = (got->b[off] << 16) | (got->b[off + 1] << 8) | got->b[off + 2];

		ck_assert_msg(got->b[off + 3] <= 9, "no frame header at %zu", off);
		if (got->b[off + 3] == 7) {
			ck_assert_msg(found < 0, "two GOAWAYs");
			ck_assert_int_eq(memcmp(got->b + off, goaway, sizeof(goaway)), 0);
			found = (long)off;
		}
		off += HDR + len;
	}
	ck_assert_uint_eq(off, got->n);
	return found;
}

/* got is sent with a GOAWAY added at a frame boundary, and nothing else changed. */
static void assert_added(const struct stream *got, const struct stream *sent)
{
	long at = goaway_at(got);

	ck_assert_int_ge(at, 0);
	ck_assert_uint_eq(got->n, sent->n + sizeof(goaway));
	ck_assert_int_eq(memcmp(got->b, sent->b, (size_t)at), 0);
	ck_assert_int_eq(memcmp(got->b + at + sizeof(goaway), sent->b + at, sent->n - (size_t)at),
			 0);
}

/* The server's first frame: SETTINGS with two known settings. */
static void start_h2(struct conn *c, struct stream *s)
{
	put_frame(s, 12, 4, 0, 0);
	s->b[HDR + 0] = 0;
	s->b[HDR + 1] = 3; /* MAX_CONCURRENT_STREAMS */
	s->b[HDR + 6] = 0;
	s->b[HDR + 7] = 4; /* INITIAL_WINDOW_SIZE */
	server_send(c, s, 0, s->n, s->n);
	ck_assert_int_eq(follow_state(c).mode, SOCKLB_H2_FOLLOW);
}

/* A balanced connection whose server has spoken h2c (s: the stream so far); false: skipped. */
static bool h2_conn(struct conn *c, struct stream *s)
{
	s->b = calloc(1, STREAM_MAX);
	s->n = 0;
	ck_assert_ptr_nonnull(s->b);
	conn_open(c);
	if (c->client <= 0)
		return false;
	start_h2(c, s);
	return true;
}

START_TEST(test_not_h2c_is_left_alone)
{
	static const char reply[] = "HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n";
	struct stream s = {.b = (unsigned char *)reply, .n = sizeof(reply) - 1};
	struct conn c;

	conn_open(&c);
	if (c.client <= 0)
		return;
	server_send(&c, &s, 0, s.n, s.n);
	ck_assert_int_eq(follow_state(&c).mode, SOCKLB_H2_NOT_H2C);
	ask_goaway(&c, 0);
	server_send(&c, &s, 0, s.n, 2 * s.n);
	ck_assert_int_eq(memcmp(c.got.b + s.n, reply, s.n), 0);
	conn_close(&c);
}
END_TEST

/*
 * Asked for mid-way through a 200 KB DATA frame (many skbs): the GOAWAY
 * waits for the next frame start, never lands inside the frame.
 */
START_TEST(test_goaway_lands_at_the_next_frame_start_after_a_big_frame)
{
	struct stream s;
	size_t mid;
	struct conn c;

	if (!h2_conn(&c, &s))
		return;
	mid = s.n + HDR + 30000;
	put_frame(&s, 200000, 0, 0, 1);
	put_frame(&s, 5000, 0, 1, 1);
	put_frame(&s, 100000, 0, 0, 3);
	server_send(&c, &s, c.got.n, mid, mid);
	ask_goaway(&c, 0);
	server_send(&c, &s, mid, s.n, s.n + sizeof(goaway));
	assert_added(&c.got, &s);
	ck_assert_int_ge(goaway_at(&c.got), (long)(mid + 200000 - 30000));
	ck_assert_int_eq(follow_state(&c).goaway, SOCKLB_GOAWAY_DELIVERED);
	free(s.b);
	conn_close(&c);
}
END_TEST

/* Frame headers cut between writes (and skbs) are followed across them. */
START_TEST(test_headers_split_across_skbs_are_followed)
{
	struct stream s;
	size_t at;
	struct conn c;

	if (!h2_conn(&c, &s))
		return;
	for (int k = 0; k < 8; k++)
		put_frame(&s, 100 + 997 * k, 0, 0, 1);
	/* Each write ends inside a frame header, at a different byte of it. */
	at = c.got.n;
	for (int k = 1; k <= 8 && at < s.n; k++) {
		size_t to = at + 100 + 997 * (k - 1) + HDR + (size_t)(k % HDR);

		to = to > s.n ? s.n : to;
		size_t had = k > 4 && follow_state(&c).goaway == SOCKLB_GOAWAY_DELIVERED
				 ? sizeof(goaway)
				 : 0;

		server_send_slack(&c, &s, at, to, to + had, k > 4 && !had ? sizeof(goaway) : 0);
		at = to;
		if (k == 4)
			ask_goaway(&c, 0);
	}
	server_send(&c, &s, at, s.n, s.n + sizeof(goaway));
	assert_added(&c.got, &s);
	free(s.b);
	conn_close(&c);
}
END_TEST

/* With a PING ACK to come, the GOAWAY takes its place: the stream keeps its length. */
START_TEST(test_goaway_replaces_a_ping_ack)
{
	struct stream s;
	size_t from, ping;
	struct conn c;

	if (!h2_conn(&c, &s))
		return;
	from = s.n;
	put_frame(&s, 40000, 0, 0, 1);
	ping = s.n;
	put_ping_ack(&s);
	put_frame(&s, 300, 0, 1, 1);
	ask_goaway(&c, mono_now_ns());
	server_send(&c, &s, from, s.n, s.n);
	ck_assert_int_eq(goaway_at(&c.got), (long)ping);
	ck_assert_int_eq(memcmp(c.got.b, s.b, ping), 0);
	ck_assert_int_eq(memcmp(c.got.b + ping + 17, s.b + ping + 17, s.n - ping - 17), 0);
	ck_assert_int_eq(follow_state(&c).mode, SOCKLB_H2_DONE);
	free(s.b);
	conn_close(&c);
}
END_TEST

/* An added GOAWAY is paid back: the next PING ACK is cut, the rest is untouched. */

/*
 * The PING ACK that pays the debt back may sit deep in a big skb, after
 * tens of KB of DATA: everything before it moves on by 17 bytes, intact.
 */
static void check_payback_after(size_t data_before)
{
	struct stream s, after = {.b = calloc(1, STREAM_MAX)};
	size_t from, sent_before;
	struct conn c;

	if (!h2_conn(&c, &s))
		return;
	from = s.n;
	put_frame(&s, 5000, 0, 0, 1);
	ask_goaway(&c, 0);
	server_send(&c, &s, from, s.n, s.n + sizeof(goaway));
	assert_added(&c.got, &s);
	sent_before = c.got.n;
	put_frame(&after, data_before, 0, 0, 3);
	put_ping_ack(&after);
	put_frame(&after, 900, 0, 1, 3);
	server_send(&c, &after, 0, after.n, sent_before + after.n - 17);
	ck_assert_int_eq(memcmp(c.got.b + sent_before, after.b, HDR + data_before), 0);
	ck_assert_int_eq(memcmp(c.got.b + sent_before + HDR + data_before,
				after.b + HDR + data_before + 17, after.n - HDR - data_before - 17),
			 0);
	ck_assert_int_eq(follow_state(&c).mode, SOCKLB_H2_DONE);
	free(s.b);
	free(after.b);
	conn_close(&c);
}

START_TEST(test_added_goaway_is_paid_back_with_the_next_ping_ack)
{
	check_payback_after(700);
}
END_TEST

START_TEST(test_payback_deep_in_a_big_skb_keeps_the_stream_intact)
{
	check_payback_after(_i);
}
END_TEST

/* A second followed h2c connection on the same fixture. */
static int second_h2c(struct conn *c, int *server, __u64 *cookie)
{
	static const unsigned char settings[HDR] = {0, 0, 0, 4, 0, 0, 0, 0, 0};
	socklen_t len = sizeof(*cookie);
	unsigned char buf[HDR];
	int fd = fixture_connect(VIP);

	ck_assert_int_ge(fd, 0);
	ck_assert_uint_eq(fixture_accept_all(&c->f, 0, server, 1), 1);
	ck_assert_int_eq(getsockopt(fd, SOL_SOCKET, SO_COOKIE, cookie, &len), 0);
	ck_assert_int_eq(write(*server, settings, HDR), HDR);
	ck_assert_int_eq(recv(fd, buf, HDR, MSG_WAITALL), HDR);
	return fd;
}

/*
 * The rebalancer's side: a move request for one cookie sends that connection
 * (and no other) a GOAWAY; it turns draining (out of live); when due and
 * still open it is destroyed, counted as forced after a GOAWAY.
 */
START_TEST(test_move_request_sends_a_goaway_then_forces_when_due)
{
	struct stream s;
	struct socklb_backend_stats st;
	struct socklb_end_stats es;
	struct socklb_move_request req;
	struct socklb_h2_follow fs;
	struct rebalance_bpf *rb;
	struct bpf_link *ender;
	int other, other_srv;
	__u64 other_cookie;
	char err[512];
	size_t from;
	struct conn c;

	if (!h2_conn(&c, &s))
		return;
	other = second_h2c(&c, &other_srv, &other_cookie);
	rb = loader_load_rebalance(&c.f.loader, err, sizeof(err));
	ck_assert_msg(rb != NULL, "%s", err);
	ender = bpf_program__attach_iter(rb->progs.socklb_end_connections, NULL);
	ck_assert_ptr_nonnull(ender);

	ck_assert_int_eq(lb_maps_request_move(&c.f.loader.maps, c.cookie, SOCKLB_END_IMBALANCE,
					      mono_now_ns() + 60 * NS_PER_SEC),
			 0);
	fixture_run_iter(ender);
	ck_assert_int_eq(follow_state(&c).goaway, SOCKLB_GOAWAY_PENDING);
	ck_assert_int_eq(lb_maps_read_h2_follow(&c.f.loader.maps, other_cookie, &fs), 0);
	ck_assert_int_eq(fs.goaway, SOCKLB_GOAWAY_NONE);
	ck_assert_int_eq(
	    bpf_map_lookup_elem(lb_maps_fd(&c.f.loader.maps, "move_requests"), &c.cookie, &req),
	    -ENOENT); /* acted on: gone */
	ck_assert_int_eq(lb_maps_read_stats(&c.f.loader.maps, 1, &st), 0);
	ck_assert_uint_eq(st.live, 1);
	ck_assert_uint_eq(st.draining, 1);
	ck_assert_uint_eq(st.ended_goaway, 1);
	ck_assert_msg(!fixture_ended(c.client), "a GOAWAY's connection was destroyed at once");

	/* Past the wait for a PING ACK to replace, the next server frame carries it. */
	usleep(25000);
	from = s.n;
	put_frame(&s, 3000, 0, 0, 1);
	server_send(&c, &s, from, s.n, s.n + sizeof(goaway));
	assert_added(&c.got, &s);

	/* Still open when due: destroyed, once. */
	fs = follow_state(&c);
	fs.force_after_ns = 1;
	ck_assert_int_eq(bpf_map_update_elem(lb_maps_fd(&c.f.loader.maps, "h2_follow"), &c.cookie,
					     &fs, BPF_EXIST),
			 0);
	fixture_run_iter(ender);
	ck_assert_msg(fixture_ended(c.client), "not destroyed when due");
	ck_assert_msg(!fixture_ended(other), "the other connection was ended");
	ck_assert_int_eq(lb_maps_read_end_stats(&c.f.loader.maps, SOCKLB_END_IMBALANCE, &es), 0);
	ck_assert_uint_eq(es.goaway, 1);
	ck_assert_uint_eq(es.goaway_delivered, 1);
	ck_assert_uint_eq(es.goaway_then_forced, 1);
	ck_assert_uint_eq(es.forced + es.graceful, 0);
	ck_assert_int_eq(lb_maps_read_stats(&c.f.loader.maps, 1, &st), 0);
	ck_assert_uint_eq(st.draining, 0);
	ck_assert_uint_eq(st.live, 1);

	bpf_link__destroy(ender);
	rebalance_bpf__destroy(rb);
	close(other);
	close(other_srv);
	free(s.b);
	conn_close(&c);
}
END_TEST

struct inject_records {
	__u64 cookie;
	size_t inject, waiting;
};

static int take_record(void *arg, const void *record)
{
	const struct socklb_end_record *rec = record;
	struct inject_records *r = arg;

	if (rec->cookie != r->cookie)
		return 0;
	r->inject += rec->kind == SOCKLB_END_REC_INJECT;
	r->waiting += rec->kind == SOCKLB_END_REC_WAITING;
	return 0;
}

/* The ender run once on a move request for c; what it asked for c. */
static struct inject_records end_once(struct conn *c, struct bpf_link *ender)
{
	struct inject_records r = {.cookie = c->cookie};

	ck_assert_int_eq(lb_maps_request_move(&c->f.loader.maps, c->cookie, SOCKLB_END_IMBALANCE,
					      mono_now_ns() + 60 * NS_PER_SEC),
			 0);
	ck_assert_int_eq(iter_read_records(bpf_link__fd(ender), sizeof(struct socklb_end_record),
					   take_record, &r),
			 0);
	return r;
}

/* An h2c connection, the agent's injector, and the ender, as the rebalancer has them. */
struct inject_rig {
	struct goaway_injector inj;
	struct rebalance_bpf *rb;
	struct bpf_link *ender;
};

static bool rig_open(struct inject_rig *g, struct conn *c, struct stream *s)
{
	char err[512];

	if (!h2_conn(c, s))
		return false;
	ck_assert_msg(goaway_injector_open(&g->inj, &c->f.loader.maps, err, sizeof(err)) == 0, "%s",
		      err);
	g->rb = loader_load_rebalance(&c->f.loader, err, sizeof(err));
	ck_assert_msg(g->rb != NULL, "%s", err);
	g->ender = bpf_program__attach_iter(g->rb->progs.socklb_end_connections, NULL);
	ck_assert_ptr_nonnull(g->ender);
	return true;
}

static void rig_close(struct inject_rig *g, struct conn *c, struct stream *s)
{
	bpf_link__destroy(g->ender);
	rebalance_bpf__destroy(g->rb);
	goaway_injector_close(&g->inj);
	free(s->b);
	conn_close(c);
}

/*
 * An idle connection at a frame boundary: the ender asks for an injection,
 * and the injector's write lands in the client's stream at once, between
 * frames, without a server byte.  What the server sends next follows
 * intact (nothing to pay back), and a second write is refused.
 */
START_TEST(test_idle_connection_gets_the_goaway_injected_at_once)
{
	struct inject_records r;
	struct inject_rig g;
	struct stream s;
	size_t from;
	struct conn c;

	if (!rig_open(&g, &c, &s))
		return;
	usleep(40000); /* at rest: quiet both ways */

	r = end_once(&c, g.ender);
	ck_assert_uint_eq(r.inject, 1);
	ck_assert_uint_eq(follow_state(&c).inject, SOCKLB_INJECT_WANTED);
	ck_assert_int_eq(goaway_injector_send(&g.inj, c.cookie), 0);
	client_read(&c, s.n + sizeof(goaway), 0);
	ck_assert_int_eq(goaway_at(&c.got), (long)s.n);
	ck_assert_int_eq(follow_state(&c).goaway, SOCKLB_GOAWAY_DELIVERED);
	ck_assert_int_eq(follow_state(&c).inject, SOCKLB_INJECT_SENT);
	ck_assert_int_eq(goaway_injector_send(&g.inj, c.cookie), -EACCES);

	/* The server's next frames come whole, none cut: the queue, not the stream, took it. */
	from = s.n;
	put_frame(&s, 3000, 0, 0, 1);
	put_ping_ack(&s);
	server_send(&c, &s, from, s.n, s.n + sizeof(goaway));
	assert_added(&c.got, &s);
	ck_assert_uint_eq(follow_state(&c).inject_unclean, 0);

	rig_close(&g, &c, &s);
}
END_TEST

/*
 * An injection asked for, and server data comes first: the skb carries the
 * GOAWAY (exactly one of the two delivers it) and the injector's write is
 * refused.  A connection not at rest is reported waiting, not injected.
 */
START_TEST(test_server_data_before_the_injection_carries_the_goaway_instead)
{
	struct inject_records r;
	struct inject_rig g;
	struct stream s;
	size_t from;
	struct conn c;

	if (!rig_open(&g, &c, &s))
		return;

	from = s.n;
	put_frame(&s, 100, 0, 0, 1);
	server_send(&c, &s, from, s.n, s.n);
	r = end_once(&c, g.ender); /* a frame just came: not at rest */
	ck_assert_uint_eq(r.inject, 0);
	ck_assert_uint_eq(r.waiting, 1);
	usleep(40000);
	ck_assert_uint_eq(end_once(&c, g.ender).inject, 1);
	usleep(25000); /* past the wait for a PING ACK to replace */
	from = s.n;
	put_frame(&s, 3000, 0, 0, 1);
	server_send(&c, &s, from, s.n, s.n + sizeof(goaway));
	assert_added(&c.got, &s);
	ck_assert_int_eq(follow_state(&c).inject, SOCKLB_INJECT_NONE);
	ck_assert_int_eq(goaway_injector_send(&g.inj, c.cookie), -EACCES);
	client_read(&c, s.n + sizeof(goaway), 0); /* nothing more came */

	rig_close(&g, &c, &s);
}
END_TEST

Suite *bpf_goaway_suite(void)
{
	Suite *s = suite_create("bpf_goaway");
	TCase *tc = tcase_create("follower");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_not_h2c_is_left_alone);
	tcase_add_test(tc, test_goaway_lands_at_the_next_frame_start_after_a_big_frame);
	tcase_add_test(tc, test_headers_split_across_skbs_are_followed);
	tcase_add_test(tc, test_goaway_replaces_a_ping_ack);
	tcase_add_test(tc, test_added_goaway_is_paid_back_with_the_next_ping_ack);
	tcase_add_test(tc, test_move_request_sends_a_goaway_then_forces_when_due);
	tcase_add_test(tc, test_idle_connection_gets_the_goaway_injected_at_once);
	tcase_add_test(tc, test_server_data_before_the_injection_carries_the_goaway_instead);
	tcase_add_loop_test(tc, test_payback_deep_in_a_big_skb_keeps_the_stream_intact, 30000,
			    30001);
	tcase_add_loop_test(tc, test_payback_deep_in_a_big_skb_keeps_the_stream_intact, 60000,
			    60001);
	suite_add_tcase(s, tc);
	return s;
}
