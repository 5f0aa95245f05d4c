/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The state of one balanced connection and its transitions.  The connect
 * hook writes its choice into a per-CPU handoff slot and marks the socket
 * (sockops callback flags), and the choice weighs on its backend from then
 * on (connecting); when the SYN leaves (sockops, still inside the same
 * connect() call) it moves into socket-local storage: connecting, then
 * live, then closed.  Each transition moves the backend's counts once, and the phase
 * makes sure nothing is ever subtracted twice.
 */
#ifndef SOCKLB_BPF_SOCK_STATE_H
#define SOCKLB_BPF_SOCK_STATE_H

#include "lib/config.h"
#include "lib/counters.h"
#include "lib/errno.h"
#include "lib/netns_registry.h"

#define SOL_TCP 6

/*
 * The mark of a socket socklb balanced, a set of sockops callbacks another
 * program is unlikely to ask for all of: state changes (to see the close),
 * the header-option callback of every segment sent (to see when this side
 * last sent data, for the idle test; no option is ever written), and RTO
 * (rare, ignored).  sockops tells every other socket by this alone, without
 * a lookup.
 */
#define SOCKLB_SOCK_MARK                                                                           \
	(BPF_SOCK_OPS_STATE_CB_FLAG | BPF_SOCK_OPS_RTO_CB_FLAG | BPF_SOCK_OPS_WRITE_HDR_OPT_CB_FLAG)

#define SOCKLB_HANDOFF_MASK (SOCKLB_HANDOFF_SLOTS - 1)
_Static_assert((SOCKLB_HANDOFF_SLOTS & SOCKLB_HANDOFF_MASK) == 0, "a power of two");

/* A slot put this long ago without being taken was left by a connect that never sent its SYN. */
#define SOCKLB_HANDOFF_STALE_JIFFIES 2

static __always_inline struct socklb_handoff *handoff_slot(__u64 cookie, __u32 probe)
{
	__u32 index = ((__u32)cookie + probe) & SOCKLB_HANDOFF_MASK;

	return bpf_map_lookup_elem(&handoff, &index);
}

/*
 * Takes slot h, holding the choice of socket `cookie`, for the caller: of
 * a connect hook reclaiming it and a sockops taking it (the task moved to
 * another CPU), exactly one wins.
 */
static __always_inline bool handoff_claim(struct socklb_handoff *h, __u64 cookie)
{
	return cookie && __sync_val_compare_and_swap(&h->cookie, cookie, 0) == cookie;
}

/*
 * The connect hook's record of its choice, for sockops to take over, and
 * the mark that tells sockops to look: the first of the cookie's slots on
 * this CPU that is free (taken, or stale).  -ENOMEM if the choice cannot be
 * passed on, or the socket cannot be marked (the connection then goes
 * through, untracked, and the caller gives its weight back).
 */
static __always_inline int handoff_put(struct bpf_sock_addr *ctx, __u64 cookie,
				       const struct socklb_service_key *key, __u32 service_id,
				       __u32 backend_id)
{
	__u32 now = (__u32)bpf_jiffies64();
	int mark = SOCKLB_SOCK_MARK;
	struct socklb_handoff *h;
	__u64 old = 0;
	__u32 probe;

	for (probe = 0; probe < SOCKLB_HANDOFF_PROBES; probe++) {
		h = handoff_slot(cookie, probe);
		if (!h)
			continue;
		old = h->cookie;
		/* Its own slot too: a connect retried before its SYN replaces its choice. */
		if (!old || old == cookie || now - h->jiffies > SOCKLB_HANDOFF_STALE_JIFFIES)
			break;
	}
	if (probe == SOCKLB_HANDOFF_PROBES || !h)
		return -ENOMEM;
	if (handoff_claim(h, old))
		choice_weighs(h->backend_id, false); /* never taken: its connect sent no SYN */
	h->vip = key->vip;
	h->vip_port = key->port;
	h->vip_family = key->family;
	h->service_id = service_id;
	h->backend_id = backend_id;
	h->jiffies = now;
	h->pid = bpf_get_current_pid_tgid() >> 32;
	h->cookie = cookie;
	if (bpf_setsockopt(ctx, SOL_TCP, TCP_BPF_SOCK_OPS_CB_FLAGS, &mark, sizeof(mark))) {
		h->cookie = 0; /* sockops would never look for it */
		return -ENOMEM;
	}
	return 0;
}

static __always_inline bool sock_marked(const struct bpf_sock_ops *skops)
{
	return (skops->bpf_sock_ops_cb_flags & SOCKLB_SOCK_MARK) == SOCKLB_SOCK_MARK;
}

struct handoff_search {
	__u64 cookie;
	struct socklb_handoff *found;
};

static __always_inline struct socklb_handoff *handoff_on(__u64 cookie, __u32 cpu, bool this_cpu)
{
	for (__u32 probe = 0; probe < SOCKLB_HANDOFF_PROBES; probe++) {
		__u32 index = ((__u32)cookie + probe) & SOCKLB_HANDOFF_MASK;
		struct socklb_handoff *h = this_cpu
					       ? bpf_map_lookup_elem(&handoff, &index)
					       : bpf_map_lookup_percpu_elem(&handoff, &index, cpu);

		if (h && h->cookie == cookie)
			return h;
	}
	return NULL;
}

static long search_cpu(__u32 cpu, void *arg)
{
	struct handoff_search *q = arg;

	q->found = handoff_on(q->cookie, cpu, false);
	return q->found ? 1 : 0;
}

/*
 * This socket's handoff slot: on this CPU, where the connect hook almost
 * always ran; else on another (the task moved between hook and SYN).
 */
