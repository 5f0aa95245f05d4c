// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* socklb: dispatch to the subcommands. */
#include "cli.h"

#include <errno.h>
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
	fprintf(out, "Usage: socklb COMMAND [OPTION...]\n"
		     "Transparent socket-level load balancing for gRPC and other long-lived TCP.\n\n"
		     "Commands:\n"
		     "  agent    load socklb, attach it to a cgroup and keep its maps up to date\n"
		     "  status   print services, backends, live connections and counters\n"
		     "  version  print the version\n\n"
		     "'socklb COMMAND --help' describes each command's options.\n");
}

__u32 cli_parse_count(struct argp_state *state, const char *option, const char *arg, bool zero_ok)
{
	char *end;
	unsigned long value;

	errno = 0;
	value = strtoul(arg, &end, 10);
	if (errno || *end || arg[0] < '0' || arg[0] > '9' || (value == 0 && !zero_ok) ||
	    value > (1UL << 24))
		argp_error(state, "%s '%s': expected a whole number from %d to %lu", option, arg,
			   zero_ok ? 0 : 1, 1UL << 24);
	return (__u32)value;
}

__u64 cli_parse_duration_ms(struct argp_state *state, const char *option, const char *arg)
{
	static const struct {
		const char *suffix;
		__u64 ms;
	} units[] = { { "ms", 1 }, { "s", 1000 }, { "m", 60000 }, { "h", 3600000 } };
	char *end;
	unsigned long long value;

	errno = 0;
	value = strtoull(arg, &end, 10);
	if (!errno && arg[0] >= '0' && arg[0] <= '9' && value < (1ULL << 32)) {
		for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
			if (!strcmp(end, units[i].suffix))
				return value * units[i].ms;
		}
	}
	argp_error(state, "%s '%s': expected a duration such as 250ms, 5s, 2m or 1h", option, arg);
	return 0;
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
