// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "sources/k8s/k8s_informer.h"
#include "lib/array.h"
#include "lib/clock.h"
#include "lib/log.h"
#include "sources/k8s/k8s_watcher.h"

#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct handler {
	const struct k8s_handler_ops *ops;
	void *arg;
};

struct k8s_informer {
	struct k8s_api *api;
	struct event_loop *loop;
	const struct k8s_resource *res;
	char ns[64];	/* "" : every namespace */
	char what[128]; /* "services" or "services in default" */
	struct k8s_watcher *watcher;
	struct k8s_cache cache;
	struct k8s_cache staging; /* the list coming in, page by page */
	struct handler *handlers;
	size_t n_handlers, cap_handlers;
	bool synced;
	enum { INF_PENDING, INF_OK, INF_FAILING } state;
	char error[64];
	char detail[256];
	double last_refresh, last_error_at;
	unsigned long long lists, events, errors;
};

static void list_start(void *owner)
{
	struct k8s_informer *inf = owner;

	k8s_cache_free(&inf->staging);
	k8s_cache_init(&inf->staging, inf->res);
}

static void notify_changed(struct k8s_informer *inf, const struct k8s_change *c)
{
	for (size_t i = 0; i < inf->n_handlers; i++) {
		if (inf->handlers[i].ops->changed)
			inf->handlers[i].ops->changed(inf->handlers[i].arg, c);
	}
}

/* A watch event: into the cache, then to every handler. */
static void take_event(struct k8s_informer *inf, enum k8s_event_type type, json_object *obj,
		       const char *key)
{
	char old_index[320], err[256];
	const struct k8s_cache_entry *e;
	void *parsed = NULL;
	int ret;

	if (type != K8S_EVENT_DELETED && !(parsed = inf->res->parse(obj, err, sizeof(err)))) {
		log_warn("msg=\"k8s: ignoring an object\" watch=%s key=%s error=%s",
			 log_q(inf->what), log_q(key), log_q(err));
		return;
	}
	ret = parsed ? k8s_cache_put(&inf->cache, key, parsed, old_index, sizeof(old_index))
		     : k8s_cache_del(&inf->cache, key, old_index, sizeof(old_index));
	if (ret == -ENOMEM)
		log_error("msg=\"out of memory for a Kubernetes object\" watch=%s key=%s",
			  log_q(inf->what), log_q(key));
	if (ret)
		return;
	inf->events++;
	inf->last_refresh = wall_now(); /* an event is an answer too */
	e = parsed ? k8s_cache_entry(&inf->cache, key) : NULL;
	notify_changed(inf, &(struct k8s_change){
				.key = key,
				.obj = e ? e->obj : NULL,
				.index = e && e->index ? e->index : "",
				.old_index = old_index,
			    });
}

static void on_object(void *owner, enum k8s_event_type type, json_object *obj)
{
	struct k8s_informer *inf = owner;
	char key[320], err[256];
	void *parsed;

	if (k8s_object_key(obj, inf->ns, key, sizeof(key))) {
		log_warn("msg=\"k8s: ignoring an object without a usable name\" watch=%s",
			 log_q(inf->what));
		return;
	}
	if (type != K8S_EVENT_ADDED || !inf->staging.res) {
		take_event(inf, type, obj, key);
		return;
	}
	/* A list item: into the copy that replaces the cache when the list is whole. */
	parsed = inf->res->parse(obj, err, sizeof(err));
	if (!parsed)
		log_warn("msg=\"k8s: ignoring an object\" watch=%s key=%s error=%s",
			 log_q(inf->what), log_q(key), log_q(err));
	else if (k8s_cache_put(&inf->staging, key, parsed, NULL, 0))
		log_error("msg=\"out of memory for a Kubernetes object\" watch=%s key=%s",
			  log_q(inf->what), log_q(key));
}

static void list_done(void *owner)
{
	struct k8s_informer *inf = owner;

	k8s_cache_swap(&inf->cache, &inf->staging);
	k8s_cache_free(&inf->staging);
	memset(&inf->staging, 0, sizeof(inf->staging)); /* no list coming in */
	/*
	 * The pages' JSON trees and the old cache were many small blocks, which
	 * glibc keeps after free: give them back, or a relist leaves the agent
	 * that much bigger for good.
	 */
	malloc_trim(0);
	inf->synced = true;
	inf->lists++;
	log_debug("msg=\"k8s list\" watch=%s objects=%zu", log_q(inf->what),
		  k8s_cache_count(&inf->cache));
	for (size_t i = 0; i < inf->n_handlers; i++) {
		if (inf->handlers[i].ops->synced)
			inf->handlers[i].ops->synced(inf->handlers[i].arg);
	}
}

