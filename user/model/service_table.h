/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The agent's view of the services it balances, and the one operation that
 * changes them: make the maps match a list of service specs.  Backends that
 * stay keep their id, so their connections and counts are never disturbed.
 */
#ifndef SOCKLB_AGENT_SERVICES_H
#define SOCKLB_AGENT_SERVICES_H

#include "model/backend_set.h"
#include "model/id_pool.h"
#include "datapath/maps.h"
#include "model/service_spec.h"
#include "model/service_time_fair.h"

struct agent_service {
	struct endpoint vip;
	char *source;
	struct lb_service_slots slots;
	struct backend_set backends;
	bool published; /* its entry is in the services map */
	bool wanted;	/* still in the specs being applied */
	/*
	 * Added at run time by a source (service_table_add_dynamic), not by the
	 * specs: service_table_apply leaves it alone.  owner: who added it.
	 */
	bool dynamic;
	const void *owner;
	struct service_time_fair time_fair;
};

/* A backend taken out of its service whose connections may still drain. */
struct retired_backend {
	__u32 id;
	struct endpoint vip; /* the service it was in */
	struct endpoint ep;
};

struct service_table {
	const struct lb_maps *maps;
	struct agent_service *items;
	size_t n, cap;
	struct id_pool service_ids;
	struct id_pool backend_ids;
	/* Removed backends, their ids reused only once their connections are gone. */
	struct retired_backend *retired;
	size_t n_retired, cap_retired;
	/* Called after a service's backend set changed in the maps. */
	void (*changed)(void *arg);
	void *changed_arg;
};

void service_table_init(struct service_table *t, const struct lb_maps *maps, __u32 max_services,
			__u32 max_backends);
/* Returns 0, or -1 if some service could not be applied (each one logged). */
int service_table_apply(struct service_table *t, const struct service_spec_list *specs);
/*
 * Replaces one known service's backends (sorted, no duplicates), as a
 * dynamic source does when its answer changes.  Returns -1 if the service is
 * unknown or the maps could not be written.
 */
int service_table_set_backends(struct service_table *t, const struct endpoint *vip,
			       const struct endpoint *backends, size_t n_backends);
/*
 * A service no spec names, for a source that learns VIPs at run time (k8s:
 * without a VIP, --k8s-discover).  It is published once the source calls
 * service_table_set_backends; service_table_apply (SIGHUP) keeps it.
 * Returns 0 if added or already owner's; -1 if the VIP belongs to a spec or
 * another owner (the specs win), or the table is full.
 */
int service_table_add_dynamic(struct service_table *t, const struct endpoint *vip,
			      const char *source, const void *owner);
/* Removes owner's dynamic service vip (and its map entries); -1 if not owner's. */
int service_table_remove_dynamic(struct service_table *t, const struct endpoint *vip,
				 const void *owner);
/*
 * Services adopted from an earlier agent (service_table_adopt) that no spec
 * names stay as dynamic services of nobody: service_table_apply keeps them,
 * a source's service_table_add_dynamic takes them over with their backends,
 * ids and connections.  This removes the ones left, once the sources have
 * said what they want (at once when no source adds services).  Returns how
 * many it removed.
 */
size_t service_table_drop_unclaimed(struct service_table *t);
/* Whether vip is a dynamic service of owner (a spec may have taken it over). */
bool service_table_owns(const struct service_table *t, const struct endpoint *vip,
			const void *owner);
/*
 * Rebuilds the table from maps an earlier agent left pinned (services, their
 * backends and ids, backends still draining), so that applying the specs
 * after it changes only what differs.  For a freshly initialised table.
 */
int service_table_adopt(struct service_table *t);
/*
 * Zeroes backend_extra of every backend: what an earlier agent's cluster
 * view left there (adopted maps) means nothing until this agent's is up.
 */
void service_table_zero_extras(const struct service_table *t);
/*
 * Whether least-conn adds the backends' extras for svc (the time-fair
 * steering): republishes its entry when that changes.
 */
int service_table_set_steered(struct service_table *t, struct agent_service *svc, bool steered);
/* The service's own time-fair setting (its source's); -ENOENT if vip is no service. */
int service_table_set_time_fair(struct service_table *t, const struct endpoint *vip,
				const struct service_time_fair *tf);
/* Frees the ids of retired backends whose last connection has closed. */
void service_table_reap_retired(struct service_table *t);
void service_table_free(struct service_table *t);

#endif
