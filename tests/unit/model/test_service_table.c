// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* agent_services.h on real BPF maps: applying specs, keeping ids, retiring. */
#include <bpf/bpf.h>
#include <errno.h>
#include <stdlib.h>

#include "model/service_table.h"
#include "helpers.h"
#include "lib/log.h"
#include "suites.h"

#define VIP "10.96.0.10:8080"

static void quiet_logs(void)
{
	log_set_level(LOG_WARN);
}

/* Applies spec texts, which must all apply cleanly. */
static void apply(struct service_table *t, const char *const *texts, size_t n)
{
	struct service_spec_list list;

	spec_list(&list, texts, n);
	ck_assert_int_eq(service_table_apply(t, &list), 0);
	service_spec_list_free(&list);
}

static void apply1(struct service_table *t, const char *text)
{
	apply(t, &text, 1);
}

static const struct agent_service *find(const struct service_table *t, const char *vip)
{
	struct endpoint e = ep(vip);

	for (size_t i = 0; i < t->n; i++) {
		if (endpoint_equal(&t->items[i].vip, &e))
			return &t->items[i];
	}
	return NULL;
}

/* What a connect to vip sees now: the services entry and the backends of its set. */
struct live_set {
	struct socklb_service svc;
	__u32 ids[16];
	struct endpoint eps[16];
};

static void read_live(const struct lb_maps *m, const char *vip, struct live_set *out)
{
	struct endpoint e = ep(vip);

	ck_assert_int_eq(test_read_service(m, &e, &out->svc), 0);
	ck_assert_uint_le(out->svc.backend_count, 16);
	for (__u32 i = 0; i < out->svc.backend_count; i++) {
		struct socklb_backend be;

		/* Sets of up to 16 live in the entry itself. */
		out->ids[i] = out->svc.backend_ids[i];
		ck_assert_uint_ne(out->ids[i], SOCKLB_BACKEND_ID_NONE);
		be = test_read_backend(m, out->ids[i]);
		ck_assert_uint_eq(be.service_id, out->svc.service_id);
		out->eps[i] = endpoint_from_backend(&be);
	}
}

/* The id the live set gives backend text; 0 if it is not in the set. */
static __u32 live_id(const struct live_set *s, const char *backend)
{
	struct endpoint e = ep(backend);

	for (__u32 i = 0; i < s->svc.backend_count; i++) {
		if (endpoint_equal(&s->eps[i], &e))
			return s->ids[i];
	}
	return 0;
}

static bool is_retired(const struct service_table *t, __u32 id)
{
	for (size_t i = 0; i < t->n_retired; i++) {
		if (t->retired[i].id == id)
			return true;
	}
	return false;
}

START_TEST(test_apply_first)
{
	struct service_table t;
	struct live_set s;
	struct lb_maps m;
	char buf[ENDPOINT_STR_LEN];

	REQUIRE_MAPS(&m, NULL);
	service_table_init(&t, &m, TEST_MAX_SERVICES, TEST_MAX_BACKENDS);
	apply1(&t, VIP "=static:10.244.1.13:8080,10.244.1.11:8080,10.244.1.12:8080");
	read_live(&m, VIP, &s);
	ck_assert_uint_eq(s.svc.service_id, 1);
	ck_assert_uint_eq(s.svc.backend_count, 3);
	ck_assert_uint_eq(s.svc.active_half, 0); /* sets of up to 16: in the entry */
	/* Slots in sorted order, ids from 1, stats zeroed. */
	ck_assert_str_eq(endpoint_str(&s.eps[0], buf, sizeof(buf)), "10.244.1.11:8080");
	ck_assert_str_eq(endpoint_str(&s.eps[1], buf, sizeof(buf)), "10.244.1.12:8080");
	ck_assert_str_eq(endpoint_str(&s.eps[2], buf, sizeof(buf)), "10.244.1.13:8080");
	for (__u32 i = 0; i < 3; i++) {
		struct socklb_backend_stats st;

		ck_assert_uint_eq(s.ids[i], i + 1);
		ck_assert_int_eq(lb_maps_read_stats(&m, s.ids[i], &st), 0);
		ck_assert_uint_eq(st.live + st.connecting + st.connects, 0);
	}
	ck_assert_uint_eq(test_count_all_slots(&m), 0);
	ck_assert_uint_eq(t.n, 1);
	ck_assert(t.items[0].published);
	ck_assert_str_eq(t.items[0].source,
			 "static:10.244.1.13:8080,10.244.1.11:8080,10.244.1.12:8080");
	ck_assert_uint_eq(t.n_retired, 0);
	service_table_free(&t);
	ck_assert_ptr_null(t.items);
	test_maps_destroy(&m);
}
END_TEST

