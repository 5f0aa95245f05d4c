// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "cli/status_datapath.h"
#include "datapath/conn_walk.h"
#include "lib/array.h"
#include "lib/clock.h"
#include "model/endpoint.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const end_reasons[SOCKLB_END_REASONS] = SOCKLB_END_REASON_NAMES;
static const char *const h2_events[SOCKLB_H2_EVENTS] = {
    "followed",	     "follow_failed", "h2c",	     "not_h2c",	    "lost_track",
    "overlaps_cut",  "at_ping_ack",   "at_skb_head", "at_skb_tail", "at_frame",
    "ping_acks_cut", "edit_failed",   "injected",    "inject_raced"};

static int add_conn(void *arg, const void *record)
{
	struct status_datapath *d = arg;

	if (ARRAY_RESERVE(d->conns, d->cap_conns, d->n_conns))
		return -ENOMEM;
	memcpy(&d->conns[d->n_conns++], record, sizeof(*d->conns));
	return 0;
}

/*
 * Every balanced connection, through the pinned connections iterator; on a
 * kernel without map-element iterators, namespace by namespace, and those
 * that could not be entered are counted.
 */
static int read_connections(const char *pin_path, struct status_datapath *out, char *err,
			    size_t errlen)
{
	struct conn_walk w;
	int ret = conn_walk_open_pinned(&w, pin_path);

	if (!ret) {
		ret = conn_walk_read(&w, add_conn, out);
		out->conns_per_netns = w.per_netns;
		out->netns_missed = w.netns_missed;
		out->netns_error = w.netns_error;
		conn_walk_free(&w);
	}
	if (ret)
		snprintf(err, errlen, "cannot list connections through %s/connections: %s",
			 pin_path, strerror(-ret));
	return ret;
}

int status_datapath_read(const struct lb_maps *maps, const char *pin_path, bool with_connections,
			 struct status_datapath *out, char *err, size_t errlen)
{
	int ret;

	memset(out, 0, sizeof(*out));
	out->with_connections = with_connections;
	ret = lb_maps_read_dp_stats(maps, out->events);
	if (!ret)
		ret = lb_maps_read_h2_stats(maps, out->h2);
	for (__u32 r = 0; r < SOCKLB_END_REASONS && !ret; r++)
		ret = lb_maps_read_end_stats(maps, r, &out->ended[r]);
	if (ret) {
		snprintf(err, errlen, "cannot read the data path's counters: %s", strerror(-ret));
		return ret;
	}
	if (!with_connections)
		return 0;
	return read_connections(pin_path, out, err, errlen);
}

void status_datapath_free(struct status_datapath *d)
{
	free(d->conns);
	memset(d, 0, sizeof(*d));
}

size_t status_datapath_count(const struct status_datapath *d, __u32 backend_id, __u8 phase)
{
	size_t n = 0;

	for (size_t i = 0; i < d->n_conns; i++)
		n += d->conns[i].sock.backend_id == backend_id && d->conns[i].sock.phase == phase;
	return n;
}

static const char *phase_name(__u8 phase)
{
	switch (phase) {
	case SOCKLB_SOCK_CONNECTING:
		return "connecting";
	case SOCKLB_SOCK_ESTABLISHED:
		return "established";
	case SOCKLB_SOCK_CLOSED:
		return "closed";
	case SOCKLB_SOCK_DRAINING:
		return "draining";
	}
	return "?";
}

/* VIP and backend of a connection, as text. */
static void conn_addrs(const struct lb_maps *maps, const struct socklb_conn_record *c, char *vip,
		       char *backend)
{
	struct endpoint v = {
	    .addr = c->sock.vip, .port = c->sock.vip_port, .family = c->sock.vip_family};
	struct socklb_backend be;

	endpoint_str(&v, vip, ENDPOINT_STR_LEN);
	if (lb_maps_read_backend(maps, c->sock.backend_id, &be) == 0 && be.family) {
		struct endpoint b = endpoint_from_backend(&be);

		endpoint_str(&b, backend, ENDPOINT_STR_LEN);
	} else {
		snprintf(backend, ENDPOINT_STR_LEN, "(id %u)", c->sock.backend_id);
	}
}

