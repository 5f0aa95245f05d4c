/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Edits of a received skb in a stream verdict program, for the GOAWAY
 * follower: put 17 bytes at an offset, cut 17 bytes at an offset, cut bytes
 * off the head.  bpf_skb_adjust_room() grows or shrinks an sk_skb only at
 * its head, so an edit inside the skb moves the bytes before it, in
 * 256-byte chunks (bpf_loop).
 */
#ifndef SOCKLB_BPF_SKB_EDIT_H
#define SOCKLB_BPF_SKB_EDIT_H

#define SKB_EDIT_CHUNK 256
#define SKB_EDIT_LEN 17 /* an HTTP/2 frame with an 8-byte payload: GOAWAY, PING */
/* bpf_skb_store_bytes takes offsets up to 0xffff */
#define SKB_EDIT_MAX_OFF 0xffff

/* Fails with this when the skb may be half edited: its content is unknown. */
#define SKB_EDIT_BROKEN (-2)

struct shift_ctx {
	struct __sk_buff *skb;
	__u32 b; /* bytes [0, b) move */
	int err;
};

/*
 * Clamps a chunk's length to 1 .. SKB_EDIT_CHUNK where the verifier sees
 * it: 64 bits wide (a u32 is tested on a zero-extended copy without alu32)
 * and behind a barrier (the compiler would fold the test into other
 * arithmetic).  false for an empty chunk.
 */
static __always_inline bool chunk_ok(__u64 *n)
{
	__u64 v = *n;

	asm volatile("" : "+r"(v));
	if (v > SKB_EDIT_CHUNK)
		v = SKB_EDIT_CHUNK;
	*n = v;
	return v > 0;
}

/* Chunk i of [SKB_EDIT_LEN, SKB_EDIT_LEN + b) moves to [0, b), front to back. */
static long shift_left_cb(__u32 i, void *data)
{
	struct shift_ctx *s = data;
	__u64 off = (__u64)i * SKB_EDIT_CHUNK, n;
	__u8 buf[SKB_EDIT_CHUNK];

	if (off >= s->b)
		return 1;
	n = s->b - off;
	if (!chunk_ok(&n))
		return 1;
	if (bpf_skb_load_bytes(s->skb, (off + SKB_EDIT_LEN) & 0x1ffff, buf, n) ||
	    bpf_skb_store_bytes(s->skb, off & 0x1ffff, buf, n, 0)) {
		s->err = -1;
		return 1;
	}
	return 0;
}

/* Chunk i of [0, b) moves SKB_EDIT_LEN bytes on, back to front. */
static long shift_right_cb(__u32 i, void *data)
{
	struct shift_ctx *s = data;
	__u8 buf[SKB_EDIT_CHUNK];
	__u64 n, src;

	if ((__u64)i * SKB_EDIT_CHUNK >= s->b)
		return 1;
	n = (__u64)s->b - (__u64)i * SKB_EDIT_CHUNK;
	n = n > SKB_EDIT_CHUNK ? SKB_EDIT_CHUNK : n;
	src = (__u64)s->b - (__u64)i * SKB_EDIT_CHUNK - n;
	if (!chunk_ok(&n))
		return 1;
	if (bpf_skb_load_bytes(s->skb, src & 0xffff, buf, n) ||
	    bpf_skb_store_bytes(s->skb, (src + SKB_EDIT_LEN) & 0x1ffff, buf, n, 0)) {
		s->err = -1;
		return 1;
	}
	return 0;
}

/*
 * Puts the SKB_EDIT_LEN bytes of what at offset b (0 < b <= len): room at
 * the head, then [0, b) moves back to the front.  0, a helper's error
 * (nothing changed), or SKB_EDIT_BROKEN.
 */
static __always_inline int skb_insert_at(struct __sk_buff *skb, __u32 b, const __u8 *what)
{
	struct shift_ctx s = {.skb = skb, .b = b};
	long ret;

	if (b == 0 || b > SKB_EDIT_MAX_OFF)
		return -1;
	ret = bpf_skb_adjust_room(skb, SKB_EDIT_LEN, 0, 0);
	if (ret)
		return (int)ret;
	/* Linear once for the whole move, not piece by piece. */
	bpf_skb_pull_data(skb, b + SKB_EDIT_LEN);
	bpf_loop((b + SKB_EDIT_CHUNK - 1) / SKB_EDIT_CHUNK, shift_left_cb, &s, 0);
	if (s.err || bpf_skb_store_bytes(skb, b & 0x1ffff, what, SKB_EDIT_LEN, 0))
		return SKB_EDIT_BROKEN;
	return 0;
}

/* Puts the bytes first: 0 or a helper's error (nothing changed). */
static __always_inline int skb_insert_head(struct __sk_buff *skb, const __u8 *what)
{
	int ret = (int)bpf_skb_adjust_room(skb, SKB_EDIT_LEN, 0, 0);

	if (ret)
		return ret;
	ret = (int)bpf_skb_store_bytes(skb, 0, what, SKB_EDIT_LEN, 0);
	if (ret)
		bpf_skb_adjust_room(skb, -SKB_EDIT_LEN, 0, 0);
	return ret;
}

/* Puts the bytes last: 0 or a helper's error (nothing changed). */
static __always_inline int skb_insert_tail(struct __sk_buff *skb, __u32 len, const __u8 *what)
{
	int ret = (int)bpf_skb_change_tail(skb, len + SKB_EDIT_LEN, 0);

	if (ret)
		return ret;
	ret = (int)bpf_skb_store_bytes(skb, len & 0x1ffff, what, SKB_EDIT_LEN, 0);
	if (ret)
		bpf_skb_change_tail(skb, len, 0);
	return ret;
}

/*
 * Cuts [b, b + SKB_EDIT_LEN): [0, b) moves on over it, then the head goes.
 * 0, -1 (nothing changed) or SKB_EDIT_BROKEN.
 */
static __always_inline int skb_cut_at(struct __sk_buff *skb, __u32 b)
{
	struct shift_ctx s = {.skb = skb, .b = b};

	if (b > SKB_EDIT_MAX_OFF)
		return -1;
	if (b) {
		bpf_skb_pull_data(skb, b + SKB_EDIT_LEN);
		bpf_loop((b + SKB_EDIT_CHUNK - 1) / SKB_EDIT_CHUNK, shift_right_cb, &s, 0);
		if (s.err)
			return SKB_EDIT_BROKEN;
	}
	return bpf_skb_adjust_room(skb, -SKB_EDIT_LEN, 0, 0) ? SKB_EDIT_BROKEN : 0;
}

/* Cuts n bytes off the head, in steps adjust_room accepts: 0 or -1. */
static __always_inline int skb_trim_head(struct __sk_buff *skb, __u32 n)
{
	for (int k = 0; k < 20 && n; k++) {
		__u32 step = n > 0xfff ? 0xfff : n;

		if (bpf_skb_adjust_room(skb, -(__s32)step, 0, 0))
			return -1;
		n -= step;
	}
	return n ? -1 : 0;
}

#endif
