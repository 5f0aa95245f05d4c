// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The benchmark's floor for a connect hook (bench only, never shipped): the
 * least a cgroup/connect4 program can do to balance one service.  One array
 * lookup of its config, one compare of the destination with the VIP, the
 * rewrite, allow.  tests/bench/minimal.py loads it with bpftool, attaches it
 * to a cgroup of its own and measures it beside socklb's connect4 with the
 * same connect cycles (kernel run-time stats), so socklb's cost can be read
 * as a multiple of this one.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Addresses and ports as the context holds them: network byte order, ports in the low 16 bits. */
struct minimal_cfg {
	__u32 vip;
	__u32 vip_port;
	__u32 backend_ip;
	__u32 backend_port;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct minimal_cfg);
} minimal_cfg SEC(".maps");

SEC("cgroup/connect4")
int min_connect4(struct bpf_sock_addr *ctx)
{
	__u32 key = 0;
	struct minimal_cfg *cfg = bpf_map_lookup_elem(&minimal_cfg, &key);

	if (cfg && ctx->user_ip4 == cfg->vip && ctx->user_port == cfg->vip_port) {
		ctx->user_ip4 = cfg->backend_ip;
		ctx->user_port = cfg->backend_port;
	}
	return 1;
}
