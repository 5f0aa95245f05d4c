// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "agent/state_file.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

void state_file_default_path(const char *pin_path, char *buf, size_t buflen)
{
	const char *end = pin_path + strlen(pin_path);
	const char *base;

	while (end > pin_path && end[-1] == '/')
		end--;
	base = end;
	while (base > pin_path && base[-1] != '/')
		base--;
	snprintf(buf, buflen, "%s/%.*s.json", STATE_FILE_DIR, (int)(end - base), base);
}

void state_file_path(const char *state_file, const char *pin_path, char *buf, size_t buflen)
{
	if (state_file)
		snprintf(buf, buflen, "%s", state_file);
	else
		state_file_default_path(pin_path, buf, buflen);
}

int state_file_remove(const char *path, char *err, size_t errlen)
{
	if (path[0] && unlink(path) && errno != ENOENT) {
		snprintf(err, errlen, "cannot remove state file %s: %s", path, strerror(errno));
		return -EINVAL;
	}
	return 0;
}

static json_object *time_or_null(double t)
{
	return t > 0 ? json_object_new_double(t) : NULL;
}

static json_object *service_json(const struct state_service *s)
{
	json_object *o = json_object_new_object();
	char vip[ENDPOINT_STR_LEN];

	/* A k8s: source alone has no VIP until the API gives the Service's cluster IPs. */
	json_object_object_add(
	    o, "vip",
	    s->vip.family ? json_object_new_string(endpoint_str(&s->vip, vip, sizeof(vip))) : NULL);
	json_object_object_add(o, "source", json_object_new_string(s->source ? s->source : ""));
	json_object_object_add(o, "kind", json_object_new_string(s->kind));
	json_object_object_add(o, "state", json_object_new_string(s->state));
	json_object_object_add(o, "published", json_object_new_boolean(s->published));
	json_object_object_add(o, "backends", json_object_new_int64((int64_t)s->n_backends));
	json_object_object_add(o, "last_refresh", time_or_null(s->last_refresh));
	json_object_object_add(o, "last_error",
			       s->last_error ? json_object_new_string(s->last_error) : NULL);
	json_object_object_add(o, "last_error_at",
			       s->last_error ? time_or_null(s->last_error_at) : NULL);
	return o;
}

static json_object *draining_json(const struct retired_backend *r)
{
	json_object *o = json_object_new_object();
	char text[ENDPOINT_STR_LEN];

	json_object_object_add(
	    o, "vip",
	    r->vip.family ? json_object_new_string(endpoint_str(&r->vip, text, sizeof(text)))
			  : NULL);
	json_object_object_add(o, "backend",
			       json_object_new_string(endpoint_str(&r->ep, text, sizeof(text))));
	json_object_object_add(o, "backend_id", json_object_new_int64(r->id));
	return o;
}

static json_object *watch_json(const struct k8s_informer_health *h)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "resource", json_object_new_string(h->resource));
	json_object_object_add(o, "namespace", json_object_new_string(h->ns));
	json_object_object_add(o, "state",
			       json_object_new_string(h->ok	 ? "ok"
						      : h->error ? "failing"
								 : "pending"));
	json_object_object_add(o, "synced", json_object_new_boolean(h->synced));
	json_object_object_add(o, "objects", json_object_new_int64((int64_t)h->objects));
	json_object_object_add(o, "lists", json_object_new_int64((int64_t)h->lists));
	json_object_object_add(o, "events", json_object_new_int64((int64_t)h->events));
	json_object_object_add(o, "errors", json_object_new_int64((int64_t)h->errors));
	json_object_object_add(o, "last_error", h->error ? json_object_new_string(h->error) : NULL);
	json_object_object_add(o, "last_refresh", time_or_null(h->last_refresh));
	return o;
}