static const char *const state_names[] = {"pending", "ok", "failing"};

/* One log line per change of state, never one per retry. */
static void on_health(void *owner, const char *error, const char *detail)
{
	struct k8s_informer *inf = owner;
	int from = inf->state;

	if (error) {
		inf->state = INF_FAILING;
		inf->errors++;
		inf->last_error_at = wall_now();
		snprintf(inf->error, sizeof(inf->error), "%s", error);
		snprintf(inf->detail, sizeof(inf->detail), "%s", detail ? detail : "");
	} else {
		inf->state = INF_OK;
		inf->last_refresh = wall_now();
	}
	if ((int)inf->state == from)
		return;
	if (inf->state == INF_OK)
		log_info("msg=\"k8s watch state\" watch=%s from=%s state=ok", log_q(inf->what),
			 state_names[from]);
	else
		log_warn("msg=\"k8s watch state\" watch=%s from=%s state=failing error=%s "
			 "detail=%s action=keep-last-known",
			 log_q(inf->what), state_names[from], inf->error, log_q(inf->detail));
	for (size_t i = 0; i < inf->n_handlers; i++) {
		if (inf->handlers[i].ops->health)
			inf->handlers[i].ops->health(inf->handlers[i].arg);
	}
}

static const struct k8s_watcher_ops watcher_ops = {
    .list_start = list_start,
    .object = on_object,
    .list_done = list_done,
    .health = on_health,
};

struct k8s_informer *k8s_informer_new(struct k8s_api *api, struct event_loop *loop,
				      const struct k8s_resource *res, const char *ns)
{
	struct k8s_informer *inf = calloc(1, sizeof(*inf));

	if (!inf)
		return NULL;
	inf->api = api;
	inf->loop = loop;
	inf->res = res;
	snprintf(inf->ns, sizeof(inf->ns), "%s", ns ? ns : "");
	snprintf(inf->what, sizeof(inf->what), ns ? "%s in %s" : "%s", res->name, ns);
	k8s_cache_init(&inf->cache, res);
	return inf;
}

int k8s_informer_add_handler(struct k8s_informer *inf, const struct k8s_handler_ops *ops, void *arg)
{
	if (ARRAY_RESERVE(inf->handlers, inf->cap_handlers, inf->n_handlers))
		return -ENOMEM;
	inf->handlers[inf->n_handlers++] = (struct handler){ops, arg};
	return 0;
}

int k8s_informer_start(struct k8s_informer *inf)
{
	char path[512];

	if (inf->ns[0])
		snprintf(path, sizeof(path), inf->res->ns_path, inf->ns);
	else
		snprintf(path, sizeof(path), "%s", inf->res->path);
	inf->watcher = k8s_watcher_start(
	    inf->api, inf->loop, &(struct k8s_watcher_params){inf->what, path}, &watcher_ops, inf);
	return inf->watcher ? 0 : -ENOMEM;
}

void k8s_informer_free(struct k8s_informer *inf)
{
	if (!inf)
		return;
	k8s_watcher_free(inf->watcher);
	k8s_cache_free(&inf->cache);
	if (inf->staging.res)
		k8s_cache_free(&inf->staging);
	free(inf->handlers);
	free(inf);
}

const struct k8s_cache *k8s_informer_cache(const struct k8s_informer *inf)
{
	return &inf->cache;
}

bool k8s_informer_synced(const struct k8s_informer *inf)
{
	return inf->synced;
}

void k8s_informer_health(const struct k8s_informer *inf, struct k8s_informer_health *out)
{
	*out = (struct k8s_informer_health){
	    .resource = inf->res->name,
	    .ns = inf->ns,
	    .ok = inf->state == INF_OK,
	    .synced = inf->synced,
	    .error = inf->state == INF_FAILING ? inf->error : NULL,
	    .detail = inf->state == INF_FAILING ? inf->detail : NULL,
	    .last_refresh = inf->last_refresh,
	    .last_error_at = inf->last_error_at,
	    .lists = inf->lists,
	    .events = inf->events,
	    .errors = inf->errors,
	    .objects = k8s_cache_count(&inf->cache),
	};
}
