/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* An IP address and port as socklb's maps hold them, parsed and printed. */
#ifndef SOCKLB_ENDPOINT_H
#define SOCKLB_ENDPOINT_H

#include <stdbool.h>
#include <stddef.h>
#include "socklb.h"

/* Long enough for "[ffff:...:ffff]:65535". */
#define ENDPOINT_STR_LEN 56

struct endpoint {
	union socklb_addr addr; /* network byte order */
	__u16 port;		/* network byte order */
	__u8 family;		/* AF_INET or AF_INET6 */
};

/*
 * Parses "A.B.C.D:PORT" or "[IPV6]:PORT" (the whole string).  On error
 * returns -1 and writes a message naming the input into err.
 */
int endpoint_parse(const char *text, struct endpoint *out, char *err, size_t errlen);
/* Parses the first len bytes of text the same way. */
int endpoint_parse_n(const char *text, size_t len, struct endpoint *out, char *err, size_t errlen);

/* Writes "A.B.C.D:PORT" or "[IPV6]:PORT"; returns buf. */
const char *endpoint_str(const struct endpoint *ep, char *buf, size_t buflen);

bool endpoint_equal(const struct endpoint *a, const struct endpoint *b);
/* A total order (family, address, port), for sorting and diffing sets. */
int endpoint_cmp(const struct endpoint *a, const struct endpoint *b);

/* Builds endpoints from map contents. */
struct endpoint endpoint_from_service_key(const struct socklb_service_key *key);
struct endpoint endpoint_from_backend(const struct socklb_backend *be);
struct socklb_service_key endpoint_service_key(const struct endpoint *vip);

#endif
