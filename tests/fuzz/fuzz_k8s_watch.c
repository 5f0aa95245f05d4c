// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * A watch stream: the bytes arrive in pieces (sizes from the first 8 bytes
 * of the input, cycled, as a network would cut them), k8s_line_buf cuts
 * them into lines and k8s_watch_line takes each, as k8s_api.c and
 * k8s_watcher.c do; objects go into the informers' caches (fuzz_k8s.h),
 * error texts through log_q as they would be logged.  Whatever pieces it
 * came in, the stream must give the same lines, events and caches: the
 * harness checks that against a one-piece run.
 */
#include "fuzz_k8s.h"
#include "lib/log.h"

#define PIECE_SIZES 8

struct watch_run {
	struct k8s_watch_state st;
	struct fuzz_k8s caches;
	size_t lines, services, slices;
};

static void take_lines(struct watch_run *run, struct k8s_line_buf *b)
{
	char err[512], *line;
	size_t len;

	while ((line = k8s_line_buf_next(b, &len))) {
		enum k8s_line_result r;

		FUZZ_ASSERT(strlen(line) <=
			    len); /* NUL-terminated at len (or before: a NUL byte) */
		err[0] = '\0';
		r = k8s_watch_line(&run->st, line, len, fuzz_k8s_object, &run->caches, err,
				   sizeof(err));
		if (r == K8S_LINE_BAD || r == K8S_LINE_ERROR || r == K8S_LINE_GONE)
			(void)log_q(err);
		run->lines++;
	}
}

/* Feeds the stream cut into pieces of sizes[i % PIECE_SIZES] + 1 bytes. */
static void run_stream(struct watch_run *run, const uint8_t *data, size_t size,
		       const uint8_t *sizes)
{
	struct k8s_line_buf b = {0};

	fuzz_k8s_init(&run->caches);
	for (size_t at = 0, i = 0; at < size; i++) {
		size_t n = sizes ? (size_t)sizes[i % PIECE_SIZES] + 1 : size;

		if (n > size - at)
			n = size - at;
		FUZZ_ASSERT(k8s_line_buf_append(&b, (const char *)data + at, n) == 0);
		at += n;
		take_lines(run, &b);
	}
	FUZZ_ASSERT(k8s_line_buf_pending(&b) <= size);
	k8s_line_buf_free(&b);
	fuzz_k8s_read(&run->caches);
	run->services = k8s_cache_count(&run->caches.services);
	run->slices = k8s_cache_count(&run->caches.slices);
	fuzz_k8s_free(&run->caches);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct watch_run pieces = {0}, whole = {0};
	uint8_t sizes[PIECE_SIZES] = {0};

	if (size >= PIECE_SIZES) {
		memcpy(sizes, data, PIECE_SIZES);
		data += PIECE_SIZES;
		size -= PIECE_SIZES;
	}
	run_stream(&pieces, data, size, sizes);
	run_stream(&whole, data, size, NULL);
	FUZZ_ASSERT(pieces.lines == whole.lines);
	FUZZ_ASSERT(pieces.st.events == whole.st.events);
	FUZZ_ASSERT(!strcmp(pieces.st.rv, whole.st.rv));
	FUZZ_ASSERT(pieces.services == whole.services && pieces.slices == whole.slices);
	return 0;
}
