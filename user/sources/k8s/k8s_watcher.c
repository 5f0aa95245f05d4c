// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "sources/k8s/k8s_watcher.h"
#include "lib/clock.h"
#include "lib/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A watch the server ends sooner than this without any line is retried with backoff. */
#define K8S_MIN_WATCH_MS 1000

enum watcher_phase {
	PHASE_LIST,
	PHASE_WATCH,
};

struct k8s_watcher {
	struct k8s_api *api;
	struct event_loop *loop;
	char *what, *list_path, *watch_path;
	const struct k8s_watcher_ops *ops;
	void *owner;
	struct k8s_watch_state st;
	struct k8s_request *req;
	enum watcher_phase phase; /* of req, or of the retry to come */
	unsigned failures;	  /* in a row, for the backoff */
	unsigned gone_streak;	  /* 410s in a row with no event between them */
	struct loop_timer retry_timer;
	struct loop_timer stall_timer;
	uint64_t last_data_ms;
	uint64_t watch_started_ms;
	bool watch_had_lines;
};

uint64_t k8s_backoff_ms(unsigned failures)
{
	uint64_t ms = K8S_BACKOFF_START_MS;

	for (unsigned i = 1; i < failures && ms < K8S_BACKOFF_MAX_MS; i++)
		ms *= 2;
	return ms < K8S_BACKOFF_MAX_MS ? ms : K8S_BACKOFF_MAX_MS;
}

void k8s_watch_url(char *buf, size_t len, const char *watch_path, const char *rv,
		   uint64_t timeout_ms)
{
	unsigned long long secs = timeout_ms / 1000 ? timeout_ms / 1000 : 1;
	size_t used;

	snprintf(buf, len, "%s%swatch=1&allowWatchBookmarks=true&timeoutSeconds=%llu%s", watch_path,
		 strchr(watch_path, '?') ? "&" : "?", secs, rv && rv[0] ? "&resourceVersion=" : "");
	used = strlen(buf);
	if (rv && rv[0])
		k8s_url_escape(buf, len, &used, rv);
}

static void start_list(struct k8s_watcher *w);
static void start_watch(struct k8s_watcher *w);

static void stop_request(struct k8s_watcher *w)
{
	k8s_request_cancel(w->req);
	w->req = NULL;
	loop_timer_cancel(w->loop, &w->stall_timer);
}

static void on_retry(void *arg)
{
	struct k8s_watcher *w = arg;

	if (w->phase == PHASE_LIST)
		start_list(w);
	else
		start_watch(w);
}

static void retry_later(struct k8s_watcher *w, enum watcher_phase phase, uint64_t delay_ms)
{
	w->phase = phase;
	if (loop_timer_arm(w->loop, &w->retry_timer, delay_ms, on_retry, w))
		log_error("msg=\"cannot schedule a Kubernetes API retry\" watch=%s",
			  log_q(w->what));
}

/* A failed request: tell the owner, then try again after the backoff. */
static void fail(struct k8s_watcher *w, enum watcher_phase phase, const char *error,
		 const char *detail)
{
	uint64_t delay = k8s_backoff_ms(++w->failures);

	log_debug("msg=\"k8s request failed\" watch=%s phase=%s error=%s detail=%s "
		  "retry_ms=%llu",
		  log_q(w->what), phase == PHASE_LIST ? "list" : "watch", error, log_q(detail),
		  (unsigned long long)delay);
	w->ops->health(w->owner, error, detail);
	retry_later(w, phase, delay);
}

static void http_error(struct k8s_watcher *w, enum watcher_phase phase,
		       const struct k8s_result *res)
{
	char error[32], detail[512];

	snprintf(error, sizeof(error), "http-%ld", res->status);
	k8s_status_message(res->body, res->body_len, detail, sizeof(detail));
	fail(w, phase, error, detail);
}

/* ------------------------------------------------------------------ list */

static void on_object(void *arg, enum k8s_event_type type, json_object *obj)
{
	struct k8s_watcher *w = arg;

	w->ops->object(w->owner, type, obj);
}

static void list_done(void *arg, const struct k8s_result *res)
{
	struct k8s_watcher *w = arg;
	json_object *root;
	char err[256];

	w->req = NULL;
	if (!res->ok) {
		fail(w, PHASE_LIST, res->error, res->detail);
		return;
	}
	if (res->status != 200) {
		http_error(w, PHASE_LIST, res);
		return;
	}
	/* Checked before anything is forgotten: a garbled list changes nothing. */
	root = k8s_list_load(res->body, res->body_len, false, err, sizeof(err));
	if (!root) {
		fail(w, PHASE_LIST, "bad-response", err);
		return;
	}
	w->ops->reset(w->owner);
	k8s_list_apply(&w->st, root, false, on_object, w);
	json_object_put(root);
	w->failures = 0;
	w->ops->synced(w->owner);
	w->ops->health(w->owner, NULL, NULL);
	start_watch(w);
}

static const struct k8s_request_ops list_ops = {
    .done = list_done,
};

static void start_list(struct k8s_watcher *w)
{
	char err[512];

	stop_request(w);
	w->phase = PHASE_LIST;
	w->req = k8s_request_start(w->api, w->list_path, false, &list_ops, w, err, sizeof(err));
	if (!w->req)
		fail(w, PHASE_LIST, "request-failed", err);
}

/* ----------------------------------------------------------------- watch */

/*
 * 410: the resourceVersion is too old, list again at once.  A watch that
 * gets 410 again right after that list (a server whose lists run ahead of
 * its watch cache) lists again only after a backoff: never a busy loop.
 */
