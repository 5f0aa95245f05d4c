// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The answer to a list (ServiceList, EndpointSliceList): k8s_list_parse hands
 * every item over as the watcher does, the informers put each into their
 * staging caches (as a Service and as an EndpointSlice) and swap them in,
 * then the cached Services' VIPs and the slices' backends are read.  The
 * same body is also read as an error answer (k8s_status_message), as it is
 * when the status is not 200.
 */
#include "fuzz_k8s.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct k8s_watch_state st = {0};
	struct fuzz_k8s f;
	char err[512], message[512];

	fuzz_k8s_init(&f);
	fuzz_k8s_list_start(&f);
	if (k8s_list_parse(&st, (const char *)data, size, false, fuzz_k8s_object, &f, err,
			   sizeof(err)) == 0) {
		fuzz_k8s_list_done(&f);
		fuzz_k8s_read(&f);
	} else {
		FUZZ_ASSERT(err[0] != '\0');
	}
	FUZZ_ASSERT(strlen(st.rv) < sizeof(st.rv));
	k8s_status_message((const char *)data, size, message, sizeof(message));
	FUZZ_ASSERT(strlen(message) < sizeof(message));
	fuzz_k8s_free(&f);
	return 0;
}
