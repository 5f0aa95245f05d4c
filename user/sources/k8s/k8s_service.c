// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* A Service (v1): its cluster IPs and ports, and the VIPs a k8s: source balances. */
#include "sources/k8s/k8s_json.h"
#include "lib/duration.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

static void add_cluster_ip(struct k8s_service *svc, const char *ip)
{
	struct endpoint e;

	if (!strcmp(ip, "None")) {
		svc->headless = true;
		return;
	}
	if (svc->n_cluster_ips == 2 || k8s_parse_ip(ip, 0, &e))
		return;
	for (size_t i = 0; i < svc->n_cluster_ips; i++) {
		if (svc->cluster_ips[i].family == e.family)
			return;
	}
	svc->cluster_ips[svc->n_cluster_ips++] = e;
}

static int parse_service_ports(json_object *obj, struct k8s_service *svc, char *err, size_t errlen)
{
	json_object *ports = k8s_json_array(obj, "spec.ports");
	size_t n = ports ? json_object_array_length(ports) : 0;

	svc->ports = calloc(n ? n : 1, sizeof(*svc->ports));
	if (!svc->ports) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		json_object *p = json_object_array_get_idx(ports, i);
		struct k8s_service_port *out = &svc->ports[svc->n_ports];
		const char *name = k8s_get_str(p, "name");
		int port = k8s_json_port(p, "port"), target = k8s_json_port(p, "targetPort");

		if (port <= 0 || target < 0) {
			snprintf(err, errlen, "service %s/%s: port %zu has no valid port number",
				 svc->ns, svc->name, i);
			return -EINVAL;
		}
		if (k8s_copy_str(out->name, sizeof(out->name), name ? name : "", "port name", err,
				 errlen))
			return -EINVAL;
		out->port = (__u16)port;
		out->target_port = (__u16)target;
		out->tcp = k8s_port_is_tcp(p);
		svc->n_ports++;
	}
	return 0;
}

/* socklb.io/time-fair: "off" or a window; anything else is refused (time_fair_bad). */
static void parse_time_fair(json_object *annotations, struct k8s_service *out)
{
	json_object *v;
	const char *text;

	if (!json_object_object_get_ex(annotations, K8S_ANNOTATION_TIME_FAIR, &v))
		return;
	text = json_object_is_type(v, json_type_string) ? json_object_get_string(v) : "";
	if (!strcmp(text, "off"))
		out->time_fair = (struct service_time_fair){true, 0};
	else if (duration_parse_ms(text, &out->time_fair.window_ms) == 0 &&
		 out->time_fair.window_ms > 0)
		out->time_fair.own = true;
	else
		out->time_fair_bad = true;
}

int k8s_service_parse(json_object *obj, struct k8s_service *out, char *err, size_t errlen)
{
	const char *name, *ns, *type, *enabled, *ip;
	json_object *ips, *annotations;

	memset(out, 0, sizeof(*out));
	if (k8s_check_kind(obj, "Service", err, errlen))
		return -EINVAL;
	name = k8s_get_str(obj, "metadata.name");
	ns = k8s_get_str(obj, "metadata.namespace");
	type = k8s_get_str(obj, "spec.type");
	if (!name) {
		snprintf(err, errlen, "Service without metadata.name");
		return -EINVAL;
	}
	if (k8s_copy_str(out->name, sizeof(out->name), name, "name", err, errlen) ||
	    k8s_copy_str(out->ns, sizeof(out->ns), ns ? ns : "", "namespace", err, errlen) ||
	    k8s_copy_str(out->type, sizeof(out->type), type ? type : "ClusterIP", "type", err,
			 errlen))
		return -EINVAL;
	ips = k8s_json_array(obj, "spec.clusterIPs");
	for (size_t i = 0; ips && i < json_object_array_length(ips); i++) {
		json_object *v = json_object_array_get_idx(ips, i);

		if (json_object_is_type(v, json_type_string))
			add_cluster_ip(out, json_object_get_string(v));
	}
	ip = k8s_get_str(obj, "spec.clusterIP");
	if (!ips && ip)
		add_cluster_ip(out, ip);
	annotations = k8s_json_path(obj, "metadata.annotations");
	if (annotations && json_object_is_type(annotations, json_type_object)) {
		json_object *v;

		enabled = json_object_object_get_ex(annotations, K8S_ANNOTATION_ENABLED, &v) &&
				  json_object_is_type(v, json_type_string)
			      ? json_object_get_string(v)
			      : NULL;
		out->enabled = enabled && !strcmp(enabled, "true");
		parse_time_fair(annotations, out);
	}
	if (parse_service_ports(obj, out, err, errlen)) {
		k8s_service_free(out);
		return -EINVAL;
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
		return -EINVAL;
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
		return -EINVAL;
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
	return -ENOMEM;
}

/* ---------------------------------------------------------- EndpointSlices */
