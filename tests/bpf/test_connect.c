// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The connect, getpeername and sockops programs on real sockets: which
 * backend a connect goes to, what is refused and counted, what is left
 * alone, and that every count comes back to zero.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fixture.h"
#include "suites.h"

#define VIP "10.255.0.1:80"

static struct socklb_backend_stats stats(struct fixture *f, __u32 id)
{
	struct socklb_backend_stats st;

	ck_assert_int_eq(lb_maps_read_stats(&f->loader.maps, id, &st), 0);
	return st;
}

static __u64 event(struct fixture *f, __u32 e)
{
	__u64 n;

	ck_assert_int_eq(lb_maps_read_dp_event(&f->loader.maps, e, &n), 0);
	return n;
}

/* Closes fds and waits (bounded) until live and connecting of ids 1..n are 0. */
static void close_and_settle(struct fixture *f, int *fds, size_t n_fds, size_t n_ids)
{
	for (size_t i = 0; i < n_fds; i++)
		close(fds[i]);
	for (int tries = 0; tries < 200; tries++) {
		__u64 left = 0;

		for (__u32 id = 1; id <= n_ids; id++)
			left += stats(f, id).live + stats(f, id).connecting;
		if (!left)
			return;
		usleep(10000);
	}
	ck_abort_msg("live/connecting did not return to 0 within 2 s");
}

START_TEST(test_least_conn_exact_over_an_inline_set)
{
	struct fixture f;
	int fds[12], accepted[12];

	REQUIRE_FIXTURE(&f, NULL);
	fixture_listeners(&f, 3);
	fixture_service(&f, VIP, 0, 3, 1);
	for (int i = 0; i < 12; i++) {
		fds[i] = fixture_connect(VIP);
		ck_assert_msg(fds[i] >= 0, "connect %d: %s", i, strerror(-fds[i]));
	}
	for (__u32 id = 1; id <= 3; id++) {
		struct socklb_backend_stats st = stats(&f, id);
		size_t got = fixture_accept_all(&f, id - 1, accepted, 12);

		ck_assert_uint_eq(st.live, 4);
		ck_assert_uint_eq(st.connecting, 0);
		ck_assert_uint_eq(st.connects, 4);
		ck_assert_uint_eq(got, 4); /* and the kernel agrees: 4 arrived at each listener */
		for (size_t i = 0; i < got; i++)
			close(accepted[i]);
	}
	close_and_settle(&f, fds, 12, 3);
	for (__u32 id = 1; id <= 3; id++)
		ck_assert_uint_eq(stats(&f, id).closes, 4);
	ck_assert_uint_eq(event(&f, SOCKLB_DP_UNTRACKED_HANDOFF), 0);
	ck_assert_uint_eq(event(&f, SOCKLB_DP_UNTRACKED_STORAGE), 0);
	fixture_stop(&f);
}
END_TEST

/* Connects to VIP n times; how many went to each of backend ids 1..3 (live counts). */
static void connect_n(struct fixture *f, int *fds, int n, __u64 live[3])
{
	for (int i = 0; i < n; i++) {
		fds[i] = fixture_connect(VIP);
		ck_assert_msg(fds[i] >= 0, "connect %d: %s", i, strerror(-fds[i]));
	}
	for (__u32 id = 1; id <= 3; id++)
		live[id - 1] = stats(f, id).live;
}

/*
 * 6 connects onto 3 backends whose extras (backend_extra) are 0, 5 and 3,
 * the service entry carrying flags; live per backend after them.  false:
 * the fixture cannot run here (the test is skipped).
 */
static bool connect_over_extras(const struct socklb_config *cfg, __u32 flags, __u64 live[3])
{
	struct fixture f;
	int fds[6];

	if (!fixture_start(&f, cfg))
		return false;
	fixture_listeners(&f, 3);
	fixture_service_flags(&f, VIP, 0, 3, 1, flags);
	ck_assert_int_eq(lb_maps_set_extra(&f.loader.maps, 2, 5), 0);
	ck_assert_int_eq(lb_maps_set_extra(&f.loader.maps, 3, 3), 0);
	connect_n(&f, fds, 6, live);
	close_and_settle(&f, fds, 6, 3);
	fixture_stop(&f);
	return true;
}

