/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The map layer: the only user-space code that reads or writes socklb's BPF
 * maps (bpf_map_* calls).  Everything else asks it in socklb's terms: write
 * a backend, switch a service to a new backend set, read a service's set,
 * read counters, hand out end budgets, walk services and sockets.
 *
 * The maps themselves are the data path object's (bpf/lib/maps.h is their
 * one list): the loader's loaded skeleton, or, for `socklb status` and the
 * tests, a skeleton opened only to reach the pinned maps or to create
 * unpinned ones.
 */
#ifndef SOCKLB_DATAPATH_MAPS_H
#define SOCKLB_DATAPATH_MAPS_H

#include <stdbool.h>
#include <stddef.h>
#include "model/endpoint.h"

struct bpf_object;
struct socklb_bpf;

struct lb_maps {
	struct socklb_bpf *obj;
	bool owned; /* opened by lb_maps_open_pinned / lb_maps_create: closed with lb_maps_close */
};

struct lb_map_sizes {
	__u32 max_services;
	__u32 max_backends;
};

/*
 * Sizes every socklb map of obj (the data path's or the rebalancer's
 * object, opened, not loaded) for the given limits.  Both objects must be
 * sized alike: the second reuses the pinned maps of the first.
 */
void lb_maps_set_sizes(struct bpf_object *obj, const struct lb_map_sizes *sizes);

/*
 * Whether map `name` holds nothing but what the agent rebuilds from its own
 * sources (backend_extra): an agent adopting the pins of an older version
 * that had no such map creates it, and `socklb status` reads the rest.
 */
bool lb_maps_rebuilt(const char *name);

/* For `socklb status`: the maps an agent pinned under pin_path. */
int lb_maps_open_pinned(const char *pin_path, struct lb_maps *maps, char *err, size_t errlen);
/* For tests: fresh maps of these sizes, pinned nowhere, no program loaded. */
int lb_maps_create(const struct lb_map_sizes *sizes, struct lb_maps *maps, char *err,
		   size_t errlen);
void lb_maps_close(struct lb_maps *maps);

/* The fd of map `name` ("services", ...), or -ENOENT (for tests and tools). */
int lb_maps_fd(const struct lb_maps *maps, const char *name);

/*
 * Where a service's slots stand (sets of more than SOCKLB_INLINE_BACKENDS):
 * which half is live and how full each is; smaller sets use none.
 */
struct lb_service_slots {
	__u32 service_id;
	__u32 active_half;
	__u32 half_count[2];
	__u32 flags; /* SOCKLB_SERVICE_*, written with every publish */
};

void lb_service_slots_init(struct lb_service_slots *slots, __u32 service_id);

/* Writes a backend's address and zeroes its counters (a fresh id only). */
int lb_maps_write_backend(const struct lb_maps *maps, __u32 id, const struct endpoint *ep,
			  __u32 service_id);
/*
 * Makes ids[0..n) the service's backend set with one update of its entry:
 * the set itself, up to SOCKLB_INLINE_BACKENDS; else the inactive half of
 * its slots, filled first.  A concurrent connect sees the old set or the new
 * one, never a mix.
 */
int lb_maps_publish(const struct lb_maps *maps, const struct endpoint *vip,
		    struct lb_service_slots *slots, const __u32 *ids, size_t n);
/* Deletes the service entry, then its slots. */
int lb_maps_remove_service(const struct lb_maps *maps, const struct endpoint *vip,
			   struct lb_service_slots *slots);

/* Calls cb for every entry of the services map; stops at the first non-zero return. */
typedef int (*lb_service_cb)(void *arg, const struct socklb_service_key *key,
			     const struct socklb_service *svc);
int lb_maps_for_each_service(const struct lb_maps *maps, lb_service_cb cb, void *arg);

/* One backend of a service's active set, as the maps hold it. */
struct lb_set_member {
	__u32 id;
	struct socklb_backend backend;
};
/*
 * Reads the active set of svc into out (room for svc->backend_count); returns
 * how many members could be read: fewer when the agent switched sets
 * meanwhile.
 */