START_TEST(test_apply_keeps_ids_and_retires)
{
	struct service_table t;
	struct live_set before, after, s;
	__u32 id11, id12, id13, id14, id15;
	struct lb_maps m;
	struct socklb_backend be;
	struct socklb_backend_stats st;

	REQUIRE_MAPS(&m, NULL);
	service_table_init(&t, &m, TEST_MAX_SERVICES, TEST_MAX_BACKENDS);
	apply1(&t, VIP "=static:10.244.1.11:8080,10.244.1.12:8080,10.244.1.13:8080");
	read_live(&m, VIP, &before);
	id11 = live_id(&before, "10.244.1.11:8080");
	id12 = live_id(&before, "10.244.1.12:8080");
	id13 = live_id(&before, "10.244.1.13:8080");
	ck_assert(id11 && id12 && id13);
	/* .13 still has a connection when it is removed. */
	test_set_stats(&m, id13, 1, 0);

	apply1(&t, VIP "=static:10.244.1.11:8080,10.244.1.12:8080,10.244.1.14:8080");
	read_live(&m, VIP, &after);
	ck_assert_uint_eq(after.svc.service_id, before.svc.service_id);
	ck_assert_uint_eq(after.svc.backend_count, 3);
	ck_assert_uint_eq(after.svc.active_half, 0); /* sets of up to 16: in the entry */
	ck_assert_uint_eq(live_id(&after, "10.244.1.11:8080"), id11);
	ck_assert_uint_eq(live_id(&after, "10.244.1.12:8080"), id12);
	ck_assert_uint_eq(live_id(&after, "10.244.1.13:8080"), 0);
	id14 = live_id(&after, "10.244.1.14:8080");
	ck_assert_uint_ne(id14, 0);
	ck_assert_uint_ne(id14, id11);
	ck_assert_uint_ne(id14, id12);
	ck_assert_uint_ne(id14, id13);
	/* The old half is still whole for a connect that read the old entry. */
	ck_assert_uint_eq(test_count_slots(&m, after.svc.service_id), 0);

	/* Retired, and it stays so while it has a connection. */
	ck_assert_uint_eq(t.n_retired, 1);
	ck_assert(is_retired(&t, id13));
	service_table_reap_retired(&t);
	ck_assert_uint_eq(t.n_retired, 1);
	ck_assert(is_retired(&t, id13));
	/* A connection still being set up counts too. */
	test_set_stats(&m, id13, 0, 1);
	service_table_reap_retired(&t);
	ck_assert(is_retired(&t, id13));
	/* And one sent a GOAWAY, not closed yet (out of live, still open). */
	memset(&st, 0, sizeof(st));
	st.draining = 1;
	ck_assert_int_eq(bpf_map_update_elem(test_map_fd(&m, "backend_stats"), &id13, &st, BPF_ANY),
			 0);
	service_table_reap_retired(&t);
	ck_assert(is_retired(&t, id13));
	/* A backend added meanwhile does not get the retired id. */
	apply1(&t, VIP "=static:10.244.1.11:8080,10.244.1.12:8080,10.244.1.14:8080,"
		       "10.244.1.15:8080");
	read_live(&m, VIP, &s);
	id15 = live_id(&s, "10.244.1.15:8080");
	ck_assert_uint_ne(id15, 0);
	ck_assert_uint_ne(id15, id13);
	ck_assert(is_retired(&t, id13));
	/* Its backend entry is left alone for the connection still using it. */
	be = test_read_backend(&m, id13);
	{
		struct endpoint e13 = ep("10.244.1.13:8080"), got = endpoint_from_backend(&be);

		ck_assert(endpoint_equal(&got, &e13));
	}

	/* The last connection closed: the id is freed and the next new backend gets it. */
	memset(&st, 0, sizeof(st));
	st.connects = 42;
	st.closes = 42;
	ck_assert_int_eq(bpf_map_update_elem(test_map_fd(&m, "backend_stats"), &id13, &st, BPF_ANY),
			 0);
	service_table_reap_retired(&t);
	ck_assert_uint_eq(t.n_retired, 0);
	apply1(&t, VIP "=static:10.244.1.11:8080,10.244.1.12:8080,10.244.1.14:8080,"
		       "10.244.1.15:8080,10.244.1.16:8080");
	read_live(&m, VIP, &s);
	ck_assert_uint_eq(live_id(&s, "10.244.1.16:8080"), id13);
	ck_assert_uint_eq(live_id(&s, "10.244.1.11:8080"), id11);
	ck_assert_uint_eq(live_id(&s, "10.244.1.14:8080"), id14);
	/* Reused ids start with clean counters. */
	ck_assert_int_eq(lb_maps_read_stats(&m, id13, &st), 0);
	ck_assert_uint_eq(st.connects, 0);
	ck_assert_uint_eq(st.closes, 0);
	service_table_free(&t);
	test_maps_destroy(&m);
}
END_TEST

