// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The time-fair pass on a real service table, with its operations recorded:
 * which connection it asks to move and when, how it steers the reconnect,
 * when it leaves a service alone.
 */
#include <stdlib.h>

#include "helpers.h"
#include "lib/clock.h"
#include "lib/log.h"
#include "model/service_table.h"
#include "rebalance/time_fair_pass.h"
#include "suites.h"

#define VIP "10.96.0.10:8080"
#define FIVE                                                                                       \
	VIP "=static:10.244.1.11:8080,10.244.1.12:8080,10.244.1.13:8080,10.244.1.14:8080,"         \
	    "10.244.1.15:8080"
#define T0 1000000 /* monotonic ms of the first pass */
#define PHASE 2000 /* 10 s over 5 backends */

struct recorder {
	__u32 extra[TEST_MAX_BACKENDS + 1];
	__u64 moved[16];
	size_t n_moved, n_cancelled, n_steer_calls;
};

static int rec_steer(void *arg, struct agent_service *svc, bool on)
{
	struct recorder *r = arg;

	r->n_steer_calls++;
	svc->slots.flags = on ? SOCKLB_SERVICE_STEERED : 0;
	return 0;
}

static int rec_extra(void *arg, __u32 id, __u32 extra)
{
	((struct recorder *)arg)->extra[id] = extra;
	return 0;
}

static int rec_move(void *arg, __u64 cookie, const struct socklb_move_request *req)
{
	struct recorder *r = arg;

	ck_assert_uint_eq(req->reason, SOCKLB_END_IMBALANCE);
	ck_assert_uint_eq(req->force_after_ns, UINT64_MAX); /* a rotation is never forced */
	if (r->n_moved < 16)
		r->moved[r->n_moved++] = cookie;
	return 0;
}

static int rec_cancel(void *arg, __u64 cookie)
{
	(void)cookie;
	((struct recorder *)arg)->n_cancelled++;
	return 0;
}

struct fixture {
	struct lb_maps maps;
	struct service_table table;
	struct recorder rec;
	struct time_fair_pass *pass;
	struct agent_service *svc;
};

static bool setup(struct fixture *f, const char *text)
{
	struct time_fair_opts opts = {
	    .window_ms = 10000, .min_dwell_ms = 1000, .drain_deadline_ms = 3000};
	struct time_fair_ops ops = {rec_steer, rec_extra, rec_move, rec_cancel, &f->rec};
	struct service_spec_list list;

	memset(f, 0, sizeof(*f));
	log_set_level(LOG_WARN);
	if (!test_maps_create(&f->maps, NULL))
		return false;
	service_table_init(&f->table, &f->maps, TEST_MAX_SERVICES, TEST_MAX_BACKENDS);
	spec_list(&list, &text, 1);
	ck_assert_int_eq(service_table_apply(&f->table, &list), 0);
	service_spec_list_free(&list);
	f->svc = &f->table.items[0];
	f->pass = time_fair_pass_new(&opts, TEST_MAX_BACKENDS, &ops);
	ck_assert_ptr_nonnull(f->pass);
	return true;
}

static void teardown(struct fixture *f)
{
	time_fair_pass_free(f->pass);
	service_table_free(&f->table);
	test_maps_destroy(&f->maps);
}

/* A connection of the fixture's service on its backend index b. */
static struct socklb_conn_record conn(const struct fixture *f, __u64 cookie, size_t b,
				      __u64 born_ms, __u32 segs)
{
	struct socklb_conn_record r = {.tcp_state = 1, .data_segs_in = segs, .data_segs_out = segs};

	r.sock.phase = SOCKLB_SOCK_ESTABLISHED;
	r.sock.service_id = f->svc->slots.service_id;
	r.sock.backend_id = f->svc->backends.items[b].id;
	r.sock.cookie = cookie;
	r.sock.netns_cookie = 4096;
	r.sock.established_ns = born_ms * NS_PER_MS;
	return r;
}

static void run(struct fixture *f, const struct socklb_conn_record *recs, size_t n, __u64 ms,
		__u64 wall_ms)
{
	time_fair_pass_run(f->pass, &f->table, recs, n, ms, wall_ms, NULL, NULL);
}

/* The one backend index whose extra is 0, all others' above: where the next connect goes. */
static size_t steered_to(const struct fixture *f)
{
	size_t to = f->svc->backends.n, zeros = 0;

	for (size_t b = 0; b < f->svc->backends.n; b++) {
		__u32 e = f->rec.extra[f->svc->backends.items[b].id];

		if (e == 0) {
			to = b;
			zeros++;
		}
	}
	ck_assert_uint_eq(zeros, 1);
	return to;
}

