// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "sources/k8s/k8s_api.h"
#include "sources/k8s/k8s_stream.h"
#include "lib/log.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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
};

static bool curl_ready;

/* ------------------------------------------------------------- the queue */

static void queue_request(struct k8s_request *r)
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
	curl_slist_free_all(r->headers);
	k8s_line_buf_free(&r->lines);
	free(r->body);
	free(r);
}

/* -------------------------------------------------------- curl callbacks */

static int append_body(struct k8s_request *r, const char *data, size_t n, size_t max)
{
	if (r->body_len + n > max)
		return -E2BIG;
	if (r->body_len + n + 1 > r->body_cap) {
		size_t cap = r->body_cap ? r->body_cap : 8192;
		char *grown;

		while (cap < r->body_len + n + 1)
			cap *= 2;
		grown = realloc(r->body, cap);
		if (!grown)
			return -ENOMEM;
		r->body = grown;
		r->body_cap = cap;
	}
	memcpy(r->body + r->body_len, data, n);
	r->body_len += n;
	r->body[r->body_len] = '\0';
	return 0;
}

static size_t on_write(char *data, size_t size, size_t nmemb, void *userp)
{
	struct k8s_request *r = userp;
	size_t n = size * nmemb;
	int failed;

	if (!r->status)
		curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &r->status);
	if (r->stream && r->status == 200)
		failed = k8s_line_buf_append(&r->lines, data, n);
	else
		failed = append_body(r, data, n, r->stream ? K8S_MAX_ERROR_BODY : K8S_MAX_BODY);
	if (failed) {
		r->too_large = true;
		return 0; /* ends the transfer with CURLE_WRITE_ERROR */
	}
	queue_request(r);
	return n;
}

/* The blank line after the headers: the answer's status is known. */
static size_t on_header(char *data, size_t size, size_t nmemb, void *userp)
{
	struct k8s_request *r = userp;
	size_t n = size * nmemb;
	long code = 0;

	if (n <= 2 && n > 0 && (data[0] == '\r' || data[0] == '\n')) {
		curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &code);
		if (code >= 200) {
			r->status = code;
			r->open_pending = true;
			queue_request(r);
		}
	}
	return n;
}

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
		curl_multi_remove_handle(api->multi, easy);
		r->in_multi = false;
		queue_request(r);
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
	/* Over HTTP/2 every watch shares one connection. */
	curl_multi_setopt(api->multi, CURLMOPT_PIPELINING, CURLPIPE_MULTIPLEX);
	return api;
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

static int add_auth(struct k8s_request *r, char *err, size_t errlen)
{
	const char *path = r->api->cfg.token_file;
	char *token, *header;
	struct curl_slist *l;

	if (!path[0])
		return 0;
	token = malloc(K8S_MAX_TOKEN);
	if (!token) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	if (k8s_read_small_file(path, token, K8S_MAX_TOKEN)) {
		snprintf(err, errlen, "cannot read token file %s: %s", path, strerror(errno));
		free(token);
		return -EINVAL;
	}
	if (!token[0]) {
		snprintf(err, errlen, "token file %s is empty", path);
		free(token);
		return -EINVAL;
	}
	if (asprintf(&header, "Authorization: Bearer %s", token) < 0)
		header = NULL;
	/* The token is a secret: do not leave copies around. */
	explicit_bzero(token, K8S_MAX_TOKEN);
	free(token);
	if (!header) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	l = curl_slist_append(r->headers, header);
	explicit_bzero(header, strlen(header));
	free(header);
	if (!l) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	r->headers = l;
	return 0;
}

static int setup_easy(struct k8s_request *r, const char *path, char *err, size_t errlen)
{
	const struct k8s_api_config *cfg = &r->api->cfg;
	CURL *e = r->easy;
	struct curl_slist *l;
	char url[4096];

	snprintf(url, sizeof(url), "%s%s", cfg->server, path);
	l = curl_slist_append(NULL, "Accept: application/json");
	if (!l) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	r->headers = l;
	if (add_auth(r, err, errlen))
		return -EINVAL;
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, r->headers);
	curl_easy_setopt(e, CURLOPT_USERAGENT, "socklb/" SOCKLB_VERSION);
	curl_easy_setopt(e, CURLOPT_PRIVATE, r);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, r);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, r->errbuf);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "https,http");
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
	if (cfg->ca_file[0])
		curl_easy_setopt(e, CURLOPT_CAINFO, cfg->ca_file);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)K8S_CONNECT_TIMEOUT_MS);
	curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(e, CURLOPT_TCP_KEEPIDLE, 30L);
	curl_easy_setopt(e, CURLOPT_TCP_KEEPINTVL, 10L);
	curl_easy_setopt(e, CURLOPT_PIPEWAIT, 1L);
	/* A watch runs until the server ends it; the watcher notices a stall itself. */
	if (!r->stream)
		curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)K8S_REQUEST_TIMEOUT_MS);
	return 0;
}

struct k8s_request *k8s_request_start(struct k8s_api *api, const char *path, bool stream,
				      const struct k8s_request_ops *ops, void *arg, char *err,
				      size_t errlen)
{
	struct k8s_request *r = calloc(1, sizeof(*r));

	if (!r || !(r->easy = curl_easy_init())) {
		snprintf(err, errlen, "out of memory");
		free(r);
		return NULL;
	}
	r->api = api;
	r->ops = ops;
	r->arg = arg;
	r->stream = stream;
	r->next = api->requests;
	if (api->requests)
		api->requests->prev = r;
	api->requests = r;
	if (setup_easy(r, path, err, errlen)) {
		free_request(r);
		return NULL;
	}
	if (curl_multi_add_handle(api->multi, r->easy) != CURLM_OK) {
		snprintf(err, errlen, "cannot start the request");
		free_request(r);
		return NULL;
	}
	r->in_multi = true;
	return r;
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

void k8s_url_escape(char *buf, size_t len, size_t *used, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";

	for (; *s && *used + 4 < len; s++) {
		unsigned char c = (unsigned char)*s;

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '.' || c == '_' || c == '~') {
			buf[(*used)++] = (char)c;
		} else {
			buf[(*used)++] = '%';
			buf[(*used)++] = hex[c >> 4];
			buf[(*used)++] = hex[c & 15];
		}
	}
	buf[*used] = '\0';
}
