/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* A service's own time-fair setting (a k8s: Service's annotation), if it has one. */
#ifndef SOCKLB_SERVICE_TIME_FAIR_H
#define SOCKLB_SERVICE_TIME_FAIR_H

#include <stdbool.h>
#include <linux/types.h>

struct service_time_fair {
	bool own;	 /* false: the agent's --time-fair */
	__u64 window_ms; /* 0: off for this service */
};

#endif
