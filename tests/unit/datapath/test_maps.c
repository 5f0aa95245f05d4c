// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The map layer (datapath/maps.h) on real BPF maps: backend entries, the two-half publish, removal.
 */
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "helpers.h"
#include "socklb.skel.h"
#include "suites.h"

static void assert_service(const struct lb_maps *m, const struct endpoint *vip, __u32 service_id,
			   __u32 count, __u32 half)
{
	struct socklb_service svc;

	ck_assert_int_eq(test_read_service(m, vip, &svc), 0);
	ck_assert_uint_eq(svc.service_id, service_id);
	ck_assert_uint_eq(svc.backend_count, count);
	ck_assert_uint_eq(svc.active_half, half);
	ck_assert_uint_eq(svc.flags, 0);
}

/* Slots half/0 .. half/n-1 hold ids; the slot after them is empty. */
static void assert_half(const struct lb_maps *m, __u32 service_id, __u32 half, const __u32 *ids,
			size_t n)
{
	__u32 id;

	for (size_t i = 0; i < n; i++) {
		ck_assert_msg(test_read_slot(m, service_id, half, (__u32)i, &id) == 0,
			      "slot %u/%zu of service %u is missing", half, i, service_id);
		ck_assert_uint_eq(id, ids[i]);
	}
	ck_assert_int_eq(test_read_slot(m, service_id, half, (__u32)n, &id), -ENOENT);
}

START_TEST(test_slots_init)
{
	struct lb_service_slots slots;

	memset(&slots, 0xa5, sizeof(slots));
	lb_service_slots_init(&slots, 7);
	ck_assert_uint_eq(slots.service_id, 7);
	ck_assert_uint_eq(slots.active_half, 1);
	ck_assert_uint_eq(slots.half_count[0], 0);
	ck_assert_uint_eq(slots.half_count[1], 0);
	ck_assert_uint_eq(socklb_slot(1, 5), (1u << SOCKLB_SLOT_HALF_SHIFT) | 5);
}
END_TEST

/* n ids from first up: first, first + 1, ... */
static void ids_from(__u32 *ids, size_t n, __u32 first)
{
	for (size_t i = 0; i < n; i++)
		ids[i] = first + (__u32)i;
}

/* The service's inline set is exactly ids[0..n). */
static void assert_inline(const struct lb_maps *m, const struct endpoint *vip, const __u32 *ids,
			  size_t n)
{
	struct socklb_service svc;

	ck_assert_int_eq(test_read_service(m, vip, &svc), 0);
	ck_assert_uint_eq(svc.backend_count, n);
	for (size_t i = 0; i < SOCKLB_INLINE_BACKENDS; i++)
		ck_assert_uint_eq(svc.backend_ids[i], i < n ? ids[i] : 0);
}

#define BIG (SOCKLB_INLINE_BACKENDS + 1)

START_TEST(test_publish_small_set_inline)
{
	const __u32 ids[] = {11, 12, 13};
	const __u32 more[] = {11, 13, 14, 15};
	struct endpoint vip = ep("10.96.0.10:8080");
	struct lb_service_slots slots;
	struct lb_maps m;

	REQUIRE_MAPS(&m, NULL);
	lb_service_slots_init(&slots, 3);
	ck_assert_int_eq(lb_maps_publish(&m, &vip, &slots, ids, 3), 0);
	assert_inline(&m, &vip, ids, 3);
	/* A small set needs no slot: one update of the entry switches it. */
	ck_assert_uint_eq(test_count_all_slots(&m), 0);
	ck_assert_int_eq(lb_maps_publish(&m, &vip, &slots, more, 4), 0);
	assert_inline(&m, &vip, more, 4);
	ck_assert_uint_eq(test_count_all_slots(&m), 0);
	test_maps_destroy(&m);
}
END_TEST

