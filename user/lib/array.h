/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Growable arrays: items + n used + cap allocated, grown by doubling. */
#ifndef SOCKLB_ARRAY_H
#define SOCKLB_ARRAY_H

#include <stddef.h>

/*
 * Makes room for one more element in the array at *items_ptr (a pointer to
 * the array's pointer) holding n of *cap: doubles the capacity (from 16)
 * when it is full.  0, or -ENOMEM with the array left as it was.
 */
int array_reserve(void *items_ptr, size_t *cap, size_t n, size_t elem_size);

#define ARRAY_RESERVE(items, cap, n) array_reserve(&(items), &(cap), (n), sizeof(*(items)))

#endif
