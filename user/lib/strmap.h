/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * A hash map from a string (copied) to a pointer (not owned), chained, grown
 * by doubling: the caches and indexes of the k8s: source, which hold one
 * entry per Service or EndpointSlice of a cluster (thousands).
 */
#ifndef SOCKLB_STRMAP_H
#define SOCKLB_STRMAP_H

#include <stddef.h>

struct strmap_node;

struct strmap {
	struct strmap_node **buckets;
	size_t n_buckets;
	size_t n;
};

/* The value under key, or NULL. */
void *strmap_get(const struct strmap *m, const char *key);
/* Sets key to value (replacing any); 0 or -ENOMEM. */
int strmap_put(struct strmap *m, const char *key, void *value);
/* Removes key; returns its value, or NULL if there was none. */
void *strmap_del(struct strmap *m, const char *key);
/* Calls fn for every entry (in no order); fn must not change the map. */
void strmap_each(const struct strmap *m, void (*fn)(void *arg, const char *key, void *value),
		 void *arg);
/* Forgets every entry (the values are the caller's). */
void strmap_clear(struct strmap *m);

#endif
