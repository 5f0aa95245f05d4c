// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * cluster/cluster_report and cluster_view: a node's report, its SocklbNode
 * object both ways, heartbeat times, and which peers' reports still count.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/cluster_view.h"
#include "sources/k8s/k8s_objects.h"
#include "helpers.h"
#include "suites.h"

static void set3(struct cluster_report *r, const char *vip, __u32 a, __u32 b, __u32 c, int want)
{
	struct endpoint backends[3] = {ep("10.244.1.13:8080"), ep("10.244.1.11:8080"),
				       ep("10.244.1.12:8080")};
	__u32 counts[3] = {a, b, c};
	struct endpoint v = ep(vip);

	ck_assert_int_eq(cluster_report_set(r, &v, backends, counts, 3), want);
}

static __u32 count_of(const struct cluster_report *r, const char *vip, const char *backend)
{
	struct endpoint v = ep(vip), b = ep(backend);

	return cluster_report_count(cluster_report_service(r, &v), &b);
}

START_TEST(test_set_says_whether_the_report_changed)
{
	struct cluster_report r = {.name = "node-1"};

	set3(&r, "10.96.0.10:8080", 1, 0, 2, 1);
	set3(&r, "10.96.0.10:8080", 1, 0, 2, 0); /* the same counts: nothing to write */
	set3(&r, "10.96.0.9:80", 0, 0, 0, 0);	 /* all zero: not in the report */
	ck_assert_uint_eq(r.n_services, 1);
	set3(&r, "10.96.0.9:80", 0, 5, 0, 1);
	ck_assert_uint_eq(r.n_services, 2);
	/* Sorted by VIP, backends sorted, zeros left out. */
	ck_assert(endpoint_equal(&r.services[0].vip, &(struct endpoint){0}) == false);
	ck_assert_uint_eq(r.services[1].n, 2);
	ck_assert_uint_eq(count_of(&r, "10.96.0.10:8080", "10.244.1.13:8080"), 1);
	ck_assert_uint_eq(count_of(&r, "10.96.0.10:8080", "10.244.1.12:8080"), 2);
	ck_assert_uint_eq(count_of(&r, "10.96.0.10:8080", "10.244.1.11:8080"), 0);
	ck_assert_uint_eq(count_of(&r, "10.96.0.11:8080", "10.244.1.12:8080"), 0);
	set3(&r, "10.96.0.10:8080", 1, 1, 2, 1);
	set3(&r, "10.96.0.10:8080", 0, 0, 0, 1); /* gone to zero: out of the report */
	ck_assert_uint_eq(r.n_services, 1);
	cluster_report_free(&r);
}
END_TEST

static bool keep_port_80(void *arg, const struct endpoint *vip)
{
	(void)arg;
	return vip->port == htons(80);
}

START_TEST(test_retain_drops_services_gone)
{
	struct cluster_report r = {.name = "node-1"};

	set3(&r, "10.96.0.10:8080", 1, 0, 0, 1);
	set3(&r, "10.96.0.11:80", 1, 0, 0, 1);
	ck_assert(cluster_report_retain(&r, keep_port_80, NULL));
	ck_assert(!cluster_report_retain(&r, keep_port_80, NULL));
	ck_assert_uint_eq(r.n_services, 1);
	ck_assert_uint_eq(count_of(&r, "10.96.0.11:80", "10.244.1.13:8080"), 1);
	cluster_report_free(&r);
}
END_TEST

START_TEST(test_object_round_trip)
{
	struct cluster_report r = {
	    .name = "kind-worker2", .publish_ms = 1000, .heartbeat_ms = 30000};
	struct cluster_object_meta meta = {.resource_version = "4711", .owner_uid = "uid-1"};
	struct cluster_report back;
	json_object *obj, *text;
	char err[256];

	r.heartbeat = 1764633600.25;
	set3(&r, "10.96.0.10:8080", 3, 0, 1, 1);
	set3(&r, "[fd00:96::10]:8080", 0, 2, 0, 1);
	obj = cluster_report_object(&r, &meta);
	text = json_tokener_parse(json_object_to_json_string(obj));
	ck_assert_str_eq(json_object_get_string(json_object_object_get(text, "kind")),
			 "SocklbNode");
	ck_assert_str_eq(k8s_get_str(text, "metadata.resourceVersion"), "4711");
	ck_assert_str_eq(k8s_get_str(text, "spec.heartbeatTime"), "2025-12-02T00:00:00.250000Z");
	ck_assert_int_eq(cluster_report_parse(text, &back, err, sizeof(err)), 0);
	ck_assert_str_eq(back.name, "kind-worker2");
	ck_assert_uint_eq(back.publish_ms, 1000);
	ck_assert_uint_eq(back.heartbeat_ms, 30000);
	ck_assert(back.heartbeat > 1764633600.24 && back.heartbeat < 1764633600.26);
	ck_assert_uint_eq(back.n_services, 2);
	ck_assert_uint_eq(count_of(&back, "10.96.0.10:8080", "10.244.1.13:8080"), 3);
	ck_assert_uint_eq(count_of(&back, "10.96.0.10:8080", "10.244.1.12:8080"), 1);
	ck_assert_uint_eq(count_of(&back, "[fd00:96::10]:8080", "10.244.1.11:8080"), 2);
	{
		json_object *owners = json_object_object_get(
		    json_object_object_get(text, "metadata"), "ownerReferences");
		json_object *o = json_object_array_get_idx(owners, 0);

		ck_assert_str_eq(k8s_get_str(o, "kind"), "Node");
		ck_assert_str_eq(k8s_get_str(o, "name"), "kind-worker2");
		ck_assert_str_eq(k8s_get_str(o, "uid"), "uid-1");
	}
	cluster_report_free(&back);
	cluster_report_free(&r);
	json_object_put(obj);
	json_object_put(text);
}
END_TEST

