// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The GOAWAY follower: the stream verdict program of h2_socks, the map
 * sockops puts every balanced connection in.  It reads the HTTP/2 frame
 * headers of everything the server sends (lib/h2_frames.h), so that when
 * the rebalancer asks for a GOAWAY (h2_follow.goaway, set by
 * rebalance.bpf.c) it goes into the client's stream between two server
 * frames, never inside one.  The client then opens no new stream on the
 * connection, lets the calls on it finish, and closes it: a move without a
 * failed call.
 *
 * Where the 17 bytes go, best first: over a server PING ACK (17 bytes too,
 * so the stream keeps its length; waited for SWAP_WAIT_NS), else at a
 * frame boundary of the skb (its start, its end, or a frame start inside).
 * Adding bytes leaves the socket's copied_seq 17 ahead of what TCP
 * received, so the next server PING ACK is cut to give them back (DEBT).
 * The verdict is always SK_PASS (or SK_DROP for an skb left empty).
 *
 * A connection with no server data coming gets it from the agent instead:
 * the ender saw it idle at a frame boundary and asked (inject WANTED); the
 * agent writes the 17 bytes on its injector socket and socklb_h2_inject
 * redirects them into the client's receive queue, which leaves copied_seq
 * alone (nothing owed).  An skb arriving first takes the GOAWAY itself.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#include "lib/counters.h"
#include "lib/skb_edit.h"
#include "lib/h2_frames.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

extern void *bpf_cast_to_kern_ctx(void *obj) __ksym;

/* How long a pending GOAWAY waits for a PING ACK to replace before it is inserted. */
#define SWAP_WAIT_NS (20 * 1000 * 1000ULL)

static const __u8 goaway_frame[SKB_EDIT_LEN] = SOCKLB_GOAWAY_FRAME;
_Static_assert(SKB_EDIT_LEN == SOCKLB_GOAWAY_FRAME_LEN, "the GOAWAY is what an edit moves");

/*
 * How long after the injector's redirect took a GOAWAY an skb that is not
 * whole frames may have been queued before it: the redirect takes the
 * client socket's lock right after the program returns, so this is a few
 * microseconds (1 ms leaves room for the agent's thread to be preempted).
 */
#define INJECT_RACE_NS (1000 * 1000ULL)

/* The TCP sequence number of the skb's first byte. */
static __always_inline __u32 skb_seq(struct __sk_buff *skb)
{
	struct sk_buff *kskb = bpf_cast_to_kern_ctx(skb);
	__u32 seq = 0;

	bpf_probe_read_kernel(&seq, sizeof(seq), &((struct tcp_skb_cb *)kskb->cb)->seq);
	return seq;
}

static __always_inline bool reading(const struct socklb_h2_follow *f)
{
	return f->mode == SOCKLB_H2_NEW || f->mode == SOCKLB_H2_FOLLOW || f->mode == SOCKLB_H2_DEBT;
}

static __always_inline void lose_track(struct socklb_h2_follow *f)
{
	f->mode = SOCKLB_H2_LOST;
	count_h2(SOCKLB_H2_LOST_TRACK);
}

enum take { TAKE_WALK, TAKE_PASS, TAKE_DROP };

/*
 * Lines the skb up with what was seen: an in-order skb may start before
 * (a retransmission overlapping rcv_nxt is queued whole and handed over
 * whole), so the part already delivered is cut off; a hole loses the
 * frame boundaries for good.
 */
static __always_inline enum take take_new_bytes(struct __sk_buff *skb, struct socklb_h2_follow *f,
						__u32 *seq)
{
	__u32 len = skb->len;

	if (seq_before(*seq, f->expect)) {
		__u32 overlap = f->expect - *seq;

		count_h2(SOCKLB_H2_OVERLAPS);
		/*
		 * Nothing new: emptied and dropped (tcp_eat_skb skips an
		 * empty skb, so copied_seq stays right; an empty skb passed
		 * on would fail the client's recvmsg with EFAULT).
		 */
		if (overlap >= len)
			return skb_trim_head(skb, len) ? TAKE_PASS : TAKE_DROP;
		if (skb_trim_head(skb, overlap)) {
			lose_track(f);
			return TAKE_PASS;
		}
		*seq += overlap;
		len -= overlap;
	} else if (*seq != f->expect) {
		lose_track(f);
		f->expect = *seq + len;
		return TAKE_PASS;
	}
	f->expect = *seq + len;
	return TAKE_WALK;
}

