/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The k8s: source's insides, shared by its files and no one else:
 * k8s_source.c (lifecycle, specs, status), k8s_target.c (a target's state
 * and publishing), k8s_source_events.c (the informers' news to the
 * targets), k8s_discovery.c.
 */
#ifndef SOCKLB_K8S_SOURCE_IMPL_H
#define SOCKLB_K8S_SOURCE_IMPL_H

#include <sys/types.h>
#include "lib/strmap.h"
#include "sources/k8s/k8s_informer.h"
#include "sources/k8s/k8s_objects.h"
#include "sources/k8s/k8s_source.h"

enum target_state {
	T_PENDING, /* the Services or the EndpointSlices not listed yet: nothing published */
	T_OK,
	T_FAILING, /* the API fails (last known kept), or the Service cannot be balanced */
	T_EMPTY,   /* the Service does not exist */
};

/* One VIP of a target and what was last published for it. */
struct target_vip {
	struct k8s_vip v;
	char *source; /* what the service table shows */
	bool dynamic; /* added with service_table_add_dynamic */
	bool none;    /* the given VIP while the Service cannot give backends: publish none */
	bool applied; /* backends below are in the maps */
	struct endpoint *backends;
	size_t n_backends;
};

struct k8s_target {
	struct k8s_source *src;
	char *source; /* as configured; "k8s:NS/NAME" for a discovered Service */
	char ns[K8S_NAME_LEN];
	char name[K8S_OBJ_NAME_LEN];
	char key[K8S_NAME_LEN + K8S_OBJ_NAME_LEN]; /* "ns/name": the caches' key */
	char *port_name;
	struct k8s_selector sel;
	bool discovered;
	bool seen;		      /* in the reconcile being taken */
	struct k8s_target *same_next; /* the next target of the same Service */
	size_t pos;		      /* in the source's targets */
	struct target_vip *vips;
	size_t n_vips;
	enum target_state state; /* its own, without the API's health: logged */
	char config_error[256];
	bool time_fair_bad; /* its Service's socklb.io/time-fair annotation is unusable: said */
	char last_error[256];
	double last_error_at;
	double last_refresh;
	unsigned long long refreshes, errors;
};

/* The informers of one namespace (--k8s-namespace), or of every one (ns ""). */
struct k8s_scope {
	char ns[K8S_NAME_LEN];
	struct k8s_informer *services, *slices;
};

struct k8s_source {
	struct event_loop *loop;
	struct service_table *table;
	struct k8s_api *api;
	struct k8s_source_opts opts;
	struct k8s_scope *scopes; /* one, for every namespace, unless --k8s-namespace */
	size_t n_scopes;
	struct k8s_target **targets;
	size_t n, cap;
	struct strmap by_key; /* "ns/name" -> the first target of that Service */
	struct strmap by_vip; /* "VIP:PORT" -> the target that publishes it */
	bool first_sync_done; /* both informers listed once */
};

extern const char *const k8s_state_names[];

/* k8s_source.c */
void k8s_source_notify(struct k8s_source *s);
int k8s_source_add_target(struct k8s_source *s, struct k8s_target *t);
void k8s_source_remove_target(struct k8s_source *s, size_t index);
/* Every informer has listed once: every target can be published. */
bool k8s_source_synced(const struct k8s_source *s);
/* Every Services informer has listed once (discovery can look). */
bool k8s_source_services_synced(const struct k8s_source *s);
/* The informers that hold namespace ns; NULL if it is not watched. */
const struct k8s_scope *k8s_source_scope(const struct k8s_source *s, const char *ns);
/* The health of a failing informer of ns's scope into out (out), or NULL if none fails. */
const struct k8s_informer_health *k8s_source_failing(const struct k8s_source *s, const char *ns,
						     struct k8s_informer_health *out);

/* k8s_target.c */
struct k8s_target *k8s_target_new(struct k8s_source *s, const char *source, const char *ns,
				  const char *name, const char *port_name);
/* from_table: also take its dynamic services out of the table (not when the agent stops). */
void k8s_target_free(struct k8s_target *t, bool from_table);
void k8s_target_record_error(struct k8s_target *t, const char *error);
/* Publishes what the caches say of its Service and its slices, once both are listed. */
void k8s_target_apply(struct k8s_target *t);
ssize_t k8s_target_find_vip(const struct k8s_target *t, const struct endpoint *vip);
/* The state status shows: failing while an informer fails, else its own. */
enum target_state k8s_target_state(const struct k8s_target *t);

/* k8s_source_events.c */
/* Registers the source's handlers with both informers; 0 or -ENOMEM. */
int k8s_source_handle_events(struct k8s_source *s);
/* Applies every target of the Service under key ("ns/name"). */
void k8s_source_apply_key(struct k8s_source *s, const char *key);

/* k8s_discovery.c */
ssize_t k8s_find_discovered(const struct k8s_source *s, const char *ns, const char *name);
void k8s_undiscover(struct k8s_source *s, size_t index, const char *why);
/* Makes the discovered targets those the Services cache says; key NULL: every Service. */
void k8s_discovery_reconcile(struct k8s_source *s, const char *key);

#endif
