/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * What `socklb status` shows of the data path besides services: refusals
 * and untracked connections by reason, connections ended by reason, and
 * (--connections) every balanced connection, read through the iterator the
 * agent pinned as <pin path>/connections.
 */
#ifndef SOCKLB_STATUS_DATAPATH_H
#define SOCKLB_STATUS_DATAPATH_H

#include <json-c/json.h>
#include <stdbool.h>
#include "datapath/maps.h"

struct status_datapath {
	__u64 events[SOCKLB_DP_EVENTS];
	struct socklb_end_stats ended[SOCKLB_END_REASONS];
	__u64 h2[SOCKLB_H2_EVENTS]; /* the GOAWAY follower's events */
	bool with_connections;
	struct socklb_conn_record *conns;
	size_t n_conns, cap_conns;
	bool conns_per_netns; /* listed namespace by namespace (conn_walk.h) */
	size_t netns_missed;  /* namespaces that could not be entered */
	int netns_error;      /* why, -errno */
};

/* Reads the counters, and the connections too if with_connections; -errno. */
int status_datapath_read(const struct lb_maps *maps, const char *pin_path, bool with_connections,
			 struct status_datapath *out, char *err, size_t errlen);
void status_datapath_free(struct status_datapath *d);

/* Connections of backend id in the given phase (from the connections read). */
size_t status_datapath_count(const struct status_datapath *d, __u32 backend_id, __u8 phase);

void status_datapath_text(const struct lb_maps *maps, const struct status_datapath *d);
void status_datapath_json(const struct lb_maps *maps, const struct status_datapath *d,
			  json_object *root);

#endif
