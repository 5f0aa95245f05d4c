// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* service_spec.h and source.h: "VIP:PORT=SOURCE" texts and the static source. */
#include <errno.h>
#include <arpa/inet.h>
#include <stdlib.h>
#include <sys/socket.h>

#include "helpers.h"
#include "sources/source.h"
#include "suites.h"

static void assert_backends(const struct service_spec *s, const char *const *want, size_t n)
{
	char buf[ENDPOINT_STR_LEN];

	ck_assert_uint_eq(s->n_backends, n);
	for (size_t i = 0; i < n; i++)
		ck_assert_str_eq(endpoint_str(&s->backends[i], buf, sizeof(buf)), want[i]);
}

/* Owns nothing: no source text, no backends. */
static void assert_empty(const struct service_spec *s)
{
	ck_assert_ptr_null(s->source);
	ck_assert_ptr_null(s->backends);
	ck_assert_uint_eq(s->n_backends, 0);
}

START_TEST(test_parse_static)
{
	const char *const want[] = {"10.244.1.11:8080", "10.244.1.12:8080"};
	struct service_spec s;
	char err[512] = "";
	char buf[ENDPOINT_STR_LEN];

	ck_assert_int_eq(service_spec_parse("10.96.0.10:8080=static:10.244.1.11:8080,"
					    "10.244.1.12:8080",
					    &s, err, sizeof(err)),
			 0);
	ck_assert_str_eq(endpoint_str(&s.vip, buf, sizeof(buf)), "10.96.0.10:8080");
	ck_assert_int_eq(s.kind, SOURCE_STATIC);
	ck_assert_str_eq(s.source, "static:10.244.1.11:8080,10.244.1.12:8080");
	assert_backends(&s, want, 2);
	service_spec_free(&s);
	assert_empty(&s);
}
END_TEST

START_TEST(test_parse_static_one)
{
	const char *const want[] = {"10.244.1.11:80"};
	struct service_spec s;

	spec("10.96.0.10:80=static:10.244.1.11:80", &s);
	assert_backends(&s, want, 1);
	service_spec_free(&s);
}
END_TEST

START_TEST(test_parse_static_empty)
{
	struct service_spec s;
	char err[512] = "";

	ck_assert_int_eq(service_spec_parse("10.96.0.10:80=static:", &s, err, sizeof(err)), 0);
	ck_assert_int_eq(s.kind, SOURCE_STATIC);
	ck_assert_str_eq(s.source, "static:");
	ck_assert_uint_eq(s.n_backends, 0);
	ck_assert_uint_eq(ntohs(s.vip.port), 80);
	service_spec_free(&s);
}
END_TEST

START_TEST(test_parse_sorts_backends)
{
	const char *const want[] = {"10.0.0.1:80", "10.0.0.1:90", "10.0.0.2:80", "10.0.0.3:80",
				    "10.0.0.10:1"};
	struct service_spec s;

	spec("10.96.0.10:80=static:10.0.0.3:80,10.0.0.10:1,10.0.0.1:90,10.0.0.2:80,10.0.0.1:80",
	     &s);
	assert_backends(&s, want, 5);
	/* The source text is kept exactly as given, unsorted. */
	ck_assert_str_eq(s.source, "static:10.0.0.3:80,10.0.0.10:1,10.0.0.1:90,10.0.0.2:80,"
				   "10.0.0.1:80");
	for (size_t i = 1; i < s.n_backends; i++)
		ck_assert_int_lt(endpoint_cmp(&s.backends[i - 1], &s.backends[i]), 0);
	service_spec_free(&s);
}
END_TEST

START_TEST(test_parse_ipv6)
{
	const char *const want[] = {"[fd00::1]:80", "[fd00::2]:80"};
	struct service_spec s;

	spec("[fd00::10]:80=static:[fd00::2]:80,[fd00::1]:80", &s);
	ck_assert_uint_eq(s.vip.family, AF_INET6);
	assert_backends(&s, want, 2);
	service_spec_free(&s);
}
END_TEST

/* A bad text, and what its error message must contain. */
struct bad_spec {
	const char *text;
	const char *needles[3];
};

