// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* id_pool.h: small integer ids, 1 .. limit-1, reused after release. */
#include <stdbool.h>

#include "model/id_pool.h"
#include "helpers.h"
#include "suites.h"

START_TEST(test_starts_at_one)
{
	struct id_pool p;

	id_pool_init(&p, 100);
	ck_assert_uint_eq(id_pool_alloc(&p), 1);
	ck_assert_uint_eq(id_pool_alloc(&p), 2);
	ck_assert_uint_eq(id_pool_alloc(&p), 3);
	id_pool_free(&p);
}
END_TEST

START_TEST(test_exhaustion)
{
	struct id_pool p;

	id_pool_init(&p, 5);
	for (__u32 want = 1; want < 5; want++)
		ck_assert_uint_eq(id_pool_alloc(&p), want);
	/* Every id below the limit is in use: 0, and it stays so. */
	ck_assert_uint_eq(id_pool_alloc(&p), 0);
	ck_assert_uint_eq(id_pool_alloc(&p), 0);
	/* One release makes exactly one id available again. */
	ck_assert_int_eq(id_pool_release(&p, 3), 0);
	ck_assert_uint_eq(id_pool_alloc(&p), 3);
	ck_assert_uint_eq(id_pool_alloc(&p), 0);
	id_pool_free(&p);
}
END_TEST

START_TEST(test_tiny_limits)
{
	struct id_pool p;

	/* limit 1: only id 0 would be below it, and 0 is never handed out. */
	id_pool_init(&p, 1);
	ck_assert_uint_eq(id_pool_alloc(&p), 0);
	id_pool_free(&p);
	id_pool_init(&p, 0);
	ck_assert_uint_eq(id_pool_alloc(&p), 0);
	id_pool_free(&p);
	id_pool_init(&p, 2);
	ck_assert_uint_eq(id_pool_alloc(&p), 1);
	ck_assert_uint_eq(id_pool_alloc(&p), 0);
	id_pool_free(&p);
}
END_TEST

START_TEST(test_released_reused)
{
	struct id_pool p;

	id_pool_init(&p, 100);
	ck_assert_uint_eq(id_pool_alloc(&p), 1);
	ck_assert_uint_eq(id_pool_alloc(&p), 2);
	ck_assert_uint_eq(id_pool_alloc(&p), 3);
	ck_assert_int_eq(id_pool_release(&p, 2), 0);
	/* The released id comes back before any fresh one. */
	ck_assert_uint_eq(id_pool_alloc(&p), 2);
	ck_assert_uint_eq(id_pool_alloc(&p), 4);
	ck_assert_int_eq(id_pool_release(&p, 1), 0);
	ck_assert_int_eq(id_pool_release(&p, 4), 0);
	{
		__u32 a = id_pool_alloc(&p), b = id_pool_alloc(&p);

		ck_assert_msg((a == 1 && b == 4) || (a == 4 && b == 1), "got %u and %u", a, b);
	}
	ck_assert_uint_eq(id_pool_alloc(&p), 5);
	id_pool_free(&p);
}
END_TEST

START_TEST(test_release_out_of_range_ignored)
{
	struct id_pool p;

	id_pool_init(&p, 4);
	ck_assert_int_eq(id_pool_release(&p, 0), 0);
	ck_assert_int_eq(id_pool_release(&p, 4), 0);
	ck_assert_int_eq(id_pool_release(&p, 0xffffffff), 0);
	ck_assert_uint_eq(id_pool_alloc(&p), 1);
	ck_assert_uint_eq(id_pool_alloc(&p), 2);
	ck_assert_uint_eq(id_pool_alloc(&p), 3);
	ck_assert_uint_eq(id_pool_alloc(&p), 0);
	id_pool_free(&p);
}
END_TEST

START_TEST(test_many_released)
{
	enum { N = 1000 };
	static bool seen[N + 1];
	struct id_pool p;

	/* Past the first growth of the released list (64), nothing lost or doubled. */
	id_pool_init(&p, N + 1);
	for (__u32 i = 1; i <= N; i++)
		ck_assert_uint_eq(id_pool_alloc(&p), i);
	ck_assert_uint_eq(id_pool_alloc(&p), 0);
	for (__u32 i = 1; i <= N; i++)
		ck_assert_int_eq(id_pool_release(&p, i), 0);
	for (__u32 i = 1; i <= N; i++) {
		__u32 id = id_pool_alloc(&p);

		ck_assert_uint_ge(id, 1);
		ck_assert_uint_le(id, N);
		ck_assert_msg(!seen[id], "id %u handed out twice", id);
		seen[id] = true;
	}
	ck_assert_uint_eq(id_pool_alloc(&p), 0);
	id_pool_free(&p);
	ck_assert_ptr_null(p.released);
	ck_assert_uint_eq(p.n_released, 0);
}
END_TEST

Suite *id_pool_suite(void)
{
	Suite *s = suite_create("id_pool");
	TCase *tc = tcase_create("alloc");

	tcase_add_test(tc, test_starts_at_one);
	tcase_add_test(tc, test_exhaustion);
	tcase_add_test(tc, test_tiny_limits);
	tcase_add_test(tc, test_released_reused);
	tcase_add_test(tc, test_release_out_of_range_ignored);
	tcase_add_test(tc, test_many_released);
	suite_add_tcase(s, tc);
	return s;
}
