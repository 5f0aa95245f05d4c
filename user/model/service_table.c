// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "model/service_table.h"
#include "lib/array.h"
#include "model/service_table_impl.h"
#include "lib/log.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void service_table_init(struct service_table *t, const struct lb_maps *maps, __u32 max_services,
			__u32 max_backends)
{
	memset(t, 0, sizeof(*t));
	t->maps = maps;
	id_pool_init(&t->service_ids, max_services + 1);
	id_pool_init(&t->backend_ids, max_backends + 1);
}

static struct agent_service *find_service(struct service_table *t, const struct endpoint *vip)
{
	for (size_t i = 0; i < t->n; i++) {
		if (endpoint_equal(&t->items[i].vip, vip))
			return &t->items[i];
	}
	return NULL;
}

struct agent_service *service_table_add_with_id(struct service_table *t,
						const struct service_spec *spec, __u32 id)
{
	char vip[ENDPOINT_STR_LEN];
	struct agent_service *svc;

	if (ARRAY_RESERVE(t->items, t->cap, t->n))
		return NULL;
	if (!id)
		id = id_pool_alloc(&t->service_ids);
	if (!id) {
		log_error("msg=\"service table full: raise --max-services\" service=%s",
			  endpoint_str(&spec->vip, vip, sizeof(vip)));
		return NULL;
	}
	svc = &t->items[t->n++];
	memset(svc, 0, sizeof(*svc));
	svc->vip = spec->vip;
	lb_service_slots_init(&svc->slots, id);
	return svc;
}

static struct agent_service *add_service(struct service_table *t, const struct service_spec *spec)
{
	return service_table_add_with_id(t, spec, 0);
}

int service_table_retire_backend(struct service_table *t, __u32 id, const struct endpoint *vip,
				 const struct endpoint *ep)
{
	if (ARRAY_RESERVE(t->retired, t->cap_retired, t->n_retired))
		return -ENOMEM;
	t->retired[t->n_retired++] = (struct retired_backend){id, *vip, *ep};
	return 0;
}

/* Gives every new backend of the set an id and a map entry. */
static int assign_ids(struct service_table *t, struct agent_service *svc, struct backend_set *set)
{
	char vip[ENDPOINT_STR_LEN], be[ENDPOINT_STR_LEN];

	for (size_t i = 0; i < set->n; i++) {
		struct backend_ref *ref = &set->items[i];

		if (ref->id)
			continue;
		ref->id = id_pool_alloc(&t->backend_ids);
		if (!ref->id) {
			log_error("msg=\"backend table full: raise --max-backends\" service=%s",
				  endpoint_str(&svc->vip, vip, sizeof(vip)));
			return -ENOSPC;
		}
		if (lb_maps_write_backend(t->maps, ref->id, &ref->ep, svc->slots.service_id)) {
			log_error("msg=\"cannot write backend\" service=%s backend=%s",
				  endpoint_str(&svc->vip, vip, sizeof(vip)),
				  endpoint_str(&ref->ep, be, sizeof(be)));
			id_pool_release(&t->backend_ids, ref->id);
			ref->id = 0;
			return -EIO;
		}
	}
	return 0;
}

static void release_unpublished(struct service_table *t, const struct backend_change *change,
				const struct backend_set *old)
{
	for (size_t i = 0; i < change->next.n; i++) {
		__u32 id = change->next.items[i].id;
		bool kept = false;

		for (size_t j = 0; j < old->n && !kept; j++)
			kept = old->items[j].id == id;
		if (id && !kept)
			id_pool_release(&t->backend_ids, id);
	}
}

static int publish(struct service_table *t, struct agent_service *svc,
		   const struct backend_set *set)
{
	__u32 *ids = calloc(set->n ? set->n : 1, sizeof(*ids));
	int err;

	if (!ids)
		return -ENOMEM;
	for (size_t i = 0; i < set->n; i++)
		ids[i] = set->items[i].id;
	err = lb_maps_publish(t->maps, &svc->vip, &svc->slots, ids, set->n);
	free(ids);
	return err;
}

