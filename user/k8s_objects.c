// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "k8s_objects.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

/* obj at the dotted path, or NULL. */
static json_object *get_path(json_object *obj, const char *path)
{
	char key[64];

	while (obj && *path) {
		const char *dot = strchr(path, '.');
		size_t len = dot ? (size_t)(dot - path) : strlen(path);

		if (len >= sizeof(key) || !json_object_is_type(obj, json_type_object))
			return NULL;
		memcpy(key, path, len);
		key[len] = '\0';
		if (!json_object_object_get_ex(obj, key, &obj))
			return NULL;
		path += dot ? len + 1 : len;
	}
	return obj;
}

const char *k8s_get_str(json_object *obj, const char *path)
{
	json_object *v = get_path(obj, path);

	return v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

static json_object *get_array(json_object *obj, const char *path)
{
	json_object *v = get_path(obj, path);

	return v && json_object_is_type(v, json_type_array) ? v : NULL;
}

/* An integer field, 0 if absent, -1 if not a number in 1..65535. */
static int get_port(json_object *obj, const char *key)
{
	json_object *v;
	int64_t n;

	if (!json_object_object_get_ex(obj, key, &v) || !v)
		return 0;
	if (!json_object_is_type(v, json_type_int))
		return json_object_is_type(v, json_type_string) ? 0 : -1; /* a named targetPort */
	n = json_object_get_int64(v);
	return n >= 1 && n <= 65535 ? (int)n : -1;
}

static int copy_str(char *dst, size_t size, const char *src, const char *what, char *err,
		    size_t errlen)
{
	if (strlen(src) >= size) {
		snprintf(err, errlen, "%s '%.32s...' is too long", what, src);
		return -1;
	}
	snprintf(dst, size, "%s", src);
	return 0;
}

static bool is_tcp(json_object *port)
{
	const char *proto = k8s_get_str(port, "protocol");

	return !proto || !strcmp(proto, "TCP");
}

static int check_kind(json_object *obj, const char *want, char *err, size_t errlen)
{
	const char *kind = k8s_get_str(obj, "kind");

	if (!obj || !json_object_is_type(obj, json_type_object)) {
		snprintf(err, errlen, "%s: not a JSON object", want);
		return -1;
	}
	/* Items of a List carry no kind; watch events and GETs do. */
	if (kind && strcmp(kind, want)) {
		snprintf(err, errlen, "expected a %s, got a %.32s", want, kind);
		return -1;
	}
	return 0;
}

/* "10.96.0.10" or "fd00::10" into a port-0 endpoint; -1 if neither. */
static int parse_ip(const char *text, int family, struct endpoint *out)
{
	memset(out, 0, sizeof(*out));
	if ((family == 0 || family == AF_INET) && inet_pton(AF_INET, text, &out->addr.ip4) == 1) {
		out->family = AF_INET;
		return 0;
	}
	if ((family == 0 || family == AF_INET6) &&
	    inet_pton(AF_INET6, text, out->addr.bytes) == 1) {
		out->family = AF_INET6;
		return 0;
	}
	return -1;
}

static void add_cluster_ip(struct k8s_service *svc, const char *ip)
{
	struct endpoint e;

	if (!strcmp(ip, "None")) {
		svc->headless = true;
		return;
	}
	if (svc->n_cluster_ips == 2 || parse_ip(ip, 0, &e))
		return;
	for (size_t i = 0; i < svc->n_cluster_ips; i++) {
		if (svc->cluster_ips[i].family == e.family)
			return;
	}
	svc->cluster_ips[svc->n_cluster_ips++] = e;
}

static int parse_service_ports(json_object *obj, struct k8s_service *svc, char *err, size_t errlen)
{
	json_object *ports = get_array(obj, "spec.ports");
	size_t n = ports ? json_object_array_length(ports) : 0;

	svc->ports = calloc(n ? n : 1, sizeof(*svc->ports));
	if (!svc->ports) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		json_object *p = json_object_array_get_idx(ports, i);
		struct k8s_service_port *out = &svc->ports[svc->n_ports];
		const char *name = k8s_get_str(p, "name");
		int port = get_port(p, "port"), target = get_port(p, "targetPort");

		if (port <= 0 || target < 0) {
			snprintf(err, errlen, "service %s/%s: port %zu has no valid port number",
				 svc->ns, svc->name, i);
			return -1;
		}
		if (copy_str(out->name, sizeof(out->name), name ? name : "", "port name", err,
			     errlen))
			return -1;
		out->port = (__u16)port;
		out->target_port = (__u16)target;
		out->tcp = is_tcp(p);
		svc->n_ports++;
	}
	return 0;
}

