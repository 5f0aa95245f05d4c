// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "cli/status_sources.h"
#include "agent/state_file.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

/* Marks a state entry as printed, so the unshown ones can be listed after. */
#define SHOWN_KEY "_shown"

json_object *status_sources_load(const char *pin_path, const char *state_file)
{
	char path[4096], err[4300];
	json_object *state;

	state_file_path(state_file, pin_path, path, sizeof(path));
	state = state_file_read(path, err, sizeof(err));
	if (!state && err[0])
		fprintf(stderr, "socklb status: %s (showing the maps only)\n", err);
	return state;
}

static json_object *entry_for(json_object *state, const struct endpoint *vip)
{
	char text[ENDPOINT_STR_LEN];

	return state_file_find(state, endpoint_str(vip, text, sizeof(text)));
}

static const char *get_str(json_object *o, const char *key, const char *fallback)
{
	json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
		return fallback;
	return json_object_get_string(v);
}

/* 9999-12-31T23:59:59Z: past that, strftime's %Y has more than four digits. */
#define MAX_WALL_TIME 253402300799.0

/*
 * A wall-clock time in seconds from the file, or 0 if absent or null.  A
 * value no agent writes (negative, NaN, infinite, past year 9999) is taken
 * as absent too: converting it to time_t would be undefined, and NaN would
 * make status --json print something that is not JSON.
 */
static double get_time(json_object *o, const char *key)
{
	json_object *v;
	double t;

	if (!json_object_object_get_ex(o, key, &v) || !v)
		return 0;
	t = json_object_get_double(v);
	return t > 0 && t <= MAX_WALL_TIME ? t : 0;
}

