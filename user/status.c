// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* "socklb status": services, backends and counters, read from the pinned maps. */
#include "cli.h"
#include "endpoint.h"
#include "lb_maps.h"
#include "status_sources.h"

#include <argp.h>
#include <bpf/bpf.h>
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct status_args {
	const char *pin_path;
	bool json;
	const char *state_file; /* NULL: the agent's default for pin_path */
};

struct backend_row {
	struct endpoint ep;
	__u32 id;
	struct socklb_backend_stats stats;
};

struct service_row {
	struct endpoint vip;
	struct socklb_service svc;
	struct backend_row *backends;
	size_t n_backends;
};

static const struct argp_option status_options[] = {
	{ "pin-path", 'p', "PATH", 0, "Where the agent pinned its maps (default " SOCKLB_DEFAULT_PIN_PATH ")",
	  0 },
	{ "json", 'j', NULL, 0, "Print JSON for scripts", 0 },
	{ "state-file", 's', "PATH", 0,
	  "The agent's state file, for each service's source, last refresh and last error "
	  "(default: the agent's default for --pin-path)",
	  0 },
	{ 0 },
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

static int read_backends(const struct lb_maps *maps, struct service_row *row)
{
	row->backends = calloc(row->svc.backend_count ? row->svc.backend_count : 1,
			       sizeof(*row->backends));
	if (!row->backends)
		return -1;
	for (__u32 i = 0; i < row->svc.backend_count; i++) {
		struct socklb_slot_key key = { row->svc.service_id,
					       socklb_slot(row->svc.active_half, i) };
		struct backend_row *b = &row->backends[row->n_backends];
		struct socklb_backend be;

		/* The agent may switch sets while we read: skip what vanished. */
		if (bpf_map_lookup_elem(maps->backend_slots, &key, &b->id) ||
		    bpf_map_lookup_elem(maps->backends, &b->id, &be))
			continue;
		b->ep = endpoint_from_backend(&be);
		lb_maps_read_stats(maps, b->id, &b->stats);
		row->n_backends++;
	}
	return 0;
}

static int by_vip(const void *a, const void *b)
{
	return endpoint_cmp(&((const struct service_row *)a)->vip,
			    &((const struct service_row *)b)->vip);
}

static int read_services(const struct lb_maps *maps, struct service_row **rows, size_t *n)
{
	struct socklb_service_key key, next;
	void *prev = NULL;
	size_t cap = 0;

	*rows = NULL;
	*n = 0;
	while (bpf_map_get_next_key(maps->services, prev, &next) == 0) {
		struct service_row row = { .vip = endpoint_from_service_key(&next) };

		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(maps->services, &key, &row.svc))
			continue;
		if (*n == cap) {
			struct service_row *grown;

			cap = cap ? 2 * cap : 16;
			grown = realloc(*rows, cap * sizeof(*grown));
			if (!grown)
				return -1;
			*rows = grown;
		}
		if (read_backends(maps, &row))
			return -1;
		(*rows)[(*n)++] = row;
	}
	if (*n) /* *rows is NULL when there is none */
		qsort(*rows, *n, sizeof(**rows), by_vip);
	return 0;
}

static void print_text(const struct service_row *rows, size_t n, json_object *state)
{
	char vip[ENDPOINT_STR_LEN], be[ENDPOINT_STR_LEN];

	if (n == 0 && !status_sources_any_unshown(state))
		printf("no services\n");
	for (size_t i = 0; i < n; i++) {
		const struct service_row *s = &rows[i];

		printf("service %s  id=%u backends=%zu%s\n", endpoint_str(&s->vip, vip, sizeof(vip)),
		       s->svc.service_id, s->n_backends,
		       s->n_backends ? "" : "  (connects refused: ECONNREFUSED)");
		status_sources_text(state, &s->vip);
		if (s->n_backends)
			printf("  %-46s %6s %6s %10s %10s %10s %10s %10s %10s\n", "BACKEND", "ID",
			       "LIVE", "CONNECTING", "CONNECTS", "FAILED", "CLOSED", "ENDED_IDLE",
			       "ENDED_BUSY");
		for (size_t j = 0; j < s->n_backends; j++) {
			const struct backend_row *b = &s->backends[j];

			printf("  %-46s %6u %6llu %10llu %10llu %10llu %10llu %10llu %10llu\n",
			       endpoint_str(&b->ep, be, sizeof(be)), b->id,
			       (unsigned long long)b->stats.live,
			       (unsigned long long)b->stats.connecting,
			       (unsigned long long)b->stats.connects,
			       (unsigned long long)b->stats.connect_failures,
			       (unsigned long long)b->stats.closes,
			       (unsigned long long)b->stats.ended_graceful,
			       (unsigned long long)b->stats.ended_forced);
		}
	}
	status_sources_text_unshown(state);
}

static json_object *backend_json(const struct backend_row *b)
{
	json_object *o = json_object_new_object();
	char be[ENDPOINT_STR_LEN];

	json_object_object_add(o, "address",
			       json_object_new_string(endpoint_str(&b->ep, be, sizeof(be))));
	json_object_object_add(o, "backend_id", json_object_new_int64(b->id));
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
	return o;
}

static void print_json(const struct service_row *rows, size_t n, json_object *state)
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
			json_object_array_add(backends, backend_json(&rows[i].backends[j]));
		json_object_object_add(s, "backends", backends);
		status_sources_json(state, &rows[i].vip, s);
		json_object_array_add(services, s);
	}
	status_sources_json_unshown(state, services);
	json_object_object_add(root, "services", services);
	printf("%s\n", json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY));
	json_object_put(root);
}

int cmd_status(int argc, char **argv)
{
	struct status_args args = { .pin_path = SOCKLB_DEFAULT_PIN_PATH };
	struct argp argp = { status_options, parse_status_option, NULL,
			     "Print the services socklb balances, their backends, live "
			     "connections and counters, from the maps the agent pinned.",
			     NULL, NULL, NULL };
	struct service_row *rows = NULL;
	json_object *state;
	struct lb_maps maps;
	char err[1024];
	size_t n = 0;
	int ret;

	if (argp_parse(&argp, argc, argv, 0, NULL, &args))
		return EXIT_USAGE;
	if (lb_maps_open_pinned(args.pin_path, &maps, err, sizeof(err))) {
		fprintf(stderr, "socklb status: %s\n", err);
		return 1;
	}
	ret = read_services(&maps, &rows, &n);
	state = status_sources_load(args.pin_path, args.state_file);
	if (ret)
		fprintf(stderr, "socklb status: out of memory\n");
	else if (args.json)
		print_json(rows, n, state);
	else
		print_text(rows, n, state);
	json_object_put(state);
	for (size_t i = 0; i < n; i++)
		free(rows[i].backends);
	free(rows);
	lb_maps_close(&maps);
	return ret ? 1 : 0;
}
