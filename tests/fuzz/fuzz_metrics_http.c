// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The metrics server's request handling: the input is a raw HTTP request,
 * parsed by libmicrohttpd as the agent's server parses it (its own daemon,
 * no listening socket, one connection over a socketpair), and the method
 * and path MHD hands over go through metrics_route, which decides what the
 * agent serves.  /metrics' body needs the BPF maps and is left to e2e.
 */
#include "fuzz.h"
#include "metrics/metrics.h"

#include <microhttpd.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

/* A request bigger than this is refused by MHD anyway (its read buffer). */
#define MAX_REQUEST (64u << 10)
#define MAX_RUNS 64

static struct MHD_Daemon *daemon_;

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version, const char *upload,
				  size_t *upload_size, void **con_cls)
{
	static const char body[] = "ok\n";
	enum metrics_route route = metrics_route(method, url);
	struct MHD_Response *resp;
	enum MHD_Result ret;

	(void)cls;
	(void)version;
	(void)upload;
	(void)con_cls;
	if (route == METRICS_ROUTE_METRICS || route == METRICS_ROUTE_HEALTHZ)
		FUZZ_ASSERT(!strcmp(method, "GET") || !strcmp(method, "HEAD"));
	*upload_size = 0; /* a body (any method) is read and dropped */
	resp =
	    MHD_create_response_from_buffer(sizeof(body) - 1, (void *)body, MHD_RESPMEM_PERSISTENT);
	if (!resp)
		return MHD_NO;
	ret = MHD_queue_response(conn, route == METRICS_ROUTE_NOT_FOUND ? 404 : 200, resp);
	MHD_destroy_response(resp);
	return ret;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	daemon_ = MHD_start_daemon(MHD_USE_NO_LISTEN_SOCKET, 0, NULL, NULL, on_request, NULL,
				   MHD_OPTION_CONNECTION_TIMEOUT, 1U, MHD_OPTION_END);
	if (!daemon_)
		abort();
	return 0;
}

/* The path alone, as the first byte 0 asks: metrics_route on raw strings. */
static void route_raw(const uint8_t *data, size_t size)
{
	char *text = fuzz_str(data, size), *space = strchr(text, ' ');

	if (space)
		*space = '\0';
	(void)metrics_route(text, space ? space + 1 : "");
	free(text);
}

static void request(const uint8_t *data, size_t size)
{
	struct sockaddr_in peer = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000001)};
	char answer[4096];
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv))
		abort();
	if (MHD_add_connection(daemon_, sv[0], (struct sockaddr *)&peer, sizeof(peer)) != MHD_YES)
		abort();
	if (size && write(sv[1], data, size < MAX_REQUEST ? size : MAX_REQUEST) < 0)
		abort();
	shutdown(sv[1], SHUT_WR);
	/* Until MHD closes its end (answer sent, or request refused) or gives up. */
	for (int i = 0; i < MAX_RUNS; i++) {
		ssize_t n;

		MHD_run(daemon_);
		while ((n = read(sv[1], answer, sizeof(answer))) > 0)
			;
		if (n == 0)
			break;
	}
	close(sv[1]);
	/* Drops a connection MHD still holds (a half-sent request): it sees our end closed. */
	MHD_run(daemon_);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (fuzz_take_byte(&data, &size) == 0)
		route_raw(data, size);
	else
		request(data, size);
	return 0;
}
