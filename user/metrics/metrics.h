/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Prometheus metrics: the text exposition format on /metrics, and /healthz
 * for the DaemonSet's probes, served by libmicrohttpd from inside the agent's
 * event loop (no thread: the handlers read the agent's state directly).
 */
#ifndef SOCKLB_METRICS_H
#define SOCKLB_METRICS_H

#include <stdio.h>
#include "model/service_table.h"
#include "agent/agent_sources.h"
#include "lib/event_loop.h"
#include "datapath/maps.h"
#include "datapath/preflight.h"
#include "rebalance/time_fair_pass.h"

struct metrics_ctx {
	const struct service_table *table;
	const struct lb_maps *maps;
	const struct agent_sources *sources;	 /* may be NULL */
	const struct missing_privilege *missing; /* capabilities the agent runs without */
	size_t n_missing;
	const unsigned long long *netns_denied; /* the rebalancer's; NULL: rebalancing off */
	const struct time_fair_pass *time_fair; /* the rebalancer's; NULL: off */
};

/* Writes every metric in the text exposition format (version 0.0.4). */
void metrics_render(FILE *out, const struct metrics_ctx *ctx);
/* The agent's own part of them (metrics_agent.c): privileges, Kubernetes API use. */
void metrics_render_agent(FILE *out, const struct metrics_ctx *ctx);
/* The cluster view's (metrics_cluster.c): mode, peers, writes, cluster-wide counts. */
void metrics_render_cluster(FILE *out, const struct metrics_ctx *ctx);

struct metrics_server;

enum metrics_route {
	METRICS_ROUTE_METRICS,	   /* GET or HEAD /metrics */
	METRICS_ROUTE_HEALTHZ,	   /* GET or HEAD /healthz */
	METRICS_ROUTE_NOT_FOUND,   /* 404 */
	METRICS_ROUTE_NOT_ALLOWED, /* 405: any other method */
};

/* What a request asks for, from its method and path as the client sent them. */
enum metrics_route metrics_route(const char *method, const char *url);

/* addr: ":PORT" (all addresses), "IP:PORT" or "[IPV6]:PORT". NULL on error. */
struct metrics_server *metrics_start(struct event_loop *loop, const char *addr,
				     const struct metrics_ctx *ctx, char *err, size_t errlen);
void metrics_stop(struct metrics_server *m);

#endif
