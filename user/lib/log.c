// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "lib/log.h"
#include "lib/util.h"

#include <bpf/libbpf.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static enum log_level min_level = LOG_INFO;
static const char *const level_names[] = {"debug", "info", "warn", "error"};

void log_set_level(enum log_level level)
{
	min_level = level;
}

int log_parse_level(const char *name, enum log_level *out)
{
	for (size_t i = 0; i < ARRAY_SIZE(level_names); i++) {
		if (!strcmp(name, level_names[i])) {
			*out = (enum log_level)i;
			return 0;
		}
	}
	return -EINVAL;
}

const char *log_q(const char *s)
{
	/* Room for every byte escaped as \xNN, the quotes and the NUL. */
	static char slots[LOG_Q_SLOTS][4 * LOG_Q_MAX + 3];
	static unsigned next;
	char *out = slots[next++ % LOG_Q_SLOTS], *p = out;

	*p++ = '"';
	for (size_t i = 0; s && s[i] && i < LOG_Q_MAX; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '"' || c == '\\') {
			*p++ = '\\';
			*p++ = (char)c;
		} else if (c == '\n') {
			*p++ = '\\';
			*p++ = 'n';
		} else if (c < 0x20 || c == 0x7f) {
			p += sprintf(p, "\\x%02x", c);
		} else {
			*p++ = (char)c;
		}
	}
	*p++ = '"';
	*p = '\0';
	return out;
}

static void log_vmsg(enum log_level level, const char *fmt, va_list ap)
{
	struct timespec now;
	struct tm tm;
	char ts[32];

	if (level < min_level)
		return;
	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	fprintf(stderr, "ts=%s.%03ldZ level=%s ", ts, now.tv_nsec / 1000000, level_names[level]);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(level, fmt, ap);
	va_end(ap);
}

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	enum log_level ours = level == LIBBPF_WARN ? LOG_WARN : LOG_DEBUG;
	char line[1024];
	size_t len;

	if (ours < min_level)
		return 0;
	vsnprintf(line, sizeof(line), fmt, ap);
	len = strlen(line);
	if (len && line[len - 1] == '\n')
		line[len - 1] = '\0';
	log_msg(ours, "msg=libbpf detail=%s", log_q(line));
	return 0;
}

void log_capture_libbpf(void)
{
	libbpf_set_print(libbpf_print);
}
