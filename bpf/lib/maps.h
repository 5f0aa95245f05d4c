/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The maps every socklb program shares; layout documented in socklb.h.  This
 * is the one list of them: user space walks the loaded object's maps rather
 * than naming them again.
 */
#ifndef SOCKLB_BPF_MAPS_H
#define SOCKLB_BPF_MAPS_H

#include "socklb.h"

/*
 * Pinned by name under the agent's pin path: a second object (the rebalance
 * iterator) and a restarted agent (--persist) find the same maps there.
 * max_entries here are the defaults; the agent resizes every map before
 * load.  Hash maps are not preallocated so that the default sizes (64k
 * services, 256k backends) cost memory only for what is used.
 */
struct {
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, SOCKLB_DEFAULT_MAX_SERVICES);
	__type(key, struct socklb_service_key);
	__type(value, struct socklb_service);
} services SEC(".maps");

struct {
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 2 * SOCKLB_DEFAULT_MAX_BACKENDS);
	__type(key, struct socklb_slot_key);
	__type(value, __u32);
} backend_slots SEC(".maps");

struct {
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SOCKLB_DEFAULT_MAX_BACKENDS);
	__type(key, __u32);
	__type(value, struct socklb_backend);
} backends SEC(".maps");

struct {
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SOCKLB_DEFAULT_MAX_BACKENDS);
	__type(key, __u32);
	__type(value, struct socklb_backend_stats);
} backend_stats SEC(".maps");

struct {
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, SOCKLB_DEFAULT_MAX_SOCKETS);
	__type(key, __u64);
	__type(value, struct socklb_socket);
} sockets SEC(".maps");

/* Written by the agent, spent by the rebalance iterator (rebalance.bpf.c). */
struct {
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SOCKLB_DEFAULT_MAX_BACKENDS);
	__type(key, __u32);
	__type(value, struct socklb_end_budget);
} end_budgets SEC(".maps");

struct {
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SOCKLB_END_REASONS);
	__type(key, __u32);
	__type(value, struct socklb_end_stats);
} end_stats SEC(".maps");

#endif
