/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * A service as the user describes it: "VIP:PORT=SOURCE", from --service or
 * from a line of the config file.  SOURCE says where the backends come from:
 * "static:IP:PORT[,IP:PORT...]" or "dns:NAME:PORT"; "k8s:" plugs in beside them.
 */
#ifndef SOCKLB_SERVICE_SPEC_H
#define SOCKLB_SERVICE_SPEC_H

#include <stddef.h>
#include "endpoint.h"

enum source_kind {
	SOURCE_STATIC,
	SOURCE_DNS, /* backends come later, from the agent's resolver */
};

struct service_spec {
	struct endpoint vip;
	enum source_kind kind;
	char *source; /* the SOURCE text as given, for logs and status */
	struct endpoint *backends; /* static: the listed backends, sorted */
	size_t n_backends;
	char *dns_name; /* dns: the name to resolve, as given */
	__u16 dns_port; /* dns: every backend's port, network byte order */
};

struct service_spec_list {
	struct service_spec *items;
	size_t n;
};

int service_spec_parse(const char *text, struct service_spec *out, char *err, size_t errlen);
void service_spec_free(struct service_spec *spec);

/* Takes ownership of spec; refuses a VIP that is already in the list. */
int service_spec_list_add(struct service_spec_list *list, struct service_spec *spec, char *err,
			  size_t errlen);
void service_spec_list_free(struct service_spec_list *list);

#endif