size_t lb_maps_read_set(const struct lb_maps *maps, const struct socklb_service *svc,
			struct lb_set_member *out);
/* How many slots a half holds (written from 0 up, so: where they stop). */
__u32 lb_maps_count_half(const struct lb_maps *maps, __u32 service_id, __u32 half);

int lb_maps_read_backend(const struct lb_maps *maps, __u32 id, struct socklb_backend *out);
int lb_maps_read_stats(const struct lb_maps *maps, __u32 id, struct socklb_backend_stats *out);
/*
 * Every backend's counters, ids 0 .. n-1, with as few syscalls as the kernel
 * allows (batch lookup).  Returns how many ids were read (from 0 up).
 */
__u32 lb_maps_snapshot_stats(const struct lb_maps *maps, __u32 n, __u32 *keys_scratch,
			     struct socklb_backend_stats *out);
int lb_maps_read_end_stats(const struct lb_maps *maps, __u32 reason, struct socklb_end_stats *out);
int lb_maps_set_end_budget(const struct lb_maps *maps, __u32 id,
			   const struct socklb_end_budget *budget);
/* Withdraws a request; -ENOENT if there is none (the ender took it). */
int lb_maps_cancel_move(const struct lb_maps *maps, __u64 cookie);
/*
 * Each network namespace netns_conns records (kept where the kernel has no
 * map-element iterators); cb's non-zero return stops the walk and is
 * returned.  0, or cb's return.
 */
typedef int (*lb_netns_cb)(void *arg, __u64 netns_cookie, const struct socklb_netns *n);
int lb_maps_for_each_netns(const struct lb_maps *maps, lb_netns_cb cb, void *arg);
/* Puts the agent's injector socket in inject_socks (its writes are redirected). */
int lb_maps_set_injector(const struct lb_maps *maps, int sock_fd);
/* The connection the injector's next write goes to (socklb_h2_inject). */
int lb_maps_set_inject_target(const struct lb_maps *maps, __u64 cookie);
/* Drops a namespace that is gone (no process, no connection left); -errno. */
int lb_maps_forget_netns(const struct lb_maps *maps, __u64 cookie);
/* The other nodes' connections on backend id, as least-conn adds them (cluster view). */
int lb_maps_set_extra(const struct lb_maps *maps, __u32 id, __u32 extra);
int lb_maps_read_extra(const struct lb_maps *maps, __u32 id, __u32 *extra);

/* One data path event count (enum socklb_dp_event), summed over CPUs. */
int lb_maps_read_dp_event(const struct lb_maps *maps, __u32 event, __u64 *sum);
/* Every data path event count, summed over CPUs. */
int lb_maps_read_dp_stats(const struct lb_maps *maps, __u64 out[SOCKLB_DP_EVENTS]);

/* The GOAWAY follower's event counts (enum socklb_h2_event), summed over CPUs. */
int lb_maps_read_h2_stats(const struct lb_maps *maps, __u64 out[SOCKLB_H2_EVENTS]);
/*
 * Asks for the balanced connection with this socket cookie to be moved: a
 * GOAWAY if it is followed h2c, else destroyed when idle; destroyed anyway
 * once force_after_ns (CLOCK_MONOTONIC, as bpf_ktime_get_ns) has passed.
 * The rebalancer acts on it at its next tick and then deletes it; a closed
 * connection's request goes with it.  For policies that pick connections.
 */
int lb_maps_request_move(const struct lb_maps *maps, __u64 cookie, __u32 reason,
			 __u64 force_after_ns);
/* Where the follower stands in a connection (tests, status); -ENOENT: not followed. */
int lb_maps_read_h2_follow(const struct lb_maps *maps, __u64 cookie, struct socklb_h2_follow *out);

/* Stamps fresh maps with SOCKLB_LAYOUT_VERSION. */
int lb_maps_write_layout(const struct lb_maps *maps);
/* The layout version in the pinned layout map at path; -ENOENT if there is none. */
int lb_maps_pinned_layout(const char *path, __u32 *version);

#endif
