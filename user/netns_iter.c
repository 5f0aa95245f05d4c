// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "netns_iter.h"
#include "log.h"

#include <bpf/bpf.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#ifndef SO_NETNS_COOKIE
#define SO_NETNS_COOKIE 71
#endif

__u64 current_netns_cookie(void)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	__u64 cookie = 0;
	socklen_t len = sizeof(cookie);

	if (fd < 0)
		return 0;
	if (getsockopt(fd, SOL_SOCKET, SO_NETNS_COOKIE, &cookie, &len))
		cookie = 0;
	close(fd);
	return cookie;
}

int netns_runner_init(struct netns_runner *r)
{
	r->own_netns_fd = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	r->own_cookie = current_netns_cookie();
	return r->own_netns_fd < 0 || r->own_cookie == 0 ? -1 : 0;
}

void netns_runner_free(struct netns_runner *r)
{
	if (r->own_netns_fd >= 0)
		close(r->own_netns_fd);
	r->own_netns_fd = -1;
}

static int read_iter(int iter_link_fd)
{
	int fd = bpf_iter_create(iter_link_fd);
	char buf[256];
	ssize_t n;

	if (fd < 0)
		return -1;
	/* The program prints nothing: reading walks the sockets to the end. */
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		;
	close(fd);
	return n < 0 ? -1 : 0;
}

/* Enters pid's network namespace if it is the one wanted. */
static int enter(__u32 pid, __u64 netns_cookie)
{
	char path[64];
	int fd, ret;

	snprintf(path, sizeof(path), "/proc/%u/ns/net", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ret = setns(fd, CLONE_NEWNET);
	close(fd);
	if (ret)
		return -1;
	/* The pid may have been reused by a process elsewhere. */
	return current_netns_cookie() == netns_cookie ? 0 : 1;
}

int netns_run_iter(struct netns_runner *r, int iter_link_fd, __u64 netns_cookie,
		   const __u32 *pids, size_t n_pids)
{
	int ret = -1;

	if (netns_cookie == r->own_cookie)
		return read_iter(iter_link_fd);
	for (size_t i = 0; i < n_pids && ret; i++) {
		int entered = enter(pids[i], netns_cookie);

		if (entered == 0)
			ret = read_iter(iter_link_fd);
		if (entered >= 0 && setns(r->own_netns_fd, CLONE_NEWNET)) {
			log_error("msg=\"cannot return to the agent's network namespace\" "
				  "error=\"%s\"",
				  strerror(errno));
			return -1;
		}
	}
	return ret;
}
