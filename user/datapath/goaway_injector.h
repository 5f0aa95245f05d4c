/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The agent's GOAWAY injector: one TCP socket on loopback, in inject_socks,
 * whose writes the sk_msg program socklb_h2_inject redirects into the
 * receive queue of the connection named in inject_target.  Used for a
 * pending GOAWAY that no server data would carry soon (an idle connection
 * at a frame boundary, as the ender found it): the client reads it at
 * once, instead of with the answer to its next call.
 */
#ifndef SOCKLB_GOAWAY_INJECTOR_H
#define SOCKLB_GOAWAY_INJECTOR_H

#include <linux/types.h>
#include <stddef.h>

#include "datapath/maps.h"

struct goaway_injector {
	int fd;	  /* the injector socket; -1: none (GOAWAYs wait for server data) */
	int peer; /* its accepted end, never read: the writes are redirected */
	const struct lb_maps *maps;
	unsigned long long sent;      /* redirected into a client's queue */
	unsigned long long withdrawn; /* refused: an skb had carried it, or the socket went */
};

/*
 * Opens the socket and puts it in inject_socks.  0, or -errno with err set
 * (the agent then runs without injection: GOAWAYs wait for server data).
 */
int goaway_injector_open(struct goaway_injector *in, const struct lb_maps *maps, char *err,
			 size_t errlen);
void goaway_injector_close(struct goaway_injector *in);

/* Injects the GOAWAY the ender asked for into connection `cookie`; 0 or -errno. */
int goaway_injector_send(struct goaway_injector *in, __u64 cookie);

#endif
