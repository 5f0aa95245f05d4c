// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * One EndpointSlice (discovery.k8s.io/v1): parsed by the endpointslices
 * resource into its informer's cache (under its key, indexed by its
 * Service), then read back as the backends of VIPs on each of its port
 * names; then deleted, which must leave the cache and its index empty.
 */
#include "fuzz_k8s.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_k8s f;
	char err[512];
	json_object *root = k8s_list_load((const char *)data, size, true, err, sizeof(err));

	if (!root)
		return 0;
	fuzz_k8s_init(&f);
	fuzz_k8s_object(&f, K8S_EVENT_ADDED, root);
	fuzz_k8s_read(&f);
	fuzz_k8s_object(&f, K8S_EVENT_DELETED, root);
	FUZZ_ASSERT(k8s_cache_count(&f.slices) == 0 && k8s_cache_count(&f.services) == 0);
	FUZZ_ASSERT(f.slices.index.n == 0);
	fuzz_k8s_free(&f);
	json_object_put(root);
	return 0;
}
