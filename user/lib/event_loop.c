// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "lib/event_loop.h"
#include "lib/array.h"
#include "lib/clock.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#define LOOP_MAX_EVENTS 16

struct loop_watch {
	int fd;
	loop_fd_cb cb;
	void *arg;
	bool removed; /* unwatched while its events were being handed out */
	struct loop_watch *next;
};

struct event_loop {
	int epoll_fd;
	bool stopping;
	bool dispatching; /* removed watches are freed after the batch */
	struct loop_watch *watches;
	struct loop_timer **heap; /* min-heap on due_ms */
	size_t n_timers, cap_timers;
};

struct event_loop *loop_new(void)
{
	struct event_loop *loop = calloc(1, sizeof(*loop));

	if (!loop)
		return NULL;
	loop->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	if (loop->epoll_fd < 0) {
		free(loop);
		return NULL;
	}
	return loop;
}

void loop_free(struct event_loop *loop)
{
	if (!loop)
		return;
	while (loop->watches) {
		struct loop_watch *w = loop->watches;

		loop->watches = w->next;
		free(w);
	}
	for (size_t i = 0; i < loop->n_timers; i++)
		loop->heap[i]->heap_slot = 0;
	free(loop->heap);
	close(loop->epoll_fd);
	free(loop);
}

/* ---------------------------------------------------------------- watches */

struct loop_watch *loop_watch(struct event_loop *loop, int fd, uint32_t events, loop_fd_cb cb,
			      void *arg)
{
	struct loop_watch *w = calloc(1, sizeof(*w));
	struct epoll_event ev = {.events = events, .data.ptr = w};

	if (!w)
		return NULL;
	w->fd = fd;
	w->cb = cb;
	w->arg = arg;
	if (epoll_ctl(loop->epoll_fd, EPOLL_CTL_ADD, fd, &ev)) {
		int err = errno;

		free(w);
		errno = err;
		return NULL;
	}
	w->next = loop->watches;
	loop->watches = w;
	return w;
}

int loop_watch_events(struct event_loop *loop, struct loop_watch *w, uint32_t events)
{
	struct epoll_event ev = {.events = events, .data.ptr = w};

	return epoll_ctl(loop->epoll_fd, EPOLL_CTL_MOD, w->fd, &ev) ? -errno : 0;
}

static void free_removed(struct event_loop *loop)
{
	for (struct loop_watch **p = &loop->watches; *p;) {
		struct loop_watch *w = *p;

		if (w->removed) {
			*p = w->next;
			free(w);
		} else {
			p = &w->next;
		}
	}
}

void loop_unwatch(struct event_loop *loop, struct loop_watch *w)
{
	if (!w || w->removed)
		return;
	epoll_ctl(loop->epoll_fd, EPOLL_CTL_DEL, w->fd, NULL);
	w->removed = true;
	/* During a batch, an event of w may still be pending: free it after. */
	if (!loop->dispatching)
		free_removed(loop);
}

/* ----------------------------------------------------------------- timers */

static void heap_place(struct event_loop *loop, size_t i, struct loop_timer *t)
{
	loop->heap[i] = t;
	t->heap_slot = i + 1;
}

static void sift_up(struct event_loop *loop, size_t i)
{
	struct loop_timer *t = loop->heap[i];

	while (i > 0) {
		size_t parent = (i - 1) / 2;

		if (loop->heap[parent]->due_ms <= t->due_ms)
			break;
		heap_place(loop, i, loop->heap[parent]);
		i = parent;
	}
	heap_place(loop, i, t);
}

static void sift_down(struct event_loop *loop, size_t i)
{
	struct loop_timer *t = loop->heap[i];

	for (;;) {
		size_t child = 2 * i + 1;

		if (child >= loop->n_timers)
			break;
		if (child + 1 < loop->n_timers &&
		    loop->heap[child + 1]->due_ms < loop->heap[child]->due_ms)
			child++;
		if (t->due_ms <= loop->heap[child]->due_ms)
			break;
		heap_place(loop, i, loop->heap[child]);
		i = child;
	}
	heap_place(loop, i, t);
}

static void heap_remove(struct event_loop *loop, struct loop_timer *t)
{
	size_t i = t->heap_slot - 1;
	struct loop_timer *last = loop->heap[--loop->n_timers];

	t->heap_slot = 0;
	if (last == t)
		return;
	heap_place(loop, i, last);
	sift_down(loop, i);
	sift_up(loop, last->heap_slot - 1);
}

int loop_timer_arm(struct event_loop *loop, struct loop_timer *t, uint64_t delay_ms,
		   loop_timer_cb cb, void *arg)
{
	if (t->heap_slot)
		heap_remove(loop, t);
	if (ARRAY_RESERVE(loop->heap, loop->cap_timers, loop->n_timers))
		return -ENOMEM;
	t->due_ms = mono_now_ms() + delay_ms;
	t->cb = cb;
	t->arg = arg;
	loop->n_timers++;
	heap_place(loop, loop->n_timers - 1, t);
	sift_up(loop, loop->n_timers - 1);
	return 0;
}

void loop_timer_cancel(struct event_loop *loop, struct loop_timer *t)
{
	if (t->heap_slot)
		heap_remove(loop, t);
}

static void run_due_timers(struct event_loop *loop)
{
	uint64_t now = mono_now_ms();

	while (loop->n_timers && loop->heap[0]->due_ms <= now && !loop->stopping) {
		struct loop_timer *t = loop->heap[0];

		heap_remove(loop, t);
		t->cb(t->arg);
	}
}

static int next_timeout_ms(struct event_loop *loop)
{
	uint64_t now;

	if (!loop->n_timers)
		return -1; /* epoll_wait's "no timeout" */
	now = mono_now_ms();
	if (loop->heap[0]->due_ms <= now)
		return 0;
	return (int)(loop->heap[0]->due_ms - now);
}

/* ------------------------------------------------------------------- run */

int loop_run(struct event_loop *loop)
{
	while (!loop->stopping) {
		struct epoll_event events[LOOP_MAX_EVENTS];
		int n = epoll_wait(loop->epoll_fd, events, LOOP_MAX_EVENTS, next_timeout_ms(loop));

		if (n < 0 && errno != EINTR)
			return -errno;
		loop->dispatching = true;
		/* A callback may unwatch another watch: skip the removed ones. */
		for (int i = 0; i < n && !loop->stopping; i++) {
			struct loop_watch *w = events[i].data.ptr;

			if (!w->removed)
				w->cb(w->arg, w->fd, events[i].events);
		}
		loop->dispatching = false;
		free_removed(loop);
		run_due_timers(loop);
	}
	return 0;
}

void loop_stop(struct event_loop *loop)
{
	loop->stopping = true;
}
