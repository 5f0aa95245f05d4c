// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <check.h>
#include <string.h>

#include "rebalance/time_fair.h"
#include "suites.h"

START_TEST(test_phase_is_window_over_backends_at_least_min_dwell)
{
	ck_assert_uint_eq(time_fair_phase_ms(10000, 5, 1000), 2000);
	ck_assert_uint_eq(time_fair_phase_ms(10000, 20, 1000), 1000);
	ck_assert_uint_eq(time_fair_phase_ms(10000, 0, 1000), 10000);
}
END_TEST

START_TEST(test_class_buckets_by_factor_two_with_hysteresis)
{
	ck_assert_int_eq(time_fair_class(0.5, -1), 0);
	ck_assert_int_eq(time_fair_class(10, -1), 4);  /* [8, 16) */
	ck_assert_int_eq(time_fair_class(100, -1), 7); /* [64, 128) */
	/* 16.5 is past the bucket of 10, but within a quarter bucket of it. */
	ck_assert_int_eq(time_fair_class(16.5, 4), 4);
	ck_assert_int_eq(time_fair_class(16.5, -1), 5);
	ck_assert_int_eq(time_fair_class(30, 4), 5);
	ck_assert_int_eq(time_fair_class(7.5, 4), 4);
	ck_assert_int_eq(time_fair_class(5, 4), 3);
	ck_assert_int_eq(time_fair_class(1e30, -1), TIME_FAIR_CLASSES - 1);
}
END_TEST

START_TEST(test_targets_rotate_and_sum_to_equal_shares)
{
	/* 8 connections over 5 backends: 1 each, 3 more on a run that moves on. */
	__u32 t[5], served[5] = {0};

	time_fair_targets(5, 8, 0, 0, t);
	ck_assert_uint_eq(t[0], 2);
	ck_assert_uint_eq(t[2], 2);
	ck_assert_uint_eq(t[3], 1);
	time_fair_targets(5, 8, 1, 0, t);
	ck_assert_uint_eq(t[0], 1);
	ck_assert_uint_eq(t[3], 2);
	for (__u64 phase = 7; phase < 12; phase++) {
		__u32 sum = 0;

		time_fair_targets(5, 8, phase, 3, t);
		for (int b = 0; b < 5; b++) {
			served[b] += t[b];
			sum += t[b];
		}
		ck_assert_uint_eq(sum, 8);
	}
	/* Any 5 consecutive phases: every backend 8 connection-phases. */
	for (int b = 0; b < 5; b++)
		ck_assert_uint_eq(served[b], 8);
}
END_TEST

START_TEST(test_one_connection_visits_every_backend_in_turn)
{
	__u32 t[5];

	for (__u64 phase = 0; phase < 5; phase++) {
		time_fair_targets(5, 1, phase, 0, t);
		for (int b = 0; b < 5; b++)
			ck_assert_uint_eq(t[b], (__u64)b == phase);
	}
}
END_TEST

START_TEST(test_moves_take_the_longest_dwelling_to_the_deficit)
{
	struct time_fair_conn c[3] = {
	    {.backend = 0, .cls = 4, .dwell_ms = 1500},
	    {.backend = 0, .cls = 4, .dwell_ms = 4000},
	    {.backend = 1, .cls = 4, .dwell_ms = 9000},
	};
	__u32 targets[TIME_FAIR_CLASSES * 3] = {0};
	struct time_fair_move m[4];

	targets[4 * 3 + 0] = 1;
	targets[4 * 3 + 1] = 1;
	targets[4 * 3 + 2] = 1;
	ck_assert_uint_eq(time_fair_moves(c, 3, 3, targets, 1000, m, 4), 1);
	ck_assert_uint_eq(m[0].conn, 1);
	ck_assert_uint_eq(m[0].to, 2);
	/* Not yet min_dwell on its backend: nothing moves this tick. */
	c[0].dwell_ms = c[1].dwell_ms = 500;
	ck_assert_uint_eq(time_fair_moves(c, 3, 3, targets, 1000, m, 4), 0);
}
END_TEST

