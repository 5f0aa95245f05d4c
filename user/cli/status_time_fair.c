// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "cli/status_time_fair.h"

#include <stdio.h>

static long long num(json_object *o, const char *key)
{
	json_object *v = NULL;

	return json_object_object_get_ex(o, key, &v) ? json_object_get_int64(v) : 0;
}

static void print_service(json_object *s)
{
	json_object *vip = NULL;

	json_object_object_get_ex(s, "vip", &vip);
	printf("  rotating %s: %lld connections over %lld backends, %lld load classes, "
	       "a move every %lldms\n",
	       vip ? json_object_get_string(vip) : "?", num(s, "connections"), num(s, "backends"),
	       num(s, "classes"), num(s, "phase_ms"));
}

void status_time_fair_text(json_object *state)
{
	json_object *agent = NULL, *tf = NULL, *list = NULL;

	if (!state || !json_object_object_get_ex(state, "agent", &agent) ||
	    !json_object_object_get_ex(agent, "time_fair", &tf))
		return;
	printf("time-fair: window %lldms, min dwell %lldms; %lld moves, %lld withdrawn (never "
	       "idle)\n",
	       num(tf, "window_ms"), num(tf, "min_dwell_ms"), num(tf, "moves"),
	       num(tf, "moves_expired"));
	if (!json_object_object_get_ex(tf, "rotating", &list))
		return;
	for (size_t i = 0; i < json_object_array_length(list); i++)
		print_service(json_object_array_get_idx(list, i));
}
