/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The state of one balanced connection (the sockets map, keyed by socket
 * cookie) and its transitions: chosen at connect, connecting once the SYN
 * leaves, established, closed.  Each transition moves the backend's live
 * and connecting counts, so least-conn sees every connection exactly once.
 */
#ifndef SOCKLB_BPF_SOCK_STATE_H
#define SOCKLB_BPF_SOCK_STATE_H

#include "lib/counters.h"

#define ENOMEM 12

/* Records the connection just balanced; -ENOMEM if the map refused it. */
static __always_inline int sock_state_create(struct bpf_sock_addr *ctx,
					     const struct socklb_service_key *key, __u32 service_id,
					     __u32 backend_id)
{
	__u64 cookie = bpf_get_socket_cookie(ctx);
	struct socklb_socket entry = {
	    .vip = key->vip,
	    .vip_port = key->port,
	    .vip_family = key->family,
	    .state = SOCKLB_SOCK_CHOSEN,
	    .service_id = service_id,
	    .backend_id = backend_id,
	    .pid = bpf_get_current_pid_tgid() >> 32,
	    .netns_cookie = bpf_get_netns_cookie(ctx),
	    .connect_ns = bpf_ktime_get_ns(),
	};

	return bpf_map_update_elem(&sockets, &cookie, &entry, BPF_ANY) ? -ENOMEM : 0;
}

/* The balanced connection behind ctx's socket, or NULL for any other socket. */
static __always_inline struct socklb_socket *sock_state_of(void *ctx)
{
	__u64 cookie = bpf_get_socket_cookie(ctx);

	return bpf_map_lookup_elem(&sockets, &cookie);
}

/* The SYN is about to leave: the connection now weighs on its backend. */
static __always_inline bool sock_state_connecting(struct socklb_socket *s)
{
	struct socklb_backend_stats *st = backend_stats_of(s->backend_id);

	if (s->state != SOCKLB_SOCK_CHOSEN)
		return false;
	s->state = SOCKLB_SOCK_CONNECTING;
	if (st)
		__sync_fetch_and_add(&st->connecting, 1);
	return true;
}

static __always_inline void sock_state_established(struct socklb_socket *s)
{
	struct socklb_backend_stats *st = backend_stats_of(s->backend_id);

	if (s->state != SOCKLB_SOCK_CONNECTING)
		return;
	s->state = SOCKLB_SOCK_ESTABLISHED;
	s->established_ns = bpf_ktime_get_ns();
	note_activity();
	if (st) {
		__sync_fetch_and_sub(&st->connecting, 1);
		__sync_fetch_and_add(&st->live, 1);
	}
}

/* Closed (established) or failed (connecting): the counts let go of it. */
static __always_inline void sock_state_closed(struct socklb_socket *s, void *ctx)
{
	struct socklb_backend_stats *st = backend_stats_of(s->backend_id);
	__u64 cookie = bpf_get_socket_cookie(ctx);

	if (st && s->state == SOCKLB_SOCK_ESTABLISHED) {
		__sync_fetch_and_sub(&st->live, 1);
		__sync_fetch_and_add(&st->closes, 1);
	} else if (st && s->state == SOCKLB_SOCK_CONNECTING) {
		__sync_fetch_and_sub(&st->connecting, 1);
		__sync_fetch_and_add(&st->connect_failures, 1);
	}
	bpf_map_delete_elem(&sockets, &cookie);
	note_activity();
}

#endif
