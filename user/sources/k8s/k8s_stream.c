// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "sources/k8s/k8s_stream.h"
#include "lib/util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Objects nest deeper than json-c's default of 32 (managedFields). */
#define K8S_JSON_DEPTH 128

int k8s_line_buf_append(struct k8s_line_buf *b, const char *data, size_t n)
{
	if (b->start) {
		memmove(b->data, b->data + b->start, b->len - b->start);
		b->len -= b->start;
		b->start = 0;
	}
	if (b->len + n > K8S_MAX_LINE + (64u << 10))
		return -E2BIG;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		char *grown;

		while (cap < b->len + n + 1)
			cap *= 2;
		grown = realloc(b->data, cap);
		if (!grown)
			return -ENOMEM;
		b->data = grown;
		b->cap = cap;
	}
	memcpy(b->data + b->len, data, n);
	b->len += n;
	return 0;
}

char *k8s_line_buf_next(struct k8s_line_buf *b, size_t *len)
{
	char *line, *nl;

	if (b->start >= b->len)
		return NULL;
	line = b->data + b->start;
	nl = memchr(line, '\n', b->len - b->start);
	if (!nl)
		return NULL;
	*nl = '\0';
	b->start = (size_t)(nl - b->data) + 1;
	*len = (size_t)(nl - line);
	if (*len && line[*len - 1] == '\r')
		line[--*len] = '\0';
	return line;
}

size_t k8s_line_buf_pending(const struct k8s_line_buf *b)
{
	return b->len - b->start;
}

void k8s_line_buf_free(struct k8s_line_buf *b)
{
	free(b->data);
	memset(b, 0, sizeof(*b));
}

const char *k8s_event_name(enum k8s_event_type type)
{
	static const char *const names[] = {"ADDED", "MODIFIED", "DELETED", "BOOKMARK", "ERROR"};

	return (unsigned)type < ARRAY_SIZE(names) ? names[type] : "?";
}

static bool blank(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n')
			return false;
	}
	return true;
}

/* The whole of text[0..len) as one JSON value, or NULL (err says why). */
static json_object *parse_json(const char *text, size_t len, char *err, size_t errlen)
{
	json_tokener *tok = json_tokener_new_ex(K8S_JSON_DEPTH);
	json_object *obj = NULL;
	enum json_tokener_error jerr;

	if (!tok) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (len > (size_t)INT32_MAX) {
		snprintf(err, errlen, "answer too large");
		json_tokener_free(tok);
		return NULL;
	}
	obj = json_tokener_parse_ex(tok, text, (int)len);
	jerr = json_tokener_get_error(tok);
	if (!obj || jerr != json_tokener_success) {
		snprintf(err, errlen, "bad JSON: %s",
			 jerr == json_tokener_continue ? "cut short"
						       : json_tokener_error_desc(jerr));
		json_object_put(obj);
		obj = NULL;
	} else if (!blank(text + json_tokener_get_parse_end(tok),
			  len - json_tokener_get_parse_end(tok))) {
		snprintf(err, errlen, "bad JSON: more after the value");
		json_object_put(obj);
		obj = NULL;
	}
	json_tokener_free(tok);
	return obj;
}

static void take_rv(struct k8s_watch_state *st, json_object *obj)
{
	const char *rv = k8s_get_str(obj, "metadata.resourceVersion");

	if (rv && rv[0] && strlen(rv) < sizeof(st->rv))
		snprintf(st->rv, sizeof(st->rv), "%s", rv);
}

static bool parse_type(const char *s, enum k8s_event_type *out)
{
	static const struct {
		const char *name;
		enum k8s_event_type type;
	} types[] = {
	    {"ADDED", K8S_EVENT_ADDED},	    {"MODIFIED", K8S_EVENT_MODIFIED},
	    {"DELETED", K8S_EVENT_DELETED}, {"BOOKMARK", K8S_EVENT_BOOKMARK},
	    {"ERROR", K8S_EVENT_ERROR},
	};

	for (size_t i = 0; s && i < ARRAY_SIZE(types); i++) {
		if (!strcmp(s, types[i].name)) {
			*out = types[i].type;
			return true;
		}
	}
	return false;
}

