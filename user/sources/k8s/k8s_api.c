// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The API client's half that drives libcurl: one multi handle in the agent's
 * loop, and handing each request's news to its owner outside libcurl.
 */
#include "sources/k8s/k8s_api_impl.h"
#include "lib/log.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static bool curl_ready;

/* ------------------------------------------------------------- the queue */

void k8s_api_queue(struct k8s_request *r)
{
	struct k8s_api *api = r->api;

	if (r->queued)
		return;
	r->queued = true;
	r->queue_next = NULL;
	if (api->queue_tail)
		api->queue_tail->queue_next = r;
	else
		api->queue_head = r;
	api->queue_tail = r;
}

static void unqueue_request(struct k8s_request *r)
{
	struct k8s_api *api = r->api;
	struct k8s_request *prev = NULL;

	if (!r->queued)
		return;
	for (struct k8s_request *q = api->queue_head; q; prev = q, q = q->queue_next) {
		if (q != r)
			continue;
		if (prev)
			prev->queue_next = r->queue_next;
		else
			api->queue_head = r->queue_next;
		if (api->queue_tail == r)
			api->queue_tail = prev;
		break;
	}
	r->queued = false;
	r->queue_next = NULL;
}

static void free_request(struct k8s_request *r)
{
	struct k8s_api *api = r->api;

	unqueue_request(r);
	if (r->in_multi)
		curl_multi_remove_handle(api->multi, r->easy);
	if (r->prev)
		r->prev->next = r->next;
	else if (api->requests == r)
		api->requests = r->next;
	if (r->next)
		r->next->prev = r->prev;
	curl_easy_cleanup(r->easy);
	api->stats.open_requests--;
	curl_slist_free_all(r->headers);
	k8s_line_buf_free(&r->lines);
	free(r->body);
	free(r);
}

/* -------------------------------------------------------- curl callbacks */

static void on_timer(void *arg);
static void on_fd(void *arg, int fd, uint32_t events);

static int socket_cb(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp)
{
	struct k8s_api *api = userp;
	uint32_t events = 0;

	struct loop_watch *watch = socketp;

	(void)easy;
	if (what == CURL_POLL_REMOVE) {
		if (watch) {
			loop_unwatch(api->loop, watch);
			curl_multi_assign(api->multi, s, NULL);
		}
		return 0;
	}
	if (what & CURL_POLL_IN)
		events |= EPOLLIN;
	if (what & CURL_POLL_OUT)
		events |= EPOLLOUT;
	if (watch)
		return loop_watch_events(api->loop, watch, events) ? -1 : 0;
	watch = loop_watch(api->loop, s, events, on_fd, api);
	if (!watch) {
		log_error("msg=\"cannot watch a Kubernetes API socket\" error=%s",
			  log_q(strerror(errno)));
		return -1; /* libcurl's convention */
	}
	curl_multi_assign(api->multi, s, watch);
	return 0;
}

static int timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
	struct k8s_api *api = userp;

	(void)multi;
	loop_timer_cancel(api->loop, &api->timer);
	if (timeout_ms >= 0 &&
	    loop_timer_arm(api->loop, &api->timer, (uint64_t)timeout_ms, on_timer, api))
		return -1; /* libcurl's convention */
	return 0;
}

/* ------------------------------------------------------------ handing out */

static const char *curl_reason(const struct k8s_request *r)
{
	if (r->too_large)
		return "answer-too-large";
	switch (r->result) {
	case CURLE_COULDNT_RESOLVE_HOST:
		return "resolve-failed";
	case CURLE_COULDNT_CONNECT:
		return "connect-failed";
	case CURLE_OPERATION_TIMEDOUT:
		return "timeout";
	case CURLE_PEER_FAILED_VERIFICATION:
		return "tls-verify-failed";
	case CURLE_SSL_CACERT_BADFILE:
		return "tls-bad-ca-file";
	case CURLE_SSL_CONNECT_ERROR:
		return "tls-failed";
	case CURLE_PARTIAL_FILE:
	case CURLE_RECV_ERROR:
	case CURLE_SEND_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
		return "connection-lost";
	default:
		return "transfer-failed";
	}
}

static void deliver(struct k8s_request *r)
{
	struct k8s_result res = {0};
	char *line;
	size_t len;

	if (r->open_pending && !r->cancelled) {
		r->open_pending = false;
		if (r->ops->open)
			r->ops->open(r->arg, r->status);
	}
	while (r->stream && r->status == 200 && !r->cancelled &&
	       (line = k8s_line_buf_next(&r->lines, &len)))
		r->ops->line(r->arg, line, len);
	if (!r->done || r->cancelled)
		return;
	res.status = r->status;
	res.ok = r->result == CURLE_OK;
	if (!res.ok) {
		res.error = curl_reason(r);
		res.detail = r->errbuf[0] ? r->errbuf : curl_easy_strerror(r->result);
	}
	res.body = r->body ? r->body : "";
	res.body_len = r->body_len;
	r->ops->done(r->arg, &res);
}

/* Finished transfers, then every request with news, outside libcurl. */
static void process(struct k8s_api *api)
{
	struct k8s_request *r;
	CURLMsg *msg;
	int left;

	if (api->processing)
		return;
	api->processing = true;
	while ((msg = curl_multi_info_read(api->multi, &left))) {
		CURL *easy = msg->easy_handle;
		CURLcode result = msg->data.result;

		if (msg->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&r);
		r->result = result;
		r->done = true;
		curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &r->status);
		k8s_api_note_version(api, easy);
		curl_multi_remove_handle(api->multi, easy);
		r->in_multi = false;
		k8s_api_queue(r);
	}
	while ((r = api->queue_head)) {
		unqueue_request(r);
		api->delivering = r;
		deliver(r);
		api->delivering = NULL;
		if (r->cancelled || r->done)
			free_request(r);
	}
	api->processing = false;
}

