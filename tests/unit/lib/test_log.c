// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* lib/log: logfmt values are quoted and escaped. */
#include <stdio.h>
#include <string.h>

#include "lib/log.h"
#include "suites.h"

START_TEST(test_log_q_escapes)
{
	char long_value[LOG_Q_MAX + 100];

	ck_assert_str_eq(log_q("plain"), "\"plain\"");
	ck_assert_str_eq(log_q("a \"b\" c\\d"), "\"a \\\"b\\\" c\\\\d\"");
	ck_assert_str_eq(log_q("line\nnext\tx"), "\"line\\nnext\\x09x\"");
	ck_assert_str_eq(log_q(NULL), "\"\"");
	memset(long_value, 'x', sizeof(long_value) - 1);
	long_value[sizeof(long_value) - 1] = '\0';
	ck_assert_uint_eq(strlen(log_q(long_value)), LOG_Q_MAX + 2);
}
END_TEST

/* The rotating buffers: several values in one call stay distinct. */
START_TEST(test_log_q_slots)
{
	const char *v[LOG_Q_SLOTS];
	char text[16];

	for (int i = 0; i < LOG_Q_SLOTS; i++) {
		snprintf(text, sizeof(text), "v%d", i);
		v[i] = log_q(text);
	}
	for (int i = 0; i < LOG_Q_SLOTS; i++) {
		snprintf(text, sizeof(text), "\"v%d\"", i);
		ck_assert_str_eq(v[i], text);
	}
}
END_TEST

Suite *log_suite(void)
{
	Suite *s = suite_create("log");
	TCase *tc = tcase_create("log_q");

	tcase_add_test(tc, test_log_q_escapes);
	tcase_add_test(tc, test_log_q_slots);
	suite_add_tcase(s, tc);
	return s;
}
