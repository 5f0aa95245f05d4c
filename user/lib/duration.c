// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "lib/duration.h"
#include "lib/util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int duration_parse_ms(const char *text, __u64 *ms)
{
	static const struct {
		const char *suffix;
		__u64 ms;
	} units[] = {{"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}};
	char *end;
	unsigned long long value;

	errno = 0;
	value = strtoull(text, &end, 10);
	/* Below 2^32 units: even in hours the product fits in 64 bits. */
	if (errno || text[0] < '0' || text[0] > '9' || value >= (1ULL << 32))
		return -EINVAL;
	for (size_t i = 0; i < ARRAY_SIZE(units); i++) {
		if (!strcmp(end, units[i].suffix)) {
			*ms = value * units[i].ms;
			return 0;
		}
	}
	return -EINVAL;
}
