// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "fixture.h"
#include "datapath/preflight.h"
#include "model/endpoint.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <poll.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <signal.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

static void lo_up(void)
{
	struct ifreq ifr = {0};
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	ck_assert_int_ge(fd, 0);
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
	ck_assert_int_eq(ioctl(fd, SIOCGIFFLAGS, &ifr), 0);
	ifr.ifr_flags |= IFF_UP;
	ck_assert_int_eq(ioctl(fd, SIOCSIFFLAGS, &ifr), 0);
	close(fd);
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	ck_assert_msg(f != NULL, "open %s: %s", path, strerror(errno));
	ck_assert_int_ge(fputs(text, f), 0);
	ck_assert_int_eq(fclose(f), 0);
}

static void join_cgroup(const char *dir)
{
	char path[300], pid[32];

	snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
	snprintf(pid, sizeof(pid), "%d\n", (int)getpid());
	write_file(path, pid);
}

/* The cgroup v2 directory this process is in now (to return to it). */
static void current_cgroup(const char *root, char *out, size_t outlen)
{
	FILE *f = fopen("/proc/self/cgroup", "r");
	char line[512];

	snprintf(out, outlen, "%s", root);
	while (f && fgets(line, sizeof(line), f)) {
		if (!strncmp(line, "0::", 3)) {
			line[strcspn(line, "\n")] = '\0';
			snprintf(out, outlen, "%s%s", root, strcmp(line + 3, "/") ? line + 3 : "");
		}
	}
	if (f)
		fclose(f);
}

static bool can_run(void)
{
	char err[512];

	if (preflight_privileges(err, sizeof(err)) == 0 && preflight_btf(err, sizeof(err)) == 0)
		return true;
	ck_assert_msg(getenv("SOCKLB_BPF_ALLOW_SKIP") != NULL,
		      "%s (set SOCKLB_BPF_ALLOW_SKIP to skip the BPF tests)", err);
	printf("SKIP %s: %s\n", tcase_name(), err);
	return false;
}

/* The fixture of this test process, torn down at exit if a failed check ends the test early. */
static struct fixture *active;

static void teardown_at_exit(void)
{
	if (active)
		fixture_stop(active);
}

bool fixture_start(struct fixture *f, const struct socklb_config *cfg)
{
	struct loader_opts opts = {
	    .cfg = {.idle_quiet_ns = 20000000ULL, .drain_deadline_ns = 10000000000ULL},
	    .sizes = {.max_services = 16, .max_backends = 63},
	};
	char root[200], err[1024];

	memset(f, 0, sizeof(*f));
	f->loader.cgroup_fd = -1;
	f->loader.pin_dir_fd = -1;
	if (!can_run())
		return false;
	/* The test's own netns: loopback only, nothing leaves. */
	ck_assert_msg(unshare(CLONE_NEWNET) == 0, "unshare: %s", strerror(errno));
	lo_up();
	ck_assert_int_eq(find_cgroup2_root(root, sizeof(root), err, sizeof(err)), 0);
	current_cgroup(root, f->home_cgroup, sizeof(f->home_cgroup));
	snprintf(f->cgroup, sizeof(f->cgroup), "%s/socklb-bpftest-%d", root, (int)getpid());
	ck_assert_msg(mkdir(f->cgroup, 0755) == 0, "mkdir %s: %s", f->cgroup, strerror(errno));
	active = f;
	atexit(teardown_at_exit);
	join_cgroup(f->cgroup);
	snprintf(f->pin_path, sizeof(f->pin_path), "/sys/fs/bpf/socklb-bpftest-%d", (int)getpid());
	if (cfg)
		opts.cfg = *cfg;
	opts.cgroup_path = f->cgroup;
	opts.pin_path = f->pin_path;
	ck_assert_msg(loader_start(&f->loader, &opts, err, sizeof(err)) == 0, "%s", err);
	return true;
}

void fixture_stop(struct fixture *f)
{
	active = NULL;
	for (size_t i = 0; i < f->n_listeners; i++)
		close(f->listeners[i]);
	loader_stop(&f->loader);
	join_cgroup(f->home_cgroup);
	rmdir(f->cgroup);
}

