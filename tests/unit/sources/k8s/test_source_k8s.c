// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The k8s: source's pure parts: "k8s:NS/SVC[:PORT]" texts, Service JSON to
 * VIPs, EndpointSlice JSON to backends (ready endpoints, named ports, slices
 * merged, IPv6), cutting a watch stream into lines and the watch event state
 * machine (ADDED/MODIFIED/DELETED/BOOKMARK/ERROR 410), the API config, and
 * the service table's dynamic services.  The JSON is the recorded v1.28
 * objects in tests/fixtures/k8s (run from the repository root, as
 * `make unit-test` does, or set SOCKLB_K8S_FIXTURES).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "model/service_table.h"
#include "helpers.h"
#include "sources/k8s/k8s_api.h"
#include "sources/k8s/k8s_objects.h"
#include "sources/k8s/k8s_stream.h"
#include "sources/k8s/k8s_watcher.h"
#include "sources/k8s/k8s_cache.h"
#include "lib/strmap.h"
#include "lib/log.h"
#include "sources/source.h"
#include "agent/state_file.h"
#include "suites.h"

static json_object *parse(const char *text)
{
	json_object *obj = json_tokener_parse(text);

	ck_assert_msg(obj, "bad test JSON: %s", text);
	return obj;
}

/* ------------------------------------------------------------ spec texts */

START_TEST(test_parse_k8s_alone)
{
	struct service_spec s;

	spec("k8s:default/sample-service-grpc:grpc", &s);
	ck_assert_int_eq(s.kind, SOURCE_K8S);
	ck_assert(!service_spec_has_vip(&s));
	ck_assert_str_eq(s.source, "k8s:default/sample-service-grpc:grpc");
	ck_assert_str_eq(s.k8s_namespace, "default");
	ck_assert_str_eq(s.k8s_name, "sample-service-grpc");
	ck_assert_str_eq(s.k8s_port_name, "grpc");
	ck_assert_ptr_null(s.backends);
	service_spec_free(&s);
	ck_assert_ptr_null(s.k8s_name);

	spec("k8s:kube-system/kube-dns", &s);
	ck_assert_str_eq(s.k8s_namespace, "kube-system");
	ck_assert_str_eq(s.k8s_name, "kube-dns");
	ck_assert_ptr_null(s.k8s_port_name);
	service_spec_free(&s);
}
END_TEST

START_TEST(test_parse_k8s_with_vip)
{
	struct service_spec s;
	char buf[ENDPOINT_STR_LEN];

	spec("10.96.0.99:8080=k8s:default/sample-service-grpc:grpc", &s);
	ck_assert_int_eq(s.kind, SOURCE_K8S);
	ck_assert(service_spec_has_vip(&s));
	ck_assert_str_eq(endpoint_str(&s.vip, buf, sizeof(buf)), "10.96.0.99:8080");
	ck_assert_str_eq(s.source, "k8s:default/sample-service-grpc:grpc");
	ck_assert_str_eq(s.k8s_port_name, "grpc");
	service_spec_free(&s);

	spec("[fd00:96::99]:9090=k8s:default/web", &s);
	ck_assert_uint_eq(s.vip.family, AF_INET6);
	ck_assert_str_eq(s.k8s_name, "web");
	ck_assert_ptr_null(s.k8s_port_name);
	service_spec_free(&s);
}
END_TEST

struct bad_k8s {
	const char *text;
	const char *needles[3];
};

static const struct bad_k8s bad_k8s[] = {
    {"k8s:default", {"service 'k8s:default'", "expected k8s:NAMESPACE/SERVICE[:PORT-NAME]"}},
    {"k8s:Default/web", {"'k8s:Default/web'", "namespace 'Default' has 'D'", "lowercase"}},
    {"k8s:default/my_svc", {"'k8s:default/my_svc'", "service name 'my_svc' has '_'"}},
    {"k8s:default/web:", {"'k8s:default/web:'", "no port name"}},
    {"k8s:/web", {"'k8s:/web'", "no namespace"}},
    {"k8s:default/", {"no service name"}},
    {"k8s:default/-web", {"service name '-web' must not start or end with '-'"}},
    {"k8s:default/web-:grpc", {"service name 'web-' must not start or end with '-'"}},
    {"k8s:default/web:grpc:x", {"port name 'grpc:x' has ':'"}},
    {"k8s:default/web:GRPC", {"port name 'GRPC' has 'G'"}},
    {"k8s:default/web.default", {"service name 'web.default' has '.'"}},
    {"k8s:default/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
     {"service name 'aaaaaaaaaaaaaaaa...' is 64 characters long; at most 63"}},
    {"10.96.0.10:8080=k8s:default/Web",
     {"service '10.96.0.10:8080'", "'k8s:default/Web'", "service name 'Web' has 'W'"}},
    {"10.96.0.10:8080=k8s:", {"service '10.96.0.10:8080'", "expected k8s:NAMESPACE/SERVICE"}},
    {"dns:web:80",
     {"service 'dns:web:80'", "expected VIP:PORT=SOURCE",
      "k8s:NAMESPACE/SERVICE[:PORT-NAME] alone"}},
    {"10.96.0.10:80=kube:default/web",
     {"unknown source 'kube:default/web'", "k8s:NAMESPACE/SERVICE[:PORT-NAME]"}},
};

START_TEST(test_parse_k8s_bad)
{
	const struct bad_k8s *b = &bad_k8s[_i];
	struct service_spec s;
	char err[512] = "";

	ck_assert_msg(service_spec_parse(b->text, &s, err, sizeof(err)) == -EINVAL,
		      "'%s' was accepted", b->text);
	for (size_t i = 0; i < 3 && b->needles[i]; i++)
		ck_assert_str_contains(err, b->needles[i]);
	/* A failed parse owns nothing. */
	ck_assert_ptr_null(s.source);
	ck_assert_ptr_null(s.k8s_namespace);
	ck_assert_ptr_null(s.k8s_name);
	ck_assert_ptr_null(s.k8s_port_name);
	service_spec_free(&s);
}
END_TEST

static int list_add_text(struct service_spec_list *list, const char *text, char *err, size_t errlen)
{
	struct service_spec s;
	int ret;

	spec(text, &s);
	ret = service_spec_list_add(list, &s, err, errlen);
	service_spec_free(&s);
	return ret;
}

START_TEST(test_list_k8s_duplicates)
{
	struct service_spec_list list = {0};
	char err[256] = "";

	ck_assert_int_eq(list_add_text(&list, "k8s:default/web:grpc", err, sizeof(err)), 0);
	/* Another port of the same Service, and the same one with a VIP, are other services. */
	ck_assert_int_eq(list_add_text(&list, "k8s:default/web:metrics", err, sizeof(err)), 0);
	ck_assert_int_eq(list_add_text(&list, "k8s:default/web", err, sizeof(err)), 0);
	ck_assert_int_eq(
	    list_add_text(&list, "10.96.0.99:80=k8s:default/web:grpc", err, sizeof(err)), 0);
	ck_assert_int_eq(list_add_text(&list, "10.96.0.98:80=static:", err, sizeof(err)), 0);
	ck_assert_int_eq(list_add_text(&list, "k8s:default/web:grpc", err, sizeof(err)), -EINVAL);
	ck_assert_str_eq(err, "service k8s:default/web:grpc is given twice");
	ck_assert_int_eq(list_add_text(&list, "10.96.0.99:80=static:", err, sizeof(err)), -EINVAL);
	ck_assert_str_contains(err, "service 10.96.0.99:80 is given twice");
	ck_assert_uint_eq(list.n, 5);
	service_spec_list_free(&list);
}
END_TEST

