/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * List, then watch, one kind of Kubernetes object, for as long as the agent
 * runs, the way client-go's reflector does:
 *
 * - list in pages (limit, continue), then watch from the list's
 *   resourceVersion with allowWatchBookmarks and timeoutSeconds;
 * - a watch the server ends (its timeout) is started again at once from the
 *   last resourceVersion seen (events and bookmarks move it);
 * - 410 Gone (the HTTP status, or an ERROR event with code 410, or an
 *   expired continue token): list again (at once; after a backoff if the
 *   watch after that list gets 410 again);
 * - a watch that was healthy (see below) and is cut after at least
 *   K8S_MIN_WATCH_MS (an idle proxy closing it, a dropped connection, a
 *   proxy's 502/504) resumes at once from its resourceVersion and is not a
 *   failure: if the API is really gone, that resume fails;
 * - a failed request, an ERROR event, a garbled line, a watch that ends
 *   before it was healthy, or no data at all for twice the watch timeout (a
 *   stalled connection): a failure, retried after a backoff of 1 s, 2 s,
 *   4 s ... 30 s (a watch resumes from its resourceVersion, a list from the
 *   page that failed: its continue token holds the list's snapshot).  The backoff starts from 1 s
 * again after K8S_HEALTHY_PERIOD_MS of health.
 *
 * Healthy: a list page answered, or a watch answered 200 or delivered data.
 * A reverse proxy may hold a watch's response headers until its first data
 * (nginx's HTTP/2 does): a watch that has neither answered nor delivered
 * after K8S_WATCH_SETTLE_MS is confirmed by a probe, a list of one object
 * (limit=1), whose answer proves the API answers.
 *
 * The owner keeps what the objects say: nothing is forgotten because the API
 * cannot be reached; only a list that completes replaces everything.
 */
#ifndef SOCKLB_K8S_WATCHER_H
#define SOCKLB_K8S_WATCHER_H

#include "lib/event_loop.h"
#include "sources/k8s/k8s_api.h"
#include "sources/k8s/k8s_stream.h"

#define K8S_BACKOFF_START_MS 1000
#define K8S_BACKOFF_MAX_MS 30000
#define K8S_LIST_PAGE 500	    /* objects per list page, as client-go's reflector */
#define K8S_MIN_WATCH_MS 1000	    /* a watch ending sooner without a word is a failure */
#define K8S_WATCH_SETTLE_MS 1000    /* then a watch with no answer yet is probed */
#define K8S_HEALTHY_PERIOD_MS 10000 /* healthy this long: the backoff starts over */

struct k8s_watcher_ops {
	/* A list begins; its items follow (object, ADDED), then list_done. */
	void (*list_start)(void *owner);
	/* One object: a list item (ADDED) or a watch event. */
	void (*object)(void *owner, enum k8s_event_type type, json_object *obj);
	/* Every page of the list is in: it replaces what the owner knew. */
	void (*list_done)(void *owner);
	/*
	 * error NULL: the API answered (see "healthy" above); else why the last
	 * request failed (short, e.g. "connect-failed"), with libcurl's or the
	 * server's words in detail.  Called on every success and failure.
	 */
	void (*health)(void *owner, const char *error, const char *detail);
};

struct k8s_watcher_params {
	const char *what; /* for logs: "services" */
	const char *path; /* the objects: "/api/v1/services" (may have a query) */
};

struct k8s_watcher;

/* Starts listing at once.  NULL if out of memory. */
struct k8s_watcher *k8s_watcher_start(struct k8s_api *api, struct event_loop *loop,
				      const struct k8s_watcher_params *params,
				      const struct k8s_watcher_ops *ops, void *owner);
void k8s_watcher_free(struct k8s_watcher *w);

/* Delay before retry number failures (1 for the first): 1 s, 2 s, ... 30 s. */
uint64_t k8s_backoff_ms(unsigned failures);
/* The watch URL path: path with watch=1, bookmarks, timeout and rv (if any). */
void k8s_watch_url(char *buf, size_t len, const char *path, const char *rv, uint64_t timeout_ms);
/* The list URL path: path with limit and (if any) the continue token. */
void k8s_list_url(char *buf, size_t len, const char *path, unsigned limit, const char *cont);

#endif
