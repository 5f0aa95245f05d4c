// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * dns:NAME:PORT — the text only.  The name is checked here, at parse time,
 * so a typo is refused with exit status 64 instead of failing quietly in the
 * resolver later; source_dns.c does the resolving.
 */
#include "sources/source.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DNS_NAME_MAX 253 /* RFC 1035 presentation form, without the final dot */
#define DNS_LABEL_MAX 63

static bool label_char(char c)
{
	return isalnum((unsigned char)c) || c == '-';
}

/* One label: 1..63 letters, digits or '-', not starting or ending with '-' (RFC 1123). */
static int check_label(const char *label, size_t len, char *err, size_t errlen)
{
	if (len == 0) {
		snprintf(err, errlen,
			 "name has an empty label (two dots in a row, or a leading dot)");
		return -EINVAL;
	}
	if (len > DNS_LABEL_MAX) {
		snprintf(err, errlen,
			 "label '%.*s...' is %zu characters long; at most %d are allowed", 16,
			 label, len, DNS_LABEL_MAX);
		return -EINVAL;
	}
	for (size_t i = 0; i < len; i++) {
		if (!label_char(label[i])) {
			snprintf(err, errlen,
				 "label '%.*s' has '%c': only letters, digits and '-' are allowed",
				 (int)len, label, label[i]);
			return -EINVAL;
		}
	}
	if (label[0] == '-' || label[len - 1] == '-') {
		snprintf(err, errlen, "label '%.*s' must not start or end with '-'", (int)len,
			 label);
		return -EINVAL;
	}
	return 0;
}

int dns_name_check(const char *name, size_t len, char *err, size_t errlen)
{
	/* A final dot makes the name absolute (no search domains), as in resolv.conf. */
	size_t body = len > 1 && name[len - 1] == '.' ? len - 1 : len;
	const char *label = name;

	if (len == 0) {
		snprintf(err, errlen, "no name: expected dns:NAME:PORT");
		return -EINVAL;
	}
	if (body > DNS_NAME_MAX) {
		snprintf(err, errlen, "name is %zu characters long; at most %d are allowed", body,
			 DNS_NAME_MAX);
		return -EINVAL;
	}
	while (label <= name + body) {
		const char *dot = memchr(label, '.', (size_t)(name + body - label));
		size_t n = dot ? (size_t)(dot - label) : (size_t)(name + body - label);

		if (check_label(label, n, err, errlen))
			return -EINVAL;
		label += n + 1;
	}
	return 0;
}

static int parse_port(const char *text, __u16 *port, char *err, size_t errlen)
{
	unsigned long value;
	char *end;

	errno = 0;
	value = strtoul(text, &end, 10);
	if (!isdigit((unsigned char)text[0]) || errno || *end || value == 0 || value > 65535) {
		snprintf(err, errlen, "port '%.16s': expected a number from 1 to 65535", text);
		return -EINVAL;
	}
	*port = htons((__u16)value);
	return 0;
}

int source_dns_parse(const char *args, struct service_spec *spec, char *err, size_t errlen)
{
	const char *colon = strrchr(args, ':');

	if (!colon) {
		snprintf(err, errlen,
			 "expected dns:NAME:PORT, e.g. "
			 "dns:my-svc.default.svc.cluster.local:8080");
		return -EINVAL;
	}
	if (dns_name_check(args, (size_t)(colon - args), err, errlen) ||
	    parse_port(colon + 1, &spec->dns_port, err, errlen))
		return -EINVAL;
	spec->dns_name = strndup(args, (size_t)(colon - args));
	if (!spec->dns_name) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	return 0;
}
