// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* endpoint.h: parsing, printing and ordering of IP:PORT endpoints. */
#include <errno.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>

#include "helpers.h"
#include "suites.h"

static const __u8 zero12[12];

START_TEST(test_parse_ipv4)
{
	struct endpoint e;
	char err[256] = "";

	ck_assert_int_eq(endpoint_parse("10.244.1.11:8080", &e, err, sizeof(err)), 0);
	ck_assert_uint_eq(e.family, AF_INET);
	ck_assert_uint_eq(e.addr.ip4, inet_addr("10.244.1.11"));
	ck_assert_uint_eq(e.port, htons(8080));
	/* IPv4 leaves the rest of the address zero, so maps compare equal. */
	ck_assert_mem_eq(e.addr.bytes + 4, zero12, 12);
}
END_TEST

START_TEST(test_parse_ipv4_port_bounds)
{
	struct endpoint e;
	char err[256] = "";

	ck_assert_int_eq(endpoint_parse("1.2.3.4:1", &e, err, sizeof(err)), 0);
	ck_assert_uint_eq(ntohs(e.port), 1);
	ck_assert_int_eq(endpoint_parse("1.2.3.4:65535", &e, err, sizeof(err)), 0);
	ck_assert_uint_eq(ntohs(e.port), 65535);
	ck_assert_int_eq(endpoint_parse("0.0.0.0:080", &e, err, sizeof(err)), 0);
	ck_assert_uint_eq(ntohs(e.port), 80);
	ck_assert_uint_eq(e.addr.ip4, 0);
}
END_TEST

START_TEST(test_parse_ipv6_bracketed)
{
	struct endpoint e;
	__u8 want[16];
	char err[256] = "";

	ck_assert_int_eq(inet_pton(AF_INET6, "fd00::1", want), 1);
	ck_assert_int_eq(endpoint_parse("[fd00::1]:443", &e, err, sizeof(err)), 0);
	ck_assert_uint_eq(e.family, AF_INET6);
	ck_assert_mem_eq(e.addr.bytes, want, 16);
	ck_assert_uint_eq(e.port, htons(443));

	ck_assert_int_eq(endpoint_parse("[::1]:1", &e, err, sizeof(err)), 0);
	ck_assert_uint_eq(e.family, AF_INET6);
	ck_assert_uint_eq(e.addr.bytes[15], 1);
	ck_assert_uint_eq(ntohs(e.port), 1);
}
END_TEST

START_TEST(test_parse_ipv6_longest)
{
	const char *text = "[ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255]:65535";
	struct endpoint e;
	char err[256] = "";
	__u8 ones[16];

	memset(ones, 0xff, sizeof(ones));
	ck_assert_int_eq(endpoint_parse(text, &e, err, sizeof(err)), 0);
	ck_assert_uint_eq(e.family, AF_INET6);
	ck_assert_mem_eq(e.addr.bytes, ones, 16);
	ck_assert_uint_eq(ntohs(e.port), 65535);
}
END_TEST

START_TEST(test_parse_n_prefix)
{
	const char *text = "10.0.0.1:80,10.0.0.2:90";
	struct endpoint e;
	char err[256] = "";

	ck_assert_int_eq(endpoint_parse_n(text, 11, &e, err, sizeof(err)), 0);
	ck_assert_uint_eq(e.addr.ip4, inet_addr("10.0.0.1"));
	ck_assert_uint_eq(ntohs(e.port), 80);
	/* One byte short, the port is 8. */
	ck_assert_int_eq(endpoint_parse_n(text, 10, &e, err, sizeof(err)), 0);
	ck_assert_uint_eq(ntohs(e.port), 8);
	ck_assert_int_eq(endpoint_parse_n(text + 12, 11, &e, err, sizeof(err)), 0);
	ck_assert_uint_eq(e.addr.ip4, inet_addr("10.0.0.2"));
	ck_assert_uint_eq(ntohs(e.port), 90);
	/* Cut before the port: "10.0.0.1:" has none. */
	ck_assert_int_eq(endpoint_parse_n(text, 9, &e, err, sizeof(err)), -EINVAL);
	ck_assert_str_contains(err, "'10.0.0.1:'");
	ck_assert_int_eq(endpoint_parse_n(text, 0, &e, err, sizeof(err)), -EINVAL);
	ck_assert_str_contains(err, "is not an address");
}
END_TEST

/* Each of these must be refused with a message that quotes the input. */
static const char *const bad_inputs[] = {
    "1.2.3.4",			    /* missing port */
    "1.2.3.4:",			    /* empty port */
    "1.2.3.4:0",		    /* port 0 */
    "1.2.3.4:65536",		    /* port too big */
    "1.2.3.4:99999999999999999999", /* port overflows */
    "1.2.3.4:-1",
    "1.2.3.4:+80",
    "1.2.3.4:0x50",
    "1.2.3.4:http",
    "1.2.3.4:80 ",
    " 1.2.3.4:80",
    "1.2.3",	/* no port, short address */
    "1.2.3:80", /* short address */
    "256.1.1.1:80",
    "fd00::1:80", /* IPv6 without brackets */
    "::1",
    "[fd00::1]", /* bracketed, no port */
    "[fd00::1]80",
    "[fd00::1]:",
    "[fd00::1]:0",
    "[fd00::1:80",
    "[1.2.3.4]:80", /* brackets are for IPv6 only */
    "[]:80",
    ":80",
    "garbage",
    "host.example:80",
    "",
};

