// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Option values every subcommand parses alike: counts and durations. */
#include "cli/cli.h"
#include "lib/duration.h"
#include "lib/util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define CLI_MAX_COUNT (1UL << 24)

int cli_count_parse(const char *arg, bool zero_ok, __u32 *out)
{
	char *end;
	unsigned long value;

	errno = 0;
	value = strtoul(arg, &end, 10);
	if (errno || *end || arg[0] < '0' || arg[0] > '9' || (value == 0 && !zero_ok) ||
	    value > CLI_MAX_COUNT)
		return -EINVAL;
	*out = (__u32)value;
	return 0;
}

__u32 cli_parse_count(struct argp_state *state, const char *option, const char *arg, bool zero_ok)
{
	__u32 value = 0;

	if (cli_count_parse(arg, zero_ok, &value))
		argp_error(state, "%s '%s': expected a whole number from %d to %lu", option, arg,
			   zero_ok ? 0 : 1, CLI_MAX_COUNT);
	return value;
}

__u64 cli_parse_duration_ms(struct argp_state *state, const char *option, const char *arg)
{
	__u64 ms = 0;

	if (duration_parse_ms(arg, &ms))
		argp_error(state, "%s '%s': expected a duration such as 250ms, 5s, 2m or 1h",
			   option, arg);
	return ms;
}