/*
 * An added GOAWAY is owed back: the first server PING ACK wholly in an skb
 * is cut.  A lone PING ACK leaves an empty skb: dropped (see take_new_bytes).
 */
static __always_inline int pay_back(struct __sk_buff *skb, struct socklb_h2_follow *f,
				    const struct walk *w)
{
	int ret;

	if (!w->ping_off)
		return SK_PASS;
	ret = skb_cut_at(skb, w->ping_off - 1);
	if (ret) {
		count_h2(SOCKLB_H2_EDIT_FAILED);
		if (ret == SKB_EDIT_BROKEN)
			lose_track(f);
		return SK_PASS;
	}
	f->mode = SOCKLB_H2_DONE;
	count_h2(SOCKLB_H2_PAYBACKS);
	return skb->len ? SK_PASS : SK_DROP;
}

/*
 * Puts the GOAWAY at a frame boundary of the skb; which one (enum
 * socklb_h2_event AT_*), or 0 if there is none or the edit failed.
 */
static __always_inline __u32 put_goaway(struct __sk_buff *skb, struct socklb_h2_follow *f,
					const struct walk *w, __u32 len, bool swap_only)
{
	int ret;

	if (w->ping_off &&
	    !bpf_skb_store_bytes(skb, (w->ping_off - 1) & 0xffff, goaway_frame, SKB_EDIT_LEN, 0))
		return SOCKLB_H2_AT_SWAP;
	if (swap_only)
		return 0;
	if (w->starts_frame && !skb_insert_head(skb, goaway_frame))
		return SOCKLB_H2_AT_HEAD;
	if (w->ends_frame && !skb_insert_tail(skb, len, goaway_frame))
		return SOCKLB_H2_AT_TAIL;
	if (w->first_inner) {
		ret = skb_insert_at(skb, w->first_inner, goaway_frame);
		if (!ret)
			return SOCKLB_H2_AT_INTERIOR;
		if (ret == SKB_EDIT_BROKEN) {
			lose_track(f); /* the skb is half edited: nothing more goes into it */
			return 0;
		}
	}
	if (w->ends_frame && len <= SKB_EDIT_MAX_OFF) {
		ret = skb_insert_at(skb, len, goaway_frame);
		if (!ret)
			return SOCKLB_H2_AT_TAIL;
		if (ret == SKB_EDIT_BROKEN) {
			lose_track(f);
			return 0;
		}
	}
	count_h2(SOCKLB_H2_EDIT_FAILED);
	return 0;
}

/*
 * An injection asked for: the first of this skb and the injector to change
 * f->inject delivers the GOAWAY.  Returns true if the skb may carry it.
 */
static __always_inline bool injection_withdrawn(struct socklb_h2_follow *f)
{
	return f->inject != SOCKLB_INJECT_WANTED ||
	       __sync_val_compare_and_swap(&f->inject, SOCKLB_INJECT_WANTED, SOCKLB_INJECT_NONE) ==
		   SOCKLB_INJECT_WANTED;
}

/*
 * Just injected: an skb that is not whole frames may have been queued
 * ahead of the GOAWAY, which then stands inside a frame; the ender counts
 * such a connection (INJECT_RACED).
 */
static __always_inline void note_inject_race(struct socklb_h2_follow *f, const struct walk *w)
{
	if (f->inject != SOCKLB_INJECT_SENT)
		return;
	if (bpf_ktime_get_ns() - f->inject_sent_ns >= INJECT_RACE_NS)
		f->mode = SOCKLB_H2_DONE; /* past the race: nothing more to read */
	else if (!(w->starts_frame && w->ends_frame))
		f->inject_unclean = 1;
}

