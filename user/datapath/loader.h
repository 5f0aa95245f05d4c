/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Loads socklb's BPF object with its maps pinned by name under the pin
 * path, attaches its programs to a cgroup, and undoes all of it.  Either
 * loader_start succeeds whole or it leaves nothing attached or pinned.
 */
#ifndef SOCKLB_LOADER_H
#define SOCKLB_LOADER_H

#include <stddef.h>
#include "datapath/maps.h"

struct loader_opts {
	const char *cgroup_path;
	const char *pin_path;
	struct socklb_config cfg; /* the programs' load-time settings */
	struct lb_map_sizes sizes;
	/*
	 * Pin the links too and leave everything attached and pinned on exit, so
	 * that a restarted agent (even after kill -9) adopts it without a gap.
	 */
	bool persist;
};

#define LOADER_MAX_LINKS 8

struct rebalance_bpf;
struct goaway_bpf;

struct loader {
	struct socklb_bpf *skel;
	struct goaway_bpf *goaway; /* the follower, attached to h2_socks; NULL: --graceful=off */
	struct bpf_link *links[LOADER_MAX_LINKS];
	size_t n_links;
	struct bpf_link *conn_iter; /* pinned as <pin path>/connections */
	bool conns_per_netns;	    /* conn_iter is iter/tcp: see conn_walk.h */
	int cgroup_fd;
	int pin_dir_fd; /* held with flock: one agent per pin path */
	char pin_path[4096];
	bool persist;
	bool loaded;  /* the maps are created (and pinned) */
	bool adopted; /* maps came from an earlier agent: rebuild state from them */
	struct loader_opts opts;
	struct lb_maps maps;
};

/* Returns 0, or -errno with err set (and nothing left attached or pinned). */
int loader_start(struct loader *l, const struct loader_opts *opts, char *err, size_t errlen);
void loader_stop(struct loader *l);
/*
 * Loads the rebalancing iterator (rebalance.bpf.c) on the same pinned maps
 * and settings.  Returns the skeleton (rebalance_bpf__destroy it), or NULL
 * with err set: a kernel older than 6.5 has no bpf_sock_destroy.
 */
struct rebalance_bpf *loader_load_rebalance(const struct loader *l, char *err, size_t errlen);
/* Detaches and unpins everything an agent left in pin_path (no agent may run). */
int loader_cleanup(const char *pin_path, char *err, size_t errlen);

#endif
