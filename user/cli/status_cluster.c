// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "cli/status_cluster.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

static json_object *field(json_object *o, const char *key)
{
	json_object *v = NULL;

	return o && json_object_object_get_ex(o, key, &v) ? v : NULL;
}

static const char *str(json_object *o, const char *key, const char *fallback)
{
	json_object *v = field(o, key);

	return v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : fallback;
}

static long long num(json_object *o, const char *key)
{
	json_object *v = field(o, key);

	return v ? json_object_get_int64(v) : 0;
}

static json_object *section(json_object *state)
{
	return field(field(state, "agent"), "cluster");
}

/* The service entry of vip in the section, or NULL. */
static json_object *service_entry(json_object *cluster, const struct endpoint *vip)
{
	json_object *list = field(cluster, "services");
	char text[ENDPOINT_STR_LEN];

	endpoint_str(vip, text, sizeof(text));
	for (size_t i = 0; list && i < json_object_array_length(list); i++) {
		json_object *s = json_object_array_get_idx(list, i);

		if (!strcmp(str(s, "vip", ""), text))
			return s;
	}
	return NULL;
}

long long status_cluster_peers(json_object *state, const struct endpoint *vip,
			       const struct endpoint *backend)
{
	json_object *s = service_entry(section(state), vip), *list = field(s, "backends");
	char text[ENDPOINT_STR_LEN];

	endpoint_str(backend, text, sizeof(text));
	for (size_t i = 0; list && i < json_object_array_length(list); i++) {
		json_object *b = json_object_array_get_idx(list, i);

		if (!strcmp(str(b, "address", ""), text))
			return num(b, "peer_connections");
	}
	return -1;
}

static double now_wall(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* "0.8s ago" or "never". */
static const char *ago(json_object *o, const char *key, char *buf, size_t len)
{
	json_object *v = field(o, key);

	if (!v)
		snprintf(buf, len, "never");
	else
		snprintf(buf, len, "%.1fs ago", now_wall() - json_object_get_double(v));
	return buf;
}

static void print_peers(json_object *cluster)
{
	json_object *peers = field(cluster, "peers");
	char when[64];

	for (size_t i = 0; peers && i < json_object_array_length(peers); i++) {
		json_object *p = json_object_array_get_idx(peers, i);

		printf("cluster: peer %s  last report %s  %s  services=%lld\n", str(p, "node", "?"),
		       ago(p, "last_report", when, sizeof(when)),
		       json_object_get_boolean(field(p, "fresh")) ? "fresh" : "stale (ignored)",
		       num(p, "services"));
	}
}

void status_cluster_text(json_object *state)
{
	json_object *c = section(state), *pub = field(c, "publisher");
	const char *reason = str(c, "reason", NULL);
	char when[64];

	if (!c)
		return;
	printf("cluster: node %s  mode=%s%s%s%s  peers %lld fresh, %lld stale  publish at most "
	       "every %lldms, heartbeat every %lldms (stale after %lldms)\n",
	       str(c, "node", "?"), str(c, "mode", "?"), reason ? " (balancing per node: " : "",
	       reason ? reason : "", reason ? ")" : "", num(c, "peers_fresh"),
	       num(c, "peers_stale"), num(c, "publish_interval_ms"),
	       num(c, "heartbeat_interval_ms"), num(c, "stale_after_ms"));
	printf("cluster: writes=%lld (created %lld) conflicts=%lld errors=%lld  last write %s  "
	       "owner Node: %s%s%s\n",
	       num(pub, "writes"), num(pub, "creates"), num(pub, "conflicts"), num(pub, "errors"),
	       ago(pub, "last_write", when, sizeof(when)),
	       json_object_get_boolean(field(pub, "owner_reference")) ? "yes" : "no",
	       str(pub, "last_error", NULL) ? "  last error: " : "", str(pub, "last_error", ""));
	print_peers(c);
}

void status_cluster_backend_json(json_object *state, const struct endpoint *vip,
				 const struct endpoint *backend,
				 unsigned long long node_connections, json_object *b)
{
	long long peers = status_cluster_peers(state, vip, backend);

	if (peers < 0)
		return;
	json_object_object_add(b, "node_connections",
			       json_object_new_int64((int64_t)node_connections));
	json_object_object_add(b, "peer_connections", json_object_new_int64(peers));
	json_object_object_add(b, "cluster_connections",
			       json_object_new_int64((int64_t)node_connections + peers));
}
