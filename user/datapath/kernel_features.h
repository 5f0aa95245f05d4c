/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * What this kernel lets socklb load, probed once with a program of two
 * instructions, so that a feature the kernel refuses is replaced by the
 * slower way that works instead of stopping the agent.
 */
#ifndef SOCKLB_KERNEL_FEATURES_H
#define SOCKLB_KERNEL_FEATURES_H

#include <stdbool.h>

/*
 * Whether iterators over map elements (iter/bpf_sk_storage_map) load.  Some
 * kernels refuse them with EPERM while iter/tcp loads; socklb then lists
 * connections namespace by namespace (user/datapath/conn_walk.h).  The
 * environment variable SOCKLB_TEST_NO_MAP_ELEM_ITERS makes it false, so
 * that the tests run that way on any kernel.
 */
bool kernel_has_map_elem_iters(void);

#endif