START_TEST(test_one_connection_moves_at_each_phase_to_the_steered_backend)
{
	struct fixture f;
	struct socklb_conn_record c;
	struct time_fair_stats st;
	size_t target, moved;

	if (!setup(&f, FIVE))
		return;
	/* A run of one starts at the service's offset (its id) and moves on each phase. */
	target = f.svc->slots.service_id % 5;
	c = conn(&f, 100, (target + 2) % 5, T0 - 5000, 500);
	run(&f, &c, 1, T0, 0);
	ck_assert(f.svc->slots.flags & SOCKLB_SERVICE_STEERED);
	ck_assert_uint_eq(steered_to(&f), target);
	ck_assert_uint_eq(f.rec.n_moved, 1);
	ck_assert_uint_eq(f.rec.moved[0], 100);
	ck_assert(time_fair_pass_moving(f.pass));
	/* While it reconnects nothing else is planned, and the steering stays. */
	run(&f, NULL, 0, T0 + 100, 100);
	ck_assert(!time_fair_pass_moving(f.pass));
	ck_assert_uint_eq(steered_to(&f), target);
	/* Back, on the steered backend (a new socket): where it belongs, nothing to do. */
	c = conn(&f, 101, target, T0 + 150, 2);
	run(&f, &c, 1, T0 + 200, 200);
	ck_assert_uint_eq(f.rec.n_moved, 1);
	ck_assert_uint_eq(time_fair_pass_next_phase_in(f.pass, 200), PHASE - 200);
	/* The next phase: the target moves on by one backend, and the connection with it. */
	c = conn(&f, 101, target, T0 + 150, 800);
	run(&f, &c, 1, T0 + PHASE, PHASE);
	ck_assert_uint_eq(steered_to(&f), (target + 1) % 5);
	ck_assert_uint_eq(f.rec.n_moved, 2);
	ck_assert_uint_eq(f.rec.moved[1], 101);
	moved = f.rec.n_moved;
	time_fair_pass_stats(f.pass, &st);
	ck_assert_uint_eq(st.moves, moved);
	ck_assert_uint_eq(st.rotating, 1);
	teardown(&f);
}
END_TEST

START_TEST(test_divisible_equal_load_is_left_to_least_conn)
{
	struct fixture f;
	struct socklb_conn_record c[10];
	struct time_fair_stats st;

	if (!setup(&f, FIVE))
		return;
	for (size_t i = 0; i < 10; i++)
		c[i] = conn(&f, 200 + i, i % 5, T0 - 5000, 1000 + (__u32)i);
	run(&f, c, 10, T0, 0);
	run(&f, c, 10, T0 + 3 * PHASE, 3 * PHASE);
	time_fair_pass_stats(f.pass, &st);
	ck_assert_uint_eq(f.rec.n_moved, 0);
	ck_assert_uint_eq(st.rotating, 0);
	ck_assert(!(f.svc->slots.flags & SOCKLB_SERVICE_STEERED));
	teardown(&f);
}
END_TEST

START_TEST(test_a_young_connection_is_not_moved)
{
	struct fixture f;
	struct socklb_conn_record c;

	if (!setup(&f, FIVE))
		return;
	for (__u64 phase = 0; phase < 5; phase++) {
		c = conn(&f, 300, 0, T0 + phase * PHASE - 500, 10); /* always 500 ms old */
		run(&f, &c, 1, T0 + phase * PHASE, phase * PHASE);
	}
	ck_assert_uint_eq(f.rec.n_moved, 0);
	teardown(&f);
}
END_TEST

START_TEST(test_a_move_never_idle_is_withdrawn_after_the_drain_deadline)
{
	struct fixture f;
	struct socklb_conn_record c;
	struct time_fair_stats st;
	__u64 ms = T0, wall = 0;

	if (!setup(&f, FIVE))
		return;
	/* Find a phase where the connection on backend 0 must go. */
	for (int i = 0; i < 5 && f.rec.n_moved == 0; i++, ms += PHASE, wall += PHASE) {
		c = conn(&f, 400, 0, T0 - 5000, 10);
		run(&f, &c, 1, ms, wall);
	}
	ck_assert_uint_eq(f.rec.n_moved, 1);
	ck_assert(time_fair_pass_moving(f.pass));
	/* Still there 3 s (the deadline) + 2 s later: withdrawn, counted. */
	run(&f, &c, 1, ms + 5100, wall + 5100);
	time_fair_pass_stats(f.pass, &st);
	ck_assert_uint_eq(f.rec.n_cancelled, 1);
	ck_assert_uint_eq(st.moves_expired, 1);
	teardown(&f);
}
END_TEST

