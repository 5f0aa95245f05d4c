// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The iterators on real sockets: the connections list, the finder of work
 * for the rebalancer, and the ender's idle test (idle ones first, busy ones
 * only once due).
 */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "datapath/conn_walk.h"
#include "datapath/iter_read.h"
#include "datapath/netns_iter.h"
#include "fixture.h"
#include "lib/clock.h"
#include "rebalance.skel.h"
#include "socklb.skel.h"
#include "suites.h"

#define VIP "10.255.0.1:80"

struct records {
	struct socklb_conn_record conns[16];
	struct socklb_work_record work[16];
	size_t n;
};

static int add_conn(void *arg, const void *rec)
{
	struct records *r = arg;

	ck_assert_uint_lt(r->n, 16);
	memcpy(&r->conns[r->n++], rec, sizeof(r->conns[0]));
	return 0;
}

static int add_work(void *arg, const void *rec)
{
	struct records *r = arg;

	ck_assert_uint_lt(r->n, 16);
	memcpy(&r->work[r->n++], rec, sizeof(r->work[0]));
	return 0;
}

START_TEST(test_connections_iterator_lists_every_balanced_connection)
{
	struct records r = {0};
	struct conn_walk w;
	struct fixture f;
	int fds[3];

	REQUIRE_FIXTURE(&f, NULL);
	fixture_listeners(&f, 3);
	fixture_service(&f, VIP, 0, 3, 1);
	for (int i = 0; i < 3; i++)
		ck_assert_int_ge(fds[i] = fixture_connect(VIP), 0);
	/* Whichever way this kernel lists them (one walk, or namespace by namespace). */
	ck_assert_int_eq(conn_walk_open_pinned(&w, f.pin_path), 0);
	ck_assert_int_eq(w.per_netns, f.loader.conns_per_netns);
	ck_assert_int_eq(conn_walk_read(&w, add_conn, &r), 0);
	ck_assert_uint_eq(w.netns_missed, 0);
	conn_walk_free(&w);
	ck_assert_uint_eq(r.n, 3);
	for (size_t i = 0; i < r.n; i++) {
		const struct socklb_sock *s = &r.conns[i].sock;

		ck_assert_uint_eq(s->phase, SOCKLB_SOCK_ESTABLISHED);
		ck_assert_uint_eq(r.conns[i].tcp_state, 1); /* TCP_ESTABLISHED */
		ck_assert_uint_eq(s->pid, (__u32)getpid());
		ck_assert_uint_eq(s->service_id, 1);
		ck_assert(s->backend_id >= 1 && s->backend_id <= 3);
		ck_assert_uint_ne(s->cookie, 0);
		ck_assert_uint_ne(s->netns_cookie, 0);
		ck_assert_uint_ge(s->established_ns, s->connect_ns);
	}
	/* Each backend once: least-conn over three. */
	ck_assert(r.conns[0].sock.backend_id != r.conns[1].sock.backend_id &&
		  r.conns[1].sock.backend_id != r.conns[2].sock.backend_id &&
		  r.conns[0].sock.backend_id != r.conns[2].sock.backend_id);
	for (int i = 0; i < 3; i++)
		close(fds[i]);
	fixture_stop(&f);
}
END_TEST

static void set_budget(struct fixture *f, __u32 id, __u32 n, __u64 force_after_ns)
{
	struct socklb_end_budget b = {n, SOCKLB_END_IMBALANCE, force_after_ns};

	ck_assert_int_eq(lb_maps_set_end_budget(&f->loader.maps, id, &b), 0);
}

