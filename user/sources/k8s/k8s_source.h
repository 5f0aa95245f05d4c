/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The k8s: source at run time.  Two informers (k8s_informer.h), one of every
 * Service and one of every EndpointSlice of the cluster, on one API client
 * (one HTTP/2 connection), feed any number of targets: one per k8s: spec,
 * and with --k8s-discover one per Service annotated socklb.io/enabled: "true":
 *
 * - the Service (from the Services cache) gives the VIPs: every cluster IP
 *   (IPv4 and IPv6) on the selected TCP port(s), or the VIP the spec gives;
 * - its EndpointSlices (the slices cache, indexed by Service) give the
 *   backends: the ready endpoints of the VIP's family, on the slice port of
 *   the same name, merged over every slice, sorted, without duplicates;
 * - the backends are published through service_table_set_backends only when
 *   they changed; VIPs the spec does not name are added and removed with
 *   service_table_add_dynamic / remove_dynamic, so SIGHUP keeps them.
 *
 * Nothing is published before both informers listed once; an API outage
 * keeps the last known backends (k8s_watcher.h retries).  The API cost is
 * two watches whatever the number of services.
 */
#ifndef SOCKLB_SOURCE_K8S_H
#define SOCKLB_SOURCE_K8S_H

#include <stdbool.h>
#include "model/service_table.h"
#include "lib/event_loop.h"
#include "sources/k8s/k8s_api.h"
#include "agent/state_file.h"
#include "sources/k8s/k8s_informer.h"

struct k8s_source;

struct k8s_source_opts {
	struct k8s_api_config api;
	bool discover;		       /* --k8s-discover */
	const char *const *namespaces; /* --k8s-namespace; n_namespaces 0: every namespace */
	size_t n_namespaces;
	void (*changed)(void *arg); /* after every change worth a state file write */
	void *changed_arg;
};

/* What `socklb status` shows about one k8s: service. */
struct k8s_watch_status {
	const char *source; /* "k8s:default/web:grpc" */
	const char *state;  /* "pending", "ok", "failing" or "empty" */
	double last_refresh;
	const char *last_error;
	double last_error_at;
	unsigned long long refreshes;
	unsigned long long errors;
};

struct k8s_source *k8s_source_new(struct event_loop *loop, struct service_table *table,
				  const struct k8s_source_opts *opts, char *err, size_t errlen);
/*
 * Adds the targets of the k8s: specs not known yet, drops the others, and
 * lets discovery take back the Services no spec names any more.  Call after
 * service_table_apply with the same specs.
 */
void k8s_source_sync(struct k8s_source *s, const struct service_spec_list *specs);
/* False if vip is not one of a k8s: target's services. */
bool k8s_source_status(const struct k8s_source *s, const struct agent_service *svc,
		       struct k8s_watch_status *out);
/*
 * The targets with no service in the table yet (VIPs not known, or none):
 * state file entries without a VIP.  Fills up to max; returns how many there are.
 */
size_t k8s_source_unplaced(const struct k8s_source *s, struct state_service *out, size_t max);
/* The informers' health (up to max into out); returns how many there are. */
size_t k8s_source_watches(const struct k8s_source *s, struct k8s_informer_health *out, size_t max);
void k8s_source_api_stats(const struct k8s_source *s, struct k8s_api_stats *out);
/* The source's API client, for other informers and writers on the same connection. */
struct k8s_api *k8s_source_api(const struct k8s_source *s);
void k8s_source_free(struct k8s_source *s);

#endif
