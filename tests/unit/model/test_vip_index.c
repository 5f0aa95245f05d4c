// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <check.h>
#include <stdio.h>

#include "suites.h"
#include "model/vip_index.h"

static struct endpoint vip(unsigned i)
{
	char text[64], err[256];
	struct endpoint ep;

	snprintf(text, sizeof(text), "10.%u.%u.%u:%u", (i >> 16) & 255, (i >> 8) & 255, i & 255,
		 1 + i % 60000);
	ck_assert_int_eq(endpoint_parse(text, &ep, err, sizeof(err)), 0);
	return ep;
}

START_TEST(test_empty_finds_nothing)
{
	struct vip_index ix = {0};
	struct endpoint a = vip(1);
	size_t v = 42;

	ck_assert(!vip_index_get(&ix, &a, &v));
	ck_assert_uint_eq(v, 42);
	vip_index_free(&ix);
}
END_TEST

START_TEST(test_many_and_grow)
{
	struct vip_index ix = {0};
	size_t v;

	for (unsigned i = 0; i < 70000; i++) {
		struct endpoint a = vip(i);

		ck_assert_int_eq(vip_index_put(&ix, &a, i), 0);
	}
	ck_assert_uint_eq(ix.n, 70000);
	ck_assert(ix.cap >= 2 * ix.n);
	for (unsigned i = 0; i < 70000; i += 7) {
		struct endpoint a = vip(i);

		ck_assert(vip_index_get(&ix, &a, &v));
		ck_assert_uint_eq(v, i);
	}
	vip_index_free(&ix);
	ck_assert_uint_eq(ix.cap, 0);
}
END_TEST

START_TEST(test_put_replaces_and_families_differ)
{
	struct vip_index ix = {0};
	struct endpoint a = vip(5), b, c = vip(5);
	char err[256];
	size_t v;

	ck_assert_int_eq(endpoint_parse("[::a05:5]:6", &b, err, sizeof(err)), 0);
	c.port = a.port + 1; /* same address, other port: another service */
	ck_assert_int_eq(vip_index_put(&ix, &a, 1), 0);
	ck_assert_int_eq(vip_index_put(&ix, &a, 2), 0);
	ck_assert_uint_eq(ix.n, 1);
	ck_assert(vip_index_get(&ix, &a, &v));
	ck_assert_uint_eq(v, 2);
	ck_assert(!vip_index_get(&ix, &b, &v));
	ck_assert(!vip_index_get(&ix, &c, &v));
	vip_index_free(&ix);
}
END_TEST

Suite *vip_index_suite(void)
{
	Suite *s = suite_create("vip_index");
	TCase *tc = tcase_create("index");

	tcase_add_test(tc, test_empty_finds_nothing);
	tcase_add_test(tc, test_many_and_grow);
	tcase_add_test(tc, test_put_replaces_and_families_differ);
	suite_add_tcase(s, tc);
	return s;
}
