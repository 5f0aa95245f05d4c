// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Ends balanced connections that the agent wants moved.
 *
 * socklb_find_work walks socklb's socket-local storage (every balanced
 * connection of the node, whatever its namespace) and reports the network
 * namespaces that hold a connection to end, with a process to enter each.
 * socklb_end_connections then runs inside each such namespace (an iterator
 * sees the sockets of the namespace it is created in) and ends them with
 * the bpf_sock_destroy kfunc (kernel >= 6.5, iterators only).
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
#include "lib/end_policy.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define TCP_ESTABLISHED 1

int bpf_sock_destroy(struct sock_common *sk) __ksym;

/*
 * Idle: nothing sent and unacknowledged, nothing unread, no data either way
 * for the idle quiet time, and data has arrived since this side last sent
 * any (so no request is waiting for its response).  The last test compares
 * sequence numbers, not times: a request sent in the same jiffy as the
 * answer before it is still a request outstanding.
 */
static __always_inline bool tcp_idle(struct tcp_sock *tp, const struct socklb_sock *s)
{
	__u32 now = (__u32)bpf_jiffies64();
	__u32 quiet = ns_to_jiffies(socklb_cfg.idle_quiet_ns);
	__u32 last_sent = tp->lsndtime;
	__u32 last_recv = tp->inet_conn.icsk_ack.lrcvtime;

	if (tp->snd_una != tp->snd_nxt || tp->rcv_nxt != tp->copied_seq)
		return false;
	if ((__s32)(now - last_sent) < (__s32)quiet || (__s32)(now - last_recv) < (__s32)quiet)
		return false;
	return !s->sent_data || tp->rcv_nxt != s->rcv_nxt_at_send;
}

/* Ends the socket if idle or due; returns true if it was ended. */
static __always_inline bool try_end(struct sock_common *skc, struct tcp_sock *tp,
				    const struct socklb_sock *s, const struct end_wish *w)
{
	bool idle = tcp_idle(tp, s);

	if (!idle && bpf_ktime_get_ns() < w->force_after_ns) {
		count_busy(w->reason);
		return false;
	}
	if (bpf_sock_destroy(skc))
		return false;
	count_end(w->reason, s->backend_id, !idle);
	return true;
}

SEC("iter/tcp")
int socklb_end_connections(struct bpf_iter__tcp *ctx)
{
	struct sock_common *skc = ctx->sk_common;
	struct end_wish wish;
	struct socklb_sock *s;
	struct tcp_sock *tp;

	if (!skc || skc->skc_state != TCP_ESTABLISHED)
		return 0;
	tp = bpf_skc_to_tcp_sock(skc);
	if (!tp)
		return 0;
	s = bpf_sk_storage_get(&sock_state, tp, 0, 0);
	if (!s || !end_wanted(s, &wish))
		return 0;
	if (!try_end(skc, tp, s, &wish))
		return 0;
	if (wish.budget && wish.budget->budget > 0)
		wish.budget->budget--; /* one iterator runs at a time: the agent is one thread */
	else if (!wish.budget)
		bpf_map_delete_elem(&move_requests,
				    &s->cookie); /* done; nothing if it was max age */
	return 0;
}

SEC("iter/bpf_sk_storage_map")
int socklb_find_work(struct bpf_iter__bpf_sk_storage_map *ctx)
{
	struct socklb_sock *s = ctx->value;
	struct socklb_work_record rec;
	struct end_wish wish;

	if (!s || !ctx->sk || !end_wanted(s, &wish))
		return 0;
	rec.netns_cookie = s->netns_cookie;
	rec.pid = s->pid;
	rec.backend_id = s->backend_id;
	bpf_seq_write(ctx->meta->seq, &rec, sizeof(rec));
	return 0;
}