static void on_fd(void *arg, int fd, uint32_t events)
{
	struct k8s_api *api = arg;
	int flags = 0, running;

	if (events & EPOLLIN)
		flags |= CURL_CSELECT_IN;
	if (events & EPOLLOUT)
		flags |= CURL_CSELECT_OUT;
	if (events & (EPOLLERR | EPOLLHUP))
		flags |= CURL_CSELECT_ERR;
	curl_multi_socket_action(api->multi, fd, flags, &running);
	process(api);
}

static void on_timer(void *arg)
{
	struct k8s_api *api = arg;
	int running;

	curl_multi_socket_action(api->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	process(api);
}

/* ------------------------------------------------------------- requests */

struct k8s_api *k8s_api_new(struct event_loop *loop, const struct k8s_api_config *cfg, char *err,
			    size_t errlen)
{
	struct k8s_api *api;

	if (!curl_ready) {
		if (curl_global_init(CURL_GLOBAL_DEFAULT)) {
			snprintf(err, errlen, "cannot initialise libcurl");
			return NULL;
		}
		curl_ready = true;
	}
	api = calloc(1, sizeof(*api));
	if (!api || !(api->multi = curl_multi_init())) {
		snprintf(err, errlen, "out of memory");
		free(api);
		return NULL;
	}
	api->loop = loop;
	api->cfg = *cfg;
	curl_multi_setopt(api->multi, CURLMOPT_SOCKETFUNCTION, socket_cb);
	curl_multi_setopt(api->multi, CURLMOPT_SOCKETDATA, api);
	curl_multi_setopt(api->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
	curl_multi_setopt(api->multi, CURLMOPT_TIMERDATA, api);
	/* Over HTTP/2 every request shares one connection (k8s_api_note_version). */
	curl_multi_setopt(api->multi, CURLMOPT_PIPELINING, CURLPIPE_MULTIPLEX);
	return api;
}

/*
 * Once the server answered over HTTP/2, the agent keeps to one connection:
 * a new request waits for it (CURLOPT_PIPEWAIT) rather than opening
 * another.  Over HTTP/1.1 each open request (a watch is one for minutes)
 * needs a connection of its own: there is one per informer, whatever the
 * number of services.
 */
void k8s_api_note_version(struct k8s_api *api, CURL *easy)
{
	long version = 0;
	int v;

	curl_easy_getinfo(easy, CURLINFO_HTTP_VERSION, &version);
	if (version == 0)
		return;
	v = version >= CURL_HTTP_VERSION_2_0 ? 2 : 1;
	api->stats.http_version = v;
	if (v == api->http_version)
		return;
	api->http_version = v;
	curl_multi_setopt(api->multi, CURLMOPT_MAX_HOST_CONNECTIONS, v == 2 ? 1L : 0L);
	curl_multi_setopt(api->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, v == 2 ? 1L : 0L);
	log_info("msg=\"k8s API connection\" http_version=%s connections=%s", v == 2 ? "2" : "1.1",
		 v == 2 ? "one, every request multiplexed" : "one per open request");
}

void k8s_api_stats(const struct k8s_api *api, struct k8s_api_stats *out)
{
	*out = api->stats;
}

void k8s_api_free(struct k8s_api *api)
{
	if (!api)
		return;
	while (api->requests)
		free_request(api->requests);
	loop_timer_cancel(api->loop, &api->timer);
	curl_multi_cleanup(api->multi);
	free(api);
}

const struct k8s_api_config *k8s_api_config(const struct k8s_api *api)
{
	return &api->cfg;
}

static struct k8s_request *start_request(struct k8s_api *api, const char *path, bool stream,
					 const struct k8s_send *send,
					 const struct k8s_request_ops *ops, void *arg, char *err,
					 size_t errlen)
{
	struct k8s_request *r = calloc(1, sizeof(*r));

	if (!r || !(r->easy = curl_easy_init())) {
		snprintf(err, errlen, "out of memory");
		free(r);
		return NULL;
	}
	api->stats.open_requests++;
	r->api = api;
	r->ops = ops;
	r->arg = arg;
	r->stream = stream;
	r->next = api->requests;
	if (api->requests)
		api->requests->prev = r;
	api->requests = r;
	if (k8s_request_setup(r, path, err, errlen) ||
	    (send && k8s_request_set_body(r, send, err, errlen))) {
		free_request(r);
		return NULL;
	}
	if (curl_multi_add_handle(api->multi, r->easy) != CURLM_OK) {
		snprintf(err, errlen, "cannot start the request");
		free_request(r);
		return NULL;
	}
	r->in_multi = true;
	api->stats.requests++;
	return r;
}

struct k8s_request *k8s_request_start(struct k8s_api *api, const char *path, bool stream,
				      const struct k8s_request_ops *ops, void *arg, char *err,
				      size_t errlen)
{
	return start_request(api, path, stream, NULL, ops, arg, err, errlen);
}

struct k8s_request *k8s_request_send(struct k8s_api *api, const char *path,
				     const struct k8s_send *send, const struct k8s_request_ops *ops,
				     void *arg, char *err, size_t errlen)
{
	return start_request(api, path, false, send, ops, arg, err, errlen);
}

void k8s_request_cancel(struct k8s_request *r)
{
	if (!r)
		return;
	if (r->api->delivering == r) {
		/* Its own callback: freed when the callback returns. */
		r->cancelled = true;
		if (r->in_multi) {
			curl_multi_remove_handle(r->api->multi, r->easy);
			r->in_multi = false;
		}
		return;
	}
	free_request(r);
}
