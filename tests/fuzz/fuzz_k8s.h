/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * What the k8s harnesses do with an object once the stream or list has
 * handed it over: what the agent's watch callbacks do (k8s_target_watch.c,
 * k8s_discovery.c) minus the service table.  A Service gives its VIPs under
 * each kind of selection; an EndpointSlice joins a set whose backends are
 * then computed for VIPs of both families on the slice's own port names.
 */
#ifndef SOCKLB_FUZZ_K8S_H
#define SOCKLB_FUZZ_K8S_H

#include "fuzz.h"
#include "sources/k8s/k8s_objects.h"
#include "sources/k8s/k8s_stream.h"

#include <arpa/inet.h>

static inline void fuzz_k8s_check_vips(const struct k8s_service *svc,
				       const struct k8s_selector *sel)
{
	struct k8s_vip *vips;
	size_t n;
	char err[512];

	if (k8s_service_vips(svc, sel, &vips, &n, err, sizeof(err)) == 0) {
		for (size_t i = 0; i < n; i++)
			FUZZ_ASSERT(vips[i].vip.family == AF_INET ||
				    vips[i].vip.family == AF_INET6);
		free(vips);
	}
}

static inline void fuzz_k8s_service(json_object *obj)
{
	struct k8s_service svc;
	struct k8s_selector sel = {0};
	char err[512];

	if (k8s_service_parse(obj, &svc, err, sizeof(err)))
		return;
	FUZZ_ASSERT(svc.n_cluster_ips <= 2);
	(void)k8s_service_discoverable(&svc);
	fuzz_k8s_check_vips(&svc, &sel); /* k8s:NS/NAME: its only port */
	sel.all_ports = true;		 /* --k8s-discover */
	fuzz_k8s_check_vips(&svc, &sel);
	sel.all_ports = false;
	sel.has_vip = true; /* VIP:PORT=k8s:NS/NAME */
	sel.vip.family = AF_INET;
	sel.vip.port = htons(svc.n_ports ? svc.ports[0].port : 80);
	fuzz_k8s_check_vips(&svc, &sel);
	sel.has_vip = false;
	sel.port_name = svc.n_ports ? svc.ports[svc.n_ports - 1].name : "grpc";
	fuzz_k8s_check_vips(&svc, &sel); /* k8s:NS/NAME:PORT-NAME */
	k8s_service_free(&svc);
}

/* The backends of every VIP the set could serve: both families, each port name. */
static inline void fuzz_k8s_backends(const struct k8s_slice_set *set)
{
	for (size_t i = 0; i < set->n; i++) {
		for (size_t p = 0; p < set->items[i].n_ports; p++) {
			struct k8s_vip v = {.vip.family = (__u8)set->items[i].family,
					    .target_port = 8080};
			struct endpoint *eps;
			size_t n;

			snprintf(v.port_name, sizeof(v.port_name), "%s",
				 set->items[i].ports[p].name);
			FUZZ_ASSERT(k8s_slice_set_backends(set, &v, &eps, &n) == 0);
			for (size_t j = 1; j < n; j++)
				FUZZ_ASSERT(endpoint_cmp(&eps[j - 1], &eps[j]) < 0);
			free(eps);
		}
	}
}

/* As k8s_target_watch.c's slices_object does, with the slice set's own function. */
static inline void fuzz_k8s_slice_event(struct k8s_slice_set *set, enum k8s_event_type type,
					json_object *obj)
{
	char err[512];

	if (k8s_slice_set_event(set, type == K8S_EVENT_DELETED, obj, err, sizeof(err)))
		FUZZ_ASSERT(err[0] != '\0');
}

/* An object as a watch or list hands it over: both kinds of parse, into set. */
static inline void fuzz_k8s_object(void *set, enum k8s_event_type type, json_object *obj)
{
	if (type != K8S_EVENT_DELETED)
		fuzz_k8s_service(obj);
	fuzz_k8s_slice_event(set, type, obj);
}

#endif
