/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * An informer, as client-go has them: one list+watch of one resource (every
 * namespace, or one), a local cache of its objects keyed by
 * "namespace/name" (k8s_cache.h), and handlers told of every change.  Any
 * number of consumers share it: the k8s: specs and --k8s-discover read the
 * same Services and EndpointSlices, so the API cost does not grow with the
 * number of services.  Every informer of an agent shares its k8s_api: over
 * HTTP/2 every request rides one connection.
 *
 * Handlers are told of watch events one object at a time (changed), and of
 * a completed list as a whole (synced: the cache was replaced; look again
 * at everything).  Until the first list is in, the cache is empty and
 * k8s_informer_synced is false.
 */
#ifndef SOCKLB_K8S_INFORMER_H
#define SOCKLB_K8S_INFORMER_H

#include <stdbool.h>
#include "lib/event_loop.h"
#include "sources/k8s/k8s_api.h"
#include "sources/k8s/k8s_cache.h"

/* One watch event, after the cache took it. */
struct k8s_change {
	const char *key;       /* "namespace/name" */
	const void *obj;       /* the object now; NULL: deleted */
	const char *index;     /* its index key now ("" if none or deleted) */
	const char *old_index; /* its index key before ("" if none or new) */
};

struct k8s_handler_ops {
	void (*changed)(void *arg, const struct k8s_change *c);
	/* A list replaced the cache (the first one, or a relist after 410). */
	void (*synced)(void *arg);
	/* The informer's health changed (k8s_informer_health tells how). */
	void (*health)(void *arg);
};

/* What status, metrics and the log say about one informer. */
struct k8s_informer_health {
	const char *resource; /* "services" */
	const char *ns;	      /* "" for every namespace */
	bool ok;	      /* its last request was answered */
	bool synced;	      /* a list is in */
	const char *error;    /* !ok: why ("connect-failed", "http-403", ...) */
	const char *detail;   /* !ok: libcurl's or the server's words */
	double last_refresh;  /* wall clock of the last answer; 0: never */
	double last_error_at; /* wall clock of the last failure; 0: never */
	unsigned long long lists, events, errors;
	size_t objects; /* in the cache */
};

struct k8s_informer;

/* ns NULL: every namespace.  Nothing is requested before k8s_informer_start. */
struct k8s_informer *k8s_informer_new(struct k8s_api *api, struct event_loop *loop,
				      const struct k8s_resource *res, const char *ns);
/* 0 or -ENOMEM.  Handlers are called in the order they were added. */
int k8s_informer_add_handler(struct k8s_informer *inf, const struct k8s_handler_ops *ops,
			     void *arg);
/* Lists, then watches; 0 or -ENOMEM. */
int k8s_informer_start(struct k8s_informer *inf);
void k8s_informer_free(struct k8s_informer *inf);

const struct k8s_cache *k8s_informer_cache(const struct k8s_informer *inf);
bool k8s_informer_synced(const struct k8s_informer *inf);
void k8s_informer_health(const struct k8s_informer *inf, struct k8s_informer_health *out);

#endif