START_TEST(test_ender_takes_idle_connections_first)
{
	union bpf_iter_link_info info = {0};
	LIBBPF_OPTS(bpf_iter_attach_opts, opts, .link_info = &info, .link_info_len = sizeof(info));
	struct socklb_end_stats es;
	struct bpf_link *ender, *finder = NULL;
	struct rebalance_bpf *rb;
	struct records work = {0};
	struct fixture f;
	int idle, busy, srv[2];
	char err[512];

	REQUIRE_FIXTURE(&f, NULL);
	fixture_listeners(&f, 1);
	fixture_service(&f, VIP, 0, 1, 1);
	ck_assert_int_ge(idle = fixture_connect(VIP), 0);
	ck_assert_int_ge(busy = fixture_connect(VIP), 0);
	ck_assert_uint_eq(fixture_accept_all(&f, 0, srv, 2), 2);
	/* The server answers on one of them; its client does not read: not idle. */
	ck_assert_int_eq(write(srv[1], "unread", 6), 6);
	usleep(100000); /* past the 20 ms idle quiet time */

	rb = loader_load_rebalance(&f.loader, err, sizeof(err));
	ck_assert_msg(rb != NULL, "%s", err);
	ender = bpf_program__attach_iter(rb->progs.socklb_end_connections, NULL);
	ck_assert(ender);
	/* A kernel without map-element iterators has no finder (the ender counts instead). */
	if (!f.loader.conns_per_netns) {
		info.map.map_fd = bpf_map__fd(f.loader.skel->maps.sock_state);
		finder = bpf_program__attach_iter(rb->progs.socklb_find_work, &opts);
		ck_assert(finder);
	}

	/* No budget: no work, nothing ended. */
	if (finder) {
		ck_assert_int_eq(
		    iter_read_records(bpf_link__fd(finder), sizeof(work.work[0]), add_work, &work),
		    0);
		ck_assert_uint_eq(work.n, 0);
	}
	ck_assert_uint_eq(fixture_run_iter(ender), 0);
	ck_assert(!fixture_ended(idle) && !fixture_ended(busy));
	/* One to end, not due for force: the idle one goes, whichever was accepted first. */
	set_budget(&f, 1, 1, mono_now_ns() + 60 * NS_PER_SEC);
	if (finder) {
		ck_assert_int_eq(
		    iter_read_records(bpf_link__fd(finder), sizeof(work.work[0]), add_work, &work),
		    0);
		ck_assert_uint_eq(work.n, 2); /* both are candidates; the ender picks */
		ck_assert_uint_eq(work.work[0].pid, (__u32)getpid());
		ck_assert_uint_eq(work.work[0].backend_id, 1);
	}
	/* The ender saw work on one or both (a record each), whichever came first. */
	work.n = fixture_run_iter(ender) / sizeof(struct socklb_end_record);
	ck_assert(work.n >= 1 && work.n <= 2);
	ck_assert_msg(fixture_ended(idle), "the idle connection was not ended");
	ck_assert_msg(!fixture_ended(busy), "the busy connection was ended before its deadline");
	ck_assert_int_eq(lb_maps_read_end_stats(&f.loader.maps, SOCKLB_END_IMBALANCE, &es), 0);
	ck_assert_uint_eq(es.graceful, 1);
	ck_assert_uint_eq(es.forced, 0);
	/* Skipped as busy only if the walk met it before the budget was spent. */
	ck_assert_uint_le(es.busy_skipped, 1);
	/* Due now: the busy one goes too, counted as forced. */
	set_budget(&f, 1, 1, mono_now_ns() - 1);
	fixture_run_iter(ender);
	ck_assert_msg(fixture_ended(busy), "the busy connection was not ended after its deadline");
	ck_assert_int_eq(lb_maps_read_end_stats(&f.loader.maps, SOCKLB_END_IMBALANCE, &es), 0);
	ck_assert_uint_eq(es.forced, 1);

	bpf_link__destroy(ender);
	bpf_link__destroy(finder);
	rebalance_bpf__destroy(rb);
	close(idle);
	close(busy);
	close(srv[0]);
	close(srv[1]);
	fixture_stop(&f);
}
END_TEST

/*
 * A request sent right after the answer to the one before (within the same
 * jiffy, as a busy client does) is outstanding: the connection is not idle
 * however quiet it has been since.  The other connection, whose last request
 * was answered, is idle.
 */
