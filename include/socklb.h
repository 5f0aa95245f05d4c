/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The types shared by the BPF programs and user space: map keys, map values
 * and the limits both sides agree on.  One definition each.
 *
 * Map layout (all pinned under the pin path, default /sys/fs/bpf/socklb):
 *
 *   layout         [0]                         -> SOCKLB_LAYOUT_VERSION of these maps
 *   services       (VIP, port, proto, family)  -> service id, backend count, the
 *                                                 backend ids inline (up to 16)
 *                                                 or the active half of the slots
 *   backend_slots  (service id, slot)          -> backend id (services of > 16)
 *   backends       backend id (array index)    -> pod address, port, service
 *   backend_stats  backend id (array index)    -> live/connecting counts and
 *                                                 connect/close counters
 *   sock_state     socket (socket-local)       -> the balanced connection; freed
 *                                                 with the socket by the kernel
 *   handoff        per CPU, socket cookie & 15 -> the connect hook's choice, taken
 *                                                 over by sockops when the SYN leaves
 *   end_budgets    backend id (array index)    -> connections the agent wants ended
 *   backend_extra  backend id (array index)    -> connections other nodes hold on it
 *                                                 (cluster view, projected by the plan)
 *   end_stats      end reason (array index)    -> connections ended, per reason
 *   dp_stats       per CPU, reason             -> data path events and refusals
 *
 * Maps are pinned by name (LIBBPF_PIN_BY_NAME) under the pin path, so every
 * BPF object that declares them (bpf/lib/maps.h) shares the same ones.
 *
 * A service's backend set changes atomically: a set of up to 16 backends
 * lives inside the service entry itself, replaced by one map update; a
 * larger one lives in one of two halves of its slot space, filled while
 * inactive and switched to with one update of the service entry.  Either
 * way a concurrent connect sees the whole old set or the whole new set.
 */
#ifndef SOCKLB_H
#define SOCKLB_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define SOCKLB_DEFAULT_PIN_PATH "/sys/fs/bpf/socklb"

/*
 * The version of this map layout, pinned in the `layout` map: an agent
 * refuses maps of another layout instead of misreading them.  1 was the
 * layout without a `layout` map (an LRU `sockets` map).
 */
#define SOCKLB_LAYOUT_VERSION 2

/* Default map sizes; all can be changed at load time. */
#define SOCKLB_DEFAULT_MAX_SERVICES 65536
#define SOCKLB_DEFAULT_MAX_BACKENDS 262144

/*
 * The connect hook hands its choice to sockops through this many slots per
 * CPU, indexed by socket cookie: a slot is busy only between the hook and
 * the SYN, inside one connect() call.  A connect that finds its slot busy
 * tries the next few (SOCKLB_HANDOFF_PROBES): many tasks connecting at once
 * on one CPU, each preempted in its port search, must not take each other's.
 */
#define SOCKLB_HANDOFF_SLOTS 64
#define SOCKLB_HANDOFF_PROBES 4

/* Slot numbers: bit 16 selects the half, the low 16 bits index the set. */
#define SOCKLB_SLOT_HALF_SHIFT 16
#define SOCKLB_MAX_BACKENDS_PER_SERVICE 65535

/*
 * Services of up to this many backends keep their ids in the service entry
 * (no slot lookups), and least-conn looks at every one of them (exact
 * balance); above it, two random slots (power of two choices, O(1)).
 */
#define SOCKLB_INLINE_BACKENDS 16

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
	__u32 policy;	     /* enum socklb_policy */
	__u32 nr_cpus;	     /* possible CPUs: where sockops looks for a handoff from another CPU */
	__u64 idle_quiet_ns; /* no data either way for this long: idle */
	__u64 max_age_ns;    /* 0: no max age */
	__u64 drain_deadline_ns; /* a connection to move is ended anyway after this */
	/* 1: least-conn adds backend_extra (other nodes' connections) to each load */
	__u32 cluster_view;
	__u32 reserved;
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
	__u32 backend_count; /* 0 refuses connects */
	__u32 active_half;   /* 0 or 1; only for sets in backend_slots */
	__u32 flags;	     /* reserved */
	/* The whole set when backend_count <= SOCKLB_INLINE_BACKENDS. */
	__u32 backend_ids[SOCKLB_INLINE_BACKENDS];
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

