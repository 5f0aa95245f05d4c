/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Endpoint sources: each turns the text after "KIND:" into backends for a
 * service.  A new source adds one entry to the table in service_spec.c.
 */
#ifndef SOCKLB_SOURCE_H
#define SOCKLB_SOURCE_H

#include <stddef.h>
#include "model/service_spec.h"

struct source_type {
	const char *prefix; /* "static:" */
	enum source_kind kind;
	/* Fills spec's backends from args (the text after the prefix). */
	int (*parse)(const char *args, struct service_spec *spec, char *err, size_t errlen);
};

int source_static_parse(const char *args, struct service_spec *spec, char *err, size_t errlen);
/* dns:NAME:PORT — checks the name (RFC 1123) and port; resolving is source_dns.h's. */
int source_dns_parse(const char *args, struct service_spec *spec, char *err, size_t errlen);
/*
 * k8s:NAMESPACE/SERVICE[:PORT-NAME] — checks the names (lowercase RFC 1123
 * labels); the API is source_k8s.h's.  Without a port name the Service must
 * have one port (checked when its definition arrives).
 */
int source_k8s_parse(const char *args, struct service_spec *spec, char *err, size_t errlen);
/* 0 if text[0..len) is a lowercase RFC 1123 label (a Kubernetes namespace, name or port name). */
int k8s_label_check(const char *what, const char *text, size_t len, char *err, size_t errlen);
/* 0 if name[0..len) is a valid host name (RFC 1123 labels, <= 253 chars, optional final dot). */
int dns_name_check(const char *name, size_t len, char *err, size_t errlen);

#endif
