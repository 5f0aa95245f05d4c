// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* "socklb status": services, backends and counters, read from the pinned maps. */
#include "cli/cli.h"
#include "cli/status_cluster.h"
#include "cli/status_time_fair.h"
#include "lib/clock.h"
#include "cli/status_datapath.h"
#include "cli/status_sources.h"
#include "lib/array.h"
#include "datapath/maps.h"
#include "model/endpoint.h"

#include <argp.h>
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct status_args {
	const char *pin_path;
	bool json;
	bool connections;	/* --connections: list them, and count them per backend */
	const char *state_file; /* NULL: the agent's default for pin_path */
};

struct backend_row {
	struct endpoint ep;
	__u32 id;
	bool draining; /* removed from the service; its connections are still being ended */
	struct socklb_backend_stats stats;
};

struct service_row {
	struct endpoint vip;
	struct socklb_service svc;
	struct backend_row *backends;
	size_t n_backends;
};

static const struct argp_option status_options[] = {
    {"pin-path", 'p', "PATH", 0,
     "Where the agent pinned its maps (default " SOCKLB_DEFAULT_PIN_PATH ")", 0},
    {"json", 'j', NULL, 0, "Print JSON for scripts", 0},
    {"connections", 'c', NULL, 0,
     "Also list every balanced connection (its namespace, process, phase, VIP, backend "
     "and age) and count them per backend from the kernel's own record of each; with "
     "--json also each one's data segments and bytes either way (the time-fair load)",
     0},
    {"state-file", 's', "PATH", 0,
     "The agent's state file, for each service's source, last refresh and last error "
     "(default: the agent's default for --pin-path)",
     0},
    {0},
};

