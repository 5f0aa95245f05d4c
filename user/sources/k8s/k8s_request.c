// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * One API request as libcurl sees it: the URL, the bearer token (read again
 * for every request), TLS checks, timeouts, and the callbacks that buffer
 * what arrives.
 */
#include "sources/k8s/k8s_api_impl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

static int append_body(struct k8s_request *r, const char *data, size_t n, size_t max)
{
	if (r->body_len + n > max)
		return -E2BIG;
	if (r->body_len + n + 1 > r->body_cap) {
		size_t cap = r->body_cap ? r->body_cap : 8192;
		char *grown;

		while (cap < r->body_len + n + 1)
			cap *= 2;
		grown = realloc(r->body, cap);
		if (!grown)
			return -ENOMEM;
		r->body = grown;
		r->body_cap = cap;
	}
	memcpy(r->body + r->body_len, data, n);
	r->body_len += n;
	r->body[r->body_len] = '\0';
	return 0;
}

static size_t on_write(char *data, size_t size, size_t nmemb, void *userp)
{
	struct k8s_request *r = userp;
	size_t n = size * nmemb;
	int failed;

	if (!r->status)
		curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &r->status);
	if (r->stream && r->status == 200)
		failed = k8s_line_buf_append(&r->lines, data, n);
	else
		failed = append_body(r, data, n, r->stream ? K8S_MAX_ERROR_BODY : K8S_MAX_BODY);
	if (failed) {
		r->too_large = true;
		return 0; /* ends the transfer with CURLE_WRITE_ERROR */
	}
	k8s_api_queue(r);
	return n;
}

/* Counts the connections the agent opens (CURLOPT_OPENSOCKETFUNCTION). */
static curl_socket_t open_socket(void *arg, curlsocktype purpose, struct curl_sockaddr *addr)
{
	struct k8s_api *api = arg;
	curl_socket_t fd;

	(void)purpose;
	fd = socket(addr->family, addr->socktype | SOCK_CLOEXEC, addr->protocol);
	if (fd != CURL_SOCKET_BAD)
		api->stats.connections++;
	return fd;
}

/* The blank line after the headers: the answer's status is known. */
static size_t on_header(char *data, size_t size, size_t nmemb, void *userp)
{
	struct k8s_request *r = userp;
	size_t n = size * nmemb;
	long code = 0;

	if (n <= 2 && n > 0 && (data[0] == '\r' || data[0] == '\n')) {
		curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &code);
		if (code >= 200) {
			k8s_api_note_version(r->api, r->easy);
			r->status = code;
			r->open_pending = true;
			k8s_api_queue(r);
		}
	}
	return n;
}

static int add_auth(struct k8s_request *r, char *err, size_t errlen)
{
	const char *path = r->api->cfg.token_file;
	char *token, *header;
	struct curl_slist *l;

	if (!path[0])
		return 0;
	token = malloc(K8S_MAX_TOKEN);
	if (!token) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	if (k8s_read_small_file(path, token, K8S_MAX_TOKEN)) {
		snprintf(err, errlen, "cannot read token file %s: %s", path, strerror(errno));
		free(token);
		return -EINVAL;
	}
	if (!token[0]) {
		snprintf(err, errlen, "token file %s is empty", path);
		free(token);
		return -EINVAL;
	}
	if (asprintf(&header, "Authorization: Bearer %s", token) < 0)
		header = NULL;
	/* The token is a secret: do not leave copies around. */
	explicit_bzero(token, K8S_MAX_TOKEN);
	free(token);
	if (!header) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	l = curl_slist_append(r->headers, header);
	explicit_bzero(header, strlen(header));
	free(header);
	if (!l) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	r->headers = l;
	return 0;
}

int k8s_request_setup(struct k8s_request *r, const char *path, char *err, size_t errlen)
{
	const struct k8s_api_config *cfg = &r->api->cfg;
	CURL *e = r->easy;
	struct curl_slist *l;
	char url[4096];

	snprintf(url, sizeof(url), "%s%s", cfg->server, path);
	l = curl_slist_append(NULL, "Accept: application/json");
	if (!l) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	r->headers = l;
	if (add_auth(r, err, errlen))
		return -EINVAL;
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, r->headers);
	curl_easy_setopt(e, CURLOPT_USERAGENT, "socklb/" SOCKLB_VERSION);
	curl_easy_setopt(e, CURLOPT_PRIVATE, r);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, r);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, r->errbuf);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "https,http");
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
	if (cfg->ca_file[0])
		curl_easy_setopt(e, CURLOPT_CAINFO, cfg->ca_file);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)K8S_CONNECT_TIMEOUT_MS);
	curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(e, CURLOPT_TCP_KEEPIDLE, 30L);
	curl_easy_setopt(e, CURLOPT_TCP_KEEPINTVL, 10L);
	/* HTTP/2 when the server offers it (ALPN), and wait for its one connection. */
	curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
	curl_easy_setopt(e, CURLOPT_PIPEWAIT, 1L);
	curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, open_socket);
	curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, r->api);
	/* A watch runs until the server ends it; the watcher notices a stall itself. */
	if (!r->stream)
		curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)K8S_REQUEST_TIMEOUT_MS);
	return 0;
}

int k8s_request_set_body(struct k8s_request *r, const struct k8s_send *send, char *err,
			 size_t errlen)
{
	char header[128];
	struct curl_slist *l;

	snprintf(header, sizeof(header), "Content-Type: %s", send->content_type);
	l = curl_slist_append(r->headers, header);
	if (!l) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	r->headers = l;
	curl_easy_setopt(r->easy, CURLOPT_HTTPHEADER, r->headers);
	curl_easy_setopt(r->easy, CURLOPT_CUSTOMREQUEST, send->method);
	curl_easy_setopt(r->easy, CURLOPT_POSTFIELDSIZE, (long)strlen(send->body));
	if (curl_easy_setopt(r->easy, CURLOPT_COPYPOSTFIELDS, send->body) != CURLE_OK) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	return 0;
}

void k8s_url_escape(char *buf, size_t len, size_t *used, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";

	for (; *s && *used + 4 < len; s++) {
		unsigned char c = (unsigned char)*s;

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '.' || c == '_' || c == '~') {
			buf[(*used)++] = (char)c;
		} else {
			buf[(*used)++] = '%';
			buf[(*used)++] = hex[c >> 4];
			buf[(*used)++] = hex[c & 15];
		}
	}
	buf[*used] = '\0';
}