static double age_s(const struct socklb_conn_record *c, __u64 now_ns)
{
	__u64 since = c->sock.established_ns ? c->sock.established_ns : c->sock.connect_ns;

	return since && since <= now_ns ? (double)(now_ns - since) / 1e9 : 0.0;
}

/* Ends per reason and mechanism, and where the GOAWAYs went. */
static void print_ends(const struct status_datapath *d)
{
	const __u64 *h = d->h2;

	for (__u32 r = 0; r < SOCKLB_END_REASONS; r++) {
		const struct socklb_end_stats *es = &d->ended[r];

		printf("ended (%s): goaway %llu (delivered %llu, then destroyed idle %llu, forced "
		       "%llu); destroy-idle %llu; destroy-forced %llu; busy skipped %llu\n",
		       end_reasons[r], (unsigned long long)es->goaway,
		       (unsigned long long)es->goaway_delivered,
		       (unsigned long long)es->goaway_then_idle,
		       (unsigned long long)es->goaway_then_forced, (unsigned long long)es->graceful,
		       (unsigned long long)es->forced, (unsigned long long)es->busy_skipped);
	}
	printf(
	    "goaway follower: followed %llu (failed %llu), h2c %llu, not h2c %llu, lost "
	    "track %llu; placed over a PING ACK %llu, at an skb's head %llu, tail %llu, at a "
	    "frame inside %llu; PING ACKs cut %llu, edits failed %llu\n",
	    (unsigned long long)h[SOCKLB_H2_FOLLOWED],
	    (unsigned long long)h[SOCKLB_H2_FOLLOW_FAILED],
	    (unsigned long long)h[SOCKLB_H2_SEEN_H2C], (unsigned long long)h[SOCKLB_H2_SEEN_OTHER],
	    (unsigned long long)h[SOCKLB_H2_LOST_TRACK], (unsigned long long)h[SOCKLB_H2_AT_SWAP],
	    (unsigned long long)h[SOCKLB_H2_AT_HEAD], (unsigned long long)h[SOCKLB_H2_AT_TAIL],
	    (unsigned long long)h[SOCKLB_H2_AT_INTERIOR], (unsigned long long)h[SOCKLB_H2_PAYBACKS],
	    (unsigned long long)h[SOCKLB_H2_EDIT_FAILED]);
}

void status_datapath_text(const struct lb_maps *maps, const struct status_datapath *d)
{
	const __u64 *e = d->events;
	char vip[ENDPOINT_STR_LEN], be[ENDPOINT_STR_LEN];
	__u64 now = mono_now_ns();

	printf(
	    "data path: refused %llu (no backend %llu, other family %llu); untracked %llu "
	    "(storage %llu, handoff %llu)\n",
	    (unsigned long long)(e[SOCKLB_DP_REFUSED_NO_BACKEND] + e[SOCKLB_DP_REFUSED_FAMILY]),
	    (unsigned long long)e[SOCKLB_DP_REFUSED_NO_BACKEND],
	    (unsigned long long)e[SOCKLB_DP_REFUSED_FAMILY],
	    (unsigned long long)(e[SOCKLB_DP_UNTRACKED_STORAGE] + e[SOCKLB_DP_UNTRACKED_HANDOFF]),
	    (unsigned long long)e[SOCKLB_DP_UNTRACKED_STORAGE],
	    (unsigned long long)e[SOCKLB_DP_UNTRACKED_HANDOFF]);
	if (e[SOCKLB_DP_UNREGISTERED_NETNS])
		printf("data path: %llu connections in namespaces netns_conns had no room for "
		       "(not listed, not moved on this kernel)\n",
		       (unsigned long long)e[SOCKLB_DP_UNREGISTERED_NETNS]);
	print_ends(d);
	if (!d->with_connections)
		return;
	printf("connections: %zu", d->n_conns);
	if (d->conns_per_netns)
		printf(" (listed namespace by namespace: this kernel refuses map-element "
		       "iterators; %zu namespaces not entered%s%s)",
		       d->netns_missed, d->netns_error ? ": " : "",
		       d->netns_error ? strerror(-d->netns_error) : "");
	printf("\n");
	if (d->n_conns)
		printf("  %-20s %-20s %8s %-11s %-46s %-46s %9s\n", "COOKIE", "NETNS", "PID",
		       "PHASE", "VIP", "BACKEND", "AGE_S");
	for (size_t i = 0; i < d->n_conns; i++) {
		const struct socklb_conn_record *c = &d->conns[i];

		conn_addrs(maps, c, vip, be);
		printf("  %-20llu %-20llu %8u %-11s %-46s %-46s %9.1f\n",
		       (unsigned long long)c->sock.cookie, (unsigned long long)c->sock.netns_cookie,
		       c->sock.pid, phase_name(c->sock.phase), vip, be, age_s(c, now));
	}
}