START_TEST(test_parse_bad)
{
	const char *text = bad_inputs[_i];
	struct endpoint e;
	char err[256] = "";
	char quoted[80];

	ck_assert_msg(endpoint_parse(text, &e, err, sizeof(err)) == -EINVAL, "'%s' was accepted",
		      text);
	snprintf(quoted, sizeof(quoted), "'%s'", text);
	ck_assert_str_contains(err, quoted);
}
END_TEST

START_TEST(test_parse_bad_messages)
{
	struct endpoint e;
	char err[256] = "";

	ck_assert_int_eq(endpoint_parse("1.2.3.4:0", &e, err, sizeof(err)), -EINVAL);
	ck_assert_str_contains(err, "port '0' is not a number from 1 to 65535");
	ck_assert_int_eq(endpoint_parse("1.2.3.4:65536", &e, err, sizeof(err)), -EINVAL);
	ck_assert_str_contains(err, "port '65536'");
	ck_assert_int_eq(endpoint_parse("1.2.3.4", &e, err, sizeof(err)), -EINVAL);
	ck_assert_str_contains(err, "expected IP:PORT or [IPV6]:PORT");
	ck_assert_int_eq(endpoint_parse("fd00::1:80", &e, err, sizeof(err)), -EINVAL);
	ck_assert_str_contains(err, "expected IP:PORT or [IPV6]:PORT");
	ck_assert_int_eq(endpoint_parse("1.2.3:80", &e, err, sizeof(err)), -EINVAL);
	ck_assert_str_contains(err, "'1.2.3' is not an IPv4 address or a bracketed IPv6 address");
	ck_assert_int_eq(endpoint_parse("[1.2.3.4]:80", &e, err, sizeof(err)), -EINVAL);
	ck_assert_str_contains(err, "'1.2.3.4' is not an IPv4 address");
}
END_TEST

START_TEST(test_parse_too_long)
{
	char text[200];
	struct endpoint e;
	char err[256] = "";

	/* Longer than any address: refused, and the message quotes its start. */
	memset(text, '1', sizeof(text) - 1);
	text[sizeof(text) - 1] = '\0';
	ck_assert_int_eq(endpoint_parse(text, &e, err, sizeof(err)), -EINVAL);
	ck_assert_str_contains(err, "'1111111111111111");
	ck_assert_str_contains(err, "is not an address");
}
END_TEST

START_TEST(test_parse_small_err_buffer)
{
	struct endpoint e;
	char err[8];

	memset(err, 'x', sizeof(err));
	ck_assert_int_eq(endpoint_parse("garbage-and-more", &e, err, sizeof(err)), -EINVAL);
	ck_assert_uint_eq(strlen(err), sizeof(err) - 1);
	ck_assert_int_eq(strncmp(err, "'garbag", 7), 0);
}
END_TEST

static const char *const round_trips[] = {
    "10.244.1.11:8080",
    "0.0.0.0:1",
    "255.255.255.255:65535",
    "[fd00::1]:443",
    "[::1]:80",
    "[2001:db8::a:b:c:d]:9",
    "[::ffff:1.2.3.4]:80",
    "[fd00:1:2:3:4:5:6:7]:65535",
};

START_TEST(test_str_round_trip)
{
	const char *text = round_trips[_i];
	struct endpoint e = ep(text), again;
	char buf[ENDPOINT_STR_LEN];

	ck_assert_ptr_eq(endpoint_str(&e, buf, sizeof(buf)), buf);
	ck_assert_str_eq(buf, text);
	again = ep(buf);
	ck_assert(endpoint_equal(&again, &e));
}
END_TEST

START_TEST(test_str_longest_fits)
{
	struct endpoint e;
	char buf[ENDPOINT_STR_LEN];

	memset(&e, 0, sizeof(e));
	e.family = AF_INET6;
	/* A full eight-group address that inet_ntop cannot shorten. */
	for (int i = 0; i < 16; i++)
		e.addr.bytes[i] = i % 2 ? 0xee : 0xff;
	e.port = htons(65535);
	endpoint_str(&e, buf, sizeof(buf));
	ck_assert_str_eq(buf, "[ffee:ffee:ffee:ffee:ffee:ffee:ffee:ffee]:65535");
}
END_TEST

