// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "model/service_spec.h"
#include "lib/array.h"
#include "sources/source.h"
#include "lib/util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct source_type source_types[] = {
    {"static:", SOURCE_STATIC, source_static_parse},
    {"dns:", SOURCE_DNS, source_dns_parse},
    {"k8s:", SOURCE_K8S, source_k8s_parse},
};

#define N_SOURCE_TYPES (ARRAY_SIZE(source_types))

static const struct source_type *find_source_type(const char *source)
{
	for (size_t i = 0; i < N_SOURCE_TYPES; i++) {
		if (!strncmp(source, source_types[i].prefix, strlen(source_types[i].prefix)))
			return &source_types[i];
	}
	return NULL;
}

static int parse_source(const char *source, struct service_spec *spec, char *err, size_t errlen)
{
	const struct source_type *type = find_source_type(source);
	char detail[256];

	if (!type) {
		snprintf(err, errlen,
			 "unknown source '%.64s': expected static:IP:PORT[,IP:PORT...], "
			 "dns:NAME:PORT or k8s:NAMESPACE/SERVICE[:PORT-NAME]",
			 source);
		return -EINVAL;
	}
	spec->kind = type->kind;
	if (type->parse(source + strlen(type->prefix), spec, detail, sizeof(detail))) {
		snprintf(err, errlen, "source '%.64s': %s", source, detail);
		return -EINVAL;
	}
	return 0;
}

#define K8S_PREFIX "k8s:"

/* "k8s:NAMESPACE/SERVICE[:PORT-NAME]" with no VIP: the Service's cluster IPs are the VIPs. */
static int parse_k8s_alone(const char *text, struct service_spec *out, char *err, size_t errlen)
{
	char detail[256];

	out->source = strdup(text);
	if (!out->source) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	if (parse_source(out->source, out, detail, sizeof(detail))) {
		snprintf(err, errlen, "service '%.64s': %s", text, detail);
		service_spec_free(out);
		return -EINVAL;
	}
	return 0;
}

int service_spec_parse(const char *text, struct service_spec *out, char *err, size_t errlen)
{
	const char *eq = strchr(text, '=');
	char detail[256];

	memset(out, 0, sizeof(*out));
	if (!eq && !strncmp(text, K8S_PREFIX, strlen(K8S_PREFIX)))
		return parse_k8s_alone(text, out, err, errlen);
	if (!eq) {
		snprintf(err, errlen,
			 "service '%.64s': expected VIP:PORT=SOURCE, e.g. "
			 "10.96.0.10:8080=static:10.244.1.5:8080,10.244.2.7:8080, or "
			 "k8s:NAMESPACE/SERVICE[:PORT-NAME] alone",
			 text);
		return -EINVAL;
	}
	if (endpoint_parse_n(text, (size_t)(eq - text), &out->vip, detail, sizeof(detail))) {
		snprintf(err, errlen, "service '%.64s': VIP %s", text, detail);
		return -EINVAL;
	}
	out->source = strdup(eq + 1);
	if (!out->source) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	if (parse_source(out->source, out, detail, sizeof(detail))) {
		snprintf(err, errlen, "service '%.*s': %s", (int)(eq - text), text, detail);
		service_spec_free(out);
		return -EINVAL;
	}
	return 0;
}

void service_spec_free(struct service_spec *spec)
{
	free(spec->source);
	free(spec->backends);
	free(spec->dns_name);
	free(spec->k8s_namespace);
	free(spec->k8s_name);
	free(spec->k8s_port_name);
	memset(spec, 0, sizeof(*spec));
}

static bool same_str(const char *a, const char *b)
{
	return a == b || (a && b && !strcmp(a, b));
}

static bool same_k8s_service(const struct service_spec *a, const struct service_spec *b)
{
	return a->kind == SOURCE_K8S && b->kind == SOURCE_K8S &&
	       same_str(a->k8s_namespace, b->k8s_namespace) && same_str(a->k8s_name, b->k8s_name) &&
	       same_str(a->k8s_port_name, b->k8s_port_name);
}

int service_spec_list_add(struct service_spec_list *list, struct service_spec *spec, char *err,
			  size_t errlen)
{
	char vip[ENDPOINT_STR_LEN];
	size_t at;

	if (service_spec_has_vip(spec) && vip_index_get(&list->by_vip, &spec->vip, &at)) {
		snprintf(err, errlen, "service %s is given twice",
			 endpoint_str(&spec->vip, vip, sizeof(vip)));
		return -EINVAL;
	}
	/* Specs without a VIP (k8s: alone) are few: a scan is fine. */
	for (size_t i = 0; i < list->n && !service_spec_has_vip(spec); i++) {
		if (!service_spec_has_vip(&list->items[i]) &&
		    same_k8s_service(spec, &list->items[i])) {
			snprintf(err, errlen, "service %.200s is given twice", spec->source);
			return -EINVAL;
		}
	}
	if (ARRAY_RESERVE(list->items, list->cap, list->n)) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	if (service_spec_has_vip(spec) && vip_index_put(&list->by_vip, &spec->vip, list->n)) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	list->items[list->n++] = *spec;
	memset(spec, 0, sizeof(*spec));
	return 0;
}

void service_spec_list_free(struct service_spec_list *list)
{
	for (size_t i = 0; i < list->n; i++)
		service_spec_free(&list->items[i]);
	free(list->items);
	vip_index_free(&list->by_vip);
	memset(list, 0, sizeof(*list));
}
