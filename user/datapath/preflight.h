/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Checks made before anything is loaded, so that a machine that cannot run
 * socklb gets one message naming what is missing and how to fix it, and is
 * left untouched.
 */
#ifndef SOCKLB_PREFLIGHT_H
#define SOCKLB_PREFLIGHT_H

#include <stddef.h>

/* CAP_SYS_ADMIN, without which the agent does not start; -EPERM with err set. */
int preflight_privileges(char *err, size_t errlen);

/* A capability the agent can run without, and what it costs. */
struct missing_privilege {
	int bit;		/* linux/capability.h numbering */
	const char *capability; /* "CAP_SYS_PTRACE" */
	const char *effect;	/* what does not work without it */
};

/* The optional capabilities missing now (up to max into out); returns how many. */
size_t preflight_missing_privileges(struct missing_privilege *out, size_t max);
int preflight_btf(char *err, size_t errlen);
/* The pin path's parent must be on a BPF filesystem. */
int preflight_bpffs(const char *pin_path, char *err, size_t errlen);
int preflight_cgroup(const char *cgroup_path, char *err, size_t errlen);
/* Finds the cgroup v2 mount point from /proc/self/mounts. */
int find_cgroup2_root(char *out, size_t outlen, char *err, size_t errlen);

#endif