START_TEST(test_cmp_order)
{
	/* Ascending: family (IPv4 first), then address, then port as numbers. */
	const char *const sorted[] = {
	    "1.2.3.4:80", "1.2.3.4:255",  "1.2.3.4:256",  "1.2.3.4:8080",
	    "9.0.0.0:1",  "10.0.0.0:1",	  "10.0.0.1:1",	  "255.255.255.255:1",
	    "[::1]:80",	  "[fd00::1]:80", "[fd00::1]:81", "[fd00::2]:1",
	};
	const size_t n = sizeof(sorted) / sizeof(sorted[0]);

	for (size_t i = 0; i < n; i++) {
		struct endpoint a = ep(sorted[i]);

		for (size_t j = 0; j < n; j++) {
			struct endpoint b = ep(sorted[j]);
			int c = endpoint_cmp(&a, &b);

			if (i < j)
				ck_assert_msg(c < 0, "%s should sort before %s", sorted[i],
					      sorted[j]);
			else if (i > j)
				ck_assert_msg(c > 0, "%s should sort after %s", sorted[i],
					      sorted[j]);
			else
				ck_assert_int_eq(c, 0);
			ck_assert(endpoint_equal(&a, &b) == (i == j));
		}
	}
}
END_TEST

static int by_endpoint(const void *a, const void *b)
{
	return endpoint_cmp(a, b);
}

START_TEST(test_cmp_qsort)
{
	const char *const texts[] = {"[fd00::1]:80", "10.0.0.2:80", "10.0.0.1:90", "10.0.0.1:80"};
	const char *const want[] = {"10.0.0.1:80", "10.0.0.1:90", "10.0.0.2:80", "[fd00::1]:80"};
	struct endpoint e[4];
	char buf[ENDPOINT_STR_LEN];

	for (int i = 0; i < 4; i++)
		e[i] = ep(texts[i]);
	qsort(e, 4, sizeof(e[0]), by_endpoint);
	for (int i = 0; i < 4; i++)
		ck_assert_str_eq(endpoint_str(&e[i], buf, sizeof(buf)), want[i]);
}
END_TEST

START_TEST(test_service_key)
{
	struct endpoint vip = ep("10.96.0.10:8080");
	struct socklb_service_key key = endpoint_service_key(&vip);
	struct endpoint back = endpoint_from_service_key(&key);

	ck_assert_uint_eq(key.vip.ip4, inet_addr("10.96.0.10"));
	ck_assert_mem_eq(key.vip.bytes + 4, zero12, 12);
	ck_assert_uint_eq(key.port, htons(8080));
	ck_assert_uint_eq(key.proto, IPPROTO_TCP);
	ck_assert_uint_eq(key.family, AF_INET);
	ck_assert(endpoint_equal(&back, &vip));

	vip = ep("[fd00::10]:53");
	key = endpoint_service_key(&vip);
	ck_assert_uint_eq(key.family, AF_INET6);
	ck_assert_mem_eq(key.vip.bytes, vip.addr.bytes, 16);
	back = endpoint_from_service_key(&key);
	ck_assert(endpoint_equal(&back, &vip));
}
END_TEST

START_TEST(test_from_backend)
{
	struct socklb_backend be;
	struct endpoint e;
	char buf[ENDPOINT_STR_LEN];

	memset(&be, 0, sizeof(be));
	be.addr.ip4 = inet_addr("10.244.2.7");
	be.port = htons(8080);
	be.family = AF_INET;
	be.service_id = 5;
	e = endpoint_from_backend(&be);
	ck_assert_str_eq(endpoint_str(&e, buf, sizeof(buf)), "10.244.2.7:8080");
}
END_TEST

Suite *endpoint_suite(void)
{
	Suite *s = suite_create("endpoint");
	TCase *parse = tcase_create("parse");
	TCase *str = tcase_create("str");
	TCase *cmp = tcase_create("cmp");

	tcase_add_test(parse, test_parse_ipv4);
	tcase_add_test(parse, test_parse_ipv4_port_bounds);
	tcase_add_test(parse, test_parse_ipv6_bracketed);
	tcase_add_test(parse, test_parse_ipv6_longest);
	tcase_add_test(parse, test_parse_n_prefix);
	tcase_add_loop_test(parse, test_parse_bad, 0, sizeof(bad_inputs) / sizeof(bad_inputs[0]));
	tcase_add_test(parse, test_parse_bad_messages);
	tcase_add_test(parse, test_parse_too_long);
	tcase_add_test(parse, test_parse_small_err_buffer);
	suite_add_tcase(s, parse);

	tcase_add_loop_test(str, test_str_round_trip, 0,
			    sizeof(round_trips) / sizeof(round_trips[0]));
	tcase_add_test(str, test_str_longest_fits);
	tcase_add_test(str, test_service_key);
	tcase_add_test(str, test_from_backend);
	suite_add_tcase(s, str);

	tcase_add_test(cmp, test_cmp_order);
	tcase_add_test(cmp, test_cmp_qsort);
	suite_add_tcase(s, cmp);
	return s;
}
