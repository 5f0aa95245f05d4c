// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "cluster/cluster_report.h"
#include "lib/array.h"
#include "sources/k8s/k8s_json.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ------------------------------------------------------------ the report */

static int by_backend(const void *a, const void *b)
{
	return endpoint_cmp(&((const struct cluster_count *)a)->backend,
			    &((const struct cluster_count *)b)->backend);
}

/* Where the service of vip is, or would go (*found says which). */
static size_t service_pos(const struct cluster_report *r, const struct endpoint *vip, bool *found)
{
	size_t lo = 0, hi = r->n_services;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = endpoint_cmp(&r->services[mid].vip, vip);

		if (c == 0) {
			*found = true;
			return mid;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = false;
	return lo;
}

static bool same_counts(const struct cluster_service_counts *s, const struct cluster_count *c,
			size_t n)
{
	if (s->n != n)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (s->counts[i].connections != c[i].connections ||
		    !endpoint_equal(&s->counts[i].backend, &c[i].backend))
			return false;
	}
	return true;
}

static void remove_service(struct cluster_report *r, size_t pos)
{
	free(r->services[pos].counts);
	memmove(&r->services[pos], &r->services[pos + 1],
		(r->n_services - pos - 1) * sizeof(*r->services));
	r->n_services--;
}

/* The non-zero counts, sorted (malloc'd into *out, NULL when none). */
static int collect(const struct endpoint *backends, const __u32 *counts, size_t n,
		   struct cluster_count **out, size_t *n_out)
{
	struct cluster_count *c = calloc(n ? n : 1, sizeof(*c));

	*n_out = 0;
	*out = NULL;
	if (!c)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		if (counts[i] == 0)
			continue;
		c[*n_out].backend = backends[i];
		c[(*n_out)++].connections = counts[i];
	}
	if (*n_out == 0) {
		free(c);
		return 0;
	}
	qsort(c, *n_out, sizeof(*c), by_backend);
	*out = c;
	return 0;
}

static int insert_service(struct cluster_report *r, size_t pos, const struct endpoint *vip,
			  struct cluster_count *counts, size_t n)
{
	if (ARRAY_RESERVE(r->services, r->cap_services, r->n_services))
		return -ENOMEM;
	memmove(&r->services[pos + 1], &r->services[pos],
		(r->n_services - pos) * sizeof(*r->services));
	r->services[pos] = (struct cluster_service_counts){*vip, counts, n};
	r->n_services++;
	return 1;
}

int cluster_report_set(struct cluster_report *r, const struct endpoint *vip,
		       const struct endpoint *backends, const __u32 *counts, size_t n)
{
	struct cluster_count *c;
	size_t n_c, pos;
	bool found;

	if (collect(backends, counts, n, &c, &n_c))
		return -ENOMEM;
	pos = service_pos(r, vip, &found);
	if (found && same_counts(&r->services[pos], c, n_c)) {
		free(c);
		return 0;
	}
	if (found && n_c == 0) {
		remove_service(r, pos);
		return 1;
	}
	if (found) {
		free(r->services[pos].counts);
		r->services[pos].counts = c;
		r->services[pos].n = n_c;
		return 1;
	}
	if (n_c == 0)
		return 0;
	if (insert_service(r, pos, vip, c, n_c) < 0) {
		free(c);
		return -ENOMEM;
	}
	return 1;
}

bool cluster_report_retain(struct cluster_report *r,
			   bool (*keep)(void *arg, const struct endpoint *vip), void *arg)
{
	bool changed = false;

	for (size_t i = r->n_services; i-- > 0;) {
		if (!keep(arg, &r->services[i].vip)) {
			remove_service(r, i);
			changed = true;
		}
	}
	return changed;
}

const struct cluster_service_counts *cluster_report_service(const struct cluster_report *r,
							    const struct endpoint *vip)
{
	bool found;
	size_t pos = service_pos(r, vip, &found);

	return found ? &r->services[pos] : NULL;
}

__u32 cluster_report_count(const struct cluster_service_counts *s, const struct endpoint *backend)
{
	struct cluster_count key = {.backend = *backend};
	const struct cluster_count *c;

	if (!s || !s->n)
		return 0;
	c = bsearch(&key, s->counts, s->n, sizeof(*s->counts), by_backend);
	return c ? c->connections : 0;
}

void cluster_report_free(struct cluster_report *r)
{
	for (size_t i = 0; i < r->n_services; i++)
		free(r->services[i].counts);
	free(r->services);
	r->services = NULL;
	r->n_services = r->cap_services = 0;
}

