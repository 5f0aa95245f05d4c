/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * A service as the user describes it: "VIP:PORT=SOURCE", from --service or
 * from a line of the config file.  SOURCE says where the backends come from:
 * "static:IP:PORT[,IP:PORT...]", "dns:NAME:PORT" or
 * "k8s:NAMESPACE/SERVICE[:PORT-NAME]".  A k8s: source may also stand alone,
 * without "VIP:PORT=": its VIPs then come from the Service's cluster IPs.
 */
#ifndef SOCKLB_SERVICE_SPEC_H
#define SOCKLB_SERVICE_SPEC_H

#include <stddef.h>
#include "model/endpoint.h"
#include "model/vip_index.h"

enum source_kind {
	SOURCE_STATIC,
	SOURCE_DNS, /* backends come later, from the agent's resolver */
	SOURCE_K8S, /* backends (and, without a VIP, VIPs) come from the Kubernetes API */
};

struct service_spec {
	struct endpoint vip; /* family 0: none given (k8s: alone), the API tells */
	enum source_kind kind;
	char *source;		   /* the SOURCE text as given, for logs and status */
	struct endpoint *backends; /* static: the listed backends, sorted */
	size_t n_backends;
	char *dns_name;	     /* dns: the name to resolve, as given */
	__u16 dns_port;	     /* dns: every backend's port, network byte order */
	char *k8s_namespace; /* k8s: the Service's namespace */
	char *k8s_name;	     /* k8s: the Service's name */
	char *k8s_port_name; /* k8s: the Service port's name, or NULL: its only port */
};

/* All zero is an empty list. */
struct service_spec_list {
	struct service_spec *items;
	size_t n, cap;
	struct vip_index by_vip; /* VIP -> position, for the duplicate check */
};

int service_spec_parse(const char *text, struct service_spec *out, char *err, size_t errlen);
void service_spec_free(struct service_spec *spec);

/* Whether spec names its VIP (every kind but a k8s: source alone does). */
static inline bool service_spec_has_vip(const struct service_spec *spec)
{
	return spec->vip.family != 0;
}

/*
 * Takes ownership of spec; refuses a VIP that is already in the list, and a
 * k8s: source alone that is already in it (same Service and port name).
 */
int service_spec_list_add(struct service_spec_list *list, struct service_spec *spec, char *err,
			  size_t errlen);
void service_spec_list_free(struct service_spec_list *list);

#endif
