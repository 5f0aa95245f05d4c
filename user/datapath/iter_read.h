/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Reading a BPF iterator that writes fixed-size records (bpf_seq_write):
 * socklb's connections iterator (pinned as <pin path>/connections, read by
 * `socklb status`) and the rebalancer's finder.
 */
#ifndef SOCKLB_ITER_READ_H
#define SOCKLB_ITER_READ_H

#include <stddef.h>

/* Called for each record; a non-zero return stops the walk and is returned. */
typedef int (*iter_record_cb)(void *arg, const void *record);

/*
 * Runs the iterator of link_fd to its end, handing out every record of
 * record_size bytes.  0, the callback's non-zero return, or -errno.
 */
int iter_read_records(int link_fd, size_t record_size, iter_record_cb cb, void *arg);

/* The same through an iterator link pinned at path. */
int iter_read_pinned(const char *path, size_t record_size, iter_record_cb cb, void *arg);

#endif
