// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* backend_set.h: the change from one backend set to the next. */
#include <stdlib.h>

#include "model/backend_set.h"
#include "helpers.h"
#include "suites.h"

#define MAX_SET 8

/* A current set from endpoint texts (sorted) and their ids. */
struct fixture_set {
	struct backend_ref refs[MAX_SET];
	struct backend_set set;
};

static void make_set(struct fixture_set *f, const char *const *texts, const __u32 *ids, size_t n)
{
	ck_assert_uint_le(n, MAX_SET);
	for (size_t i = 0; i < n; i++) {
		f->refs[i].ep = ep(texts[i]);
		f->refs[i].id = ids[i];
	}
	f->set.items = f->refs;
	f->set.n = n;
}

static void make_eps(struct endpoint *out, const char *const *texts, size_t n)
{
	ck_assert_uint_le(n, MAX_SET);
	for (size_t i = 0; i < n; i++)
		out[i] = ep(texts[i]);
}

/* next must hold exactly texts with ids, in this order. */
static void assert_next(const struct backend_change *c, const char *const *texts, const __u32 *ids,
			size_t n)
{
	char buf[ENDPOINT_STR_LEN];

	ck_assert_uint_eq(c->next.n, n);
	for (size_t i = 0; i < n; i++) {
		ck_assert_str_eq(endpoint_str(&c->next.items[i].ep, buf, sizeof(buf)), texts[i]);
		ck_assert_uint_eq(c->next.items[i].id, ids[i]);
	}
}

START_TEST(test_empty_to_n)
{
	const char *const texts[] = {"10.0.0.1:80", "10.0.0.2:80", "10.0.0.3:80"};
	const __u32 zero[] = {0, 0, 0};
	struct backend_set current = {0};
	struct endpoint desired[MAX_SET];
	struct backend_change c;

	make_eps(desired, texts, 3);
	ck_assert_int_eq(backend_set_change(&current, desired, 3, &c), 0);
	assert_next(&c, texts, zero, 3);
	ck_assert_uint_eq(c.n_added, 3);
	ck_assert_uint_eq(c.n_removed, 0);
	backend_change_free(&c);
	ck_assert_ptr_null(c.next.items);
	ck_assert_ptr_null(c.removed);
	ck_assert_uint_eq(c.next.n, 0);
	ck_assert_uint_eq(c.n_removed, 0);
}
END_TEST

START_TEST(test_n_to_empty)
{
	const char *const texts[] = {"10.0.0.1:80", "10.0.0.2:80", "10.0.0.3:80"};
	const __u32 ids[] = {7, 3, 12};
	struct fixture_set cur;
	struct backend_change c;

	make_set(&cur, texts, ids, 3);
	ck_assert_int_eq(backend_set_change(&cur.set, NULL, 0, &c), 0);
	ck_assert_uint_eq(c.next.n, 0);
	ck_assert_uint_eq(c.n_added, 0);
	ck_assert_uint_eq(c.n_removed, 3);
	ck_assert_uint_eq(c.removed[0].id, 7);
	ck_assert_uint_eq(c.removed[1].id, 3);
	ck_assert_uint_eq(c.removed[2].id, 12);
	backend_change_free(&c);
}
END_TEST

START_TEST(test_empty_to_empty)
{
	struct backend_set current = {0};
	struct backend_change c;

	ck_assert_int_eq(backend_set_change(&current, NULL, 0, &c), 0);
	ck_assert_uint_eq(c.next.n, 0);
	ck_assert_uint_eq(c.n_added, 0);
	ck_assert_uint_eq(c.n_removed, 0);
	backend_change_free(&c);
}
END_TEST

START_TEST(test_identical)
{
	const char *const texts[] = {"10.0.0.1:80", "10.0.0.1:81", "[fd00::1]:80"};
	const __u32 ids[] = {4, 9, 2};
	struct fixture_set cur;
	struct endpoint desired[MAX_SET];
	struct backend_change c;

	make_set(&cur, texts, ids, 3);
	make_eps(desired, texts, 3);
	ck_assert_int_eq(backend_set_change(&cur.set, desired, 3, &c), 0);
	assert_next(&c, texts, ids, 3);
	ck_assert_uint_eq(c.n_added, 0);
	ck_assert_uint_eq(c.n_removed, 0);
	/* next is a copy, not the current set itself. */
	ck_assert_ptr_ne(c.next.items, cur.set.items);
	backend_change_free(&c);
}
END_TEST

