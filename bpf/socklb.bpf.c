// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * socklb's data path: connect-time rewrite of service addresses to backends,
 * getpeername that keeps showing the service address, and sockops tracking of
 * every balanced connection (the live counts least-conn chooses by).
 *
 * The hooks are thin: a worker does the work and returns 0 or -errno, and
 * only the hook turns that into the program's verdict.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "lib/select.h"
#include "lib/sock_state.h"

#define AF_INET 2
#define AF_INET6 10
#define ENOENT 2
#define ECONNREFUSED 111

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
 * with no usable backend.
 */
static __always_inline int balance(struct bpf_sock_addr *ctx, const struct socklb_service_key *key,
				   bool v6_socket)
{
	struct socklb_service *svc = bpf_map_lookup_elem(&services, key);
	struct socklb_backend *be;
	__u32 backend_id;

	if (!svc)
		return -ENOENT;
	backend_id = pick_backend(svc);
	if (backend_id == SOCKLB_BACKEND_ID_NONE)
		return -ECONNREFUSED;
	be = bpf_map_lookup_elem(&backends, &backend_id);
	if (!be || be->family != key->family)
		return -ECONNREFUSED;

	write_dest(ctx, be, v6_socket);
	/* An untracked connection still works; it only escapes least-conn's count. */
	sock_state_create(ctx, key, svc->service_id, backend_id);
	count_connect(backend_id);
	return 0;
}

/*
 * A service with no backend refuses the connect at once, as a Service without
 * endpoints does under kube-proxy: the app sees ECONNREFUSED, and nothing is
 * sent to the service address.  Everything else goes ahead.
 */
static __always_inline int connect_verdict(int err)
{
	if (err != -ECONNREFUSED)
		return SOCK_ADDR_ALLOW;
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
	struct socklb_socket *s = sock_state_of(ctx);

	if (s && s->vip_family == AF_INET) {
		ctx->user_ip4 = s->vip.ip4;
		ctx->user_port = s->vip_port;
	}
	return SOCK_ADDR_ALLOW;
}

SEC("cgroup/getpeername6")
int socklb_getpeername6(struct bpf_sock_addr *ctx)
{
	struct socklb_socket *s = sock_state_of(ctx);

	if (!s)
		return SOCK_ADDR_ALLOW;
	set_user_ip6(ctx, &s->vip, s->vip_family);
	ctx->user_port = s->vip_port;
	return SOCK_ADDR_ALLOW;
}

SEC("sockops")
int socklb_sockops(struct bpf_sock_ops *skops)
{
	struct socklb_socket *s = sock_state_of(skops);

	if (!s)
		return 1;
	switch (skops->op) {
	case BPF_SOCK_OPS_TCP_CONNECT_CB:
		/* Ask for state changes so that failures and closes are seen. */
		if (sock_state_connecting(s))
			bpf_sock_ops_cb_flags_set(skops, skops->bpf_sock_ops_cb_flags |
							     BPF_SOCK_OPS_STATE_CB_FLAG);
		break;
	case BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB:
		sock_state_established(s);
		break;
	case BPF_SOCK_OPS_STATE_CB:
		if (skops->args[1] == BPF_TCP_CLOSE)
			sock_state_closed(s, skops);
		break;
	}
	return 1;
}
