// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* socklb: dispatch to the subcommands. */
#include "cli/cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef SOCKLB_VERSION
#define SOCKLB_VERSION "dev"
#endif

const char *argp_program_version = "socklb " SOCKLB_VERSION;
const char *argp_program_bug_address = NULL;

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: socklb COMMAND [OPTION...]\n"
		"Transparent socket-level load balancing for gRPC and other long-lived TCP.\n\n"
		"Commands:\n"
		"  agent    load socklb, attach it to a cgroup and keep its maps up to date\n"
		"  status   print services, backends, live connections and counters\n"
		"  version  print the version\n\n"
		"'socklb COMMAND --help' describes each command's options.\n");
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	/* argp names the program after argv[0]: make it "socklb agent" etc. */
	if (!strcmp(argv[1], "agent")) {
		argv[1] = "socklb agent";
		return cmd_agent(argc - 1, argv + 1);
	}
	if (!strcmp(argv[1], "status")) {
		argv[1] = "socklb status";
		return cmd_status(argc - 1, argv + 1);
	}
	if (!strcmp(argv[1], "version") || !strcmp(argv[1], "--version")) {
		printf("%s\n", argp_program_version);
		return 0;
	}
	if (!strcmp(argv[1], "help") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		usage(stdout);
		return 0;
	}
	fprintf(stderr, "socklb: unknown command '%s'\n\n", argv[1]);
	usage(stderr);
	return EXIT_USAGE;
}
