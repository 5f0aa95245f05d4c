// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "sources/k8s/k8s_watcher.h"
#include "lib/clock.h"
#include "lib/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum watcher_phase {
	PHASE_LIST,
	PHASE_WATCH,
};

struct k8s_watcher {
	struct k8s_api *api;
	struct event_loop *loop;
	char *what, *path;
	const struct k8s_watcher_ops *ops;
	void *owner;
	struct k8s_watch_state st;
	struct k8s_request *req;
	struct k8s_request *probe; /* the limit=1 list confirming a silent watch */
	enum watcher_phase phase;  /* of req, or of the retry to come */
	char *cont;		   /* the list's continue token; NULL: first page next */
	unsigned failures;	   /* in a row, for the backoff */
	unsigned gone_streak;	   /* 410s in a row with no event between them */
	struct loop_timer retry_timer;
	struct loop_timer stall_timer;
	struct loop_timer settle_timer;
	uint64_t last_data_ms;
	uint64_t watch_started_ms;
	uint64_t healthy_since_ms; /* 0: failing, or not healthy yet */
	bool watch_had_lines;
	bool proven; /* this watch answered 200, delivered data, or its probe answered */
};

uint64_t k8s_backoff_ms(unsigned failures)
{
	uint64_t ms = K8S_BACKOFF_START_MS;

	for (unsigned i = 1; i < failures && ms < K8S_BACKOFF_MAX_MS; i++)
		ms *= 2;
	return ms < K8S_BACKOFF_MAX_MS ? ms : K8S_BACKOFF_MAX_MS;
}

void k8s_watch_url(char *buf, size_t len, const char *path, const char *rv, uint64_t timeout_ms)
{
	unsigned long long secs = timeout_ms / 1000 ? timeout_ms / 1000 : 1;
	size_t used;

	snprintf(buf, len, "%s%swatch=1&allowWatchBookmarks=true&timeoutSeconds=%llu%s", path,
		 strchr(path, '?') ? "&" : "?", secs, rv && rv[0] ? "&resourceVersion=" : "");
	used = strlen(buf);
	if (rv && rv[0])
		k8s_url_escape(buf, len, &used, rv);
}

void k8s_list_url(char *buf, size_t len, const char *path, unsigned limit, const char *cont)
{
	size_t used;

	snprintf(buf, len, "%s%slimit=%u%s", path, strchr(path, '?') ? "&" : "?", limit,
		 cont ? "&continue=" : "");
	used = strlen(buf);
	if (cont)
		k8s_url_escape(buf, len, &used, cont);
}

static void start_list(struct k8s_watcher *w);
static void start_watch(struct k8s_watcher *w);

