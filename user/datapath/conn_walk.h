/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Every balanced connection of the node, as struct socklb_conn_record, for
 * `socklb status` and the time-fair pass.  Where the kernel allows, one read
 * of the iterator over the socket-local storage sees them all; a kernel that
 * refuses map-element iterators gets the iter/tcp variant instead, which sees
 * one network namespace, so it is run in the agent's own and in each one the
 * data path recorded in netns_conns as holding balanced connections.
 */
#ifndef SOCKLB_CONN_WALK_H
#define SOCKLB_CONN_WALK_H

#include <stdbool.h>
#include <stddef.h>

#include "datapath/iter_read.h"
#include "datapath/maps.h"
#include "datapath/netns_iter.h"

struct conn_walk {
	int link_fd;		    /* the connections iterator */
	bool owns_fd;		    /* opened from the pin: closed by conn_walk_free */
	bool per_netns;		    /* the iter/tcp variant: run in each namespace */
	struct netns_runner *netns; /* per_netns: how to enter them */
	const struct lb_maps *maps; /* per_netns: netns_conns, which to enter */
	struct lb_maps own_maps;    /* opened from the pin (conn_walk_open_pinned) */
	size_t netns_missed;	    /* namespaces not entered on the last walk */
	int netns_error;	    /* why (the last -errno), 0 if none */
};

/*
 * Walks with the iterator link_fd (borrowed), entering the namespaces maps
 * records through netns; both outlive w.  0, or -errno if the link cannot
 * be inspected.
 */
int conn_walk_init(struct conn_walk *w, int link_fd, struct netns_runner *netns,
		   const struct lb_maps *maps);

/* The iterator pinned at <pin_path>/connections, with its own runner and maps. */
int conn_walk_open_pinned(struct conn_walk *w, const char *pin_path);

/*
 * The namespaces a per-namespace walk enters: the agent's own first, then
 * each with balanced connections in netns_conns.  How many (up to cap).
 */
size_t conn_walk_namespaces(struct conn_walk *w, struct netns_door *out, size_t cap);

/*
 * Forgets the namespaces in netns_conns that hold no connection and that no
 * process is in any more (a namespace never comes back): the map stays the
 * size of the node's pods.  How many were dropped.
 */
size_t conn_walk_prune(struct conn_walk *w);

/*
 * Hands every connection to cb.  0, the callback's non-zero return, or
 * -errno; a namespace that cannot be entered is skipped and counted.
 */
int conn_walk_read(struct conn_walk *w, iter_record_cb cb, void *arg);

void conn_walk_free(struct conn_walk *w);

/* Whether an iterator link is the per-namespace kind (iter/tcp); -errno on error. */
int iter_link_is_per_netns(int link_fd);

#endif
