// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * One Service (v1) as a GET or a watch event carries it: the body is checked
 * as the agent checks any answer (k8s_list_load), parsed by the services
 * resource (k8s_resources.c, as its informer caches it) and turned into VIPs
 * under every selector a k8s: source may use.
 */
#include "fuzz_k8s.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[512];
	json_object *root = k8s_list_load((const char *)data, size, true, err, sizeof(err));
	void *svc;

	if (!root)
		return 0;
	err[0] = '\0';
	svc = k8s_services_resource.parse(root, err, sizeof(err));
	if (svc)
		fuzz_k8s_service(svc);
	else
		FUZZ_ASSERT(err[0] != '\0');
	k8s_services_resource.free(svc);
	json_object_put(root);
	return 0;
}
