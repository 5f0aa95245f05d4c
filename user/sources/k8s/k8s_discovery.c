// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* --k8s-discover: every Service annotated socklb.io/enabled: "true" becomes a target. */
#include "sources/k8s/k8s_source_impl.h"
#include "lib/clock.h"
#include "lib/log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A Service a k8s: spec names is the spec's: discovery leaves it alone. */
bool k8s_named_by_spec(const struct k8s_source *s, const char *ns, const char *name)
{
	for (size_t i = 0; i < s->n; i++) {
		const struct k8s_target *t = s->targets[i];

		if (!t->discovered && !strcmp(t->ns, ns) && !strcmp(t->name, name))
			return true;
	}
	return false;
}

/* ------------------------------------------------------------- discovery */

ssize_t k8s_find_discovered(const struct k8s_source *s, const char *ns, const char *name)
{
	for (size_t i = 0; i < s->n; i++) {
		const struct k8s_target *t = s->targets[i];

		if (t->discovered && !strcmp(t->ns, ns) && !strcmp(t->name, name))
			return (ssize_t)i;
	}
	return -ENOENT;
}

static void discovery_reset(void *owner)
{
	struct k8s_source *s = owner;

	s->discovery_listing = true;
	for (size_t i = 0; i < s->n; i++)
		s->targets[i]->seen = false;
}

void k8s_undiscover(struct k8s_source *s, size_t index, const char *why)
{
	log_info("msg=\"k8s discovery: service no longer balanced\" service=%s/%s reason=%s",
		 s->targets[index]->ns, s->targets[index]->name, why);
	k8s_source_remove_target(s, index);
}

static struct k8s_target *discover(struct k8s_source *s, const struct k8s_service *svc)
{
	struct k8s_target *t;
	char source[400];

	snprintf(source, sizeof(source), "k8s:%s/%s", svc->ns, svc->name);
	t = k8s_target_new(s, source, svc->ns, svc->name, NULL);
	if (t) {
		t->discovered = true;
		t->sel.all_ports = true;
		t->svc_synced = true;
	}
	if (!t || k8s_source_add_target(s, t)) {
		log_error("msg=\"out of memory: discovered service not watched\" service=%s/%s",
			  svc->ns, svc->name);
		if (t)
			k8s_target_free(t, false);
		return NULL;
	}
	log_info("msg=\"k8s discovery: balancing service\" service=%s/%s", svc->ns, svc->name);
	if (k8s_target_start_watches(t))
		log_error("msg=\"out of memory: discovered service not watched\" service=%s/%s",
			  svc->ns, svc->name);
	return t;
}

static void discovery_object(void *owner, enum k8s_event_type type, json_object *obj)
{
	struct k8s_source *s = owner;
	struct k8s_service svc;
	struct k8s_target *t;
	ssize_t i;
	char err[256];

	if (k8s_service_parse(obj, &svc, err, sizeof(err))) {
		log_warn("msg=\"k8s discovery: ignoring a Service\" error=%s", log_q(err));
		return;
	}
	i = k8s_find_discovered(s, svc.ns, svc.name);
	if (type == K8S_EVENT_DELETED || !k8s_service_discoverable(&svc) ||
	    k8s_named_by_spec(s, svc.ns, svc.name)) {
		if (i >= 0)
			k8s_undiscover(s, (size_t)i,
				       type == K8S_EVENT_DELETED ? "deleted"
				       : k8s_named_by_spec(s, svc.ns, svc.name)
					   ? "named-by-a-k8s-spec"
					   : "not-annotated-or-no-cluster-ip");
		k8s_service_free(&svc);
		return;
	}
	t = i >= 0 ? s->targets[i] : discover(s, &svc);
	if (!t) {
		k8s_service_free(&svc);
		return;
	}
	t->seen = true;
	k8s_target_set_service(t, &svc);
	k8s_target_apply(t);
}

static void discovery_synced(void *owner)
{
	struct k8s_source *s = owner;

	if (!s->discovery_listing)
		return;
	s->discovery_listing = false;
	s->discovery_listed = true;
	for (size_t i = s->n; i-- > 0;) {
		if (s->targets[i]->discovered && !s->targets[i]->seen)
			k8s_undiscover(s, i, "gone-from-list");
	}
	k8s_source_notify(s);
}

static void discovery_health(void *owner, const char *error, const char *detail)
{
	struct k8s_source *s = owner;

	if (error && !s->discovery_error[0])
		log_warn("msg=\"k8s discovery state\" state=failing error=%s detail=%s "
			 "action=keep-discovered",
			 error, log_q(detail ? detail : ""));
	else if (!error && (s->discovery_error[0] || !s->discovery_ok))
		log_info("msg=\"k8s discovery state\" state=ok");
	snprintf(s->discovery_error, sizeof(s->discovery_error), "%s", error ? error : "");
	s->discovery_ok = !error;
}

const struct k8s_watcher_ops k8s_discovery_ops = {
    .reset = discovery_reset,
    .object = discovery_object,
    .synced = discovery_synced,
    .health = discovery_health,
};