START_TEST(test_apply_unchanged_is_noop)
{
	const char *const texts[] = {VIP "=static:10.244.1.11:8080,10.244.1.12:8080",
				     "10.96.0.11:80=static:"};
	struct service_table t;
	struct live_set before, after;
	struct lb_maps m;

	REQUIRE_MAPS(&m, NULL);
	service_table_init(&t, &m, TEST_MAX_SERVICES, TEST_MAX_BACKENDS);
	apply(&t, texts, 2);
	read_live(&m, VIP, &before);
	apply(&t, texts, 2);
	apply(&t, texts, 2);
	/* Nothing changed: no new publish, so the active half did not move. */
	read_live(&m, VIP, &after);
	ck_assert_uint_eq(after.svc.active_half, 0); /* sets of up to 16: in the entry */
	ck_assert_uint_eq(after.svc.backend_count, 2);
	ck_assert_uint_eq(after.ids[0], before.ids[0]);
	ck_assert_uint_eq(after.ids[1], before.ids[1]);
	ck_assert_uint_eq(test_count_all_slots(&m), 0);
	ck_assert_uint_eq(t.n, 2);
	ck_assert_uint_eq(t.n_retired, 0);
	service_table_free(&t);
	test_maps_destroy(&m);
}
END_TEST

START_TEST(test_apply_empty_then_backends)
{
	struct service_table t;
	struct live_set s;
	struct lb_maps m;

	REQUIRE_MAPS(&m, NULL);
	service_table_init(&t, &m, TEST_MAX_SERVICES, TEST_MAX_BACKENDS);
	/* A service with no backends is still published: connects to it are refused. */
	apply1(&t, VIP "=static:");
	read_live(&m, VIP, &s);
	ck_assert_uint_eq(s.svc.backend_count, 0);
	ck_assert(find(&t, VIP)->published);

	apply1(&t, VIP "=static:10.244.1.11:8080,10.244.1.12:8080");
	read_live(&m, VIP, &s);
	ck_assert_uint_eq(s.svc.backend_count, 2);
	ck_assert_uint_eq(s.svc.active_half, 0); /* sets of up to 16: in the entry */

	/* And back to none: count 0, both backends retired and (idle) freed. */
	apply1(&t, VIP "=static:");
	read_live(&m, VIP, &s);
	ck_assert_uint_eq(s.svc.backend_count, 0);
	ck_assert_uint_eq(s.svc.active_half, 0); /* sets of up to 16: in the entry */
	ck_assert_uint_eq(t.n_retired, 0);
	ck_assert_uint_eq(find(&t, VIP)->backends.n, 0);
	service_table_free(&t);
	test_maps_destroy(&m);
}
END_TEST