START_TEST(test_publish_large_sets_use_two_halves)
{
	__u32 first[BIG + 2], second[BIG + 1];
	struct endpoint vip = ep("10.96.0.10:8080");
	struct lb_service_slots slots;
	struct lb_maps m;

	ids_from(first, BIG + 2, 11);
	ids_from(second, BIG + 1, 31);
	REQUIRE_MAPS(&m, NULL);
	lb_service_slots_init(&slots, 3);
	ck_assert_int_eq(lb_maps_publish(&m, &vip, &slots, first, BIG + 2), 0);
	assert_service(&m, &vip, 3, BIG + 2, 0);
	assert_half(&m, 3, 0, first, BIG + 2);
	ck_assert_int_eq(lb_maps_publish(&m, &vip, &slots, second, BIG + 1), 0);
	assert_service(&m, &vip, 3, BIG + 1, 1);
	assert_half(&m, 3, 1, second, BIG + 1);
	/* A connect that read the old service entry still finds the whole old set. */
	assert_half(&m, 3, 0, first, BIG + 2);
	/* A third set reuses half 0 and drops its leftover slot. */
	ck_assert_int_eq(lb_maps_publish(&m, &vip, &slots, second, BIG + 1), 0);
	assert_service(&m, &vip, 3, BIG + 1, 0);
	assert_half(&m, 3, 0, second, BIG + 1);
	ck_assert_uint_eq(test_count_slots(&m, 3), 2 * (BIG + 1));
	ck_assert_uint_eq(slots.half_count[0], BIG + 1);
	ck_assert_uint_eq(slots.half_count[1], BIG + 1);
	test_maps_destroy(&m);
}
END_TEST

START_TEST(test_publish_shrink_to_inline_then_grow)
{
	__u32 large[BIG], small[] = {7, 8};
	struct endpoint vip = ep("10.96.0.10:8080");
	struct lb_service_slots slots;
	struct lb_maps m;

	ids_from(large, BIG, 11);
	REQUIRE_MAPS(&m, NULL);
	lb_service_slots_init(&slots, 4);
	ck_assert_int_eq(lb_maps_publish(&m, &vip, &slots, large, BIG), 0);
	ck_assert_int_eq(lb_maps_publish(&m, &vip, &slots, large, BIG), 0);
	ck_assert_uint_eq(test_count_slots(&m, 4), 2 * BIG);
	/* Shrunk to a small set: the idle half goes at once, the one live until now stays. */
	ck_assert_int_eq(lb_maps_publish(&m, &vip, &slots, small, 2), 0);
	assert_inline(&m, &vip, small, 2);
	ck_assert_uint_eq(test_count_slots(&m, 4), BIG);
	/* ... until the next publish. */
	ck_assert_int_eq(lb_maps_publish(&m, &vip, &slots, small, 1), 0);
	assert_inline(&m, &vip, small, 1);
	ck_assert_uint_eq(test_count_slots(&m, 4), 0);
	/* Grown again: slots from an empty start. */
	ck_assert_int_eq(lb_maps_publish(&m, &vip, &slots, large, BIG), 0);
	ck_assert_uint_eq(test_count_slots(&m, 4), BIG);
	test_maps_destroy(&m);
}
END_TEST

START_TEST(test_read_set_inline_and_slots)
{
	__u32 large[BIG];
	const __u32 small[] = {3, 1};
	struct endpoint vip = ep("10.96.0.10:8080"), be = ep("10.244.1.1:80");
	struct lb_set_member members[BIG];
	struct lb_service_slots slots;
	struct socklb_service svc;
	struct lb_maps m;

	ids_from(large, BIG, 1);
	REQUIRE_MAPS(&m, NULL);
	for (__u32 id = 1; id <= BIG; id++) {
		be.addr.ip4 = htonl(0x0af40100 + id);
		ck_assert_int_eq(lb_maps_write_backend(&m, id, &be, 5), 0);
	}
	lb_service_slots_init(&slots, 5);
	ck_assert_int_eq(lb_maps_publish(&m, &vip, &slots, small, 2), 0);
	ck_assert_int_eq(test_read_service(&m, &vip, &svc), 0);
	ck_assert_uint_eq(lb_maps_read_set(&m, &svc, members), 2);
	ck_assert_uint_eq(members[0].id, 3);
	ck_assert_uint_eq(members[0].backend.addr.ip4, htonl(0x0af40103));
	ck_assert_uint_eq(members[1].id, 1);
	ck_assert_int_eq(lb_maps_publish(&m, &vip, &slots, large, BIG), 0);
	ck_assert_int_eq(test_read_service(&m, &vip, &svc), 0);
	ck_assert_uint_eq(lb_maps_read_set(&m, &svc, members), BIG);
	for (__u32 i = 0; i < BIG; i++)
		ck_assert_uint_eq(members[i].id, i + 1);
	test_maps_destroy(&m);
}
END_TEST

