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
 *   handoff        per CPU, (cookie + probe) & 63 -> the connect hook's choice, taken
 *                                                 over by sockops when the SYN leaves
 *   end_budgets    backend id (array index)    -> connections the agent wants ended
 *   backend_extra  backend id (array index)    -> connections other nodes hold on it
 *                                                 (cluster view, projected by the plan),
 *                                                 or the time-fair steering of a
 *                                                 SOCKLB_SERVICE_STEERED service
 *   end_stats      end reason (array index)    -> connections ended, per reason
 *   dp_stats       per CPU, reason             -> data path events and refusals
 *   h2_socks       socket cookie               -> the socket (SOCKHASH): balanced
 *                                                 connections whose HTTP/2 frames
 *                                                 the GOAWAY follower reads
 *   h2_follow      socket cookie               -> where the follower stands in the
 *                                                 server's frames; a pending GOAWAY
 *   move_requests  socket cookie               -> a request to move that one
 *                                                 connection (reason, force time)
 *   h2_stats       per CPU, event              -> the follower's events
 *   netns_conns    network namespace cookie    -> its balanced connections and a
 *                                                 process to enter it by; kept only
 *                                                 where the kernel has no
 *                                                 map-element iterators
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
 * layout without a `layout` map (an LRU `sockets` map); 2 had no GOAWAY
 * counters (end_stats.goaway, backend_stats.ended_goaway and draining); 3
 * had no netns_conns map.
 */
#define SOCKLB_LAYOUT_VERSION 4

/* Default map sizes; all can be changed at load time. */
#define SOCKLB_DEFAULT_MAX_SERVICES 65536
#define SOCKLB_DEFAULT_MAX_BACKENDS 262144
/* Connections the GOAWAY follower reads at once; more are moved by destroy. */
#define SOCKLB_DEFAULT_MAX_FOLLOWED 65536
/* Network namespaces (pods of one node) netns_conns keeps. */
#define SOCKLB_MAX_NETNS 8192

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
	/* 1: followed h2c connections are moved with a GOAWAY (--graceful=on) */
	__u32 graceful;
	/* 1: sockops keeps netns_conns (the kernel has no map-element iterators) */
	__u32 netns_registry;
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
	__u32 flags;	     /* SOCKLB_SERVICE_* */
	/* The whole set when backend_count <= SOCKLB_INLINE_BACKENDS. */
	__u32 backend_ids[SOCKLB_INLINE_BACKENDS];
};

/*
 * Least-conn adds backend_extra to each backend's load for this service: the
 * agent's time-fair steering (where the next connection should go), read
 * only for services that have it, so others pay nothing.
 */
#define SOCKLB_SERVICE_STEERED 1u

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

/* least-conn reads live + connecting: first, together. */
struct socklb_backend_stats {
	__u64 live;		/* established connections */
	__u64 connecting;	/* SYN sent, not yet established */
	__u64 connects;		/* balanced connections whose SYN went to this backend */
	__u64 connect_failures; /* closed before they were established */
	__u64 closes;		/* established connections that closed */
	__u64 ended_graceful;	/* ended by socklb while idle */
	__u64 ended_forced;	/* ended by socklb after the drain deadline */
	__u64 ended_goaway;	/* sent a GOAWAY by socklb (then closed by the client) */
	__u64 draining;		/* sent a GOAWAY, not closed yet (not in live) */
};

