// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Ends balanced connections that the agent wants moved, with the
 * bpf_sock_destroy kfunc (kernel >= 6.5, iterators only).  An iterator sees
 * the sockets of the network namespace it is created in, so the agent runs
 * this one inside every namespace that holds balanced connections.
 *
 * A connection is ended gracefully only while it looks idle: a gRPC call in
 * flight on a destroyed socket fails with UNAVAILABLE, while an idle
 * connection loses nothing (the client reconnects on its next call).  After
 * the agent's drain deadline it is ended anyway ("forced").
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#include "lib/config.h"
#include "lib/counters.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define TCP_ESTABLISHED 1

int bpf_sock_destroy(struct sock_common *sk) __ksym;

/*
 * Idle: nothing sent and unacknowledged, nothing unread, no data either way
 * for the idle quiet time, and the last data received came after the last data sent
 * (so no request is waiting for its response).
 */
static __always_inline bool tcp_idle(struct tcp_sock *tp)
{
	__u32 now = (__u32)bpf_jiffies64();
	__u32 quiet = ns_to_jiffies(socklb_cfg.idle_quiet_ns);
	__u32 last_sent = tp->lsndtime;
	__u32 last_recv = tp->inet_conn.icsk_ack.lrcvtime;

	if (tp->snd_una != tp->snd_nxt || tp->rcv_nxt != tp->copied_seq)
		return false;
	if ((__s32)(now - last_sent) < (__s32)quiet || (__s32)(now - last_recv) < (__s32)quiet)
		return false;
	return (__s32)(last_recv - last_sent) >= 0;
}

/* Max age with +-10% jitter per connection, from its cookie, as gRPC's MaxConnectionAge. */
static __always_inline __u64 age_limit_ns(__u64 cookie)
{
	__u64 max_age_ns = socklb_cfg.max_age_ns;
	__u64 spread = max_age_ns / 5; /* 20% wide: -10% .. +10% */
	__u64 hash = cookie * 0x9E3779B97F4A7C15ULL;

	return max_age_ns - max_age_ns / 10 + (spread ? (hash >> 32) % spread : 0);
}

/* Ends the socket if idle or due; returns true if it was ended. */
static __always_inline bool try_end(struct sock_common *skc, struct tcp_sock *tp, __u32 reason,
				    __u32 backend_id, __u64 force_after_ns)
{
	bool idle = tcp_idle(tp);

	if (!idle && bpf_ktime_get_ns() < force_after_ns) {
		count_busy(reason);
		return false;
	}
	if (bpf_sock_destroy(skc))
		return false;
	count_end(reason, backend_id, !idle);
	return true;
}

SEC("iter/tcp")
int socklb_end_connections(struct bpf_iter__tcp *ctx)
{
	struct sock_common *skc = ctx->sk_common;
	struct socklb_end_budget *budget;
	struct socklb_socket *s;
	struct tcp_sock *tp;
	__u64 cookie, age;
	__u32 id;

	if (!skc || skc->skc_state != TCP_ESTABLISHED)
		return 0;
	cookie = bpf_get_socket_cookie(skc);
	s = bpf_map_lookup_elem(&sockets, &cookie);
	tp = bpf_skc_to_tcp_sock(skc);
	if (!s || !tp || s->state != SOCKLB_SOCK_ESTABLISHED)
		return 0;
	id = s->backend_id;
	budget = bpf_map_lookup_elem(&end_budgets, &id);
	if (budget && budget->budget > 0) {
		if (try_end(skc, tp, budget->reason, id, budget->force_after_ns))
			budget->budget--;
		return 0;
	}
	if (socklb_cfg.max_age_ns == 0)
		return 0;
	age = bpf_ktime_get_ns() - s->established_ns;
	if (age >= age_limit_ns(cookie))
		try_end(skc, tp, SOCKLB_END_MAX_AGE, id,
			s->established_ns + age_limit_ns(cookie) + socklb_cfg.drain_deadline_ns);
	return 0;
}