/* ---------------------------------------------------------------- time */

void cluster_time_format(double t, char *buf, size_t len)
{
	time_t secs = (time_t)t;
	long usec = (long)((t - (double)secs) * 1e6);
	struct tm tm;
	char base[32];

	if (usec < 0)
		usec = 0;
	if (usec > 999999)
		usec = 999999;
	gmtime_r(&secs, &tm);
	strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf, len, "%s.%06ldZ", base, usec);
}

int cluster_time_parse(const char *text, double *out)
{
	struct tm tm;
	const char *p;
	double frac = 0, scale = 0.1;

	memset(&tm, 0, sizeof(tm));
	p = strptime(text, "%Y-%m-%dT%H:%M:%S", &tm);
	if (!p)
		return -EINVAL;
	if (*p == '.') {
		for (p++; isdigit((unsigned char)*p); p++, scale /= 10)
			frac += (*p - '0') * scale;
	}
	if (strcmp(p, "Z"))
		return -EINVAL;
	*out = (double)timegm(&tm) + frac;
	return 0;
}

/* ------------------------------------------------------- to the object */

static json_object *counts_json(const struct cluster_service_counts *s)
{
	json_object *svc = json_object_new_object(), *list = json_object_new_array();
	char text[ENDPOINT_STR_LEN];

	json_object_object_add(svc, "vip",
			       json_object_new_string(endpoint_str(&s->vip, text, sizeof(text))));
	for (size_t i = 0; i < s->n; i++) {
		json_object *b = json_object_new_object();

		endpoint_str(&s->counts[i].backend, text, sizeof(text));
		json_object_object_add(b, "address", json_object_new_string(text));
		json_object_object_add(b, "connections",
				       json_object_new_int64(s->counts[i].connections));
		json_object_array_add(list, b);
	}
	json_object_object_add(svc, "backends", list);
	return svc;
}

/* The Node owns it: deleting the Node deletes it (garbage collection). */
static json_object *owner_json(const char *name, const char *uid)
{
	json_object *list = json_object_new_array(), *o = json_object_new_object();

	json_object_object_add(o, "apiVersion", json_object_new_string("v1"));
	json_object_object_add(o, "kind", json_object_new_string("Node"));
	json_object_object_add(o, "name", json_object_new_string(name));
	json_object_object_add(o, "uid", json_object_new_string(uid));
	json_object_array_add(list, o);
	return list;
}

json_object *cluster_report_object(const struct cluster_report *r,
				   const struct cluster_object_meta *meta)
{
	json_object *obj = json_object_new_object(), *md = json_object_new_object();
	json_object *spec = json_object_new_object(), *svcs = json_object_new_array();
	char when[64];

	json_object_object_add(obj, "apiVersion", json_object_new_string(CLUSTER_API_VERSION));
	json_object_object_add(obj, "kind", json_object_new_string(CLUSTER_KIND));
	json_object_object_add(md, "name", json_object_new_string(r->name));
	if (meta->resource_version)
		json_object_object_add(md, "resourceVersion",
				       json_object_new_string(meta->resource_version));
	if (meta->owner_uid)
		json_object_object_add(md, "ownerReferences", owner_json(r->name, meta->owner_uid));
	json_object_object_add(obj, "metadata", md);
	cluster_time_format(r->heartbeat, when, sizeof(when));
	json_object_object_add(spec, "heartbeatTime", json_object_new_string(when));
	json_object_object_add(spec, "publishIntervalMilliseconds",
			       json_object_new_int64((int64_t)r->publish_ms));
	json_object_object_add(spec, "heartbeatIntervalMilliseconds",
			       json_object_new_int64((int64_t)r->heartbeat_ms));
	for (size_t i = 0; i < r->n_services; i++)
		json_object_array_add(svcs, counts_json(&r->services[i]));
	json_object_object_add(spec, "services", svcs);
	json_object_object_add(obj, "spec", spec);
	return obj;
}

/* ----------------------------------------------------- from the object */

/* A non-negative integer field that fits 32 bits (absent: 0); -EINVAL otherwise. */
static int u32_field(json_object *obj, const char *key, unsigned long long *out)
{
	json_object *v;
	int64_t n;

	*out = 0;
	if (!json_object_object_get_ex(obj, key, &v) || !v)
		return 0;
	if (!json_object_is_type(v, json_type_int))
		return -EINVAL;
	n = json_object_get_int64(v);
	if (n < 0 || n > UINT32_MAX)
		return -EINVAL;
	*out = (unsigned long long)n;
	return 0;
}

