/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * One logfmt line per event on stderr:
 *   ts=2026-12-01T20:04:31.123Z level=info msg=ready key=value ...
 * Values that may hold blanks, quotes or anything a user or a server wrote
 * go through log_q, which quotes and escapes them.
 */
#ifndef SOCKLB_LOG_H
#define SOCKLB_LOG_H

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };

void log_set_level(enum log_level level);
/* "debug", "info", "warn" or "error"; returns -EINVAL for anything else. */
int log_parse_level(const char *name, enum log_level *out);
void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * s as a quoted logfmt value ("a \"b\"\n" for a "b"<newline>), cut at
 * LOG_Q_MAX bytes.  The result lives in one of LOG_Q_SLOTS rotating buffers:
 * use it in the log call at hand, at most LOG_Q_SLOTS times per call.
 */
#define LOG_Q_SLOTS 8
#define LOG_Q_MAX 512
const char *log_q(const char *s);

#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)

/* Routes libbpf's own messages into the log (debug ones only when verbose). */
void log_capture_libbpf(void);

#endif
