// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Option values every subcommand parses alike: counts and durations. */
#include "cli/cli.h"
#include "lib/util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define CLI_MAX_COUNT (1UL << 24)

__u32 cli_parse_count(struct argp_state *state, const char *option, const char *arg, bool zero_ok)
{
	char *end;
	unsigned long value;

	errno = 0;
	value = strtoul(arg, &end, 10);
	if (errno || *end || arg[0] < '0' || arg[0] > '9' || (value == 0 && !zero_ok) ||
	    value > CLI_MAX_COUNT)
		argp_error(state, "%s '%s': expected a whole number from %d to %lu", option, arg,
			   zero_ok ? 0 : 1, CLI_MAX_COUNT);
	return (__u32)value;
}

__u64 cli_parse_duration_ms(struct argp_state *state, const char *option, const char *arg)
{
	static const struct {
		const char *suffix;
		__u64 ms;
	} units[] = {{"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}};
	char *end;
	unsigned long long value;

	errno = 0;
	value = strtoull(arg, &end, 10);
	if (!errno && arg[0] >= '0' && arg[0] <= '9' && value < (1ULL << 32)) {
		for (size_t i = 0; i < ARRAY_SIZE(units); i++) {
			if (!strcmp(end, units[i].suffix))
				return value * units[i].ms;
		}
	}
	argp_error(state, "%s '%s': expected a duration such as 250ms, 5s, 2m or 1h", option, arg);
	return 0;
}