/* A judge that says *arg of every service. */
static enum time_fair_say say_for_all(void *arg, const struct agent_service *svc, __u32 *offset)
{
	(void)svc;
	(void)offset;
	return *(const enum time_fair_say *)arg;
}

START_TEST(test_skipped_services_are_unsteered_and_never_moved)
{
	struct fixture f;
	struct socklb_conn_record c;

	if (!setup(&f, FIVE))
		return;
	c = conn(&f, 500, 0, T0 - 5000, 10);
	run(&f, &c, 1, T0, 0);
	ck_assert(f.svc->slots.flags & SOCKLB_SERVICE_STEERED);
	size_t moved = f.rec.n_moved;

	enum time_fair_say skip = TIME_FAIR_SKIP;

	time_fair_pass_run(f.pass, &f.table, &c, 1, T0 + PHASE, PHASE, say_for_all, &skip);
	ck_assert(!(f.svc->slots.flags & SOCKLB_SERVICE_STEERED));
	ck_assert_uint_eq(f.rec.n_moved, moved);
	for (size_t b = 0; b < 5; b++)
		ck_assert_uint_eq(f.rec.extra[f.svc->backends.items[b].id], 0);
	teardown(&f);
}
END_TEST

/*
 * Unsteered, the extras belong to another writer (the cluster plan of a
 * k8s service): steered again, the rotation writes every one of them anew,
 * not only those it remembers differently.
 */
START_TEST(test_steered_again_rewrites_extras_another_writer_changed)
{
	struct fixture f;
	struct socklb_conn_record c;
	enum time_fair_say skip = TIME_FAIR_SKIP, plan = TIME_FAIR_PLAN;
	size_t target;

	if (!setup(&f, FIVE))
		return;
	target = f.svc->slots.service_id % 5;
	c = conn(&f, 600, (target + 2) % 5, T0 - 5000, 10);
	time_fair_pass_run(f.pass, &f.table, &c, 1, T0, 0, say_for_all, &plan);
	ck_assert_uint_eq(steered_to(&f), target);
	/* Back on the target; then the service is left to the cluster plan for a while. */
	c = conn(&f, 601, target, T0 + 50, 2);
	time_fair_pass_run(f.pass, &f.table, &c, 1, T0 + 100, 100, say_for_all, &skip);
	ck_assert(!(f.svc->slots.flags & SOCKLB_SERVICE_STEERED));
	for (size_t b = 0; b < 5; b++)
		f.rec.extra[f.svc->backends.items[b].id] = 7; /* the cluster's counts */
	time_fair_pass_run(f.pass, &f.table, &c, 1, T0 + 200, 200, say_for_all, &plan);
	ck_assert(f.svc->slots.flags & SOCKLB_SERVICE_STEERED);
	for (size_t b = 0; b < 5; b++)
		ck_assert_uint_ne(f.rec.extra[f.svc->backends.items[b].id], 7);
	ck_assert_uint_eq(steered_to(&f), target);
	teardown(&f);
}
END_TEST

START_TEST(test_mixed_loads_make_classes_and_status_shows_them)
{
	struct fixture f;
	struct socklb_conn_record c[5];
	json_object *j, *list, *svc, *v;

	if (!setup(&f, FIVE))
		return;
	/* Five connections on five backends, one ten times busier than the rest. */
	for (size_t i = 0; i < 5; i++)
		c[i] = conn(&f, 600 + i, i, T0 - 10000, i == 4 ? 10000 : 1000);
	run(&f, c, 5, T0, 0);
	ck_assert(f.svc->slots.flags & SOCKLB_SERVICE_STEERED);
	j = time_fair_pass_json(f.pass);
	ck_assert(json_object_object_get_ex(j, "rotating", &list));
	ck_assert_uint_eq(json_object_array_length(list), 1);
	svc = json_object_array_get_idx(list, 0);
	ck_assert(json_object_object_get_ex(svc, "classes", &v));
	ck_assert_int_eq(json_object_get_int(v), 2);
	ck_assert(json_object_object_get_ex(svc, "phase_ms", &v));
	ck_assert_int_eq(json_object_get_int(v), PHASE);
	json_object_put(j);
	teardown(&f);
}
END_TEST