static const struct bad_spec bad_specs[] = {
    {"10.96.0.10:80=static:10.0.0.1:80,10.0.0.2:80,10.0.0.1:80",
     {"'10.96.0.10:80'", "backend 10.0.0.1:80 is listed twice"}},
    {"10.96.0.10:80=static:[fd00::1]:80",
     {"backend [fd00::1]:80 and service 10.96.0.10:80 are not the same IP family"}},
    {"[fd00::10]:80=static:10.0.0.1:80,[fd00::1]:80",
     {"backend 10.0.0.1:80 and service [fd00::10]:80 are not the same IP family"}},
    {"10.96.0.10:80=udp:my-svc.default", {"unknown source 'udp:my-svc.default'"}},
    {"10.96.0.10:80=k8s:default", {"source 'k8s:default'", "expected k8s:NAMESPACE/SERVICE"}},
    {"10.96.0.10:80=static", {"unknown source 'static'"}},
    {"10.96.0.10:80=", {"unknown source ''"}},
    {"10.96.0.10:80=10.0.0.1:80", {"unknown source '10.0.0.1:80'"}},
    {"10.96.0.10:80", {"service '10.96.0.10:80'", "expected VIP:PORT=SOURCE"}},
    {"", {"service ''", "expected VIP:PORT=SOURCE"}},
    {"10.96.0.10=static:10.0.0.1:80", {"service '10.96.0.10=static:", "VIP"}},
    {"=static:10.0.0.1:80", {"VIP", "is not an address"}},
    {"10.96.0.10:0=static:", {"VIP", "port '0'"}},
    {"10.96.0.10:80=static:10.0.0.1:0", {"'10.0.0.1:0'", "port '0'"}},
    {"10.96.0.10:80=static:10.0.0.1:80,", {"source 'static:10.0.0.1:80,'", "''"}},
    {"10.96.0.10:80=static:,10.0.0.1:80", {"''", "is not an address"}},
    {"10.96.0.10:80=static:10.0.0.1:80,,10.0.0.2:80", {"''", "is not an address"}},
    {"10.96.0.10:80=static:10.0.0.1", {"'10.0.0.1'", "expected IP:PORT"}},
    {"10.96.0.10:80=static:fd00::1:80", {"'fd00::1:80'"}},
    {"10.96.0.10:80=static:10.0.0.1:80 ", {"port '80 '"}},
};

START_TEST(test_parse_bad)
{
	const struct bad_spec *b = &bad_specs[_i];
	struct service_spec s;
	char err[512] = "";

	memset(&s, 0xa5, sizeof(s));
	ck_assert_msg(service_spec_parse(b->text, &s, err, sizeof(err)) == -EINVAL,
		      "'%s' was accepted", b->text);
	ck_assert_msg(err[0] != '\0', "no message for '%s'", b->text);
	for (size_t i = 0; i < 3 && b->needles[i]; i++)
		ck_assert_str_contains(err, b->needles[i]);
	/* A failed parse owns nothing, and freeing it again is harmless. */
	assert_empty(&s);
	service_spec_free(&s);
}
END_TEST

START_TEST(test_parse_too_many_backends)
{
	size_t n = SOCKLB_MAX_BACKENDS_PER_SERVICE + 1;
	const char *prefix = "10.96.0.10:80=static:";
	size_t plen = strlen(prefix);
	char *text = malloc(plen + n);
	struct service_spec s;
	char err[512] = "";

	/* n items separated by n-1 commas; the count is checked before parsing. */
	ck_assert_ptr_nonnull(text);
	memcpy(text, prefix, plen);
	memset(text + plen, ',', n - 1);
	text[plen + n - 1] = '\0';
	ck_assert_int_eq(service_spec_parse(text, &s, err, sizeof(err)), -EINVAL);
	ck_assert_str_contains(err, "lists 65536 backends; at most 65535 are allowed");
	assert_empty(&s);
	free(text);
}
END_TEST