START_TEST(test_publish_empty)
{
	const __u32 ids[] = {11, 12};
	struct endpoint vip = ep("[fd00::10]:443");
	struct lb_service_slots slots;
	struct socklb_service_key key;
	struct socklb_service svc;
	struct lb_maps m;

	REQUIRE_MAPS(&m, NULL);
	lb_service_slots_init(&slots, 1);
	/* No backends: the entry exists with count 0, so connects are refused. */
	ck_assert_int_eq(lb_maps_publish(&m, &vip, &slots, NULL, 0), 0);
	assert_inline(&m, &vip, NULL, 0);
	ck_assert_uint_eq(test_count_slots(&m, 1), 0);
	key = endpoint_service_key(&vip);
	ck_assert_uint_eq(key.family, AF_INET6);
	ck_assert_int_eq(bpf_map_lookup_elem(test_map_fd(&m, "services"), &key, &svc), 0);
	ck_assert_int_eq(lb_maps_publish(&m, &vip, &slots, ids, 2), 0);
	ck_assert_int_eq(lb_maps_publish(&m, &vip, &slots, NULL, 0), 0);
	assert_inline(&m, &vip, NULL, 0);
	test_maps_destroy(&m);
}
END_TEST

START_TEST(test_publish_services_independent)
{
	__u32 a_ids[BIG], b_ids[BIG];
	struct endpoint a = ep("10.96.0.10:80"), b = ep("10.96.0.10:81");
	struct lb_service_slots sa, sb;
	struct lb_maps m;

	ids_from(a_ids, BIG, 1);
	ids_from(b_ids, BIG, 21);
	REQUIRE_MAPS(&m, NULL);
	lb_service_slots_init(&sa, 1);
	lb_service_slots_init(&sb, 2);
	ck_assert_int_eq(lb_maps_publish(&m, &a, &sa, a_ids, BIG), 0);
	ck_assert_int_eq(lb_maps_publish(&m, &b, &sb, b_ids, BIG), 0);
	ck_assert_int_eq(lb_maps_publish(&m, &a, &sa, b_ids, BIG), 0);
	assert_service(&m, &a, 1, BIG, 1);
	assert_service(&m, &b, 2, BIG, 0);
	assert_half(&m, 2, 0, b_ids, BIG);
	ck_assert_int_eq(lb_maps_remove_service(&m, &a, &sa), 0);
	ck_assert_uint_eq(test_count_slots(&m, 1), 0);
	assert_service(&m, &b, 2, BIG, 0);
	assert_half(&m, 2, 0, b_ids, BIG);
	ck_assert_uint_eq(test_count_all_slots(&m), BIG);
	test_maps_destroy(&m);
}
END_TEST

START_TEST(test_remove_service)
{
	__u32 first[BIG];
	const __u32 second[] = {14};
	struct endpoint vip = ep("10.96.0.10:8080");
	struct lb_service_slots slots;
	struct socklb_service svc;
	struct lb_maps m;

	ids_from(first, BIG, 11);
	REQUIRE_MAPS(&m, NULL);
	lb_service_slots_init(&slots, 9);
	ck_assert_int_eq(lb_maps_publish(&m, &vip, &slots, first, BIG), 0);
	ck_assert_int_eq(lb_maps_publish(&m, &vip, &slots, second, 1), 0);
	ck_assert_uint_eq(test_count_slots(&m, 9), BIG); /* the half live a moment ago */
	ck_assert_int_eq(lb_maps_remove_service(&m, &vip, &slots), 0);
	ck_assert_int_eq(test_read_service(&m, &vip, &svc), -ENOENT);
	ck_assert_uint_eq(test_count_all_slots(&m), 0);
	ck_assert_uint_eq(slots.half_count[0], 0);
	ck_assert_uint_eq(slots.half_count[1], 0);
	/* Removing it again, or a service never published, is not an error. */
	ck_assert_int_eq(lb_maps_remove_service(&m, &vip, &slots), 0);
	lb_service_slots_init(&slots, 10);
	ck_assert_int_eq(lb_maps_remove_service(&m, &vip, &slots), 0);
	test_maps_destroy(&m);
}
END_TEST

