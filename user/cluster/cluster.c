// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The cluster's lifecycle, the health of its view, and its passes. */
#include "cluster/cluster_impl.h"
#include "lib/clock.h"
#include "lib/log.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* How often peers going stale and the publisher's health are looked at. */
#define CLUSTER_VIEW_CHECK_MS 1000

static const char *const mode_names[] = {"pending", "cluster", "node"};

const char *cluster_mode_name(enum cluster_mode mode)
{
	return mode_names[mode];
}

/* ------------------------------------------------------------ the mode */

static enum cluster_mode current_mode(const struct cluster *c, char *why, size_t len)
{
	struct k8s_informer_health h;
	struct cluster_publisher_stats ps;

	k8s_informer_health(c->informer, &h);
	memset(&ps, 0, sizeof(ps));
	if (c->publisher)
		cluster_publisher_stats(c->publisher, &ps);
	why[0] = '\0';
	if (h.error) {
		snprintf(why, len, "reading socklbnodes: %s%s%s", h.error,
			 h.detail && h.detail[0] ? ": " : "", h.detail ? h.detail : "");
		return CLUSTER_DOWN;
	}
	if (ps.failing) {
		snprintf(why, len, "publishing: %s", ps.last_error ? ps.last_error : "failed");
		return CLUSTER_DOWN;
	}
	if (!h.synced || !c->publisher || !cluster_publisher_ok(c->publisher)) {
		snprintf(why, len, "%s",
			 !h.synced ? "socklbnodes not listed yet"
				   : "this node's report not written yet");
		return CLUSTER_PENDING;
	}
	return CLUSTER_UP;
}

static void notify(struct cluster *c)
{
	if (c->replan)
		c->replan(c->replan_arg);
	if (c->ctx.changed)
		c->ctx.changed(c->ctx.changed_arg);
}

/* Notes a change of mode (logged once, zeroes nothing itself: the next pass does). */
static bool update_mode(struct cluster *c)
{
	char why[sizeof(c->reason)];
	enum cluster_mode mode = current_mode(c, why, sizeof(why));

	if (mode == c->mode && !strcmp(why, c->reason))
		return false;
	if (mode != c->mode && mode == CLUSTER_UP)
		log_info("msg=\"cluster view\" node=%s from=%s state=cluster", log_q(c->node),
			 mode_names[c->mode]);
	else if (mode != c->mode)
		log_warn("msg=\"cluster view\" node=%s from=%s state=%s reason=%s "
			 "effect=\"balancing per node\"",
			 log_q(c->node), mode_names[c->mode], mode_names[mode], log_q(why));
	c->mode = mode;
	snprintf(c->reason, sizeof(c->reason), "%s", why);
	return true;
}

static void view_changed(struct cluster *c)
{
	c->view_dirty = true;
	update_mode(c);
	notify(c);
}

static void on_changed(void *arg, const struct k8s_change *change)
{
	(void)change;
	view_changed(arg);
}

static void on_synced(void *arg)
{
	view_changed(arg);
}

static const struct k8s_handler_ops view_ops = {
    .changed = on_changed,
    .synced = on_synced,
    .health = on_synced,
};

/* A peer going stale changes nothing in the API: look every second. */
static void on_view_timer(void *arg)
{
	struct cluster *c = arg;
	bool changed = update_mode(c);

	if (cluster_peers_collect(&c->peers, k8s_informer_cache(c->informer), c->node, wall_now(),
				  c->opts.heartbeat_ms) == 0 &&
	    c->peers.n_fresh != c->n_fresh) {
		c->n_fresh = c->peers.n_fresh;
		c->view_dirty = changed = true;
	}
	if (changed)
		notify(c);
	if (loop_timer_arm(c->ctx.loop, &c->view_timer, CLUSTER_VIEW_CHECK_MS, on_view_timer, c))
		log_error("msg=\"cluster: cannot re-arm the view check\"");
}

static void on_settled(void *arg)
{
	struct cluster *c = arg;

	c->view_dirty = true;
	notify(c);
}

void cluster_wake_in(struct cluster *c, __u64 delay_ms)
{
	__u64 due = mono_now_ms() + delay_ms;

	if (loop_timer_armed(&c->settle_timer) && c->settle_timer.due_ms <= due)
		return;
	if (loop_timer_arm(c->ctx.loop, &c->settle_timer, delay_ms, on_settled, c))
		log_error("msg=\"cluster: cannot schedule the next pass\"");
}

/* ---------------------------------------------------------- the passes */

void cluster_pass_begin(struct cluster *c)
{
	c->pass++;
	c->report_changed = false;
	c->view_dirty = false;
	update_mode(c);
	c->up = c->mode == CLUSTER_UP &&
		cluster_peers_collect(&c->peers, k8s_informer_cache(c->informer), c->node,
				      wall_now(), c->opts.heartbeat_ms) == 0;
	c->n_fresh = c->peers.n_fresh;
}

struct sweep {
	struct cluster *c;
	char **gone;
	size_t n, cap;
};