static int update_backends(struct service_table *t, struct agent_service *svc,
			   const struct endpoint *backends, size_t n_backends)
{
	struct backend_change change;
	char vip[ENDPOINT_STR_LEN];

	if (backend_set_change(&svc->backends, backends, n_backends, &change))
		return -ENOMEM;
	if (svc->published && change.n_added == 0 && change.n_removed == 0) {
		backend_change_free(&change);
		return 0;
	}
	if (assign_ids(t, svc, &change.next) || publish(t, svc, &change.next)) {
		release_unpublished(t, &change, &svc->backends);
		backend_change_free(&change);
		return -EIO;
	}
	for (size_t i = 0; i < change.n_removed; i++)
		service_table_retire_backend(t, change.removed[i].id, &svc->vip,
					     &change.removed[i].ep);
	log_info("msg=\"service updated\" service=%s source=%s backends=%zu added=%zu "
		 "removed=%zu",
		 endpoint_str(&svc->vip, vip, sizeof(vip)), log_q(svc->source), change.next.n,
		 change.n_added, change.n_removed);
	svc->published = true;
	backend_set_free(&svc->backends);
	svc->backends = change.next;
	change.next.items = NULL;
	backend_change_free(&change);
	if (t->changed)
		t->changed(t->changed_arg);
	return 0;
}

/* svc: the table's entry for spec's VIP, or NULL if it has none yet. */
static int apply_spec(struct service_table *t, const struct service_spec *spec,
		      struct agent_service *svc)
{
	char vip[ENDPOINT_STR_LEN];

	/* A k8s: source alone has no VIP: its source adds services as it learns them. */
	if (!service_spec_has_vip(spec))
		return 0;
	if (svc && svc->dynamic && !svc->owner) {
		/* Adopted and unclaimed: the spec claims it, quietly. */
		svc->dynamic = false;
	} else if (svc && svc->dynamic) {
		log_warn("msg=\"a configured service takes over a discovered one\" service=%s "
			 "was=%s now=%s",
			 endpoint_str(&spec->vip, vip, sizeof(vip)), log_q(svc->source),
			 log_q(spec->source));
		svc->dynamic = false;
		svc->owner = NULL;
	}
	if (!svc)
		svc = add_service(t, spec);
	if (!svc)
		return -ENOSPC;
	svc->wanted = true;
	free(svc->source);
	svc->source = strdup(spec->source);
	/*
	 * A dynamic source publishes through service_table_set_backends once it
	 * has an answer; until then a new service stays out of the maps (connects
	 * to its VIP are left alone), and a known one keeps its backends.
	 */
	if (spec->kind != SOURCE_STATIC)
		return 0;
	if (update_backends(t, svc, spec->backends, spec->n_backends)) {
		log_error("msg=\"cannot update service\" service=%s",
			  endpoint_str(&spec->vip, vip, sizeof(vip)));
		return -EIO;
	}
	return 0;
}

int service_table_set_backends(struct service_table *t, const struct endpoint *vip,
			       const struct endpoint *backends, size_t n_backends)
{
	struct agent_service *svc = find_service(t, vip);

	if (!svc)
		return -ENOENT;
	return update_backends(t, svc, backends, n_backends);
}

static void remove_service(struct service_table *t, size_t index)
{
	struct agent_service *svc = &t->items[index];
	char vip[ENDPOINT_STR_LEN];

	if (lb_maps_remove_service(t->maps, &svc->vip, &svc->slots))
		log_warn("msg=\"cannot delete service from maps\" service=%s",
			 endpoint_str(&svc->vip, vip, sizeof(vip)));
	for (size_t i = 0; i < svc->backends.n; i++)
		service_table_retire_backend(t, svc->backends.items[i].id, &svc->vip,
					     &svc->backends.items[i].ep);
	id_pool_release(&t->service_ids, svc->slots.service_id);
	log_info("msg=\"service removed\" service=%s", endpoint_str(&svc->vip, vip, sizeof(vip)));
	backend_set_free(&svc->backends);
	free(svc->source);
	t->items[index] = t->items[--t->n];
	if (t->changed)
		t->changed(t->changed_arg);
}

int service_table_apply(struct service_table *t, const struct service_spec_list *specs)
{
	struct vip_index existing = {0};
	bool indexed = true;
	int ret = 0;

	/*
	 * Positions of the services there before: specs are unique, so a
	 * service added below is never looked for again in this pass.
	 */
	for (size_t i = 0; i < t->n; i++) {
		t->items[i].wanted = false;
		if (indexed && vip_index_put(&existing, &t->items[i].vip, i))
			indexed = false; /* out of memory: look up the slow way */
	}
	for (size_t i = 0; i < specs->n; i++) {
		const struct endpoint *vip = &specs->items[i].vip;
		size_t at;
		struct agent_service *svc = !indexed ? find_service(t, vip)
					    : vip_index_get(&existing, vip, &at) ? &t->items[at]
										 : NULL;

		if (apply_spec(t, &specs->items[i], svc))
			ret = -EINVAL;
	}
	vip_index_free(&existing);
	for (size_t i = t->n; i-- > 0;) {
		if (!t->items[i].wanted && !t->items[i].dynamic)
			remove_service(t, i);
	}
	service_table_reap_retired(t);
	return ret;
}