START_TEST(test_write_backend_zeroes_stats)
{
	struct endpoint be4 = ep("10.244.1.11:8080"), be6 = ep("[fd00::7]:443");
	struct socklb_backend_stats st, zero;
	struct socklb_end_budget budget;
	struct socklb_backend be;
	__u32 id = 5;
	struct lb_maps m;

	REQUIRE_MAPS(&m, NULL);
	/* Counters left by the id's previous backend. */
	memset(&st, 0, sizeof(st));
	st.live = 3;
	st.connecting = 1;
	st.connects = 100;
	st.connect_failures = 7;
	st.closes = 96;
	ck_assert_int_eq(bpf_map_update_elem(test_map_fd(&m, "backend_stats"), &id, &st, BPF_ANY),
			 0);
	/* And an end request left for it. */
	memset(&budget, 0, sizeof(budget));
	budget.budget = 5;
	budget.reason = SOCKLB_END_REMOVED;
	budget.force_after_ns = 123;
	ck_assert_int_eq(bpf_map_update_elem(test_map_fd(&m, "end_budgets"), &id, &budget, BPF_ANY),
			 0);
	ck_assert_int_eq(lb_maps_write_backend(&m, id, &be4, 2), 0);
	memset(&budget, 0xff, sizeof(budget));
	ck_assert_int_eq(bpf_map_lookup_elem(test_map_fd(&m, "end_budgets"), &id, &budget), 0);
	ck_assert_uint_eq(budget.budget, 0);
	ck_assert_uint_eq(budget.reason, 0);
	ck_assert_uint_eq(budget.force_after_ns, 0);
	memset(&st, 0xff, sizeof(st));
	ck_assert_int_eq(lb_maps_read_stats(&m, id, &st), 0);
	memset(&zero, 0, sizeof(zero));
	ck_assert_mem_eq(&st, &zero, sizeof(st));
	ck_assert_uint_eq(st.live, 0);
	ck_assert_uint_eq(st.connecting, 0);
	ck_assert_uint_eq(st.connects, 0);
	ck_assert_uint_eq(st.connect_failures, 0);
	ck_assert_uint_eq(st.closes, 0);
	be = test_read_backend(&m, id);
	ck_assert_uint_eq(be.addr.ip4, inet_addr("10.244.1.11"));
	ck_assert_uint_eq(be.addr.ip6[1], 0);
	ck_assert_uint_eq(be.port, htons(8080));
	ck_assert_uint_eq(be.family, AF_INET);
	ck_assert_uint_eq(be.pad, 0);
	ck_assert_uint_eq(be.service_id, 2);

	/* Rewritten with an IPv6 backend: nothing of the old one is left. */
	ck_assert_int_eq(lb_maps_write_backend(&m, id, &be6, 4), 0);
	be = test_read_backend(&m, id);
	ck_assert_mem_eq(be.addr.bytes, be6.addr.bytes, 16);
	ck_assert_uint_eq(be.port, htons(443));
	ck_assert_uint_eq(be.family, AF_INET6);
	ck_assert_uint_eq(be.service_id, 4);
	{
		struct endpoint back = endpoint_from_backend(&be);

		ck_assert(endpoint_equal(&back, &be6));
	}
	/* Other ids are untouched. */
	id = 6;
	be = test_read_backend(&m, id);
	ck_assert_uint_eq(be.family, 0);
	test_maps_destroy(&m);
}
END_TEST