static void note_unseen(void *arg, const char *key, void *value)
{
	struct sweep *s = arg;
	const struct cluster_service_memory *m = value;

	if (m->pass == s->c->pass || s->n == s->cap)
		return;
	s->gone[s->n] = strdup(key);
	s->n += s->gone[s->n] != NULL;
}

static bool seen_this_pass(void *arg, const struct endpoint *vip)
{
	struct cluster *c = arg;
	char key[ENDPOINT_STR_LEN];
	const struct cluster_service_memory *m =
	    strmap_get(&c->services, endpoint_str(vip, key, sizeof(key)));

	return m && m->pass == c->pass;
}

/* Services no pass sees any more: out of the report and forgotten. */
static void sweep_services(struct cluster *c)
{
	struct sweep s = {c, NULL, 0, c->services.n};

	if (cluster_report_retain(&c->report, seen_this_pass, c))
		c->report_changed = true;
	s.gone = calloc(s.cap ? s.cap : 1, sizeof(*s.gone));
	if (!s.gone)
		return;
	strmap_each(&c->services, note_unseen, &s);
	for (size_t i = 0; i < s.n; i++) {
		cluster_service_memory_free(strmap_del(&c->services, s.gone[i]));
		free(s.gone[i]);
	}
	free(s.gone);
}

/* The first report waits for the first pass: it then says something. */
static void start_publisher(struct cluster *c)
{
	struct publish_policy policy = {c->opts.publish_ms, c->opts.heartbeat_ms};

	c->publisher = cluster_publisher_start(c->ctx.loop, c->ctx.api, &c->report, &policy);
	if (!c->publisher)
		log_error("msg=\"cluster: out of memory: this node's connections are not "
			  "published\"");
}

void cluster_pass_done(struct cluster *c)
{
	sweep_services(c);
	if (!c->publisher)
		start_publisher(c);
	else if (c->report_changed)
		cluster_publisher_changed(c->publisher);
	c->peers.n_fresh = 0; /* its pointers are the cache's: not valid past the pass */
}

static int read_map_stats(void *arg, __u32 id, struct socklb_backend_stats *out)
{
	return lb_maps_read_stats(arg, id, out);
}

/* Without a rebalancer: a pass whenever connections came or went or the view changed. */
static void on_poll(void *arg)
{
	struct cluster *c = arg;
	__u64 activity = c->last_activity + 1;

	lb_maps_read_dp_event(c->ctx.maps, SOCKLB_DP_ACTIVITY, &activity);
	if (activity != c->last_activity || c->view_dirty) {
		c->last_activity = activity;
		cluster_pass_begin(c);
		for (size_t i = 0; i < c->ctx.table->n; i++)
			cluster_service_pass(c, &c->ctx.table->items[i], read_map_stats,
					     (void *)c->ctx.maps, NULL);
		cluster_pass_done(c);
	}
	if (!c->replan && loop_timer_arm(c->ctx.loop, &c->poll_timer, c->ctx.poll_ms, on_poll, c))
		log_error("msg=\"cluster: cannot re-arm its pass\"");
}

void cluster_drive(struct cluster *c, void (*replan)(void *arg), void *arg)
{
	c->replan = replan;
	c->replan_arg = arg;
	loop_timer_cancel(c->ctx.loop, &c->poll_timer);
	if (replan)
		replan(arg);
	else if (loop_timer_arm(c->ctx.loop, &c->poll_timer, c->ctx.poll_ms, on_poll, c))
		log_error("msg=\"cluster: cannot arm its pass\"");
}

/* ------------------------------------------------------------ lifecycle */

/* --node-name, else $NODE_NAME (the DaemonSet's downward API), else the host name. */
static int node_name(const struct cluster_options *o, char *out, size_t len, char *err,
		     size_t errlen)
{
	const char *env = getenv("NODE_NAME");
	char host[256] = "";

	if (o->node_name && o->node_name[0])
		snprintf(out, len, "%s", o->node_name);
	else if (env && env[0])
		snprintf(out, len, "%s", env);
	else if (gethostname(host, sizeof(host) - 1) == 0)
		snprintf(out, len, "%s", host);
	for (char *p = out; *p; p++)
		*p = (char)tolower((unsigned char)*p); /* as the kubelet names its Node */
	for (const char *p = out; *p; p++) {
		if (!isalnum((unsigned char)*p) && *p != '-' && *p != '.')
			out[0] = '\0';
	}
	if (!out[0]) {
		snprintf(err, errlen,
			 "no usable node name (set --node-name or NODE_NAME: a lowercase RFC 1123 "
			 "name)");
		return -EINVAL;
	}
	return 0;
}