static double now_wall(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static const char *iso_time(double t, char *buf, size_t len)
{
	time_t secs = (time_t)t;
	struct tm tm;

	gmtime_r(&secs, &tm);
	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
	return buf;
}

/* "0.8s ago (2025-01-02T03:04:05Z)", or "never". */
static const char *ago(double t, char *buf, size_t len)
{
	char when[32];

	if (t <= 0)
		snprintf(buf, len, "never");
	else
		snprintf(buf, len, "%.1fs ago (%s)", now_wall() - t,
			 iso_time(t, when, sizeof(when)));
	return buf;
}

static void print_source_line(json_object *e)
{
	char refresh[64], error_at[64];
	const char *error = get_str(e, "last_error", NULL);

	printf("  source %s  state=%s  last refresh %s  last error: %s%s%s\n",
	       get_str(e, "source", "?"), get_str(e, "state", "?"),
	       ago(get_time(e, "last_refresh"), refresh, sizeof(refresh)), error ? error : "none",
	       error ? " " : "",
	       error ? ago(get_time(e, "last_error_at"), error_at, sizeof(error_at)) : "");
}

void status_sources_text(json_object *state, const struct endpoint *vip)
{
	json_object *e = entry_for(state, vip);

	if (!e)
		return;
	json_object_object_add(e, SHOWN_KEY, json_object_new_boolean(1));
	print_source_line(e);
}

static json_object *time_json(double t)
{
	json_object *o;
	char when[32];

	if (t <= 0)
		return NULL;
	o = json_object_new_object();
	json_object_object_add(o, "age_seconds", json_object_new_double(now_wall() - t));
	json_object_object_add(o, "time", json_object_new_string(iso_time(t, when, sizeof(when))));
	return o;
}

static void add_source_keys(json_object *e, json_object *svc)
{
	const char *error = get_str(e, "last_error", NULL);
	json_object *err_obj = error ? time_json(get_time(e, "last_error_at")) : NULL;

	if (error && !err_obj)
		err_obj = json_object_new_object();
	if (err_obj)
		json_object_object_add(err_obj, "error", json_object_new_string(error));
	json_object_object_add(svc, "source", json_object_new_string(get_str(e, "source", "")));
	json_object_object_add(svc, "source_kind", json_object_new_string(get_str(e, "kind", "")));
	json_object_object_add(svc, "source_state",
			       json_object_new_string(get_str(e, "state", "")));
	json_object_object_add(svc, "last_refresh", time_json(get_time(e, "last_refresh")));
	json_object_object_add(svc, "last_error", err_obj);
}

void status_sources_json(json_object *state, const struct endpoint *vip, json_object *svc)
{
	json_object *e = entry_for(state, vip);

	json_object_object_add(svc, "published", json_object_new_boolean(1));
	if (!e)
		return;
	json_object_object_add(e, SHOWN_KEY, json_object_new_boolean(1));
	add_source_keys(e, svc);
}

size_t status_sources_draining(json_object *state, const struct endpoint *vip, __u32 *ids,
			       size_t max)
{
	char text[ENDPOINT_STR_LEN];
	json_object *list, *id;
	size_t n = 0;

	if (!state || !json_object_object_get_ex(state, "draining", &list) ||
	    !json_object_is_type(list, json_type_array))
		return 0;
	endpoint_str(vip, text, sizeof(text));
	for (size_t i = 0; i < json_object_array_length(list); i++) {
		json_object *e = json_object_array_get_idx(list, i);
		const char *v = get_str(e, "vip", NULL);

		if (!v || strcmp(v, text) || !json_object_object_get_ex(e, "backend_id", &id))
			continue;
		if (n < max)
			ids[n] = (__u32)json_object_get_int64(id);
		n++;
	}
	return n;
}

static size_t n_entries(json_object *state, json_object **list)
{
	if (!state || !json_object_object_get_ex(state, "services", list) ||
	    !json_object_is_type(*list, json_type_array))
		return 0;
	return json_object_array_length(*list);
}

static bool shown(json_object *e)
{
	return json_object_object_get_ex(e, SHOWN_KEY, NULL);
}

bool status_sources_any_unshown(json_object *state)
{
	json_object *list;
	size_t n = n_entries(state, &list);

	for (size_t i = 0; i < n; i++) {
		if (!shown(json_object_array_get_idx(list, i)))
			return true;
	}
	return false;
}

void status_sources_text_unshown(json_object *state)
{
	json_object *list;
	size_t n = n_entries(state, &list);

	for (size_t i = 0; i < n; i++) {
		json_object *e = json_object_array_get_idx(list, i);

		if (shown(e))
			continue;
		if (get_str(e, "vip", NULL))
			printf("service %s  not published yet: connects to it are left alone\n",
			       get_str(e, "vip", "?"));
		else
			printf("service (VIP not known yet)  not published: waiting for the "
			       "Kubernetes API\n");
		print_source_line(e);
	}
}

void status_sources_json_unshown(json_object *state, json_object *services)
{
	json_object *list;
	size_t n = n_entries(state, &list);

	for (size_t i = 0; i < n; i++) {
		json_object *e = json_object_array_get_idx(list, i);
		json_object *svc;

		if (shown(e))
			continue;
		svc = json_object_new_object();
		json_object_object_add(
		    svc, "vip",
		    get_str(e, "vip", NULL) ? json_object_new_string(get_str(e, "vip", "")) : NULL);
		json_object_object_add(svc, "service_id", NULL);
		json_object_object_add(svc, "published", json_object_new_boolean(0));
		json_object_object_add(svc, "backends", json_object_new_array());
		add_source_keys(e, svc);
		json_object_array_add(services, svc);
	}
}

static json_object *agent_array(json_object *state, const char *key)
{
	json_object *agent, *list;

	if (!state || !json_object_object_get_ex(state, "agent", &agent) ||
	    !json_object_object_get_ex(agent, key, &list) ||
	    !json_object_is_type(list, json_type_array))
		return NULL;
	return list;
}

static long long get_int(json_object *o, const char *key)
{
	json_object *v;

	return json_object_object_get_ex(o, key, &v) ? json_object_get_int64(v) : 0;
}

void status_sources_agent_text(json_object *state)
{
	json_object *missing = agent_array(state, "missing_privileges");
	json_object *watches = agent_array(state, "k8s_watches");

	for (size_t i = 0; missing && i < json_object_array_length(missing); i++) {
		json_object *m = json_object_array_get_idx(missing, i);

		printf("agent: %s missing: %s\n", get_str(m, "capability", "?"),
		       get_str(m, "effect", "?"));
	}
	for (size_t i = 0; watches && i < json_object_array_length(watches); i++) {
		json_object *w = json_object_array_get_idx(watches, i);
		const char *ns = get_str(w, "namespace", "");

		printf("k8s watch %s%s%s  state=%s  objects=%lld lists=%lld events=%lld "
		       "errors=%lld%s%s\n",
		       get_str(w, "resource", "?"), ns[0] ? " in " : " (all namespaces)", ns,
		       get_str(w, "state", "?"), get_int(w, "objects"), get_int(w, "lists"),
		       get_int(w, "events"), get_int(w, "errors"),
		       get_str(w, "last_error", NULL) ? "  last error: " : "",
		       get_str(w, "last_error", ""));
	}
}

void status_sources_agent_json(json_object *state, json_object *root)
{
	json_object *agent;

	if (state && json_object_object_get_ex(state, "agent", &agent))
		json_object_object_add(root, "agent", json_object_get(agent));
}
