// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * One EndpointSlice (discovery.k8s.io/v1): parsed (k8s_slice_parse), put in
 * a set and read back as the backends of VIPs on each of its port names.
 */
#include "fuzz_k8s.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct k8s_slice_set set = {0};
	char err[512];
	json_object *root = k8s_list_load((const char *)data, size, true, err, sizeof(err));

	if (root) {
		fuzz_k8s_slice_event(&set, K8S_EVENT_ADDED, root);
		fuzz_k8s_backends(&set);
	}
	json_object_put(root);
	k8s_slice_set_clear(&set);
	return 0;
}