/* The other nodes' connections on a backend: set, read, and gone with a fresh backend. */
START_TEST(test_extra_is_set_read_and_zeroed_for_a_fresh_backend)
{
	struct endpoint be = ep("10.244.1.11:8080");
	__u32 extra = 0;
	struct lb_maps m;

	REQUIRE_MAPS(&m, NULL);
	ck_assert_int_eq(lb_maps_set_extra(&m, 3, 7), 0);
	ck_assert_int_eq(lb_maps_set_extra(&m, 4, 9), 0);
	ck_assert_int_eq(lb_maps_read_extra(&m, 3, &extra), 0);
	ck_assert_uint_eq(extra, 7);
	/* The id goes to another backend: it must not inherit the count. */
	ck_assert_int_eq(lb_maps_write_backend(&m, 3, &be, 1), 0);
	ck_assert_int_eq(lb_maps_read_extra(&m, 3, &extra), 0);
	ck_assert_uint_eq(extra, 0);
	ck_assert_int_eq(lb_maps_read_extra(&m, 4, &extra), 0);
	ck_assert_uint_eq(extra, 9);
	ck_assert_int_eq(lb_maps_set_extra(&m, TEST_MAX_BACKENDS + 1, 1), -E2BIG);
	ck_assert(lb_maps_rebuilt("backend_extra"));
	ck_assert(!lb_maps_rebuilt("backend_stats"));
	test_maps_destroy(&m);
}
END_TEST

START_TEST(test_write_backend_bad_id)
{
	struct endpoint be = ep("10.244.1.11:8080");
	struct socklb_backend_stats st;
	struct lb_maps m;

	REQUIRE_MAPS(&m, NULL);
	/* Past the end of the arrays: the map's error comes back. */
	ck_assert_int_eq(lb_maps_write_backend(&m, TEST_MAX_BACKENDS + 1, &be, 1), -E2BIG);
	ck_assert_int_eq(lb_maps_read_stats(&m, TEST_MAX_BACKENDS + 1, &st), -ENOENT);
	test_maps_destroy(&m);
}
END_TEST

/*
 * A publish that fails part way (backend_slots full) must leave no slot it
 * wrote uncounted, or no later publish or removal would ever delete it.
 */
START_TEST(test_publish_failure_leaves_no_orphan_slots)
{
	const struct lb_map_sizes sizes = {
	    .max_services = 4, .max_backends = 10, /* 20 slots: one set of 17 and 3 more */
	};
	__u32 first[BIG], second[BIG];
	struct endpoint vip = ep("10.96.0.10:80");
	struct lb_service_slots slots;
	struct lb_maps m;

	ids_from(first, BIG, 1);
	ids_from(second, BIG, 21);
	REQUIRE_MAPS(&m, &sizes);
	lb_service_slots_init(&slots, 1);
	ck_assert_int_eq(lb_maps_publish(&m, &vip, &slots, first, BIG), 0);
	/* Only three more slots fit: the publish fails and the old set stays live. */
	ck_assert_int_lt(lb_maps_publish(&m, &vip, &slots, second, BIG), 0);
	assert_service(&m, &vip, 1, BIG, 0);
	assert_half(&m, 1, 0, first, BIG);
	ck_assert_int_eq(lb_maps_remove_service(&m, &vip, &slots), 0);
	ck_assert_msg(test_count_all_slots(&m) == 0,
		      "%zu slot(s) left in backend_slots after the service was removed",
		      test_count_all_slots(&m));
	test_maps_destroy(&m);
}
END_TEST

START_TEST(test_open_pinned_missing)
{
	struct lb_maps m;
	char err[512] = "";

	memset(&m, 0x7f, sizeof(m));
	ck_assert_int_eq(lb_maps_open_pinned("/nonexistent/socklb", &m, err, sizeof(err)), -ENOENT);
	ck_assert_str_contains(err, "cannot open pinned map /nonexistent/socklb/");
	ck_assert_str_contains(err, "--pin-path /nonexistent/socklb");
	ck_assert_ptr_null(m.obj);
}
END_TEST

/* Pins every map the object declares with a pin path (what libbpf does at load). */
static size_t pin_all(const struct lb_maps *m, const char *dir, bool unpin)
{
	struct bpf_map *map;
	size_t n = 0;

	bpf_object__for_each_map(map, m->obj->obj)
	{
		char path[256];

		if (!bpf_map__is_internal(map)) {
			snprintf(path, sizeof(path), "%s/%s", dir, bpf_map__name(map));
			n += unpin ? unlink(path) == 0 : bpf_obj_pin(bpf_map__fd(map), path) == 0;
		}
	}
	return n;
}