START_TEST(test_apply_removes_service)
{
	const char *const both[] = {VIP "=static:10.244.1.11:8080,10.244.1.12:8080",
				    "[fd00::10]:443=static:[fd00::1]:443,[fd00::2]:443"};
	struct endpoint gone = ep("[fd00::10]:443");
	struct socklb_service svc;
	struct service_table t;
	struct live_set s;
	__u32 gone_id;
	struct lb_maps m;

	REQUIRE_MAPS(&m, NULL);
	service_table_init(&t, &m, TEST_MAX_SERVICES, TEST_MAX_BACKENDS);
	apply(&t, both, 2);
	read_live(&m, "[fd00::10]:443", &s);
	gone_id = s.svc.service_id;
	ck_assert_uint_eq(s.svc.backend_count, 2);
	/* One of its backends still has a connection. */
	test_set_stats(&m, s.ids[1], 1, 0);
	ck_assert_uint_eq(test_count_all_slots(&m), 0);

	apply1(&t, both[0]);
	ck_assert_int_eq(test_read_service(&m, &gone, &svc), -ENOENT);
	ck_assert_uint_eq(test_count_slots(&m, gone_id), 0);
	ck_assert_uint_eq(test_count_all_slots(&m), 0);
	ck_assert_uint_eq(t.n, 1);
	ck_assert_ptr_null(find(&t, "[fd00::10]:443"));
	ck_assert_ptr_nonnull(find(&t, VIP));
	/* Its idle backend was freed, the busy one waits. */
	ck_assert_uint_eq(t.n_retired, 1);
	ck_assert(is_retired(&t, s.ids[1]));
	/* The other service is untouched. */
	read_live(&m, VIP, &s);
	ck_assert_uint_eq(s.svc.backend_count, 2);
	ck_assert_uint_eq(s.svc.active_half, 0); /* sets of up to 16: in the entry */

	/* No services at all. */
	{
		struct service_spec_list none = {0};

		ck_assert_int_eq(service_table_apply(&t, &none), 0);
	}
	ck_assert_uint_eq(t.n, 0);
	ck_assert_int_eq(test_read_service(&m, &s.eps[0], &svc), -ENOENT);
	{
		struct endpoint vip = ep(VIP);

		ck_assert_int_eq(test_read_service(&m, &vip, &svc), -ENOENT);
	}
	ck_assert_uint_eq(test_count_all_slots(&m), 0);
	service_table_free(&t);
	test_maps_destroy(&m);
}
END_TEST

START_TEST(test_service_ids_reused)
{
	struct service_table t;
	struct live_set s;
	struct lb_maps m;

	REQUIRE_MAPS(&m, NULL);
	service_table_init(&t, &m, TEST_MAX_SERVICES, TEST_MAX_BACKENDS);
	apply1(&t, "10.96.0.1:80=static:10.244.1.11:80");
	read_live(&m, "10.96.0.1:80", &s);
	ck_assert_uint_eq(s.svc.service_id, 1);
	/* Replaced by another VIP: added before the old one goes, so it gets 2. */
	apply1(&t, "10.96.0.2:80=static:10.244.1.11:80");
	read_live(&m, "10.96.0.2:80", &s);
	ck_assert_uint_eq(s.svc.service_id, 2);
	ck_assert_uint_eq(test_count_slots(&m, 1), 0);
	/* The next one gets the freed 1, and starts clean in half 0. */
	apply1(&t, "10.96.0.3:80=static:10.244.1.11:80,10.244.1.12:80");
	read_live(&m, "10.96.0.3:80", &s);
	ck_assert_uint_eq(s.svc.service_id, 1);
	ck_assert_uint_eq(s.svc.active_half, 0); /* sets of up to 16: in the entry */
	ck_assert_uint_eq(s.svc.backend_count, 2);
	ck_assert_uint_eq(test_count_slots(&m, 1), 0);
	ck_assert_uint_eq(test_count_all_slots(&m), 0);
	ck_assert_uint_eq(t.n, 1);
	service_table_free(&t);
	test_maps_destroy(&m);
}
END_TEST