static error_t parse_status_option(int key, char *arg, struct argp_state *state)
{
	struct status_args *args = state->input;

	switch (key) {
	case 'p':
		args->pin_path = arg;
		break;
	case 'j':
		args->json = true;
		break;
	case 'c':
		args->connections = true;
		break;
	case 's':
		args->state_file = arg;
		break;
	case ARGP_KEY_ARG:
		argp_error(state, "unexpected argument '%s'", arg);
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

/* The agent may switch sets while we read: what vanished meanwhile is left out. */
/* Removed backends of this service still draining: the agent lists them in its state file. */
#define MAX_DRAINING_SHOWN 1024

static void read_draining(const struct lb_maps *maps, struct service_row *row, const __u32 *ids,
			  size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct backend_row *b = &row->backends[row->n_backends];
		struct socklb_backend be;

		/* Gone since the file was written: its id was reaped. */
		if (lb_maps_read_backend(maps, ids[i], &be) || !be.family ||
		    lb_maps_read_stats(maps, ids[i], &b->stats) ||
		    b->stats.live + b->stats.connecting == 0)
			continue;
		b->id = ids[i];
		b->ep = endpoint_from_backend(&be);
		b->draining = true;
		row->n_backends++;
	}
}

static int read_backends(const struct lb_maps *maps, struct service_row *row, json_object *state)
{
	__u32 draining[MAX_DRAINING_SHOWN];
	size_t n_draining = status_sources_draining(state, &row->vip, draining, MAX_DRAINING_SHOWN);
	size_t n = row->svc.backend_count;
	struct lb_set_member *members = calloc(n ? n : 1, sizeof(*members));

	if (n_draining > MAX_DRAINING_SHOWN)
		n_draining = MAX_DRAINING_SHOWN;
	row->backends = calloc(n + n_draining + 1, sizeof(*row->backends));
	if (!members || !row->backends) {
		free(members);
		return -ENOMEM;
	}
	n = lb_maps_read_set(maps, &row->svc, members);
	for (size_t i = 0; i < n; i++) {
		struct backend_row *b = &row->backends[row->n_backends++];

		b->id = members[i].id;
		b->ep = endpoint_from_backend(&members[i].backend);
		lb_maps_read_stats(maps, b->id, &b->stats);
	}
	free(members);
	read_draining(maps, row, draining, n_draining);
	return 0;
}

static int by_vip(const void *a, const void *b)
{
	return endpoint_cmp(&((const struct service_row *)a)->vip,
			    &((const struct service_row *)b)->vip);
}

struct service_rows {
	const struct lb_maps *maps;
	json_object *state; /* the agent's state file, or NULL */
	struct service_row *rows;
	size_t n, cap;
};

static int add_row(void *arg, const struct socklb_service_key *key,
		   const struct socklb_service *svc)
{
	struct service_rows *all = arg;
	struct service_row row = {.vip = endpoint_from_service_key(key), .svc = *svc};

	if (ARRAY_RESERVE(all->rows, all->cap, all->n))
		return -ENOMEM;
	all->rows[all->n++] = row;
	return read_backends(all->maps, &all->rows[all->n - 1], all->state);
}

static int read_services(const struct lb_maps *maps, json_object *state, struct service_rows *all)
{
	int ret;

	memset(all, 0, sizeof(*all));
	all->maps = maps;
	all->state = state;
	ret = lb_maps_for_each_service(maps, add_row, all);
	if (all->n) /* rows is NULL when there is none */
		qsort(all->rows, all->n, sizeof(*all->rows), by_vip);
	return ret;
}

/* The connections of the whole cluster on b (this node's plus its peers'), if known. */
static void print_cluster_count(json_object *state, const struct service_row *s,
				const struct backend_row *b)
{
	long long peers = status_cluster_peers(state, &s->vip, &b->ep);

	if (peers >= 0)
		printf("  cluster=%llu", (unsigned long long)(b->stats.live + b->stats.connecting +
							      (unsigned long long)peers));
}

static void print_text(const struct service_row *rows, size_t n, json_object *state,
		       const struct status_datapath *dp)
{
	char vip[ENDPOINT_STR_LEN], be[ENDPOINT_STR_LEN];

	status_sources_agent_text(state);
	status_cluster_text(state);
	status_time_fair_text(state);
	if (n == 0 && !status_sources_any_unshown(state))
		printf("no services\n");
	for (size_t i = 0; i < n; i++) {
		const struct service_row *s = &rows[i];

		printf("service %s  id=%u backends=%zu%s\n",
		       endpoint_str(&s->vip, vip, sizeof(vip)), s->svc.service_id,
		       (size_t)s->svc.backend_count,
		       s->svc.backend_count ? "" : "  (connects refused: ECONNREFUSED)");
		status_sources_text(state, &s->vip);
		if (s->n_backends)
			printf("  %-46s %6s %6s %10s %10s %10s %10s %10s %10s %10s %8s\n",
			       "BACKEND", "ID", "LIVE", "CONNECTING", "CONNECTS", "FAILED",
			       "CLOSED", "ENDED_IDLE", "ENDED_BUSY", "GOAWAY", "DRAINING");
		for (size_t j = 0; j < s->n_backends; j++) {
			const struct backend_row *b = &s->backends[j];

			char addr[ENDPOINT_STR_LEN + 12];

			snprintf(addr, sizeof(addr), "%s%s", endpoint_str(&b->ep, be, sizeof(be)),
				 b->draining ? " draining" : "");
			printf("  %-46s %6u %6llu %10llu %10llu %10llu %10llu %10llu %10llu %10llu "
			       "%8llu",
			       addr, b->id, (unsigned long long)b->stats.live,
			       (unsigned long long)b->stats.connecting,
			       (unsigned long long)b->stats.connects,
			       (unsigned long long)b->stats.connect_failures,
			       (unsigned long long)b->stats.closes,
			       (unsigned long long)b->stats.ended_graceful,
			       (unsigned long long)b->stats.ended_forced,
			       (unsigned long long)b->stats.ended_goaway,
			       (unsigned long long)b->stats.draining);
			if (dp->with_connections)
				printf("  tracked=%zu",
				       status_datapath_count(dp, b->id, SOCKLB_SOCK_ESTABLISHED));
			print_cluster_count(state, s, b);
			printf("\n");
		}
	}
	status_sources_text_unshown(state);
}

/* Every established connection of backend id, with the kernel's counts (the time-fair load). */
static json_object *connections_json(const struct status_datapath *dp, __u32 id)
{
	json_object *list = json_object_new_array();
	__u64 now = mono_now_ns();

	for (size_t i = 0; list && i < dp->n_conns; i++) {
		const struct socklb_conn_record *r = &dp->conns[i];
		json_object *c;

		if (r->sock.backend_id != id || r->sock.phase != SOCKLB_SOCK_ESTABLISHED)
			continue;
		c = json_object_new_object();
		json_object_object_add(c, "cookie", json_object_new_int64((int64_t)r->sock.cookie));
		json_object_object_add(
		    c, "age_seconds",
		    json_object_new_double((double)(now - r->sock.established_ns) / NS_PER_SEC));
		json_object_object_add(c, "data_segs_in", json_object_new_int64(r->data_segs_in));
		json_object_object_add(c, "data_segs_out", json_object_new_int64(r->data_segs_out));
		json_object_object_add(c, "bytes_received",
				       json_object_new_int64((int64_t)r->bytes_received));
		json_object_object_add(c, "bytes_acked",
				       json_object_new_int64((int64_t)r->bytes_acked));
		json_object_array_add(list, c);
	}
	return list;
}

static json_object *backend_json(const struct backend_row *b, const struct status_datapath *dp,
				 json_object *state, const struct endpoint *vip)
{
	json_object *o = json_object_new_object();
	char be[ENDPOINT_STR_LEN];

	json_object_object_add(o, "address",
			       json_object_new_string(endpoint_str(&b->ep, be, sizeof(be))));
	json_object_object_add(o, "backend_id", json_object_new_int64(b->id));
	json_object_object_add(o, "draining", json_object_new_boolean(b->draining));
	json_object_object_add(o, "live", json_object_new_int64((int64_t)b->stats.live));
	json_object_object_add(o, "connecting",
			       json_object_new_int64((int64_t)b->stats.connecting));
	json_object_object_add(o, "connects", json_object_new_int64((int64_t)b->stats.connects));
	json_object_object_add(o, "connect_failures",
			       json_object_new_int64((int64_t)b->stats.connect_failures));
	json_object_object_add(o, "closes", json_object_new_int64((int64_t)b->stats.closes));
	json_object_object_add(o, "ended_graceful",
			       json_object_new_int64((int64_t)b->stats.ended_graceful));
	json_object_object_add(o, "ended_forced",
			       json_object_new_int64((int64_t)b->stats.ended_forced));
	json_object_object_add(o, "ended_goaway",
			       json_object_new_int64((int64_t)b->stats.ended_goaway));
	json_object_object_add(o, "draining_connections",
			       json_object_new_int64((int64_t)b->stats.draining));
	status_cluster_backend_json(state, vip, &b->ep, b->stats.live + b->stats.connecting, o);
	if (dp->with_connections) {
		json_object_object_add(o, "tracked_live",
				       json_object_new_int64((int64_t)status_datapath_count(
					   dp, b->id, SOCKLB_SOCK_ESTABLISHED)));
		json_object_object_add(o, "tracked_connecting",
				       json_object_new_int64((int64_t)status_datapath_count(
					   dp, b->id, SOCKLB_SOCK_CONNECTING)));
		json_object_object_add(o, "connection_list", connections_json(dp, b->id));
	}
	return o;
}

static void print_json(const struct lb_maps *maps, const struct service_row *rows, size_t n,
		       json_object *state, const struct status_datapath *dp)
{
	json_object *root = json_object_new_object();
	json_object *services = json_object_new_array();
	char vip[ENDPOINT_STR_LEN];

	for (size_t i = 0; i < n; i++) {
		json_object *s = json_object_new_object();
		json_object *backends = json_object_new_array();

		json_object_object_add(
		    s, "vip", json_object_new_string(endpoint_str(&rows[i].vip, vip, sizeof(vip))));
		json_object_object_add(s, "service_id",
				       json_object_new_int64(rows[i].svc.service_id));
		for (size_t j = 0; j < rows[i].n_backends; j++)
			json_object_array_add(
			    backends, backend_json(&rows[i].backends[j], dp, state, &rows[i].vip));
		json_object_object_add(s, "backends", backends);
		status_sources_json(state, &rows[i].vip, s);
		json_object_array_add(services, s);
	}
	status_sources_json_unshown(state, services);
	json_object_object_add(root, "services", services);
	status_sources_agent_json(state, root);
	status_datapath_json(maps, dp, root);
	printf("%s\n", json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY));
	json_object_put(root);
}