START_TEST(test_open_pinned)
{
	const __u32 ids[] = {1, 2};
	struct endpoint vip = ep("10.96.0.10:80");
	struct lb_service_slots slots;
	struct lb_maps m, opened;
	char dir[128], err[512] = "";
	size_t pinned, unpinned;
	int ret;

	REQUIRE_MAPS(&m, NULL);
	if (access("/sys/fs/bpf", W_OK) != 0) {
		printf("SKIP %s: /sys/fs/bpf is not writable\n", tcase_name());
		test_maps_destroy(&m);
		ck_assert_msg(getenv("SOCKLB_UNIT_ALLOW_NO_BPF") != NULL,
			      "/sys/fs/bpf is not writable (set SOCKLB_UNIT_ALLOW_NO_BPF to skip)");
		return;
	}
	snprintf(dir, sizeof(dir), "/sys/fs/bpf/socklb-unit-%d", (int)getpid());
	ck_assert_msg(mkdir(dir, 0700) == 0, "mkdir %s: %s", dir, strerror(errno));
	pinned = pin_all(&m, dir, false);
	ret = lb_maps_open_pinned(dir, &opened, err, sizeof(err));
	/* Written through the opened fds, read through the originals. */
	if (ret == 0) {
		lb_service_slots_init(&slots, 1);
		ret = lb_maps_publish(&opened, &vip, &slots, ids, 2);
		lb_maps_close(&opened);
		ck_assert_ptr_null(opened.obj);
	}
	if (ret == 0)
		assert_inline(&m, &vip, ids, 2);
	/* Pins of an agent that had no backend_extra: status still opens the rest. */
	if (ret == 0) {
		char path[256];
		__u32 extra;

		snprintf(path, sizeof(path), "%s/backend_extra", dir);
		ck_assert_int_eq(unlink(path), 0);
		ret = lb_maps_open_pinned(dir, &opened, err, sizeof(err));
		if (ret == 0) {
			ck_assert_int_lt(lb_maps_read_extra(&opened, 1, &extra), 0);
			assert_inline(&opened, &vip, ids, 2);
			lb_maps_close(&opened);
		}
		ck_assert_int_eq(bpf_obj_pin(test_map_fd(&m, "backend_extra"), path), 0);
	}
	unpinned = pin_all(&m, dir, true);
	rmdir(dir);
	ck_assert_msg(ret == 0, "%s", err);
	ck_assert_uint_ge(pinned, 7);
	ck_assert_uint_eq(unpinned, pinned);
	test_maps_destroy(&m);
}
END_TEST

Suite *datapath_maps_suite(void)
{
	Suite *s = suite_create("datapath_maps");
	TCase *publish = tcase_create("publish");
	TCase *backends = tcase_create("backends");
	TCase *pinned = tcase_create("pinned");

	tcase_add_test(publish, test_slots_init);
	tcase_add_test(publish, test_publish_small_set_inline);
	tcase_add_test(publish, test_publish_large_sets_use_two_halves);
	tcase_add_test(publish, test_publish_shrink_to_inline_then_grow);
	tcase_add_test(publish, test_read_set_inline_and_slots);
	tcase_add_test(publish, test_publish_empty);
	tcase_add_test(publish, test_publish_services_independent);
	tcase_add_test(publish, test_remove_service);
	tcase_add_test(publish, test_publish_failure_leaves_no_orphan_slots);
	suite_add_tcase(s, publish);

	tcase_add_test(backends, test_write_backend_zeroes_stats);
	tcase_add_test(backends, test_write_backend_bad_id);
	tcase_add_test(backends, test_extra_is_set_read_and_zeroed_for_a_fresh_backend);
	suite_add_tcase(s, backends);

	tcase_add_test(pinned, test_open_pinned_missing);
	tcase_add_test(pinned, test_open_pinned);
	suite_add_tcase(s, pinned);
	return s;
}
