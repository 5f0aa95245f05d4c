// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* /metrics and /healthz over libmicrohttpd, driven by the agent's event loop. */
#include "metrics/metrics.h"
#include "lib/log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

/* MHD's own timeouts (idle clients) are checked this often. */
#define METRICS_TICK_MS 1000

struct metrics_server {
	struct MHD_Daemon *daemon;
	struct event_loop *loop;
	struct metrics_ctx ctx;
	struct loop_watch *watch; /* MHD's epoll fd */
	struct loop_timer timer;
};

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned int status,
			     const char *content_type, char *body, size_t len)
{
	struct MHD_Response *resp =
	    MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
	enum MHD_Result ret;

	if (!resp) {
		free(body);
		return MHD_NO;
	}
	MHD_add_response_header(resp, "Content-Type", content_type);
	ret = MHD_queue_response(conn, status, resp);
	MHD_destroy_response(resp);
	return ret;
}

static enum MHD_Result reply_text(struct MHD_Connection *conn, unsigned int status,
				  const char *text)
{
	char *body = strdup(text);

	return body ? reply(conn, status, "text/plain; charset=utf-8", body, strlen(body)) : MHD_NO;
}

static enum MHD_Result serve_metrics(struct metrics_server *m, struct MHD_Connection *conn)
{
	char *body = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&body, &len);

	if (!out)
		return reply_text(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n");
	metrics_render(out, &m->ctx);
	fclose(out);
	return reply(conn, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", body, len);
}

enum metrics_route metrics_route(const char *method, const char *url)
{
	/* MHD hands over any method token and any path the client sent. */
	if (!method || !url)
		return METRICS_ROUTE_NOT_FOUND;
	if (strcmp(method, "GET") && strcmp(method, "HEAD"))
		return METRICS_ROUTE_NOT_ALLOWED;
	if (!strcmp(url, "/metrics"))
		return METRICS_ROUTE_METRICS;
	if (!strcmp(url, "/healthz"))
		return METRICS_ROUTE_HEALTHZ;
	return METRICS_ROUTE_NOT_FOUND;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version, const char *upload,
				  size_t *upload_size, void **con_cls)
{
	struct metrics_server *m = cls;

	(void)version;
	(void)upload;
	(void)upload_size;
	(void)con_cls;
	switch (metrics_route(method, url)) {
	case METRICS_ROUTE_METRICS:
		return serve_metrics(m, conn);
	case METRICS_ROUTE_HEALTHZ:
		/* Answered by the event loop itself: if the loop hangs, the probe fails. */
		return reply_text(conn, MHD_HTTP_OK, "ok\n");
	case METRICS_ROUTE_NOT_ALLOWED:
		return reply_text(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "GET only\n");
	default:
		return reply_text(conn, MHD_HTTP_NOT_FOUND, "try /metrics or /healthz\n");
	}
}

static void run(struct metrics_server *m)
{
	if (MHD_run(m->daemon) != MHD_YES)
		log_warn("msg=\"metrics server: MHD_run failed\"");
}

static void on_ready(void *arg, int fd, uint32_t events)
{
	(void)fd;
	(void)events;
	run(arg);
}

static void on_tick(void *arg)
{
	struct metrics_server *m = arg;

	run(m);
	if (loop_timer_arm(m->loop, &m->timer, METRICS_TICK_MS, on_tick, m))
		log_warn("msg=\"metrics server: cannot re-arm its tick\"");
}

/* ":9090", "0.0.0.0:9090" or "[::1]:9090" into a socket address. */
static int parse_addr(const char *addr, struct sockaddr_storage *sa, char *err, size_t errlen)
{
	struct endpoint ep;
	char full[ENDPOINT_STR_LEN + 8];

	snprintf(full, sizeof(full), "%s%s", addr[0] == ':' ? "[::]" : "", addr);
	if (endpoint_parse(full, &ep, err, errlen))
		return -EINVAL;
	memset(sa, 0, sizeof(*sa));
	if (ep.family == AF_INET) {
		struct sockaddr_in *in = (struct sockaddr_in *)sa;

		in->sin_family = AF_INET;
		in->sin_port = ep.port;
		in->sin_addr.s_addr = ep.addr.ip4;
	} else {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)sa;

		in6->sin6_family = AF_INET6;
		in6->sin6_port = ep.port;
		memcpy(&in6->sin6_addr, ep.addr.bytes, 16);
	}
	return 0;
}

struct metrics_server *metrics_start(struct event_loop *loop, const char *addr,
				     const struct metrics_ctx *ctx, char *err, size_t errlen)
{
	struct metrics_server *m = calloc(1, sizeof(*m));
	struct sockaddr_storage sa;
	const union MHD_DaemonInfo *info;
	char detail[256];
	unsigned int flags = MHD_USE_EPOLL | MHD_USE_ERROR_LOG;

	if (!m || parse_addr(addr, &sa, detail, sizeof(detail))) {
		snprintf(err, errlen, "--metrics-addr '%s': %s", addr,
			 m ? detail : "out of memory");
		free(m);
		return NULL;
	}
	m->loop = loop;
	m->ctx = *ctx;
	if (sa.ss_family == AF_INET6)
		flags |= MHD_USE_DUAL_STACK;
	m->daemon = MHD_start_daemon(flags, 0, NULL, NULL, on_request, m, MHD_OPTION_SOCK_ADDR,
				     (struct sockaddr *)&sa, MHD_OPTION_CONNECTION_TIMEOUT, 10U,
				     MHD_OPTION_END);
	info = m->daemon ? MHD_get_daemon_info(m->daemon, MHD_DAEMON_INFO_EPOLL_FD) : NULL;
	if (info)
		m->watch = loop_watch(loop, info->epoll_fd, EPOLLIN, on_ready, m);
	if (!m->watch || loop_timer_arm(loop, &m->timer, METRICS_TICK_MS, on_tick, m)) {
		snprintf(err, errlen, "cannot serve metrics on %s: %s", addr, strerror(errno));
		metrics_stop(m);
		return NULL;
	}
	return m;
}

void metrics_stop(struct metrics_server *m)
{
	if (!m)
		return;
	loop_timer_cancel(m->loop, &m->timer);
	loop_unwatch(m->loop, m->watch);
	if (m->daemon)
		MHD_stop_daemon(m->daemon);
	free(m);
}
