// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "model/endpoint.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

static int parse_port(const char *text, __u16 *port)
{
	char *end;
	unsigned long value;

	if (*text < '0' || *text > '9')
		return -EINVAL;
	errno = 0;
	value = strtoul(text, &end, 10);
	if (errno || *end || value == 0 || value > 65535)
		return -EINVAL;
	*port = htons((__u16)value);
	return 0;
}

/* Splits "HOST:PORT" / "[HOST]:PORT" into host and port strings. */
static int split_host_port(char *s, char **host, char **port, bool *bracketed)
{
	char *colon;

	*bracketed = s[0] == '[';
	if (*bracketed) {
		char *close = strchr(s, ']');

		if (!close || close[1] != ':')
			return -EINVAL;
		*close = '\0';
		*host = s + 1;
		*port = close + 2;
		return 0;
	}
	colon = strrchr(s, ':');
	if (!colon || strchr(s, ':') != colon)
		return -EINVAL; /* no port, or an IPv6 address without brackets */
	*colon = '\0';
	*host = s;
	*port = colon + 1;
	return 0;
}

int endpoint_parse_n(const char *text, size_t len, struct endpoint *out, char *err, size_t errlen)
{
	char buf[ENDPOINT_STR_LEN + 8];
	char *host, *port;
	bool bracketed;

	memset(out, 0, sizeof(*out));
	if (len == 0 || len >= sizeof(buf)) {
		snprintf(err, errlen, "'%.*s' is not an address: expected IP:PORT or [IPV6]:PORT",
			 (int)(len > 64 ? 64 : len), text);
		return -EINVAL;
	}
	memcpy(buf, text, len);
	buf[len] = '\0';
	if (split_host_port(buf, &host, &port, &bracketed)) {
		snprintf(err, errlen, "'%.*s' is not an address: expected IP:PORT or [IPV6]:PORT",
			 (int)len, text);
		return -EINVAL;
	}
	if (!bracketed && inet_pton(AF_INET, host, &out->addr.ip4) == 1) {
		out->family = AF_INET;
	} else if (bracketed && inet_pton(AF_INET6, host, out->addr.bytes) == 1) {
		out->family = AF_INET6;
	} else {
		snprintf(err, errlen,
			 "'%.*s': '%s' is not an IPv4 address or a bracketed IPv6 address",
			 (int)len, text, host);
		return -EINVAL;
	}
	if (parse_port(port, &out->port)) {
		snprintf(err, errlen, "'%.*s': port '%s' is not a number from 1 to 65535", (int)len,
			 text, port);
		return -EINVAL;
	}
	return 0;
}

int endpoint_parse(const char *text, struct endpoint *out, char *err, size_t errlen)
{
	return endpoint_parse_n(text, strlen(text), out, err, errlen);
}

const char *endpoint_str(const struct endpoint *ep, char *buf, size_t buflen)
{
	char host[INET6_ADDRSTRLEN] = "?";

	inet_ntop(ep->family == AF_INET6 ? AF_INET6 : AF_INET, ep->addr.bytes, host, sizeof(host));
	if (ep->family == AF_INET6)
		snprintf(buf, buflen, "[%s]:%u", host, ntohs(ep->port));
	else
		snprintf(buf, buflen, "%s:%u", host, ntohs(ep->port));
	return buf;
}

int endpoint_cmp(const struct endpoint *a, const struct endpoint *b)
{
	int c;

	if (a->family != b->family)
		return a->family < b->family ? -1 : 1;
	c = memcmp(a->addr.bytes, b->addr.bytes, sizeof(a->addr.bytes));
	if (c)
		return c;
	if (a->port != b->port)
		return ntohs(a->port) < ntohs(b->port) ? -1 : 1;
	return 0;
}

bool endpoint_equal(const struct endpoint *a, const struct endpoint *b)
{
	return endpoint_cmp(a, b) == 0;
}

struct endpoint endpoint_from_service_key(const struct socklb_service_key *key)
{
	struct endpoint ep = {.addr = key->vip, .port = key->port, .family = key->family};

	return ep;
}

struct endpoint endpoint_from_backend(const struct socklb_backend *be)
{
	struct endpoint ep = {.addr = be->addr, .port = be->port, .family = be->family};

	return ep;
}

struct socklb_service_key endpoint_service_key(const struct endpoint *vip)
{
	struct socklb_service_key key;

	memset(&key, 0, sizeof(key));
	key.vip = vip->addr;
	key.port = vip->port;
	key.proto = IPPROTO_TCP;
	key.family = vip->family;
	return key;
}
