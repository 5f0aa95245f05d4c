// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The config file (--config, re-read on SIGHUP): the input is the whole
 * file, read through the same stream parser config_file_load uses.
 */
#include "fuzz.h"
#include "agent/config_file.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct service_spec_list list = {0};
	char err[1024];
	/* fmemopen wants a buffer it may keep: a copy, and "r" never writes to it. */
	char *copy = fuzz_str(data, size);
	FILE *f = fmemopen(copy, size ? size : 1, "r");

	if (!f)
		abort();
	if (config_file_parse(f, "fuzz.conf", &list, err, sizeof(err)))
		FUZZ_ASSERT(err[0] != '\0');
	for (size_t i = 0; i < list.n; i++)
		FUZZ_ASSERT(list.items[i].source != NULL);
	fclose(f);
	service_spec_list_free(&list);
	free(copy);
	return 0;
}