/* -------------------------------------------------------- Service to VIPs */

static void load_service(const char *fixture, struct k8s_service *svc)
{
	json_object *obj = test_fixture_json(fixture);
	char err[256] = "";

	ck_assert_msg(k8s_service_parse(obj, svc, err, sizeof(err)) == 0, "%s", err);
	json_object_put(obj);
}

static void assert_vips(const struct k8s_vip *v, size_t n, const char *const *want,
			const char *const *ports)
{
	char buf[ENDPOINT_STR_LEN];

	for (size_t i = 0; i < n; i++) {
		ck_assert_ptr_nonnull(want[i]);
		ck_assert_str_eq(endpoint_str(&v[i].vip, buf, sizeof(buf)), want[i]);
		ck_assert_str_eq(v[i].port_name, ports[i]);
	}
	ck_assert_ptr_null(want[n]);
}

START_TEST(test_service_parse)
{
	struct k8s_service svc;
	char buf[ENDPOINT_STR_LEN];

	load_service("service-sample-service-grpc.json", &svc);
	ck_assert_str_eq(svc.ns, "default");
	ck_assert_str_eq(svc.name, "sample-service-grpc");
	ck_assert_str_eq(svc.type, "ClusterIP");
	ck_assert(!svc.headless && !svc.enabled);
	ck_assert_uint_eq(svc.n_cluster_ips, 2);
	ck_assert_str_eq(endpoint_str(&svc.cluster_ips[0], buf, sizeof(buf)), "10.96.0.10:0");
	ck_assert_str_eq(endpoint_str(&svc.cluster_ips[1], buf, sizeof(buf)), "[fd00:96::10]:0");
	ck_assert_uint_eq(svc.n_ports, 2);
	ck_assert_str_eq(svc.ports[0].name, "grpc");
	ck_assert_uint_eq(svc.ports[0].port, 8080);
	ck_assert(svc.ports[0].tcp);
	/* targetPort by name: the slice's port says the number. */
	ck_assert_uint_eq(svc.ports[0].target_port, 0);
	ck_assert_str_eq(svc.ports[1].name, "metrics");
	k8s_service_free(&svc);
}
END_TEST

START_TEST(test_service_vips_named_port)
{
	const char *const want[] = {"10.96.0.10:8080", "[fd00:96::10]:8080", NULL};
	const char *const ports[] = {"grpc", "grpc"};
	struct k8s_selector sel = {.port_name = "grpc"};
	struct k8s_service svc;
	struct k8s_vip *v;
	size_t n;
	char err[256] = "";

	load_service("service-sample-service-grpc.json", &svc);
	ck_assert_msg(k8s_service_vips(&svc, &sel, &v, &n, err, sizeof(err)) == 0, "%s", err);
	ck_assert_uint_eq(n, 2);
	assert_vips(v, n, want, ports);
	free(v);

	sel.port_name = "nope";
	ck_assert_int_eq(k8s_service_vips(&svc, &sel, &v, &n, err, sizeof(err)), -EINVAL);
	ck_assert_str_eq(err, "service default/sample-service-grpc has no port named 'nope' "
			      "(ports: grpc, metrics)");
	ck_assert_ptr_null(v);

	/* No name: with two ports the user must say which. */
	sel.port_name = NULL;
	ck_assert_int_eq(k8s_service_vips(&svc, &sel, &v, &n, err, sizeof(err)), -EINVAL);
	ck_assert_str_eq(err, "service default/sample-service-grpc has 2 ports (grpc, metrics): "
			      "name one, as in k8s:default/sample-service-grpc:PORT-NAME");
	k8s_service_free(&svc);
}
END_TEST

START_TEST(test_service_vips_all_ports_and_given_vip)
{
	const char *const all[] = {"10.96.0.10:8080", "10.96.0.10:9090", "[fd00:96::10]:8080",
				   "[fd00:96::10]:9090", NULL};
	const char *const all_ports[] = {"grpc", "metrics", "grpc", "metrics"};
	const char *const given[] = {"10.96.0.99:9999", NULL};
	const char *const given_port[] = {"metrics"};
	struct k8s_selector sel = {.all_ports = true};
	struct k8s_service svc;
	struct k8s_vip *v;
	size_t n;
	char err[256] = "";

	load_service("service-sample-service-grpc.json", &svc);
	ck_assert_int_eq(k8s_service_vips(&svc, &sel, &v, &n, err, sizeof(err)), 0);
	assert_vips(v, n, all, all_ports);
	free(v);

	/* A VIP given: that one only, on the port named (any number). */
	sel = (struct k8s_selector){
	    .has_vip = true, .vip = ep("10.96.0.99:9999"), .port_name = "metrics"};
	ck_assert_int_eq(k8s_service_vips(&svc, &sel, &v, &n, err, sizeof(err)), 0);
	assert_vips(v, n, given, given_port);
	free(v);
	/* No port name: the Service port with the VIP's number. */
	sel = (struct k8s_selector){.has_vip = true, .vip = ep("[fd00:96::99]:8080")};
	ck_assert_int_eq(k8s_service_vips(&svc, &sel, &v, &n, err, sizeof(err)), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_str_eq(v[0].port_name, "grpc");
	free(v);
	sel.vip = ep("10.96.0.99:7000");
	ck_assert_int_eq(k8s_service_vips(&svc, &sel, &v, &n, err, sizeof(err)), -EINVAL);
	ck_assert_str_contains(err, "has 2 ports (grpc, metrics): name one");
	k8s_service_free(&svc);
}
END_TEST

static json_object *list_item(json_object *list, const char *name)
{
	json_object *items;

	ck_assert(json_object_object_get_ex(list, "items", &items));
	for (size_t i = 0; i < json_object_array_length(items); i++) {
		json_object *it = json_object_array_get_idx(items, i);

		if (!strcmp(k8s_get_str(it, "metadata.name"), name))
			return it;
	}
	ck_abort_msg("no item %s", name);
	return NULL;
}

START_TEST(test_service_discovery_list)
{
	json_object *list = test_fixture_json("servicelist-all-namespaces.json");
	static const struct {
		const char *name;
		bool discoverable;
	} want[] = {
	    {"kubernetes", false},		     /* not annotated */
	    {"sample-service-grpc", true},	     /* annotated ClusterIP */
	    {"sample-service-grpc-headless", false}, /* annotated, but clusterIP None */
	    {"kube-dns", false},
	};
	struct k8s_selector all = {.all_ports = true}, dns = {.port_name = "dns"};
	struct k8s_service svc;
	struct k8s_vip *v;
	size_t n;
	char err[256] = "";

	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		ck_assert_int_eq(
		    k8s_service_parse(list_item(list, want[i].name), &svc, err, sizeof(err)), 0);
		ck_assert_msg(k8s_service_discoverable(&svc) == want[i].discoverable, "%s",
			      want[i].name);
		if (!strcmp(want[i].name, "sample-service-grpc-headless")) {
			ck_assert(svc.headless && svc.enabled);
			ck_assert_int_eq(k8s_service_vips(&svc, &all, &v, &n, err, sizeof(err)),
					 -EINVAL);
			ck_assert_str_contains(err, "has no cluster IP (headless)");
		}
		if (!strcmp(want[i].name, "kube-dns")) {
			/* UDP ports are not balanced: dns-tcp and metrics only. */
			ck_assert_int_eq(k8s_service_vips(&svc, &all, &v, &n, err, sizeof(err)), 0);
			ck_assert_uint_eq(n, 2);
			ck_assert_str_eq(v[0].port_name, "dns-tcp");
			ck_assert_str_eq(v[1].port_name, "metrics");
			free(v);
			ck_assert_int_eq(k8s_service_vips(&svc, &dns, &v, &n, err, sizeof(err)),
					 -EINVAL);
			ck_assert_str_contains(err, "port 'dns' is not TCP");
		}
		k8s_service_free(&svc);
	}
	json_object_put(list);
}
END_TEST

