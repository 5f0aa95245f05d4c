/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Writes this node's SocklbNode object (cluster_report.h) when the policy
 * says (cluster_publish_policy.h), one request at a time, in the agent's
 * loop:
 *
 * - first it GETs its Node (/api/v1/nodes/NAME) for the uid, so that the
 *   object is owner-referenced to the Node and goes away with it (a Node
 *   the API does not know, 404: the object has no owner, said once);
 * - the first write creates the object (POST); 409 AlreadyExists (an
 *   earlier agent of this node made it) is followed by a GET for its
 *   resourceVersion and a replace;
 * - every later write replaces it (PUT) with the resourceVersion of the last
 *   write: 409 Conflict (someone else wrote it) re-reads it and retries, at
 *   most CLUSTER_WRITE_TRIES times per write, then counts as a failure; 404
 *   (deleted) creates it again.
 */
#ifndef SOCKLB_CLUSTER_PUBLISHER_H
#define SOCKLB_CLUSTER_PUBLISHER_H

#include <stdbool.h>
#include "cluster/cluster_publish_policy.h"
#include "cluster/cluster_report.h"
#include "lib/event_loop.h"
#include "sources/k8s/k8s_api.h"

#define CLUSTER_WRITE_TRIES 4

struct cluster_publisher_stats {
	unsigned long long writes;    /* objects written (created or replaced) */
	unsigned long long creates;   /* of which created */
	unsigned long long conflicts; /* 409 answers (each re-read and retried) */
	unsigned long long errors;    /* failed writes, re-reads and node lookups */
	double last_write_at;	      /* wall clock of the last write; 0: none */
	bool failing;		      /* the last write failed, none succeeded since */
	bool has_owner;		      /* the object is owner-referenced to the Node */
	const char *last_error;	      /* NULL: none yet */
};

struct cluster_publisher;

/* Writes report (the caller's, kept up to date) from now on; NULL if out of memory. */
struct cluster_publisher *cluster_publisher_start(struct event_loop *loop, struct k8s_api *api,
						  struct cluster_report *report,
						  const struct publish_policy *policy);
/* The report changed: write it within the policy. */
void cluster_publisher_changed(struct cluster_publisher *p);
void cluster_publisher_stats(const struct cluster_publisher *p,
			     struct cluster_publisher_stats *out);
/* Whether a write succeeded once and the last one did not fail. */
bool cluster_publisher_ok(const struct cluster_publisher *p);
void cluster_publisher_free(struct cluster_publisher *p);

#endif
