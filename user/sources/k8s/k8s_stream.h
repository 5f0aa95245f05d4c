/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The Kubernetes list and watch protocol, without any I/O.  A watch answer
 * is a stream of JSON events, one per line:
 *
 *   {"type":"ADDED|MODIFIED|DELETED","object":{...}}
 *   {"type":"BOOKMARK","object":{"metadata":{"resourceVersion":"..."}}}
 *   {"type":"ERROR","object":{"kind":"Status","code":410,...}}
 *
 * k8s_line_buf cuts what arrives (in pieces of any size) into lines;
 * k8s_watch_line takes one line: hands the object to the caller, keeps the
 * resourceVersion to resume from, and says what the watcher must do next.
 */
#ifndef SOCKLB_K8S_STREAM_H
#define SOCKLB_K8S_STREAM_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include "sources/k8s/k8s_objects.h"

/* One event may be large (an EndpointSlice of 1000 endpoints is ~300 KiB). */
#define K8S_MAX_LINE (16u << 20)

struct k8s_line_buf {
	char *data;
	size_t start; /* first byte not handed out yet */
	size_t len;
	size_t cap;
};

/* Appends received bytes; -1 if out of memory or a line would exceed K8S_MAX_LINE. */
int k8s_line_buf_append(struct k8s_line_buf *b, const char *data, size_t n);
/*
 * The next complete line (NUL-terminated, without "\n" or "\r\n"), or NULL
 * if none is complete yet.  Valid until the next append.
 */
char *k8s_line_buf_next(struct k8s_line_buf *b, size_t *len);
/* Bytes of a line not complete yet. */
size_t k8s_line_buf_pending(const struct k8s_line_buf *b);
void k8s_line_buf_free(struct k8s_line_buf *b);

enum k8s_event_type {
	K8S_EVENT_ADDED,
	K8S_EVENT_MODIFIED,
	K8S_EVENT_DELETED,
	K8S_EVENT_BOOKMARK,
	K8S_EVENT_ERROR,
};

enum k8s_line_result {
	K8S_LINE_OBJECT,   /* ADDED, MODIFIED or DELETED: handed to the callback */
	K8S_LINE_BOOKMARK, /* only the resourceVersion moved */
	K8S_LINE_EMPTY,	   /* a blank line (keep-alive) */
	K8S_LINE_GONE,	   /* ERROR 410: the resourceVersion is too old; list again */
	K8S_LINE_ERROR,	   /* another ERROR event: watch again later */
	K8S_LINE_BAD,	   /* not a watch event: watch again later */
};

/* Where a watch resumes: the resourceVersion of the last list or event. */
struct k8s_watch_state {
	char rv[K8S_RV_LEN];	   /* "" before the first list */
	unsigned long long events; /* events taken (for logs and status) */
};

/* Gets every object of a list and every ADDED/MODIFIED/DELETED event. */
typedef void (*k8s_object_cb)(void *arg, enum k8s_event_type type, json_object *object);

/* Takes one line of a watch stream (line[len] need not be NUL). err: why, for ERROR/BAD. */
enum k8s_line_result k8s_watch_line(struct k8s_watch_state *st, const char *line, size_t len,
				    k8s_object_cb cb, void *arg, char *err, size_t errlen);

/*
 * Takes the answer to a list (single: a GET of one object) and hands every
 * item to cb as ADDED; the list's resourceVersion is where the watch starts.
 * -1 with a message if the body is not one.
 */
int k8s_list_parse(struct k8s_watch_state *st, const char *body, size_t len, bool single,
		   k8s_object_cb cb, void *arg, char *err, size_t errlen);

/* The two halves of k8s_list_parse: check the body (NULL: not a list), then hand out its items. */
json_object *k8s_list_load(const char *body, size_t len, bool single, char *err, size_t errlen);
void k8s_list_apply(struct k8s_watch_state *st, json_object *root, bool single, k8s_object_cb cb,
		    void *arg);

/* The message of a Status body (an API error answer), or "" if there is none. */
void k8s_status_message(const char *body, size_t len, char *out, size_t outlen);

const char *k8s_event_name(enum k8s_event_type type);

#endif
