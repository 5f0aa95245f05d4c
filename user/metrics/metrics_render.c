// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The metrics themselves, read from the maps and the agent's state. */
#include "metrics/metrics.h"
#include "lib/clock.h"
#include "lib/util.h"

struct counter_def {
	const char *name;
	const char *type;
	const char *help;
};

static const struct counter_def backend_metrics[] = {
    {"socklb_backend_live_connections", "gauge", "Established balanced connections."},
    {"socklb_backend_connecting", "gauge", "Balanced connections with SYN sent."},
    {"socklb_backend_connects_total", "counter", "connect() calls sent to the backend."},
    {"socklb_backend_connect_failures_total", "counter",
     "Balanced connections closed before they were established."},
    {"socklb_backend_closes_total", "counter", "Established connections that closed."},
    {"socklb_backend_draining_connections", "gauge",
     "Connections sent a GOAWAY, not closed yet (not in live)."},
    {"socklb_backend_ended_total", "counter",
     "Connections socklb ended to rebalance: mode=graceful (destroyed idle), forced "
     "(destroyed when due) or goaway."},
};

/* Gauges and counters with one value per backend; the rest have a mode label. */
#define BACKEND_PLAIN 6
static const char *const end_modes[] = {"graceful", "forced", "goaway"};

static __u64 backend_value(const struct socklb_backend_stats *st, size_t metric, int variant)
{
	const __u64 values[] = {st->live,   st->connecting, st->connects, st->connect_failures,
				st->closes, st->draining};
	const __u64 ended[] = {st->ended_graceful, st->ended_forced, st->ended_goaway};

	if (metric < BACKEND_PLAIN)
		return values[metric];
	return ended[variant];
}

static void header(FILE *out, const struct counter_def *d)
{
	fprintf(out, "# HELP %s %s\n# TYPE %s %s\n", d->name, d->help, d->name, d->type);
}

static void render_backends(FILE *out, const struct metrics_ctx *ctx)
{
	char vip[ENDPOINT_STR_LEN], be[ENDPOINT_STR_LEN];

	for (size_t m = 0; m < ARRAY_SIZE(backend_metrics); m++) {
		header(out, &backend_metrics[m]);
		for (size_t i = 0; i < ctx->table->n; i++) {
			const struct agent_service *svc = &ctx->table->items[i];

			endpoint_str(&svc->vip, vip, sizeof(vip));
			for (size_t j = 0; j < svc->backends.n; j++) {
				struct socklb_backend_stats st = {0};

				lb_maps_read_stats(ctx->maps, svc->backends.items[j].id, &st);
				endpoint_str(&svc->backends.items[j].ep, be, sizeof(be));
				if (m < BACKEND_PLAIN) {
					fprintf(out, "%s{service=\"%s\",backend=\"%s\"} %llu\n",
						backend_metrics[m].name, vip, be,
						(unsigned long long)backend_value(&st, m, 0));
					continue;
				}
				for (int mode = 0; mode < (int)ARRAY_SIZE(end_modes); mode++)
					fprintf(
					    out,
					    "%s{service=\"%s\",backend=\"%s\",mode=\"%s\"} %llu\n",
					    backend_metrics[m].name, vip, be, end_modes[mode],
					    (unsigned long long)backend_value(&st, m, mode));
			}
		}
	}
}

static void render_ended_by_reason(FILE *out, const struct metrics_ctx *ctx)
{
	static const char *const reasons[SOCKLB_END_REASONS] = SOCKLB_END_REASON_NAMES;
	static const struct counter_def def = {
	    "socklb_ended_total", "counter",
	    "Connections ended by socklb, by reason and mode (graceful: destroyed idle; forced: "
	    "destroyed when due; goaway; goaway_delivered; goaway_then_idle and "
	    "goaway_then_forced: destroyed after a GOAWAY)."};

	header(out, &def);
	for (__u32 r = 0; r < SOCKLB_END_REASONS; r++) {
		struct socklb_end_stats es = {0};

		lb_maps_read_end_stats(ctx->maps, r, &es);
		const struct {
			const char *mode;
			__u64 n;
		} rows[] = {{"graceful", es.graceful},
			    {"forced", es.forced},
			    {"goaway", es.goaway},
			    {"goaway_delivered", es.goaway_delivered},
			    {"goaway_then_idle", es.goaway_then_idle},
			    {"goaway_then_forced", es.goaway_then_forced}};

		for (size_t i = 0; i < ARRAY_SIZE(rows); i++)
			fprintf(out, "%s{reason=\"%s\",mode=\"%s\"} %llu\n", def.name, reasons[r],
				rows[i].mode, (unsigned long long)rows[i].n);
	}
}

