// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "datapath/goaway_injector.h"
#include "socklb.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static const __u8 goaway_frame[SOCKLB_GOAWAY_FRAME_LEN] = SOCKLB_GOAWAY_FRAME;

/* A connected TCP pair on 127.0.0.1: sockmap takes TCP sockets, and sk_msg runs on TCP sends. */
static int loopback_pair(int *fd, int *peer)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(a);
	int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), ret = 0;

	*fd = *peer = -1;
	if (lfd < 0)
		return -errno;
	if (bind(lfd, (struct sockaddr *)&a, sizeof(a)) || listen(lfd, 1) ||
	    getsockname(lfd, (struct sockaddr *)&a, &len))
		ret = -errno;
	if (!ret && (*fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		ret = -errno;
	if (!ret && connect(*fd, (struct sockaddr *)&a, sizeof(a)))
		ret = -errno;
	if (!ret && (*peer = accept4(lfd, NULL, NULL, SOCK_CLOEXEC)) < 0)
		ret = -errno;
	close(lfd);
	return ret;
}

int goaway_injector_open(struct goaway_injector *in, const struct lb_maps *maps, char *err,
			 size_t errlen)
{
	int ret;

	memset(in, 0, sizeof(*in));
	in->maps = maps;
	ret = loopback_pair(&in->fd, &in->peer);
	if (ret) {
		snprintf(err, errlen, "cannot connect the injector socket on 127.0.0.1: %s",
			 strerror(-ret));
		goaway_injector_close(in);
		return ret;
	}
	ret = lb_maps_set_injector(maps, in->fd);
	if (ret) {
		snprintf(err, errlen, "cannot put the injector socket in inject_socks: %s",
			 strerror(-ret));
		goaway_injector_close(in);
	}
	return ret;
}

void goaway_injector_close(struct goaway_injector *in)
{
	/* Closing takes the socket out of inject_socks. */
	if (in->fd >= 0)
		close(in->fd);
	if (in->peer >= 0)
		close(in->peer);
	in->fd = in->peer = -1;
}

int goaway_injector_send(struct goaway_injector *in, __u64 cookie)
{
	ssize_t n;
	int ret;

	if (in->fd < 0)
		return -ENOTCONN;
	ret = lb_maps_set_inject_target(in->maps, cookie);
	if (ret)
		return ret;
	n = send(in->fd, goaway_frame, sizeof(goaway_frame), MSG_DONTWAIT | MSG_NOSIGNAL);
	if (n == (ssize_t)sizeof(goaway_frame)) {
		in->sent++;
		return 0;
	}
	/* The program dropped it (EACCES): an skb carried the GOAWAY first, or the socket left. */
	ret = n < 0 ? -errno : -EIO;
	if (ret == -EACCES)
		in->withdrawn++;
	return ret;
}