START_TEST(test_held_or_unsettled_services_wait)
{
	struct fixture f;
	struct socklb_conn_record c[2];
	size_t target;

	if (!setup(&f, FIVE))
		return;
	target = f.svc->slots.service_id % 5;
	c[0] = conn(&f, 700, (target + 2) % 5, T0 - 5000, 10);
	c[1] = conn(&f, 701, (target + 3) % 5, T0 - 5000, 10);
	/* Held by the rebalancer (its count rebalancer at work): nothing at all. */
	enum time_fair_say hold = TIME_FAIR_HOLD;

	time_fair_pass_run(f.pass, &f.table, c, 1, T0, 0, say_for_all, &hold);
	ck_assert_uint_eq(f.rec.n_moved, 0);
	ck_assert_uint_eq(f.rec.n_steer_calls, 0);
	/* A second connection arrived 100 ms ago: wait until the count stood 500 ms. */
	run(&f, c, 2, T0 + 100, 100);
	ck_assert_uint_eq(f.rec.n_moved, 0);
	run(&f, c, 2, T0 + 400, 400);
	ck_assert_uint_eq(f.rec.n_moved, 0);
	run(&f, c, 2, T0 + 700, 700);
	ck_assert_uint_eq(f.rec.n_moved, 1);
	teardown(&f);
}
END_TEST

START_TEST(test_a_service_of_its_own_window_or_off)
{
	struct fixture f;
	struct socklb_conn_record c;
	json_object *j, *list, *v;
	size_t moved;

	if (!setup(&f, FIVE))
		return;
	c = conn(&f, 800, 0, T0 - 5000, 10);
	f.svc->time_fair = (struct service_time_fair){true, 20000};
	run(&f, &c, 1, T0, 0);
	j = time_fair_pass_json(f.pass);
	ck_assert(json_object_object_get_ex(j, "rotating", &list));
	ck_assert(json_object_object_get_ex(json_object_array_get_idx(list, 0), "phase_ms", &v));
	ck_assert_int_eq(json_object_get_int(v), 4000); /* 20 s over 5 backends */
	json_object_put(j);
	/* Off for this service: unsteered, never moved again. */
	moved = f.rec.n_moved;
	f.svc->time_fair = (struct service_time_fair){true, 0};
	run(&f, &c, 1, T0 + 30000, 30000);
	run(&f, &c, 1, T0 + 60000, 60000);
	ck_assert(!(f.svc->slots.flags & SOCKLB_SERVICE_STEERED));
	ck_assert_uint_eq(f.rec.n_moved, moved);
	teardown(&f);
}
END_TEST

START_TEST(test_a_moved_connection_is_steered_where_its_class_lacks)
{
	struct fixture f;
	struct socklb_conn_record c[5];

	if (!setup(&f, FIVE))
		return;
	/* 4 light connections and a heavy one, one per backend: even totals, uneven classes. */
	for (__u64 phase = 0; phase < 5 && f.rec.n_moved == 0; phase++) {
		for (size_t i = 0; i < 5; i++)
			c[i] = conn(&f, 900 + i, i, T0 - 10000, i == 4 ? 20000 : 1000);
		run(&f, c, 5, T0 + phase * PHASE, phase * PHASE);
	}
	ck_assert_uint_eq(f.rec.n_moved, 1);
	/* Connection 90i sits on backend i: wherever it goes, not back (least-conn alone would). */
	ck_assert_uint_ne(steered_to(&f), f.rec.moved[0] - 900);
	teardown(&f);
}
END_TEST

Suite *time_fair_pass_suite(void)
{
	Suite *s = suite_create("time_fair_pass");
	TCase *tc = tcase_create("pass");

	tcase_add_test(tc, test_one_connection_moves_at_each_phase_to_the_steered_backend);
	tcase_add_test(tc, test_divisible_equal_load_is_left_to_least_conn);
	tcase_add_test(tc, test_a_young_connection_is_not_moved);
	tcase_add_test(tc, test_a_move_never_idle_is_withdrawn_after_the_drain_deadline);
	tcase_add_test(tc, test_skipped_services_are_unsteered_and_never_moved);
	tcase_add_test(tc, test_steered_again_rewrites_extras_another_writer_changed);
	tcase_add_test(tc, test_mixed_loads_make_classes_and_status_shows_them);
	tcase_add_test(tc, test_held_or_unsettled_services_wait);
	tcase_add_test(tc, test_a_service_of_its_own_window_or_off);
	tcase_add_test(tc, test_a_moved_connection_is_steered_where_its_class_lacks);
	suite_add_tcase(s, tc);
	return s;
}
