// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The informers' news to the targets: a watch event applies the targets of
 * the one Service it concerns (found by key, not by a scan); a list applies
 * every target; a change of the API's health only rewrites the state file
 * (each target's state is read from the informers when shown).
 */
#include "sources/k8s/k8s_source_impl.h"

#include <errno.h>
#include <string.h>

void k8s_source_apply_key(struct k8s_source *s, const char *key)
{
	struct k8s_target *t = strmap_get(&s->by_key, key);

	for (struct k8s_target *next; t; t = next) {
		next = t->same_next;
		k8s_target_apply(t);
	}
}

static void apply_all(struct k8s_source *s)
{
	for (size_t i = 0; i < s->n; i++)
		k8s_target_apply(s->targets[i]);
	k8s_source_notify(s);
}

static void services_changed(void *arg, const struct k8s_change *c)
{
	struct k8s_source *s = arg;

	k8s_discovery_reconcile(s, c->key);
	k8s_source_apply_key(s, c->key);
	k8s_source_notify(s);
}

static void services_synced(void *arg)
{
	struct k8s_source *s = arg;

	k8s_discovery_reconcile(s, NULL);
	apply_all(s);
}

/* A slice belongs to the Service of its index key; a relabelled one to two. */
static void slices_changed(void *arg, const struct k8s_change *c)
{
	struct k8s_source *s = arg;

	if (c->index[0])
		k8s_source_apply_key(s, c->index);
	if (c->old_index[0] && strcmp(c->old_index, c->index))
		k8s_source_apply_key(s, c->old_index);
	k8s_source_notify(s);
}

static void slices_synced(void *arg)
{
	apply_all(arg);
}

static void health_changed(void *arg)
{
	k8s_source_notify(arg);
}

static const struct k8s_handler_ops services_ops = {
    .changed = services_changed,
    .synced = services_synced,
    .health = health_changed,
};

static const struct k8s_handler_ops slices_ops = {
    .changed = slices_changed,
    .synced = slices_synced,
    .health = health_changed,
};

int k8s_source_handle_events(struct k8s_source *s)
{
	for (size_t i = 0; i < s->n_scopes; i++) {
		if (k8s_informer_add_handler(s->scopes[i].services, &services_ops, s) ||
		    k8s_informer_add_handler(s->scopes[i].slices, &slices_ops, s))
			return -ENOMEM;
	}
	return 0;
}