/* A Service with the socklb.io/time-fair annotation set to value. */
static void parse_time_fair_annotation(const char *value, struct k8s_service *svc)
{
	char text[512], err[256] = "";
	json_object *obj;

	snprintf(text, sizeof(text),
		 "{\"kind\":\"Service\",\"metadata\":{\"name\":\"web\",\"namespace\":\"shop\","
		 "\"annotations\":{\"socklb.io/time-fair\":%s}},\"spec\":{\"clusterIP\":"
		 "\"10.96.3.4\",\"ports\":[{\"port\":80}]}}",
		 value);
	obj = parse(text);
	ck_assert_msg(k8s_service_parse(obj, svc, err, sizeof(err)) == 0, "%s", err);
	json_object_put(obj);
}

START_TEST(test_service_time_fair_annotation)
{
	const char *bad[] = {"\"fast\"", "\"0s\"", "30", "\"10 s\""};
	struct k8s_service svc;

	parse_time_fair_annotation("\"off\"", &svc);
	ck_assert(svc.time_fair.own && svc.time_fair.window_ms == 0 && !svc.time_fair_bad);
	k8s_service_free(&svc);
	parse_time_fair_annotation("\"30s\"", &svc);
	ck_assert(svc.time_fair.own && !svc.time_fair_bad);
	ck_assert_uint_eq(svc.time_fair.window_ms, 30000);
	k8s_service_free(&svc);
	/* Not a window: ignored and said (0s would be off by another name). */
	for (size_t i = 0; i < 4; i++) {
		parse_time_fair_annotation(bad[i], &svc);
		ck_assert_msg(!svc.time_fair.own && svc.time_fair_bad, "%s", bad[i]);
		k8s_service_free(&svc);
	}
}
END_TEST