enum socklb_sock_phase {
	SOCKLB_SOCK_CONNECTING = 1,  /* counted in connecting */
	SOCKLB_SOCK_ESTABLISHED = 2, /* counted in live */
	SOCKLB_SOCK_CLOSED = 3,	     /* counted out: nothing is ever subtracted twice */
	/*
	 * Sent a GOAWAY: its client opens no new stream on it and closes it
	 * once its calls are done.  Counted out of live at once (new load goes
	 * elsewhere), so the rebalancer never picks it twice.
	 */
	SOCKLB_SOCK_DRAINING = 4,
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
	/*
	 * tgid of the connecting process, read in the hook: sockops may call
	 * bpf_get_current_pid_tgid only from Linux 6.10 on.
	 */
	__u32 pid;
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
	__u8 sent_data;	    /* 1 once this side has sent data */
	__u8 netns_counted; /* 1: counted in netns_conns (taken off once, at close) */
	__u16 reserved;
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
	SOCKLB_DP_UNREGISTERED_NETNS = 5, /* netns_conns full: its namespace not recorded */
	SOCKLB_DP_EVENTS = 6,
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
 * The names status and metrics give the reasons, in enum order.  The
 * time-fair rotation's moves count as imbalance (over time); the agent
 * counts them itself too (socklb_time_fair_moves_total).
 */
#define SOCKLB_END_REASON_NAMES                                                                    \
	{                                                                                          \
		"removed", "imbalance", "max_age"                                                  \
	}

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

/*
 * Connections ended, per reason (array index = enum socklb_end_reason), per
 * mechanism: destroyed while idle (graceful), destroyed when due (forced),
 * or sent a GOAWAY; a GOAWAY's connection destroyed later counts again in
 * goaway_then_*, never in graceful or forced.
 */
struct socklb_end_stats {
	__u64 graceful;
	__u64 forced;
	__u64 busy_skipped;	/* wanted, but busy and not yet due for force */
	__u64 goaway;		/* a GOAWAY was asked for (followed h2c connections) */
	__u64 goaway_delivered; /* ... and is in the client's receive stream */
	/* ... but no server data came to carry it, and the connection went idle */
	__u64 goaway_then_idle;
	__u64 goaway_then_forced; /* ... but the connection was still open when due */
};

/*
 * A request to move one connection (move_requests, keyed by socket cookie):
 * ended like a budgeted one (GOAWAY if followed h2c, else idle-first
 * destroy), destroyed anyway after force_after_ns (bpf_ktime_get_ns clock;
 * 0: the drain deadline from when it is acted on).  Deleted once acted on.
 */
struct socklb_move_request {
	__u32 reason; /* enum socklb_end_reason */
	__u32 reserved;
	__u64 force_after_ns;
};

/*
 * The GOAWAY follower's view of one connection (h2_follow, by cookie): it
 * reads the 9-byte HTTP/2 frame headers of everything the server sends, so
 * it always knows where the next frame starts, and can put a GOAWAY there.
 */
enum socklb_h2_mode {
	SOCKLB_H2_NEW = 0,     /* nothing received yet: the first frame must be SETTINGS */
	SOCKLB_H2_FOLLOW = 1,  /* h2c: frame boundaries known */
	SOCKLB_H2_NOT_H2C = 2, /* the server spoke something else (TLS, HTTP/1): left alone */
	SOCKLB_H2_LOST = 3,    /* a hole in the stream or a failed edit: boundaries unknown */
	SOCKLB_H2_DEBT = 4,    /* GOAWAY added 17 bytes: the next server PING ACK is cut */
	SOCKLB_H2_DONE = 5,    /* GOAWAY in the stream, nothing owed */
};

enum socklb_goaway_state {
	SOCKLB_GOAWAY_NONE = 0,
	SOCKLB_GOAWAY_PENDING = 1,   /* asked for: goes into the next server skb */
	SOCKLB_GOAWAY_DELIVERED = 2, /* in the client's receive stream */
};

/*
 * A pending GOAWAY for a connection with no server data coming (idle, at a
 * frame boundary) is not left waiting for a server skb: the agent injects
 * it into the client's receive queue (an sk_msg redirect from its injector
 * socket, bpf/goaway.bpf.c).  h2_follow.inject, changed by compare-and-swap
 * so that exactly one of the injection and an skb arriving meanwhile (which
 * then carries the GOAWAY as usual) delivers it.
 */
enum socklb_inject_state {
	SOCKLB_INJECT_NONE = 0,
	SOCKLB_INJECT_WANTED = 1, /* the ender asked the agent to inject */
	SOCKLB_INJECT_SENT = 2,	  /* the injector's redirect took it */
};

/* GOAWAY, stream 0, last-stream-id 2^31-1 (every stream may finish), NO_ERROR. */
#define SOCKLB_GOAWAY_FRAME_LEN 17
#define SOCKLB_GOAWAY_FRAME                                                                        \
	{                                                                                          \
		0x00, 0x00, 0x08, 0x07, 0x00, 0x00, 0x00, 0x00, 0x00, 0x7f, 0xff, 0xff, 0xff,      \
		    0x00, 0x00, 0x00, 0x00                                                         \
	}

struct socklb_h2_follow {
	__u32 expect;	/* sequence number of the next server byte not yet seen */
	__u32 next_hdr; /* sequence number of the next frame header's first byte */
	__u8 hdr[9];	/* the part of a frame header the last skb ended in */
	__u8 have;	/* bytes of it in hdr */
	__u8 mode;	/* enum socklb_h2_mode */
	__u8 goaway;	/* enum socklb_goaway_state */
	__u32 reason;	/* enum socklb_end_reason of the pending GOAWAY */
	__u32 backend_id;
	__u64 goaway_ns;      /* when the GOAWAY was asked for */
	__u64 force_after_ns; /* destroyed if still open then */
	__u64 delivered_ns;
	__u64 inject;	      /* enum socklb_inject_state (64 bits: compare-and-swap) */
	__u64 inject_sent_ns; /* when the injector's redirect took it */
	__u32 inject_unclean; /* 1: a part-frame skb came as the injection was queued; 2: counted */
	__u32 reserved;
};

/* The follower's event counts (h2_stats, per CPU). */
enum socklb_h2_event {
	SOCKLB_H2_FOLLOWED = 0,	     /* balanced connections put in h2_socks */
	SOCKLB_H2_FOLLOW_FAILED = 1, /* could not be (map full) */
	SOCKLB_H2_SEEN_H2C = 2,	     /* the server's first frame was SETTINGS */
	SOCKLB_H2_SEEN_OTHER = 3,    /* it was not */
	SOCKLB_H2_LOST_TRACK = 4,    /* boundaries lost (hole, edit failure) */
	SOCKLB_H2_OVERLAPS = 5,	     /* retransmitted bytes cut off an skb */
	SOCKLB_H2_AT_SWAP = 6,	     /* GOAWAY written over a server PING ACK */
	SOCKLB_H2_AT_HEAD = 7,	     /* ... put before an skb starting with a frame */
	SOCKLB_H2_AT_TAIL = 8,	     /* ... put after an skb ending with a frame */
	SOCKLB_H2_AT_INTERIOR = 9,   /* ... put at a frame start inside an skb */
	SOCKLB_H2_PAYBACKS = 10,     /* a PING ACK cut to give the 17 bytes back */
	SOCKLB_H2_EDIT_FAILED = 11,  /* an skb could not be edited (retried) */
	SOCKLB_H2_AT_INJECT = 12,    /* ... injected into an idle connection by the agent */
	SOCKLB_H2_INJECT_RACED = 13, /* ... within 1 ms of a part frame: order unknown */
	SOCKLB_H2_EVENTS = 14,
};

/* What the connections iterator (pinned as <pin path>/connections) reports. */
struct socklb_conn_record {
	struct socklb_sock sock;
	__u32 tcp_state; /* the kernel's: 1 established, 7 closed, ... */
	/* The kernel's own counts of the connection, the loads time-fair weighs. */
	__u32 data_segs_in;
	__u32 data_segs_out;
	__u32 reserved;
	__u64 bytes_received;
	__u64 bytes_acked;
};

/*
 * What the rebalancer's finder iterator reports: a network namespace that
 * holds a connection to end, and a process through which to enter it.
 */
/*
 * What the ender (iter/tcp) writes: a connection with work (an end wanted
 * or pending, for the agent without a finder), or one to inject a GOAWAY
 * into (every agent).
 */
enum socklb_end_record_kind {
	SOCKLB_END_REC_WORK = 0,
	SOCKLB_END_REC_INJECT = 1,
	SOCKLB_END_REC_WAITING = 2, /* a GOAWAY pending, no moment at rest yet: look again soon */
};

struct socklb_end_record {
	__u64 cookie;
	__u32 kind; /* enum socklb_end_record_kind */
	__u32 reserved;
};

struct socklb_work_record {
	__u64 netns_cookie;
	__u32 pid;
	__u32 backend_id;
};

/*
 * A network namespace holding balanced connections (netns_conns), for the
 * agent that cannot list them all in one walk: it enters only these.
 */
struct socklb_netns {
	__u32 pid; /* the last process that connected from it: a way in */
	__u32 reserved;
	__s64 conns; /* balanced connections in it, connecting to closed */
};

/* Connections socklb moved off a backend, whatever the mechanism. */
static inline __u64 socklb_backend_ended(const struct socklb_backend_stats *st)
{
	return st->ended_graceful + st->ended_forced + st->ended_goaway;
}

static inline __u32 socklb_slot(__u32 half, __u32 index)
{
	return (half << SOCKLB_SLOT_HALF_SHIFT) | index;
}

#endif /* SOCKLB_H */
