/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * What one node tells the others: a SocklbNode object (socklb.io/v1alpha1,
 * cluster-scoped, named after the node), with per service (VIP:PORT) per
 * backend (pod address:port) the node's balanced connections, when it last
 * said so (heartbeatTime) and how often it says so.  Both ways: this node's
 * report into the object it writes, and the objects the informer lists into
 * reports.  No I/O.
 *
 *   spec:
 *     heartbeatTime: "2026-11-25T10:00:00.123456Z"
 *     publishIntervalMilliseconds: 1000
 *     heartbeatIntervalMilliseconds: 30000
 *     services:
 *     - vip: 10.96.0.10:8080
 *       backends:
 *       - {address: 10.244.1.11:8080, connections: 2}
 */
#ifndef SOCKLB_CLUSTER_REPORT_H
#define SOCKLB_CLUSTER_REPORT_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include "model/endpoint.h"

#define CLUSTER_API_VERSION "socklb.io/v1alpha1"
#define CLUSTER_KIND "SocklbNode"
#define CLUSTER_NODES_PATH "/apis/socklb.io/v1alpha1/socklbnodes"
#define CLUSTER_NAME_LEN 254 /* a node name (RFC 1123 subdomain) and NUL */

struct cluster_count {
	struct endpoint backend;
	__u32 connections;
};

struct cluster_service_counts {
	struct endpoint vip;
	struct cluster_count *counts; /* sorted by backend, none zero */
	size_t n;
};

struct cluster_report {
	char name[CLUSTER_NAME_LEN];
	double heartbeat;		 /* wall clock of the report, seconds; 0: none */
	unsigned long long publish_ms;	 /* the reporter's --publish-interval (0: not said) */
	unsigned long long heartbeat_ms; /* its --heartbeat-interval (0: not said) */
	struct cluster_service_counts *services; /* sorted by VIP */
	size_t n_services, cap_services;
};

/* What the object says besides the report. */
struct cluster_object_meta {
	const char *resource_version; /* NULL: none (a create) */
	const char *owner_uid;	      /* the Node's uid, for ownerReferences; NULL: none */
};

/*
 * Makes counts[0..n) on backends[0..n) (any order; zeros dropped) the
 * report of service vip.  1 if that changed the report, 0 if not, -ENOMEM.
 */
int cluster_report_set(struct cluster_report *r, const struct endpoint *vip,
		       const struct endpoint *backends, const __u32 *counts, size_t n);
/* Keeps only the services keep(arg, vip) says; returns whether any went. */
bool cluster_report_retain(struct cluster_report *r,
			   bool (*keep)(void *arg, const struct endpoint *vip), void *arg);
/* The service's counts, or NULL. */
const struct cluster_service_counts *cluster_report_service(const struct cluster_report *r,
							    const struct endpoint *vip);
/* Connections on backend of that service (0 if none). */
__u32 cluster_report_count(const struct cluster_service_counts *s, const struct endpoint *backend);
void cluster_report_free(struct cluster_report *r);

/* The SocklbNode object for r (json_object_put it); NULL if out of memory. */
json_object *cluster_report_object(const struct cluster_report *r,
				   const struct cluster_object_meta *meta);
/* Fills out (zeroed first) from a SocklbNode object; -EINVAL with a message if it is not one. */
int cluster_report_parse(json_object *obj, struct cluster_report *out, char *err, size_t errlen);

/* RFC 3339 in UTC with microseconds, as Kubernetes writes MicroTime. */
void cluster_time_format(double t, char *buf, size_t len);
/* Parses RFC 3339 (UTC "Z", optional fraction); -EINVAL if it is not that. */
int cluster_time_parse(const char *text, double *out);

#endif
