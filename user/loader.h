/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Loads socklb's BPF object, pins its maps, attaches its programs to a cgroup,
 * and undoes all of it.  Either loader_start succeeds whole or it leaves
 * nothing attached or pinned.
 */
#ifndef SOCKLB_LOADER_H
#define SOCKLB_LOADER_H

#include <stddef.h>
#include "lb_maps.h"

struct loader_opts {
	const char *cgroup_path;
	const char *pin_path;
	enum socklb_policy policy;
	__u32 max_services;
	__u32 max_backends;
	__u32 max_sockets;
	/*
	 * Pin the links too and leave everything attached and pinned on exit, so
	 * that a restarted agent (even after kill -9) adopts it without a gap.
	 */
	bool persist;
};

#define LOADER_MAX_LINKS 8

struct loader {
	struct socklb_bpf *skel;
	struct bpf_link *links[LOADER_MAX_LINKS];
	size_t n_links;
	int cgroup_fd;
	int pin_dir_fd; /* held with flock: one agent per pin path */
	char pin_path[4096];
	bool maps_pinned;
	bool persist;
	bool adopted; /* maps came from an earlier agent: rebuild state from them */
	struct lb_maps maps;
};

int loader_start(struct loader *l, const struct loader_opts *opts, char *err, size_t errlen);
void loader_stop(struct loader *l);
/* Detaches and unpins everything an agent left in pin_path (no agent may run). */
int loader_cleanup(const char *pin_path, char *err, size_t errlen);

#endif
