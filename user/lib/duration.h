/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Durations as users write them ("250ms", "5s", "2m", "1h"): flags, annotations. */
#ifndef SOCKLB_DURATION_H
#define SOCKLB_DURATION_H

#include <linux/types.h>

/* 0 and the value in milliseconds, or -EINVAL (no unit, another unit, 2^32 units or more). */
int duration_parse_ms(const char *text, __u64 *ms);

#endif