/* An ERROR event's Status: 410 Gone (or reason Expired/Gone) means list again. */
static enum k8s_line_result status_event(json_object *status, char *err, size_t errlen)
{
	json_object *code_obj = NULL;
	const char *reason = k8s_get_str(status, "reason");
	const char *message = k8s_get_str(status, "message");
	int code = 0;

	if (json_object_object_get_ex(status, "code", &code_obj))
		code = json_object_get_int(code_obj);
	snprintf(err, errlen, "watch error %d %s: %s", code, reason ? reason : "",
		 message ? message : "");
	if (code == 410 || (reason && (!strcmp(reason, "Expired") || !strcmp(reason, "Gone"))))
		return K8S_LINE_GONE;
	return K8S_LINE_ERROR;
}

enum k8s_line_result k8s_watch_line(struct k8s_watch_state *st, const char *line, size_t len,
				    k8s_object_cb cb, void *arg, char *err, size_t errlen)
{
	enum k8s_line_result result = K8S_LINE_BAD;
	enum k8s_event_type type;
	json_object *event, *object = NULL;

	if (blank(line, len))
		return K8S_LINE_EMPTY;
	event = parse_json(line, len, err, errlen);
	if (!event)
		return K8S_LINE_BAD;
	if (!parse_type(k8s_get_str(event, "type"), &type) ||
	    !json_object_object_get_ex(event, "object", &object) ||
	    !json_object_is_type(object, json_type_object)) {
		snprintf(err, errlen, "not a watch event (no known type and object)");
		goto out;
	}
	switch (type) {
	case K8S_EVENT_ERROR:
		result = status_event(object, err, errlen);
		break;
	case K8S_EVENT_BOOKMARK:
		take_rv(st, object);
		result = K8S_LINE_BOOKMARK;
		break;
	default:
		cb(arg, type, object);
		take_rv(st, object);
		st->events++;
		result = K8S_LINE_OBJECT;
		break;
	}
out:
	json_object_put(event);
	return result;
}

json_object *k8s_list_load(const char *body, size_t len, bool single, char *err, size_t errlen)
{
	json_object *root = parse_json(body, len, err, errlen);
	json_object *items;

	if (!root)
		return NULL;
	if (!json_object_is_type(root, json_type_object)) {
		snprintf(err, errlen, "the answer is not a JSON object");
		json_object_put(root);
		return NULL;
	}
	if (!single && (!json_object_object_get_ex(root, "items", &items) ||
			!(json_object_is_type(items, json_type_array) ||
			  json_object_is_type(items, json_type_null)))) {
		snprintf(err, errlen, "the answer is not a list (no items)");
		json_object_put(root);
		return NULL;
	}
	return root;
}

void k8s_list_apply(struct k8s_watch_state *st, json_object *root, bool single, k8s_object_cb cb,
		    void *arg)
{
	json_object *items = NULL;

	if (single) {
		cb(arg, K8S_EVENT_ADDED, root);
	} else {
		json_object_object_get_ex(root, "items", &items);
		for (size_t i = 0; items && i < json_object_array_length(items); i++)
			cb(arg, K8S_EVENT_ADDED, json_object_array_get_idx(items, i));
	}
	take_rv(st, root);
}

int k8s_list_parse(struct k8s_watch_state *st, const char *body, size_t len, bool single,
		   k8s_object_cb cb, void *arg, char *err, size_t errlen)
{
	json_object *root = k8s_list_load(body, len, single, err, errlen);

	if (!root)
		return -EINVAL;
	k8s_list_apply(st, root, single, cb, arg);
	json_object_put(root);
	return 0;
}

void k8s_status_message(const char *body, size_t len, char *out, size_t outlen)
{
	char err[64];
	json_object *status = len ? parse_json(body, len, err, sizeof(err)) : NULL;
	const char *message = status ? k8s_get_str(status, "message") : NULL;

	snprintf(out, outlen, "%s", message ? message : "");
	json_object_put(status);
}
