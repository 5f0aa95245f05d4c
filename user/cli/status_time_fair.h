/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * What `socklb status` shows of the time-fair rotation, from the agent's
 * state file (its "time_fair" section, time_fair_pass_json): the window,
 * the moves so far, and every service it rotates now.
 */
#ifndef SOCKLB_STATUS_TIME_FAIR_H
#define SOCKLB_STATUS_TIME_FAIR_H

#include <json-c/json.h>

/* The rotation's lines (nothing when it is off or the file says nothing of it). */
void status_time_fair_text(json_object *state);

#endif