START_TEST(test_kept_keep_ids)
{
	const char *const cur_texts[] = {"10.0.0.1:80", "10.0.0.2:80", "10.0.0.3:80"};
	const __u32 cur_ids[] = {1, 2, 3};
	const char *const want_texts[] = {"10.0.0.1:80", "10.0.0.3:80", "10.0.0.4:80"};
	const __u32 want_ids[] = {1, 3, 0};
	struct fixture_set cur;
	struct endpoint desired[MAX_SET];
	struct backend_change c;

	make_set(&cur, cur_texts, cur_ids, 3);
	make_eps(desired, want_texts, 3);
	ck_assert_int_eq(backend_set_change(&cur.set, desired, 3, &c), 0);
	assert_next(&c, want_texts, want_ids, 3);
	ck_assert_uint_eq(c.n_added, 1);
	ck_assert_uint_eq(c.n_removed, 1);
	ck_assert_uint_eq(c.removed[0].id, 2);
	/* The current set is not touched. */
	ck_assert_uint_eq(cur.set.n, 3);
	ck_assert_uint_eq(cur.refs[1].id, 2);
	backend_change_free(&c);
}
END_TEST

START_TEST(test_interleaved)
{
	/* Added at the front, between, and at the end; removed in the middle and the end. */
	const char *const cur_texts[] = {"10.0.0.2:80", "10.0.0.4:80", "10.0.0.6:80", "10.0.0.8:80",
					 "[fd00::9]:80"};
	const __u32 cur_ids[] = {20, 40, 60, 80, 90};
	const char *const want_texts[] = {"10.0.0.1:80", "10.0.0.2:80", "10.0.0.3:80",
					  "10.0.0.6:80", "10.0.0.7:80", "[fd00::1]:80"};
	const __u32 want_ids[] = {0, 20, 0, 60, 0, 0};
	struct fixture_set cur;
	struct endpoint desired[MAX_SET];
	struct backend_change c;

	make_set(&cur, cur_texts, cur_ids, 5);
	make_eps(desired, want_texts, 6);
	ck_assert_int_eq(backend_set_change(&cur.set, desired, 6, &c), 0);
	assert_next(&c, want_texts, want_ids, 6);
	ck_assert_uint_eq(c.n_added, 4);
	ck_assert_uint_eq(c.n_removed, 3);
	ck_assert_uint_eq(c.removed[0].id, 40);
	ck_assert_uint_eq(c.removed[1].id, 80);
	ck_assert_uint_eq(c.removed[2].id, 90);
	backend_change_free(&c);
}
END_TEST

START_TEST(test_replace_all)
{
	const char *const cur_texts[] = {"10.0.0.1:80", "10.0.0.2:80"};
	const __u32 cur_ids[] = {5, 6};
	const char *const want_texts[] = {"10.0.0.1:81", "10.0.0.2:81"};
	const __u32 want_ids[] = {0, 0};
	struct fixture_set cur;
	struct endpoint desired[MAX_SET];
	struct backend_change c;

	/* Same addresses, other ports: different backends. */
	make_set(&cur, cur_texts, cur_ids, 2);
	make_eps(desired, want_texts, 2);
	ck_assert_int_eq(backend_set_change(&cur.set, desired, 2, &c), 0);
	assert_next(&c, want_texts, want_ids, 2);
	ck_assert_uint_eq(c.n_added, 2);
	ck_assert_uint_eq(c.n_removed, 2);
	ck_assert_uint_eq(c.removed[0].id, 5);
	ck_assert_uint_eq(c.removed[1].id, 6);
	backend_change_free(&c);
}
END_TEST

START_TEST(test_set_free)
{
	struct backend_set set;

	set.items = calloc(2, sizeof(*set.items));
	set.n = 2;
	ck_assert_ptr_nonnull(set.items);
	backend_set_free(&set);
	ck_assert_ptr_null(set.items);
	ck_assert_uint_eq(set.n, 0);
	backend_set_free(&set);
}
END_TEST

Suite *backend_set_suite(void)
{
	Suite *s = suite_create("backend_set");
	TCase *tc = tcase_create("change");

	tcase_add_test(tc, test_empty_to_n);
	tcase_add_test(tc, test_n_to_empty);
	tcase_add_test(tc, test_empty_to_empty);
	tcase_add_test(tc, test_identical);
	tcase_add_test(tc, test_kept_keep_ids);
	tcase_add_test(tc, test_interleaved);
	tcase_add_test(tc, test_replace_all);
	tcase_add_test(tc, test_set_free);
	suite_add_tcase(s, tc);
	return s;
}
