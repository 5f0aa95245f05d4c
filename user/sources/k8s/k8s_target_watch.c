// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The two watches of a target: its Service and its EndpointSlices. */
#include "sources/k8s/k8s_source_impl.h"
#include "lib/clock.h"
#include "lib/log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------- watch callbacks */

static void target_health(struct k8s_target *t, enum watch_kind kind, const char *error,
			  const char *detail)
{
	if (error) {
		snprintf(t->api_error[kind], sizeof(t->api_error[kind]), "%s", error);
		snprintf(t->api_detail, sizeof(t->api_detail), "%s", detail ? detail : "");
		k8s_target_record_error(t, error);
	} else {
		t->api_error[kind][0] = '\0';
		t->last_refresh = wall_now();
	}
	k8s_target_update_state(t);
}

static void svc_reset(void *owner)
{
	struct k8s_target *t = owner;

	t->svc_exists = false;
	k8s_service_free(&t->svc);
}

void k8s_target_set_service(struct k8s_target *t, struct k8s_service *svc)
{
	k8s_service_free(&t->svc);
	t->svc = *svc;
	memset(svc, 0, sizeof(*svc));
	t->svc_exists = true;
}

static void svc_object(void *owner, enum k8s_event_type type, json_object *obj)
{
	struct k8s_target *t = owner;
	struct k8s_service svc;
	char err[256];

	if (type == K8S_EVENT_DELETED) {
		svc_reset(t);
		return;
	}
	if (k8s_service_parse(obj, &svc, err, sizeof(err))) {
		log_warn("msg=\"k8s: ignoring a Service\" source=%s error=%s", log_q(t->source),
			 log_q(err));
		return;
	}
	/* The list and the watch select this one Service by name. */
	k8s_target_set_service(t, &svc);
}

static void svc_synced(void *owner)
{
	struct k8s_target *t = owner;

	t->svc_synced = true;
	t->refreshes++;
	t->last_refresh = wall_now();
	k8s_target_apply(t);
}

static void svc_health(void *owner, const char *error, const char *detail)
{
	target_health(owner, WATCH_SERVICE, error, detail);
}

static const struct k8s_watcher_ops svc_ops = {
    .reset = svc_reset,
    .object = svc_object,
    .synced = svc_synced,
    .health = svc_health,
};

static void slices_reset(void *owner)
{
	struct k8s_target *t = owner;

	k8s_slice_set_clear(&t->slices);
}

static void slices_object(void *owner, enum k8s_event_type type, json_object *obj)
{
	struct k8s_target *t = owner;
	char err[256];
	int ret = k8s_slice_set_event(&t->slices, type == K8S_EVENT_DELETED, obj, err, sizeof(err));

	if (ret == -ENOMEM)
		log_error("msg=\"out of memory for an EndpointSlice\" source=%s", log_q(t->source));
	else if (ret)
		log_warn("msg=\"k8s: ignoring an EndpointSlice\" source=%s error=%s",
			 log_q(t->source), log_q(err));
}

static void slices_synced(void *owner)
{
	struct k8s_target *t = owner;

	t->slices_synced = true;
	t->refreshes++;
	t->last_refresh = wall_now();
	k8s_target_apply(t);
}

static void slices_health(void *owner, const char *error, const char *detail)
{
	target_health(owner, WATCH_SLICES, error, detail);
}

static const struct k8s_watcher_ops slices_ops = {
    .reset = slices_reset,
    .object = slices_object,
    .synced = slices_synced,
    .health = slices_health,
};

/* --------------------------------------------------------------- targets */

int k8s_target_start_watches(struct k8s_target *t)
{
	struct k8s_source *s = t->src;
	char what[384], list[1024];
	size_t used;

	if (!t->discovered) {
		/*
		 * The one Service, by field selector: the list's resourceVersion is
		 * current, so the watch can start from it (see k8s_watcher.h).
		 */
		snprintf(what, sizeof(what), "service %s/%s", t->ns, t->name);
		snprintf(list, sizeof(list),
			 "/api/v1/namespaces/%s/services?fieldSelector=", t->ns);
		used = strlen(list);
		k8s_url_escape(list, sizeof(list), &used, "metadata.name=");
		k8s_url_escape(list, sizeof(list), &used, t->name);
		t->svc_watch = k8s_watcher_start(
		    s->api, s->loop, &(struct k8s_watcher_params){what, list, list}, &svc_ops, t);
		if (!t->svc_watch)
			return -ENOMEM;
	}
	snprintf(what, sizeof(what), "endpointslices %s/%s", t->ns, t->name);
	snprintf(list, sizeof(list),
		 "/apis/discovery.k8s.io/v1/namespaces/%s/endpointslices?labelSelector=", t->ns);
	used = strlen(list);
	k8s_url_escape(list, sizeof(list), &used, "kubernetes.io/service-name=");
	k8s_url_escape(list, sizeof(list), &used, t->name);
	t->slice_watch = k8s_watcher_start(
	    s->api, s->loop, &(struct k8s_watcher_params){what, list, list}, &slices_ops, t);
	return t->slice_watch ? 0 : -1;
}

/* from_table: also take its dynamic services out of the table (not when the agent stops). */