void fixture_listeners(struct fixture *f, size_t n)
{
	for (size_t i = 0; i < n && f->n_listeners < FIX_MAX_BACKENDS; i++) {
		struct sockaddr_in a = {.sin_family = AF_INET,
					.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
		socklen_t len = sizeof(a);
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

		ck_assert_int_ge(fd, 0);
		ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
		ck_assert_int_eq(listen(fd, 256), 0);
		ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
		f->listeners[f->n_listeners] = fd;
		f->ports[f->n_listeners++] = ntohs(a.sin_port);
	}
}

void fixture_service(struct fixture *f, const char *vip, size_t first, size_t n, __u32 service_id)
{
	fixture_service_flags(f, vip, first, n, service_id, 0);
}

void fixture_service_flags(struct fixture *f, const char *vip, size_t first, size_t n,
			   __u32 service_id, __u32 flags)
{
	struct lb_service_slots slots;
	struct endpoint v, be = {.family = AF_INET, .addr.ip4 = htonl(INADDR_LOOPBACK)};
	__u32 ids[FIX_MAX_BACKENDS];
	char err[256];

	ck_assert_int_eq(endpoint_parse(vip, &v, err, sizeof(err)), 0);
	for (size_t i = 0; i < n; i++) {
		ids[i] = (__u32)(first + i + 1);
		be.port = htons(f->ports[first + i]);
		ck_assert_int_eq(lb_maps_write_backend(&f->loader.maps, ids[i], &be, service_id),
				 0);
	}
	lb_service_slots_init(&slots, service_id);
	slots.flags = flags;
	ck_assert_int_eq(lb_maps_publish(&f->loader.maps, &v, &slots, ids, n), 0);
}

int fixture_connect(const char *text)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	struct endpoint e;
	char err[256];
	int fd, ret;

	ck_assert_int_eq(endpoint_parse(text, &e, err, sizeof(err)), 0);
	a.sin_addr.s_addr = e.addr.ip4;
	a.sin_port = e.port;
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(fd, 0);
	ret = connect(fd, (struct sockaddr *)&a, sizeof(a));
	if (ret == 0)
		return fd;
	ret = -errno;
	close(fd);
	return ret;
}

size_t fixture_accept_all(struct fixture *f, size_t i, int *fds, size_t max)
{
	size_t n = 0;
	int fd;

	while (n < max && (fd = accept4(f->listeners[i], NULL, NULL, SOCK_CLOEXEC)) >= 0)
		fds[n++] = fd;
	return n;
}

size_t fixture_run_iter(struct bpf_link *link)
{
	int fd = bpf_iter_create(bpf_link__fd(link));
	size_t total = 0;
	char buf[64];
	ssize_t n;

	ck_assert_int_ge(fd, 0);
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		total += (size_t)n;
	close(fd);
	return total;
}

bool fixture_ended(int fd)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	int err = 0;
	socklen_t len = sizeof(err);

	if (poll(&p, 1, 0) <= 0 || !(p.revents & (POLLERR | POLLHUP)))
		return false;
	getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
	return err == ECONNABORTED;
}

/* Empties and removes dir (bpffs: pinned maps and links are plain entries). */
static void remove_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char path[512];

	while (d && (e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		unlink(path);
	}
	if (d)
		closedir(d);
	rmdir(dir);
}

/* Removes the socklb-bpftest-PID entries of parent whose PID is gone. */
static void reap_in(const char *parent, bool empty_first)
{
	DIR *d = opendir(parent);
	struct dirent *e;
	char path[512];
	int pid;

	while (d && (e = readdir(d))) {
		if (sscanf(e->d_name, "socklb-bpftest-%d", &pid) != 1 || kill(pid, 0) == 0 ||
		    errno != ESRCH)
			continue;
		snprintf(path, sizeof(path), "%s/%s", parent, e->d_name);
		if (empty_first)
			remove_dir(path);
		else
			rmdir(path);
	}
	if (d)
		closedir(d);
}

void fixture_reap_stale(void)
{
	char root[200], err[256];

	reap_in("/sys/fs/bpf", true);
	if (find_cgroup2_root(root, sizeof(root), err, sizeof(err)) == 0)
		reap_in(root, false);
}
