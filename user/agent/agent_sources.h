/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The agent's dynamic side beside the service table: the dns: source's
 * watches, started and stopped as the configured services come and go, and
 * the state file that tells `socklb status` about each service's source.
 */
#ifndef SOCKLB_AGENT_SOURCES_H
#define SOCKLB_AGENT_SOURCES_H

#include "agent/agent.h"
#include "model/service_table.h"
#include "lib/event_loop.h"
#include "agent/state_file.h"

struct agent_sources;

/*
 * Call after service_table_apply(specs) succeeded: starts the lookups of the
 * dns: services and writes the state file.  NULL (logged) on failure.
 */
struct agent_sources *agent_sources_start(struct event_loop *loop, struct service_table *table,
					  const struct agent_config *cfg,
					  const struct service_spec_list *specs,
					  const struct missing_privilege *missing,
					  size_t n_missing);
/* The k8s: source's informers and the cluster's (up to max into out); returns how many there are.
 */
size_t agent_sources_watches(const struct agent_sources *s, struct k8s_informer_health *out,
			     size_t max);
/* The cluster view (NULL without a k8s: source, or with --no-cluster). */
struct cluster *agent_sources_cluster(const struct agent_sources *s);
/* The k8s API client's counters (zero without a k8s: source). */
void agent_sources_k8s_api(const struct agent_sources *s, struct k8s_api_stats *out);
/* Call after each later service_table_apply (SIGHUP) with the same specs. */
void agent_sources_apply(struct agent_sources *s, const struct service_spec_list *specs);
/* Something status shows changed (e.g. a draining backend left): write the state file soon. */
void agent_sources_changed(struct agent_sources *s);
/* What status and metrics show of one service's source. */
struct state_service agent_sources_describe(const struct agent_sources *s,
					    const struct agent_service *svc);
/* Stops every lookup and removes the state file. */
void agent_sources_free(struct agent_sources *s);

#endif