static void stop_request(struct k8s_watcher *w)
{
	k8s_request_cancel(w->req);
	k8s_request_cancel(w->probe);
	w->req = w->probe = NULL;
	loop_timer_cancel(w->loop, &w->stall_timer);
	loop_timer_cancel(w->loop, &w->settle_timer);
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

/* The API answered: tell the owner; the backoff starts over after a healthy period. */
static void healthy(struct k8s_watcher *w)
{
	if (!w->healthy_since_ms)
		w->healthy_since_ms = mono_now_ms();
	w->ops->health(w->owner, NULL, NULL);
}

static void forget_backoff_if_healthy_long(struct k8s_watcher *w)
{
	if (w->healthy_since_ms && mono_now_ms() - w->healthy_since_ms >= K8S_HEALTHY_PERIOD_MS)
		w->failures = 0;
}

/* A failed request: tell the owner, then try again after the backoff. */
static void fail(struct k8s_watcher *w, enum watcher_phase phase, const char *error,
		 const char *detail)
{
	uint64_t delay;

	forget_backoff_if_healthy_long(w);
	w->healthy_since_ms = 0;
	delay = k8s_backoff_ms(++w->failures);
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

/*
 * 410: the resourceVersion (or the list's continue token) is too old, list
 * again at once.  A watch that gets 410 again right after that list (a
 * server whose lists run ahead of its watch cache) lists again only after a
 * backoff: never a busy loop.
 */
static void relist_after_gone(struct k8s_watcher *w)
{
	stop_request(w);
	free(w->cont);
	w->cont = NULL;
	if (w->gone_streak++ == 0)
		start_list(w);
	else
		retry_later(w, PHASE_LIST, k8s_backoff_ms(w->gone_streak - 1));
}

/* ------------------------------------------------------------------ list */

static void on_object(void *arg, enum k8s_event_type type, json_object *obj)
{
	struct k8s_watcher *w = arg;

	w->ops->object(w->owner, type, obj);
}

/* One page in: its items to the owner, then the next page or the watch. */
static void take_page(struct k8s_watcher *w, json_object *root)
{
	const char *token = k8s_get_str(root, "metadata.continue");

	if (!w->cont)
		w->ops->list_start(w->owner);
	k8s_list_apply(&w->st, root, false, on_object, w);
	free(w->cont);
	w->cont = token && token[0] ? strdup(token) : NULL;
	healthy(w);
	if (w->cont) {
		start_list(w);
		return;
	}
	w->ops->list_done(w->owner);
	start_watch(w);
}

static void list_done(void *arg, const struct k8s_result *res)
{
	struct k8s_watcher *w = arg;
	json_object *root;
	char err[256];

	w->req = NULL;
	if (!res->ok) {
		fail(w, PHASE_LIST, res->error, res->detail);
	} else if (res->status == 410 && w->cont) {
		log_info("msg=\"k8s list continue token expired: listing again\" watch=%s",
			 log_q(w->what));
		relist_after_gone(w);
	} else if (res->status != 200) {
		http_error(w, PHASE_LIST, res);
	} else if (!(root = k8s_list_load(res->body, res->body_len, false, err, sizeof(err)))) {
		/* Checked before anything is handed out: a garbled page changes nothing. */
		fail(w, PHASE_LIST, "bad-response", err);
	} else {
		take_page(w, root);
		json_object_put(root);
	}
}

static const struct k8s_request_ops list_ops = {
    .done = list_done,
};

static void start_list(struct k8s_watcher *w)
{
	char path[4096], err[512];

	stop_request(w);
	w->phase = PHASE_LIST;
	k8s_list_url(path, sizeof(path), w->path, K8S_LIST_PAGE, w->cont);
	w->req = k8s_request_start(w->api, path, false, &list_ops, w, err, sizeof(err));
	if (!w->req)
		fail(w, PHASE_LIST, "request-failed", err);
}

/* ----------------------------------------------------------------- watch */

static void prove(struct k8s_watcher *w)
{
	if (w->proven)
		return;
	w->proven = true;
	loop_timer_cancel(w->loop, &w->settle_timer);
	healthy(w);
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

static void probe_done(void *arg, const struct k8s_result *res)
{
	struct k8s_watcher *w = arg;

	w->probe = NULL;
	if (res->ok && res->status == 200)
		prove(w);
	else
		log_debug("msg=\"k8s probe failed\" watch=%s status=%ld error=%s", log_q(w->what),
			  res->status, res->error ? res->error : "-");
}

static const struct k8s_request_ops probe_ops = {
    .done = probe_done,
};

/* The watch has not answered yet: a proxy may hold its headers; ask once. */
static void on_settle(void *arg)
{
	struct k8s_watcher *w = arg;
	char path[4096], err[512];

	if (w->proven || !w->req || w->probe)
		return;
	k8s_list_url(path, sizeof(path), w->path, 1, NULL);
	w->probe = k8s_request_start(w->api, path, false, &probe_ops, w, err, sizeof(err));
	if (!w->probe)
		log_debug("msg=\"k8s probe not started\" watch=%s error=%s", log_q(w->what),
			  log_q(err));
}

static void watch_open(void *arg, long status)
{
	struct k8s_watcher *w = arg;

	w->last_data_ms = mono_now_ms();
	if (status == 200)
		prove(w);
}

static void watch_line(void *arg, char *line, size_t len)
{
	struct k8s_watcher *w = arg;
	char err[512];

	w->last_data_ms = mono_now_ms();
	w->watch_had_lines = true;
	prove(w);
	switch (k8s_watch_line(&w->st, line, len, on_object, w, err, sizeof(err))) {
	case K8S_LINE_OBJECT:
	case K8S_LINE_BOOKMARK:
		w->gone_streak = 0;
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

/*
 * Cut after it was healthy: an idle proxy, a proxy's 502/504, a dropped
 * connection.  Resumed at once from the last resourceVersion; a 4xx is the
 * API's own answer, not a cut.
 */
static bool was_cut(const struct k8s_watcher *w, const struct k8s_result *res, uint64_t lasted)
{
	return w->proven && lasted >= K8S_MIN_WATCH_MS &&
	       !(res->status >= 400 && res->status < 500);
}

static void watch_done(void *arg, const struct k8s_result *res)
{
	struct k8s_watcher *w = arg;
	uint64_t lasted = mono_now_ms() - w->watch_started_ms;

	w->req = NULL;
	stop_request(w);
	if (res->ok && res->status == 410) {
		log_info("msg=\"k8s resourceVersion expired (410): listing again\" watch=%s "
			 "resource_version=%s",
			 log_q(w->what), w->st.rv);
		relist_after_gone(w);
	} else if ((!res->ok || res->status != 200) && was_cut(w, res, lasted)) {
		log_debug("msg=\"k8s watch cut: resuming\" watch=%s lasted_ms=%llu status=%ld "
			  "error=%s resource_version=%s",
			  log_q(w->what), (unsigned long long)lasted, res->status,
			  res->error ? res->error : "-", w->st.rv);
		forget_backoff_if_healthy_long(w);
		start_watch(w);
	} else if (!res->ok) {
		fail(w, PHASE_WATCH, res->error, res->detail);
	} else if (res->status != 200) {
		http_error(w, PHASE_WATCH, res);
	} else if (lasted < K8S_MIN_WATCH_MS && !w->watch_had_lines) {
		/* Ended at once without a word: not a timeout; do not spin. */
		retry_later(w, PHASE_WATCH, k8s_backoff_ms(++w->failures));
	} else {
		/* The server's timeoutSeconds: resume where it stopped. */
		forget_backoff_if_healthy_long(w);
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
	uint64_t timeout_ms = k8s_api_config(w->api)->watch_timeout_ms;
	char path[4096], err[512];

	stop_request(w);
	w->phase = PHASE_WATCH;
	k8s_watch_url(path, sizeof(path), w->path, w->st.rv, timeout_ms);
	w->watch_started_ms = w->last_data_ms = mono_now_ms();
	w->watch_had_lines = false;
	w->proven = false;
	w->req = k8s_request_start(w->api, path, true, &watch_ops, w, err, sizeof(err));
	if (!w->req) {
		fail(w, PHASE_WATCH, "request-failed", err);
		return;
	}
	if (loop_timer_arm(w->loop, &w->stall_timer, 2 * timeout_ms, on_stall_check, w) ||
	    loop_timer_arm(w->loop, &w->settle_timer, K8S_WATCH_SETTLE_MS, on_settle, w))
		log_error("msg=\"cannot arm the watch timers\" watch=%s", log_q(w->what));
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
	w->path = strdup(params->path);
	if (!w->what || !w->path) {
		k8s_watcher_free(w);
		return NULL;
	}
	start_list(w);
	return w;
}

void k8s_watcher_free(struct k8s_watcher *w)
{
	if (!w)
		return;
	stop_request(w);
	loop_timer_cancel(w->loop, &w->retry_timer);
	free(w->cont);
	free(w->what);
	free(w->path);
	free(w);
}