/* Least-conn added the extras: the second left alone, the others at 4 and 2 (or 5 and 1). */
static bool extras_added(const __u64 live[3])
{
	return live[1] == 0 && ((live[0] == 4 && live[2] == 2) || (live[0] == 5 && live[2] == 1));
}

/*
 * Least-conn adds backend_extra to each backend's load when the cluster view
 * is on (the load-time setting: the other nodes' connections), or for a
 * service whose entry is SOCKLB_SERVICE_STEERED (the time-fair steering).
 * Otherwise the extras are not even read: 2 each.
 */
START_TEST(test_least_conn_adds_the_extras_with_the_cluster_view_or_steering)
{
	struct socklb_config cfg = {.policy = SOCKLB_POLICY_LEAST_CONN, .cluster_view = 1};
	__u64 live[3] = {0};

	if (!connect_over_extras(&cfg, 0, live))
		return;
	ck_assert_msg(extras_added(live), "cluster view: live %llu, %llu, %llu",
		      (unsigned long long)live[0], (unsigned long long)live[1],
		      (unsigned long long)live[2]);
	cfg.cluster_view = 0;
	connect_over_extras(&cfg, 0, live);
	ck_assert(live[0] == 2 && live[1] == 2 && live[2] == 2);
	connect_over_extras(&cfg, SOCKLB_SERVICE_STEERED, live);
	ck_assert_msg(extras_added(live), "steered: live %llu, %llu, %llu",
		      (unsigned long long)live[0], (unsigned long long)live[1],
		      (unsigned long long)live[2]);
}
END_TEST

START_TEST(test_two_choices_over_a_large_set)
{
	enum { N = 20, CONNS = 400 };
	struct fixture f;
	int *fds = calloc(CONNS, sizeof(*fds));
	__u64 min = ~0ULL, max = 0, sum = 0;

	REQUIRE_FIXTURE(&f, NULL);
	fixture_listeners(&f, N);
	fixture_service(&f, VIP, 0, N, 1); /* more than fit inline: slots, power of two choices */
	for (int i = 0; i < CONNS; i++) {
		fds[i] = fixture_connect(VIP);
		ck_assert_msg(fds[i] >= 0, "connect %d: %s", i, strerror(-fds[i]));
	}
	for (__u32 id = 1; id <= N; id++) {
		__u64 live = stats(&f, id).live;

		min = live < min ? live : min;
		max = live > max ? live : max;
		sum += live;
	}
	ck_assert_uint_eq(sum, CONNS);
	/*
	 * Two random choices keep the spread small: simulated, 400 over 20 by
	 * two distinct random choices spread more than 9 wide in 0 of 60,000
	 * runs (more than 6 in 0.4 %: the bound this test had with 200), random
	 * alone 9 wide or less in 0.6 % (binomial, sd 4.4: about 16 wide).
	 */
	ck_assert_msg(max - min <= 9, "live per backend from %llu to %llu", (unsigned long long)min,
		      (unsigned long long)max);
	close_and_settle(&f, fds, CONNS, N);
	free(fds);
	fixture_stop(&f);
}
END_TEST

START_TEST(test_refusals_are_counted_by_reason)
{
	struct endpoint v6 = {.family = AF_INET6, .port = htons(80)};
	struct lb_service_slots slots;
	struct endpoint vip;
	char err[64];
	__u32 id = 9;
	struct fixture f;

	REQUIRE_FIXTURE(&f, NULL);
	fixture_listeners(&f, 1);
	/* No backend: refused at once, nothing sent. */
	fixture_service(&f, VIP, 0, 0, 1);
	ck_assert_int_eq(fixture_connect(VIP), -ECONNREFUSED);
	ck_assert_uint_eq(event(&f, SOCKLB_DP_REFUSED_NO_BACKEND), 1);
	/* An IPv4 VIP whose backend is IPv6 (the agent never writes that; the program checks). */
	v6.addr.bytes[15] = 1;
	ck_assert_int_eq(lb_maps_write_backend(&f.loader.maps, id, &v6, 2), 0);
	ck_assert_int_eq(endpoint_parse("10.255.0.2:80", &vip, err, sizeof(err)), 0);
	lb_service_slots_init(&slots, 2);
	ck_assert_int_eq(lb_maps_publish(&f.loader.maps, &vip, &slots, &id, 1), 0);
	ck_assert_int_eq(fixture_connect("10.255.0.2:80"), -ECONNREFUSED);
	ck_assert_uint_eq(event(&f, SOCKLB_DP_REFUSED_FAMILY), 1);
	ck_assert_uint_eq(event(&f, SOCKLB_DP_REFUSED_NO_BACKEND), 1);
	ck_assert_uint_eq(stats(&f, id).connects, 0);
	fixture_stop(&f);
}
END_TEST

