// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "datapath/maps.h"
#include "socklb.skel.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ------------------------------------------------------------ the maps */

/* How big map `name` must be for these limits; 0: its declared size stays. */
static __u32 size_of(const char *name, const struct lb_map_sizes *s)
{
	if (!strcmp(name, "services"))
		return s->max_services;
	if (!strcmp(name, "backend_slots"))
		return 2 * s->max_backends; /* two halves */
	/* Arrays by backend id: id 0 means "none", so they hold one more entry. */
	if (!strcmp(name, "backends") || !strcmp(name, "backend_stats") ||
	    !strcmp(name, "end_budgets") || !strcmp(name, "backend_extra"))
		return s->max_backends + 1;
	return 0;
}

bool lb_maps_rebuilt(const char *name)
{
	return !strcmp(name, "backend_extra");
}

void lb_maps_set_sizes(struct bpf_object *obj, const struct lb_map_sizes *sizes)
{
	struct bpf_map *map;

	bpf_object__for_each_map(map, obj)
	{
		__u32 n = size_of(bpf_map__name(map), sizes);

		if (n)
			bpf_map__set_max_entries(map, n);
	}
}

static void open_failed(const char *what, char *err, size_t errlen)
{
	snprintf(err, errlen, "cannot open the BPF object (%s): %s", what, strerror(errno));
}

int lb_maps_open_pinned(const char *pin_path, struct lb_maps *maps, char *err, size_t errlen)
{
	LIBBPF_OPTS(bpf_object_open_opts, opts, .pin_root_path = pin_path);
	struct bpf_map *map;
	int ret;

	memset(maps, 0, sizeof(*maps));
	maps->obj = socklb_bpf__open_opts(&opts);
	if (!maps->obj) {
		open_failed("socklb", err, errlen);
		return -errno;
	}
	maps->owned = true;
	bpf_object__for_each_map(map, maps->obj->obj)
	{
		const char *path = bpf_map__pin_path(map);
		int fd;

		if (!path)
			continue; /* .rodata, .bss: the object's own, not shared */
		fd = bpf_obj_get(path);
		if (fd < 0 && errno == ENOENT && lb_maps_rebuilt(bpf_map__name(map)))
			continue; /* an older agent's pins: reads of it fail, the rest works */
		if (fd < 0) {
			ret = -errno;
			snprintf(err, errlen,
				 "cannot open pinned map %s: %s (is the socklb agent running with "
				 "--pin-path %s?)",
				 path, strerror(errno), pin_path);
			lb_maps_close(maps);
			return ret;
		}
		ret = bpf_map__reuse_fd(map, fd);
		close(fd);
		if (ret) {
			snprintf(err, errlen, "cannot use pinned map %s: %s", path, strerror(-ret));
			lb_maps_close(maps);
			return ret;
		}
	}
	return 0;
}

int lb_maps_create(const struct lb_map_sizes *sizes, struct lb_maps *maps, char *err, size_t errlen)
{
	struct bpf_program *prog;
	struct bpf_map *map;
	int ret;

	memset(maps, 0, sizeof(*maps));
	maps->obj = socklb_bpf__open();
	if (!maps->obj) {
		open_failed("socklb", err, errlen);
		return -errno;
	}
	maps->owned = true;
	lb_maps_set_sizes(maps->obj->obj, sizes);
	bpf_object__for_each_map(map, maps->obj->obj) bpf_map__set_pin_path(map, NULL);
	bpf_object__for_each_program(prog, maps->obj->obj) bpf_program__set_autoload(prog, false);
	ret = socklb_bpf__load(maps->obj);
	if (ret) {
		snprintf(err, errlen, "cannot create socklb's maps: %s", strerror(-ret));
		lb_maps_close(maps);
	}
	return ret;
}

void lb_maps_close(struct lb_maps *maps)
{
	if (maps->owned)
		socklb_bpf__destroy(maps->obj);
	maps->obj = NULL;
	maps->owned = false;
}

int lb_maps_fd(const struct lb_maps *maps, const char *name)
{
	struct bpf_map *map = bpf_object__find_map_by_name(maps->obj->obj, name);

	return map ? bpf_map__fd(map) : -ENOENT;
}

