// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The agent's state file as `socklb status` reads it: the input is the
 * file's content (in a memfd, read by path through state_file_read as the
 * real file is), then every service and draining entry it names is looked
 * up and printed the way status does, as text and as JSON (stdout goes to
 * /dev/null).
 */
#include "fuzz.h"
#include "agent/state_file.h"
#include "cli/status_sources.h"

#include <sys/mman.h>
#include <unistd.h>

static int fd = -1;
static char path[64];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	if (!freopen("/dev/null", "w", stdout))
		abort();
	fd = memfd_create("state-file", 0);
	if (fd < 0)
		abort();
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	return 0;
}

static void write_file(const uint8_t *data, size_t size)
{
	if (ftruncate(fd, 0) || pwrite(fd, data, size, 0) != (ssize_t)size)
		abort();
}

/* What status does for one VIP of the maps: its source line, its draining ids. */
static void show_vip(json_object *state, const char *text, json_object *services)
{
	struct endpoint vip;
	json_object *svc = json_object_new_object();
	char err[256];
	__u32 ids[8];

	if (endpoint_parse(text, &vip, err, sizeof(err)) == 0) {
		status_sources_text(state, &vip);
		status_sources_json(state, &vip, svc);
		FUZZ_ASSERT(status_sources_draining(state, &vip, ids, 8) <= 1u << 30);
	}
	json_object_array_add(services, svc);
}

/* Every "vip" string of a list in the file (services or draining). */
static void show_list(json_object *state, const char *key, json_object *services)
{
	json_object *list, *vip;

	if (!json_object_object_get_ex(state, key, &list) ||
	    !json_object_is_type(list, json_type_array))
		return;
	for (size_t i = 0; i < json_object_array_length(list); i++) {
		if (json_object_object_get_ex(json_object_array_get_idx(list, i), "vip", &vip) &&
		    json_object_is_type(vip, json_type_string))
			show_vip(state, json_object_get_string(vip), services);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[4300];
	json_object *state, *services;

	write_file(data, size);
	state = state_file_read(path, err, sizeof(err));
	if (!state)
		return 0;
	services = json_object_new_array();
	show_list(state, "draining", services);
	show_list(state, "services", services);
	if (status_sources_any_unshown(state))
		status_sources_text_unshown(state);
	status_sources_json_unshown(state, services);
	/* status --json prints the lot. */
	fputs(json_object_to_json_string_ext(services, JSON_C_TO_STRING_PRETTY), stdout);
	json_object_put(services);
	json_object_put(state);
	return 0;
}
