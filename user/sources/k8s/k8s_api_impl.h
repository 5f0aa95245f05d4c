/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* The API client's insides, shared by k8s_api.c and k8s_request.c only. */
#ifndef SOCKLB_K8S_API_IMPL_H
#define SOCKLB_K8S_API_IMPL_H

#include <curl/curl.h>
#include "sources/k8s/k8s_api.h"
#include "sources/k8s/k8s_stream.h"

#ifndef SOCKLB_VERSION
#define SOCKLB_VERSION "dev"
#endif

#define K8S_MAX_BODY (64u << 20)      /* a list answer */
#define K8S_MAX_ERROR_BODY (1u << 20) /* a Status answer to a watch */
#define K8S_MAX_TOKEN (64u << 10)
#define K8S_CONNECT_TIMEOUT_MS 10000
#define K8S_REQUEST_TIMEOUT_MS 30000 /* a list or GET, from start to end */

struct k8s_request {
	struct k8s_api *api;
	CURL *easy;
	struct curl_slist *headers;
	const struct k8s_request_ops *ops;
	void *arg;
	bool stream;
	bool in_multi;
	bool done;
	bool cancelled;
	bool queued;
	bool open_pending;
	bool too_large;
	long status;
	CURLcode result;
	struct k8s_line_buf lines; /* stream answered 200 */
	char *body;		   /* everything else */
	size_t body_len, body_cap;
	char errbuf[CURL_ERROR_SIZE];
	struct k8s_request *prev, *next; /* every request of the api */
	struct k8s_request *queue_next;	 /* news to hand out */
};

struct k8s_api {
	struct event_loop *loop;
	struct k8s_api_config cfg;
	CURLM *multi;
	struct loop_timer timer; /* libcurl's next timeout */
	struct k8s_request *requests;
	struct k8s_request *queue_head, *queue_tail;
	struct k8s_request *delivering; /* its callbacks are running */
	bool processing;
	int http_version; /* of the last answer: 0 (none yet), 1 or 2 */
	struct k8s_api_stats stats;
};

/* Puts r on the list of requests with news to hand out (once). */
void k8s_api_queue(struct k8s_request *r);
/* Notes the HTTP version r was answered in (and limits connections for HTTP/2). */
void k8s_api_note_version(struct k8s_api *api, CURL *easy);
/* Sets up r's easy handle for GET path; -errno with err set. */
int k8s_request_setup(struct k8s_request *r, const char *path, char *err, size_t errlen);
/* Makes r send a body with another method (after k8s_request_setup); -errno with err set. */
int k8s_request_set_body(struct k8s_request *r, const struct k8s_send *send, char *err,
			 size_t errlen);

#endif
