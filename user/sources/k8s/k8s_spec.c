// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * k8s:NAMESPACE/SERVICE[:PORT-NAME] — the text only.  Names are checked here,
 * at parse time, so a typo is refused with exit status 64; source_k8s.c talks
 * to the API.
 */
#include "sources/source.h"

#include <errno.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define K8S_LABEL_MAX 63

int k8s_label_check(const char *what, const char *text, size_t len, char *err, size_t errlen)
{
	if (len == 0) {
		snprintf(err, errlen, "no %s", what);
		return -EINVAL;
	}
	if (len > K8S_LABEL_MAX) {
		snprintf(err, errlen, "%s '%.*s...' is %zu characters long; at most %d are allowed",
			 what, 16, text, len, K8S_LABEL_MAX);
		return -EINVAL;
	}
	for (size_t i = 0; i < len; i++) {
		char c = text[i];

		if (!(islower((unsigned char)c) || isdigit((unsigned char)c) || c == '-')) {
			snprintf(err, errlen,
				 "%s '%.*s' has '%c': only lowercase letters, digits and '-' are "
				 "allowed (RFC 1123 label)",
				 what, (int)len, text, c);
			return -EINVAL;
		}
	}
	if (text[0] == '-' || text[len - 1] == '-') {
		snprintf(err, errlen, "%s '%.*s' must not start or end with '-'", what, (int)len,
			 text);
		return -EINVAL;
	}
	return 0;
}

int source_k8s_parse(const char *args, struct service_spec *spec, char *err, size_t errlen)
{
	const char *slash = strchr(args, '/');
	const char *name, *colon;
	size_t name_len;

	if (!slash) {
		snprintf(err, errlen,
			 "expected k8s:NAMESPACE/SERVICE[:PORT-NAME], e.g. "
			 "k8s:default/sample-service-grpc:grpc");
		return -EINVAL;
	}
	name = slash + 1;
	colon = strchr(name, ':');
	name_len = colon ? (size_t)(colon - name) : strlen(name);
	if (k8s_label_check("namespace", args, (size_t)(slash - args), err, errlen) ||
	    k8s_label_check("service name", name, name_len, err, errlen))
		return -EINVAL;
	if (colon && k8s_label_check("port name", colon + 1, strlen(colon + 1), err, errlen))
		return -EINVAL;
	spec->k8s_namespace = strndup(args, (size_t)(slash - args));
	spec->k8s_name = strndup(name, name_len);
	spec->k8s_port_name = colon ? strdup(colon + 1) : NULL;
	if (!spec->k8s_namespace || !spec->k8s_name || (colon && !spec->k8s_port_name)) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	return 0;
}
