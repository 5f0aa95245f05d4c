// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Services and EndpointSlices as the informers' caches keep them (k8s_cache.h). */
#include "sources/k8s/k8s_objects.h"

#include <stdio.h>
#include <stdlib.h>

static void *service_parse(json_object *obj, char *err, size_t errlen)
{
	struct k8s_service *svc = malloc(sizeof(*svc));

	if (!svc) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (k8s_service_parse(obj, svc, err, errlen)) {
		free(svc);
		return NULL;
	}
	return svc;
}

static void service_free(void *obj)
{
	if (obj)
		k8s_service_free(obj);
	free(obj);
}

const struct k8s_resource k8s_services_resource = {
    .name = "services",
    .path = "/api/v1/services",
    .ns_path = "/api/v1/namespaces/%s/services",
    .parse = service_parse,
    .free = service_free,
};

static void *slice_parse(json_object *obj, char *err, size_t errlen)
{
	struct k8s_slice *slice = malloc(sizeof(*slice));

	if (!slice) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (k8s_slice_parse(obj, slice, err, errlen)) {
		free(slice);
		return NULL;
	}
	return slice;
}

static void slice_free(void *obj)
{
	if (obj)
		k8s_slice_free(obj);
	free(obj);
}

/* A slice is found by its Service: the index value is the service-name label. */
static const char *slice_service(const void *obj)
{
	const struct k8s_slice *slice = obj;

	return slice->service;
}

const struct k8s_resource k8s_endpointslices_resource = {
    .name = "endpointslices",
    .path = "/apis/discovery.k8s.io/v1/endpointslices",
    .ns_path = "/apis/discovery.k8s.io/v1/namespaces/%s/endpointslices",
    .parse = slice_parse,
    .free = slice_free,
    .index = slice_service,
};
