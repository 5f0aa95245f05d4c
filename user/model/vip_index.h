/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * A hash index from service address to a position, so that building and
 * applying 65,536 services takes linear time, not quadratic.
 */
#ifndef SOCKLB_VIP_INDEX_H
#define SOCKLB_VIP_INDEX_H

#include <stdbool.h>
#include <stddef.h>
#include "model/endpoint.h"

struct vip_slot {
	struct endpoint vip;
	size_t value;
	bool used;
};

/* All zero is an empty index. */
struct vip_index {
	struct vip_slot *slots;
	size_t cap; /* a power of two, or 0 */
	size_t n;
};

/* Maps vip to value (replacing an earlier value); -1 if out of memory. */
int vip_index_put(struct vip_index *ix, const struct endpoint *vip, size_t value);
bool vip_index_get(const struct vip_index *ix, const struct endpoint *vip, size_t *value);
void vip_index_free(struct vip_index *ix);

#endif