START_TEST(test_service_single_unnamed_port)
{
	json_object *obj = parse(
	    "{\"kind\":\"Service\",\"apiVersion\":\"v1\",\"metadata\":{\"name\":\"web\","
	    "\"namespace\":\"shop\",\"resourceVersion\":\"7\"},\"spec\":{\"ports\":[{\"protocol\":"
	    "\"TCP\",\"port\":80,\"targetPort\":8080}],\"clusterIP\":\"10.96.3.4\",\"type\":"
	    "\"ClusterIP\"}}");
	struct k8s_selector sel = {0};
	struct k8s_service svc;
	struct k8s_vip *v;
	size_t n;
	char buf[ENDPOINT_STR_LEN], err[256] = "";

	/* No clusterIPs: clusterIP alone (an older object). */
	ck_assert_int_eq(k8s_service_parse(obj, &svc, err, sizeof(err)), 0);
	ck_assert_int_eq(k8s_service_vips(&svc, &sel, &v, &n, err, sizeof(err)), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_str_eq(endpoint_str(&v[0].vip, buf, sizeof(buf)), "10.96.3.4:80");
	ck_assert_str_eq(v[0].port_name, "");
	ck_assert_uint_eq(v[0].target_port, 8080);
	free(v);
	k8s_service_free(&svc);
	json_object_put(obj);

	obj = parse("{\"kind\":\"EndpointSlice\",\"metadata\":{\"name\":\"x\"}}");
	ck_assert_int_eq(k8s_service_parse(obj, &svc, err, sizeof(err)), -EINVAL);
	ck_assert_str_eq(err, "expected a Service, got a EndpointSlice");
	json_object_put(obj);
}
END_TEST

/* ------------------------------------------------ EndpointSlices to backends */

static void load_slice(const char *fixture, struct k8s_slice *out)
{
	json_object *obj = test_fixture_json(fixture);
	char err[256] = "";

	ck_assert_msg(k8s_slice_parse(obj, out, err, sizeof(err)) == 0, "%s", err);
	json_object_put(obj);
}

static struct k8s_vip vip_for(const char *vip, const char *port_name)
{
	struct k8s_vip v = {.vip = ep(vip)};

	snprintf(v.port_name, sizeof(v.port_name), "%s", port_name);
	return v;
}

struct slice_list {
	const struct k8s_slice *items[16];
	size_t n;
};

static void collect_slice(void *arg, const struct k8s_cache_entry *e)
{
	struct slice_list *l = arg;

	ck_assert_uint_lt(l->n, 16);
	l->items[l->n++] = e->obj;
}

/* The backends of vip over every slice of the cache, as "a,b,c" ("" when none). */
static const char *backends_str(const struct k8s_cache *set, const char *vip, const char *port_name)
{
	static char out[1024];
	struct k8s_vip v = vip_for(vip, port_name);
	struct slice_list l = {.n = 0};
	struct endpoint *eps;
	char buf[ENDPOINT_STR_LEN];
	size_t n, used = 0;

	k8s_cache_each(set, collect_slice, &l);
	ck_assert_int_eq(k8s_slices_backends(l.items, l.n, &v, &eps, &n), 0);
	out[0] = '\0';
	for (size_t i = 0; i < n; i++)
		used += (size_t)snprintf(out + used, sizeof(out) - used, "%s%s", i ? "," : "",
					 endpoint_str(&eps[i], buf, sizeof(buf)));
	free(eps);
	return out;
}

/* Puts a parsed slice (copied to the heap) into the cache under default/NAME. */
static void put_slice(struct k8s_cache *set, const struct k8s_slice *s)
{
	struct k8s_slice *copy = malloc(sizeof(*copy));
	char key[320];

	ck_assert_ptr_nonnull(copy);
	*copy = *s;
	k8s_key(key, sizeof(key), "default", s->name);
	ck_assert_int_eq(k8s_cache_put(set, key, copy, NULL, 0), 0);
}

START_TEST(test_slice_ready_and_named_port)
{
	struct k8s_cache set;
	struct k8s_slice s;

	k8s_cache_init(&set, &k8s_endpointslices_resource);
	load_slice("endpointslice-sample-service-grpc-ipv4.json", &s);
	ck_assert_str_eq(s.name, "sample-service-grpc-7xk2p");
	ck_assert_int_eq(s.family, AF_INET);
	ck_assert_uint_eq(s.n_ready, 2);
	ck_assert_uint_eq(s.n_not_ready, 1);
	ck_assert_uint_eq(s.n_ports, 2);
	ck_assert_str_eq(s.service, "sample-service-grpc");
	put_slice(&set, &s);
	/* 10.244.1.13 is not ready. */
	ck_assert_str_eq(backends_str(&set, "10.96.0.10:8080", "grpc"),
			 "10.244.1.11:8080,10.244.1.12:8080");
	ck_assert_str_eq(backends_str(&set, "10.96.0.10:9090", "metrics"),
			 "10.244.1.11:9090,10.244.1.12:9090");
	ck_assert_str_eq(backends_str(&set, "10.96.0.10:80", "http"), "");
	/* The IPv6 VIP takes IPv6 slices only. */
	ck_assert_str_eq(backends_str(&set, "[fd00:96::10]:8080", "grpc"), "");
	load_slice("endpointslice-sample-service-grpc-ipv6.json", &s);
	ck_assert_int_eq(s.family, AF_INET6);
	put_slice(&set, &s);
	ck_assert_str_eq(backends_str(&set, "[fd00:96::10]:8080", "grpc"),
			 "[fd00:5a1b::b]:8080,[fd00:5a1b::c]:8080");
	ck_assert_str_eq(backends_str(&set, "10.96.0.10:8080", "grpc"),
			 "10.244.1.11:8080,10.244.1.12:8080");
	k8s_cache_free(&set);
}
END_TEST

static void put_text(struct k8s_cache *set, const char *text)
{
	json_object *obj = parse(text);
	struct k8s_slice s;
	char err[256] = "";

	ck_assert_msg(k8s_slice_parse(obj, &s, err, sizeof(err)) == 0, "%s", err);
	put_slice(set, &s);
	json_object_put(obj);
}

START_TEST(test_slice_ready_missing_null_and_merge)
{
	struct k8s_cache set;

	k8s_cache_init(&set, &k8s_endpointslices_resource);
	/* ready missing or null: unknown, taken as ready (API docs); false: left out. */
	put_text(&set,
		 "{\"metadata\":{\"name\":\"a\"},\"addressType\":\"IPv4\",\"ports\":[{\"name\":"
		 "\"grpc\",\"port\":8443,\"protocol\":\"TCP\"}],\"endpoints\":["
		 "{\"addresses\":[\"10.0.0.1\"],\"conditions\":{}},"
		 "{\"addresses\":[\"10.0.0.2\"],\"conditions\":{\"ready\":null}},"
		 "{\"addresses\":[\"10.0.0.3\"]},"
		 "{\"addresses\":[\"10.0.0.4\",\"10.0.0.44\"],\"conditions\":{\"ready\":true}},"
		 "{\"addresses\":[\"10.0.0.5\"],\"conditions\":{\"ready\":false,\"serving\":"
		 "true,\"terminating\":true}}]}");
	/* The slice's port is where pods listen: 8443, whatever the Service port. */
	ck_assert_str_eq(backends_str(&set, "10.96.0.10:8080", "grpc"),
			 "10.0.0.1:8443,10.0.0.2:8443,10.0.0.3:8443,10.0.0.4:8443");
	/* A second slice: merged; an address in both counts once. */
	put_text(&set,
		 "{\"metadata\":{\"name\":\"b\"},\"addressType\":\"IPv4\",\"ports\":[{\"name\":"
		 "\"grpc\",\"port\":8443}],\"endpoints\":[{\"addresses\":[\"10.0.0.9\"]},"
		 "{\"addresses\":[\"10.0.0.1\"]}]}");
	ck_assert_str_eq(backends_str(&set, "10.96.0.10:8080", "grpc"),
			 "10.0.0.1:8443,10.0.0.2:8443,10.0.0.3:8443,10.0.0.4:8443,10.0.0.9:8443");
	/* A slice whose port is named otherwise, a UDP one, and FQDN ones add nothing. */
	put_text(&set,
		 "{\"metadata\":{\"name\":\"c\"},\"addressType\":\"IPv4\",\"ports\":[{\"name\":"
		 "\"http\",\"port\":80}],\"endpoints\":[{\"addresses\":[\"10.0.0.7\"]}]}");
	put_text(&set,
		 "{\"metadata\":{\"name\":\"d\"},\"addressType\":\"IPv4\",\"ports\":[{\"name\":"
		 "\"grpc\",\"port\":8443,\"protocol\":\"UDP\"}],\"endpoints\":[{\"addresses\":"
		 "[\"10.0.0.8\"]}]}");
	put_text(&set,
		 "{\"metadata\":{\"name\":\"e\"},\"addressType\":\"FQDN\",\"ports\":[{\"name\":"
		 "\"grpc\",\"port\":8443}],\"endpoints\":[{\"addresses\":[\"db.example\"]}]}");
	ck_assert_uint_eq(k8s_cache_count(&set), 5);
	ck_assert_str_eq(backends_str(&set, "10.96.0.10:8080", "grpc"),
			 "10.0.0.1:8443,10.0.0.2:8443,10.0.0.3:8443,10.0.0.4:8443,10.0.0.9:8443");
	/* Replaced by name; deleted by name. */
	put_text(&set,
		 "{\"metadata\":{\"name\":\"a\"},\"addressType\":\"IPv4\",\"ports\":[{\"name\":"
		 "\"grpc\",\"port\":8443}],\"endpoints\":null}");
	ck_assert_str_eq(backends_str(&set, "10.96.0.10:8080", "grpc"),
			 "10.0.0.1:8443,10.0.0.9:8443");
	ck_assert_int_eq(k8s_cache_del(&set, "default/b", NULL, 0), 0);
	ck_assert_int_eq(k8s_cache_del(&set, "default/b", NULL, 0), -ENOENT);
	ck_assert_str_eq(backends_str(&set, "10.96.0.10:8080", "grpc"), "");
	/* An unnamed Service port maps to the slice port named "". */
	put_text(&set,
		 "{\"metadata\":{\"name\":\"f\"},\"addressType\":\"IPv6\",\"ports\":[{\"name\":"
		 "\"\",\"port\":80}],\"endpoints\":[{\"addresses\":[\"fd00::1\"]}]}");
	ck_assert_str_eq(backends_str(&set, "[fd00:96::1]:80", ""), "[fd00::1]:80");
	k8s_cache_free(&set);
}
END_TEST

/* A slice of Service svc named name, with one ready endpoint ip. */
static void put_labelled(struct k8s_cache *c, const char *name, const char *svc, const char *ip,
			 char *old_index, size_t len)
{
	char text[512], err[256] = "", key[320];
	json_object *obj;
	struct k8s_slice *s = malloc(sizeof(*s));

	snprintf(text, sizeof(text),
		 "{\"metadata\":{\"name\":\"%s\",\"labels\":{\"kubernetes.io/service-name\":"
		 "\"%s\"}},\"addressType\":\"IPv4\",\"ports\":[{\"name\":\"grpc\",\"port\":80}],"
		 "\"endpoints\":[{\"addresses\":[\"%s\"]}]}",
		 name, svc, ip);
	obj = parse(text);
	ck_assert_ptr_nonnull(s);
	ck_assert_msg(k8s_slice_parse(obj, s, err, sizeof(err)) == 0, "%s", err);
	json_object_put(obj);
	k8s_key(key, sizeof(key), "ns1", name);
	ck_assert_int_eq(k8s_cache_put(c, key, s, old_index, len), 0);
}

/* The informers' cache: by key, by index (a slice's Service), relabelled, swapped. */
START_TEST(test_cache_index)
{
	struct k8s_cache c, staging;
	char old[320];
	size_t n;
	struct k8s_cache_entry *const *e;

	k8s_cache_init(&c, &k8s_endpointslices_resource);
	put_labelled(&c, "web-a", "web", "10.0.0.1", old, sizeof(old));
	ck_assert_str_eq(old, "");
	put_labelled(&c, "web-b", "web", "10.0.0.2", old, sizeof(old));
	put_labelled(&c, "db-a", "db", "10.0.0.3", old, sizeof(old));
	e = k8s_cache_indexed(&c, "ns1/web", &n);
	ck_assert_uint_eq(n, 2);
	ck_assert(!strcmp(e[0]->key, "ns1/web-a") || !strcmp(e[1]->key, "ns1/web-a"));
	k8s_cache_indexed(&c, "ns2/web", &n);
	ck_assert_uint_eq(n, 0);
	/* Relabelled: it moves from one Service to the other; put says from where. */
	put_labelled(&c, "web-b", "db", "10.0.0.2", old, sizeof(old));
	ck_assert_str_eq(old, "ns1/web");
	k8s_cache_indexed(&c, "ns1/web", &n);
	ck_assert_uint_eq(n, 1);
	k8s_cache_indexed(&c, "ns1/db", &n);
	ck_assert_uint_eq(n, 2);
	ck_assert_int_eq(k8s_cache_del(&c, "ns1/web-a", old, sizeof(old)), 0);
	ck_assert_str_eq(old, "ns1/web");
	ck_assert_ptr_null(k8s_cache_indexed(&c, "ns1/web", &n));
	ck_assert_uint_eq(n, 0);
	ck_assert_ptr_nonnull(k8s_cache_get(&c, "ns1/db-a"));
	ck_assert_ptr_null(k8s_cache_get(&c, "ns1/web-a"));
	/* A list fills a staging copy that replaces the cache whole. */
	k8s_cache_init(&staging, &k8s_endpointslices_resource);
	put_labelled(&staging, "x", "web", "10.0.0.9", NULL, 0);
	k8s_cache_swap(&c, &staging);
	k8s_cache_free(&staging);
	ck_assert_uint_eq(k8s_cache_count(&c), 1);
	k8s_cache_indexed(&c, "ns1/web", &n);
	ck_assert_uint_eq(n, 1);
	k8s_cache_free(&c);
}
END_TEST

/* Thousands of keys (a cluster's Services): every one found, deleted, none left. */
START_TEST(test_strmap_many)
{
	struct strmap m = {0};
	static int values[5000];
	char key[32];

	for (int i = 0; i < 5000; i++) {
		snprintf(key, sizeof(key), "ns/svc-%d", i);
		ck_assert_int_eq(strmap_put(&m, key, &values[i]), 0);
	}
	ck_assert_uint_eq(m.n, 5000);
	for (int i = 0; i < 5000; i += 7) {
		snprintf(key, sizeof(key), "ns/svc-%d", i);
		ck_assert_ptr_eq(strmap_get(&m, key), &values[i]);
		ck_assert_ptr_eq(strmap_del(&m, key), &values[i]);
		ck_assert_ptr_null(strmap_get(&m, key));
	}
	ck_assert_ptr_null(strmap_get(&m, "ns/none"));
	ck_assert_uint_eq(m.n, 5000 - 715);
	strmap_clear(&m);
	ck_assert_uint_eq(m.n, 0);
}
END_TEST

START_TEST(test_slice_bad)
{
	json_object *obj = parse("{\"kind\":\"EndpointSlice\",\"addressType\":\"IPv4\"}");
	struct k8s_slice s;
	char err[256] = "";

	ck_assert_int_eq(k8s_slice_parse(obj, &s, err, sizeof(err)), -EINVAL);
	ck_assert_str_eq(err, "EndpointSlice without metadata.name");
	json_object_put(obj);
	obj = parse("{\"metadata\":{\"name\":\"a\"},\"addressType\":\"IPv4\",\"ports\":[{\"port\":"
		    "70000}]}");
	ck_assert_int_eq(k8s_slice_parse(obj, &s, err, sizeof(err)), -EINVAL);
	ck_assert_str_contains(err, "port 0 is not a valid number");
	json_object_put(obj);
}
END_TEST

/* ------------------------------------------------------- the watch stream */

static char *split_lines[16];
static size_t n_split;

static void collect_lines(struct k8s_line_buf *b)
{
	char *line;
	size_t len;

	while ((line = k8s_line_buf_next(b, &len))) {
		ck_assert_uint_lt(n_split, 16);
		ck_assert_uint_eq(strlen(line), len);
		split_lines[n_split++] = strdup(line);
	}
}

START_TEST(test_line_splitting)
{
	size_t len, sizes[] = {1, 2, 7, 100, 4096, 1 << 20};
	char *text = test_read_fixture("watch-endpointslices.jsonl", &len);

	for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		struct k8s_line_buf b = {0};
		const char *line = text;

		n_split = 0;
		/* The stream arrives in pieces of any size, cut anywhere. */
		for (size_t off = 0; off < len; off += sizes[k]) {
			size_t n = len - off < sizes[k] ? len - off : sizes[k];

			ck_assert_int_eq(k8s_line_buf_append(&b, text + off, n), 0);
			collect_lines(&b);
		}
		ck_assert_uint_eq(n_split, 7);
		ck_assert_uint_eq(k8s_line_buf_pending(&b), 0);
		for (size_t i = 0; i < n_split; i++) {
			const char *nl = strchr(line, '\n');

			ck_assert_uint_eq(strlen(split_lines[i]), (size_t)(nl - line));
			ck_assert(!strncmp(split_lines[i], line, (size_t)(nl - line)));
			line = nl + 1;
			free(split_lines[i]);
		}
		k8s_line_buf_free(&b);
	}
	free(text);
}
END_TEST

