/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* The subcommands of the socklb binary (main.c dispatches), and the value parsers they share. */
#ifndef SOCKLB_CLI_H
#define SOCKLB_CLI_H

#include <argp.h>
#include <stdbool.h>
#include <linux/types.h>

/* Exit status for bad input: argp's own (EX_USAGE), for every input error. */
#define EXIT_USAGE 64

int cmd_agent(int argc, char **argv);
int cmd_status(int argc, char **argv);

/*
 * The pure half (for the fuzzer): 0 and the value, or -EINVAL.  A count is
 * a whole number up to 2^24, positive unless zero_ok.  Durations:
 * duration_parse_ms (lib/duration.h).
 */
int cli_count_parse(const char *arg, bool zero_ok, __u32 *out);
/* A count (positive unless zero_ok) for OPTION; exits with a usage error naming it if not. */
__u32 cli_parse_count(struct argp_state *state, const char *option, const char *arg, bool zero_ok);
/* "250ms", "5s", "2m", "1h" in milliseconds; exits with a usage error if not. */
__u64 cli_parse_duration_ms(struct argp_state *state, const char *option, const char *arg);

#endif
