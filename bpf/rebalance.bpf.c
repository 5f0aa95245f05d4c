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
 * A followed h2c connection (bpf/goaway.bpf.c) is sent a GOAWAY instead:
 * its client lets its calls finish and closes it, idle or busy; destroyed
 * only if it has not closed when due.  Any other connection is destroyed
 * only while it looks idle: a gRPC call in flight on a destroyed socket
 * fails with UNAVAILABLE, while an idle connection loses nothing (the
 * client reconnects on its next call).  After the agent's drain deadline it
 * is ended anyway ("forced").
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#include "lib/config.h"
#include "lib/counters.h"
#include "lib/end_policy.h"
#include "lib/h2_follow.h"
#include "lib/sock_state.h"

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

/*
 * An undelivered GOAWAY waits this long for server data to carry it; a
 * connection that is idle by then is idle for real and is destroyed
 * instead (an idle one loses nothing).  A client calling at least once a
 * second always gets its GOAWAY.
 */
#define GOAWAY_IDLE_WAIT_NS (1000ULL * 1000 * 1000)

static __always_inline void request_done(const struct socklb_sock *s, const struct end_wish *w)
{
	__u64 cookie = s->cookie;

	if (w->requested)
		bpf_map_delete_elem(&move_requests, &cookie);
}

/*
 * A removed backend's grace, or a request's deadline, is a promise: kept.
 * Other moves give the client the drain deadline from the GOAWAY on.
 */
static __always_inline __u64 goaway_force_after(const struct end_wish *w, __u64 now)
{
	if (w->reason == SOCKLB_END_REMOVED || w->requested)
		return w->force_after_ns;
	return now + socklb_cfg.drain_deadline_ns;
}

/*
 * Asks the follower for a GOAWAY (it goes into the next server skb, at a
 * frame boundary): the client finishes its calls and closes.  Idle or busy
 * alike: nothing fails.
 */
static __always_inline void ask_goaway(struct socklb_sock *s, struct socklb_h2_follow *f,
				       const struct end_wish *w)
{
	__u64 now = bpf_ktime_get_ns();

	f->reason = w->reason;
	f->goaway_ns = now;
	f->force_after_ns = goaway_force_after(w, now);
	/* Last: the verdict reads it (under the same socket lock). */
	f->goaway = SOCKLB_GOAWAY_PENDING;
	sock_state_draining(s);
	count_goaway(w->reason, s->backend_id);
}

/*
 * Ends the socket: a GOAWAY if it is followed h2c, else destroyed if idle
 * or due.  Returns true if it was ended.
 */
static __always_inline bool try_end(struct sock_common *skc, struct tcp_sock *tp,
				    struct socklb_sock *s, const struct end_wish *w)
{
	struct socklb_h2_follow *f = h2_follow_of(s->cookie);
	bool idle;

	if (h2_can_goaway(f)) {
		ask_goaway(s, f, w);
		request_done(s, w);
		return true;
	}
	idle = tcp_idle(tp, s);
	if (!idle && bpf_ktime_get_ns() < w->force_after_ns) {
		count_busy(w->reason);
		return false;
	}
	if (bpf_sock_destroy(skc))
		return false;
	count_end(w->reason, s->backend_id, !idle);
	request_done(s, w);
	return true;
}

/*
 * A GOAWAY's connection still open: destroyed once due, or once idle if no
 * server data came to carry the GOAWAY.
 */
static __always_inline void follow_up(struct sock_common *skc, struct tcp_sock *tp,
				      const struct socklb_sock *s)
{
	struct socklb_h2_follow *f = h2_follow_of(s->cookie);
	__u64 now = bpf_ktime_get_ns();
	bool due;

	if (!f)
		return;
	due = now >= f->force_after_ns;
	if (!due && (f->goaway != SOCKLB_GOAWAY_PENDING ||
		     now - f->goaway_ns < GOAWAY_IDLE_WAIT_NS || !tcp_idle(tp, s)))
		return;
	if (!bpf_sock_destroy(skc))
		count_goaway_destroyed(f->reason, due);
}

/*
 * One byte per connection found with work (an end wanted or pending): the
 * same set as socklb_find_work, for the agent that has no finder (a kernel
 * without map-element iterators) to know whether to come back next tick.
 */
static __always_inline void work_seen(struct seq_file *seq)
{
	__u8 one = 1;

	bpf_seq_write(seq, &one, sizeof(one));
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
	if (!s)
		return 0;
	if (end_pending(s)) {
		work_seen(ctx->meta->seq);
		follow_up(skc, tp, s);
		return 0;
	}
	if (!end_wanted(s, &wish))
		return 0;
	work_seen(ctx->meta->seq);
	if (!try_end(skc, tp, s, &wish))
		return 0;
	if (wish.budget && wish.budget->budget > 0)
		wish.budget->budget--; /* one iterator runs at a time: the agent is one thread */
	return 0;
}

SEC("iter/bpf_sk_storage_map")
int socklb_find_work(struct bpf_iter__bpf_sk_storage_map *ctx)
{
	struct socklb_sock *s = ctx->value;
	struct socklb_work_record rec;
	struct end_wish wish;

	if (!s || !ctx->sk || !(end_pending(s) || end_wanted(s, &wish)))
		return 0;
	rec.netns_cookie = s->netns_cookie;
	rec.pid = s->pid;
	rec.backend_id = s->backend_id;
	bpf_seq_write(ctx->meta->seq, &rec, sizeof(rec));
	return 0;
}
