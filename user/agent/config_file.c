// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "agent/config_file.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Drops the comment and every blank, so "a = b, c" reads as "a=b,c". */
static void strip_line(char *line)
{
	char *out = line;

	for (char *p = line; *p && *p != '#'; p++) {
		if (*p != ' ' && *p != '\t' && *p != '\r' && *p != '\n')
			*out++ = *p;
	}
	*out = '\0';
}

int config_file_parse(FILE *f, const char *name, struct service_spec_list *list, char *err,
		      size_t errlen)
{
	char *line = NULL;
	size_t cap = 0;
	unsigned lineno = 0;
	int ret = 0;

	while (ret == 0 && getline(&line, &cap, f) >= 0) {
		struct service_spec spec;
		char detail[512];

		lineno++;
		strip_line(line);
		if (*line == '\0')
			continue;
		if (service_spec_parse(line, &spec, detail, sizeof(detail)) ||
		    service_spec_list_add(list, &spec, detail, sizeof(detail))) {
			service_spec_free(&spec);
			snprintf(err, errlen, "config file %s line %u: %s", name, lineno, detail);
			ret = -EINVAL;
		}
	}
	if (ret == 0 && ferror(f)) {
		ret = errno ? -errno : -EIO;
		snprintf(err, errlen, "cannot read config file %s: %s", name, strerror(-ret));
	}
	free(line);
	return ret;
}

int config_file_load(const char *path, struct service_spec_list *list, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	int ret;

	if (!f) {
		ret = -errno;
		snprintf(err, errlen, "cannot read config file %s: %s", path, strerror(errno));
		return ret;
	}
	ret = config_file_parse(f, path, list, err, errlen);
	fclose(f);
	return ret;
}

int config_gather(char *const *service_args, size_t n_service_args, const char *path,
		  struct service_spec_list *out, char *err, size_t errlen)
{
	int ret = 0;

	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < n_service_args && !ret; i++) {
		struct service_spec spec;

		ret = service_spec_parse(service_args[i], &spec, err, errlen);
		if (ret)
			break;
		ret = service_spec_list_add(out, &spec, err, errlen);
		if (ret)
			service_spec_free(&spec);
	}
	if (!ret && path)
		ret = config_file_load(path, out, err, errlen);
	if (ret)
		service_spec_list_free(out);
	return ret;
}