START_TEST(test_line_splitting_crlf_and_partial)
{
	struct k8s_line_buf b = {0};
	char *line;
	size_t len;

	ck_assert_int_eq(k8s_line_buf_append(&b, "{\"a\":1}\r\n\n{\"b\"", 14), 0);
	line = k8s_line_buf_next(&b, &len);
	ck_assert_str_eq(line, "{\"a\":1}");
	ck_assert_uint_eq(len, 7);
	line = k8s_line_buf_next(&b, &len);
	ck_assert_str_eq(line, "");
	ck_assert_ptr_null(k8s_line_buf_next(&b, &len));
	ck_assert_uint_eq(k8s_line_buf_pending(&b), 4);
	ck_assert_int_eq(k8s_line_buf_append(&b, ":2}\n", 4), 0);
	ck_assert_str_eq(k8s_line_buf_next(&b, &len), "{\"b\":2}");
	ck_assert_uint_eq(k8s_line_buf_pending(&b), 0);
	k8s_line_buf_free(&b);
}
END_TEST

/* What the slices informer does with the events, without the I/O. */
struct slice_watch {
	struct k8s_cache set;
	unsigned objects;
	enum k8s_event_type last;
};

static void apply_slice_event(void *arg, enum k8s_event_type type, json_object *obj)
{
	struct slice_watch *w = arg;
	struct k8s_slice s;
	char err[256] = "", key[320];

	w->objects++;
	w->last = type;
	if (type == K8S_EVENT_DELETED) {
		k8s_key(key, sizeof(key), "default", k8s_get_str(obj, "metadata.name"));
		ck_assert_int_eq(k8s_cache_del(&w->set, key, NULL, 0), 0);
		return;
	}
	ck_assert_msg(k8s_slice_parse(obj, &s, err, sizeof(err)) == 0, "%s", err);
	put_slice(&w->set, &s);
}

