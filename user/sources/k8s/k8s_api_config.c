// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Where the Kubernetes API is and how to authenticate: flags, or the in-cluster config. */
#include "sources/k8s/k8s_api.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int k8s_read_small_file(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t used = 0;
	ssize_t n;

	if (fd < 0)
		return -errno;
	while (used + 1 < size && (n = read(fd, buf + used, size - 1 - used)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int err = errno;

			close(fd);
			errno = err; /* for the caller's message */
			return -err;
		}
		used += (size_t)n;
	}
	close(fd);
	buf[used] = '\0';
	/* Trailing blanks and newlines are not part of a token or a name. */
	while (used && (buf[used - 1] == '\n' || buf[used - 1] == '\r' || buf[used - 1] == ' ' ||
			buf[used - 1] == '\t'))
		buf[--used] = '\0';
	return 0;
}

static int check_readable(const char *what, const char *path, char *err, size_t errlen)
{
	if (path[0] && access(path, R_OK)) {
		int ret = -errno;

		snprintf(err, errlen, "cannot read %s %s: %s", what, path, strerror(errno));
		return ret;
	}
	return 0;
}

static int in_cluster(const struct k8s_options *o, struct k8s_api_config *out, char *err,
		      size_t errlen)
{
	const char *host = getenv("KUBERNETES_SERVICE_HOST");
	const char *port = getenv("KUBERNETES_SERVICE_PORT");

	if (!host || !host[0]) {
		snprintf(err, errlen,
			 "k8s: sources need the Kubernetes API: not in a pod "
			 "(KUBERNETES_SERVICE_HOST is not set) and no --api-server given");
		return -EINVAL;
	}
	if (!port || !port[0])
		port = "443";
	snprintf(out->server, sizeof(out->server),
		 strchr(host, ':') ? "https://[%s]:%s" : "https://%s:%s", host, port);
	snprintf(out->token_file, sizeof(out->token_file), "%s",
		 o->token_file ? o->token_file : K8S_SA_DIR "/token");
	snprintf(out->ca_file, sizeof(out->ca_file), "%s",
		 o->ca_file ? o->ca_file : K8S_SA_DIR "/ca.crt");
	if (k8s_read_small_file(K8S_SA_DIR "/namespace", out->ns, sizeof(out->ns)))
		out->ns[0] = '\0';
	out->in_cluster = true;
	return 0;
}

int k8s_api_config_resolve(const struct k8s_options *opts, struct k8s_api_config *out, char *err,
			   size_t errlen)
{
	memset(out, 0, sizeof(*out));
	out->watch_timeout_ms =
	    opts->watch_timeout_ms ? opts->watch_timeout_ms : K8S_DEFAULT_WATCH_TIMEOUT_MS;
	if (opts->api_server) {
		size_t len = strlen(opts->api_server);

		if (strncmp(opts->api_server, "https://", 8) &&
		    strncmp(opts->api_server, "http://", 7)) {
			snprintf(err, errlen, "--api-server '%.200s': expected https://HOST[:PORT]",
				 opts->api_server);
			return -EINVAL;
		}
		while (len && opts->api_server[len - 1] == '/')
			len--;
		if (len >= sizeof(out->server)) {
			snprintf(err, errlen, "--api-server '%.64s...': too long",
				 opts->api_server);
			return -EINVAL;
		}
		snprintf(out->server, sizeof(out->server), "%.*s", (int)len, opts->api_server);
		snprintf(out->token_file, sizeof(out->token_file), "%s",
			 opts->token_file ? opts->token_file : "");
		snprintf(out->ca_file, sizeof(out->ca_file), "%s",
			 opts->ca_file ? opts->ca_file : "");
	} else if (in_cluster(opts, out, err, errlen)) {
		return -EINVAL;
	}
	if (check_readable("token file", out->token_file, err, errlen) ||
	    check_readable("CA file", out->ca_file, err, errlen))
		return -EINVAL;
	return 0;
}
