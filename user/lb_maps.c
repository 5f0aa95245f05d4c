// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "lb_maps.h"

#include <bpf/bpf.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

const char *const lb_map_names[LB_MAP_COUNT] = {
	"services", "backend_slots", "backends", "backend_stats", "sockets", "end_budgets", "end_stats",
};

static int *map_fd_slot(struct lb_maps *maps, size_t i)
{
	int *fds[LB_MAP_COUNT] = {
		&maps->services, &maps->backend_slots, &maps->backends,
		&maps->backend_stats, &maps->sockets, &maps->end_budgets, &maps->end_stats,
	};

	return fds[i];
}

int lb_maps_fd(const struct lb_maps *maps, size_t i)
{
	return *map_fd_slot((struct lb_maps *)maps, i);
}

void lb_service_slots_init(struct lb_service_slots *slots, __u32 service_id)
{
	memset(slots, 0, sizeof(*slots));
	slots->service_id = service_id;
	slots->active_half = 1; /* so the first set goes into half 0 */
}

int lb_maps_write_backend(const struct lb_maps *maps, __u32 id, const struct endpoint *ep,
			  __u32 service_id)
{
	struct socklb_backend be;
	struct socklb_backend_stats zero;
	struct socklb_end_budget no_budget;

	memset(&be, 0, sizeof(be));
	memset(&zero, 0, sizeof(zero));
	memset(&no_budget, 0, sizeof(no_budget));
	be.addr = ep->addr;
	be.port = ep->port;
	be.family = ep->family;
	be.service_id = service_id;
	/* A reused id must not inherit its predecessor's counts or end requests. */
	if (bpf_map_update_elem(maps->backend_stats, &id, &zero, BPF_ANY))
		return -errno;
	if (bpf_map_update_elem(maps->end_budgets, &id, &no_budget, BPF_ANY))
		return -errno;
	if (bpf_map_update_elem(maps->backends, &id, &be, BPF_ANY))
		return -errno;
	return 0;
}

static int delete_slots(const struct lb_maps *maps, __u32 service_id, __u32 half, __u32 from,
			__u32 to)
{
	for (__u32 i = from; i < to; i++) {
		struct socklb_slot_key key = { service_id, socklb_slot(half, i) };

		if (bpf_map_delete_elem(maps->backend_slots, &key) && errno != ENOENT)
			return -errno;
	}
	return 0;
}

int lb_maps_publish(const struct lb_maps *maps, const struct endpoint *vip,
		    struct lb_service_slots *slots, const __u32 *ids, size_t n)
{
	__u32 half = slots->active_half ^ 1;
	struct socklb_service_key key = endpoint_service_key(vip);
	struct socklb_service svc = {
		.service_id = slots->service_id,
		.backend_count = (__u32)n,
		.active_half = half,
	};
	int err;

	for (size_t i = 0; i < n; i++) {
		struct socklb_slot_key slot = { slots->service_id, socklb_slot(half, (__u32)i) };

		if (bpf_map_update_elem(maps->backend_slots, &slot, &ids[i], BPF_ANY))
			return -errno;
		/* Counted at once, so a failure part-way leaves nothing untracked. */
		if (slots->half_count[half] < i + 1)
			slots->half_count[half] = (__u32)(i + 1);
	}
	/* Leftovers of the set before last: never read, but they hold memory. */
	err = delete_slots(maps, slots->service_id, half, (__u32)n, slots->half_count[half]);
	if (err)
		return err;
	slots->half_count[half] = (__u32)n;
	if (bpf_map_update_elem(maps->services, &key, &svc, BPF_ANY))
		return -errno;
	slots->active_half = half;
	return 0;
}

int lb_maps_remove_service(const struct lb_maps *maps, const struct endpoint *vip,
			   struct lb_service_slots *slots)
{
	struct socklb_service_key key = endpoint_service_key(vip);
	int err;

	if (bpf_map_delete_elem(maps->services, &key) && errno != ENOENT)
		return -errno;
	for (__u32 half = 0; half < 2; half++) {
		err = delete_slots(maps, slots->service_id, half, 0, slots->half_count[half]);
		if (err)
			return err;
		slots->half_count[half] = 0;
	}
	return 0;
}

int lb_maps_read_stats(const struct lb_maps *maps, __u32 id, struct socklb_backend_stats *out)
{
	return bpf_map_lookup_elem(maps->backend_stats, &id, out) ? -errno : 0;
}

int lb_maps_open_pinned(const char *pin_path, struct lb_maps *maps, char *err, size_t errlen)
{
	for (size_t i = 0; i < LB_MAP_COUNT; i++)
		*map_fd_slot(maps, i) = -1;
	for (size_t i = 0; i < LB_MAP_COUNT; i++) {
		char path[4096];
		int fd;

		snprintf(path, sizeof(path), "%s/%s", pin_path, lb_map_names[i]);
		fd = bpf_obj_get(path);
		if (fd < 0) {
			snprintf(err, errlen,
				 "cannot open pinned map %s: %s (is the socklb agent running with "
				 "--pin-path %s?)",
				 path, strerror(errno), pin_path);
			lb_maps_close(maps);
			return -1;
		}
		*map_fd_slot(maps, i) = fd;
	}
	return 0;
}

void lb_maps_close(struct lb_maps *maps)
{
	for (size_t i = 0; i < LB_MAP_COUNT; i++) {
		int *fd = map_fd_slot(maps, i);

		if (*fd >= 0)
			close(*fd);
		*fd = -1;
	}
}