START_TEST(test_watch_events_recorded_stream)
{
	static const struct {
		enum k8s_line_result result;
		enum k8s_event_type type;
		const char *rv, *v4, *v6;
	} want[] = {
	    {K8S_LINE_OBJECT, K8S_EVENT_ADDED, "1187", "10.244.1.11:8080,10.244.1.12:8080", ""},
	    {K8S_LINE_OBJECT, K8S_EVENT_ADDED, "1189", "10.244.1.11:8080,10.244.1.12:8080",
	     "[fd00:5a1b::b]:8080,[fd00:5a1b::c]:8080"},
	    /* A second IPv4 slice: merged. */
	    {K8S_LINE_OBJECT, K8S_EVENT_ADDED, "1239",
	     "10.244.1.11:8080,10.244.1.12:8080,10.244.1.14:8080",
	     "[fd00:5a1b::b]:8080,[fd00:5a1b::c]:8080"},
	    /* 10.244.1.13 becomes ready. */
	    {K8S_LINE_OBJECT, K8S_EVENT_MODIFIED, "1241",
	     "10.244.1.11:8080,10.244.1.12:8080,10.244.1.13:8080,10.244.1.14:8080",
	     "[fd00:5a1b::b]:8080,[fd00:5a1b::c]:8080"},
	    {K8S_LINE_OBJECT, K8S_EVENT_DELETED, "1250",
	     "10.244.1.11:8080,10.244.1.12:8080,10.244.1.13:8080",
	     "[fd00:5a1b::b]:8080,[fd00:5a1b::c]:8080"},
	    /* A bookmark moves the resourceVersion only. */
	    {K8S_LINE_BOOKMARK, K8S_EVENT_DELETED, "1263",
	     "10.244.1.11:8080,10.244.1.12:8080,10.244.1.13:8080",
	     "[fd00:5a1b::b]:8080,[fd00:5a1b::c]:8080"},
	    /* ERROR 410: list again; the backends are not touched. */
	    {K8S_LINE_GONE, K8S_EVENT_DELETED, "1263",
	     "10.244.1.11:8080,10.244.1.12:8080,10.244.1.13:8080",
	     "[fd00:5a1b::b]:8080,[fd00:5a1b::c]:8080"},
	};
	struct k8s_watch_state st = {.rv = "1190"};
	struct slice_watch w = {0};
	struct k8s_line_buf b = {0};
	size_t len, i = 0;
	char *text = test_read_fixture("watch-endpointslices.jsonl", &len), *line, err[256];

	k8s_cache_init(&w.set, &k8s_endpointslices_resource);
	ck_assert_int_eq(k8s_line_buf_append(&b, text, len), 0);
	while ((line = k8s_line_buf_next(&b, &len))) {
		enum k8s_line_result r;

		ck_assert_uint_lt(i, sizeof(want) / sizeof(want[0]));
		r = k8s_watch_line(&st, line, len, apply_slice_event, &w, err, sizeof(err));
		ck_assert_msg(r == want[i].result, "line %zu: %d (%s)", i, r, err);
		if (r == K8S_LINE_OBJECT)
			ck_assert_int_eq(w.last, want[i].type);
		ck_assert_str_eq(st.rv, want[i].rv);
		ck_assert_str_eq(backends_str(&w.set, "10.96.0.10:8080", "grpc"), want[i].v4);
		ck_assert_str_eq(backends_str(&w.set, "[fd00:96::10]:8080", "grpc"), want[i].v6);
		i++;
	}
	ck_assert_uint_eq(i, 7);
	ck_assert_uint_eq(w.objects, 5);
	ck_assert_uint_eq(st.events, 5);
	ck_assert_str_contains(err, "watch error 410 Expired: too old resource version");
	k8s_line_buf_free(&b);
	k8s_cache_free(&w.set);
	free(text);
}
END_TEST

static void no_object(void *arg, enum k8s_event_type type, json_object *obj)
{
	(void)arg;
	(void)type;
	(void)obj;
	ck_abort_msg("no object expected");
}

START_TEST(test_watch_events_errors)
{
	static const struct {
		const char *line;
		enum k8s_line_result result;
		const char *err;
	} cases[] = {
	    {"", K8S_LINE_EMPTY, NULL},
	    {"  \r", K8S_LINE_EMPTY, NULL},
	    {"{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"apiVersion\":\"v1\","
	     "\"metadata\":"
	     "{},\"status\":\"Failure\",\"message\":\"etcdserver: request timed out\",\"reason\":"
	     "\"InternalError\",\"code\":500}}",
	     K8S_LINE_ERROR, "watch error 500 InternalError: etcdserver: request timed out"},
	    /* 410 by reason alone (Gone), as some versions send it. */
	    {"{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"reason\":\"Gone\"}}",
	     K8S_LINE_GONE, "Gone"},
	    {"{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"code\":410}}", K8S_LINE_GONE,
	     "410"},
	    {"{\"type\":\"ADDED\",\"object\":", K8S_LINE_BAD, "bad JSON"},
	    {"{\"type\":\"ADDED\",\"object\":{}} {}", K8S_LINE_BAD, "more after the value"},
	    {"not json", K8S_LINE_BAD, "bad JSON"},
	    {"[]", K8S_LINE_BAD, "not a watch event"},
	    {"{\"type\":\"RENAMED\",\"object\":{}}", K8S_LINE_BAD, "not a watch event"},
	    {"{\"type\":\"ADDED\"}", K8S_LINE_BAD, "not a watch event"},
	    {"{\"type\":\"ADDED\",\"object\":\"x\"}", K8S_LINE_BAD, "not a watch event"},
	};
	struct k8s_watch_state st = {.rv = "5"};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char err[256] = "";
		enum k8s_line_result r = k8s_watch_line(&st, cases[i].line, strlen(cases[i].line),
							no_object, NULL, err, sizeof(err));

		ck_assert_msg(r == cases[i].result, "'%s': %d", cases[i].line, r);
		if (cases[i].err)
			ck_assert_str_contains(err, cases[i].err);
		/* Nothing but an object or a bookmark moves the resourceVersion. */
		ck_assert_str_eq(st.rv, "5");
	}
}
END_TEST

static void service_seen(void *arg, enum k8s_event_type type, json_object *obj)
{
	struct k8s_service svc;
	char err[256] = "";

	ck_assert_int_eq(type, K8S_EVENT_ADDED);
	ck_assert_int_eq(k8s_service_parse(obj, &svc, err, sizeof(err)), 0);
	ck_assert_str_eq(svc.name, "sample-service-grpc");
	k8s_service_free(&svc);
	(*(unsigned *)arg)++;
}