static void add_u64(json_object *o, const char *key, __u64 v)
{
	json_object_object_add(o, key, json_object_new_int64((int64_t)v));
}

static json_object *conn_json(const struct lb_maps *maps, const struct socklb_conn_record *c,
			      __u64 now)
{
	json_object *o = json_object_new_object();
	char vip[ENDPOINT_STR_LEN], be[ENDPOINT_STR_LEN];

	conn_addrs(maps, c, vip, be);
	add_u64(o, "cookie", c->sock.cookie);
	add_u64(o, "netns_cookie", c->sock.netns_cookie);
	add_u64(o, "pid", c->sock.pid);
	json_object_object_add(o, "phase", json_object_new_string(phase_name(c->sock.phase)));
	add_u64(o, "tcp_state", c->tcp_state);
	json_object_object_add(o, "vip", json_object_new_string(vip));
	json_object_object_add(o, "backend", json_object_new_string(be));
	add_u64(o, "backend_id", c->sock.backend_id);
	json_object_object_add(o, "age_s", json_object_new_double(age_s(c, now)));
	return o;
}

void status_datapath_json(const struct lb_maps *maps, const struct status_datapath *d,
			  json_object *root)
{
	json_object *dp = json_object_new_object(), *ended = json_object_new_object();
	const __u64 *e = d->events;
	__u64 now = mono_now_ns();

	add_u64(dp, "refused_no_backend", e[SOCKLB_DP_REFUSED_NO_BACKEND]);
	add_u64(dp, "refused_family", e[SOCKLB_DP_REFUSED_FAMILY]);
	add_u64(dp, "untracked_storage", e[SOCKLB_DP_UNTRACKED_STORAGE]);
	add_u64(dp, "untracked_handoff", e[SOCKLB_DP_UNTRACKED_HANDOFF]);
	add_u64(dp, "unregistered_netns", e[SOCKLB_DP_UNREGISTERED_NETNS]);
	for (__u32 r = 0; r < SOCKLB_END_REASONS; r++) {
		json_object *o = json_object_new_object();

		add_u64(o, "graceful", d->ended[r].graceful);
		add_u64(o, "forced", d->ended[r].forced);
		add_u64(o, "busy_skipped", d->ended[r].busy_skipped);
		add_u64(o, "goaway", d->ended[r].goaway);
		add_u64(o, "goaway_delivered", d->ended[r].goaway_delivered);
		add_u64(o, "goaway_then_idle", d->ended[r].goaway_then_idle);
		add_u64(o, "goaway_then_forced", d->ended[r].goaway_then_forced);
		json_object_object_add(ended, end_reasons[r], o);
	}
	json_object_object_add(dp, "ended", ended);
	json_object *h2 = json_object_new_object();

	for (__u32 ev = 0; ev < SOCKLB_H2_EVENTS; ev++)
		add_u64(h2, h2_events[ev], d->h2[ev]);
	json_object_object_add(dp, "goaway_follower", h2);
	json_object_object_add(root, "datapath", dp);
	if (!d->with_connections)
		return;
	json_object *conns = json_object_new_array();

	for (size_t i = 0; i < d->n_conns; i++)
		json_object_array_add(conns, conn_json(maps, &d->conns[i], now));
	json_object_object_add(root, "connections", conns);
	json_object_object_add(
	    root, "connections_listed",
	    json_object_new_string(d->conns_per_netns ? "per-namespace" : "storage-iterator"));
	json_object_object_add(root, "connections_netns_missed",
			       json_object_new_int64((int64_t)d->netns_missed));
}
