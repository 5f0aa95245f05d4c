/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * List, then watch, one kind of Kubernetes object, for as long as the agent
 * runs:
 *
 * - list, then watch from the list's resourceVersion with allowWatchBookmarks
 *   and timeoutSeconds (one object is listed by fieldSelector: a GET's
 *   resourceVersion is the object's, which may be older than the server's
 *   watch window, and a watch from it would only get 410 Gone);
 * - a watch the server ends (its timeout) is started again at once from the
 *   last resourceVersion seen (events and bookmarks move it);
 * - 410 Gone (the HTTP status, or an ERROR event with code 410): list again
 *   (at once; after a backoff if the watch after that list gets 410 again);
 * - a failed request, a dropped connection, an ERROR event, a garbled line,
 *   or no data at all for twice the watch timeout (a stalled connection):
 *   try again after a backoff of 1 s, 2 s, 4 s ... 30 s; a watch resumes
 *   from its resourceVersion, a list is repeated.
 *
 * The owner keeps what the objects say: nothing is forgotten because the API
 * cannot be reached; only a list that succeeds replaces everything.
 */
#ifndef SOCKLB_K8S_WATCHER_H
#define SOCKLB_K8S_WATCHER_H

#include "lib/event_loop.h"
#include "sources/k8s/k8s_api.h"
#include "sources/k8s/k8s_stream.h"

#define K8S_BACKOFF_START_MS 1000
#define K8S_BACKOFF_MAX_MS 30000

struct k8s_watcher_ops {
	/* A list arrived: forget every object, the list's items follow. */
	void (*reset)(void *owner);
	/* One object: a list item (ADDED) or a watch event. */
	void (*object)(void *owner, enum k8s_event_type type, json_object *obj);
	/* After a whole list, and after each watch event: time to publish. */
	void (*synced)(void *owner);
	/*
	 * error NULL: the API answered (a list, or a watch started); else why the
	 * last request failed (short, e.g. "connect-failed"), with libcurl's or
	 * the server's words in detail.  Called on every success and failure.
	 */
	void (*health)(void *owner, const char *error, const char *detail);
};

struct k8s_watcher_params {
	const char *what;	/* for logs: "endpointslices default/web" */
	const char *list_path;	/* "/apis/.../endpointslices?labelSelector=..." */
	const char *watch_path; /* the same objects to watch, without the watch parameters */
};

struct k8s_watcher;

/* Starts listing at once.  NULL if out of memory. */
struct k8s_watcher *k8s_watcher_start(struct k8s_api *api, struct event_loop *loop,
				      const struct k8s_watcher_params *params,
				      const struct k8s_watcher_ops *ops, void *owner);
/* Lists again now (the owner's view changed and it wants every object again). */
void k8s_watcher_relist(struct k8s_watcher *w);
void k8s_watcher_free(struct k8s_watcher *w);

/* Delay before retry number failures (1 for the first): 1 s, 2 s, ... 30 s. */
uint64_t k8s_backoff_ms(unsigned failures);
/* The watch URL path: watch_path with watch=1, bookmarks, timeout and rv (if any). */
void k8s_watch_url(char *buf, size_t len, const char *watch_path, const char *rv,
		   uint64_t timeout_ms);

#endif