START_TEST(test_list_parse)
{
	unsigned services = 0;
	struct k8s_watch_state st = {0};
	struct slice_watch w = {0};
	size_t len;
	char *text = test_read_fixture("endpointslicelist-sample-service-grpc.json", &len),
	     err[256];

	k8s_cache_init(&w.set, &k8s_endpointslices_resource);
	ck_assert_int_eq(
	    k8s_list_parse(&st, text, len, false, apply_slice_event, &w, err, sizeof(err)), 0);
	ck_assert_str_eq(st.rv, "1190");
	ck_assert_uint_eq(w.objects, 2);
	ck_assert_str_eq(backends_str(&w.set, "[fd00:96::10]:8080", "grpc"),
			 "[fd00:5a1b::b]:8080,[fd00:5a1b::c]:8080");
	k8s_cache_free(&w.set);
	free(text);

	/* A GET of one object: that object, and its resourceVersion. */
	text = test_read_fixture("service-sample-service-grpc.json", &len);
	ck_assert_int_eq(
	    k8s_list_parse(&st, text, len, true, service_seen, &services, err, sizeof(err)), 0);
	ck_assert_uint_eq(services, 1);
	ck_assert_str_eq(st.rv, "1105");
	free(text);

	ck_assert_int_eq(k8s_list_parse(&st, "{\"kind\":\"Status\"}", 17, false, no_object, NULL,
					err, sizeof(err)),
			 -EINVAL);
	ck_assert_str_eq(err, "the answer is not a list (no items)");
	ck_assert_int_eq(
	    k8s_list_parse(&st, "{\"items\":[", 10, false, no_object, NULL, err, sizeof(err)),
	    -EINVAL);
	ck_assert_str_contains(err, "bad JSON");
	/* An empty list: no items (null), a resourceVersion to watch from. */
	text = "{\"metadata\":{\"resourceVersion\":\"77\"},\"items\":null}";
	ck_assert_int_eq(
	    k8s_list_parse(&st, text, strlen(text), false, no_object, NULL, err, sizeof(err)), 0);
	ck_assert_str_eq(st.rv, "77");
}
END_TEST

START_TEST(test_status_message_and_names)
{
	size_t len;
	char *text = test_read_fixture("status-404-not-found.json", &len), msg[128];

	k8s_status_message(text, len, msg, sizeof(msg));
	ck_assert_str_eq(msg, "services \"sample-service-grpc\" not found");
	k8s_status_message("<html>", 6, msg, sizeof(msg));
	ck_assert_str_eq(msg, "");
	free(text);
	ck_assert_str_eq(k8s_event_name(K8S_EVENT_BOOKMARK), "BOOKMARK");
}
END_TEST

START_TEST(test_watch_url_and_backoff)
{
	char url[512];

	k8s_watch_url(url, sizeof(url), "/api/v1/services", "1190", 300000);
	ck_assert_str_eq(url, "/api/v1/services?watch=1&allowWatchBookmarks=true&timeoutSeconds=300"
			      "&resourceVersion=1190");
	k8s_watch_url(url, sizeof(url),
		      "/apis/discovery.k8s.io/v1/namespaces/default/endpointslices?labelSelector="
		      "kubernetes.io%2Fservice-name%3Dweb",
		      "", 2500);
	ck_assert_str_eq(url, "/apis/discovery.k8s.io/v1/namespaces/default/endpointslices?"
			      "labelSelector=kubernetes.io%2Fservice-name%3Dweb&watch=1&"
			      "allowWatchBookmarks=true&timeoutSeconds=2");
	k8s_list_url(url, sizeof(url), "/api/v1/services", 500, NULL);
	ck_assert_str_eq(url, "/api/v1/services?limit=500");
	k8s_list_url(url, sizeof(url), "/api/v1/services", 500, "eyJ2Ijoi+/=");
	ck_assert_str_eq(url, "/api/v1/services?limit=500&continue=eyJ2Ijoi%2B%2F%3D");
	ck_assert_uint_eq(k8s_backoff_ms(1), 1000);
	ck_assert_uint_eq(k8s_backoff_ms(2), 2000);
	ck_assert_uint_eq(k8s_backoff_ms(3), 4000);
	ck_assert_uint_eq(k8s_backoff_ms(5), 16000);
	ck_assert_uint_eq(k8s_backoff_ms(6), 30000);
	ck_assert_uint_eq(k8s_backoff_ms(60), 30000);
}
END_TEST

/* ------------------------------------------------------------- API config */

static char tmp_dir[64];

static void write_file(const char *name, const char *text, char *path, size_t len)
{
	FILE *f;

	snprintf(path, len, "%s/%s", tmp_dir, name);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
}

