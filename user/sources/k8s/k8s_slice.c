// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* EndpointSlices (discovery.k8s.io/v1): the ready backends of a Service. */
#include "sources/k8s/k8s_json.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

static int parse_slice_ports(json_object *obj, struct k8s_slice *out, char *err, size_t errlen)
{
	json_object *ports = k8s_json_array(obj, "ports");
	size_t n = ports ? json_object_array_length(ports) : 0;

	out->ports = calloc(n ? n : 1, sizeof(*out->ports));
	if (!out->ports) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		json_object *p = json_object_array_get_idx(ports, i);
		struct k8s_slice_port *sp = &out->ports[out->n_ports];
		const char *name = k8s_get_str(p, "name");
		int port = k8s_json_port(p, "port");

		if (port < 0) {
			snprintf(err, errlen, "EndpointSlice %s: port %zu is not a valid number",
				 out->name, i);
			return -EINVAL;
		}
		if (k8s_copy_str(sp->name, sizeof(sp->name), name ? name : "", "port name", err,
				 errlen))
			return -EINVAL;
		sp->port = (__u16)port;
		sp->tcp = k8s_port_is_tcp(p);
		out->n_ports++;
	}
	return 0;
}

/* conditions.ready: a missing or null value means unknown, to be taken as ready. */
static bool endpoint_ready(json_object *ep)
{
	json_object *ready = k8s_json_path(ep, "conditions.ready");

	return !ready || !json_object_is_type(ready, json_type_boolean) ||
	       json_object_get_boolean(ready);
}

static int parse_slice_endpoints(json_object *obj, struct k8s_slice *out, char *err, size_t errlen)
{
	json_object *eps = k8s_json_array(obj, "endpoints");
	size_t n = eps ? json_object_array_length(eps) : 0;

	out->ready = calloc(n ? n : 1, sizeof(*out->ready));
	if (!out->ready) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		json_object *ep = json_object_array_get_idx(eps, i);
		json_object *addrs = k8s_json_array(ep, "addresses");
		json_object *first = addrs && json_object_array_length(addrs)
					 ? json_object_array_get_idx(addrs, 0)
					 : NULL;
		struct endpoint e;

		/* Like kube-proxy: the other addresses are the same pod. */
		if (!first || !json_object_is_type(first, json_type_string) || !out->family ||
		    k8s_parse_ip(json_object_get_string(first), out->family, &e))
			continue;
		if (endpoint_ready(ep))
			out->ready[out->n_ready++] = e.addr;
		else
			out->n_not_ready++;
	}
	return 0;
}

/* The Service a slice belongs to: its label kubernetes.io/service-name. */
static int slice_service(json_object *obj, struct k8s_slice *out, char *err, size_t errlen)
{
	json_object *labels = k8s_json_path(obj, "metadata.labels"), *v;

	if (!labels || !json_object_object_get_ex(labels, "kubernetes.io/service-name", &v) ||
	    !json_object_is_type(v, json_type_string))
		return 0;
	return k8s_copy_str(out->service, sizeof(out->service), json_object_get_string(v),
			    "service-name label", err, errlen);
}

int k8s_slice_parse(json_object *obj, struct k8s_slice *out, char *err, size_t errlen)
{
	const char *name, *type;

	memset(out, 0, sizeof(*out));
	if (k8s_check_kind(obj, "EndpointSlice", err, errlen))
		return -EINVAL;
	name = k8s_get_str(obj, "metadata.name");
	type = k8s_get_str(obj, "addressType");
	if (!name) {
		snprintf(err, errlen, "EndpointSlice without metadata.name");
		return -EINVAL;
	}
	if (k8s_copy_str(out->name, sizeof(out->name), name, "EndpointSlice name", err, errlen) ||
	    slice_service(obj, out, err, errlen))
		return -EINVAL;
	if (type && !strcmp(type, "IPv4"))
		out->family = AF_INET;
	else if (type && !strcmp(type, "IPv6"))
		out->family = AF_INET6;
	if (parse_slice_ports(obj, out, err, errlen) ||
	    parse_slice_endpoints(obj, out, err, errlen)) {
		k8s_slice_free(out);
		return -EINVAL;
	}
	return 0;
}

void k8s_slice_free(struct k8s_slice *slice)
{
	free(slice->ports);
	free(slice->ready);
	memset(slice, 0, sizeof(*slice));
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

int k8s_slices_backends(const struct k8s_slice *const *slices, size_t n_slices,
			const struct k8s_vip *v, struct endpoint **out, size_t *n)
{
	size_t total = 0, kept = 0;
	struct endpoint *eps;

	*out = NULL;
	*n = 0;
	for (size_t i = 0; i < n_slices; i++)
		total += slices[i]->n_ready;
	if (total == 0)
		return 0;
	eps = calloc(total, sizeof(*eps));
	if (!eps)
		return -ENOMEM;
	for (size_t i = 0; i < n_slices; i++) {
		const struct k8s_slice *s = slices[i];
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
