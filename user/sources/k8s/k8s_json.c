// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Reading fields of Kubernetes objects out of json-c trees, with their checks. */
#include "sources/k8s/k8s_json.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

/* obj at the dotted path, or NULL. */
json_object *k8s_json_path(json_object *obj, const char *path)
{
	char key[64];

	while (obj && *path) {
		const char *dot = strchr(path, '.');
		size_t len = dot ? (size_t)(dot - path) : strlen(path);

		if (len >= sizeof(key) || !json_object_is_type(obj, json_type_object))
			return NULL;
		memcpy(key, path, len);
		key[len] = '\0';
		if (!json_object_object_get_ex(obj, key, &obj))
			return NULL;
		path += dot ? len + 1 : len;
	}
	return obj;
}

const char *k8s_get_str(json_object *obj, const char *path)
{
	json_object *v = k8s_json_path(obj, path);

	return v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

json_object *k8s_json_array(json_object *obj, const char *path)
{
	json_object *v = k8s_json_path(obj, path);

	return v && json_object_is_type(v, json_type_array) ? v : NULL;
}

/* An integer field, 0 if absent, -1 if not a number in 1..65535. */
int k8s_json_port(json_object *obj, const char *key)
{
	json_object *v;
	int64_t n;

	if (!json_object_object_get_ex(obj, key, &v) || !v)
		return 0;
	if (!json_object_is_type(v, json_type_int))
		return json_object_is_type(v, json_type_string) ? 0 : -1; /* a named targetPort */
	n = json_object_get_int64(v);
	return n >= 1 && n <= 65535 ? (int)n : -1;
}

int k8s_copy_str(char *dst, size_t size, const char *src, const char *what, char *err,
		 size_t errlen)
{
	if (strlen(src) >= size) {
		snprintf(err, errlen, "%s '%.32s...' is too long", what, src);
		return -EINVAL;
	}
	snprintf(dst, size, "%s", src);
	return 0;
}

bool k8s_port_is_tcp(json_object *port)
{
	const char *proto = k8s_get_str(port, "protocol");

	return !proto || !strcmp(proto, "TCP");
}

int k8s_check_kind(json_object *obj, const char *want, char *err, size_t errlen)
{
	const char *kind = k8s_get_str(obj, "kind");

	if (!obj || !json_object_is_type(obj, json_type_object)) {
		snprintf(err, errlen, "%s: not a JSON object", want);
		return -EINVAL;
	}
	/* Items of a List carry no kind; watch events and GETs do. */
	if (kind && strcmp(kind, want)) {
		snprintf(err, errlen, "expected a %s, got a %.32s", want, kind);
		return -EINVAL;
	}
	return 0;
}

/* "10.96.0.10" or "fd00::10" into a port-0 endpoint; -1 if neither. */
int k8s_parse_ip(const char *text, int family, struct endpoint *out)
{
	memset(out, 0, sizeof(*out));
	if ((family == 0 || family == AF_INET) && inet_pton(AF_INET, text, &out->addr.ip4) == 1) {
		out->family = AF_INET;
		return 0;
	}
	if ((family == 0 || family == AF_INET6) &&
	    inet_pton(AF_INET6, text, out->addr.bytes) == 1) {
		out->family = AF_INET6;
		return 0;
	}
	return -EINVAL;
}