START_TEST(test_api_config)
{
	struct k8s_options o = {0};
	struct k8s_api_config c;
	char token[128], ca[128], err[512];

	snprintf(tmp_dir, sizeof(tmp_dir), "/tmp/socklb-unit-k8s-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmp_dir));
	write_file("token", "abc\n", token, sizeof(token));
	write_file("ca.crt", "x", ca, sizeof(ca));

	o.api_server = "https://10.244.1.60:6443/";
	o.token_file = token;
	o.ca_file = ca;
	ck_assert_msg(k8s_api_config_resolve(&o, &c, err, sizeof(err)) == 0, "%s", err);
	ck_assert_str_eq(c.server, "https://10.244.1.60:6443");
	ck_assert_str_eq(c.token_file, token);
	ck_assert_str_eq(c.ca_file, ca);
	ck_assert(!c.in_cluster);
	ck_assert_uint_eq(c.watch_timeout_ms, K8S_DEFAULT_WATCH_TIMEOUT_MS);

	o.api_server = "10.244.1.60:6443";
	ck_assert_int_eq(k8s_api_config_resolve(&o, &c, err, sizeof(err)), -EINVAL);
	ck_assert_str_eq(err, "--api-server '10.244.1.60:6443': expected https://HOST[:PORT]");
	o.api_server = "https://10.244.1.60:6443";
	o.token_file = "/nonexistent/token";
	ck_assert_int_eq(k8s_api_config_resolve(&o, &c, err, sizeof(err)), -EINVAL);
	ck_assert_str_eq(err,
			 "cannot read token file /nonexistent/token: No such file or directory");

	/* In a pod: the environment, and the service account's files. */
	o = (struct k8s_options){.token_file = token, .ca_file = ca, .watch_timeout_ms = 5000};
	unsetenv("KUBERNETES_SERVICE_HOST");
	ck_assert_int_eq(k8s_api_config_resolve(&o, &c, err, sizeof(err)), -EINVAL);
	ck_assert_str_contains(err, "KUBERNETES_SERVICE_HOST is not set) and no --api-server");
	setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1", 1);
	setenv("KUBERNETES_SERVICE_PORT", "443", 1);
	ck_assert_int_eq(k8s_api_config_resolve(&o, &c, err, sizeof(err)), 0);
	ck_assert_str_eq(c.server, "https://10.96.0.1:443");
	ck_assert(c.in_cluster);
	ck_assert_uint_eq(c.watch_timeout_ms, 5000);
	setenv("KUBERNETES_SERVICE_HOST", "fd00:96::1", 1);
	unsetenv("KUBERNETES_SERVICE_PORT");
	ck_assert_int_eq(k8s_api_config_resolve(&o, &c, err, sizeof(err)), 0);
	ck_assert_str_eq(c.server, "https://[fd00:96::1]:443");
	unsetenv("KUBERNETES_SERVICE_HOST");
	unlink(token);
	unlink(ca);
	rmdir(tmp_dir);
}
END_TEST

/* ------------------------------------------- dynamic services in the table */

static int owner_a, owner_b;

START_TEST(test_dynamic_services)
{
	const char *const config[] = {"10.96.0.20:80=static:10.244.1.5:80",
				      "k8s:default/sample-service-grpc:grpc"};
	struct endpoint vip = ep("10.96.0.10:8080"), be[] = {ep("10.244.1.11:8080")};
	struct endpoint taken = ep("10.96.0.20:80");
	struct service_spec_list list;
	struct service_table t;
	struct socklb_service svc;
	struct lb_maps m;

	REQUIRE_MAPS(&m, NULL);
	log_set_level(LOG_ERROR);
	service_table_init(&t, &m, TEST_MAX_SERVICES, TEST_MAX_BACKENDS);
	spec_list(&list, config, 2);
	/* A k8s: source alone adds no service: its VIPs come from the API. */
	ck_assert_int_eq(service_table_apply(&t, &list), 0);
	ck_assert_uint_eq(t.n, 1);

	ck_assert_int_eq(service_table_add_dynamic(&t, &vip, "k8s:default/x:grpc", &owner_a), 0);
	ck_assert_int_eq(service_table_add_dynamic(&t, &vip, "k8s:default/x:grpc", &owner_a), 0);
	ck_assert_int_eq(service_table_add_dynamic(&t, &vip, "k8s:other/y", &owner_b), -EEXIST);
	ck_assert_int_eq(service_table_add_dynamic(&t, &taken, "k8s:default/x", &owner_a), -EEXIST);
	ck_assert(service_table_owns(&t, &vip, &owner_a));
	ck_assert(!service_table_owns(&t, &vip, &owner_b));
	ck_assert(!service_table_owns(&t, &taken, &owner_a));
	/* Not in the maps until the source publishes. */
	ck_assert_int_eq(test_read_service(&m, &vip, &svc), -ENOENT);
	ck_assert_int_eq(service_table_set_backends(&t, &vip, be, 1), 0);
	ck_assert_int_eq(test_read_service(&m, &vip, &svc), 0);
	ck_assert_uint_eq(svc.backend_count, 1);

	/* SIGHUP: the same specs again; the dynamic service stays, untouched. */
	ck_assert_int_eq(service_table_apply(&t, &list), 0);
	ck_assert_uint_eq(t.n, 2);
	ck_assert_int_eq(test_read_service(&m, &vip, &svc), 0);
	ck_assert_uint_eq(svc.backend_count, 1);
	service_spec_list_free(&list);

	/* A spec naming the VIP takes it over. */
	{
		const char *const now[] = {"10.96.0.10:8080=static:10.244.1.12:8080"};

		spec_list(&list, now, 1);
		ck_assert_int_eq(service_table_apply(&t, &list), 0);
		service_spec_list_free(&list);
	}
	ck_assert(!service_table_owns(&t, &vip, &owner_a));
	ck_assert_int_eq(service_table_remove_dynamic(&t, &vip, &owner_a), -EPERM);
	ck_assert_uint_eq(t.n, 1);

	/* Removal by the owner only. */
	vip = ep("[fd00:96::10]:8080");
	ck_assert_int_eq(service_table_add_dynamic(&t, &vip, "k8s:default/x:grpc", &owner_a), 0);
	ck_assert_int_eq(service_table_set_backends(&t, &vip, NULL, 0), 0);
	ck_assert_int_eq(service_table_remove_dynamic(&t, &vip, &owner_b), -EPERM);
	ck_assert_int_eq(service_table_remove_dynamic(&t, &vip, &owner_a), 0);
	ck_assert_int_eq(test_read_service(&m, &vip, &svc), -ENOENT);
	ck_assert_int_eq(service_table_remove_dynamic(&t, &vip, &owner_a), -ENOENT);
	service_table_free(&t);
	test_maps_destroy(&m);
}
END_TEST

/* A k8s: source alone before the API named its VIPs: listed with vip null. */
START_TEST(test_state_file_entry_without_vip)
{
	struct state_service svcs[2] = {
	    {.vip = ep("10.96.0.10:8080"),
	     .source = "k8s:default/web:grpc",
	     .kind = "k8s",
	     .state = "ok",
	     .published = true,
	     .n_backends = 2,
	     .last_refresh = 1.5},
	    {.source = "k8s:default/other",
	     .kind = "k8s",
	     .state = "failing",
	     .last_error = "tls-verify-failed",
	     .last_error_at = 2.5},
	};
	char path[] = "/tmp/socklb-unit-state-XXXXXX", err[512] = "";
	json_object *root, *list, *e, *vip;
	int fd = mkstemp(path);

	ck_assert_int_ge(fd, 0);
	close(fd);
	ck_assert_msg(state_file_write(path, "/sys/fs/bpf/x", svcs, 2, NULL, err, sizeof(err)) == 0,
		      "%s", err);
	root = state_file_read(path, err, sizeof(err));
	ck_assert_ptr_nonnull(root);
	ck_assert(json_object_object_get_ex(root, "services", &list));
	e = json_object_array_get_idx(list, 1);
	ck_assert(json_object_object_get_ex(e, "vip", &vip));
	ck_assert_ptr_null(vip);
	ck_assert_str_eq(k8s_get_str(e, "last_error"), "tls-verify-failed");
	/* Looking a VIP up skips the entry without one. */
	ck_assert_ptr_nonnull(state_file_find(root, "10.96.0.10:8080"));
	ck_assert_ptr_null(state_file_find(root, ""));
	json_object_put(root);
	unlink(path);
}
END_TEST

Suite *source_k8s_suite(void)
{
	Suite *s = suite_create("source_k8s");
	TCase *spec_tc = tcase_create("spec");
	TCase *objects = tcase_create("objects");
	TCase *stream = tcase_create("stream");
	TCase *runtime = tcase_create("runtime");

	tcase_add_test(spec_tc, test_parse_k8s_alone);
	tcase_add_test(spec_tc, test_parse_k8s_with_vip);
	tcase_add_loop_test(spec_tc, test_parse_k8s_bad, 0, sizeof(bad_k8s) / sizeof(bad_k8s[0]));
	tcase_add_test(spec_tc, test_list_k8s_duplicates);
	suite_add_tcase(s, spec_tc);

	tcase_add_test(objects, test_service_parse);
	tcase_add_test(objects, test_service_vips_named_port);
	tcase_add_test(objects, test_service_vips_all_ports_and_given_vip);
	tcase_add_test(objects, test_service_discovery_list);
	tcase_add_test(objects, test_service_single_unnamed_port);
	tcase_add_test(objects, test_service_time_fair_annotation);
	tcase_add_test(objects, test_slice_ready_and_named_port);
	tcase_add_test(objects, test_slice_ready_missing_null_and_merge);
	tcase_add_test(objects, test_slice_bad);
	tcase_add_test(objects, test_cache_index);
	tcase_add_test(objects, test_strmap_many);
	suite_add_tcase(s, objects);

	tcase_add_test(stream, test_line_splitting);
	tcase_add_test(stream, test_line_splitting_crlf_and_partial);
	tcase_add_test(stream, test_watch_events_recorded_stream);
	tcase_add_test(stream, test_watch_events_errors);
	tcase_add_test(stream, test_list_parse);
	tcase_add_test(stream, test_status_message_and_names);
	tcase_add_test(stream, test_watch_url_and_backoff);
	suite_add_tcase(s, stream);

	tcase_add_test(runtime, test_api_config);
	tcase_add_test(runtime, test_dynamic_services);
	tcase_add_test(runtime, test_state_file_entry_without_vip);
	suite_add_tcase(s, runtime);
	return s;
}