int service_table_add_dynamic(struct service_table *t, const struct endpoint *vip,
			      const char *source, const void *owner)
{
	struct agent_service *svc = find_service(t, vip);
	struct service_spec spec = {.vip = *vip};
	char *copy = strdup(source);

	/* An adopted service nobody claimed yet (owner NULL) is taken over as it is. */
	if (!copy || (svc && (!svc->dynamic || (svc->owner && svc->owner != owner)))) {
		free(copy);
		return -EEXIST;
	}
	if (!svc)
		svc = add_service(t, &spec);
	if (!svc) {
		free(copy);
		return -ENOSPC;
	}
	free(svc->source);
	svc->source = copy;
	svc->dynamic = true;
	svc->owner = owner;
	return 0;
}

int service_table_remove_dynamic(struct service_table *t, const struct endpoint *vip,
				 const void *owner)
{
	for (size_t i = 0; i < t->n; i++) {
		struct agent_service *svc = &t->items[i];

		if (endpoint_equal(&svc->vip, vip)) {
			if (!svc->dynamic || svc->owner != owner)
				return -EPERM;
			remove_service(t, i);
			service_table_reap_retired(t);
			return 0;
		}
	}
	return -ENOENT;
}

size_t service_table_drop_unclaimed(struct service_table *t)
{
	size_t dropped = 0;

	for (size_t i = t->n; i-- > 0;) {
		if (t->items[i].dynamic && !t->items[i].owner) {
			remove_service(t, i);
			dropped++;
		}
	}
	if (dropped)
		service_table_reap_retired(t);
	return dropped;
}

bool service_table_owns(const struct service_table *t, const struct endpoint *vip,
			const void *owner)
{
	for (size_t i = 0; i < t->n; i++) {
		if (endpoint_equal(&t->items[i].vip, vip))
			return t->items[i].dynamic && t->items[i].owner == owner;
	}
	return false;
}

void service_table_reap_retired(struct service_table *t)
{
	size_t kept = 0;

	for (size_t i = 0; i < t->n_retired; i++) {
		struct socklb_backend_stats st;
		__u32 id = t->retired[i].id;

		if (lb_maps_read_stats(t->maps, id, &st) == 0 &&
		    st.live + st.connecting + st.draining > 0)
			t->retired[kept++] = t->retired[i];
		else
			id_pool_release(&t->backend_ids, id);
	}
	t->n_retired = kept;
}

int service_table_set_steered(struct service_table *t, struct agent_service *svc, bool steered)
{
	__u32 flags = steered ? svc->slots.flags | SOCKLB_SERVICE_STEERED
			      : svc->slots.flags & ~SOCKLB_SERVICE_STEERED;

	if (flags == svc->slots.flags)
		return 0;
	svc->slots.flags = flags;
	return svc->published ? publish(t, svc, &svc->backends) : 0;
}

int service_table_set_time_fair(struct service_table *t, const struct endpoint *vip,
				const struct service_time_fair *tf)
{
	struct agent_service *svc = find_service(t, vip);

	if (!svc)
		return -ENOENT;
	svc->time_fair = *tf;
	return 0;
}

void service_table_zero_extras(const struct service_table *t)
{
	for (size_t i = 0; i < t->n; i++) {
		for (size_t j = 0; j < t->items[i].backends.n; j++)
			lb_maps_set_extra(t->maps, t->items[i].backends.items[j].id, 0);
	}
	for (size_t i = 0; i < t->n_retired; i++)
		lb_maps_set_extra(t->maps, t->retired[i].id, 0);
}

void service_table_free(struct service_table *t)
{
	for (size_t i = 0; i < t->n; i++) {
		backend_set_free(&t->items[i].backends);
		free(t->items[i].source);
	}
	free(t->items);
	free(t->retired);
	id_pool_free(&t->service_ids);
	id_pool_free(&t->backend_ids);
	memset(t, 0, sizeof(*t));
}
