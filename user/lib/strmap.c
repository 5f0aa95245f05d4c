// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "lib/strmap.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define STRMAP_FIRST_BUCKETS 64

struct strmap_node {
	struct strmap_node *next;
	void *value;
	char key[]; /* NUL-terminated */
};

/* FNV-1a: short keys ("namespace/name"), no adversary to defend against. */
static size_t hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return (size_t)h;
}

static struct strmap_node **slot(const struct strmap *m, const char *key)
{
	struct strmap_node **p = &m->buckets[hash(key) & (m->n_buckets - 1)];

	while (*p && strcmp((*p)->key, key))
		p = &(*p)->next;
	return p;
}

void *strmap_get(const struct strmap *m, const char *key)
{
	struct strmap_node *node = m->n_buckets ? *slot(m, key) : NULL;

	return node ? node->value : NULL;
}

/* Doubles the buckets once there are as many entries: chains stay short. */
static int grow(struct strmap *m)
{
	size_t want = m->n_buckets ? 2 * m->n_buckets : STRMAP_FIRST_BUCKETS;
	struct strmap_node **buckets;

	if (m->n < m->n_buckets)
		return 0;
	if (want > SIZE_MAX / sizeof(*buckets))
		return -ENOMEM;
	buckets = calloc(want, sizeof(*buckets));
	if (!buckets)
		return -ENOMEM;
	for (size_t i = 0; i < m->n_buckets; i++) {
		for (struct strmap_node *node = m->buckets[i], *next; node; node = next) {
			size_t b = hash(node->key) & (want - 1);

			next = node->next;
			node->next = buckets[b];
			buckets[b] = node;
		}
	}
	free(m->buckets);
	m->buckets = buckets;
	m->n_buckets = want;
	return 0;
}

int strmap_put(struct strmap *m, const char *key, void *value)
{
	struct strmap_node **p, *node;
	size_t len = strlen(key);

	if (grow(m))
		return -ENOMEM;
	p = slot(m, key);
	if (*p) {
		(*p)->value = value;
		return 0;
	}
	node = malloc(sizeof(*node) + len + 1);
	if (!node)
		return -ENOMEM;
	memcpy(node->key, key, len + 1);
	node->value = value;
	node->next = NULL;
	*p = node;
	m->n++;
	return 0;
}

void *strmap_del(struct strmap *m, const char *key)
{
	struct strmap_node **p, *node;
	void *value;

	if (!m->n_buckets)
		return NULL;
	p = slot(m, key);
	node = *p;
	if (!node)
		return NULL;
	*p = node->next;
	value = node->value;
	free(node);
	m->n--;
	return value;
}

void strmap_each(const struct strmap *m, void (*fn)(void *arg, const char *key, void *value),
		 void *arg)
{
	for (size_t i = 0; i < m->n_buckets; i++) {
		for (struct strmap_node *node = m->buckets[i]; node; node = node->next)
			fn(arg, node->key, node->value);
	}
}

void strmap_clear(struct strmap *m)
{
	for (size_t i = 0; i < m->n_buckets; i++) {
		for (struct strmap_node *node = m->buckets[i], *next; node; node = next) {
			next = node->next;
			free(node);
		}
	}
	free(m->buckets);
	memset(m, 0, sizeof(*m));
}