int k8s_service_parse(json_object *obj, struct k8s_service *out, char *err, size_t errlen)
{
	const char *name, *ns, *type, *enabled, *ip;
	json_object *ips, *annotations;

	memset(out, 0, sizeof(*out));
	if (check_kind(obj, "Service", err, errlen))
		return -1;
	name = k8s_get_str(obj, "metadata.name");
	ns = k8s_get_str(obj, "metadata.namespace");
	type = k8s_get_str(obj, "spec.type");
	if (!name) {
		snprintf(err, errlen, "Service without metadata.name");
		return -1;
	}
	if (copy_str(out->name, sizeof(out->name), name, "name", err, errlen) ||
	    copy_str(out->ns, sizeof(out->ns), ns ? ns : "", "namespace", err, errlen) ||
	    copy_str(out->type, sizeof(out->type), type ? type : "ClusterIP", "type", err, errlen))
		return -1;
	ips = get_array(obj, "spec.clusterIPs");
	for (size_t i = 0; ips && i < json_object_array_length(ips); i++) {
		json_object *v = json_object_array_get_idx(ips, i);

		if (json_object_is_type(v, json_type_string))
			add_cluster_ip(out, json_object_get_string(v));
	}
	ip = k8s_get_str(obj, "spec.clusterIP");
	if (!ips && ip)
		add_cluster_ip(out, ip);
	annotations = get_path(obj, "metadata.annotations");
	if (annotations && json_object_is_type(annotations, json_type_object)) {
		json_object *v;

		enabled = json_object_object_get_ex(annotations, K8S_ANNOTATION_ENABLED, &v) &&
				  json_object_is_type(v, json_type_string)
			      ? json_object_get_string(v)
			      : NULL;
		out->enabled = enabled && !strcmp(enabled, "true");
	}
	if (parse_service_ports(obj, out, err, errlen)) {
		k8s_service_free(out);
		return -1;
	}
	return 0;
}

void k8s_service_free(struct k8s_service *svc)
{
	free(svc->ports);
	svc->ports = NULL;
	svc->n_ports = 0;
}

bool k8s_service_discoverable(const struct k8s_service *svc)
{
	return svc->enabled && !strcmp(svc->type, "ClusterIP") && !svc->headless &&
	       svc->n_cluster_ips > 0;
}

static const struct k8s_service_port *port_named(const struct k8s_service *svc, const char *name)
{
	for (size_t i = 0; i < svc->n_ports; i++) {
		if (!strcmp(svc->ports[i].name, name))
			return &svc->ports[i];
	}
	return NULL;
}

static void list_port_names(const struct k8s_service *svc, char *buf, size_t len)
{
	size_t used = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < svc->n_ports && used < len; i++)
		used += (size_t)snprintf(buf + used, len - used, "%s%s", i ? ", " : "",
					 svc->ports[i].name[0] ? svc->ports[i].name : "(unnamed)");
}

/* The one Service port sel asks for; NULL (with a message) if there is none. */
static const struct k8s_service_port *
select_port(const struct k8s_service *svc, const struct k8s_selector *sel, char *err, size_t errlen)
{
	const struct k8s_service_port *p = NULL;
	char names[256];

	list_port_names(svc, names, sizeof(names));
	if (sel->port_name) {
		p = port_named(svc, sel->port_name);
		if (!p)
			snprintf(err, errlen, "service %s/%s has no port named '%s' (ports: %s)",
				 svc->ns, svc->name, sel->port_name, svc->n_ports ? names : "none");
	} else if (svc->n_ports == 1) {
		p = &svc->ports[0];
	} else if (sel->has_vip) {
		for (size_t i = 0; i < svc->n_ports && !p; i++) {
			if (svc->ports[i].port == ntohs(sel->vip.port) && svc->ports[i].tcp)
				p = &svc->ports[i];
		}
	}
	if (!p && !sel->port_name && svc->n_ports == 0)
		snprintf(err, errlen, "service %s/%s has no ports", svc->ns, svc->name);
	else if (!p && !sel->port_name)
		snprintf(err, errlen,
			 "service %s/%s has %zu ports (%s): name one, as in k8s:%s/%s:PORT-NAME",
			 svc->ns, svc->name, svc->n_ports, names, svc->ns, svc->name);
	if (p && !p->tcp) {
		snprintf(err, errlen, "service %s/%s port '%s' is not TCP: only TCP is balanced",
			 svc->ns, svc->name, p->name);
		p = NULL;
	}
	return p;
}

