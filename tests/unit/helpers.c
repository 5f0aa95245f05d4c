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

/* The maps as bpf/maps.bpf.h declares them, in lb_map_names order. */
_Static_assert(LB_MAP_COUNT == 7, "a map was added or removed: update test_maps_create()");

int *test_map_fd_slot(struct lb_maps *maps, size_t i)
{
	int *fds[LB_MAP_COUNT] = {
	    &maps->services, &maps->backend_slots, &maps->backends,  &maps->backend_stats,
	    &maps->sockets,  &maps->end_budgets,   &maps->end_stats,
	};

	return fds[i];
}

bool test_maps_create(struct lb_maps *maps, const struct test_map_sizes *sizes)
{
	const struct test_map_sizes def = {
	    .services = TEST_MAX_SERVICES,
	    .backend_slots = 2 * TEST_MAX_BACKENDS,
	    .backends = TEST_MAX_BACKENDS + 1,
	    .sockets = 64,
	};
	struct {
		enum bpf_map_type type;
		__u32 key_size, value_size, max_entries, flags;
	} defs[LB_MAP_COUNT];

	if (!sizes)
		sizes = &def;
	defs[0].type = BPF_MAP_TYPE_HASH; /* services */
	defs[0].key_size = sizeof(struct socklb_service_key);
	defs[0].value_size = sizeof(struct socklb_service);
	defs[0].max_entries = sizes->services;
	defs[0].flags = BPF_F_NO_PREALLOC;
	defs[1].type = BPF_MAP_TYPE_HASH; /* backend_slots */
	defs[1].key_size = sizeof(struct socklb_slot_key);
	defs[1].value_size = sizeof(__u32);
	defs[1].max_entries = sizes->backend_slots;
	defs[1].flags = BPF_F_NO_PREALLOC;
	defs[2].type = BPF_MAP_TYPE_ARRAY; /* backends */
	defs[2].key_size = sizeof(__u32);
	defs[2].value_size = sizeof(struct socklb_backend);
	defs[2].max_entries = sizes->backends;
	defs[2].flags = 0;
	defs[3] = defs[2]; /* backend_stats */
	defs[3].value_size = sizeof(struct socklb_backend_stats);
	defs[4].type = BPF_MAP_TYPE_LRU_HASH; /* sockets */
	defs[4].key_size = sizeof(__u64);
	defs[4].value_size = sizeof(struct socklb_socket);
	defs[4].max_entries = sizes->sockets;
	defs[4].flags = 0;
	defs[5] = defs[2]; /* end_budgets */
	defs[5].value_size = sizeof(struct socklb_end_budget);
	defs[6] = defs[2]; /* end_stats */
	defs[6].value_size = sizeof(struct socklb_end_stats);
	defs[6].max_entries = SOCKLB_END_REASONS;

	for (size_t i = 0; i < LB_MAP_COUNT; i++)
		*test_map_fd_slot(maps, i) = -1;
	for (size_t i = 0; i < LB_MAP_COUNT; i++) {
		LIBBPF_OPTS(bpf_map_create_opts, opts, .map_flags = defs[i].flags);
		int fd = bpf_map_create(defs[i].type, lb_map_names[i], defs[i].key_size,
					defs[i].value_size, defs[i].max_entries, &opts);

		if (fd >= 0) {
			*test_map_fd_slot(maps, i) = fd;
			continue;
		}
		test_maps_destroy(maps);
		if ((fd == -EPERM || fd == -EACCES) && getenv("SOCKLB_UNIT_ALLOW_NO_BPF")) {
			printf("SKIP %s: cannot create BPF map %s: %s (SOCKLB_UNIT_ALLOW_NO_BPF "
			       "is set)\n",
			       tcase_name(), lb_map_names[i], strerror(-fd));
			return false;
		}
		ck_abort_msg("cannot create BPF map %s: %s (run as root, or set "
			     "SOCKLB_UNIT_ALLOW_NO_BPF to skip the map tests)",
			     lb_map_names[i], strerror(-fd));
	}
	return true;
}

void test_maps_destroy(struct lb_maps *maps)
{
	for (size_t i = 0; i < LB_MAP_COUNT; i++) {
		int *fd = test_map_fd_slot(maps, i);

		if (*fd >= 0)
			close(*fd);
		*fd = -1;
	}
}

int test_read_slot(const struct lb_maps *maps, __u32 service_id, __u32 half, __u32 index, __u32 *id)
{
	struct socklb_slot_key key = {service_id, socklb_slot(half, index)};

	return bpf_map_lookup_elem(maps->backend_slots, &key, id) ? -errno : 0;
}

static size_t count_slots(const struct lb_maps *maps, bool any, __u32 service_id)
{
	struct socklb_slot_key key, next;
	size_t n = 0;
	void *prev = NULL;

	while (bpf_map_get_next_key(maps->backend_slots, prev, &next) == 0) {
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

	return bpf_map_lookup_elem(maps->services, &key, out) ? -errno : 0;
}

void test_set_stats(const struct lb_maps *maps, __u32 id, __u64 live, __u64 connecting)
{
	struct socklb_backend_stats st;

	memset(&st, 0, sizeof(st));
	st.live = live;
	st.connecting = connecting;
	ck_assert_int_eq(bpf_map_update_elem(maps->backend_stats, &id, &st, BPF_ANY), 0);
}

struct socklb_backend test_read_backend(const struct lb_maps *maps, __u32 id)
{
	struct socklb_backend be;

	ck_assert_int_eq(bpf_map_lookup_elem(maps->backends, &id, &be), 0);
	return be;
}

int test_map_fd(const struct lb_maps *maps, size_t i)
{
	struct lb_maps copy = *maps;

	return *test_map_fd_slot(&copy, i);
}