static int parse_counts(json_object *svc, struct cluster_service_counts *out, char *err,
			size_t errlen)
{
	json_object *list = k8s_json_array(svc, "backends");
	size_t n = list ? json_object_array_length(list) : 0;
	const char *vip = k8s_get_str(svc, "vip");

	if (!vip) {
		snprintf(err, errlen, "a service without a vip");
		return -EINVAL;
	}
	if (endpoint_parse(vip, &out->vip, err, errlen))
		return -EINVAL;
	out->counts = calloc(n ? n : 1, sizeof(*out->counts));
	if (!out->counts) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		json_object *b = json_object_array_get_idx(list, i);
		const char *addr = k8s_get_str(b, "address");
		unsigned long long c;

		if (!addr || endpoint_parse(addr, &out->counts[out->n].backend, err, errlen) ||
		    u32_field(b, "connections", &c)) {
			snprintf(err, errlen, "service %s: a backend without address or count",
				 vip);
			return -EINVAL;
		}
		if (c) /* as cluster_report_set keeps them: none zero */
			out->counts[out->n++].connections = (__u32)c;
	}
	qsort(out->counts, out->n, sizeof(*out->counts), by_backend);
	/* Twice the same backend: no node writes that, and a lookup would see only one. */
	for (size_t i = 1; i < out->n; i++) {
		if (!by_backend(&out->counts[i - 1], &out->counts[i])) {
			snprintf(err, errlen, "service %s: a backend listed twice", vip);
			return -EINVAL;
		}
	}
	return 0;
}

static int by_vip(const void *a, const void *b)
{
	return endpoint_cmp(&((const struct cluster_service_counts *)a)->vip,
			    &((const struct cluster_service_counts *)b)->vip);
}

static int parse_services(json_object *spec, struct cluster_report *out, char *err, size_t errlen)
{
	json_object *list = k8s_json_array(spec, "services");
	size_t n = list ? json_object_array_length(list) : 0;

	out->services = calloc(n ? n : 1, sizeof(*out->services));
	if (!out->services) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	out->cap_services = n ? n : 1;
	for (size_t i = 0; i < n; i++) {
		int ret = parse_counts(json_object_array_get_idx(list, i),
				       &out->services[out->n_services], err, errlen);

		out->n_services++; /* freed with the report, even half parsed */
		if (ret)
			return ret;
	}
	qsort(out->services, out->n_services, sizeof(*out->services), by_vip);
	for (size_t i = 1; i < out->n_services; i++) {
		if (!by_vip(&out->services[i - 1], &out->services[i])) {
			snprintf(err, errlen, "a service listed twice");
			return -EINVAL;
		}
	}
	return 0;
}

static int parse_spec(json_object *spec, struct cluster_report *out, char *err, size_t errlen)
{
	const char *when = k8s_get_str(spec, "heartbeatTime");

	if (when && cluster_time_parse(when, &out->heartbeat)) {
		snprintf(err, errlen, "heartbeatTime %s is not an RFC 3339 time", when);
		return -EINVAL;
	}
	if (u32_field(spec, "publishIntervalMilliseconds", &out->publish_ms) ||
	    u32_field(spec, "heartbeatIntervalMilliseconds", &out->heartbeat_ms)) {
		snprintf(err, errlen, "an interval that is not a count of milliseconds");
		return -EINVAL;
	}
	return parse_services(spec, out, err, errlen);
}

int cluster_report_parse(json_object *obj, struct cluster_report *out, char *err, size_t errlen)
{
	const char *name = k8s_get_str(obj, "metadata.name");
	json_object *spec = k8s_json_path(obj, "spec");
	int ret;

	memset(out, 0, sizeof(*out));
	if (k8s_check_kind(obj, CLUSTER_KIND, err, errlen))
		return -EINVAL;
	if (!name) {
		snprintf(err, errlen, "SocklbNode without a name");
		return -EINVAL;
	}
	if (k8s_copy_str(out->name, sizeof(out->name), name, "name", err, errlen))
		return -EINVAL;
	if (!spec || !json_object_is_type(spec, json_type_object)) {
		snprintf(err, errlen, "SocklbNode %s has no spec", name);
		return -EINVAL;
	}
	ret = parse_spec(spec, out, err, errlen);
	if (ret)
		cluster_report_free(out);
	return ret;
}
