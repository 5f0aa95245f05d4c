// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The agent's own metrics: what it runs without, and its Kubernetes API use. */
#include "metrics/metrics.h"
#include "lib/util.h"
#include "sources/k8s/k8s_informer.h"

#define MAX_WATCHES (2 * K8S_MAX_NAMESPACES + 1) /* two informers per namespace, the cluster's */

static void render_privileges(FILE *out, const struct metrics_ctx *ctx)
{
	fprintf(out, "# HELP socklb_missing_privilege A capability the agent runs without (1), "
		     "and what does not work without it.\n"
		     "# TYPE socklb_missing_privilege gauge\n");
	for (size_t i = 0; i < ctx->n_missing; i++)
		fprintf(out, "socklb_missing_privilege{capability=\"%s\",effect=\"%s\"} 1\n",
			ctx->missing[i].capability, ctx->missing[i].effect);
	if (!ctx->netns_denied)
		return;
	fprintf(out,
		"# HELP socklb_netns_enter_denied_total Times the agent was not allowed "
		"into a network namespace holding connections to end.\n"
		"# TYPE socklb_netns_enter_denied_total counter\n"
		"socklb_netns_enter_denied_total %llu\n",
		*ctx->netns_denied);
}

/* One metric per informer, labelled by its resource and namespace. */
struct watch_metric {
	const char *name, *type, *help;
	unsigned long long (*value)(const struct k8s_informer_health *h);
};

static unsigned long long watch_up(const struct k8s_informer_health *h)
{
	return h->ok;
}

static unsigned long long watch_objects(const struct k8s_informer_health *h)
{
	return h->objects;
}

static unsigned long long watch_events(const struct k8s_informer_health *h)
{
	return h->events;
}

static unsigned long long watch_errors(const struct k8s_informer_health *h)
{
	return h->errors;
}

static const struct watch_metric watch_metrics[] = {
    {"socklb_k8s_watch_up", "gauge", "1 while the watch's last request was answered.", watch_up},
    {"socklb_k8s_watch_objects", "gauge", "Objects in the watch's cache.", watch_objects},
    {"socklb_k8s_watch_events_total", "counter", "Watch events taken.", watch_events},
    {"socklb_k8s_watch_errors_total", "counter", "Failed requests of the watch.", watch_errors},
};

static void render_watches(FILE *out, const struct metrics_ctx *ctx)
{
	struct k8s_informer_health w[MAX_WATCHES];
	size_t n = agent_sources_watches(ctx->sources, w, ARRAY_SIZE(w));
	struct k8s_api_stats api;

	if (n == 0)
		return;
	n = n < ARRAY_SIZE(w) ? n : ARRAY_SIZE(w);
	for (size_t m = 0; m < ARRAY_SIZE(watch_metrics); m++) {
		const struct watch_metric *d = &watch_metrics[m];

		fprintf(out, "# HELP %s %s\n# TYPE %s %s\n", d->name, d->help, d->name, d->type);
		for (size_t i = 0; i < n; i++)
			fprintf(out, "%s{resource=\"%s\",namespace=\"%s\"} %llu\n", d->name,
				w[i].resource, w[i].ns, d->value(&w[i]));
	}
	agent_sources_k8s_api(ctx->sources, &api);
	fprintf(out,
		"# HELP socklb_k8s_api_requests_total Requests sent to the Kubernetes API.\n"
		"# TYPE socklb_k8s_api_requests_total counter\n"
		"socklb_k8s_api_requests_total %llu\n"
		"# HELP socklb_k8s_api_connections_total TCP connections opened to the "
		"Kubernetes API.\n"
		"# TYPE socklb_k8s_api_connections_total counter\n"
		"socklb_k8s_api_connections_total %llu\n"
		"# HELP socklb_k8s_api_open_requests Requests in flight (watches included).\n"
		"# TYPE socklb_k8s_api_open_requests gauge\n"
		"socklb_k8s_api_open_requests %u\n",
		api.requests, api.connections, api.open_requests);
}

void metrics_render_agent(FILE *out, const struct metrics_ctx *ctx)
{
	render_privileges(out, ctx);
	if (ctx->sources)
		render_watches(out, ctx);
}
