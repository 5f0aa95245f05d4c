/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * netns_conns: how many balanced connections each network namespace holds,
 * and a process to enter it by.  Kept only where the kernel refuses
 * map-element iterators (socklb_cfg.netns_registry): there the agent lists
 * connections with iter/tcp, which sees one namespace, and this tells it
 * which ones to enter.  Counted with the socket's state: up when it starts
 * connecting, down once when it closes.
 */
#ifndef SOCKLB_BPF_NETNS_REGISTRY_H
#define SOCKLB_BPF_NETNS_REGISTRY_H

#include "lib/config.h"
#include "lib/counters.h"

static __always_inline void netns_joined(struct socklb_sock *s)
{
	struct socklb_netns fresh = {.pid = s->pid, .conns = 1};
	__u64 key = s->netns_cookie;
	struct socklb_netns *n;

	if (!socklb_cfg.netns_registry)
		return;
	n = bpf_map_lookup_elem(&netns_conns, &key);
	if (!n) {
		if (!bpf_map_update_elem(&netns_conns, &key, &fresh, BPF_NOEXIST)) {
			s->netns_counted = 1;
			return;
		}
		n = bpf_map_lookup_elem(&netns_conns, &key); /* another CPU made it first */
	}
	if (!n) {
		count_event(SOCKLB_DP_UNREGISTERED_NETNS);
		return;
	}
	n->pid = s->pid;
	__sync_fetch_and_add(&n->conns, 1);
	s->netns_counted = 1;
}

static __always_inline void netns_left(struct socklb_sock *s)
{
	__u64 key = s->netns_cookie;
	struct socklb_netns *n;

	if (!s->netns_counted)
		return;
	s->netns_counted = 0;
	n = bpf_map_lookup_elem(&netns_conns, &key);
	if (n)
		__sync_fetch_and_sub(&n->conns, 1);
}

#endif
