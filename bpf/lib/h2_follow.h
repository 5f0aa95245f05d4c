/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The GOAWAY follower's life cycle around one balanced connection: sockops
 * starts following it when it is established (the server's first byte is
 * then a frame header), the rebalancer asks it for a GOAWAY, sockops
 * forgets it when the socket closes.  The reading itself is
 * bpf/goaway.bpf.c.
 */
#ifndef SOCKLB_BPF_H2_FOLLOW_H
#define SOCKLB_BPF_H2_FOLLOW_H

#include "lib/config.h"
#include "lib/counters.h"

/*
 * Established: rcv_nxt is where the server's first frame header will start.
 * Only balanced connections get here, and only with --graceful=on.
 */
static __always_inline void h2_follow_start(struct bpf_sock_ops *skops, const struct socklb_sock *s)
{
	struct socklb_h2_follow f = {};
	__u64 cookie = s->cookie;

	if (!socklb_cfg.graceful)
		return;
	f.expect = skops->rcv_nxt;
	f.next_hdr = skops->rcv_nxt;
	f.backend_id = s->backend_id;
	if (bpf_map_update_elem(&h2_follow, &cookie, &f, BPF_ANY)) {
		count_h2(SOCKLB_H2_FOLLOW_FAILED);
		return;
	}
	if (bpf_sock_hash_update(skops, &h2_socks, &cookie, BPF_NOEXIST)) {
		bpf_map_delete_elem(&h2_follow, &cookie);
		count_h2(SOCKLB_H2_FOLLOW_FAILED);
		return;
	}
	count_h2(SOCKLB_H2_FOLLOWED);
}

/*
 * Closed: what was kept by its cookie goes (the kernel takes it out of
 * h2_socks).  A move may be asked for any connection (the time-fair
 * rotation, with or without GOAWAY); a follower exists only with --graceful.
 */
static __always_inline void h2_forget(__u64 cookie)
{
	if (socklb_cfg.graceful)
		bpf_map_delete_elem(&h2_follow, &cookie);
	bpf_map_delete_elem(&move_requests, &cookie);
}

static __always_inline struct socklb_h2_follow *h2_follow_of(__u64 cookie)
{
	return bpf_map_lookup_elem(&h2_follow, &cookie);
}

/* Whether a GOAWAY can be put in this connection's stream. */
static __always_inline bool h2_can_goaway(const struct socklb_h2_follow *f)
{
	return socklb_cfg.graceful && f && f->mode == SOCKLB_H2_FOLLOW &&
	       f->goaway == SOCKLB_GOAWAY_NONE;
}

#endif
