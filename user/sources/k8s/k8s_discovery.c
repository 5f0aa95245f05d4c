// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * --k8s-discover: every Service annotated socklb.io/enabled: "true" becomes a
 * target, read from the Services informer's cache (no request of its own).
 */
#include "sources/k8s/k8s_source_impl.h"
#include "lib/log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A Service a k8s: spec names is the spec's: discovery leaves it alone. */
static bool named_by_spec(const struct k8s_source *s, const char *key)
{
	for (const struct k8s_target *t = strmap_get(&s->by_key, key); t; t = t->same_next) {
		if (!t->discovered)
			return true;
	}
	return false;
}

static struct k8s_target *discovered_of(const struct k8s_source *s, const char *key)
{
	for (struct k8s_target *t = strmap_get(&s->by_key, key); t; t = t->same_next) {
		if (t->discovered)
			return t;
	}
	return NULL;
}

ssize_t k8s_find_discovered(const struct k8s_source *s, const char *ns, const char *name)
{
	char key[sizeof(((struct k8s_target *)0)->key)];
	const struct k8s_target *t;

	if (k8s_key(key, sizeof(key), ns, name))
		return -ENOENT;
	t = discovered_of(s, key);
	return t ? (ssize_t)t->pos : -ENOENT;
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
	}
	if (!t || k8s_source_add_target(s, t)) {
		log_error("msg=\"out of memory: discovered service not balanced\" service=%s/%s",
			  svc->ns, svc->name);
		if (t)
			k8s_target_free(t, false);
		return NULL;
	}
	log_info("msg=\"k8s discovery: balancing service\" service=%s/%s", svc->ns, svc->name);
	k8s_target_apply(t);
	return t;
}

/* Why the Service under key is not (any more) discovery's, or NULL if it is. */
static const char *not_discoverable(const struct k8s_source *s, const char *key,
				    const struct k8s_service *svc)
{
	if (!svc)
		return "deleted";
	if (named_by_spec(s, key))
		return "named-by-a-k8s-spec";
	if (!k8s_service_discoverable(svc))
		return "not-annotated-or-no-cluster-ip";
	return NULL;
}

/* Discovers or forgets the Service under key, as the cache has it now. */
/* The Service under key ("ns/name") in the cache of its namespace, or NULL. */
static const struct k8s_service *cached_service(const struct k8s_source *s, const char *key)
{
	const char *slash = strchr(key, '/');
	char ns[K8S_NAME_LEN];
	const struct k8s_scope *scope;

	snprintf(ns, sizeof(ns), "%.*s", slash ? (int)(slash - key) : 0, key);
	scope = k8s_source_scope(s, ns);
	return scope ? k8s_cache_get(k8s_informer_cache(scope->services), key) : NULL;
}

static void reconcile_one(struct k8s_source *s, const char *key)
{
	const struct k8s_service *svc = cached_service(s, key);
	struct k8s_target *t = discovered_of(s, key);
	const char *why = not_discoverable(s, key, svc);

	if (t && why) {
		k8s_undiscover(s, t->pos, why);
		return;
	}
	if (!t && !why)
		t = discover(s, svc);
	if (t)
		t->seen = true;
}

static void reconcile_entry(void *arg, const struct k8s_cache_entry *e)
{
	reconcile_one(arg, e->key);
}

void k8s_discovery_reconcile(struct k8s_source *s, const char *key)
{
	if (!s->opts.discover || !k8s_source_services_synced(s))
		return;
	if (key) {
		reconcile_one(s, key);
		return;
	}
	for (size_t i = 0; i < s->n; i++)
		s->targets[i]->seen = false;
	for (size_t i = 0; i < s->n_scopes; i++)
		k8s_cache_each(k8s_informer_cache(s->scopes[i].services), reconcile_entry, s);
	for (size_t i = s->n; i-- > 0;) {
		if (s->targets[i]->discovered && !s->targets[i]->seen)
			k8s_undiscover(s, i, "gone-from-list");
	}
}
