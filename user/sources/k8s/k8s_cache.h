/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The local copy of one kind of Kubernetes object, keyed by
 * "namespace/name", holding each object parsed (by its resource's parse
 * function), with an optional index: a second key per object (an
 * EndpointSlice's Service), so that every object of one index key is found
 * without a scan.  No I/O: k8s_informer.c fills it from the API.
 */
#ifndef SOCKLB_K8S_CACHE_H
#define SOCKLB_K8S_CACHE_H

#include <json-c/json.h>
#include <stddef.h>
#include "lib/strmap.h"

/* One kind of object, as the API serves it and the cache keeps it. */
struct k8s_resource {
	const char *name;    /* "services", for logs and metrics */
	const char *path;    /* every namespace: "/api/v1/services" */
	const char *ns_path; /* one namespace, "%s" for it: "/api/v1/namespaces/%s/services" */
	/* The object as the cache keeps it; NULL (err says why) to ignore it. */
	void *(*parse)(json_object *obj, char *err, size_t errlen);
	void (*free)(void *obj);
	/* Optional: the object's index value ("web" for a slice of Service web); NULL: none. */
	const char *(*index)(const void *obj);
};

struct k8s_cache_entry {
	char *key;   /* "namespace/name" */
	char *index; /* "namespace/" + the index value, or NULL */
	void *obj;
	size_t index_pos; /* where it sits in its index bucket */
};

struct k8s_cache {
	const struct k8s_resource *res;
	struct strmap objects; /* key -> struct k8s_cache_entry */
	struct strmap index;   /* index key -> struct k8s_cache_bucket */
};

void k8s_cache_init(struct k8s_cache *c, const struct k8s_resource *res);
/* Frees every object. */
void k8s_cache_free(struct k8s_cache *c);
/* Exchanges the contents of two caches of the same resource (a list's staging copy). */
void k8s_cache_swap(struct k8s_cache *a, struct k8s_cache *b);
size_t k8s_cache_count(const struct k8s_cache *c);

/*
 * Takes obj (parsed, now the cache's) as the object under key, freeing the
 * one it replaces.  old_index (if not NULL, of size len) gets the replaced
 * object's index key ("" if none).  0 or -ENOMEM (obj freed).
 */
int k8s_cache_put(struct k8s_cache *c, const char *key, void *obj, char *old_index, size_t len);
/* Removes and frees the object under key; old_index as for put.  -ENOENT if none. */
int k8s_cache_del(struct k8s_cache *c, const char *key, char *old_index, size_t len);
/* The object under key, or NULL. */
const void *k8s_cache_get(const struct k8s_cache *c, const char *key);
/* The entry under key, or NULL. */
const struct k8s_cache_entry *k8s_cache_entry(const struct k8s_cache *c, const char *key);
/*
 * The objects whose index key is index_key ("namespace/value"): *n of them,
 * entries valid until the cache changes.
 */
struct k8s_cache_entry *const *k8s_cache_indexed(const struct k8s_cache *c, const char *index_key,
						 size_t *n);
/* Calls fn for every entry, in no order; fn must not change the cache. */
void k8s_cache_each(const struct k8s_cache *c,
		    void (*fn)(void *arg, const struct k8s_cache_entry *e), void *arg);

/* "namespace/name" into buf (of len); -ENAMETOOLONG if it does not fit. */
int k8s_key(char *buf, size_t len, const char *ns, const char *name);
/*
 * The key of an object as the API hands it over: its metadata's namespace
 * (ns when it has none: a one-namespace watch) and name.  -EINVAL if it has
 * no name, -ENAMETOOLONG.
 */
int k8s_object_key(json_object *obj, const char *ns, char *key, size_t len);

#endif
