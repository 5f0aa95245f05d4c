/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * A fixture for program-level tests of socklb's BPF: the test process in a
 * network namespace of its own (loopback only, so a connect that is not
 * rewritten fails with ENETUNREACH instead of leaving), in a cgroup of its
 * own, with socklb's real programs loaded by the real loader and attached
 * to that cgroup, and loopback listeners for backends.
 */
#ifndef SOCKLB_BPF_FIXTURE_H
#define SOCKLB_BPF_FIXTURE_H

#include <check.h>
#include <netinet/in.h>
#include <stdbool.h>

#include "datapath/loader.h"

#define FIX_MAX_BACKENDS 32

struct fixture {
	struct loader loader;
	char cgroup[256];
	char home_cgroup[512]; /* where the test process was: it returns there */
	char pin_path[256];
	int listeners[FIX_MAX_BACKENDS];
	__u16 ports[FIX_MAX_BACKENDS]; /* host order */
	size_t n_listeners;
};

/*
 * Sets it all up (fails the test on error); cfg NULL: the defaults.  Skips
 * (returns false, the test passes) only when SOCKLB_BPF_ALLOW_SKIP is set
 * and the machine cannot load BPF programs.
 */
bool fixture_start(struct fixture *f, const struct socklb_config *cfg);
void fixture_stop(struct fixture *f);
/*
 * Removes what fixtures of test processes now gone left behind (a failed
 * check ends its forked test without teardown): pins and cgroups.
 */
void fixture_reap_stale(void);

/* n loopback listeners on 127.0.0.1, ports chosen by the kernel. */
void fixture_listeners(struct fixture *f, size_t n);
/* Publishes vip (e.g. "10.255.0.1:80") over listeners [first, first + n); backend ids 1.. */
void fixture_service(struct fixture *f, const char *vip, size_t first, size_t n, __u32 service_id);
/* The same with the service entry's flags (SOCKLB_SERVICE_*). */
void fixture_service_flags(struct fixture *f, const char *vip, size_t first, size_t n,
			   __u32 service_id, __u32 flags);

/* A TCP connect to text ("10.255.0.1:80"); the socket, or -errno. */
int fixture_connect(const char *text);
/* Accepts what is pending on listener i; returns how many. */
size_t fixture_accept_all(struct fixture *f, size_t i, int *fds, size_t max);

struct bpf_link;
/* Runs an iterator once, reading (and dropping) what it writes; how many bytes. */
size_t fixture_run_iter(struct bpf_link *link);
/* Whether the kernel ended fd's connection (a destroyed socket reports ECONNABORTED). */
bool fixture_ended(int fd);

#define REQUIRE_FIXTURE(f, cfg)                                                                    \
	do {                                                                                       \
		if (!fixture_start((f), (cfg)))                                                    \
			return;                                                                    \
	} while (0)

#endif
