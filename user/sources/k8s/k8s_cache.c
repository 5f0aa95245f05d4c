// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "sources/k8s/k8s_cache.h"
#include "lib/array.h"
#include "sources/k8s/k8s_objects.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Every entry of one index key. */
struct k8s_cache_bucket {
	struct k8s_cache_entry **items;
	size_t n, cap;
};

int k8s_key(char *buf, size_t len, const char *ns, const char *name)
{
	int n = snprintf(buf, len, "%s/%s", ns, name);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int k8s_object_key(json_object *obj, const char *ns, char *key, size_t len)
{
	const char *name = k8s_get_str(obj, "metadata.name");
	const char *obj_ns = k8s_get_str(obj, "metadata.namespace");

	if (!name || !name[0])
		return -EINVAL;
	return k8s_key(key, len, obj_ns ? obj_ns : ns, name);
}

void k8s_cache_init(struct k8s_cache *c, const struct k8s_resource *res)
{
	memset(c, 0, sizeof(*c));
	c->res = res;
}

size_t k8s_cache_count(const struct k8s_cache *c)
{
	return c->objects.n;
}

static int index_add(struct k8s_cache *c, struct k8s_cache_entry *e)
{
	struct k8s_cache_bucket *b = strmap_get(&c->index, e->index);

	if (!b) {
		b = calloc(1, sizeof(*b));
		if (!b || strmap_put(&c->index, e->index, b)) {
			free(b);
			return -ENOMEM;
		}
	}
	if (ARRAY_RESERVE(b->items, b->cap, b->n))
		return -ENOMEM;
	e->index_pos = b->n;
	b->items[b->n++] = e;
	return 0;
}

static void index_remove(struct k8s_cache *c, struct k8s_cache_entry *e)
{
	struct k8s_cache_bucket *b = strmap_get(&c->index, e->index);

	if (!b || e->index_pos >= b->n || b->items[e->index_pos] != e)
		return;
	b->items[e->index_pos] = b->items[--b->n];
	b->items[e->index_pos]->index_pos = e->index_pos;
	if (b->n == 0) {
		strmap_del(&c->index, e->index);
		free(b->items);
		free(b);
	}
}

/* The index key of obj in namespace ns (from key "ns/name"), or NULL. */
static char *index_key_of(const struct k8s_cache *c, const char *key, const void *obj)
{
	const char *value = c->res->index ? c->res->index(obj) : NULL;
	const char *slash = strchr(key, '/');
	char *out;

	if (!value || !value[0] || !slash)
		return NULL;
	if (asprintf(&out, "%.*s/%s", (int)(slash - key), key, value) < 0)
		return NULL;
	return out;
}

static void entry_free(struct k8s_cache *c, struct k8s_cache_entry *e)
{
	if (e->index)
		index_remove(c, e);
	c->res->free(e->obj);
	free(e->index);
	free(e->key);
	free(e);
}

static void note_old_index(const struct k8s_cache_entry *old, char *buf, size_t len)
{
	if (buf && len)
		snprintf(buf, len, "%s", old && old->index ? old->index : "");
}

int k8s_cache_put(struct k8s_cache *c, const char *key, void *obj, char *old_index, size_t len)
{
	struct k8s_cache_entry *old = strmap_get(&c->objects, key);
	struct k8s_cache_entry *e = calloc(1, sizeof(*e));

	note_old_index(old, old_index, len);
	if (!e || !(e->key = strdup(key)))
		goto oom;
	e->obj = obj;
	e->index = index_key_of(c, key, obj);
	if (e->index && index_add(c, e))
		goto oom;
	if (strmap_put(&c->objects, key, e)) {
		index_remove(c, e);
		goto oom;
	}
	if (old)
		entry_free(c, old);
	return 0;
oom:
	if (e) {
		free(e->index);
		free(e->key);
		free(e);
	}
	c->res->free(obj);
	return -ENOMEM;
}

int k8s_cache_del(struct k8s_cache *c, const char *key, char *old_index, size_t len)
{
	struct k8s_cache_entry *old = strmap_del(&c->objects, key);

	note_old_index(old, old_index, len);
	if (!old)
		return -ENOENT;
	entry_free(c, old);
	return 0;
}

const struct k8s_cache_entry *k8s_cache_entry(const struct k8s_cache *c, const char *key)
{
	return strmap_get(&c->objects, key);
}

const void *k8s_cache_get(const struct k8s_cache *c, const char *key)
{
	const struct k8s_cache_entry *e = k8s_cache_entry(c, key);

	return e ? e->obj : NULL;
}

struct k8s_cache_entry *const *k8s_cache_indexed(const struct k8s_cache *c, const char *index_key,
						 size_t *n)
{
	const struct k8s_cache_bucket *b = strmap_get(&c->index, index_key);

	*n = b ? b->n : 0;
	return b ? b->items : NULL;
}

struct each_args {
	void (*fn)(void *arg, const struct k8s_cache_entry *e);
	void *arg;
};

static void each_one(void *arg, const char *key, void *value)
{
	struct each_args *a = arg;

	(void)key;
	a->fn(a->arg, value);
}

void k8s_cache_each(const struct k8s_cache *c,
		    void (*fn)(void *arg, const struct k8s_cache_entry *e), void *arg)
{
	struct each_args a = {fn, arg};

	strmap_each(&c->objects, each_one, &a);
}

static void free_entry_cb(void *arg, const char *key, void *value)
{
	struct k8s_cache_entry *e = value;
	struct k8s_cache *c = arg;

	(void)key;
	c->res->free(e->obj);
	free(e->index);
	free(e->key);
	free(e);
}

static void free_bucket_cb(void *arg, const char *key, void *value)
{
	struct k8s_cache_bucket *b = value;

	(void)arg;
	(void)key;
	free(b->items);
	free(b);
}

void k8s_cache_free(struct k8s_cache *c)
{
	strmap_each(&c->objects, free_entry_cb, c);
	strmap_each(&c->index, free_bucket_cb, NULL);
	strmap_clear(&c->objects);
	strmap_clear(&c->index);
}

void k8s_cache_swap(struct k8s_cache *a, struct k8s_cache *b)
{
	struct k8s_cache t = *a;

	*a = *b;
	*b = t;
}