static void set_vip(struct k8s_vip *v, const struct endpoint *ip, const struct k8s_service_port *p)
{
	memset(v, 0, sizeof(*v));
	v->vip = *ip;
	v->vip.port = htons(p->port);
	snprintf(v->port_name, sizeof(v->port_name), "%s", p->name);
	v->target_port = p->target_port;
}

int k8s_service_vips(const struct k8s_service *svc, const struct k8s_selector *sel,
		     struct k8s_vip **out, size_t *n, char *err, size_t errlen)
{
	const struct k8s_service_port *one = NULL;

	*out = NULL;
	*n = 0;
	if (!sel->all_ports && !(one = select_port(svc, sel, err, errlen)))
		return -1;
	if (sel->has_vip) {
		*out = calloc(1, sizeof(**out));
		if (!*out)
			goto oom;
		set_vip(*out, &sel->vip, one);
		(*out)->vip.port = sel->vip.port;
		*n = 1;
		return 0;
	}
	if (svc->n_cluster_ips == 0) {
		snprintf(err, errlen,
			 "service %s/%s has no cluster IP (%s): give a VIP (VIP:PORT=k8s:...) "
			 "or use dns:",
			 svc->ns, svc->name, svc->headless ? "headless" : svc->type);
		return -1;
	}
	*out = calloc(svc->n_cluster_ips * (svc->n_ports ? svc->n_ports : 1), sizeof(**out));
	if (!*out)
		goto oom;
	for (size_t i = 0; i < svc->n_cluster_ips; i++) {
		for (size_t j = 0; j < svc->n_ports; j++) {
			const struct k8s_service_port *p = &svc->ports[j];

			if ((one && p != one) || !p->tcp)
				continue;
			set_vip(&(*out)[(*n)++], &svc->cluster_ips[i], p);
		}
	}
	return 0;
oom:
	snprintf(err, errlen, "out of memory");
	return -1;
}

/* ---------------------------------------------------------- EndpointSlices */

static int parse_slice_ports(json_object *obj, struct k8s_slice *out, char *err, size_t errlen)
{
	json_object *ports = get_array(obj, "ports");
	size_t n = ports ? json_object_array_length(ports) : 0;

	out->ports = calloc(n ? n : 1, sizeof(*out->ports));
	if (!out->ports) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		json_object *p = json_object_array_get_idx(ports, i);
		struct k8s_slice_port *sp = &out->ports[out->n_ports];
		const char *name = k8s_get_str(p, "name");
		int port = get_port(p, "port");

		if (port < 0) {
			snprintf(err, errlen, "EndpointSlice %s: port %zu is not a valid number",
				 out->name, i);
			return -1;
		}
		if (copy_str(sp->name, sizeof(sp->name), name ? name : "", "port name", err,
			     errlen))
			return -1;
		sp->port = (__u16)port;
		sp->tcp = is_tcp(p);
		out->n_ports++;
	}
	return 0;
}

/* conditions.ready: a missing or null value means unknown, to be taken as ready. */
static bool endpoint_ready(json_object *ep)
{
	json_object *ready = get_path(ep, "conditions.ready");

	return !ready || !json_object_is_type(ready, json_type_boolean) ||
	       json_object_get_boolean(ready);
}

static int parse_slice_endpoints(json_object *obj, struct k8s_slice *out, char *err, size_t errlen)
{
	json_object *eps = get_array(obj, "endpoints");
	size_t n = eps ? json_object_array_length(eps) : 0;

	out->ready = calloc(n ? n : 1, sizeof(*out->ready));
	if (!out->ready) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		json_object *ep = json_object_array_get_idx(eps, i);
		json_object *addrs = get_array(ep, "addresses");
		json_object *first = addrs && json_object_array_length(addrs)
					 ? json_object_array_get_idx(addrs, 0)
					 : NULL;
		struct endpoint e;

		/* Like kube-proxy: the other addresses are the same pod. */
		if (!first || !json_object_is_type(first, json_type_string) || !out->family ||
		    parse_ip(json_object_get_string(first), out->family, &e))
			continue;
		if (endpoint_ready(ep))
			out->ready[out->n_ready++] = e.addr;
		else
			out->n_not_ready++;
	}
	return 0;
}

