/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* One line per event on stderr: "level=LEVEL msg=... key=value ...". */
#ifndef SOCKLB_LOG_H
#define SOCKLB_LOG_H

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };

void log_set_level(enum log_level level);
/* "debug", "info", "warn" or "error"; returns -1 for anything else. */
int log_parse_level(const char *name, enum log_level *out);
void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)

/* Routes libbpf's own messages into the log (debug ones only when verbose). */
void log_capture_libbpf(void);

#endif
