// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "helpers.h"

#include <bpf/bpf.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

struct endpoint ep(const char *text)
{
	struct endpoint out;
	char err[256] = "";

	ck_assert_msg(endpoint_parse(text, &out, err, sizeof(err)) == 0, "endpoint %s: %s", text,
		      err);
	return out;
}

void spec(const char *text, struct service_spec *out)
{
	char err[512] = "";

	ck_assert_msg(service_spec_parse(text, out, err, sizeof(err)) == 0, "spec %s: %s", text,
		      err);
}

void spec_list(struct service_spec_list *list, const char *const *texts, size_t n)
{
	char err[512] = "";

	memset(list, 0, sizeof(*list));
	for (size_t i = 0; i < n; i++) {
		struct service_spec s;

		spec(texts[i], &s);
		ck_assert_msg(service_spec_list_add(list, &s, err, sizeof(err)) == 0, "add %s: %s",
			      texts[i], err);
	}
}

bool test_maps_create(struct lb_maps *maps, const struct lb_map_sizes *sizes)
{
	const struct lb_map_sizes def = {
	    .max_services = TEST_MAX_SERVICES,
	    .max_backends = TEST_MAX_BACKENDS,
	};
	char err[512] = "";
	int ret = lb_maps_create(sizes ? sizes : &def, maps, err, sizeof(err));

	if (ret == 0)
		return true;
	if ((ret == -EPERM || ret == -EACCES) && getenv("SOCKLB_UNIT_ALLOW_NO_BPF")) {
		printf("SKIP %s: %s (SOCKLB_UNIT_ALLOW_NO_BPF is set)\n", tcase_name(), err);
		return false;
	}
	ck_abort_msg("%s (run as root, or set SOCKLB_UNIT_ALLOW_NO_BPF to skip the map tests)",
		     err);
	return false;
}

void test_maps_destroy(struct lb_maps *maps)
{
	lb_maps_close(maps);
}

int test_map_fd(const struct lb_maps *maps, const char *name)
{
	int fd = lb_maps_fd(maps, name);

	ck_assert_msg(fd >= 0, "no map %s", name);
	return fd;
}

int test_read_slot(const struct lb_maps *maps, __u32 service_id, __u32 half, __u32 index, __u32 *id)
{
	struct socklb_slot_key key = {service_id, socklb_slot(half, index)};

	return bpf_map_lookup_elem(test_map_fd(maps, "backend_slots"), &key, id) ? -errno : 0;
}

static size_t count_slots(const struct lb_maps *maps, bool any, __u32 service_id)
{
	struct socklb_slot_key key, next;
	size_t n = 0;
	void *prev = NULL;

	while (bpf_map_get_next_key(test_map_fd(maps, "backend_slots"), prev, &next) == 0) {
		if (any || next.service_id == service_id)
			n++;
		key = next;
		prev = &key;
	}
	ck_assert_int_eq(errno, ENOENT);
	return n;
}

size_t test_count_slots(const struct lb_maps *maps, __u32 service_id)
{
	return count_slots(maps, false, service_id);
}

size_t test_count_all_slots(const struct lb_maps *maps)
{
	return count_slots(maps, true, 0);
}

int test_read_service(const struct lb_maps *maps, const struct endpoint *vip,
		      struct socklb_service *out)
{
	struct socklb_service_key key = endpoint_service_key(vip);

	return bpf_map_lookup_elem(test_map_fd(maps, "services"), &key, out) ? -errno : 0;
}

void test_set_stats(const struct lb_maps *maps, __u32 id, __u64 live, __u64 connecting)
{
	struct socklb_backend_stats st;

	memset(&st, 0, sizeof(st));
	st.live = live;
	st.connecting = connecting;
	ck_assert_int_eq(bpf_map_update_elem(test_map_fd(maps, "backend_stats"), &id, &st, BPF_ANY),
			 0);
}

struct socklb_backend test_read_backend(const struct lb_maps *maps, __u32 id)
{
	struct socklb_backend be;

	ck_assert_int_eq(bpf_map_lookup_elem(test_map_fd(maps, "backends"), &id, &be), 0);
	return be;
}

#define FIXTURES "tests/fixtures/k8s"

char *test_read_fixture(const char *name, size_t *len)
{
	const char *dir = getenv("SOCKLB_K8S_FIXTURES") ? getenv("SOCKLB_K8S_FIXTURES") : FIXTURES;
	char path[1024];
	FILE *f;
	char *buf;
	long size;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "r");
	ck_assert_msg(f, "cannot open fixture %s (run from the repository root)", path);
	fseek(f, 0, SEEK_END);
	size = ftell(f);
	rewind(f);
	buf = malloc((size_t)size + 1);
	ck_assert_ptr_nonnull(buf);
	ck_assert_uint_eq(fread(buf, 1, (size_t)size, f), (size_t)size);
	buf[size] = '\0';
	fclose(f);
	if (len)
		*len = (size_t)size;
	return buf;
}

json_object *test_fixture_json(const char *name)
{
	char *text = test_read_fixture(name, NULL);
	json_object *obj = json_tokener_parse(text);

	ck_assert_msg(obj, "fixture %s is not JSON", name);
	free(text);
	return obj;
}