int k8s_slice_parse(json_object *obj, struct k8s_slice *out, char *err, size_t errlen)
{
	const char *name, *type;

	memset(out, 0, sizeof(*out));
	if (check_kind(obj, "EndpointSlice", err, errlen))
		return -1;
	name = k8s_get_str(obj, "metadata.name");
	type = k8s_get_str(obj, "addressType");
	if (!name) {
		snprintf(err, errlen, "EndpointSlice without metadata.name");
		return -1;
	}
	if (copy_str(out->name, sizeof(out->name), name, "EndpointSlice name", err, errlen))
		return -1;
	if (type && !strcmp(type, "IPv4"))
		out->family = AF_INET;
	else if (type && !strcmp(type, "IPv6"))
		out->family = AF_INET6;
	if (parse_slice_ports(obj, out, err, errlen) ||
	    parse_slice_endpoints(obj, out, err, errlen)) {
		k8s_slice_free(out);
		return -1;
	}
	return 0;
}

void k8s_slice_free(struct k8s_slice *slice)
{
	free(slice->ports);
	free(slice->ready);
	memset(slice, 0, sizeof(*slice));
}

static struct k8s_slice *find_slice(const struct k8s_slice_set *set, const char *name)
{
	for (size_t i = 0; i < set->n; i++) {
		if (!strcmp(set->items[i].name, name))
			return &set->items[i];
	}
	return NULL;
}

int k8s_slice_set_put(struct k8s_slice_set *set, struct k8s_slice *slice)
{
	struct k8s_slice *old = find_slice(set, slice->name);

	if (old) {
		k8s_slice_free(old);
		*old = *slice;
		memset(slice, 0, sizeof(*slice));
		return 0;
	}
	if (set->n == set->cap) {
		size_t cap = set->cap ? 2 * set->cap : 4;
		struct k8s_slice *grown = realloc(set->items, cap * sizeof(*grown));

		if (!grown)
			return -1;
		set->items = grown;
		set->cap = cap;
	}
	set->items[set->n++] = *slice;
	memset(slice, 0, sizeof(*slice));
	return 0;
}

bool k8s_slice_set_delete(struct k8s_slice_set *set, const char *name)
{
	struct k8s_slice *s = find_slice(set, name);

	if (!s)
		return false;
	k8s_slice_free(s);
	*s = set->items[--set->n];
	return true;
}

void k8s_slice_set_clear(struct k8s_slice_set *set)
{
	for (size_t i = 0; i < set->n; i++)
		k8s_slice_free(&set->items[i]);
	free(set->items);
	memset(set, 0, sizeof(*set));
}

/* The slice's port for v, host order; 0 if the slice has none of that name. */
static __u16 slice_port(const struct k8s_slice *s, const struct k8s_vip *v)
{
	for (size_t i = 0; i < s->n_ports; i++) {
		if (s->ports[i].tcp && !strcmp(s->ports[i].name, v->port_name))
			return s->ports[i].port ? s->ports[i].port : v->target_port;
	}
	return 0;
}

static int by_endpoint(const void *a, const void *b)
{
	return endpoint_cmp(a, b);
}

int k8s_slice_set_backends(const struct k8s_slice_set *set, const struct k8s_vip *v,
			   struct endpoint **out, size_t *n)
{
	size_t total = 0, kept = 0;
	struct endpoint *eps;

	*out = NULL;
	*n = 0;
	for (size_t i = 0; i < set->n; i++)
		total += set->items[i].n_ready;
	if (total == 0)
		return 0;
	eps = calloc(total, sizeof(*eps));
	if (!eps)
		return -1;
	for (size_t i = 0; i < set->n; i++) {
		const struct k8s_slice *s = &set->items[i];
		__u16 port = s->family == v->vip.family ? slice_port(s, v) : 0;

		for (size_t j = 0; port && j < s->n_ready; j++) {
			struct endpoint *e = &eps[(*n)++];

			e->addr = s->ready[j];
			e->port = htons(port);
			e->family = (__u8)s->family;
		}
	}
	qsort(eps, *n, sizeof(*eps), by_endpoint);
	for (size_t i = 0; i < *n; i++) {
		if (kept == 0 || !endpoint_equal(&eps[kept - 1], &eps[i]))
			eps[kept++] = eps[i];
	}
	if (kept > SOCKLB_MAX_BACKENDS_PER_SERVICE)
		kept = SOCKLB_MAX_BACKENDS_PER_SERVICE;
	*n = kept;
	if (kept == 0) {
		free(eps);
		eps = NULL;
	}
	*out = eps;
	return 0;
}
