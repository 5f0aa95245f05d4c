// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * socklb's data path: connect-time rewrite of service addresses to backends,
 * getpeername that keeps showing the service address, sockops tracking of
 * every balanced connection (the live counts least-conn chooses by), and an
 * iterator that lists the balanced connections (`socklb status`).
 *
 * The hooks are thin: a worker does the work and returns 0 or -errno, and
 * only the hook turns that into the program's verdict, counting every
 * refusal by reason.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "lib/errno.h"
#include "lib/select.h"
#include "lib/sock_state.h"
#include "lib/h2_follow.h"

#define AF_INET 2
#define AF_INET6 10

/* cgroup sock_addr verdicts */
#define SOCK_ADDR_ALLOW 1
#define SOCK_ADDR_DENY 0

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Writes addr into an IPv6 socket's address; IPv4 goes in v4-mapped. */
static __always_inline void set_user_ip6(struct bpf_sock_addr *ctx, const union socklb_addr *addr,
					 __u8 family)
{
	if (family == AF_INET) {
		ctx->user_ip6[0] = 0;
		ctx->user_ip6[1] = 0;
		ctx->user_ip6[2] = bpf_htonl(0xffff);
		ctx->user_ip6[3] = addr->ip4;
	} else {
		ctx->user_ip6[0] = addr->ip6[0];
		ctx->user_ip6[1] = addr->ip6[1];
		ctx->user_ip6[2] = addr->ip6[2];
		ctx->user_ip6[3] = addr->ip6[3];
	}
}

static __always_inline void write_dest(struct bpf_sock_addr *ctx, const struct socklb_backend *be,
				       bool v6_socket)
{
	if (v6_socket)
		set_user_ip6(ctx, &be->addr, be->family);
	else
		ctx->user_ip4 = be->addr.ip4;
	ctx->user_port = be->port;
}

/*
 * Rewrites a connect to a service into a connect to one of its backends.
 * 0: rewritten; -ENOENT: not a service, left alone; -ECONNREFUSED: a service
 * with no backend; -EAFNOSUPPORT: its backend is of another family.
 */
static __always_inline int balance(struct bpf_sock_addr *ctx, const struct socklb_service_key *key,
				   bool v6_socket)
{
	struct socklb_service *svc = bpf_map_lookup_elem(&services, key);
	struct socklb_backend *be;
	__u32 backend_id;
	__u64 cookie;

	if (!svc)
		return -ENOENT;
	/* The cookie doubles as the scan's random start: it differs on every socket. */
	cookie = bpf_get_socket_cookie(ctx);
	backend_id = choose_backend(svc, (__u32)cookie);
	if (backend_id == SOCKLB_BACKEND_ID_NONE)
		return -ECONNREFUSED;
	be = bpf_map_lookup_elem(&backends, &backend_id);
	if (!be || be->family != key->family) {
		choice_weighs(backend_id, false);
		return -EAFNOSUPPORT;
	}
	write_dest(ctx, be, v6_socket);
	/* Should the choice not reach sockops, the connection still works: counted. */
	if (handoff_put(ctx, cookie, key, svc->service_id, backend_id)) {
		choice_weighs(backend_id, false);
		count_event(SOCKLB_DP_UNTRACKED_HANDOFF);
	}
	return 0;
}

/*
 * A service with no usable backend refuses the connect at once, as a
 * Service without endpoints does under kube-proxy: the app sees
 * ECONNREFUSED, and nothing is sent to the service address.  Everything
 * else goes ahead.
 */
static __always_inline int connect_verdict(int err)
{
	if (err == 0 || err == -ENOENT)
		return SOCK_ADDR_ALLOW;
	count_event(err == -EAFNOSUPPORT ? SOCKLB_DP_REFUSED_FAMILY : SOCKLB_DP_REFUSED_NO_BACKEND);
	bpf_set_retval(-ECONNREFUSED);
	return SOCK_ADDR_DENY;
}

SEC("cgroup/connect4")
int socklb_connect4(struct bpf_sock_addr *ctx)
{
	struct socklb_service_key key = {};

	if (ctx->type != SOCK_STREAM)
		return SOCK_ADDR_ALLOW;
	key.vip.ip4 = ctx->user_ip4;
	key.port = (__u16)ctx->user_port;
	key.proto = IPPROTO_TCP;
	key.family = AF_INET;
	return connect_verdict(balance(ctx, &key, false));
}

SEC("cgroup/connect6")
int socklb_connect6(struct bpf_sock_addr *ctx)
{
	struct socklb_service_key key = {};

	if (ctx->type != SOCK_STREAM)
		return SOCK_ADDR_ALLOW;
	key.port = (__u16)ctx->user_port;
	key.proto = IPPROTO_TCP;
	if (ctx->user_ip6[0] == 0 && ctx->user_ip6[1] == 0 &&
	    ctx->user_ip6[2] == bpf_htonl(0xffff)) {
		key.vip.ip4 = ctx->user_ip6[3];
		key.family = AF_INET;
	} else {
		key.vip.ip6[0] = ctx->user_ip6[0];
		key.vip.ip6[1] = ctx->user_ip6[1];
		key.vip.ip6[2] = ctx->user_ip6[2];
		key.vip.ip6[3] = ctx->user_ip6[3];
		key.family = AF_INET6;
	}
	return connect_verdict(balance(ctx, &key, true));
}

