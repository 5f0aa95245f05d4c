/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * What `socklb status` shows of the cluster view, from the agent's state
 * file (its "cluster" section, cluster_state_json): the mode and why, this
 * node's writes, every peer and when it last reported, and per backend of a
 * k8s: service the connections of the whole cluster (this node's, from the
 * maps, plus the peers' as they reported them).
 */
#ifndef SOCKLB_STATUS_CLUSTER_H
#define SOCKLB_STATUS_CLUSTER_H

#include <json-c/json.h>
#include "model/endpoint.h"

/* The peers' connections on backend of service vip; -1 if the file says nothing of it. */
long long status_cluster_peers(json_object *state, const struct endpoint *vip,
			       const struct endpoint *backend);
/* The lines about the view itself (nothing without one). */
void status_cluster_text(json_object *state);
/* Adds node_connections, peer_connections and cluster_connections to a backend's JSON. */
void status_cluster_backend_json(json_object *state, const struct endpoint *vip,
				 const struct endpoint *backend,
				 unsigned long long node_connections, json_object *b);

#endif