static void relist_after_gone(struct k8s_watcher *w)
{
	stop_request(w);
	if (w->gone_streak++ == 0)
		start_list(w);
	else
		retry_later(w, PHASE_LIST, k8s_backoff_ms(w->gone_streak - 1));
}

static void on_stall_check(void *arg)
{
	struct k8s_watcher *w = arg;
	uint64_t stall_ms = 2 * k8s_api_config(w->api)->watch_timeout_ms;
	uint64_t quiet = mono_now_ms() - w->last_data_ms;
	char detail[64];

	if (quiet < stall_ms) {
		if (loop_timer_arm(w->loop, &w->stall_timer, stall_ms - quiet, on_stall_check, w))
			log_error("msg=\"cannot re-arm the watch stall check\" watch=%s",
				  log_q(w->what));
		return;
	}
	snprintf(detail, sizeof(detail), "no data for %llu ms", (unsigned long long)quiet);
	stop_request(w);
	fail(w, PHASE_WATCH, "watch-stalled", detail);
}

static void watch_open(void *arg, long status)
{
	struct k8s_watcher *w = arg;

	w->last_data_ms = mono_now_ms();
	if (status == 200) {
		w->failures = 0;
		w->ops->health(w->owner, NULL, NULL);
	}
}

static void watch_line(void *arg, char *line, size_t len)
{
	struct k8s_watcher *w = arg;
	char err[512];

	w->last_data_ms = mono_now_ms();
	w->watch_had_lines = true;
	switch (k8s_watch_line(&w->st, line, len, on_object, w, err, sizeof(err))) {
	case K8S_LINE_OBJECT:
		w->gone_streak = 0;
		w->ops->synced(w->owner);
		break;
	case K8S_LINE_BOOKMARK:
		w->gone_streak = 0;
		log_debug("msg=\"k8s bookmark\" watch=%s resource_version=%s", log_q(w->what),
			  w->st.rv);
		break;
	case K8S_LINE_EMPTY:
		break;
	case K8S_LINE_GONE:
		log_info("msg=\"k8s resourceVersion expired: listing again\" watch=%s "
			 "resource_version=%s detail=%s",
			 log_q(w->what), w->st.rv, log_q(err));
		relist_after_gone(w);
		break;
	case K8S_LINE_ERROR:
		stop_request(w);
		fail(w, PHASE_WATCH, "watch-error", err);
		break;
	case K8S_LINE_BAD:
		stop_request(w);
		fail(w, PHASE_WATCH, "bad-response", err);
		break;
	}
}

static void watch_done(void *arg, const struct k8s_result *res)
{
	struct k8s_watcher *w = arg;
	uint64_t lasted = mono_now_ms() - w->watch_started_ms;

	w->req = NULL;
	loop_timer_cancel(w->loop, &w->stall_timer);
	if (!res->ok) {
		fail(w, PHASE_WATCH, res->error, res->detail);
	} else if (res->status == 410) {
		log_info("msg=\"k8s resourceVersion expired (410): listing again\" watch=%s "
			 "resource_version=%s",
			 log_q(w->what), w->st.rv);
		relist_after_gone(w);
	} else if (res->status != 200) {
		http_error(w, PHASE_WATCH, res);
	} else if (lasted < K8S_MIN_WATCH_MS && !w->watch_had_lines) {
		/* Ended at once without a word: not a timeout; do not spin. */
		retry_later(w, PHASE_WATCH, k8s_backoff_ms(++w->failures));
	} else {
		/* The server's timeoutSeconds: resume where it stopped. */
		start_watch(w);
	}
}

static const struct k8s_request_ops watch_ops = {
    .open = watch_open,
    .line = watch_line,
    .done = watch_done,
};

static void start_watch(struct k8s_watcher *w)
{
	char path[4096], err[512];

	stop_request(w);
	w->phase = PHASE_WATCH;
	k8s_watch_url(path, sizeof(path), w->watch_path, w->st.rv,
		      k8s_api_config(w->api)->watch_timeout_ms);
	w->watch_started_ms = w->last_data_ms = mono_now_ms();
	w->watch_had_lines = false;
	w->req = k8s_request_start(w->api, path, true, &watch_ops, w, err, sizeof(err));
	if (!w->req) {
		fail(w, PHASE_WATCH, "request-failed", err);
		return;
	}
	if (loop_timer_arm(w->loop, &w->stall_timer, 2 * k8s_api_config(w->api)->watch_timeout_ms,
			   on_stall_check, w))
		log_error("msg=\"cannot arm the watch stall check\" watch=%s", log_q(w->what));
}

/* ------------------------------------------------------------- lifetime */

struct k8s_watcher *k8s_watcher_start(struct k8s_api *api, struct event_loop *loop,
				      const struct k8s_watcher_params *params,
				      const struct k8s_watcher_ops *ops, void *owner)
{
	struct k8s_watcher *w = calloc(1, sizeof(*w));

	if (!w)
		return NULL;
	w->api = api;
	w->loop = loop;
	w->ops = ops;
	w->owner = owner;
	w->what = strdup(params->what);
	w->list_path = strdup(params->list_path);
	w->watch_path = strdup(params->watch_path);
	if (!w->what || !w->list_path || !w->watch_path) {
		k8s_watcher_free(w);
		return NULL;
	}
	start_list(w);
	return w;
}

void k8s_watcher_relist(struct k8s_watcher *w)
{
	loop_timer_cancel(w->loop, &w->retry_timer);
	start_list(w);
}

void k8s_watcher_free(struct k8s_watcher *w)
{
	if (!w)
		return;
	stop_request(w);
	loop_timer_cancel(w->loop, &w->retry_timer);
	free(w->what);
	free(w->list_path);
	free(w->watch_path);
	free(w);
}
