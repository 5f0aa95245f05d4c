// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* static:IP:PORT[,IP:PORT...] — a fixed backend list; empty means no backends. */
#include "sources/source.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int by_endpoint(const void *a, const void *b)
{
	return endpoint_cmp(a, b);
}

static size_t count_items(const char *args)
{
	size_t n = 1;

	for (const char *p = args; *p; p++)
		n += *p == ',';
	return n;
}

static int check_backends(const struct service_spec *spec, char *err, size_t errlen)
{
	char a[ENDPOINT_STR_LEN], b[ENDPOINT_STR_LEN];

	for (size_t i = 0; i < spec->n_backends; i++) {
		if (spec->backends[i].family != spec->vip.family) {
			snprintf(err, errlen,
				 "backend %s and service %s are not the same IP family",
				 endpoint_str(&spec->backends[i], a, sizeof(a)),
				 endpoint_str(&spec->vip, b, sizeof(b)));
			return -EINVAL;
		}
		if (i > 0 && endpoint_equal(&spec->backends[i], &spec->backends[i - 1])) {
			snprintf(err, errlen, "backend %s is listed twice",
				 endpoint_str(&spec->backends[i], a, sizeof(a)));
			return -EINVAL;
		}
	}
	return 0;
}

int source_static_parse(const char *args, struct service_spec *spec, char *err, size_t errlen)
{
	size_t cap = count_items(args);
	const char *item = args;

	spec->n_backends = 0;
	if (*args == '\0')
		return 0;
	if (cap > SOCKLB_MAX_BACKENDS_PER_SERVICE) {
		snprintf(err, errlen, "static: lists %zu backends; at most %u are allowed", cap,
			 SOCKLB_MAX_BACKENDS_PER_SERVICE);
		return -EINVAL;
	}
	spec->backends = calloc(cap, sizeof(*spec->backends));
	if (!spec->backends) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	while (item) {
		const char *comma = strchr(item, ',');
		size_t len = comma ? (size_t)(comma - item) : strlen(item);

		if (endpoint_parse_n(item, len, &spec->backends[spec->n_backends], err, errlen))
			return -EINVAL;
		spec->n_backends++;
		item = comma ? comma + 1 : NULL;
	}
	qsort(spec->backends, spec->n_backends, sizeof(*spec->backends), by_endpoint);
	return check_backends(spec, err, errlen);
}
