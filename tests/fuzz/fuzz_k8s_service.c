// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * One Service (v1) as a GET answers it: the body is checked as the agent
 * checks any answer (k8s_list_load), parsed (k8s_service_parse) and turned
 * into VIPs under every selector a k8s: source may use.
 */
#include "fuzz_k8s.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[512];
	json_object *root = k8s_list_load((const char *)data, size, true, err, sizeof(err));

	if (root)
		fuzz_k8s_service(root);
	json_object_put(root);
	return 0;
}
