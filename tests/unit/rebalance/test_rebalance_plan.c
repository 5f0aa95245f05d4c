// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <check.h>

#include "rebalance/rebalance_plan.h"
#include "suites.h"

START_TEST(test_excess_all_on_one_of_five)
{
	__u64 live[5] = {20, 0, 0, 0, 0}, excess[5];

	rebalance_excess(live, 5, 0, 0, excess);
	ck_assert_uint_eq(excess[0], 16);
	for (int i = 1; i < 5; i++)
		ck_assert_uint_eq(excess[i], 0);
}
END_TEST

START_TEST(test_excess_counts_pending_returns)
{
	/* 8 were ended and have not come back: the fair share stays 4, not 2. */
	__u64 live[5] = {12, 0, 0, 0, 0}, excess[5];

	rebalance_excess(live, 5, 8, 0, excess);
	ck_assert_uint_eq(excess[0], 8);
}
END_TEST

START_TEST(test_excess_uses_ceiling_share)
{
	/* 21 over 5: ceil is 5, so 5/4/4/4/4 is balanced and nothing moves. */
	__u64 live[5] = {5, 4, 4, 4, 4}, excess[5];

	rebalance_excess(live, 5, 0, 0, excess);
	for (int i = 0; i < 5; i++)
		ck_assert_uint_eq(excess[i], 0);
}
END_TEST

START_TEST(test_excess_threshold_tolerates)
{
	__u64 live[3] = {6, 3, 3}, excess[3];

	rebalance_excess(live, 3, 0, 2, excess); /* fair 4: 6 is 2 above, tolerated */
	ck_assert_uint_eq(excess[0], 0);
	rebalance_excess(live, 3, 0, 1, excess);
	ck_assert_uint_eq(excess[0], 2);
}
END_TEST

START_TEST(test_excess_empty_service)
{
	__u64 excess[1] = {99};

	rebalance_excess(NULL, 0, 5, 0, excess);
	ck_assert_uint_eq(excess[0], 99); /* untouched: no backends */
}
END_TEST

START_TEST(test_tick_share_spreads_over_window)
{
	ck_assert_uint_eq(rebalance_tick_share(0, 100, 200), 0);
	ck_assert_uint_eq(rebalance_tick_share(16, 100, 200), 8);
	ck_assert_uint_eq(rebalance_tick_share(1, 100, 1000), 1);
	ck_assert_uint_eq(rebalance_tick_share(5, 100, 100), 5);
	ck_assert_uint_eq(rebalance_tick_share(5, 100, 50), 5);
	ck_assert_uint_eq(rebalance_tick_share(3, 100, 1000), 1);
}
END_TEST

START_TEST(test_pending_follows_ends_and_reconnects)
{
	ck_assert_uint_eq(rebalance_pending(0, 8, 0), 8);
	ck_assert_uint_eq(rebalance_pending(8, 0, 3), 5);
	ck_assert_uint_eq(rebalance_pending(5, 0, 9), 0);
	ck_assert_uint_eq(rebalance_pending(2, 2, 1), 3);
}
END_TEST

Suite *rebalance_plan_suite(void)
{
	Suite *s = suite_create("rebalance_plan");
	TCase *tc = tcase_create("plan");

	tcase_add_test(tc, test_excess_all_on_one_of_five);
	tcase_add_test(tc, test_excess_counts_pending_returns);
	tcase_add_test(tc, test_excess_uses_ceiling_share);
	tcase_add_test(tc, test_excess_threshold_tolerates);
	tcase_add_test(tc, test_excess_empty_service);
	tcase_add_test(tc, test_tick_share_spreads_over_window);
	tcase_add_test(tc, test_pending_follows_ends_and_reconnects);
	suite_add_tcase(s, tc);
	return s;
}