#define FD(maps, name) bpf_map__fd((maps)->obj->maps.name)

/* ------------------------------------------------------------- services */

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
	if (bpf_map_update_elem(FD(maps, backend_stats), &id, &zero, BPF_ANY))
		return -errno;
	if (lb_maps_set_extra(maps, id, 0))
		return -errno;
	if (bpf_map_update_elem(FD(maps, end_budgets), &id, &no_budget, BPF_ANY))
		return -errno;
	if (bpf_map_update_elem(FD(maps, backends), &id, &be, BPF_ANY))
		return -errno;
	return 0;
}

static int delete_slots(const struct lb_maps *maps, __u32 service_id, __u32 half, __u32 from,
			__u32 to)
{
	for (__u32 i = from; i < to; i++) {
		struct socklb_slot_key key = {service_id, socklb_slot(half, i)};

		if (bpf_map_delete_elem(FD(maps, backend_slots), &key) && errno != ENOENT)
			return -errno;
	}
	return 0;
}

/* A set of up to SOCKLB_INLINE_BACKENDS: all of it in the service entry. */
static int publish_inline(const struct lb_maps *maps, const struct socklb_service_key *key,
			  struct lb_service_slots *slots, const __u32 *ids, size_t n)
{
	struct socklb_service svc = {
	    .service_id = slots->service_id,
	    .backend_count = (__u32)n,
	    .flags = slots->flags,
	};
	int err;

	for (size_t i = 0; i < n; i++)
		svc.backend_ids[i] = ids[i];
	if (bpf_map_update_elem(FD(maps, services), key, &svc, BPF_ANY))
		return -errno;
	/*
	 * Slots of earlier, larger sets hold memory.  The inactive half goes now;
	 * the half that was live until this update goes at the next publish, as
	 * a connect that read the old entry a moment ago may still look there.
	 */
	err = delete_slots(maps, slots->service_id, slots->active_half ^ 1, 0,
			   slots->half_count[slots->active_half ^ 1]);
	if (err)
		return err;
	slots->half_count[slots->active_half ^ 1] = 0;
	slots->active_half ^= 1;
	return 0;
}

/* A larger set: into the inactive half of the slots, then one switch of the entry. */
static int publish_slots(const struct lb_maps *maps, const struct socklb_service_key *key,
			 struct lb_service_slots *slots, const __u32 *ids, size_t n)
{
	__u32 half = slots->active_half ^ 1;
	struct socklb_service svc = {
	    .service_id = slots->service_id,
	    .backend_count = (__u32)n,
	    .active_half = half,
	    .flags = slots->flags,
	};
	int err;

	for (size_t i = 0; i < n; i++) {
		struct socklb_slot_key slot = {slots->service_id, socklb_slot(half, (__u32)i)};

		if (bpf_map_update_elem(FD(maps, backend_slots), &slot, &ids[i], BPF_ANY))
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
	if (bpf_map_update_elem(FD(maps, services), key, &svc, BPF_ANY))
		return -errno;
	slots->active_half = half;
	return 0;
}

int lb_maps_publish(const struct lb_maps *maps, const struct endpoint *vip,
		    struct lb_service_slots *slots, const __u32 *ids, size_t n)
{
	struct socklb_service_key key = endpoint_service_key(vip);

	if (n > SOCKLB_MAX_BACKENDS_PER_SERVICE)
		return -E2BIG;
	if (n <= SOCKLB_INLINE_BACKENDS)
		return publish_inline(maps, &key, slots, ids, n);
	return publish_slots(maps, &key, slots, ids, n);
}

int lb_maps_remove_service(const struct lb_maps *maps, const struct endpoint *vip,
			   struct lb_service_slots *slots)
{
	struct socklb_service_key key = endpoint_service_key(vip);
	int err;

