/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Endpoint sources: each turns the text after "KIND:" into backends for a
 * service.  A new source adds one entry to the table in service_spec.c.
 */
#ifndef SOCKLB_SOURCE_H
#define SOCKLB_SOURCE_H

#include <stddef.h>
#include "service_spec.h"

struct source_type {
	const char *prefix; /* "static:" */
	enum source_kind kind;
	/* Fills spec's backends from args (the text after the prefix). */
	int (*parse)(const char *args, struct service_spec *spec, char *err, size_t errlen);
};

int source_static_parse(const char *args, struct service_spec *spec, char *err, size_t errlen);

#endif
