// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "model/id_pool.h"
#include "lib/array.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

void id_pool_init(struct id_pool *pool, __u32 limit)
{
	memset(pool, 0, sizeof(*pool));
	pool->limit = limit;
	pool->next_fresh = 1;
}

__u32 id_pool_alloc(struct id_pool *pool)
{
	if (pool->n_released)
		return pool->released[--pool->n_released];
	if (pool->next_fresh >= pool->limit)
		return 0;
	return pool->next_fresh++;
}

int id_pool_release(struct id_pool *pool, __u32 id)
{
	if (id == 0 || id >= pool->limit)
		return 0;
	if (ARRAY_RESERVE(pool->released, pool->cap_released, pool->n_released))
		return -ENOMEM;
	pool->released[pool->n_released++] = id;
	return 0;
}

void id_pool_free(struct id_pool *pool)
{
	free(pool->released);
	memset(pool, 0, sizeof(*pool));
}

int id_pool_mark_used(struct id_pool *pool, const __u32 *used, size_t n)
{
	bool *held = calloc(pool->limit, sizeof(*held));
	__u32 max = 0;
	int ret = 0;

	if (!held)
		return -ENOMEM;
	for (size_t i = 0; i < n && ret == 0; i++) {
		if (used[i] == 0 || used[i] >= pool->limit)
			ret = -EINVAL;
		else
			held[used[i]] = true;
		if (used[i] > max && ret == 0)
			max = used[i];
	}
	pool->next_fresh = max + 1;
	pool->n_released = 0;
	/* Every id below the highest in use that nobody holds is free again. */
	for (__u32 id = max; id >= 1 && ret == 0; id--) {
		if (!held[id])
			ret = id_pool_release(pool, id);
	}
	free(held);
	return ret;
}