	if (bpf_map_delete_elem(FD(maps, services), &key) && errno != ENOENT)
		return -errno;
	for (__u32 half = 0; half < 2; half++) {
		err = delete_slots(maps, slots->service_id, half, 0, slots->half_count[half]);
		if (err)
			return err;
		slots->half_count[half] = 0;
	}
	return 0;
}

int lb_maps_for_each_service(const struct lb_maps *maps, lb_service_cb cb, void *arg)
{
	struct socklb_service_key key, next;
	struct socklb_service value;
	void *prev = NULL;
	int fd = FD(maps, services), ret;

	while (bpf_map_get_next_key(fd, prev, &next) == 0) {
		key = next;
		prev = &key;
		/* Deleted between the two calls: skip it. */
		if (bpf_map_lookup_elem(fd, &key, &value))
			continue;
		ret = cb(arg, &key, &value);
		if (ret)
			return ret;
	}
	return 0;
}

size_t lb_maps_read_set(const struct lb_maps *maps, const struct socklb_service *svc,
			struct lb_set_member *out)
{
	bool inline_set = svc->backend_count <= SOCKLB_INLINE_BACKENDS;
	size_t n = 0;

	for (__u32 i = 0; i < svc->backend_count && i < SOCKLB_MAX_BACKENDS_PER_SERVICE; i++) {
		struct socklb_slot_key key = {svc->service_id, socklb_slot(svc->active_half, i)};

		if (inline_set)
			out[n].id = svc->backend_ids[i];
		else if (bpf_map_lookup_elem(FD(maps, backend_slots), &key, &out[n].id))
			continue;
		if (bpf_map_lookup_elem(FD(maps, backends), &out[n].id, &out[n].backend))
			continue;
		n++;
	}
	return n;
}

__u32 lb_maps_count_half(const struct lb_maps *maps, __u32 service_id, __u32 half)
{
	__u32 n = 0, id;

	for (;;) {
		struct socklb_slot_key key = {service_id, socklb_slot(half, n)};

		if (n == SOCKLB_MAX_BACKENDS_PER_SERVICE ||
		    bpf_map_lookup_elem(FD(maps, backend_slots), &key, &id))
			return n;
		n++;
	}
}

/* ------------------------------------------------------------- counters */

int lb_maps_read_backend(const struct lb_maps *maps, __u32 id, struct socklb_backend *out)
{
	return bpf_map_lookup_elem(FD(maps, backends), &id, out) ? -errno : 0;
}

int lb_maps_read_stats(const struct lb_maps *maps, __u32 id, struct socklb_backend_stats *out)
{
	return bpf_map_lookup_elem(FD(maps, backend_stats), &id, out) ? -errno : 0;
}

__u32 lb_maps_snapshot_stats(const struct lb_maps *maps, __u32 n, __u32 *keys_scratch,
			     struct socklb_backend_stats *out)
{
	__u32 done = 0, next = 0;
	bool first = true;

