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
/* dns:NAME:PORT — checks the name (RFC 1123) and port; resolving is source_dns.h's. */
int source_dns_parse(const char *args, struct service_spec *spec, char *err, size_t errlen);
/* 0 if name[0..len) is a valid host name (RFC 1123 labels, <= 253 chars, optional final dot). */
int dns_name_check(const char *name, size_t len, char *err, size_t errlen);

#endif