START_TEST(test_source_static_direct)
{
	const char *const want[] = {"10.0.0.1:80", "10.0.0.2:80"};
	struct service_spec s;
	char err[256] = "";

	memset(&s, 0, sizeof(s));
	s.vip = ep("10.96.0.10:80");
	ck_assert_int_eq(source_static_parse("10.0.0.2:80,10.0.0.1:80", &s, err, sizeof(err)), 0);
	assert_backends(&s, want, 2);
	free(s.backends);

	memset(&s, 0, sizeof(s));
	s.vip = ep("10.96.0.10:80");
	ck_assert_int_eq(source_static_parse("", &s, err, sizeof(err)), 0);
	ck_assert_uint_eq(s.n_backends, 0);
	ck_assert_ptr_null(s.backends);
}
END_TEST

START_TEST(test_list_add)
{
	struct service_spec_list list = {0};
	struct service_spec a, b, dup;
	char err[256] = "";
	char buf[ENDPOINT_STR_LEN];

	spec("10.96.0.10:80=static:10.0.0.1:80", &a);
	spec("10.96.0.10:81=static:10.0.0.1:80", &b);
	ck_assert_int_eq(service_spec_list_add(&list, &a, err, sizeof(err)), 0);
	/* The list took ownership: the caller's copy is emptied. */
	assert_empty(&a);
	ck_assert_int_eq(service_spec_list_add(&list, &b, err, sizeof(err)), 0);
	ck_assert_uint_eq(list.n, 2);
	ck_assert_str_eq(endpoint_str(&list.items[0].vip, buf, sizeof(buf)), "10.96.0.10:80");
	ck_assert_str_eq(endpoint_str(&list.items[1].vip, buf, sizeof(buf)), "10.96.0.10:81");
	ck_assert_str_eq(list.items[1].source, "static:10.0.0.1:80");
	ck_assert_uint_eq(list.items[1].n_backends, 1);

	/* Same VIP, other backends: refused, and the caller still owns it. */
	spec("10.96.0.10:80=static:10.0.0.2:80,10.0.0.3:80", &dup);
	ck_assert_int_eq(service_spec_list_add(&list, &dup, err, sizeof(err)), -EINVAL);
	ck_assert_str_eq(err, "service 10.96.0.10:80 is given twice");
	ck_assert_uint_eq(list.n, 2);
	ck_assert_uint_eq(dup.n_backends, 2);
	ck_assert_str_eq(list.items[0].source, "static:10.0.0.1:80");
	service_spec_free(&dup);

	service_spec_list_free(&list);
	ck_assert_ptr_null(list.items);
	ck_assert_uint_eq(list.n, 0);
	/* Freeing an empty list is harmless. */
	service_spec_list_free(&list);
}
END_TEST

START_TEST(test_list_add_ipv6_duplicate)
{
	struct service_spec_list list = {0};
	struct service_spec a, dup;
	char err[256] = "";

	spec("[fd00::10]:80=static:", &a);
	spec("[fd00:0::10]:80=static:[fd00::1]:80", &dup);
	ck_assert_int_eq(service_spec_list_add(&list, &a, err, sizeof(err)), 0);
	ck_assert_int_eq(service_spec_list_add(&list, &dup, err, sizeof(err)), -EINVAL);
	ck_assert_str_eq(err, "service [fd00::10]:80 is given twice");
	service_spec_free(&dup);
	service_spec_list_free(&list);
}
END_TEST

Suite *service_spec_suite(void)
{
	Suite *s = suite_create("service_spec");
	TCase *parse = tcase_create("parse");
	TCase *list = tcase_create("list");

	tcase_add_test(parse, test_parse_static);
	tcase_add_test(parse, test_parse_static_one);
	tcase_add_test(parse, test_parse_static_empty);
	tcase_add_test(parse, test_parse_sorts_backends);
	tcase_add_test(parse, test_parse_ipv6);
	tcase_add_loop_test(parse, test_parse_bad, 0, sizeof(bad_specs) / sizeof(bad_specs[0]));
	tcase_add_test(parse, test_parse_too_many_backends);
	tcase_add_test(parse, test_source_static_direct);
	suite_add_tcase(s, parse);

	tcase_add_test(list, test_list_add);
	tcase_add_test(list, test_list_add_ipv6_duplicate);
	suite_add_tcase(s, list);
	return s;
}
