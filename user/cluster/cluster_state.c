// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "cluster/cluster.h"
#include "cluster/cluster_view.h"

#include <stdlib.h>

static json_object *time_or_null(double t)
{
	return t > 0 ? json_object_new_double(t) : NULL;
}

static json_object *publisher_json(const struct cluster_status *st)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "writes", json_object_new_int64((int64_t)st->writes));
	json_object_object_add(o, "creates", json_object_new_int64((int64_t)st->creates));
	json_object_object_add(o, "conflicts", json_object_new_int64((int64_t)st->conflicts));
	json_object_object_add(o, "errors", json_object_new_int64((int64_t)st->errors));
	json_object_object_add(o, "last_write", time_or_null(st->last_write_at));
	json_object_object_add(o, "last_error",
			       st->last_error ? json_object_new_string(st->last_error) : NULL);
	json_object_object_add(o, "owner_reference", json_object_new_boolean(st->has_owner));
	return o;
}

static json_object *peers_json(const struct cluster *c)
{
	struct cluster_peer_status peers[CLUSTER_MAX_SHOWN_PEERS];
	size_t n = cluster_peers(c, peers, CLUSTER_MAX_SHOWN_PEERS);
	json_object *list = json_object_new_array();

	for (size_t i = 0; i < n && i < CLUSTER_MAX_SHOWN_PEERS; i++) {
		json_object *o = json_object_new_object();

		json_object_object_add(o, "node", json_object_new_string(peers[i].node));
		json_object_object_add(o, "last_report", time_or_null(peers[i].last_report));
		json_object_object_add(o, "fresh", json_object_new_boolean(peers[i].fresh));
		json_object_object_add(o, "services",
				       json_object_new_int64((int64_t)peers[i].services));
		json_object_array_add(list, o);
	}
	return list;
}

static json_object *service_json(const struct cluster *c, const struct agent_service *svc)
{
	json_object *o = json_object_new_object(), *list = json_object_new_array();
	char text[ENDPOINT_STR_LEN];

	json_object_object_add(o, "vip",
			       json_object_new_string(endpoint_str(&svc->vip, text, sizeof(text))));
	for (size_t i = 0; i < svc->backends.n; i++) {
		const struct endpoint *ep = &svc->backends.items[i].ep;
		json_object *b = json_object_new_object();

		json_object_object_add(
		    b, "address", json_object_new_string(endpoint_str(ep, text, sizeof(text))));
		json_object_object_add(
		    b, "peer_connections",
		    json_object_new_int64(cluster_peer_connections(c, &svc->vip, ep)));
		json_object_array_add(list, b);
	}
	json_object_object_add(o, "backends", list);
	return o;
}

json_object *cluster_state_json(const struct cluster *c, const struct service_table *table)
{
	json_object *o = json_object_new_object(), *svcs = json_object_new_array();
	struct cluster_status st;

	cluster_status(c, &st);
	json_object_object_add(o, "node", json_object_new_string(st.node));
	json_object_object_add(o, "mode", json_object_new_string(cluster_mode_name(st.mode)));
	json_object_object_add(o, "reason", st.reason ? json_object_new_string(st.reason) : NULL);
	json_object_object_add(o, "publish_interval_ms",
			       json_object_new_int64((int64_t)st.publish_ms));
	json_object_object_add(o, "heartbeat_interval_ms",
			       json_object_new_int64((int64_t)st.heartbeat_ms));
	json_object_object_add(
	    o, "stale_after_ms",
	    json_object_new_int64((int64_t)(CLUSTER_STALE_HEARTBEATS * st.heartbeat_ms)));
	json_object_object_add(o, "peers_fresh", json_object_new_int64((int64_t)st.n_fresh));
	json_object_object_add(o, "peers_stale", json_object_new_int64((int64_t)st.n_stale));
	json_object_object_add(o, "publisher", publisher_json(&st));
	json_object_object_add(o, "peers", peers_json(c));
	for (size_t i = 0; i < table->n; i++) {
		if (cluster_wants(&table->items[i]))
			json_object_array_add(svcs, service_json(c, &table->items[i]));
	}
	json_object_object_add(o, "services", svcs);
	return o;
}
