/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Kubernetes objects as the k8s: source needs them, without any I/O: a
 * Service (v1) gives the VIPs (cluster IPs x TCP ports), its EndpointSlices
 * (discovery.k8s.io/v1) give the backends.  Parsed from json-c objects as
 * the API sends them; kept apart from libcurl so the tests can feed them.
 */
#ifndef SOCKLB_K8S_OBJECTS_H
#define SOCKLB_K8S_OBJECTS_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include "model/endpoint.h"
#include "model/service_time_fair.h"
#include "sources/k8s/k8s_cache.h"

#define K8S_NAME_LEN 64	     /* a namespace, Service or port name (RFC 1123 label) and NUL */
#define K8S_OBJ_NAME_LEN 254 /* an object name (RFC 1123 subdomain) and NUL */
#define K8S_RV_LEN 64	     /* a resourceVersion (opaque) and NUL */
#define K8S_ANNOTATION_ENABLED "socklb.io/enabled"
/* "off", or the window of the time-fair rotation for this Service ("30s") */
#define K8S_ANNOTATION_TIME_FAIR "socklb.io/time-fair"

struct k8s_service_port {
	char name[K8S_NAME_LEN]; /* "" when unnamed (a Service with one port) */
	__u16 port;		 /* host byte order */
	bool tcp;		 /* protocol TCP (the default); UDP and SCTP are not balanced */
	__u16 target_port;	 /* host byte order; 0 when named or absent */
};

struct k8s_service {
	char ns[K8S_NAME_LEN];
	char name[K8S_OBJ_NAME_LEN];
	char type[32]; /* "ClusterIP" when absent */
	bool headless; /* clusterIP None */
	/* spec.clusterIPs (or spec.clusterIP), one per family at most */
	struct endpoint cluster_ips[2]; /* port 0 */
	size_t n_cluster_ips;
	struct k8s_service_port *ports;
	size_t n_ports;
	bool enabled;			    /* annotation socklb.io/enabled: "true" */
	struct service_time_fair time_fair; /* annotation socklb.io/time-fair */
	bool time_fair_bad;		    /* ... present but neither "off" nor a duration */
};

/* Fills out from a Service object; -1 with a message if it is not one. */
int k8s_service_parse(json_object *obj, struct k8s_service *out, char *err, size_t errlen);
void k8s_service_free(struct k8s_service *svc);
/* A Service --k8s-discover balances: annotated, ClusterIP with a cluster IP. */
bool k8s_service_discoverable(const struct k8s_service *svc);

/* Which of a Service's ports a k8s: source balances, and on which VIPs. */
struct k8s_selector {
	const char *port_name; /* NULL: the only port (or, with a VIP, the one on its port) */
	bool all_ports;	       /* --k8s-discover: every TCP port */
	bool has_vip;	       /* VIP:PORT=k8s:...: that VIP only, any family */
	struct endpoint vip;
};

/* One VIP and where its backends listen: EndpointSlice ports named port_name. */
struct k8s_vip {
	struct endpoint vip;
	char port_name[K8S_NAME_LEN];
	__u16 target_port; /* host order; fallback for a slice port without a number */
};

/*
 * The VIPs svc gives under sel (malloc'd into *out; *n may be 0 for a
 * Service with no TCP port).  -1 with a message when the selection cannot
 * be met: no port of that name, several ports and none named, a UDP port,
 * no cluster IP (headless) without a VIP given.
 */
int k8s_service_vips(const struct k8s_service *svc, const struct k8s_selector *sel,
		     struct k8s_vip **out, size_t *n, char *err, size_t errlen);

struct k8s_slice_port {
	char name[K8S_NAME_LEN]; /* "" when unnamed */
	__u16 port;		 /* host order; 0 when absent */
	bool tcp;
};

struct k8s_slice {
	char name[K8S_OBJ_NAME_LEN];
	char service[K8S_NAME_LEN]; /* label kubernetes.io/service-name; "" if none */
	int family;		    /* AF_INET or AF_INET6; 0 for FQDN slices (not used) */
	struct k8s_slice_port *ports;
	size_t n_ports;
	union socklb_addr *ready; /* the first address of every ready endpoint */
	size_t n_ready;
	size_t n_not_ready;
};

/* Fills out from an EndpointSlice object; -1 with a message if it is not one. */
int k8s_slice_parse(json_object *obj, struct k8s_slice *out, char *err, size_t errlen);
void k8s_slice_free(struct k8s_slice *slice);

/*
 * The backends of one VIP: every ready endpoint of the VIP's family in every
 * slice of slices[n_slices] (a Service's), on the slice port named
 * v->port_name, sorted, without duplicates (malloc'd into *out, NULL when
 * none).  Returns -ENOMEM only when out of memory.
 */
int k8s_slices_backends(const struct k8s_slice *const *slices, size_t n_slices,
			const struct k8s_vip *v, struct endpoint **out, size_t *n);

/* The two resources the k8s: source informs itself of (k8s_cache.h). */
extern const struct k8s_resource k8s_services_resource;	      /* struct k8s_service */
extern const struct k8s_resource k8s_endpointslices_resource; /* struct k8s_slice, by Service */

/* The value of the dotted path ("metadata.resourceVersion") if it is a string. */
const char *k8s_get_str(json_object *obj, const char *path);

#endif