START_TEST(test_a_request_outstanding_is_never_idle)
{
	struct socklb_end_stats es;
	struct bpf_link *ender;
	struct rebalance_bpf *rb;
	struct fixture f;
	int waiting, answered, srv[2], ws, as;
	char buf[16], err[512];

	REQUIRE_FIXTURE(&f, NULL);
	fixture_listeners(&f, 1);
	fixture_service(&f, VIP, 0, 1, 1);
	ck_assert_int_ge(waiting = fixture_connect(VIP), 0);
	ck_assert_int_eq(fixture_accept_all(&f, 0, srv, 1), 1);
	ws = srv[0];
	ck_assert_int_ge(answered = fixture_connect(VIP), 0);
	ck_assert_int_eq(fixture_accept_all(&f, 0, srv, 1), 1);
	as = srv[0];
	for (int i = 0; i < 2; i++) {
		int c = i ? answered : waiting, sv = i ? as : ws;

		ck_assert_int_eq(write(c, "req", 3), 3);
		ck_assert_int_eq(read(sv, buf, 3), 3);
		ck_assert_int_eq(write(sv, "rsp", 3), 3);
		ck_assert_int_eq(read(c, buf, 3), 3);
	}
	/* The next request, at once; the server reads it and says nothing. */
	ck_assert_int_eq(write(waiting, "req", 3), 3);
	ck_assert_int_eq(read(ws, buf, 3), 3);
	usleep(150000); /* past the quiet time, and past the server's delayed ACK */

	rb = loader_load_rebalance(&f.loader, err, sizeof(err));
	ck_assert_msg(rb != NULL, "%s", err);
	ender = bpf_program__attach_iter(rb->progs.socklb_end_connections, NULL);
	ck_assert_ptr_nonnull(ender);
	set_budget(&f, 1, 2, mono_now_ns() + 60 * NS_PER_SEC);
	fixture_run_iter(ender);
	ck_assert_msg(!fixture_ended(waiting),
		      "a connection with a request outstanding was ended as idle");
	ck_assert_msg(fixture_ended(answered), "the idle connection was not ended");
	ck_assert_int_eq(lb_maps_read_end_stats(&f.loader.maps, SOCKLB_END_IMBALANCE, &es), 0);
	ck_assert_uint_eq(es.graceful, 1);
	ck_assert_uint_eq(es.forced, 0);
	ck_assert_uint_eq(es.busy_skipped, 1);

	bpf_link__destroy(ender);
	rebalance_bpf__destroy(rb);
	close(waiting);
	close(answered);
	close(ws);
	close(as);
	fixture_stop(&f);
}
END_TEST

struct netns_count {
	__u64 cookie;
	struct socklb_netns found;
	size_t entries;
};

static int find_netns(void *arg, __u64 cookie, const struct socklb_netns *n)
{
	struct netns_count *c = arg;

	c->entries++;
	if (cookie == c->cookie)
		c->found = *n;
	return 0;
}

static struct netns_count count_own_netns(struct fixture *f)
{
	struct netns_count c = {.cookie = current_netns_cookie()};

	ck_assert_uint_ne(c.cookie, 0);
	ck_assert_int_eq(lb_maps_for_each_netns(&f->loader.maps, find_netns, &c), 0);
	return c;
}

/*
 * netns_conns, what a kernel without map-element iterators lists connections
 * by: each balanced connection counted in its namespace while open, and
 * taken off once when it closes.  Left empty where the one walk works.
 */
START_TEST(test_netns_registry_counts_connections_while_open)
{
	struct netns_count c;
	struct fixture f;
	int fds[3];

	REQUIRE_FIXTURE(&f, NULL);
	fixture_listeners(&f, 2);
	fixture_service(&f, VIP, 0, 2, 1);
	for (int i = 0; i < 3; i++)
		ck_assert_int_ge(fds[i] = fixture_connect(VIP), 0);
	c = count_own_netns(&f);
	if (!f.loader.conns_per_netns) {
		ck_assert_uint_eq(c.entries, 0);
	} else {
		ck_assert_int_eq(c.found.conns, 3);
		ck_assert_uint_eq(c.found.pid, (__u32)getpid());
	}
	close(fds[0]);
	close(fds[1]);
	c = count_own_netns(&f);
	ck_assert_int_eq(c.found.conns, f.loader.conns_per_netns ? 1 : 0);
	close(fds[2]);
	c = count_own_netns(&f);
	ck_assert_int_eq(c.found.conns, 0);
	fixture_stop(&f);
}
END_TEST

Suite *bpf_iter_suite(void)
{
	Suite *s = suite_create("bpf_iter");
	TCase *tc = tcase_create("iter");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_connections_iterator_lists_every_balanced_connection);
	tcase_add_test(tc, test_ender_takes_idle_connections_first);
	tcase_add_test(tc, test_a_request_outstanding_is_never_idle);
	tcase_add_test(tc, test_netns_registry_counts_connections_while_open);
	suite_add_tcase(s, tc);
	return s;
}
