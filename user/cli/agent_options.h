/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* "socklb agent"'s options: parsed into the agent's configuration, defaults included. */
#ifndef SOCKLB_AGENT_OPTIONS_H
#define SOCKLB_AGENT_OPTIONS_H

#include "agent/agent.h"
#include "cli/cli.h"

struct agent_args {
	struct agent_config cfg;
	bool cleanup;		/* --cleanup */
	char cgroup_root[4096]; /* the found cgroup v2 root, when no --cgroup was given */
};

/*
 * Fills args from argv, defaults first.  Bad input exits with EXIT_USAGE and
 * a message naming it (argp's way); returns 0.  agent_args_free releases it.
 */
int agent_parse_args(int argc, char **argv, struct agent_args *args);
void agent_args_free(struct agent_args *args);

#endif