/* The object as the API server keeps it (tests/fixtures/k8s), server fields and all. */
START_TEST(test_parse_the_api_servers_copy)
{
	json_object *obj = test_fixture_json("socklbnode-kind-worker.json");
	struct cluster_report r;
	char err[256];

	ck_assert_int_eq(cluster_report_parse(obj, &r, err, sizeof(err)), 0);
	ck_assert_str_eq(r.name, "kind-worker");
	ck_assert_uint_eq(r.heartbeat_ms, 30000);
	ck_assert_uint_eq(r.publish_ms, 1000);
	ck_assert(r.heartbeat > 1700730161.50 && r.heartbeat < 1700730161.51);
	ck_assert_uint_eq(count_of(&r, "10.96.0.10:8080", "10.244.1.11:8080"), 2);
	ck_assert_uint_eq(count_of(&r, "10.96.0.10:8080", "10.244.1.12:8080"), 1);
	ck_assert_uint_eq(count_of(&r, "[fd00:96::10]:8080", "[fd00:5a1b::b]:8080"), 3);
	cluster_report_free(&r);
	json_object_put(obj);
}
END_TEST

static int parse_text(const char *json, struct cluster_report *out, char *err, size_t errlen)
{
	json_object *obj = json_tokener_parse(json);
	int ret;

	ck_assert_ptr_nonnull(obj);
	ret = cluster_report_parse(obj, out, err, errlen);
	json_object_put(obj);
	return ret;
}

START_TEST(test_parse_refuses_what_is_not_a_report)
{
	struct cluster_report r;
	char err[256];

	ck_assert_int_eq(
	    parse_text("{\"kind\":\"Node\",\"metadata\":{\"name\":\"a\"}}", &r, err, sizeof(err)),
	    -EINVAL);
	ck_assert_int_eq(parse_text("{\"metadata\":{\"name\":\"a\"}}", &r, err, sizeof(err)),
			 -EINVAL);
	ck_assert_str_contains(err, "has no spec");
	ck_assert_int_eq(parse_text("{\"metadata\":{\"name\":\"a\"},\"spec\":{\"heartbeatTime\":"
				    "\"yesterday\"}}",
				    &r, err, sizeof(err)),
			 -EINVAL);
	ck_assert_int_eq(
	    parse_text("{\"metadata\":{\"name\":\"a\"},\"spec\":{\"services\":[{\"vip\":"
		       "\"10.96.0.10:8080\",\"backends\":[{\"address\":\"10.244.1.11:"
		       "8080\",\"connections\":-1}]}]}}",
		       &r, err, sizeof(err)),
	    -EINVAL);
	ck_assert_int_eq(
	    parse_text("{\"metadata\":{\"name\":\"a\"},\"spec\":{\"services\":[{\"vip\":"
		       "\"nowhere\"}]}}",
		       &r, err, sizeof(err)),
	    -EINVAL);
	/* Twice one backend, or one VIP: the lookups would see only one (found by fuzzing). */
	ck_assert_int_eq(
	    parse_text(
		"{\"metadata\":{\"name\":\"a\"},\"spec\":{\"services\":[{\"vip\":"
		"\"10.96.0.10:8080\",\"backends\":[{\"address\":\"10.244.1.11:8080\","
		"\"connections\":1},{\"address\":\"10.244.1.11:8080\",\"connections\":2}]}]}}",
		&r, err, sizeof(err)),
	    -EINVAL);
	ck_assert_str_contains(err, "listed twice");
	ck_assert_int_eq(
	    parse_text("{\"metadata\":{\"name\":\"a\"},\"spec\":{\"services\":[{\"vip\":"
		       "\"10.96.0.10:8080\"},{\"vip\":\"10.96.0.10:8080\"}]}}",
		       &r, err, sizeof(err)),
	    -EINVAL);
	ck_assert_str_contains(err, "listed twice");
	/* A zero count is no connection: left out, as cluster_report_set leaves it out. */
	ck_assert_int_eq(
	    parse_text(
		"{\"metadata\":{\"name\":\"a\"},\"spec\":{\"services\":[{\"vip\":"
		"\"10.96.0.10:8080\",\"backends\":[{\"address\":\"10.244.1.11:8080\","
		"\"connections\":0},{\"address\":\"10.244.1.12:8080\",\"connections\":3}]}]}}",
		&r, err, sizeof(err)),
	    0);
	ck_assert_uint_eq(r.n_services, 1);
	ck_assert_uint_eq(r.services[0].n, 1);
	ck_assert_uint_eq(r.services[0].counts[0].connections, 3);
	cluster_report_free(&r);
	/* A list item (no kind) with an empty spec is a report of nothing. */
	ck_assert_int_eq(
	    parse_text("{\"metadata\":{\"name\":\"a\"},\"spec\":{}}", &r, err, sizeof(err)), 0);
	ck_assert_uint_eq(r.n_services, 0);
	ck_assert(r.heartbeat == 0);
	cluster_report_free(&r);
}
END_TEST

