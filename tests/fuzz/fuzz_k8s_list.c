// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The answer to a list (ServiceList, EndpointSliceList): k8s_list_parse hands
 * every item over as the watchers' list_done does, each is parsed as a
 * Service and as an EndpointSlice, and the slices' backends are computed.
 * The same body is also read as an error answer (k8s_status_message), as it
 * is when the status is not 200.
 */
#include "fuzz_k8s.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct k8s_watch_state st = {0};
	struct k8s_slice_set set = {0};
	char err[512], message[512];

	if (k8s_list_parse(&st, (const char *)data, size, false, fuzz_k8s_object, &set, err,
			   sizeof(err)) == 0)
		fuzz_k8s_backends(&set);
	FUZZ_ASSERT(strlen(st.rv) < sizeof(st.rv));
	k8s_status_message((const char *)data, size, message, sizeof(message));
	k8s_slice_set_clear(&set);
	return 0;
}
