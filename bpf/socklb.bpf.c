// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * socklb's data path: connect-time rewrite of service addresses to backends,
 * getpeername that keeps showing the service address, and sockops tracking of
 * every balanced connection (the live counts least-conn chooses by).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "select.bpf.h"

#define AF_INET 2
#define AF_INET6 10
#define ECONNREFUSED 111

/* cgroup sock_addr verdicts */
#define SOCK_ADDR_ALLOW 1
#define SOCK_ADDR_DENY 0

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/*
 * Bumped by every balanced connect, establishment and close: the agent reads
 * it (mmapped, no syscall) to skip its rebalancing scan while nothing moves.
 */
__u64 activity = 0;

/*
 * A service with no backend refuses the connect at once, as a Service without
 * endpoints does under kube-proxy: the app sees ECONNREFUSED, and nothing is
 * sent to the service address.
 */
static __always_inline int refuse(void)
{
	bpf_set_retval(-ECONNREFUSED);
	return SOCK_ADDR_DENY;
}

static __always_inline void count_connect(__u32 backend_id)
{
	struct socklb_backend_stats *st = bpf_map_lookup_elem(&backend_stats, &backend_id);

	__sync_fetch_and_add(&activity, 1);
	if (st)
		__sync_fetch_and_add(&st->connects, 1);
}

static __always_inline void remember_socket(struct bpf_sock_addr *ctx,
					    const struct socklb_service_key *key,
					    const struct socklb_service *svc, __u32 backend_id)
{
	__u64 cookie = bpf_get_socket_cookie(ctx);
	struct socklb_socket entry = {
		.vip = key->vip,
		.vip_port = key->port,
		.vip_family = key->family,
		.state = SOCKLB_SOCK_CHOSEN,
		.service_id = svc->service_id,
		.backend_id = backend_id,
		.pid = bpf_get_current_pid_tgid() >> 32,
		.netns_cookie = bpf_get_netns_cookie(ctx),
		.connect_ns = bpf_ktime_get_ns(),
	};

	bpf_map_update_elem(&sockets, &cookie, &entry, BPF_ANY);
}

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

static __always_inline int balance(struct bpf_sock_addr *ctx, const struct socklb_service_key *key,
				   bool v6_socket)
{
	struct socklb_service *svc = bpf_map_lookup_elem(&services, key);
	struct socklb_backend *be;
	__u32 backend_id;

	if (!svc)
		return SOCK_ADDR_ALLOW;
	backend_id = pick_backend(svc);
	if (backend_id == SOCKLB_BACKEND_ID_NONE)
		return refuse();
	be = bpf_map_lookup_elem(&backends, &backend_id);
	if (!be || be->family != key->family)
		return refuse();

	write_dest(ctx, be, v6_socket);
	remember_socket(ctx, key, svc, backend_id);
	count_connect(backend_id);
	return SOCK_ADDR_ALLOW;
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
	return balance(ctx, &key, false);
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
	return balance(ctx, &key, true);
}

static __always_inline struct socklb_socket *balanced_socket(void *ctx)
{
	__u64 cookie = bpf_get_socket_cookie(ctx);

	return bpf_map_lookup_elem(&sockets, &cookie);
}

SEC("cgroup/getpeername4")
int socklb_getpeername4(struct bpf_sock_addr *ctx)
{
	struct socklb_socket *s = balanced_socket(ctx);

	if (s && s->vip_family == AF_INET) {
		ctx->user_ip4 = s->vip.ip4;
		ctx->user_port = s->vip_port;
	}
	return SOCK_ADDR_ALLOW;
}

SEC("cgroup/getpeername6")
int socklb_getpeername6(struct bpf_sock_addr *ctx)
{
	struct socklb_socket *s = balanced_socket(ctx);

	if (!s)
		return SOCK_ADDR_ALLOW;
	set_user_ip6(ctx, &s->vip, s->vip_family);
	ctx->user_port = s->vip_port;
	return SOCK_ADDR_ALLOW;
}

static __always_inline struct socklb_backend_stats *stats_of(const struct socklb_socket *s)
{
	__u32 id = s->backend_id;

	return bpf_map_lookup_elem(&backend_stats, &id);
}

/* The SYN is about to leave: the connection now weighs on its backend. */
static __always_inline void on_tcp_connect(struct bpf_sock_ops *skops, struct socklb_socket *s)
{
	struct socklb_backend_stats *st = stats_of(s);

	if (s->state != SOCKLB_SOCK_CHOSEN)
		return;
	s->state = SOCKLB_SOCK_CONNECTING;
	if (st)
		__sync_fetch_and_add(&st->connecting, 1);
	/* Ask for state changes so that failures and closes are seen. */
	bpf_sock_ops_cb_flags_set(skops, skops->bpf_sock_ops_cb_flags | BPF_SOCK_OPS_STATE_CB_FLAG);
}

static __always_inline void on_established(struct socklb_socket *s)
{
	struct socklb_backend_stats *st = stats_of(s);

	if (s->state != SOCKLB_SOCK_CONNECTING)
		return;
	s->state = SOCKLB_SOCK_ESTABLISHED;
	s->established_ns = bpf_ktime_get_ns();
	__sync_fetch_and_add(&activity, 1);
	if (st) {
		__sync_fetch_and_sub(&st->connecting, 1);
		__sync_fetch_and_add(&st->live, 1);
	}
}

static __always_inline void on_close(struct socklb_socket *s, __u64 cookie)
{
	struct socklb_backend_stats *st = stats_of(s);

	if (st && s->state == SOCKLB_SOCK_ESTABLISHED) {
		__sync_fetch_and_sub(&st->live, 1);
		__sync_fetch_and_add(&st->closes, 1);
	} else if (st && s->state == SOCKLB_SOCK_CONNECTING) {
		__sync_fetch_and_sub(&st->connecting, 1);
		__sync_fetch_and_add(&st->connect_failures, 1);
	}
	bpf_map_delete_elem(&sockets, &cookie);
	__sync_fetch_and_add(&activity, 1);
}

SEC("sockops")
int socklb_sockops(struct bpf_sock_ops *skops)
{
	__u64 cookie = bpf_get_socket_cookie(skops);
	struct socklb_socket *s = bpf_map_lookup_elem(&sockets, &cookie);

	if (!s)
		return 1;
	switch (skops->op) {
	case BPF_SOCK_OPS_TCP_CONNECT_CB:
		on_tcp_connect(skops, s);
		break;
	case BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB:
		on_established(s);
		break;
	case BPF_SOCK_OPS_STATE_CB:
		if (skops->args[1] == BPF_TCP_CLOSE)
			on_close(s, cookie);
		break;
	}
	return 1;
}