START_TEST(test_times_are_rfc3339_utc)
{
	char buf[64];
	double t;

	cluster_time_format(0.5, buf, sizeof(buf));
	ck_assert_str_eq(buf, "1970-01-01T00:00:00.500000Z");
	ck_assert_int_eq(cluster_time_parse("2026-11-25T10:00:00.123456Z", &t), 0);
	ck_assert(t > 1795600800.12345 && t < 1795600800.12346);
	ck_assert_int_eq(cluster_time_parse("2026-11-25T10:00:00Z", &t), 0);
	ck_assert(t == 1795600800.0);
	ck_assert_int_eq(cluster_time_parse("2026-11-25T10:00:00+01:00", &t), -EINVAL);
	ck_assert_int_eq(cluster_time_parse("2026-11-25", &t), -EINVAL);
}
END_TEST

START_TEST(test_a_report_older_than_three_heartbeats_counts_as_absent)
{
	struct cluster_report r = {.name = "node-2", .heartbeat = 1000.0, .heartbeat_ms = 30000};

	ck_assert(cluster_report_fresh(&r, 1000.0 + 89.9, 5000));
	ck_assert(!cluster_report_fresh(&r, 1000.0 + 90.0, 5000));
	ck_assert(cluster_report_fresh(&r, 990.0, 5000)); /* its clock ahead of ours */
	/* A report that says no interval: ours. */
	r.heartbeat_ms = 0;
	ck_assert(cluster_report_fresh(&r, 1014.9, 5000));
	ck_assert(!cluster_report_fresh(&r, 1015.1, 5000));
	/* No heartbeat at all: never fresh. */
	r.heartbeat = 0;
	ck_assert(!cluster_report_fresh(&r, 1.0, 5000));
}
END_TEST

static struct cluster_report *peer(const char *name, double heartbeat)
{
	struct cluster_report *r = calloc(1, sizeof(*r));

	snprintf(r->name, sizeof(r->name), "%s", name);
	r->heartbeat = heartbeat;
	r->heartbeat_ms = 1000;
	return r;
}

START_TEST(test_peers_are_the_fresh_reports_but_our_own)
{
	struct k8s_cache cache;
	struct cluster_peers p = {0};

	k8s_cache_init(&cache, &cluster_nodes_resource);
	ck_assert_int_eq(k8s_cache_put(&cache, "/node-1", peer("node-1", 100.0), NULL, 0), 0);
	ck_assert_int_eq(k8s_cache_put(&cache, "/node-2", peer("node-2", 99.0), NULL, 0), 0);
	ck_assert_int_eq(k8s_cache_put(&cache, "/node-3", peer("node-3", 90.0), NULL, 0), 0);
	ck_assert_int_eq(cluster_peers_collect(&p, &cache, "node-1", 100.5, 30000), 0);
	ck_assert_uint_eq(p.n_fresh, 1);
	ck_assert_str_eq(p.fresh[0]->name, "node-2");
	ck_assert_uint_eq(p.n_stale, 1);
	cluster_peers_free(&p);
	k8s_cache_free(&cache);
}
END_TEST

Suite *cluster_report_suite(void)
{
	Suite *s = suite_create("cluster_report");
	TCase *tc = tcase_create("report");

	tcase_add_test(tc, test_set_says_whether_the_report_changed);
	tcase_add_test(tc, test_retain_drops_services_gone);
	tcase_add_test(tc, test_object_round_trip);
	tcase_add_test(tc, test_parse_the_api_servers_copy);
	tcase_add_test(tc, test_parse_refuses_what_is_not_a_report);
	tcase_add_test(tc, test_times_are_rfc3339_utc);
	tcase_add_test(tc, test_a_report_older_than_three_heartbeats_counts_as_absent);
	tcase_add_test(tc, test_peers_are_the_fresh_reports_but_our_own);
	suite_add_tcase(s, tc);
	return s;
}