static void render_sources(FILE *out, const struct metrics_ctx *ctx)
{
	char vip[ENDPOINT_STR_LEN];
	double now = wall_now();

	fprintf(out, "# HELP socklb_service_backends Backends in the service's active set.\n"
		     "# TYPE socklb_service_backends gauge\n");
	for (size_t i = 0; i < ctx->table->n; i++)
		fprintf(out, "socklb_service_backends{service=\"%s\"} %zu\n",
			endpoint_str(&ctx->table->items[i].vip, vip, sizeof(vip)),
			ctx->table->items[i].backends.n);
	if (!ctx->sources)
		return;
	fprintf(out, "# HELP socklb_source_info The service's endpoint source and its state.\n"
		     "# TYPE socklb_source_info gauge\n"
		     "# HELP socklb_source_refreshes_total Answers the source got.\n"
		     "# TYPE socklb_source_refreshes_total counter\n"
		     "# HELP socklb_source_errors_total Failed refreshes of the source.\n"
		     "# TYPE socklb_source_errors_total counter\n"
		     "# HELP socklb_source_last_update_age_seconds Seconds since the source's "
		     "last answer (-1: never).\n"
		     "# TYPE socklb_source_last_update_age_seconds gauge\n");
	for (size_t i = 0; i < ctx->table->n; i++) {
		struct state_service s =
		    agent_sources_describe(ctx->sources, &ctx->table->items[i]);

		endpoint_str(&s.vip, vip, sizeof(vip));
		fprintf(out, "socklb_source_info{service=\"%s\",kind=\"%s\",state=\"%s\"} 1\n", vip,
			s.kind, s.state);
		fprintf(out, "socklb_source_refreshes_total{service=\"%s\"} %llu\n", vip,
			s.refreshes);
		fprintf(out, "socklb_source_errors_total{service=\"%s\"} %llu\n", vip, s.errors);
		fprintf(out, "socklb_source_last_update_age_seconds{service=\"%s\"} %.3f\n", vip,
			s.last_refresh > 0 ? now - s.last_refresh : -1.0);
	}
}

/* Refused connects and balanced-but-untracked connections, by reason. */
static void render_datapath(FILE *out, const struct metrics_ctx *ctx)
{
	static const struct counter_def refused = {
	    "socklb_refused_total", "counter",
	    "Connects to a service refused with ECONNREFUSED, by reason (no_backend: the "
	    "service has none; family: its backend is of another IP family)."};
	static const struct counter_def untracked = {
	    "socklb_untracked_total", "counter",
	    "Connects balanced but not tracked (not counted for least-conn, not moved), by "
	    "reason (storage: socket-local storage could not be allocated; handoff: the "
	    "connect hook's choice did not reach sockops; netns: on a kernel without "
	    "map-element iterators, its namespace found no room in netns_conns)."};
	__u64 e[SOCKLB_DP_EVENTS] = {0};

	lb_maps_read_dp_stats(ctx->maps, e);
	header(out, &refused);
	fprintf(out, "%s{reason=\"no_backend\"} %llu\n", refused.name,
		(unsigned long long)e[SOCKLB_DP_REFUSED_NO_BACKEND]);
	fprintf(out, "%s{reason=\"family\"} %llu\n", refused.name,
		(unsigned long long)e[SOCKLB_DP_REFUSED_FAMILY]);
	header(out, &untracked);
	fprintf(out, "%s{reason=\"storage\"} %llu\n", untracked.name,
		(unsigned long long)e[SOCKLB_DP_UNTRACKED_STORAGE]);
	fprintf(out, "%s{reason=\"handoff\"} %llu\n", untracked.name,
		(unsigned long long)e[SOCKLB_DP_UNTRACKED_HANDOFF]);
	fprintf(out, "%s{reason=\"netns\"} %llu\n", untracked.name,
		(unsigned long long)e[SOCKLB_DP_UNREGISTERED_NETNS]);
}

void metrics_render(FILE *out, const struct metrics_ctx *ctx)
{
	render_backends(out, ctx);
	render_ended_by_reason(out, ctx);
	render_datapath(out, ctx);
	render_sources(out, ctx);
	metrics_render_agent(out, ctx);
	metrics_render_cluster(out, ctx);
}
