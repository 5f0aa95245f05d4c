/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Reading and writing socklb's maps from user space: backend entries, the
 * atomic switch of a service to a new backend set, and opening the pinned
 * maps by name (for status and tests).
 */
#ifndef SOCKLB_LB_MAPS_H
#define SOCKLB_LB_MAPS_H

#include <stddef.h>
#include "endpoint.h"

struct lb_maps {
	int services;
	int backend_slots;
	int backends;
	int backend_stats;
	int sockets;
	int end_budgets;
	int end_stats;
};

#define LB_MAP_COUNT 7
extern const char *const lb_map_names[LB_MAP_COUNT];

/* The fd of the map named lb_map_names[i]. */
int lb_maps_fd(const struct lb_maps *maps, size_t i);

/* Where a service's slots stand: which half is live and how full each is. */
struct lb_service_slots {
	__u32 service_id;
	__u32 active_half;
	__u32 half_count[2];
};

void lb_service_slots_init(struct lb_service_slots *slots, __u32 service_id);

/* Writes a backend's address and zeroes its counters (a fresh id only). */
int lb_maps_write_backend(const struct lb_maps *maps, __u32 id, const struct endpoint *ep,
			  __u32 service_id);
/*
 * Makes ids[0..n) the service's backend set: fills the inactive half of its
 * slots, then switches the service entry to it with one update, so a
 * concurrent connect sees the old set or the new one, never a mix.
 */
int lb_maps_publish(const struct lb_maps *maps, const struct endpoint *vip,
		    struct lb_service_slots *slots, const __u32 *ids, size_t n);
/* Deletes the service entry, then its slots. */
int lb_maps_remove_service(const struct lb_maps *maps, const struct endpoint *vip,
			   struct lb_service_slots *slots);
int lb_maps_read_stats(const struct lb_maps *maps, __u32 id, struct socklb_backend_stats *out);

int lb_maps_open_pinned(const char *pin_path, struct lb_maps *maps, char *err, size_t errlen);
void lb_maps_close(struct lb_maps *maps);

#endif
