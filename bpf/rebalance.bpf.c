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
static __always_inline bool tcp_quiet(struct tcp_sock *tp, __u64 quiet_ns)
{
	__u32 now = (__u32)bpf_jiffies64();
	__u32 quiet = ns_to_jiffies(quiet_ns);
	__u32 last_sent = tp->lsndtime;
	__u32 last_recv = tp->inet_conn.icsk_ack.lrcvtime;

	return (__s32)(now - last_sent) >= (__s32)quiet && (__s32)(now - last_recv) >= (__s32)quiet;
}

static __always_inline bool tcp_idle(struct tcp_sock *tp, const struct socklb_sock *s)
{
	if (tp->snd_una != tp->snd_nxt || tp->rcv_nxt != tp->copied_seq ||
	    !tcp_quiet(tp, socklb_cfg.idle_quiet_ns))
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
 * A record for the agent: a connection found with work (an end wanted or
 * pending: the same set as socklb_find_work, for the agent that has no
 * finder, on a kernel without map-element iterators, to know whether to
 * come back next tick), or one to inject a GOAWAY into.
 */
static __always_inline void end_record(struct seq_file *seq, __u64 cookie, __u32 kind)
{
	struct socklb_end_record rec = {.cookie = cookie, .kind = kind};

	bpf_seq_write(seq, &rec, sizeof(rec));
}

/* Quiet enough for an injection: not streaming (3 jiffies at 250 Hz), shorter than --idle-quiet. */
#define AT_REST_QUIET_NS (10 * 1000 * 1000ULL)

/*
 * Every server byte received has been seen by the follower and the last
 * one ends a frame, and nothing moved either way for the idle quiet time:
 * a GOAWAY queued now stands between two frames, and server data is not
 * streaming in.  A request may still wait for its answer (a WINDOW_UPDATE
 * looks like one): the answer starts with a frame, after the GOAWAY, or
 * carries the GOAWAY itself if it comes first (the compare-and-swap on
 * inject).
 */
static __always_inline bool at_rest(struct tcp_sock *tp, const struct socklb_h2_follow *f)
{
	return f->mode == SOCKLB_H2_FOLLOW && f->have == 0 && f->next_hdr == f->expect &&
	       f->expect == tp->rcv_nxt && tcp_quiet(tp, AT_REST_QUIET_NS);
}

/*
 * A pending GOAWAY that no server skb will carry soon: the agent injects
 * it (bpf/goaway.bpf.c, socklb_h2_inject).  Under the socket lock, as the
 * verdict runs, so nothing moves between the test and the request.
 */
static __always_inline void want_injection(struct seq_file *seq, struct tcp_sock *tp,
					   const struct socklb_sock *s, struct socklb_h2_follow *f)
{
	if (f->goaway != SOCKLB_GOAWAY_PENDING)
		return;
	if (!at_rest(tp, f)) {
		end_record(seq, s->cookie, SOCKLB_END_REC_WAITING);
		return;
	}
	f->inject_unclean = 0;
	f->inject = SOCKLB_INJECT_WANTED;
	end_record(seq, s->cookie, SOCKLB_END_REC_INJECT);
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
static __always_inline bool try_end(struct seq_file *seq, struct sock_common *skc,
				    struct tcp_sock *tp, struct socklb_sock *s,
				    const struct end_wish *w)
{
	struct socklb_h2_follow *f = h2_follow_of(s->cookie);
	bool idle;

	if (h2_can_goaway(f)) {
		ask_goaway(s, f, w);
		want_injection(seq, tp, s, f);
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
 * A GOAWAY's connection still open: injected into once at rest, destroyed
 * once due, or once idle if neither server data nor the injector carried
 * the GOAWAY.
 */
static __always_inline void follow_up(struct seq_file *seq, struct sock_common *skc,
				      struct tcp_sock *tp, const struct socklb_sock *s)
{
	struct socklb_h2_follow *f = h2_follow_of(s->cookie);
	__u64 now = bpf_ktime_get_ns();
	bool due;

	if (!f)
		return;
	/*
	 * A part frame came just as the GOAWAY was injected, order unknown:
	 * counted once.  Not destroyed: the client has read it by now, and a
	 * stream it found broken fails its calls either way, while a reset
	 * would fail them when the order was right.
	 */
	if (f->inject_unclean == 1) {
		f->inject_unclean = 2;
		count_h2(SOCKLB_H2_INJECT_RACED);
	}
	due = now >= f->force_after_ns;
	if (!due)
		want_injection(seq, tp, s, f);
	if (!due && (f->goaway != SOCKLB_GOAWAY_PENDING ||
		     now - f->goaway_ns < GOAWAY_IDLE_WAIT_NS || !tcp_idle(tp, s)))
		return;
	if (!bpf_sock_destroy(skc))
		count_goaway_destroyed(f->reason, due);
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
		end_record(ctx->meta->seq, s->cookie, SOCKLB_END_REC_WORK);
		follow_up(ctx->meta->seq, skc, tp, s);
		return 0;
	}
	if (!end_wanted(s, &wish))
		return 0;
	end_record(ctx->meta->seq, s->cookie, SOCKLB_END_REC_WORK);
	if (!try_end(ctx->meta->seq, skc, tp, s, &wish))
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