static json_object *agent_json(const struct state_agent *a)
{
	json_object *o = json_object_new_object();
	json_object *missing = json_object_new_array(), *watches = json_object_new_array();

	for (size_t i = 0; a && i < a->n_missing; i++) {
		json_object *m = json_object_new_object();

		json_object_object_add(m, "capability",
				       json_object_new_string(a->missing[i].capability));
		json_object_object_add(m, "effect", json_object_new_string(a->missing[i].effect));
		json_object_array_add(missing, m);
	}
	for (size_t i = 0; a && i < a->n_watches; i++)
		json_object_array_add(watches, watch_json(&a->watches[i]));
	json_object_object_add(o, "missing_privileges", missing);
	json_object_object_add(o, "k8s_watches", watches);
	if (a && a->cluster)
		json_object_object_add(o, "cluster", json_object_get(a->cluster));
	return o;
}

static json_object *state_json(const char *pin_path, const struct state_service *svcs, size_t n,
			       const struct state_agent *agent)
{
	json_object *root = json_object_new_object();
	json_object *list = json_object_new_array();
	json_object *drain = json_object_new_array();
	struct timespec now;

	clock_gettime(CLOCK_REALTIME, &now);
	json_object_object_add(root, "version", json_object_new_int(STATE_FILE_VERSION));
	json_object_object_add(root, "pid", json_object_new_int((int)getpid()));
	json_object_object_add(root, "pin_path", json_object_new_string(pin_path));
	json_object_object_add(root, "written_at",
			       json_object_new_double((double)now.tv_sec + now.tv_nsec / 1e9));
	for (size_t i = 0; i < n; i++)
		json_object_array_add(list, service_json(&svcs[i]));
	json_object_object_add(root, "services", list);
	for (size_t i = 0; agent && i < agent->n_draining; i++)
		json_object_array_add(drain, draining_json(&agent->draining[i]));
	json_object_object_add(root, "draining", drain);
	json_object_object_add(root, "agent", agent_json(agent));
	return root;
}

static int ensure_dir(const char *path)
{
	char *copy = strdup(path);
	int ret;

	if (!copy)
		return -ENOMEM;
	ret = mkdir(dirname(copy), 0755) && errno != EEXIST ? -errno : 0;
	free(copy);
	return ret;
}

static int write_all(int fd, const char *text)
{
	size_t len = strlen(text), done = 0;

	while (done < len) {
		ssize_t n = write(fd, text + done, len - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		done += (size_t)n;
	}
	return 0;
}

int state_file_write(const char *path, const char *pin_path, const struct state_service *svcs,
		     size_t n, const struct state_agent *agent, char *err, size_t errlen)
{
	json_object *root = state_json(pin_path, svcs, n, agent);
	char tmp[4200];
	int fd, ret = ensure_dir(path);

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	fd = ret ? -1 : open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (!ret && fd < 0)
		ret = -errno;
	if (fd >= 0) {
		ret = write_all(fd, json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN));
		if (close(fd) && !ret)
			ret = -errno;
		/* rename replaces the old file in one step: readers see old or new. */
		if (!ret && rename(tmp, path))
			ret = -errno;
		if (ret)
			unlink(tmp);
	}
	if (ret)
		snprintf(err, errlen, "cannot write state file %s: %s", path, strerror(-ret));
	json_object_put(root);
	return ret;
}

json_object *state_file_read(const char *path, char *err, size_t errlen)
{
	json_object *root;

	err[0] = '\0';
	if (access(path, F_OK) && errno == ENOENT)
		return NULL;
	root = json_object_from_file(path);
	if (!root || !json_object_is_type(root, json_type_object)) {
		snprintf(err, errlen, "cannot read state file %s: %s", path,
			 root			    ? "not a JSON object"
			 : json_util_get_last_err() ? json_util_get_last_err()
						    : "bad JSON");
		json_object_put(root);
		return NULL;
	}
	return root;
}

json_object *state_file_find(json_object *root, const char *vip)
{
	json_object *list, *vip_obj;

	if (!root || !json_object_object_get_ex(root, "services", &list) ||
	    !json_object_is_type(list, json_type_array))
		return NULL;
	for (size_t i = 0; i < json_object_array_length(list); i++) {
		json_object *svc = json_object_array_get_idx(list, i);

		if (json_object_object_get_ex(svc, "vip", &vip_obj) &&
		    json_object_is_type(vip_obj, json_type_string) &&
		    !strcmp(json_object_get_string(vip_obj), vip))
			return svc;
	}
	return NULL;
}