	while (done < n) {
		__u32 count = n - done;
		int err = bpf_map_lookup_batch(FD(maps, backend_stats), first ? NULL : &next, &next,
					       keys_scratch + done, out + done, &count, NULL);

		first = false;
		done += count;
		/* ENOENT: the end of the array; anything else: the caller reads the rest. */
		if (err || count == 0)
			break;
	}
	return done;
}

int lb_maps_read_end_stats(const struct lb_maps *maps, __u32 reason, struct socklb_end_stats *out)
{
	return bpf_map_lookup_elem(FD(maps, end_stats), &reason, out) ? -errno : 0;
}

int lb_maps_set_end_budget(const struct lb_maps *maps, __u32 id,
			   const struct socklb_end_budget *budget)
{
	return bpf_map_update_elem(FD(maps, end_budgets), &id, budget, BPF_ANY) ? -errno : 0;
}

int lb_maps_cancel_move(const struct lb_maps *maps, __u64 cookie)
{
	return bpf_map_delete_elem(FD(maps, move_requests), &cookie) ? -errno : 0;
}

int lb_maps_for_each_netns(const struct lb_maps *maps, lb_netns_cb cb, void *arg)
{
	int fd = FD(maps, netns_conns), ret = 0;
	__u64 key, next;
	struct socklb_netns n;
	bool first = true;

	while (!ret && !bpf_map_get_next_key(fd, first ? NULL : &key, &next)) {
		first = false;
		key = next;
		if (bpf_map_lookup_elem(fd, &key, &n))
			continue; /* deleted meanwhile */
		ret = cb(arg, key, &n);
	}
	return ret;
}

int lb_maps_set_injector(const struct lb_maps *maps, int sock_fd)
{
	__u32 zero = 0;
	__u64 fd = (__u64)sock_fd;

	return bpf_map_update_elem(FD(maps, inject_socks), &zero, &fd, BPF_ANY) ? -errno : 0;
}

int lb_maps_set_inject_target(const struct lb_maps *maps, __u64 cookie)
{
	__u32 zero = 0;

	return bpf_map_update_elem(FD(maps, inject_target), &zero, &cookie, BPF_ANY) ? -errno : 0;
}

int lb_maps_forget_netns(const struct lb_maps *maps, __u64 cookie)
{
	return bpf_map_delete_elem(FD(maps, netns_conns), &cookie) ? -errno : 0;
}

int lb_maps_set_extra(const struct lb_maps *maps, __u32 id, __u32 extra)
{
	return bpf_map_update_elem(FD(maps, backend_extra), &id, &extra, BPF_ANY) ? -errno : 0;
}

int lb_maps_read_extra(const struct lb_maps *maps, __u32 id, __u32 *extra)
{
	return bpf_map_lookup_elem(FD(maps, backend_extra), &id, extra) ? -errno : 0;
}

/* ------------------------------------------------------- data path stats */

/* One entry of a per-CPU counter array, summed over CPUs. */
static int sum_per_cpu(int fd, __u32 key, __u64 *sum)
{
	int n_cpus = libbpf_num_possible_cpus(), ret = 0;
	__u64 *per_cpu;

	if (n_cpus <= 0)
		return n_cpus ? n_cpus : -EINVAL;
	per_cpu = calloc((size_t)n_cpus, sizeof(*per_cpu));
	if (!per_cpu)
		return -ENOMEM;
	*sum = 0;
	if (bpf_map_lookup_elem(fd, &key, per_cpu))
		ret = -errno;
	for (int cpu = 0; cpu < n_cpus && !ret; cpu++)
		*sum += per_cpu[cpu];
	free(per_cpu);
	return ret;
}

int lb_maps_read_dp_event(const struct lb_maps *maps, __u32 event, __u64 *sum)
{
	return sum_per_cpu(FD(maps, dp_stats), event, sum);
}

int lb_maps_read_dp_stats(const struct lb_maps *maps, __u64 out[SOCKLB_DP_EVENTS])
{
	int ret = 0;

	for (__u32 event = 0; event < SOCKLB_DP_EVENTS && !ret; event++)
		ret = lb_maps_read_dp_event(maps, event, &out[event]);
	return ret;
}

/* ---------------------------------------------------------------- layout */

int lb_maps_read_h2_stats(const struct lb_maps *maps, __u64 out[SOCKLB_H2_EVENTS])
{
	int ret = 0;

	for (__u32 event = 0; event < SOCKLB_H2_EVENTS && !ret; event++)
		ret = sum_per_cpu(FD(maps, h2_stats), event, &out[event]);
	return ret;
}

int lb_maps_request_move(const struct lb_maps *maps, __u64 cookie, __u32 reason,
			 __u64 force_after_ns)
{
	struct socklb_move_request req = {.reason = reason, .force_after_ns = force_after_ns};

	if (reason >= SOCKLB_END_REASONS)
		return -EINVAL;
	return bpf_map_update_elem(FD(maps, move_requests), &cookie, &req, BPF_ANY) ? -errno : 0;
}

int lb_maps_read_h2_follow(const struct lb_maps *maps, __u64 cookie, struct socklb_h2_follow *out)
{
	return bpf_map_lookup_elem(FD(maps, h2_follow), &cookie, out) ? -errno : 0;
}

int lb_maps_write_layout(const struct lb_maps *maps)
{
	__u32 key = 0, version = SOCKLB_LAYOUT_VERSION;

	return bpf_map_update_elem(FD(maps, layout), &key, &version, BPF_ANY) ? -errno : 0;
}

int lb_maps_pinned_layout(const char *path, __u32 *version)
{
	__u32 key = 0;
	int fd = bpf_obj_get(path), ret = 0;

	if (fd < 0)
		return -errno;
	if (bpf_map_lookup_elem(fd, &key, version))
		ret = -errno;
	close(fd);
	return ret;
}
