/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Cluster-wide balance for the services of k8s: sources.  Every node's
 * agent publishes its node's balanced connections per backend in its own
 * SocklbNode object (cluster_publisher.h) and reads every node's object with
 * one informer on the k8s: source's API client (one HTTP/2 connection).
 * Then, per service, every pass (the rebalancer's tick):
 *
 * - this node's counts (live + connecting, and the connections it ended
 *   whose clients have not reconnected yet: they are coming back) go into
 *   its report;
 * - with the other nodes' fresh reports, the cluster plan (cluster_project.h)
 *   gives backend_extra (the others' projected connections, which least-conn
 *   adds to this node's own) and what this node ends: its own part of each
 *   excess, nothing of the others'.
 *
 * The view is up once the informer has listed and this node's first report
 * is written; while the informer or the publisher fails (the API is down,
 * RBAC refuses), the agent balances per node as without it, says so in
 * status and metrics, and zeroes backend_extra.  Services of static: and
 * dns: sources are always balanced per node.
 */
#ifndef SOCKLB_CLUSTER_H
#define SOCKLB_CLUSTER_H

#include <json-c/json.h>
#include <stdbool.h>
#include "datapath/maps.h"
#include "lib/event_loop.h"
#include "model/service_table.h"
#include "sources/k8s/k8s_api.h"
#include "sources/k8s/k8s_informer.h"

#define CLUSTER_MAX_SHOWN_PEERS 256

/* The agent's cluster options, as given. */
struct cluster_options {
	bool enabled;			 /* not --no-cluster */
	const char *node_name;		 /* --node-name (default $NODE_NAME, else the host name) */
	unsigned long long publish_ms;	 /* --publish-interval */
	unsigned long long heartbeat_ms; /* --heartbeat-interval */
};

/* What the cluster works with, besides its options. */
struct cluster_ctx {
	struct event_loop *loop;
	struct k8s_api *api; /* the k8s: source's */
	const struct lb_maps *maps;
	const struct service_table *table;
	__u32 threshold;		/* --imbalance-threshold */
	unsigned long long gone_ttl_ms; /* ended connections not back by then are gone */
	unsigned long long poll_ms;	/* its own passes, while no rebalancer drives it */
	void (*changed)(void *arg);	/* something status shows changed */
	void *changed_arg;
};

enum cluster_mode {
	CLUSTER_PENDING, /* the first list or the first write is not in yet: per node */
	CLUSTER_UP,	 /* balanced cluster-wide */
	CLUSTER_DOWN,	 /* the API fails: per node */
};

struct cluster_peer_status {
	const char *node;
	double last_report; /* wall clock of its heartbeat */
	bool fresh;
	size_t services;
};

struct cluster_status {
	const char *node;
	enum cluster_mode mode;
	const char *reason; /* why not up; NULL when up */
	unsigned long long publish_ms, heartbeat_ms;
	unsigned long long writes, creates, conflicts, errors;
	double last_write_at;
	const char *last_error;
	bool has_owner;
	size_t n_fresh, n_stale;
};

struct cluster;

/* NULL with err set (the agent then balances per node). */
struct cluster *cluster_start(const struct cluster_options *opts, const struct cluster_ctx *ctx,
			      char *err, size_t errlen);
void cluster_stop(struct cluster *c);

/*
 * The rebalancer makes the passes from now on (no polling of its own):
 * replan(arg) when the view changed and the services want another pass.
 * replan NULL: the cluster polls again.
 */
void cluster_drive(struct cluster *c, void (*replan)(void *arg), void *arg);

/* Reads a backend's counters (the rebalancer's snapshot, or the map). */
typedef int (*cluster_stats_fn)(void *arg, __u32 id, struct socklb_backend_stats *out);

/* A pass: begin, every service of the table, done. */
void cluster_pass_begin(struct cluster *c);
/*
 * svc's part of the pass.  Returns whether svc is balanced cluster-wide;
 * then excess[i] (if not NULL) is what this node ends now on
 * svc->backends.items[i]: its part of the plan, less what it ended already.
 */
bool cluster_service_pass(struct cluster *c, const struct agent_service *svc,
			  cluster_stats_fn read_stats, void *read_arg, __u64 *excess);
void cluster_pass_done(struct cluster *c);

void cluster_status(const struct cluster *c, struct cluster_status *out);
const char *cluster_mode_name(enum cluster_mode mode);
/* Up to max peers (every one the informer knows) into out; returns how many there are. */
size_t cluster_peers(const struct cluster *c, struct cluster_peer_status *out, size_t max);
/* The fresh peers' connections on backend of service vip (as they reported them). */
__u32 cluster_peer_connections(const struct cluster *c, const struct endpoint *vip,
			       const struct endpoint *backend);
/*
 * Whether svc's connections, counted over the whole cluster at the last
 * pass, divide evenly over its backends: then counts alone balance it and
 * the time-fair rotation leaves it to the cluster plan.  false when the
 * cluster's counts are not known: the rotation goes on per node.
 */
bool cluster_divides(struct cluster *c, const struct agent_service *svc);
/*
 * Where this node's time-fair rotation of svc starts: the connections the
 * fresh peers named before this node held on svc at the last pass.
 */
__u32 cluster_rotation_offset(struct cluster *c, const struct agent_service *svc);
/* Whether svc is a service the cluster balances (its source is k8s:). */
bool cluster_wants(const struct agent_service *svc);
void cluster_informer_health(const struct cluster *c, struct k8s_informer_health *out);

/*
 * cluster_state.c: the state file's "cluster" section (json_object_put it):
 * the mode and why, the publisher's counters, every peer with its last
 * report, and the fresh peers' connections on each backend of the table's
 * k8s: services, which `socklb status` adds to the node's own.
 */
json_object *cluster_state_json(const struct cluster *c, const struct service_table *table);

#endif