START_TEST(test_classes_move_apart_and_max_bounds)
{
	/* Two classes, both all on backend 0; each wants one per backend. */
	struct time_fair_conn c[4] = {
	    {.backend = 0, .cls = 1, .dwell_ms = 5000},
	    {.backend = 0, .cls = 1, .dwell_ms = 5000},
	    {.backend = 0, .cls = 7, .dwell_ms = 5000},
	    {.backend = 0, .cls = 7, .dwell_ms = 5000},
	};
	__u32 targets[TIME_FAIR_CLASSES * 2] = {0};
	struct time_fair_move m[4];

	targets[1 * 2 + 0] = targets[1 * 2 + 1] = 1;
	targets[7 * 2 + 0] = targets[7 * 2 + 1] = 1;
	ck_assert_uint_eq(time_fair_moves(c, 4, 2, targets, 1000, m, 4), 2);
	ck_assert_int_eq(c[m[0].conn].cls, 1);
	ck_assert_int_eq(c[m[1].conn].cls, 7);
	ck_assert_uint_eq(m[0].to, 1);
	ck_assert_uint_eq(m[1].to, 1);
	ck_assert_uint_eq(time_fair_moves(c, 4, 2, targets, 1000, m, 1), 1);
}
END_TEST

START_TEST(test_needed_only_when_uneven_or_mixed)
{
	struct time_fair_conn c[10];

	memset(c, 0, sizeof(c));
	for (int i = 0; i < 10; i++)
		c[i].cls = 4;
	ck_assert(!time_fair_needed(c, 10, 5)); /* 10 alike over 5: least-conn is fair */
	ck_assert(time_fair_needed(c, 8, 5));
	ck_assert(time_fair_needed(c, 1, 5));
	ck_assert(!time_fair_needed(c, 1, 1));
	c[3].cls = 7;
	ck_assert(time_fair_needed(c, 10, 5)); /* one busier connection */
	ck_assert(!time_fair_needed(c, 0, 5));
}
END_TEST

/*
 * The whole policy over phases: one connection per backend's share moved
 * as the targets say, and every backend's connection-time over any n
 * phases equal, for 1 and 8 connections over 5 and 10 backends.
 */
static void run_rotation(size_t n_backends, size_t n_conns)
{
	struct time_fair_conn c[16];
	__u32 targets[TIME_FAIR_CLASSES * 10] = {0}, served[10] = {0};
	struct time_fair_move m[16];

	for (size_t i = 0; i < n_conns; i++)
		c[i] = (struct time_fair_conn){.backend = 0, .cls = 4, .dwell_ms = 10000};
	for (__u64 phase = 0; phase < 3 * n_backends; phase++) {
		time_fair_targets(n_backends, (__u32)n_conns, phase, 0, targets + 4 * n_backends);
		size_t n = time_fair_moves(c, n_conns, n_backends, targets, 1000, m, 16);

		/* From the second phase on, one move per phase keeps the run going. */
		if (phase > 0)
			ck_assert_uint_eq(n, n_conns % n_backends ? 1 : 0);
		for (size_t k = 0; k < n; k++)
			c[m[k].conn].backend = m[k].to;
		for (size_t i = 0; i < n_conns; i++)
			if (phase >= n_backends)
				served[c[i].backend]++;
	}
	for (size_t b = 0; b < n_backends; b++)
		ck_assert_uint_eq(served[b], 2 * n_conns);
}

START_TEST(test_rotation_is_exact_over_every_window)
{
	run_rotation(5, 1);
	run_rotation(5, 8);
	run_rotation(10, 8);
	run_rotation(5, 10);
}
END_TEST

Suite *time_fair_suite(void)
{
	Suite *s = suite_create("time_fair");
	TCase *tc = tcase_create("policy");

	tcase_add_test(tc, test_phase_is_window_over_backends_at_least_min_dwell);
	tcase_add_test(tc, test_class_buckets_by_factor_two_with_hysteresis);
	tcase_add_test(tc, test_targets_rotate_and_sum_to_equal_shares);
	tcase_add_test(tc, test_one_connection_visits_every_backend_in_turn);
	tcase_add_test(tc, test_moves_take_the_longest_dwelling_to_the_deficit);
	tcase_add_test(tc, test_classes_move_apart_and_max_bounds);
	tcase_add_test(tc, test_needed_only_when_uneven_or_mixed);
	tcase_add_test(tc, test_rotation_is_exact_over_every_window);
	suite_add_tcase(s, tc);
	return s;
}
