// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * --service VIP:PORT=SOURCE: every line of the input is one --service value,
 * parsed and added to one list as the agent gathers them (duplicates
 * refused).  What parses must print back as it was read: the VIP and every
 * static backend survive endpoint_str -> endpoint_parse unchanged.
 */
#include "fuzz.h"
#include "model/service_spec.h"

static void check_round_trip(const struct endpoint *ep)
{
	char text[ENDPOINT_STR_LEN], err[256];
	struct endpoint again;

	FUZZ_ASSERT(
	    endpoint_parse(endpoint_str(ep, text, sizeof(text)), &again, err, sizeof(err)) == 0);
	FUZZ_ASSERT(endpoint_equal(ep, &again));
}

static void check_spec(const struct service_spec *spec)
{
	if (service_spec_has_vip(spec))
		check_round_trip(&spec->vip);
	FUZZ_ASSERT(spec->source != NULL);
	for (size_t i = 0; i < spec->n_backends; i++) {
		check_round_trip(&spec->backends[i]);
		FUZZ_ASSERT(spec->backends[i].family == spec->vip.family);
		/* Sorted and without repeats, as check_backends promises. */
		FUZZ_ASSERT(i == 0 || endpoint_cmp(&spec->backends[i - 1], &spec->backends[i]) < 0);
	}
	FUZZ_ASSERT(spec->kind != SOURCE_DNS || (spec->dns_name && spec->dns_port));
	FUZZ_ASSERT(spec->kind != SOURCE_K8S || (spec->k8s_namespace && spec->k8s_name));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct service_spec_list list = {0};
	char *text = fuzz_str(data, size), *save = NULL;

	for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		struct service_spec spec;
		char err[512];

		if (service_spec_parse(line, &spec, err, sizeof(err))) {
			FUZZ_ASSERT(err[0] != '\0');
			continue;
		}
		check_spec(&spec);
		if (service_spec_list_add(&list, &spec, err, sizeof(err)))
			service_spec_free(&spec);
	}
	service_spec_list_free(&list);
	free(text);
	return 0;
}
