// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* lib/array: room for one more, by doubling; nothing moves on failure. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "lib/array.h"
#include "suites.h"

START_TEST(test_array_reserve_doubles)
{
	uint32_t *items = NULL;
	size_t n = 0, cap = 0;

	for (uint32_t i = 0; i < 1000; i++) {
		ck_assert_int_eq(ARRAY_RESERVE(items, cap, n), 0);
		ck_assert_uint_gt(cap, n);
		items[n++] = i;
	}
	ck_assert_uint_eq(cap, 1024); /* 16, 32, ... 1024 */
	for (uint32_t i = 0; i < 1000; i++)
		ck_assert_uint_eq(items[i], i);
	/* Room left: no reallocation. */
	ck_assert_int_eq(ARRAY_RESERVE(items, cap, 999), 0);
	ck_assert_uint_eq(cap, 1024);
	free(items);
}
END_TEST

START_TEST(test_array_reserve_failure_keeps_the_array)
{
	uint64_t *items = NULL;
	size_t n = 0, cap = 0;

	ck_assert_int_eq(ARRAY_RESERVE(items, cap, n), 0);
	items[n++] = 42;
	cap = SIZE_MAX / 4; /* doubling asks for more than any allocator gives */
	n = cap;
	ck_assert_int_eq(ARRAY_RESERVE(items, cap, n), -ENOMEM);
	ck_assert_uint_eq(items[0], 42);
	ck_assert_uint_eq(cap, SIZE_MAX / 4);
	free(items);
}
END_TEST

Suite *array_suite(void)
{
	Suite *s = suite_create("array");
	TCase *tc = tcase_create("reserve");

	tcase_add_test(tc, test_array_reserve_doubles);
	tcase_add_test(tc, test_array_reserve_failure_keeps_the_array);
	suite_add_tcase(s, tc);
	return s;
}
