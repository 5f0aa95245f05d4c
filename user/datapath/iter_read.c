// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "datapath/iter_read.h"

#include <bpf/bpf.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Records never straddle a read: the kernel hands out whole seq_file writes. */
#define ITER_READ_BUF 65536

int iter_read_records(int link_fd, size_t record_size, iter_record_cb cb, void *arg)
{
	int fd = bpf_iter_create(link_fd), ret = 0;
	size_t have = 0;
	ssize_t n = 0;
	char *buf;

	if (fd < 0)
		return -errno;
	buf = malloc(ITER_READ_BUF);
	if (!buf) {
		close(fd);
		return -ENOMEM;
	}
	while (!ret && (n = read(fd, buf + have, ITER_READ_BUF - have)) > 0) {
		size_t off = 0;

		have += (size_t)n;
		for (; !ret && have - off >= record_size; off += record_size)
			ret = cb(arg, buf + off);
		memmove(buf, buf + off, have - off);
		have -= off;
	}
	if (!ret && n < 0)
		ret = -errno;
	free(buf);
	close(fd);
	return ret;
}

int iter_read_pinned(const char *path, size_t record_size, iter_record_cb cb, void *arg)
{
	int link_fd = bpf_obj_get(path), ret;

	if (link_fd < 0)
		return -errno;
	ret = iter_read_records(link_fd, record_size, cb, arg);
	close(link_fd);
	return ret;
}