SEC("cgroup/getpeername4")
int socklb_getpeername4(struct bpf_sock_addr *ctx)
{
	struct bpf_sock *sk = ctx->sk;
	struct socklb_sock *s = sk ? sock_state_of(sk) : NULL;

	if (s && s->vip_family == AF_INET) {
		ctx->user_ip4 = s->vip.ip4;
		ctx->user_port = s->vip_port;
	}
	return SOCK_ADDR_ALLOW;
}

SEC("cgroup/getpeername6")
int socklb_getpeername6(struct bpf_sock_addr *ctx)
{
	struct bpf_sock *sk = ctx->sk;
	struct socklb_sock *s = sk ? sock_state_of(sk) : NULL;

	if (!s)
		return SOCK_ADDR_ALLOW;
	set_user_ip6(ctx, &s->vip, s->vip_family);
	ctx->user_port = s->vip_port;
	return SOCK_ADDR_ALLOW;
}

/*
 * A marked socket's TCP state changed to `to`.  Leaving ESTABLISHED (a FIN
 * either way, or a reset) ends a live connection; a connecting one ends
 * only in CLOSE; one closed before its SYN left has no state, only a
 * choice to give back.  The arrival in ESTABLISHED is counted at
 * ACTIVE_ESTABLISHED_CB, which follows.
 */
static __always_inline void state_changed(struct bpf_sock_ops *skops, struct bpf_sock *sk, __u32 to)
{
	struct socklb_sock *s;

	if (to == BPF_TCP_ESTABLISHED)
		return;
	s = sock_state_of(sk);
	if (!s) {
		if (to == BPF_TCP_CLOSE)
			sock_state_abandoned(skops);
		return;
	}
	if (s->phase == SOCKLB_SOCK_ESTABLISHED || s->phase == SOCKLB_SOCK_DRAINING ||
	    to == BPF_TCP_CLOSE)
		sock_state_closed(s);
	if (to == BPF_TCP_CLOSE)
		h2_forget(s->cookie);
}

/*
 * Runs for every TCP socket of the cgroup, balanced or not: a socket without
 * socklb's mark is let go after one read of its callback flags.
 */
SEC("sockops")
int socklb_sockops(struct bpf_sock_ops *skops)
{
	struct bpf_sock *sk;
	struct socklb_sock *s;

	if (!sock_marked(skops))
		return 1;
	sk = skops->sk;
	if (!sk)
		return 1;
	switch (skops->op) {
	case BPF_SOCK_OPS_TCP_CONNECT_CB:
		sock_state_connecting(skops, sk);
		break;
	case BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB:
		s = sock_state_of(sk);
		if (s) {
			sock_state_established(s);
			h2_follow_start(skops, s);
		}
		break;
	case BPF_SOCK_OPS_HDR_OPT_LEN_CB:
		s = sock_state_of(sk);
		if (s)
			sock_state_sending(s, skops->skb_len, skops->rcv_nxt);
		break;
	case BPF_SOCK_OPS_STATE_CB:
		state_changed(skops, sk, skops->args[1]);
		break;
	}
	return 1;
}

/* One balanced connection, as the connections iterators report it. */
static __always_inline void emit_connection(struct seq_file *seq, const struct socklb_sock *s,
					    struct tcp_sock *tp, __u32 tcp_state)
{
	struct socklb_conn_record rec = {};

	rec.sock = *s;
	rec.tcp_state = tcp_state;
	if (tp) {
		rec.data_segs_in = tp->data_segs_in;
		rec.data_segs_out = tp->data_segs_out;
		rec.bytes_received = tp->bytes_received;
		rec.bytes_acked = tp->bytes_acked;
	}
	bpf_seq_write(seq, &rec, sizeof(rec));
}

/*
 * Every balanced connection of the node, for `socklb status`, the time-fair
 * pass and the tests: one walk over the socket-local storage.
 */
SEC("iter/bpf_sk_storage_map")
int socklb_connections(struct bpf_iter__bpf_sk_storage_map *ctx)
{
	struct socklb_sock *s = ctx->value;
	struct sock *sk = ctx->sk;

	if (!s || !sk)
		return 0;
	emit_connection(ctx->meta->seq, s, bpf_skc_to_tcp_sock(sk), sk->__sk_common.skc_state);
	return 0;
}

/*
 * The same, for kernels that refuse map-element iterators: the balanced
 * connections of the network namespace it is run in (the agent runs it in
 * each one, user/datapath/conn_walk.c).
 */
SEC("iter/tcp")
int socklb_connections_netns(struct bpf_iter__tcp *ctx)
{
	struct sock_common *skc = ctx->sk_common;
	struct tcp_sock *tp;
	struct socklb_sock *s;

	if (!skc)
		return 0;
	tp = bpf_skc_to_tcp_sock(skc);
	if (!tp)
		return 0;
	s = bpf_sk_storage_get(&sock_state, tp, 0, 0);
	if (s)
		emit_connection(ctx->meta->seq, s, tp, skc->skc_state);
	return 0;
}
