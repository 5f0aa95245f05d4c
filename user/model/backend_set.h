/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * A service's backends with the ids they hold in the maps, and the change
 * from one set to the next: backends that stay keep their id (and so their
 * live count and connections), new ones get id 0 until the caller assigns
 * one, and the ids of the ones that went are listed for retirement.
 */
#ifndef SOCKLB_BACKEND_SET_H
#define SOCKLB_BACKEND_SET_H

#include "model/endpoint.h"

struct backend_ref {
	struct endpoint ep;
	__u32 id;
};

struct backend_set {
	struct backend_ref *items; /* sorted by endpoint, no duplicates */
	size_t n;
};

struct backend_change {
	struct backend_set next;
	struct backend_ref *removed; /* in the current set, not in the next */
	size_t n_removed;
	size_t n_added;
};

/* desired must be sorted without duplicates (as the sources deliver it). */
int backend_set_change(const struct backend_set *current, const struct endpoint *desired,
		       size_t n_desired, struct backend_change *change);
void backend_change_free(struct backend_change *change);
void backend_set_free(struct backend_set *set);

#endif
