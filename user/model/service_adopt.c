// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Adoption: rebuilding the service table from the maps an earlier agent left
 * pinned (--persist), so that the configured services then change only what
 * differs and no connection is disturbed by a restart.
 */
#include "model/service_table.h"
#include "model/service_table_impl.h"
#include "lib/log.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static int by_backend_ep(const void *a, const void *b)
{
	return endpoint_cmp(&((const struct backend_ref *)a)->ep,
			    &((const struct backend_ref *)b)->ep);
}

/* Reads one service's active backend set back from the maps; all of it, or -EIO. */
static int adopt_backends(struct service_table *t, struct agent_service *svc,
			  const struct socklb_service *value)
{
	size_t count = value->backend_count;
	struct lb_set_member *members = calloc(count ? count : 1, sizeof(*members));
	int ret = 0;

	svc->backends.items = calloc(count ? count : 1, sizeof(struct backend_ref));
	if (!members || !svc->backends.items) {
		free(members);
		return -ENOMEM;
	}
	/* No agent runs on these maps now: a set that reads short is broken. */
	if (lb_maps_read_set(t->maps, value, members) != count)
		ret = -EIO;
	for (size_t i = 0; !ret && i < count; i++) {
		svc->backends.items[i].id = members[i].id;
		svc->backends.items[i].ep = endpoint_from_backend(&members[i].backend);
		svc->backends.n++;
	}
	free(members);
	qsort(svc->backends.items, svc->backends.n, sizeof(struct backend_ref), by_backend_ep);
	return ret;
}

static int adopt_service(void *arg, const struct socklb_service_key *key,
			 const struct socklb_service *value)
{
	struct service_table *t = arg;
	struct service_spec spec = {.vip = endpoint_from_service_key(key)};
	struct agent_service *svc = service_table_add_with_id(t, &spec, value->service_id);
	__u32 inactive = value->active_half ^ 1;

	if (!svc)
		return -ENOSPC;
	svc->slots.active_half = value->active_half;
	/* Slots are written from 0 up: a half's size is where they stop. */
	svc->slots.half_count[value->active_half] =
	    value->backend_count > SOCKLB_INLINE_BACKENDS
		? value->backend_count
		: lb_maps_count_half(t->maps, value->service_id, value->active_half);
	svc->slots.half_count[inactive] = lb_maps_count_half(t->maps, value->service_id, inactive);
	svc->published = true;
	svc->source = strdup("adopted");
	/*
	 * Until a spec or a source claims it: an earlier agent's k8s: services
	 * are in no spec, and keep their backends (and connections) until the
	 * k8s: source has seen the API (service_table_drop_unclaimed).
	 */
	svc->dynamic = true;
	return adopt_backends(t, svc, value);
}

/* The VIP of the adopted service of that id (none: a service removed before). */
static struct endpoint vip_of(const struct service_table *t, __u32 service_id)
{
	struct endpoint none = {0};

	for (size_t i = 0; i < t->n; i++) {
		if (t->items[i].slots.service_id == service_id)
			return t->items[i].vip;
	}
	return none;
}

/* Backends no service lists that still hold connections were being drained. */
static int adopt_retired(struct service_table *t, const bool *in_use, __u32 limit)
{
	for (__u32 id = 1; id < limit; id++) {
		struct socklb_backend_stats st;
		struct socklb_backend be;
		struct endpoint vip, ep;

		if (in_use[id] || lb_maps_read_stats(t->maps, id, &st) ||
		    st.live + st.connecting + st.draining == 0 ||
		    lb_maps_read_backend(t->maps, id, &be))
			continue;
		vip = vip_of(t, be.service_id);
		ep = endpoint_from_backend(&be);
		if (service_table_retire_backend(t, id, &vip, &ep))
			return -ENOMEM;
	}
	return 0;
}

static __u32 *collect_backend_ids(struct service_table *t, size_t *n)
{
	size_t total = t->n_retired;
	__u32 *ids;

	for (size_t i = 0; i < t->n; i++)
		total += t->items[i].backends.n;
	ids = calloc(total ? total : 1, sizeof(*ids));
	if (!ids)
		return NULL;
	*n = 0;
	for (size_t i = 0; i < t->n; i++) {
		for (size_t j = 0; j < t->items[i].backends.n; j++)
			ids[(*n)++] = t->items[i].backends.items[j].id;
	}
	for (size_t i = 0; i < t->n_retired; i++)
		ids[(*n)++] = t->retired[i].id;
	return ids;
}

/* Takes the adopted ids out of the pools; finds the backends still draining. */
static int mark_ids(struct service_table *t, bool *backend_in_use)
{
	__u32 *service_ids = calloc(t->n ? t->n : 1, sizeof(__u32));
	__u32 *backend_ids = NULL;
	size_t n_backend_ids = 0;
	int ret = -ENOMEM;

	if (!service_ids)
		return -ENOMEM;
	for (size_t i = 0; i < t->n; i++) {
		service_ids[i] = t->items[i].slots.service_id;
		for (size_t j = 0; j < t->items[i].backends.n; j++)
			backend_in_use[t->items[i].backends.items[j].id] = true;
	}
	if (id_pool_mark_used(&t->service_ids, service_ids, t->n) == 0 &&
	    adopt_retired(t, backend_in_use, t->backend_ids.limit) == 0)
		backend_ids = collect_backend_ids(t, &n_backend_ids);
	if (backend_ids)
		ret = id_pool_mark_used(&t->backend_ids, backend_ids, n_backend_ids);
	free(service_ids);
	free(backend_ids);
	return ret;
}

int service_table_adopt(struct service_table *t)
{
	bool *in_use = calloc(t->backend_ids.limit, sizeof(*in_use));
	int ret;

	if (!in_use)
		return -ENOMEM;
	ret = lb_maps_for_each_service(t->maps, adopt_service, t);
	if (ret == 0)
		ret = mark_ids(t, in_use);
	free(in_use);
	if (ret == 0)
		log_info("msg=\"adopted the state of an earlier agent\" services=%zu "
			 "draining_backends=%zu",
			 t->n, t->n_retired);
	return ret;
}
