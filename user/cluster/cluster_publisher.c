// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "cluster/cluster_publisher.h"
#include "lib/clock.h"
#include "lib/log.h"
#include "sources/k8s/k8s_objects.h"
#include "sources/k8s/k8s_stream.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NODE_RETRY_MAX_MS 30000ULL

enum step {
	STEP_NONE,
	STEP_NODE,   /* GET the Node, for its uid */
	STEP_WRITE,  /* POST or PUT the object */
	STEP_REREAD, /* GET the object, for its resourceVersion, after a 409 */
};

struct cluster_publisher {
	struct event_loop *loop;
	struct k8s_api *api;
	struct cluster_report *report;
	struct publish_policy policy;
	struct publish_state st;
	struct loop_timer timer;
	struct k8s_request *req;
	enum step step;
	bool creating;	     /* the write in flight is a POST */
	char rv[K8S_RV_LEN]; /* of the object as last written or read; "": create it */
	char owner_uid[128];
	bool node_answered; /* found, or the API does not know it */
	unsigned node_failures;
	uint64_t node_retry_ms;	 /* monotonic: when to ask for the Node again */
	unsigned tries;		 /* requests of the write under way */
	uint64_t gen, write_gen; /* report changes; the one the write in flight carries */
	char last_error[256];
	struct cluster_publisher_stats stats;
};

static void kick(struct cluster_publisher *p);

static void item_path(const struct cluster_publisher *p, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%s", CLUSTER_NODES_PATH, p->report->name);
}

/* "http-503: the server's words" or libcurl's reason, kept for status. */
static void note_error(struct cluster_publisher *p, const char *what, const struct k8s_result *res)
{
	char detail[256] = "";

	if (res->ok)
		k8s_status_message(res->body, res->body_len, detail, sizeof(detail));
	if (res->ok)
		snprintf(p->last_error, sizeof(p->last_error), "%s: http-%ld%s%s", what,
			 res->status, detail[0] ? ": " : "", detail);
	else
		snprintf(p->last_error, sizeof(p->last_error), "%s: %s", what, res->error);
	p->stats.last_error = p->last_error;
	p->stats.errors++;
}

/* A string field of the object in an answer's body into out ("" if none). */
static void body_field(const struct k8s_result *res, const char *path, char *out, size_t len)
{
	json_object *obj = json_tokener_parse(res->body);
	const char *v = obj ? k8s_get_str(obj, path) : NULL;

	snprintf(out, len, "%s", v ? v : "");
	json_object_put(obj);
}

static void take_rv(struct cluster_publisher *p, const struct k8s_result *res)
{
	body_field(res, "metadata.resourceVersion", p->rv, sizeof(p->rv));
}

/* ------------------------------------------------------------ the Node */

static void node_done(struct cluster_publisher *p, const struct k8s_result *res)
{
	uint64_t wait = PUBLISH_BACKOFF_START_MS << (p->node_failures < 5 ? p->node_failures : 5);

	if (res->ok && res->status == 200) {
		body_field(res, "metadata.uid", p->owner_uid, sizeof(p->owner_uid));
		p->node_answered = true;
		p->gen++; /* the next write adds the owner */
		return;
	}
	if (res->ok && res->status == 404) {
		if (!p->node_answered)
			log_warn(
			    "msg=\"cluster: the API knows no Node of this name: its SocklbNode "
			    "has no owner and outlives it\" node=%s",
			    log_q(p->report->name));
		p->node_answered = true;
		return;
	}
	/* Write without an owner meanwhile; ask again later. */
	if (!p->node_failures)
		log_warn("msg=\"cluster: cannot read this node's Node object (RBAC: get nodes?)\" "
			 "node=%s",
			 log_q(p->report->name));
	note_error(p, "get node", res);
	p->node_answered = true;
	p->node_failures++;
	p->node_retry_ms = mono_now_ms() + (wait < NODE_RETRY_MAX_MS ? wait : NODE_RETRY_MAX_MS);
}

/* ----------------------------------------------------------- the writes */

static void start(struct cluster_publisher *p, enum step step);

static void write_failed(struct cluster_publisher *p, const char *what,
			 const struct k8s_result *res)
{
	if (p->st.failures++ == 0)
		log_warn("msg=\"cluster: cannot publish this node's connections\" node=%s "
			 "error=%s action=retry",
			 log_q(p->report->name), log_q(p->last_error[0] ? p->last_error : what));
	if (res)
		note_error(p, what, res);
	p->st.last_attempt_ms = mono_now_ms();
	p->stats.failing = true;
}

static void write_succeeded(struct cluster_publisher *p, const struct k8s_result *res)
{
	take_rv(p, res);
	if (p->stats.failing)
		log_info("msg=\"cluster: publishing again\" node=%s", log_q(p->report->name));
	p->st.written = true;
	p->st.failures = 0;
	p->st.last_write_ms = mono_now_ms();
	p->st.changed = p->gen != p->write_gen;
	p->stats.writes++;
	p->stats.creates += p->creating;
	p->stats.last_write_at = wall_now();
	p->stats.failing = false;
	p->stats.has_owner = p->owner_uid[0] != '\0';
}

/* 409 or 404: re-read or create, unless this write has tried enough. */
static void write_again(struct cluster_publisher *p, enum step step, const struct k8s_result *res)
{
	if (res->status == 409)
		p->stats.conflicts++;
	if (++p->tries >= CLUSTER_WRITE_TRIES) {
		note_error(p, "write", res);
		write_failed(p, "write", NULL);
		return;
	}
	start(p, step);
}

