// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "datapath/netns_iter.h"
#include "lib/clock.h"
#include "lib/log.h"

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
	r->own_netns_fd = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (r->own_netns_fd < 0)
		return -errno;
	r->doors = calloc(NETNS_MAX_DOORS, sizeof(*r->doors));
	if (!r->doors)
		return -ENOMEM;
	r->own_cookie = current_netns_cookie();
	return r->own_cookie ? 0 : -EOPNOTSUPP;
}

void netns_runner_free(struct netns_runner *r)
{
	if (r->own_netns_fd >= 0)
		close(r->own_netns_fd);
	r->own_netns_fd = -1;
	free(r->doors);
	r->doors = NULL;
}

/* Where an iterator's records go. */
struct iter_sink {
	size_t record_size;
	iter_record_cb cb;
	void *arg;
};

static int read_iter(int iter_link_fd, const struct iter_sink *sink)
{
	return iter_read_records(iter_link_fd, sink->record_size, sink->cb, sink->arg);
}

/*
 * Enters pid's network namespace: 0 if it is the one wanted, 1 if it is
 * another (entered all the same), -ENOENT if pid is gone, -EACCES or -EPERM
 * if the agent may not (no CAP_SYS_PTRACE over that process).
 */
static int enter(__u32 pid, __u64 netns_cookie)
{
	char path[64];
	int fd, ret;

	snprintf(path, sizeof(path), "/proc/%u/ns/net", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ret = setns(fd, CLONE_NEWNET) ? -errno : 0;
	close(fd);
	if (ret)
		return ret;
	/* The pid may have been reused by a process elsewhere. */
	return current_netns_cookie() == netns_cookie ? 0 : 1;
}

/* Of two reasons for not getting in, the one a user can do something about. */
static int worse(int a, int b)
{
	return a == -EACCES || a == -EPERM ? a : b;
}

static int go_home(struct netns_runner *r)
{
	int ret;

	if (setns(r->own_netns_fd, CLONE_NEWNET) == 0)
		return 0;
	ret = -errno;
	log_error("msg=\"cannot return to the agent's network namespace\" error=%s",
		  log_q(strerror(errno)));
	return ret;
}

/* Runs the iterator through the first of pids that leads into the namespace. */
static int run_via(struct netns_runner *r, int iter_link_fd, const struct iter_sink *sink,
		   __u64 netns_cookie, const __u32 *pids, size_t n_pids)
{
	int ret = -ENOENT;

	for (size_t i = 0; i < n_pids && ret; i++) {
		int entered = enter(pids[i], netns_cookie), home;

		if (entered == 0)
			ret = read_iter(iter_link_fd, sink);
		else
			ret = worse(entered, ret);
		if (entered >= 0 && (home = go_home(r)))
			return home;
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
		r->doors[r->n_doors++] = (struct netns_door){cookie, pid};
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

/* The doors, rebuilt if older than a second (a rescan costs a setns per namespace). */
static void refresh_doors(struct netns_runner *r)
{
	__u64 now_ms = mono_now_ms();

	if (now_ms - r->doors_built_ms >= 1000 || !r->doors_built_ms) {
		build_doors(r);
		r->doors_built_ms = now_ms;
	}
}

size_t netns_doors(struct netns_runner *r, const struct netns_door **doors)
{
	refresh_doors(r);
	*doors = r->doors;
	return r->n_doors;
}

static int run_via_doors(struct netns_runner *r, int iter_link_fd, const struct iter_sink *sink,
			 __u64 netns_cookie)
{
	refresh_doors(r);
	for (size_t i = 0; i < r->n_doors; i++) {
		if (r->doors[i].cookie == netns_cookie)
			return run_via(r, iter_link_fd, sink, netns_cookie, &r->doors[i].pid, 1);
	}
	return -ENOENT;
}

static int run_in(struct netns_runner *r, int iter_link_fd, const struct iter_sink *sink,
		  __u64 netns_cookie, const __u32 *pids, size_t n_pids)
{
	int ret;

	if (netns_cookie == r->own_cookie)
		return read_iter(iter_link_fd, sink);
	ret = run_via(r, iter_link_fd, sink, netns_cookie, pids, n_pids);
	if (ret == 0)
		return 0;
	return worse(ret, run_via_doors(r, iter_link_fd, sink, netns_cookie));
}

int netns_read_iter(struct netns_runner *r, int iter_link_fd, __u64 netns_cookie, const __u32 *pids,
		    size_t n_pids, size_t record_size, iter_record_cb cb, void *arg)
{
	const struct iter_sink sink = {record_size, cb, arg};

	return run_in(r, iter_link_fd, &sink, netns_cookie, pids, n_pids);
}