static int start_parts(struct cluster *c)
{
	c->mem_size = c->ctx.table->backend_ids.limit;
	c->mem = calloc(c->mem_size ? c->mem_size : 1, sizeof(*c->mem));
	c->informer = k8s_informer_new(c->ctx.api, c->ctx.loop, &cluster_nodes_resource, NULL);
	if (!c->mem || !c->informer || k8s_informer_add_handler(c->informer, &view_ops, c) ||
	    k8s_informer_start(c->informer))
		return -ENOMEM;
	c->report.publish_ms = c->opts.publish_ms;
	c->report.heartbeat_ms = c->opts.heartbeat_ms;
	snprintf(c->report.name, sizeof(c->report.name), "%s", c->node);
	if (loop_timer_arm(c->ctx.loop, &c->view_timer, CLUSTER_VIEW_CHECK_MS, on_view_timer, c))
		return -ENOMEM;
	return loop_timer_arm(c->ctx.loop, &c->poll_timer, c->ctx.poll_ms, on_poll, c);
}

struct cluster *cluster_start(const struct cluster_options *opts, const struct cluster_ctx *ctx,
			      char *err, size_t errlen)
{
	struct cluster *c = calloc(1, sizeof(*c));

	if (!c) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	c->opts = *opts;
	c->ctx = *ctx;
	if (node_name(opts, c->node, sizeof(c->node), err, errlen)) {
		free(c);
		return NULL;
	}
	c->opts.node_name = c->node;
	snprintf(c->reason, sizeof(c->reason), "starting");
	if (start_parts(c)) {
		snprintf(err, errlen, "out of memory");
		cluster_stop(c);
		return NULL;
	}
	log_info("msg=\"cluster view\" node=%s state=pending publish_interval_ms=%llu "
		 "heartbeat_interval_ms=%llu stale_after_ms=%llu",
		 log_q(c->node), c->opts.publish_ms, c->opts.heartbeat_ms,
		 CLUSTER_STALE_HEARTBEATS * c->opts.heartbeat_ms);
	return c;
}

static void free_memory(void *arg, const char *key, void *value)
{
	(void)arg;
	(void)key;
	cluster_service_memory_free(value);
}

void cluster_stop(struct cluster *c)
{
	if (!c)
		return;
	loop_timer_cancel(c->ctx.loop, &c->poll_timer);
	loop_timer_cancel(c->ctx.loop, &c->view_timer);
	loop_timer_cancel(c->ctx.loop, &c->settle_timer);
	cluster_publisher_free(c->publisher);
	k8s_informer_free(c->informer);
	cluster_report_free(&c->report);
	cluster_peers_free(&c->peers);
	strmap_each(&c->services, free_memory, NULL);
	strmap_clear(&c->services);
	free(c->mem);
	free(c);
}

/* --------------------------------------------------------------- status */

void cluster_status(const struct cluster *c, struct cluster_status *out)
{
	struct cluster_publisher_stats ps = {0};
	struct cluster_peers peers = {0};

	if (c->publisher)
		cluster_publisher_stats(c->publisher, &ps);
	cluster_peers_collect(&peers, k8s_informer_cache(c->informer), c->node, wall_now(),
			      c->opts.heartbeat_ms);
	*out = (struct cluster_status){
	    .node = c->node,
	    .mode = c->mode,
	    .reason = c->mode == CLUSTER_UP ? NULL : c->reason,
	    .publish_ms = c->opts.publish_ms,
	    .heartbeat_ms = c->opts.heartbeat_ms,
	    .writes = ps.writes,
	    .creates = ps.creates,
	    .conflicts = ps.conflicts,
	    .errors = ps.errors,
	    .last_write_at = ps.last_write_at,
	    .last_error = ps.last_error,
	    .has_owner = ps.has_owner,
	    .n_fresh = peers.n_fresh,
	    .n_stale = peers.n_stale,
	};
	cluster_peers_free(&peers);
}

struct listing {
	const struct cluster *c;
	struct cluster_peer_status *out;
	size_t n, max;
	double now;
};

static void list_peer(void *arg, const struct k8s_cache_entry *e)
{
	struct listing *l = arg;
	const struct cluster_report *r = e->obj;

	if (!strcmp(r->name, l->c->node))
		return;
	if (l->n < l->max)
		l->out[l->n] = (struct cluster_peer_status){
		    r->name, r->heartbeat, cluster_report_fresh(r, l->now, l->c->opts.heartbeat_ms),
		    r->n_services};
	l->n++;
}

size_t cluster_peers(const struct cluster *c, struct cluster_peer_status *out, size_t max)
{
	struct listing l = {c, out, 0, max, wall_now()};

	k8s_cache_each(k8s_informer_cache(c->informer), list_peer, &l);
	return l.n;
}

__u32 cluster_peer_connections(const struct cluster *c, const struct endpoint *vip,
			       const struct endpoint *backend)
{
	struct cluster_peers peers = {0};
	__u32 sum = 0;

	if (cluster_peers_collect(&peers, k8s_informer_cache(c->informer), c->node, wall_now(),
				  c->opts.heartbeat_ms) == 0)
		for (size_t i = 0; i < peers.n_fresh; i++)
			sum += cluster_report_count(cluster_report_service(peers.fresh[i], vip),
						    backend);
	cluster_peers_free(&peers);
	return sum;
}

void cluster_informer_health(const struct cluster *c, struct k8s_informer_health *out)
{
	k8s_informer_health(c->informer, out);
}