START_TEST(test_getpeername_shows_the_vip)
{
	struct sockaddr_in peer;
	socklen_t len = sizeof(peer);
	struct fixture f;
	int fd;

	REQUIRE_FIXTURE(&f, NULL);
	fixture_listeners(&f, 1);
	fixture_service(&f, VIP, 0, 1, 1);
	fd = fixture_connect(VIP);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(getpeername(fd, (struct sockaddr *)&peer, &len), 0);
	ck_assert_uint_eq(peer.sin_addr.s_addr, inet_addr("10.255.0.1"));
	ck_assert_uint_eq(ntohs(peer.sin_port), 80);
	close_and_settle(&f, &fd, 1, 1);
	fixture_stop(&f);
}
END_TEST

START_TEST(test_other_destinations_are_left_alone)
{
	struct fixture f;
	__u64 before;
	int fd;

	REQUIRE_FIXTURE(&f, NULL);
	fixture_listeners(&f, 1);
	fixture_service(&f, VIP, 0, 1, 1);
	before = event(&f, SOCKLB_DP_ACTIVITY);
	/* Not a service: not rewritten, and with no route out it cannot leave. */
	ck_assert_int_eq(fixture_connect("10.255.0.3:80"), -ENETUNREACH);
	/* A direct connect to the backend is not balanced either. */
	{
		char direct[32];

		snprintf(direct, sizeof(direct), "127.0.0.1:%u", f.ports[0]);
		fd = fixture_connect(direct);
		ck_assert_int_ge(fd, 0);
		close(fd);
	}
	ck_assert_uint_eq(event(&f, SOCKLB_DP_ACTIVITY), before);
	ck_assert_uint_eq(stats(&f, 1).connects, 0);
	ck_assert_uint_eq(stats(&f, 1).live, 0);
	fixture_stop(&f);
}
END_TEST

START_TEST(test_a_failed_connect_counts_out_once)
{
	struct fixture f;
	int fd;

	REQUIRE_FIXTURE(&f, NULL);
	fixture_listeners(&f, 1);
	fixture_service(&f, VIP, 0, 1, 1);
	close(f.listeners[0]); /* the backend's port is closed: the SYN gets an RST */
	f.n_listeners = 0;
	ck_assert_int_eq(fixture_connect(VIP), -ECONNREFUSED);
	ck_assert_uint_eq(stats(&f, 1).connects, 1);
	ck_assert_uint_eq(stats(&f, 1).connect_failures, 1);
	ck_assert_uint_eq(stats(&f, 1).connecting, 0);
	ck_assert_uint_eq(stats(&f, 1).live, 0);
	ck_assert_uint_eq(stats(&f, 1).closes, 0);
	(void)fd;
	fixture_stop(&f);
}
END_TEST

Suite *bpf_connect_suite(void)
{
	Suite *s = suite_create("bpf_connect");
	TCase *tc = tcase_create("connect");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_least_conn_exact_over_an_inline_set);
	tcase_add_test(tc, test_least_conn_adds_the_extras_with_the_cluster_view_or_steering);
	tcase_add_test(tc, test_two_choices_over_a_large_set);
	tcase_add_test(tc, test_refusals_are_counted_by_reason);
	tcase_add_test(tc, test_getpeername_shows_the_vip);
	tcase_add_test(tc, test_other_destinations_are_left_alone);
	tcase_add_test(tc, test_a_failed_connect_counts_out_once);
	suite_add_tcase(s, tc);
	return s;
}
