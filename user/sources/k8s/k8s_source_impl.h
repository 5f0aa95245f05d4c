/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The k8s: source's insides, shared by its files and no one else:
 * k8s_source.c (lifecycle, specs, status), k8s_target.c (a target's state
 * and publishing), k8s_target_watch.c (its watches), k8s_discovery.c.
 */
#ifndef SOCKLB_K8S_SOURCE_IMPL_H
#define SOCKLB_K8S_SOURCE_IMPL_H

#include <sys/types.h>
#include "sources/k8s/k8s_objects.h"
#include "sources/k8s/k8s_source.h"
#include "sources/k8s/k8s_watcher.h"

enum target_state {
	T_PENDING, /* the Service or its slices not known yet: nothing published */
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

enum watch_kind {
	WATCH_SERVICE,
	WATCH_SLICES,
};

struct k8s_target {
	struct k8s_source *src;
	char *source; /* as configured; "k8s:NS/NAME" for a discovered Service */
	char ns[K8S_NAME_LEN];
	char name[K8S_OBJ_NAME_LEN];
	char *port_name;
	struct k8s_selector sel;
	bool discovered;
	bool seen;		       /* in the discovery list being taken */
	struct k8s_watcher *svc_watch; /* NULL when discovered: discovery gives the Service */
	struct k8s_watcher *slice_watch;
	bool svc_synced, svc_exists;
	struct k8s_service svc;
	bool slices_synced;
	struct k8s_slice_set slices;
	struct target_vip *vips;
	size_t n_vips;
	enum target_state state;
	char api_error[2][64]; /* per watch_kind: why its last request failed; "": fine */
	char api_detail[256];
	char config_error[256];
	char last_error[256];
	double last_error_at;
	double last_refresh;
	unsigned long long refreshes, errors;
};

struct k8s_source {
	struct event_loop *loop;
	struct service_table *table;
	struct k8s_api *api;
	struct k8s_source_opts opts;
	struct k8s_target **targets;
	size_t n, cap;
	struct k8s_watcher *discovery;
	bool discovery_listing;
	char discovery_error[64];
	bool discovery_ok;     /* has answered since the last failure */
	bool discovery_listed; /* the first discovery list is in */
	bool first_sync_done;  /* every target knew its Service and slices once */
};

extern const char *const k8s_state_names[];
extern const struct k8s_watcher_ops k8s_discovery_ops;

/* k8s_source.c */
void k8s_source_notify(struct k8s_source *s);
int k8s_source_add_target(struct k8s_source *s, struct k8s_target *t);
void k8s_source_remove_target(struct k8s_source *s, size_t index);

/* k8s_target.c */
struct k8s_target *k8s_target_new(struct k8s_source *s, const char *source, const char *ns,
				  const char *name, const char *port_name);
/* from_table: also take its dynamic services out of the table (not when the agent stops). */
void k8s_target_free(struct k8s_target *t, bool from_table);
void k8s_target_record_error(struct k8s_target *t, const char *error);
void k8s_target_update_state(struct k8s_target *t);
/* Publishes what the Service and its slices say, once both are known. */
void k8s_target_apply(struct k8s_target *t);
void k8s_target_drop_vip(struct k8s_target *t, size_t i, bool from_table);
ssize_t k8s_target_find_vip(const struct k8s_target *t, const struct endpoint *vip);

/* k8s_target_watch.c */
void k8s_target_set_service(struct k8s_target *t, struct k8s_service *svc);
int k8s_target_start_watches(struct k8s_target *t);

/* k8s_discovery.c */
ssize_t k8s_find_discovered(const struct k8s_source *s, const char *ns, const char *name);
void k8s_undiscover(struct k8s_source *s, size_t index, const char *why);
/* A Service a k8s: spec names is the spec's: discovery leaves it alone. */
bool k8s_named_by_spec(const struct k8s_source *s, const char *ns, const char *name);

#endif
