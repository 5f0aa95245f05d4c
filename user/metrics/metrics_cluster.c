// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The cluster view's metrics: its mode, its peers, this node's writes, cluster-wide counts. */
#include "metrics/metrics.h"
#include "cluster/cluster.h"
#include "lib/clock.h"

static void render_view(FILE *out, const struct cluster *c)
{
	struct cluster_status st;

	cluster_status(c, &st);
	fprintf(out, "# HELP socklb_cluster_mode 1 for the cluster view's mode: cluster (balanced "
		     "cluster-wide), node (the API fails: per node) or pending.\n"
		     "# TYPE socklb_cluster_mode gauge\n");
	for (enum cluster_mode m = CLUSTER_PENDING; m <= CLUSTER_DOWN; m++)
		fprintf(out, "socklb_cluster_mode{node=\"%s\",mode=\"%s\"} %d\n", st.node,
			cluster_mode_name(m), m == st.mode);
	fprintf(out,
		"# HELP socklb_cluster_peers Other nodes' reports, fresh (planned with) or stale "
		"(older than 3 heartbeat intervals: ignored).\n"
		"# TYPE socklb_cluster_peers gauge\n"
		"socklb_cluster_peers{state=\"fresh\"} %zu\n"
		"socklb_cluster_peers{state=\"stale\"} %zu\n"
		"# HELP socklb_cluster_publish_writes_total This node's SocklbNode writes that "
		"succeeded.\n"
		"# TYPE socklb_cluster_publish_writes_total counter\n"
		"socklb_cluster_publish_writes_total %llu\n"
		"# HELP socklb_cluster_publish_conflicts_total Writes answered 409 (re-read, "
		"retried).\n"
		"# TYPE socklb_cluster_publish_conflicts_total counter\n"
		"socklb_cluster_publish_conflicts_total %llu\n"
		"# HELP socklb_cluster_publish_errors_total Failed writes, re-reads and Node "
		"lookups.\n"
		"# TYPE socklb_cluster_publish_errors_total counter\n"
		"socklb_cluster_publish_errors_total %llu\n",
		st.n_fresh, st.n_stale, st.writes, st.conflicts, st.errors);
}

static void render_peers(FILE *out, const struct cluster *c)
{
	struct cluster_peer_status peers[CLUSTER_MAX_SHOWN_PEERS];
	size_t n = cluster_peers(c, peers, CLUSTER_MAX_SHOWN_PEERS);
	double now = wall_now();

	fprintf(out, "# HELP socklb_cluster_peer_last_report_age_seconds Seconds since the "
		     "peer's last report (its heartbeat time; -1: none).\n"
		     "# TYPE socklb_cluster_peer_last_report_age_seconds gauge\n");
	for (size_t i = 0; i < n && i < CLUSTER_MAX_SHOWN_PEERS; i++)
		fprintf(out, "socklb_cluster_peer_last_report_age_seconds{peer=\"%s\"} %.3f\n",
			peers[i].node,
			peers[i].last_report > 0 ? now - peers[i].last_report : -1.0);
}

/* Per backend of k8s: services: the peers' connections, and the cluster's (with this node's). */
static void render_backends(FILE *out, const struct cluster *c, const struct metrics_ctx *ctx)
{
	char vip[ENDPOINT_STR_LEN], be[ENDPOINT_STR_LEN];

	fprintf(out, "# HELP socklb_backend_peer_connections Connections the other nodes "
		     "reported on the backend (fresh reports).\n"
		     "# TYPE socklb_backend_peer_connections gauge\n"
		     "# HELP socklb_backend_cluster_connections This node's live and connecting "
		     "connections on the backend plus the other nodes'.\n"
		     "# TYPE socklb_backend_cluster_connections gauge\n");
	for (size_t i = 0; i < ctx->table->n; i++) {
		const struct agent_service *svc = &ctx->table->items[i];

		if (!cluster_wants(svc))
			continue;
		endpoint_str(&svc->vip, vip, sizeof(vip));
		for (size_t j = 0; j < svc->backends.n; j++) {
			struct socklb_backend_stats st = {0};
			const struct endpoint *ep = &svc->backends.items[j].ep;
			__u32 peers = cluster_peer_connections(c, &svc->vip, ep);

			lb_maps_read_stats(ctx->maps, svc->backends.items[j].id, &st);
			endpoint_str(ep, be, sizeof(be));
			fprintf(
			    out,
			    "socklb_backend_peer_connections{service=\"%s\",backend=\"%s\"} %u\n",
			    vip, be, peers);
			fprintf(out,
				"socklb_backend_cluster_connections{service=\"%s\",backend=\"%s\"} "
				"%llu\n",
				vip, be, (unsigned long long)(st.live + st.connecting + peers));
		}
	}
}

void metrics_render_cluster(FILE *out, const struct metrics_ctx *ctx)
{
	const struct cluster *c = ctx->sources ? agent_sources_cluster(ctx->sources) : NULL;

	if (!c)
		return;
	render_view(out, c);
	render_peers(out, c);
	render_backends(out, c, ctx);
}