static __always_inline struct socklb_handoff *handoff_take(__u64 cookie)
{
	struct handoff_search q = {.cookie = cookie};
	struct socklb_handoff *h = handoff_on(cookie, 0, true);

	if (h)
		return h;
	bpf_loop(socklb_cfg.nr_cpus, search_cpu, &q, 0);
	return q.found;
}

/* The balanced connection behind sk, or NULL for any other socket. */
static __always_inline struct socklb_sock *sock_state_of(void *sk)
{
	return bpf_sk_storage_get(&sock_state, sk, 0, 0);
}

/*
 * The SYN of a marked socket is about to leave: the connect hook's choice
 * becomes the socket's state and the connection weighs on its backend.
 * Returns the state, or NULL (counted) if it could not be tracked.
 */
static __always_inline struct socklb_sock *sock_state_connecting(struct bpf_sock_ops *skops,
								 struct bpf_sock *sk)
{
	__u64 cookie = bpf_get_socket_cookie(skops);
	struct socklb_handoff *h = handoff_take(cookie);
	struct socklb_handoff got = {};
	struct socklb_sock *s;
	struct socklb_backend_stats *st;

	if (h)
		got = *h;
	/* Lost if a connect hook found the slot stale first (and gave its choice back). */
	if (!h || !handoff_claim(h, cookie)) {
		count_event(SOCKLB_DP_UNTRACKED_HANDOFF);
		return NULL;
	}
	s = bpf_sk_storage_get(&sock_state, sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
	if (!s) {
		choice_weighs(got.backend_id, false);
		count_event(SOCKLB_DP_UNTRACKED_STORAGE);
		return NULL;
	}
	s->vip = got.vip;
	s->vip_port = got.vip_port;
	s->vip_family = got.vip_family;
	s->service_id = got.service_id;
	s->backend_id = got.backend_id;
	s->pid = got.pid;
	/* Still in the connecting task, inside its connect(): its namespace. */
	s->netns_cookie = bpf_get_netns_cookie(skops);
	s->cookie = cookie;
	s->phase = SOCKLB_SOCK_CONNECTING;
	s->connect_ns = bpf_ktime_get_ns();
	s->established_ns = 0;
	s->sent_data = 0;
	s->netns_counted = 0;
	netns_joined(s);
	st = backend_stats_of(s->backend_id);
	if (st)
		__sync_fetch_and_add(&st->connects, 1); /* connecting since the hook */
	note_activity();
	return s;
}

/*
 * A marked socket closed before its SYN left (the connect failed after the
 * hook): its choice, if still in its slot, is given back now.
 */
static __always_inline void sock_state_abandoned(struct bpf_sock_ops *skops)
{
	__u64 cookie = bpf_get_socket_cookie(skops);
	struct socklb_handoff *h = handoff_take(cookie);

	if (h && handoff_claim(h, cookie))
		choice_weighs(h->backend_id, false);
}

static __always_inline void sock_state_established(struct socklb_sock *s)
{
	struct socklb_backend_stats *st;

	if (s->phase != SOCKLB_SOCK_CONNECTING)
		return;
	st = backend_stats_of(s->backend_id);
	s->phase = SOCKLB_SOCK_ESTABLISHED;
	s->established_ns = bpf_ktime_get_ns();
	note_activity();
	/* live first: a connect hook reading in between counts it twice, never not at all. */
	if (st) {
		__sync_fetch_and_add(&st->live, 1);
		__sync_fetch_and_sub(&st->connecting, 1);
	}
}

/*
 * A segment with data is about to leave (HDR_OPT_LEN_CB; len: its payload):
 * remember how far the other side's data had come, for the idle test.
 */
static __always_inline void sock_state_sending(struct socklb_sock *s, __u32 len, __u32 rcv_nxt)
{
	if (!len)
		return; /* a bare ACK says nothing about requests */
	s->rcv_nxt_at_send = rcv_nxt;
	s->sent_data = 1;
}

/*
 * No longer established (closing or closed), or failed (connecting): the
 * counts let go of it, once.
 */
static __always_inline void sock_state_closed(struct socklb_sock *s)
{
	struct socklb_backend_stats *st;
	__u8 was = s->phase;

	if (was != SOCKLB_SOCK_CONNECTING && was != SOCKLB_SOCK_ESTABLISHED &&
	    was != SOCKLB_SOCK_DRAINING)
		return;
	st = backend_stats_of(s->backend_id);
	s->phase = SOCKLB_SOCK_CLOSED;
	netns_left(s);
	note_activity();
	if (!st)
		return;
	if (was == SOCKLB_SOCK_DRAINING) {
		__sync_fetch_and_sub(&st->draining, 1); /* out of live since its GOAWAY */
		__sync_fetch_and_add(&st->closes, 1);
	} else if (was == SOCKLB_SOCK_ESTABLISHED) {
		__sync_fetch_and_sub(&st->live, 1);
		__sync_fetch_and_add(&st->closes, 1);
	} else {
		__sync_fetch_and_sub(&st->connecting, 1);
		__sync_fetch_and_add(&st->connect_failures, 1);
	}
}

/*
 * Sent a GOAWAY: its client moves away, so it weighs on its backend no more
 * (least-conn and the rebalancer see the load to come, not the calls still
 * finishing); it closes as draining, counted once.
 */
static __always_inline void sock_state_draining(struct socklb_sock *s)
{
	struct socklb_backend_stats *st;

	if (s->phase != SOCKLB_SOCK_ESTABLISHED)
		return;
	st = backend_stats_of(s->backend_id);
	s->phase = SOCKLB_SOCK_DRAINING;
	note_activity();
	if (st) {
		__sync_fetch_and_sub(&st->live, 1);
		__sync_fetch_and_add(&st->draining, 1);
	}
}

#endif
