/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Runs a BPF iterator inside another network namespace.  A TCP iterator sees
 * only the sockets of the namespace it is created in, and pods live in their
 * own: so the agent enters each one (setns), creates and reads the iterator
 * there, and comes back.
 */
#ifndef SOCKLB_NETNS_ITER_H
#define SOCKLB_NETNS_ITER_H

#include <stddef.h>
#include <linux/types.h>

#include "datapath/iter_read.h"

/* A process through which a network namespace can be entered. */
struct netns_door {
	__u64 cookie;
	__u32 pid;
};

struct netns_runner {
	int own_netns_fd;
	__u64 own_cookie;
	/*
	 * Every namespace the agent's /proc shows, for when the pid recorded at
	 * connect time is not ours to use: it is the kernel's global pid, and an
	 * agent in another pid namespace (a kind node) sees other numbers.
	 */
	struct netns_door *doors;
	size_t n_doors;
	__u64 doors_built_ms;
};

/* 0, or -errno if the agent's own namespace cannot be held. */
int netns_runner_init(struct netns_runner *r);
void netns_runner_free(struct netns_runner *r);

/* The cookie of the network namespace the caller is in now; 0 on error. */
__u64 current_netns_cookie(void);

/*
 * Runs iter_link_fd in the namespace whose cookie is netns_cookie, entered
 * through the first of pids still living in it (or any process /proc
 * shows there), handing each record of record_size bytes to cb.  Returns
 * 0 or cb's non-zero return; -ENOENT if no process leads there any more
 * (the namespace is gone or emptied); -EACCES or -EPERM if the agent may
 * not enter it (CAP_SYS_PTRACE missing).
 */
int netns_read_iter(struct netns_runner *r, int iter_link_fd, __u64 netns_cookie, const __u32 *pids,
		    size_t n_pids, size_t record_size, iter_record_cb cb, void *arg);

/*
 * One process per network namespace /proc shows (rescanned at most once a
 * second), the agent's own among them; how many, the list in *doors.
 */
size_t netns_doors(struct netns_runner *r, const struct netns_door **doors);

#endif
