/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Hands out small integer ids (1 .. limit-1) for services and backends. */
#ifndef SOCKLB_ID_POOL_H
#define SOCKLB_ID_POOL_H

#include <stddef.h>
#include <linux/types.h>

struct id_pool {
	__u32 limit; /* ids are below this; 0 is never handed out */
	__u32 next_fresh;
	__u32 *released;
	size_t n_released, cap_released;
};

void id_pool_init(struct id_pool *pool, __u32 limit);
/* Returns 0 when every id is in use. */
__u32 id_pool_alloc(struct id_pool *pool);
/* Returns -1 if the id cannot be kept for reuse (out of memory). */
int id_pool_release(struct id_pool *pool, __u32 id);
void id_pool_free(struct id_pool *pool);
/*
 * For a fresh pool: the ids in used are taken (by maps an earlier agent
 * left), every other id is free.  Returns -1 if an id is out of range.
 */
int id_pool_mark_used(struct id_pool *pool, const __u32 *used, size_t n);

#endif