static __always_inline void deliver(struct __sk_buff *skb, struct socklb_h2_follow *f,
				    const struct walk *w, __u32 len)
{
	__u64 now = bpf_ktime_get_ns();
	__u32 where;

	if (!injection_withdrawn(f))
		return; /* the injector took it first */
	where = put_goaway(skb, f, w, len, now - f->goaway_ns < SWAP_WAIT_NS);

	if (!where)
		return;
	f->goaway = SOCKLB_GOAWAY_DELIVERED;
	f->delivered_ns = now;
	if (f->mode == SOCKLB_H2_FOLLOW)
		f->mode = where == SOCKLB_H2_AT_SWAP ? SOCKLB_H2_DONE : SOCKLB_H2_DEBT;
	count_h2(where);
	count_goaway_delivered(f->reason);
}

SEC("sk_skb/stream_verdict")
int socklb_h2_verdict(struct __sk_buff *skb)
{
	__u64 cookie = bpf_get_socket_cookie(skb);
	struct socklb_h2_follow *f = bpf_map_lookup_elem(&h2_follow, &cookie);
	struct walk w = {.skb = skb, .f = f};
	__u32 seq, len;

	if (!f || !skb->len || !reading(f))
		return SK_PASS;
	seq = skb_seq(skb);
	switch (take_new_bytes(skb, f, &seq)) {
	case TAKE_PASS:
		return SK_PASS;
	case TAKE_DROP:
		return SK_DROP;
	case TAKE_WALK:
		break;
	}
	len = skb->len;
	w.seq = seq;
	w.end = seq + len;
	w.starts_frame = f->have == 0 && f->next_hdr == seq;
	if (walk_frames(&w) != WALK_DONE) {
		if (f->mode != SOCKLB_H2_NOT_H2C)
			lose_track(f);
		return SK_PASS;
	}
	w.ends_frame = f->have == 0 && f->next_hdr == w.end;
	note_inject_race(f, &w);
	if (f->mode == SOCKLB_H2_DEBT)
		return pay_back(skb, f, &w);
	if (f->mode == SOCKLB_H2_FOLLOW && f->goaway == SOCKLB_GOAWAY_PENDING)
		deliver(skb, f, &w, len);
	return SK_PASS;
}

/*
 * The agent's injector socket writes a GOAWAY for the connection named in
 * inject_target: redirected into that socket's receive queue, if the ender's
 * request still stands (an skb may have carried the GOAWAY meanwhile);
 * anything else written is dropped.
 */
SEC("sk_msg")
int socklb_h2_inject(struct sk_msg_md *msg)
{
	__u32 zero = 0;
	__u64 *target = bpf_map_lookup_elem(&inject_target, &zero);
	struct socklb_h2_follow *f;
	__u64 cookie;

	if (!target || !*target || msg->size != SOCKLB_GOAWAY_FRAME_LEN)
		return SK_DROP;
	cookie = *target;
	f = bpf_map_lookup_elem(&h2_follow, &cookie);
	if (!f || f->goaway != SOCKLB_GOAWAY_PENDING ||
	    __sync_val_compare_and_swap(&f->inject, SOCKLB_INJECT_WANTED, SOCKLB_INJECT_SENT) !=
		SOCKLB_INJECT_WANTED)
		return SK_DROP;
	if (bpf_msg_redirect_hash(msg, &h2_socks, &cookie, BPF_F_INGRESS) != SK_PASS) {
		f->inject = SOCKLB_INJECT_NONE; /* not in h2_socks any more: nothing sent */
		return SK_DROP;
	}
	/*
	 * Into the receive queue, not the stream: nothing owed.  The follower
	 * keeps reading through the race window (note_inject_race).
	 */
	f->inject_sent_ns = bpf_ktime_get_ns();
	f->goaway = SOCKLB_GOAWAY_DELIVERED;
	f->delivered_ns = f->inject_sent_ns;
	count_h2(SOCKLB_H2_AT_INJECT);
	count_goaway_delivered(f->reason);
	return SK_PASS;
}
