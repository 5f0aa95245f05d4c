/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * What the k8s harnesses do with an object once the stream or list has
 * handed it over: what the agent's informers do (k8s_informer.c) minus the
 * handlers.  Every object goes into two caches, one per resource the k8s:
 * source informs itself of, through the resources' own parse functions
 * (k8s_resources.c) under the key k8s_object_key gives it; a list's items
 * go into a staging cache swapped in when the list is whole.  A cached
 * Service gives its VIPs under each kind of selection; the EndpointSlices
 * of each Service (found by the cache's index, as k8s_target.c finds them)
 * give the backends of VIPs of both families on every port name they have.
 */
#ifndef SOCKLB_FUZZ_K8S_H
#define SOCKLB_FUZZ_K8S_H

#include "fuzz.h"
#include "sources/k8s/k8s_cache.h"
#include "sources/k8s/k8s_objects.h"
#include "sources/k8s/k8s_stream.h"

#include <arpa/inet.h>

/* The informers' two caches, and the list coming in (staging.res set). */
struct fuzz_k8s {
	struct k8s_cache services, slices;
	struct k8s_cache staging_services, staging_slices;
	bool listing;
};

static inline void fuzz_k8s_init(struct fuzz_k8s *f)
{
	k8s_cache_init(&f->services, &k8s_services_resource);
	k8s_cache_init(&f->slices, &k8s_endpointslices_resource);
	f->listing = false;
}

static inline void fuzz_k8s_free(struct fuzz_k8s *f)
{
	k8s_cache_free(&f->services);
	k8s_cache_free(&f->slices);
	if (f->listing) {
		k8s_cache_free(&f->staging_services);
		k8s_cache_free(&f->staging_slices);
	}
}

/* As the informer's list_start and list_done do. */
static inline void fuzz_k8s_list_start(struct fuzz_k8s *f)
{
	k8s_cache_init(&f->staging_services, &k8s_services_resource);
	k8s_cache_init(&f->staging_slices, &k8s_endpointslices_resource);
	f->listing = true;
}

static inline void fuzz_k8s_list_done(struct fuzz_k8s *f)
{
	k8s_cache_swap(&f->services, &f->staging_services);
	k8s_cache_swap(&f->slices, &f->staging_slices);
	k8s_cache_free(&f->staging_services);
	k8s_cache_free(&f->staging_slices);
	f->listing = false;
}

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

static inline void fuzz_k8s_service(const struct k8s_service *svc)
{
	struct k8s_selector sel = {0};

	FUZZ_ASSERT(svc->n_cluster_ips <= 2);
	(void)k8s_service_discoverable(svc);
	fuzz_k8s_check_vips(svc, &sel); /* k8s:NS/NAME: its only port */
	sel.all_ports = true;		/* --k8s-discover */
	fuzz_k8s_check_vips(svc, &sel);
	sel.all_ports = false;
	sel.has_vip = true; /* VIP:PORT=k8s:NS/NAME */
	sel.vip.family = AF_INET;
	sel.vip.port = htons(svc->n_ports ? svc->ports[0].port : 80);
	fuzz_k8s_check_vips(svc, &sel);
	sel.has_vip = false;
	sel.port_name = svc->n_ports ? svc->ports[svc->n_ports - 1].name : "grpc";
	fuzz_k8s_check_vips(svc, &sel); /* k8s:NS/NAME:PORT-NAME */
}

static inline void fuzz_k8s_cached_service(void *arg, const struct k8s_cache_entry *e)
{
	(void)arg;
	fuzz_k8s_service(e->obj);
}

/* The backends of every VIP the slices of e's Service could serve, as k8s_target.c asks. */
static inline void fuzz_k8s_slice_backends(void *arg, const struct k8s_cache_entry *e)
{
	const struct k8s_cache *c = arg;
	const struct k8s_slice *slice = e->obj;
	struct k8s_cache_entry *const *of;
	const struct k8s_slice **slices;
	size_t n_of = 0;
	bool found = false;

	FUZZ_ASSERT(!e->index == !slice->service[0]);
	if (!e->index)
		return;
	of = k8s_cache_indexed(c, e->index, &n_of);
	slices = calloc(n_of ? n_of : 1, sizeof(*slices));
	FUZZ_ASSERT(slices);
	for (size_t i = 0; i < n_of; i++) {
		FUZZ_ASSERT(of[i]->index_pos == i && !strcmp(of[i]->index, e->index));
		found |= of[i] == e;
		slices[i] = of[i]->obj;
	}
	FUZZ_ASSERT(found); /* the index holds every entry that has an index key */
	for (size_t p = 0; p < slice->n_ports; p++) {
		for (int fam = 0; fam < 2; fam++) {
			struct k8s_vip v = {.vip.family = fam ? AF_INET6 : AF_INET,
					    .target_port = 8080};
			struct endpoint *eps;
			size_t n;

			snprintf(v.port_name, sizeof(v.port_name), "%s", slice->ports[p].name);
			FUZZ_ASSERT(k8s_slices_backends(slices, n_of, &v, &eps, &n) == 0);
			for (size_t j = 0; j < n; j++)
				FUZZ_ASSERT(eps[j].family == v.vip.family);
			for (size_t j = 1; j < n; j++)
				FUZZ_ASSERT(endpoint_cmp(&eps[j - 1], &eps[j]) < 0);
			free(eps);
		}
	}
	free(slices);
}

/* What every consumer of the caches would read: VIPs and backends. */
static inline void fuzz_k8s_read(struct fuzz_k8s *f)
{
	k8s_cache_each(&f->services, fuzz_k8s_cached_service, NULL);
	k8s_cache_each(&f->slices, fuzz_k8s_slice_backends, &f->slices);
}

/* One object into one cache, as the informer's on_object and take_event do. */
static inline void fuzz_k8s_take(struct k8s_cache *live, struct k8s_cache *staging,
				 enum k8s_event_type type, json_object *obj, const char *key)
{
	char old_index[320], err[256];
	void *parsed = NULL;

	err[0] = '\0';
	if (type == K8S_EVENT_ADDED && staging) {
		parsed = staging->res->parse(obj, err, sizeof(err));
		if (parsed)
			(void)k8s_cache_put(staging, key, parsed, NULL, 0);
		else
			FUZZ_ASSERT(err[0] != '\0');
		return;
	}
	if (type != K8S_EVENT_DELETED && !(parsed = live->res->parse(obj, err, sizeof(err)))) {
		FUZZ_ASSERT(err[0] != '\0');
		return;
	}
	if (parsed) {
		if (k8s_cache_put(live, key, parsed, old_index, sizeof(old_index)) == 0)
			FUZZ_ASSERT(k8s_cache_get(live, key) == parsed);
	} else {
		(void)k8s_cache_del(live, key, old_index, sizeof(old_index));
		FUZZ_ASSERT(!k8s_cache_get(live, key));
	}
}

/* An object as a watch or list hands it over (k8s_object_cb): into both caches. */
static inline void fuzz_k8s_object(void *arg, enum k8s_event_type type, json_object *obj)
{
	struct fuzz_k8s *f = arg;
	char key[320];

	if (k8s_object_key(obj, "", key, sizeof(key)))
		return;
	fuzz_k8s_take(&f->services, f->listing ? &f->staging_services : NULL, type, obj, key);
	fuzz_k8s_take(&f->slices, f->listing ? &f->staging_slices : NULL, type, obj, key);
}

#endif
