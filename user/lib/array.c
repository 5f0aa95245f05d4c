// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "lib/array.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define ARRAY_FIRST_CAP 16

int array_reserve(void *items_ptr, size_t *cap, size_t n, size_t elem_size)
{
	void *items, *grown;
	size_t want;

	if (n < *cap)
		return 0;
	want = *cap ? 2 * *cap : ARRAY_FIRST_CAP;
	if (want < *cap || want > SIZE_MAX / elem_size)
		return -ENOMEM; /* the size would not fit in a size_t */
	/* items_ptr points at some T *: read and write it as the pointer it is. */
	memcpy(&items, items_ptr, sizeof(items));
	grown = realloc(items, want * elem_size);
	if (!grown)
		return -ENOMEM;
	memcpy(items_ptr, &grown, sizeof(grown));
	*cap = want;
	return 0;
}
