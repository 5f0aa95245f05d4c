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

/* GOAWAY, stream 0, last-stream-id 2^31-1 (every stream may finish), NO_ERROR. */
static const __u8 goaway_frame[SKB_EDIT_LEN] = {
    0x00, 0x00, 0x08, 0x07, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x7f, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00,
};

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

static __always_inline void deliver(struct __sk_buff *skb, struct socklb_h2_follow *f,
				    const struct walk *w, __u32 len)
{
	__u64 now = bpf_ktime_get_ns();
	__u32 where = put_goaway(skb, f, w, len, now - f->goaway_ns < SWAP_WAIT_NS);

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
	if (f->mode == SOCKLB_H2_DEBT)
		return pay_back(skb, f, &w);
	if (f->mode == SOCKLB_H2_FOLLOW && f->goaway == SOCKLB_GOAWAY_PENDING)
		deliver(skb, f, &w, len);
	return SK_PASS;
}
