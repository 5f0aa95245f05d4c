// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "model/vip_index.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* FNV-1a over the fields that make an address (padding left out). */
static size_t hash(const struct endpoint *vip)
{
	size_t h = 1469598103934665603ULL;

	for (size_t i = 0; i < sizeof(vip->addr.bytes); i++)
		h = (h ^ vip->addr.bytes[i]) * 1099511628211ULL;
	h = (h ^ vip->port) * 1099511628211ULL;
	return (h ^ vip->family) * 1099511628211ULL;
}

/* The slot holding vip, or the empty one where it would go. */
static struct vip_slot *find(const struct vip_index *ix, const struct endpoint *vip)
{
	size_t mask = ix->cap - 1;

	for (size_t i = hash(vip) & mask;; i = (i + 1) & mask) {
		struct vip_slot *s = &ix->slots[i];

		if (!s->used || endpoint_equal(&s->vip, vip))
			return s;
	}
}

/* Keeps the table at most half full, so probes stay short and always end. */
static int grow(struct vip_index *ix)
{
	struct vip_index bigger = {.cap = ix->cap ? 2 * ix->cap : 64};

	bigger.slots = calloc(bigger.cap, sizeof(*bigger.slots));
	if (!bigger.slots)
		return -ENOMEM;
	for (size_t i = 0; i < ix->cap; i++) {
		if (ix->slots[i].used)
			*find(&bigger, &ix->slots[i].vip) = ix->slots[i];
	}
	bigger.n = ix->n;
	free(ix->slots);
	*ix = bigger;
	return 0;
}

int vip_index_put(struct vip_index *ix, const struct endpoint *vip, size_t value)
{
	struct vip_slot *s;

	if (2 * (ix->n + 1) > ix->cap && grow(ix))
		return -ENOMEM;
	s = find(ix, vip);
	if (!s->used)
		ix->n++;
	s->vip = *vip;
	s->value = value;
	s->used = true;
	return 0;
}

bool vip_index_get(const struct vip_index *ix, const struct endpoint *vip, size_t *value)
{
	const struct vip_slot *s;

	if (!ix->cap)
		return false;
	s = find(ix, vip);
	if (s->used)
		*value = s->value;
	return s->used;
}

void vip_index_free(struct vip_index *ix)
{
	free(ix->slots);
	memset(ix, 0, sizeof(*ix));
}
