// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* state_file.h: the agent's state file for `socklb status`, written and read back. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "helpers.h"
#include "agent/state_file.h"
#include "suites.h"

START_TEST(test_default_path)
{
	char buf[256];

	state_file_default_path("/sys/fs/bpf/socklb", buf, sizeof(buf));
	ck_assert_str_eq(buf, "/run/socklb/socklb.json");
	state_file_default_path("/sys/fs/bpf/socklb-test-12-0/", buf, sizeof(buf));
	ck_assert_str_eq(buf, "/run/socklb/socklb-test-12-0.json");
	state_file_default_path("pins", buf, sizeof(buf));
	ck_assert_str_eq(buf, "/run/socklb/pins.json");
	/* --state-file wins; "" (none) stays "". */
	state_file_path("/tmp/s.json", "/sys/fs/bpf/socklb", buf, sizeof(buf));
	ck_assert_str_eq(buf, "/tmp/s.json");
	state_file_path("", "/sys/fs/bpf/socklb", buf, sizeof(buf));
	ck_assert_str_eq(buf, "");
	state_file_path(NULL, "/sys/fs/bpf/socklb", buf, sizeof(buf));
	ck_assert_str_eq(buf, "/run/socklb/socklb.json");
}
END_TEST

static double get_double(json_object *o, const char *key)
{
	json_object *v;

	ck_assert_msg(json_object_object_get_ex(o, key, &v), "no %s", key);
	return json_object_get_double(v);
}

static const char *get_string(json_object *o, const char *key)
{
	json_object *v;

	ck_assert_msg(json_object_object_get_ex(o, key, &v), "no %s", key);
	return v ? json_object_get_string(v) : NULL;
}

START_TEST(test_write_then_read)
{
	struct state_service svcs[2] = {
	    {.vip = ep("10.96.0.10:8080"),
	     .source = "dns:web.default:8080",
	     .kind = "dns",
	     .state = "failing",
	     .published = true,
	     .n_backends = 3,
	     .last_refresh = 1700000000.5,
	     .last_error = "timeout",
	     .last_error_at = 1700000010.25},
	    {.vip = ep("[fd00::10]:80"), .source = "static:", .kind = "static", .state = "ok"},
	};
	char dir[] = "/tmp/socklb-unit-state-XXXXXX";
	char path[128], tmp[140], err[512] = "";
	json_object *root, *e;
	struct stat st;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	/* The directory is created when missing, as /run/socklb is on first start. */
	snprintf(path, sizeof(path), "%s/sub/pins.json", dir);
	struct retired_backend draining[] = {{17, ep("10.96.0.10:8080"), ep("10.244.1.14:8080")}};
	struct state_agent agent = {.draining = draining, .n_draining = 1};
	json_object *list;

	ck_assert_msg(
	    state_file_write(path, "/sys/fs/bpf/pins", svcs, 2, &agent, err, sizeof(err)) == 0,
	    "%s", err);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	ck_assert_int_eq(stat(tmp, &st), -1); /* renamed into place, nothing left over */

	root = state_file_read(path, err, sizeof(err));
	ck_assert_msg(root != NULL, "%s", err);
	ck_assert_str_eq(get_string(root, "pin_path"), "/sys/fs/bpf/pins");
	ck_assert_int_eq((int)get_double(root, "pid"), (int)getpid());
	e = state_file_find(root, "10.96.0.10:8080");
	ck_assert_ptr_nonnull(e);
	ck_assert_str_eq(get_string(e, "source"), "dns:web.default:8080");
	ck_assert_str_eq(get_string(e, "kind"), "dns");
	ck_assert_str_eq(get_string(e, "state"), "failing");
	ck_assert_str_eq(get_string(e, "last_error"), "timeout");
	ck_assert(get_double(e, "last_refresh") == 1700000000.5);
	ck_assert(get_double(e, "last_error_at") == 1700000010.25);
	ck_assert_int_eq((int)get_double(e, "backends"), 3);
	e = state_file_find(root, "[fd00::10]:80");
	ck_assert_ptr_nonnull(e);
	/* Never refreshed, no error: nulls, not zeros. */
	ck_assert_ptr_null(get_string(e, "last_refresh"));
	ck_assert_ptr_null(get_string(e, "last_error"));
	ck_assert_ptr_null(state_file_find(root, "10.96.0.11:80"));
	/* The backend removed from 10.96.0.10:8080 whose connections still drain. */
	ck_assert(json_object_object_get_ex(root, "draining", &list));
	ck_assert_uint_eq(json_object_array_length(list), 1);
	e = json_object_array_get_idx(list, 0);
	ck_assert_str_eq(get_string(e, "vip"), "10.96.0.10:8080");
	ck_assert_str_eq(get_string(e, "backend"), "10.244.1.14:8080");
	ck_assert_int_eq((int)get_double(e, "backend_id"), 17);
	json_object_put(root);

	/* A second write replaces the first whole. */
	ck_assert_int_eq(
	    state_file_write(path, "/sys/fs/bpf/pins", svcs + 1, 1, NULL, err, sizeof(err)), 0);
	root = state_file_read(path, err, sizeof(err));
	ck_assert_ptr_null(state_file_find(root, "10.96.0.10:8080"));
	ck_assert_ptr_nonnull(state_file_find(root, "[fd00::10]:80"));
	json_object_put(root);

	ck_assert_int_eq(state_file_remove(path, err, sizeof(err)), 0);
	ck_assert_int_eq(stat(path, &st), -1);
	/* Already gone, or none configured: nothing to do. */
	ck_assert_int_eq(state_file_remove(path, err, sizeof(err)), 0);
	ck_assert_int_eq(state_file_remove("", err, sizeof(err)), 0);
	snprintf(tmp, sizeof(tmp), "%s/sub", dir);
	rmdir(tmp);
	rmdir(dir);
}
END_TEST

START_TEST(test_read_missing_and_bad)
{
	char path[] = "/tmp/socklb-unit-state-XXXXXX";
	char err[512] = "x";
	int fd;

	ck_assert_ptr_null(state_file_read("/nonexistent/socklb.json", err, sizeof(err)));
	ck_assert_str_eq(err, ""); /* absent is not an error: no agent, or an old one */
	fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, "{\"services\": [", 14), 14);
	close(fd);
	ck_assert_ptr_null(state_file_read(path, err, sizeof(err)));
	ck_assert_str_contains(err, path);
	unlink(path);
	ck_assert_ptr_null(state_file_find(NULL, "10.96.0.10:80"));
}
END_TEST

START_TEST(test_write_error_names_the_file)
{
	struct state_service svc = {.vip = ep("10.96.0.10:80"), .kind = "static", .state = "ok"};
	char err[512] = "";

	ck_assert_int_eq(
	    state_file_write("/proc/socklb-no/x.json", "p", &svc, 1, NULL, err, sizeof(err)),
	    -ENOENT);
	ck_assert_str_contains(err, "/proc/socklb-no/x.json");
}
END_TEST

Suite *state_file_suite(void)
{
	Suite *s = suite_create("state_file");
	TCase *tc = tcase_create("state_file");

	tcase_add_test(tc, test_default_path);
	tcase_add_test(tc, test_write_then_read);
	tcase_add_test(tc, test_read_missing_and_bad);
	tcase_add_test(tc, test_write_error_names_the_file);
	suite_add_tcase(s, tc);
	return s;
}
