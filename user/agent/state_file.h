/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The agent's state file: what the BPF maps do not hold (each service's
 * source, its last refresh and last error) for `socklb status`.  JSON,
 * replaced as a whole (temp file + rename) so a reader never sees half of it.
 */
#ifndef SOCKLB_STATE_FILE_H
#define SOCKLB_STATE_FILE_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include "datapath/preflight.h"
#include "model/endpoint.h"
#include "model/service_table.h"
#include "sources/k8s/k8s_informer.h"

#define STATE_FILE_DIR "/run/socklb"
#define STATE_FILE_VERSION 1

struct state_service {
	struct endpoint vip;
	const char *source; /* as configured, e.g. "dns:web.default.svc.cluster.local:8080" */
	const char *kind;   /* "static" or "dns" */
	const char *state;  /* "ok", "pending", "empty" or "failing" */
	bool published;	    /* in the services map */
	size_t n_backends;
	double last_refresh;	/* wall clock, seconds; 0: never */
	const char *last_error; /* NULL: none */
	double last_error_at;
	unsigned long long refreshes; /* answers the source got (for metrics) */
	unsigned long long errors;    /* failed refreshes (for metrics) */
};

/* What the file says of the agent itself, beside its services. */
struct state_agent {
	const struct missing_privilege *missing; /* capabilities it runs without */
	size_t n_missing;
	const struct k8s_informer_health *watches; /* the k8s: source's informers */
	size_t n_watches;
	const struct retired_backend *draining; /* removed, connections still draining */
	size_t n_draining;
	json_object *cluster; /* the cluster view (cluster_state_json); NULL: none */
};

/* STATE_FILE_DIR "/<last component of pin_path>.json" */
void state_file_default_path(const char *pin_path, char *buf, size_t buflen);
/* The file to use: state_file (--state-file) if given, else the default for pin_path. */
void state_file_path(const char *state_file, const char *pin_path, char *buf, size_t buflen);
/* Removes the file (for `socklb agent --cleanup`); a missing one is fine. */
int state_file_remove(const char *path, char *err, size_t errlen);

/*
 * Writes the whole file (creating its directory if need be): the services,
 * and what agent says (may be NULL) of the agent and of the backends removed
 * from their sets whose connections still drain.
 */
int state_file_write(const char *path, const char *pin_path, const struct state_service *svcs,
		     size_t n, const struct state_agent *agent, char *err, size_t errlen);

/* The parsed file (json_object_put it), or NULL: absent (err empty) or unreadable. */
json_object *state_file_read(const char *path, char *err, size_t errlen);
/* The entry for vip ("10.96.0.10:8080") in a parsed file, or NULL. */
json_object *state_file_find(json_object *root, const char *vip);

#endif
