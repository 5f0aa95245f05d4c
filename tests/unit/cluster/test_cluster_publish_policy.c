// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * cluster/cluster_publish_policy: when a node writes its SocklbNode object:
 * only on a change, at most once per publish interval, at least once per
 * heartbeat, backing off after failures.  The write budget of a node is
 * checked over simulated time: 1 / heartbeat writes a second at rest, at
 * most 1 / publish interval while its counts change every 100 ms.
 */
#include "cluster/cluster_publish_policy.h"
#include "suites.h"

static const struct publish_policy policy = {1000, 30000};

START_TEST(test_first_write_at_once_then_only_on_a_change)
{
	struct publish_state s = {0};

	ck_assert_uint_eq(publish_due_in(&policy, &s, 5000), 0);
	s.written = true;
	s.last_write_ms = 5000;
	/* Nothing changed: the next write is the heartbeat's. */
	ck_assert_uint_eq(publish_due_in(&policy, &s, 5000), 30000);
	ck_assert_uint_eq(publish_due_in(&policy, &s, 20000), 15000);
	ck_assert_uint_eq(publish_due_in(&policy, &s, 36000), 0);
}
END_TEST

START_TEST(test_a_change_waits_for_the_publish_interval)
{
	struct publish_state s = {.written = true, .changed = true, .last_write_ms = 5000};

	ck_assert_uint_eq(publish_due_in(&policy, &s, 5200), 800);
	ck_assert_uint_eq(publish_due_in(&policy, &s, 6000), 0);
	ck_assert_uint_eq(publish_due_in(&policy, &s, 9000), 0);
	s.in_flight = true;
	ck_assert_uint_eq(publish_due_in(&policy, &s, 9000), PUBLISH_NOT_DUE);
}
END_TEST

START_TEST(test_failures_back_off_within_interval_and_heartbeat)
{
	struct publish_state s = {.written = true, .changed = true, .last_attempt_ms = 1000};

	s.failures = 1;
	ck_assert_uint_eq(publish_due_in(&policy, &s, 1000), 1000);
	s.failures = 3;
	ck_assert_uint_eq(publish_due_in(&policy, &s, 1000), 4000);
	s.failures = 40;
	ck_assert_uint_eq(publish_due_in(&policy, &s, 1000), 30000);
	/* Never sooner than the publish interval. */
	{
		const struct publish_policy slow = {5000, 30000};

		s.failures = 1;
		ck_assert_uint_eq(publish_due_in(&slow, &s, 1000), 5000);
	}
}
END_TEST

/* Writes over duration_ms of simulated time, the counts changing every change_ms (0: never). */
static unsigned writes_over(uint64_t duration_ms, uint64_t change_ms)
{
	struct publish_state s = {0};
	unsigned writes = 0;

	for (uint64_t now = 0; now < duration_ms; now += 10) {
		if (change_ms && now % change_ms == 0)
			s.changed = true;
		if (publish_due_in(&policy, &s, now) == 0) {
			s.written = true;
			s.changed = false;
			s.last_write_ms = now;
			writes++;
		}
	}
	return writes;
}

START_TEST(test_write_budget)
{
	/* At rest: the first write, then one per heartbeat: at 0, 30, 60 and 90 s. */
	ck_assert_uint_eq(writes_over(120000, 0), 4);
	/* Counts changing every 100 ms for a minute: one write a second, no more. */
	ck_assert_uint_eq(writes_over(60000, 100), 60);
}
END_TEST

Suite *cluster_publish_policy_suite(void)
{
	Suite *s = suite_create("cluster_publish_policy");
	TCase *tc = tcase_create("policy");

	tcase_add_test(tc, test_first_write_at_once_then_only_on_a_change);
	tcase_add_test(tc, test_a_change_waits_for_the_publish_interval);
	tcase_add_test(tc, test_failures_back_off_within_interval_and_heartbeat);
	tcase_add_test(tc, test_write_budget);
	suite_add_tcase(s, tc);
	return s;
}
