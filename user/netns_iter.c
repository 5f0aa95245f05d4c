// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "netns_iter.h"
#include "log.h"

#include <bpf/bpf.h>
#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Network namespaces the /proc scan remembers (pods on one node). */
#define NETNS_MAX_DOORS 8192

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
	memset(r, 0, sizeof(*r));
	r->doors = calloc(NETNS_MAX_DOORS, sizeof(*r->doors));
	r->own_netns_fd = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (!r->doors)
		return -1;
	r->own_cookie = current_netns_cookie();
	return r->own_netns_fd < 0 || r->own_cookie == 0 ? -1 : 0;
}

void netns_runner_free(struct netns_runner *r)
{
	if (r->own_netns_fd >= 0)
		close(r->own_netns_fd);
	r->own_netns_fd = -1;
	free(r->doors);
	r->doors = NULL;
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

static int go_home(struct netns_runner *r)
{
	if (setns(r->own_netns_fd, CLONE_NEWNET) == 0)
		return 0;
	log_error("msg=\"cannot return to the agent's network namespace\" error=\"%s\"",
		  strerror(errno));
	return -1;
}

/* Runs the iterator through the first of pids that leads into the namespace. */
static int run_via(struct netns_runner *r, int iter_link_fd, __u64 netns_cookie,
		   const __u32 *pids, size_t n_pids)
{
	int ret = -1;

	for (size_t i = 0; i < n_pids && ret; i++) {
		int entered = enter(pids[i], netns_cookie);

		if (entered == 0)
			ret = read_iter(iter_link_fd);
		if (entered >= 0 && go_home(r))
			return -1;
	}
	return ret;
}

static bool seen_ino(const ino_t *inos, size_t n, ino_t ino)
{
	for (size_t i = 0; i < n; i++) {
		if (inos[i] == ino)
			return true;
	}
	return false;
}

/* The cookie of pid's network namespace (entered and left again); 0 if none. */
static __u64 cookie_of(struct netns_runner *r, __u32 pid)
{
	char path[64];
	__u64 cookie = 0;
	int fd;

	snprintf(path, sizeof(path), "/proc/%u/ns/net", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	if (setns(fd, CLONE_NEWNET) == 0) {
		cookie = current_netns_cookie();
		if (go_home(r))
			cookie = 0;
	}
	close(fd);
	return cookie;
}

static void add_door(struct netns_runner *r, __u64 cookie, __u32 pid)
{
	if (r->n_doors < NETNS_MAX_DOORS)
		r->doors[r->n_doors++] = (struct netns_door){ cookie, pid };
}

/* One process per distinct network namespace in /proc. */
static void build_doors(struct netns_runner *r)
{
	static ino_t inos[NETNS_MAX_DOORS];
	DIR *proc = opendir("/proc");
	struct dirent *d;
	size_t n_inos = 0;

	r->n_doors = 0;
	while (proc && (d = readdir(proc)) && n_inos < NETNS_MAX_DOORS) {
		char path[300];
		struct stat st;
		__u32 pid = (__u32)strtoul(d->d_name, NULL, 10);
		__u64 cookie;

		snprintf(path, sizeof(path), "/proc/%s/ns/net", d->d_name);
		if (!pid || stat(path, &st) || seen_ino(inos, n_inos, st.st_ino))
			continue;
		inos[n_inos++] = st.st_ino;
		cookie = cookie_of(r, pid);
		if (cookie)
			add_door(r, cookie, pid);
	}
	if (proc)
		closedir(proc);
}

static int run_via_doors(struct netns_runner *r, int iter_link_fd, __u64 netns_cookie)
{
	struct timespec now;
	__u64 now_ms;

	clock_gettime(CLOCK_MONOTONIC, &now);
	now_ms = (__u64)now.tv_sec * 1000 + (__u64)now.tv_nsec / 1000000;
	/* A rescan costs a setns per namespace: at most once a second. */
	if (now_ms - r->doors_built_ms >= 1000 || !r->doors_built_ms) {
		build_doors(r);
		r->doors_built_ms = now_ms;
	}
	for (size_t i = 0; i < r->n_doors; i++) {
		if (r->doors[i].cookie == netns_cookie)
			return run_via(r, iter_link_fd, netns_cookie, &r->doors[i].pid, 1);
	}
	return -1;
}

int netns_run_iter(struct netns_runner *r, int iter_link_fd, __u64 netns_cookie,
		   const __u32 *pids, size_t n_pids)
{
	if (netns_cookie == r->own_cookie)
		return read_iter(iter_link_fd);
	if (run_via(r, iter_link_fd, netns_cookie, pids, n_pids) == 0)
		return 0;
	return run_via_doors(r, iter_link_fd, netns_cookie);
}
