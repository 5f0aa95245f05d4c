/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Walks the HTTP/2 frame headers in one received skb of a followed
 * connection (the server's stream, in order), carrying over a header cut
 * between two skbs, so that the follower knows every frame boundary: where
 * the next frame starts, whether the skb starts or ends at one, and where a
 * server PING ACK (17 bytes) sits that a GOAWAY could replace.
 */
#ifndef SOCKLB_BPF_H2_FRAMES_H
#define SOCKLB_BPF_H2_FRAMES_H

#include "lib/counters.h"
#include "lib/skb_edit.h"

#define H2_HDR_LEN 9
#define H2_TYPE_SETTINGS 4
#define H2_TYPE_PING 6
#define H2_FLAG_ACK 1
#define H2_MAX_SETTINGS_LEN 16384
/* A 64 KiB skb holds at most 7282 empty frames. */
#define H2_MAX_HDRS_PER_SKB 8192
/* Settings checked in the server's first frame (the rest may be in a later skb). */
#define H2_SETTINGS_CHECKED 16

static __always_inline bool seq_before(__u32 a, __u32 b)
{
	return (__s32)(a - b) < 0;
}

enum walk_stop {
	WALK_GOING = 0,
	WALK_DONE = 1,	/* every header of the skb read */
	WALK_FAILED = 2 /* cannot read the skb, or not h2c: stop following */
};

struct walk {
	struct __sk_buff *skb;
	struct socklb_h2_follow *f;
	__u32 seq;	   /* sequence number of the skb's byte 0 */
	__u32 end;	   /* and after its last */
	__u32 frames;	   /* headers completed in this skb */
	__u32 first_inner; /* offset of the first frame start inside the skb; 0: none */
	__u32 ping_off;	   /* 1 + offset of a PING ACK wholly in the skb; 0: none */
	bool starts_frame; /* the skb starts with a frame header */
	bool ends_frame;   /* and ends with the end of a frame */
	int stop;	   /* enum walk_stop */
};

static __always_inline bool known_setting(__u16 id)
{
	/* RFC 9113 1-6, RFC 8441 8, RFC 9218 9, gRPC C-core 0xfe03 and 0xfe04 */
	return (id >= 1 && id <= 6) || id == 8 || id == 9 || id == 0xfe03 || id == 0xfe04;
}

static __always_inline __u32 h2_stream_id(const __u8 *h)
{
	return ((__u32)(h[5] & 0x7f) << 24) | ((__u32)h[6] << 16) | ((__u32)h[7] << 8) | h[8];
}

/* The settings ids in the skb at off (a SETTINGS frame's header) are all known ones. */
static __always_inline bool settings_known(struct walk *w, __u32 off, __u32 len)
{
	for (__u32 k = 0; k < H2_SETTINGS_CHECKED && k < len / 6; k++) {
		__u32 pos = off + H2_HDR_LEN + 6 * k;
		__u8 id[2];

		if (pos + 2 > w->skb->len || bpf_skb_load_bytes(w->skb, pos, id, 2))
			break; /* in a later skb: unchecked */
		if (!known_setting(((__u16)id[0] << 8) | id[1]))
			return false;
	}
	return true;
}

/*
 * The server's first frame says what the connection speaks: an HTTP/2
 * server starts with SETTINGS on stream 0 (RFC 9113 3.4); TLS, HTTP/1 or
 * anything else does not, and is never touched.
 */
static __always_inline void classify(struct walk *w, const __u8 *h, __u32 len, __u32 off)
{
	bool ok = h[3] == H2_TYPE_SETTINGS && h2_stream_id(h) == 0 &&
		  ((h[4] == 0 && len % 6 == 0 && len <= H2_MAX_SETTINGS_LEN) ||
		   (h[4] == H2_FLAG_ACK && len == 0));

	if (ok && h[4] == 0)
		ok = settings_known(w, off, len);
	w->f->mode = ok ? SOCKLB_H2_FOLLOW : SOCKLB_H2_NOT_H2C;
	count_h2(ok ? SOCKLB_H2_SEEN_H2C : SOCKLB_H2_SEEN_OTHER);
}

static __always_inline bool ping_ack(const __u8 *h, __u32 len)
{
	return h[3] == H2_TYPE_PING && h[4] == H2_FLAG_ACK && len == 8 && h2_stream_id(h) == 0 &&
	       !(h[5] & 0x80);
}

/*
 * The next header into h, from the skb or partly from the bytes the last
 * skb ended with.  false: the skb ends inside it (kept in f->hdr) or fails.
 */
static __always_inline bool read_header(struct walk *w, __u32 off, __u32 avail, __u8 *h)
{
	struct socklb_h2_follow *f = w->f;
	__u32 have = f->have;

	if (have == 0 && avail >= H2_HDR_LEN) {
		if (bpf_skb_load_bytes(w->skb, off, h, H2_HDR_LEN)) {
			w->stop = WALK_FAILED;
			return false;
		}
		return true;
	}
	for (__u32 j = 0; j < H2_HDR_LEN; j++) {
		if (j < have)
			h[j] = f->hdr[j];
		else if (j - have < avail && bpf_skb_load_bytes(w->skb, off + (j - have), &h[j], 1))
			w->stop = WALK_FAILED;
	}
	if (w->stop)
		return false;
	if (avail < H2_HDR_LEN - have) {
		__builtin_memcpy(f->hdr, h, H2_HDR_LEN);
		f->have = have + avail;
		w->stop = WALK_DONE;
		return false;
	}
	return true;
}

static long walk_cb(__u32 i __attribute__((unused)), void *data)
{
	struct walk *w = data;
	struct socklb_h2_follow *f = w->f;
	__u32 p, off, len;
	__u8 h[H2_HDR_LEN] = {};

	if (f->have >= H2_HDR_LEN) {
		w->stop = WALK_FAILED;
		return 1;
	}
	p = f->next_hdr + f->have; /* the next header byte not yet seen */
	if (!seq_before(p, w->end) || seq_before(p, w->seq)) {
		w->stop = seq_before(p, w->seq) ? WALK_FAILED : WALK_DONE;
		return 1;
	}
	off = p - w->seq;
	if (f->have == 0 && off > 0 && !w->first_inner)
		w->first_inner = off;
	if (!read_header(w, off, w->end - p, h))
		return 1;
	len = ((__u32)h[0] << 16) | ((__u32)h[1] << 8) | h[2];
	if (f->have == 0 && !w->ping_off && ping_ack(h, len) &&
	    off + SKB_EDIT_LEN <= w->end - w->seq)
		w->ping_off = off + 1;
	if (f->mode == SOCKLB_H2_NEW) {
		classify(w, h, len, off);
		if (f->mode != SOCKLB_H2_FOLLOW) {
			w->stop = WALK_FAILED;
			return 1;
		}
	}
	f->next_hdr += H2_HDR_LEN + len;
	f->have = 0;
	w->frames++;
	return 0;
}

/* Walks every header of the skb: WALK_DONE, or WALK_FAILED (stop following). */
static __always_inline int walk_frames(struct walk *w)
{
	bpf_loop(H2_MAX_HDRS_PER_SKB, walk_cb, w, 0);
	return w->stop == WALK_DONE ? WALK_DONE : WALK_FAILED;
}

#endif
