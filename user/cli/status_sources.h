/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * What `socklb status` adds from the agent's state file (state_file.h):
 * each service's source, last refresh and last error, and the services the
 * agent knows but has not put in the maps yet (a dns: name not answered).
 * Without the file, status shows the maps alone.
 */
#ifndef SOCKLB_STATUS_SOURCES_H
#define SOCKLB_STATUS_SOURCES_H

#include <json-c/json.h>
#include <stdbool.h>
#include "model/endpoint.h"

/* The state file (state_file NULL: the default one for pin_path), or NULL. */
json_object *status_sources_load(const char *pin_path, const char *state_file);

/* The line under a service of the maps; the service is then counted as shown. */
void status_sources_text(json_object *state, const struct endpoint *vip);
/* Adds source, source_state, last_refresh, last_error to a service's JSON. */
void status_sources_json(json_object *state, const struct endpoint *vip, json_object *svc);

/*
 * The ids of vip's backends that were removed but still drain (the file's
 * "draining" list); fills up to max, returns how many there are.
 */
size_t status_sources_draining(json_object *state, const struct endpoint *vip, __u32 *ids,
			       size_t max);

/* Whether the file lists a service not shown yet (one missing from the maps). */
bool status_sources_any_unshown(json_object *state);
/* Prints, or appends to the JSON services array, the services not shown yet. */
void status_sources_text_unshown(json_object *state);
void status_sources_json_unshown(json_object *state, json_object *services);

/* The agent's own lines (missing privileges, k8s watches), or its "agent" JSON object. */
void status_sources_agent_text(json_object *state);
void status_sources_agent_json(json_object *state, json_object *root);

#endif