static void write_done(struct cluster_publisher *p, const struct k8s_result *res)
{
	long status = res->ok ? res->status : 0;

	if (status == 200 || status == 201) {
		write_succeeded(p, res);
	} else if (status == 409) {
		write_again(p, STEP_REREAD, res); /* exists (create) or changed (replace) */
	} else if (status == 404 && !p->creating) {
		p->rv[0] = '\0';
		write_again(p, STEP_WRITE, res);
	} else {
		note_error(p, p->creating ? "create" : "replace", res);
		write_failed(p, "write", NULL);
	}
}

static void reread_done(struct cluster_publisher *p, const struct k8s_result *res)
{
	long status = res->ok ? res->status : 0;

	if (status == 200 || status == 404) {
		if (status == 200)
			take_rv(p, res);
		else
			p->rv[0] = '\0';
		start(p, STEP_WRITE);
		return;
	}
	note_error(p, "read back", res);
	write_failed(p, "read back", NULL);
}

static void on_done(void *arg, const struct k8s_result *res)
{
	struct cluster_publisher *p = arg;
	enum step step = p->step;

	p->req = NULL;
	p->step = STEP_NONE;
	if (step == STEP_NODE)
		node_done(p, res);
	else if (step == STEP_WRITE)
		write_done(p, res);
	else
		reread_done(p, res);
	if (!p->req) {
		p->st.in_flight = false;
		kick(p);
	}
}

static const struct k8s_request_ops request_ops = {.done = on_done};

/* The body of a write: the report as it is now, with this moment as its heartbeat. */
static char *write_body(struct cluster_publisher *p)
{
	struct cluster_object_meta meta = {
	    .resource_version = p->rv[0] ? p->rv : NULL,
	    .owner_uid = p->owner_uid[0] ? p->owner_uid : NULL,
	};
	json_object *obj;
	char *body;

	p->report->heartbeat = wall_now();
	obj = cluster_report_object(p->report, &meta);
	body = obj ? strdup(json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PLAIN)) : NULL;
	json_object_put(obj);
	return body;
}

static struct k8s_request *start_write(struct cluster_publisher *p, char *err, size_t errlen)
{
	char path[512], *body = write_body(p);
	struct k8s_send send = {.content_type = "application/json"};
	struct k8s_request *req;

	if (!body) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	p->creating = !p->rv[0];
	p->write_gen = p->gen;
	send.method = p->creating ? "POST" : "PUT";
	send.body = body;
	if (p->creating)
		snprintf(path, sizeof(path), "%s", CLUSTER_NODES_PATH);
	else
		item_path(p, path, sizeof(path));
	req = k8s_request_send(p->api, path, &send, &request_ops, p, err, errlen);
	free(body);
	return req;
}

static void start(struct cluster_publisher *p, enum step step)
{
	char path[512], err[256];

	p->step = step;
	if (step == STEP_NODE)
		snprintf(path, sizeof(path), "/api/v1/nodes/%s", p->report->name);
	else
		item_path(p, path, sizeof(path));
	p->req = step == STEP_WRITE
		     ? start_write(p, err, sizeof(err))
		     : k8s_request_start(p->api, path, false, &request_ops, p, err, sizeof(err));
	if (p->req) {
		p->st.in_flight = true;
		return;
	}
	p->step = STEP_NONE;
	snprintf(p->last_error, sizeof(p->last_error), "%s", err);
	p->stats.last_error = p->last_error;
	p->stats.errors++;
	write_failed(p, err, NULL);
}

static void on_timer(void *arg)
{
	kick(arg);
}

/* Starts what is due now (the Node first), or waits for it. */
static void kick(struct cluster_publisher *p)
{
	uint64_t now = mono_now_ms(), due;

	if (p->req)
		return;
	if (!p->node_answered || (p->node_retry_ms && now >= p->node_retry_ms)) {
		p->node_retry_ms = 0;
		start(p, STEP_NODE);
		if (p->req)
			return;
	}
	p->st.changed = p->st.changed || p->gen != p->write_gen;
	due = publish_due_in(&p->policy, &p->st, now);
	if (due == 0) {
		p->tries = 0;
		start(p, STEP_WRITE);
		if (p->req)
			return;
		due = publish_due_in(&p->policy, &p->st, now);
	}
	if (p->node_retry_ms && (due == PUBLISH_NOT_DUE || now + due > p->node_retry_ms))
		due = p->node_retry_ms - now; /* > 0: it is not due yet */
	if (due != PUBLISH_NOT_DUE && loop_timer_arm(p->loop, &p->timer, due, on_timer, p))
		log_error("msg=\"cluster: cannot schedule the next publish\"");
}

struct cluster_publisher *cluster_publisher_start(struct event_loop *loop, struct k8s_api *api,
						  struct cluster_report *report,
						  const struct publish_policy *policy)
{
	struct cluster_publisher *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	p->loop = loop;
	p->api = api;
	p->report = report;
	p->policy = *policy;
	kick(p);
	return p;
}

void cluster_publisher_changed(struct cluster_publisher *p)
{
	p->gen++;
	kick(p);
}

void cluster_publisher_stats(const struct cluster_publisher *p, struct cluster_publisher_stats *out)
{
	*out = p->stats;
}

bool cluster_publisher_ok(const struct cluster_publisher *p)
{
	return p->st.written && !p->stats.failing;
}

void cluster_publisher_free(struct cluster_publisher *p)
{
	if (!p)
		return;
	k8s_request_cancel(p->req);
	loop_timer_cancel(p->loop, &p->timer);
	free(p);
}
