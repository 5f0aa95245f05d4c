/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The config file: one service per line, written exactly as --service takes
 * it ("VIP:PORT=SOURCE"; spaces around '=' and ',' are allowed), '#' starts a
 * comment, blank lines are ignored.
 */
#ifndef SOCKLB_CONFIG_FILE_H
#define SOCKLB_CONFIG_FILE_H

#include <stdio.h>
#include "model/service_spec.h"

/*
 * Appends the file's services to list.  -EINVAL for a bad line, -errno if
 * the file cannot be read; err names the file (and the line).
 */
int config_file_load(const char *path, struct service_spec_list *list, char *err, size_t errlen);
/* The same for an open stream (name is for messages): the parser alone, fuzzed as such. */
int config_file_parse(FILE *f, const char *name, struct service_spec_list *list, char *err,
		      size_t errlen);

/*
 * All the services the agent is asked for: the --service texts first, then
 * the config file (if any); a VIP may appear only once among them.
 */
int config_gather(char *const *service_args, size_t n_service_args, const char *path,
		  struct service_spec_list *out, char *err, size_t errlen);

#endif