int cmd_status(int argc, char **argv)
{
	struct status_args args = {.pin_path = SOCKLB_DEFAULT_PIN_PATH};
	struct argp argp = {status_options,
			    parse_status_option,
			    NULL,
			    "Print the services socklb balances, their backends, live "
			    "connections and counters, from the maps the agent pinned."
			    "\v"
			    "EXAMPLES:\n"
			    "  socklb status\n"
			    "  socklb status --connections\n"
			    "  socklb status --pin-path /sys/fs/bpf/socklb-node2 --json | jq .\n",
			    NULL,
			    NULL,
			    NULL};
	struct status_datapath dp = {0};
	struct service_rows all;
	json_object *state;
	struct lb_maps maps;
	char err[1024];
	int ret;

	if (argp_parse(&argp, argc, argv, 0, NULL, &args))
		return EXIT_USAGE;
	if (lb_maps_open_pinned(args.pin_path, &maps, err, sizeof(err))) {
		fprintf(stderr, "socklb status: %s\n", err);
		return 1;
	}
	state = status_sources_load(args.pin_path, args.state_file);
	ret = read_services(&maps, state, &all);
	if (ret)
		snprintf(err, sizeof(err), "cannot read the maps: %s", strerror(-ret));
	else
		ret = status_datapath_read(&maps, args.pin_path, args.connections, &dp, err,
					   sizeof(err));
	if (ret) {
		fprintf(stderr, "socklb status: %s\n", err);
	} else if (args.json) {
		print_json(&maps, all.rows, all.n, state, &dp);
	} else {
		status_datapath_text(&maps, &dp);
		print_text(all.rows, all.n, state, &dp);
	}
	status_datapath_free(&dp);
	json_object_put(state);
	for (size_t i = 0; i < all.n; i++)
		free(all.rows[i].backends);
	free(all.rows);
	lb_maps_close(&maps);
	return ret ? 1 : 0;
}