/* One cache line per backend: least-conn reads live + connecting. */
struct socklb_backend_stats {
	__u64 live;		/* established connections */
	__u64 connecting;	/* SYN sent, not yet established */
	__u64 connects;		/* balanced connections whose SYN went to this backend */
	__u64 connect_failures; /* closed before they were established */
	__u64 closes;		/* established connections that closed */
	__u64 ended_graceful;	/* ended by socklb while idle */
	__u64 ended_forced;	/* ended by socklb after the drain deadline */
	__u64 reserved;
};

enum socklb_sock_phase {
	SOCKLB_SOCK_CONNECTING = 1,  /* counted in connecting */
	SOCKLB_SOCK_ESTABLISHED = 2, /* counted in live */
	SOCKLB_SOCK_CLOSED = 3,	     /* counted out: nothing is ever subtracted twice */
};

/*
 * The connect hook's choice, in a handoff slot until sockops takes it over
 * (cookie says whose it is; 0: free).  jiffies: when it was put, so that a
 * slot left by a connect that never sent its SYN is known as stale.
 */
struct socklb_handoff {
	__u64 cookie;
	union socklb_addr vip;
	__u16 vip_port; /* network byte order */
	__u8 vip_family;
	__u8 reserved;
	__u32 service_id;
	__u32 backend_id;
	__u32 jiffies;
};

/* One balanced connection: the value of the socket-local sock_state map. */
struct socklb_sock {
	union socklb_addr vip; /* what getpeername shows the app */
	__u16 vip_port;	       /* network byte order */
	__u8 vip_family;
	__u8 phase; /* enum socklb_sock_phase */
	__u32 service_id;
	__u32 backend_id;
	__u32 pid; /* tgid of the process that connected */
	__u64 netns_cookie;
	__u64 cookie;	      /* the socket's cookie */
	__u64 connect_ns;     /* bpf_ktime_get_ns when the SYN left */
	__u64 established_ns; /* 0 until established */
	/*
	 * rcv_nxt when this side last sent data: if nothing has been received
	 * since, a request may be waiting for its answer (the idle test).
	 */
	__u32 rcv_nxt_at_send;
	__u32 sent_data; /* 1 once this side has sent data */
};

/*
 * What the data path counts besides per-backend counters (dp_stats, per
 * CPU).  Every refusal has a reason, and so has every connection that went
 * through balanced but could not be tracked.
 */
enum socklb_dp_event {
	SOCKLB_DP_ACTIVITY = 0,		  /* balanced connects, establishments, closes */
	SOCKLB_DP_REFUSED_NO_BACKEND = 1, /* a service with no backend: ECONNREFUSED */
	SOCKLB_DP_REFUSED_FAMILY = 2,	  /* backend of another family than the VIP: ECONNREFUSED */
	SOCKLB_DP_UNTRACKED_STORAGE = 3,  /* balanced, but its state could not be stored */
	SOCKLB_DP_UNTRACKED_HANDOFF = 4,  /* balanced, but its handoff slot was reused meanwhile */
	SOCKLB_DP_EVENTS = 5,
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

/* What the connections iterator (pinned as <pin path>/connections) reports. */
struct socklb_conn_record {
	struct socklb_sock sock;
	__u32 tcp_state; /* the kernel's: 1 established, 7 closed, ... */
	__u32 reserved;
};

/*
 * What the rebalancer's finder iterator reports: a network namespace that
 * holds a connection to end, and a process through which to enter it.
 */
struct socklb_work_record {
	__u64 netns_cookie;
	__u32 pid;
	__u32 backend_id;
};

static inline __u32 socklb_slot(__u32 half, __u32 index)
{
	return (half << SOCKLB_SLOT_HALF_SHIFT) | index;
}

#endif /* SOCKLB_H */
