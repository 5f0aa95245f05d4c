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
 * iterators) and a restarted agent (--persist) find the same maps there.
 * max_entries here are the defaults; the agent resizes them before load.
 * Nothing grows with connections but sock_state, which lives with each
 * socket; hash maps are not preallocated, so services and large-service
 * slots cost memory only for what is used.
 */
struct {
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} layout SEC(".maps");

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

/*
 * A balanced connection's state, attached to its socket: created when its
 * SYN leaves, freed by the kernel with the socket, never evicted, so a live
 * count is given back exactly once whatever the number of connections.
 */
struct {
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct socklb_sock);
} sock_state SEC(".maps");

/*
 * From the connect hook to sockops, within one connect() call: creating
 * socket-local storage would cost the hook about 500 ns (allocations), a
 * per-CPU slot by cookie a few; sockops creates the storage when the SYN
 * leaves.  Per CPU, so that concurrent connects on other CPUs never reuse a
 * slot still in flight.
 */
struct {
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SOCKLB_HANDOFF_SLOTS);
	__type(key, __u32);
	__type(value, struct socklb_handoff);
} handoff SEC(".maps");

/* Written by the agent, spent by the rebalance iterator (rebalance.bpf.c). */
struct {
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SOCKLB_DEFAULT_MAX_BACKENDS);
	__type(key, __u32);
	__type(value, struct socklb_end_budget);
} end_budgets SEC(".maps");

/*
 * Written by the agent only, from the cluster view: the connections the other
 * nodes hold on each backend, after the moves the cluster plan gives them.
 * A node's maps count only its own connections; least-conn adds these so a
 * connect goes where the cluster, not the node, is lightest.  Nothing here is
 * state: an agent rebuilds it from the API, so one adopting the pins of an
 * older agent without this map creates it.
 */
struct {
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SOCKLB_DEFAULT_MAX_BACKENDS);
	__type(key, __u32);
	__type(value, __u32);
} backend_extra SEC(".maps");

struct {
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SOCKLB_END_REASONS);
	__type(key, __u32);
	__type(value, struct socklb_end_stats);
} end_stats SEC(".maps");

/* Per CPU, so that the hot paths never share a counter's cache line. */
struct {
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SOCKLB_DP_EVENTS);
	__type(key, __u32);
	__type(value, __u64);
} dp_stats SEC(".maps");

/*
 * The balanced connections the GOAWAY follower reads (bpf/goaway.bpf.c, its
 * stream verdict program is attached to this map and to no other): put in
 * by sockops when the connection is established, out by the kernel when the
 * socket closes.  Only the client's receive path goes through the verdict;
 * its sends are untouched (no sk_msg program here).
 */
struct {
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__uint(type, BPF_MAP_TYPE_SOCKHASH);
	__uint(max_entries, SOCKLB_DEFAULT_MAX_FOLLOWED);
	__type(key, __u64);
	__type(value, __u64);
} h2_socks SEC(".maps");

/*
 * Where the follower stands in each followed connection's server stream.
 * A hash by cookie, not socket storage: the stream verdict program cannot
 * reach socket storage.  Deleted by sockops when the socket closes.
 */
struct {
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, SOCKLB_DEFAULT_MAX_FOLLOWED);
	__type(key, __u64);
	__type(value, struct socklb_h2_follow);
} h2_follow SEC(".maps");

/*
 * The agent's injector socket ([0]) and the connection its next write goes
 * to, by cookie: the sk_msg program of inject_socks redirects the write
 * into that socket's receive queue (bpf/goaway.bpf.c).
 */
struct {
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__uint(type, BPF_MAP_TYPE_SOCKMAP);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} inject_socks SEC(".maps");

struct {
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} inject_target SEC(".maps");

/* Namespaces with balanced connections, by netns cookie (lib/netns_registry.h). */
struct {
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SOCKLB_MAX_NETNS);
	__type(key, __u64);
	__type(value, struct socklb_netns);
} netns_conns SEC(".maps");

/* One connection to move, by cookie (lb_maps_request_move); see socklb.h. */
struct {
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, SOCKLB_DEFAULT_MAX_FOLLOWED);
	__type(key, __u64);
	__type(value, struct socklb_move_request);
} move_requests SEC(".maps");

struct {
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SOCKLB_H2_EVENTS);
	__type(key, __u32);
	__type(value, __u64);
} h2_stats SEC(".maps");

#endif
