// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "kernel_hz.h"

#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>
#include <zlib.h>

/* gzopen reads plain files too, so one reader serves both places. */
static unsigned int hz_from(const char *path)
{
	gzFile f = gzopen(path, "r");
	char line[256];
	unsigned int hz = 0;

	if (!f)
		return 0;
	while (gzgets(f, line, sizeof(line))) {
		if (sscanf(line, "CONFIG_HZ=%u", &hz) == 1)
			break;
	}
	gzclose(f);
	return hz;
}

unsigned int kernel_hz(void)
{
	struct utsname uts;
	char path[512];
	unsigned int hz = 0;

	if (uname(&uts) == 0) {
		snprintf(path, sizeof(path), "/boot/config-%s", uts.release);
		hz = hz_from(path);
	}
	return hz ? hz : hz_from("/proc/config.gz");
}
