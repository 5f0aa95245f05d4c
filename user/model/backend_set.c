// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "model/backend_set.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int backend_set_change(const struct backend_set *current, const struct endpoint *desired,
		       size_t n_desired, struct backend_change *change)
{
	size_t i = 0, j = 0;

	memset(change, 0, sizeof(*change));
	change->next.items = calloc(n_desired ? n_desired : 1, sizeof(struct backend_ref));
	change->removed = calloc(current->n ? current->n : 1, sizeof(struct backend_ref));
	if (!change->next.items || !change->removed) {
		backend_change_free(change);
		return -ENOMEM;
	}
	/* Both lists are sorted: one merge walk finds kept, added and removed. */
	while (i < current->n || j < n_desired) {
		int c = i == current->n	 ? 1
			: j == n_desired ? -1
					 : endpoint_cmp(&current->items[i].ep, &desired[j]);

		if (c < 0) {
			change->removed[change->n_removed++] = current->items[i++];
		} else if (c > 0) {
			change->next.items[change->next.n++].ep = desired[j++];
			change->n_added++;
		} else {
			change->next.items[change->next.n++] = current->items[i++];
			j++;
		}
	}
	return 0;
}

void backend_change_free(struct backend_change *change)
{
	backend_set_free(&change->next);
	free(change->removed);
	change->removed = NULL;
	change->n_removed = 0;
}

void backend_set_free(struct backend_set *set)
{
	free(set->items);
	set->items = NULL;
	set->n = 0;
}
