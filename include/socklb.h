/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The types shared by the BPF programs and user space: map keys, map values
 * and the limits both sides agree on.  One definition each.
 *
 * Map layout (all pinned under the pin path, default /sys/fs/bpf/socklb):
 *
 *   services       (VIP, port, proto, family)  -> service id, backend count,
 *                                                 active half of the slots
 *   backend_slots  (service id, slot)          -> backend id
 *   backends       backend id (array index)    -> pod address, port, service
 *   backend_stats  backend id (array index)    -> live/connecting counts and
 *                                                 connect/close counters
 *   sockets        socket cookie (LRU)         -> the balanced connection
 *   end_budgets    backend id (array index)    -> connections the agent wants ended
 *   end_stats      end reason (array index)    -> connections ended, per reason
 *
 * Maps are pinned by name (LIBBPF_PIN_BY_NAME) under the pin path, so every
 * BPF object that declares them (bpf/lib/maps.h) shares the same ones.
 *
 * A service's backends live in one of two halves of its slot space.  User
 * space writes a new set into the inactive half and then switches the
 * service entry to it with one map update, so a concurrent connect sees
 * either the whole old set or the whole new set, never a mix.
 */
#ifndef SOCKLB_H
#define SOCKLB_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define SOCKLB_DEFAULT_PIN_PATH "/sys/fs/bpf/socklb"

/* Default map sizes; all can be changed at load time. */
#define SOCKLB_DEFAULT_MAX_SERVICES 65536
#define SOCKLB_DEFAULT_MAX_BACKENDS 262144
#define SOCKLB_DEFAULT_MAX_SOCKETS 262144

/* Slot numbers: bit 16 selects the half, the low 16 bits index the set. */
#define SOCKLB_SLOT_HALF_SHIFT 16
#define SOCKLB_MAX_BACKENDS_PER_SERVICE 65535

/*
 * Least-conn looks at every backend of services up to this size (exact
 * balance) and at two random ones above it (power of two choices, O(1)).
 */
#define SOCKLB_EXACT_SCAN_MAX 16

/* Backend id 0 is never handed out, so a zeroed slot is recognisably empty. */
#define SOCKLB_BACKEND_ID_NONE 0

enum socklb_policy {
	SOCKLB_POLICY_LEAST_CONN = 0,
	SOCKLB_POLICY_RANDOM = 1,
};

/*
 * Every load-time setting of socklb's BPF programs, in one place: read-only
 * data (bpf/lib/config.h) that the agent fills in before loading each
 * object, so the verifier sees constants.
 */
struct socklb_config {
	__u32 policy; /* enum socklb_policy */
	__u32 reserved;
	__u64 idle_quiet_ns;	 /* no data either way for this long: idle */
	__u64 max_age_ns;	 /* 0: no max age */
	__u64 drain_deadline_ns; /* a connection to move is ended anyway after this */
};

/* Address in network byte order; IPv4 uses ip4 and leaves the rest zero. */
union socklb_addr {
	__u32 ip4;
	__u32 ip6[4];
	__u8 bytes[16];
};

struct socklb_service_key {
	union socklb_addr vip;
	__u16 port;  /* network byte order */
	__u8 proto;  /* IPPROTO_TCP */
	__u8 family; /* AF_INET or AF_INET6 */
};

struct socklb_service {
	__u32 service_id;
	__u32 backend_count; /* in the active half; 0 rejects connects */
	__u32 active_half;   /* 0 or 1 */
	__u32 flags;	     /* reserved */
};

struct socklb_slot_key {
	__u32 service_id;
	__u32 slot; /* (half << SOCKLB_SLOT_HALF_SHIFT) | index */
};

struct socklb_backend {
	union socklb_addr addr;
	__u16 port; /* network byte order */
	__u8 family;
	__u8 pad;
	__u32 service_id;
};

struct socklb_backend_stats {
	__u64 live;		/* established connections */
	__u64 connecting;	/* SYN sent, not yet established */
	__u64 connects;		/* connect() calls sent to this backend */
	__u64 connect_failures; /* closed before they were established */
	__u64 closes;		/* established connections that closed */
	__u64 ended_graceful;	/* ended by socklb while idle */
	__u64 ended_forced;	/* ended by socklb after the drain deadline */
};

struct socklb_socket {
	union socklb_addr vip; /* what getpeername shows the app */
	__u16 vip_port;	       /* network byte order */
	__u8 vip_family;
	__u8 state; /* enum socklb_socket_state */
	__u32 service_id;
	__u32 backend_id;
	__u32 pid; /* tgid of the process that connected */
	__u64 netns_cookie;
	__u64 connect_ns;     /* CLOCK_MONOTONIC (bpf_ktime_get_ns) at connect */
	__u64 established_ns; /* 0 until established */
};

/*
 * Why socklb ended a connection.  The agent asks through a per-backend
 * budget (removed backend, imbalance); max age is judged per connection.
 */
enum socklb_end_reason {
	SOCKLB_END_REMOVED = 0,	  /* its backend left the service */
	SOCKLB_END_IMBALANCE = 1, /* its backend had more than its fair share */
	SOCKLB_END_MAX_AGE = 2,	  /* older than --max-age (with jitter) */
	SOCKLB_END_REASONS = 3,
};

/*
 * The agent's request to end connections of one backend (array index =
 * backend id): up to budget of them, idle ones first; any, idle or not,
 * once force_after_ns (bpf_ktime_get_ns clock) has passed.
 */
struct socklb_end_budget {
	__u32 budget;
	__u32 reason; /* enum socklb_end_reason */
	__u64 force_after_ns;
};

/* Connections ended, per reason (array index = enum socklb_end_reason). */
struct socklb_end_stats {
	__u64 graceful;
	__u64 forced;
	__u64 busy_skipped; /* wanted, but busy and not yet due for force */
};

enum socklb_socket_state {
	SOCKLB_SOCK_CHOSEN = 0, /* backend chosen, SYN not sent yet */
	SOCKLB_SOCK_CONNECTING = 1,
	SOCKLB_SOCK_ESTABLISHED = 2,
};

static inline __u32 socklb_slot(__u32 half, __u32 index)
{
	return (half << SOCKLB_SLOT_HALF_SHIFT) | index;
}

#endif /* SOCKLB_H */