START_TEST(test_same_backend_two_services)
{
	const char *const texts[] = {"10.96.0.1:80=static:10.244.1.11:80,10.244.1.12:80",
				     "10.96.0.2:80=static:10.244.1.12:80"};
	struct service_table t;
	struct live_set a, b;
	struct lb_maps m;

	REQUIRE_MAPS(&m, NULL);
	service_table_init(&t, &m, TEST_MAX_SERVICES, TEST_MAX_BACKENDS);
	apply(&t, texts, 2);
	read_live(&m, "10.96.0.1:80", &a);
	read_live(&m, "10.96.0.2:80", &b);
	ck_assert_uint_ne(a.svc.service_id, b.svc.service_id);
	/* The same pod behind two services has an id (and counters) per service. */
	ck_assert_uint_ne(live_id(&a, "10.244.1.12:80"), live_id(&b, "10.244.1.12:80"));
	ck_assert_uint_ne(live_id(&a, "10.244.1.11:80"), live_id(&b, "10.244.1.12:80"));
	service_table_free(&t);
	test_maps_destroy(&m);
}
END_TEST

START_TEST(test_backend_table_full)
{
	struct service_spec_list list;
	const char *const three[] = {VIP "=static:10.244.1.11:80,10.244.1.12:80,10.244.1.13:80",
				     "10.96.0.11:80=static:10.244.1.11:80"};
	const char *const two[] = {VIP "=static:10.244.1.12:80",
				   "10.96.0.11:80=static:10.244.1.11:80"};
	struct endpoint vip = ep(VIP);
	struct socklb_service svc;
	struct service_table t;
	struct live_set s;
	struct lb_maps m;

	REQUIRE_MAPS(&m, NULL);
	log_set_level((enum log_level)(LOG_ERROR + 1));
	service_table_init(&t, &m, TEST_MAX_SERVICES, 2);
	/* Three backends, room for two: that service fails, the other one is applied. */
	spec_list(&list, three, 2);
	ck_assert_int_eq(service_table_apply(&t, &list), -EINVAL);
	service_spec_list_free(&list);
	ck_assert_int_eq(test_read_service(&m, &vip, &svc), -ENOENT);
	ck_assert(!find(&t, VIP)->published);
	read_live(&m, "10.96.0.11:80", &s);
	ck_assert_uint_eq(s.svc.backend_count, 1);
	ck_assert_uint_eq(test_count_slots(&m, s.svc.service_id), 0);

	/* The ids taken by the failed attempt were given back: the last one is free. */
	apply(&t, two, 2);
	read_live(&m, VIP, &s);
	ck_assert(find(&t, VIP)->published);
	ck_assert_uint_eq(s.svc.backend_count, 1);
	{
		struct live_set other;

		read_live(&m, "10.96.0.11:80", &other);
		ck_assert_uint_eq(s.ids[0] + other.ids[0], 3);
		ck_assert_uint_ne(s.ids[0], other.ids[0]);
	}
	service_table_free(&t);
	test_maps_destroy(&m);
}
END_TEST

START_TEST(test_service_table_full)
{
	const char *const texts[] = {
	    "10.96.0.1:80=static:", "10.96.0.2:80=static:", "10.96.0.3:80=static:"};
	struct service_spec_list list;
	struct endpoint third = ep("10.96.0.3:80");
	struct socklb_service svc;
	struct service_table t;
	struct lb_maps m;

	REQUIRE_MAPS(&m, NULL);
	log_set_level((enum log_level)(LOG_ERROR + 1));
	service_table_init(&t, &m, 2, TEST_MAX_BACKENDS);
	spec_list(&list, texts, 3);
	ck_assert_int_eq(service_table_apply(&t, &list), -EINVAL);
	service_spec_list_free(&list);
	ck_assert_uint_eq(t.n, 2);
	ck_assert_int_eq(test_read_service(&m, &third, &svc), -ENOENT);
	ck_assert_ptr_nonnull(find(&t, "10.96.0.1:80"));
	ck_assert_ptr_nonnull(find(&t, "10.96.0.2:80"));
	service_table_free(&t);
	test_maps_destroy(&m);
}
END_TEST

START_TEST(test_set_backends)
{
	const char *const texts[] = {"10.244.1.11:8080", "10.244.1.13:8080"};
	struct endpoint vip = ep(VIP), other = ep("10.96.0.99:80");
	struct endpoint backends[2];
	struct live_set before, after;
	struct service_table t;
	__u32 id12;
	struct lb_maps m;

	REQUIRE_MAPS(&m, NULL);
	service_table_init(&t, &m, TEST_MAX_SERVICES, TEST_MAX_BACKENDS);
	apply1(&t, VIP "=static:10.244.1.11:8080,10.244.1.12:8080");
	read_live(&m, VIP, &before);
	id12 = live_id(&before, "10.244.1.12:8080");

	for (size_t i = 0; i < 2; i++)
		backends[i] = ep(texts[i]);
	ck_assert_int_eq(service_table_set_backends(&t, &other, backends, 2), -ENOENT);
	ck_assert_int_eq(service_table_set_backends(&t, &vip, backends, 2), 0);
	read_live(&m, VIP, &after);
	ck_assert_uint_eq(after.svc.active_half, 0); /* sets of up to 16: in the entry */
	ck_assert_uint_eq(after.svc.backend_count, 2);
	ck_assert_uint_eq(live_id(&after, "10.244.1.11:8080"),
			  live_id(&before, "10.244.1.11:8080"));
	ck_assert_uint_ne(live_id(&after, "10.244.1.13:8080"), 0);
	ck_assert_uint_ne(live_id(&after, "10.244.1.13:8080"), id12);
	/* The removed one is retired until the next reap. */
	ck_assert(is_retired(&t, id12));
	service_table_reap_retired(&t);
	ck_assert_uint_eq(t.n_retired, 0);
	/* The same set again changes nothing. */
	ck_assert_int_eq(service_table_set_backends(&t, &vip, backends, 2), 0);
	read_live(&m, VIP, &after);
	ck_assert_uint_eq(after.svc.active_half, 0); /* sets of up to 16: in the entry */
	/* And none at all leaves the service with count 0. */
	ck_assert_int_eq(service_table_set_backends(&t, &vip, NULL, 0), 0);
	read_live(&m, VIP, &after);
	ck_assert_uint_eq(after.svc.backend_count, 0);
	ck_assert_uint_eq(t.n_retired, 2);
	service_table_free(&t);
	test_maps_destroy(&m);
}
END_TEST

Suite *service_table_suite(void)
{
	Suite *s = suite_create("service_table");
	TCase *tc = tcase_create("apply");

	tcase_add_checked_fixture(tc, quiet_logs, NULL);
	tcase_add_test(tc, test_apply_first);
	tcase_add_test(tc, test_apply_keeps_ids_and_retires);
	tcase_add_test(tc, test_apply_unchanged_is_noop);
	tcase_add_test(tc, test_apply_empty_then_backends);
	tcase_add_test(tc, test_apply_removes_service);
	tcase_add_test(tc, test_service_ids_reused);
	tcase_add_test(tc, test_same_backend_two_services);
	tcase_add_test(tc, test_backend_table_full);
	tcase_add_test(tc, test_service_table_full);
	tcase_add_test(tc, test_set_backends);
	suite_add_tcase(s, tc);
	return s;
}
