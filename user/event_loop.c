// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "event_loop.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

struct fd_watch {
	int fd;
	loop_fd_cb cb;
	void *arg;
	struct fd_watch *next;
};

struct timer {
	uint64_t id;
	uint64_t due_ms;
	loop_timer_cb cb;
	void *arg;
	struct timer *next; /* sorted by due_ms */
};

struct event_loop {
	int epoll_fd;
	bool stopping;
	struct fd_watch *watches;
	struct timer *timers;
	uint64_t next_timer_id;
};

uint64_t loop_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

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
		struct fd_watch *w = loop->watches;

		loop->watches = w->next;
		free(w);
	}
	while (loop->timers) {
		struct timer *t = loop->timers;

		loop->timers = t->next;
		free(t);
	}
	close(loop->epoll_fd);
	free(loop);
}

int loop_add_fd(struct event_loop *loop, int fd, uint32_t events, loop_fd_cb cb, void *arg)
{
	struct fd_watch *w = calloc(1, sizeof(*w));
	struct epoll_event ev = { .events = events, .data.ptr = w };

	if (!w)
		return -1;
	w->fd = fd;
	w->cb = cb;
	w->arg = arg;
	if (epoll_ctl(loop->epoll_fd, EPOLL_CTL_ADD, fd, &ev)) {
		free(w);
		return -1;
	}
	w->next = loop->watches;
	loop->watches = w;
	return 0;
}

static struct fd_watch *find_watch(struct event_loop *loop, int fd)
{
	for (struct fd_watch *w = loop->watches; w; w = w->next) {
		if (w->fd == fd)
			return w;
	}
	return NULL;
}

int loop_mod_fd(struct event_loop *loop, int fd, uint32_t events)
{
	struct fd_watch *w = find_watch(loop, fd);
	struct epoll_event ev = { .events = events, .data.ptr = w };

	if (!w)
		return -1;
	return epoll_ctl(loop->epoll_fd, EPOLL_CTL_MOD, fd, &ev);
}

int loop_del_fd(struct event_loop *loop, int fd)
{
	for (struct fd_watch **p = &loop->watches; *p; p = &(*p)->next) {
		struct fd_watch *w = *p;

		if (w->fd != fd)
			continue;
		*p = w->next;
		epoll_ctl(loop->epoll_fd, EPOLL_CTL_DEL, fd, NULL);
		/* Events already fetched for it are skipped: it is off the list. */
		free(w);
		return 0;
	}
	return -1;
}

uint64_t loop_add_timer(struct event_loop *loop, uint64_t delay_ms, loop_timer_cb cb, void *arg)
{
	struct timer *t = calloc(1, sizeof(*t));
	struct timer **p = &loop->timers;

	if (!t)
		return 0;
	t->id = ++loop->next_timer_id;
	t->due_ms = loop_now_ms() + delay_ms;
	t->cb = cb;
	t->arg = arg;
	while (*p && (*p)->due_ms <= t->due_ms)
		p = &(*p)->next;
	t->next = *p;
	*p = t;
	return t->id;
}

void loop_cancel_timer(struct event_loop *loop, uint64_t id)
{
	for (struct timer **p = &loop->timers; *p; p = &(*p)->next) {
		if ((*p)->id == id) {
			struct timer *t = *p;

			*p = t->next;
			free(t);
			return;
		}
	}
}

static void run_due_timers(struct event_loop *loop)
{
	uint64_t now = loop_now_ms();

	while (loop->timers && loop->timers->due_ms <= now && !loop->stopping) {
		struct timer *t = loop->timers;

		loop->timers = t->next;
		t->cb(t->arg);
		free(t);
	}
}

static int next_timeout_ms(struct event_loop *loop)
{
	uint64_t now;

	if (!loop->timers)
		return -1;
	now = loop_now_ms();
	if (loop->timers->due_ms <= now)
		return 0;
	return (int)(loop->timers->due_ms - now);
}

static bool watch_alive(struct event_loop *loop, struct fd_watch *target)
{
	for (struct fd_watch *w = loop->watches; w; w = w->next) {
		if (w == target)
			return true;
	}
	return false;
}

int loop_run(struct event_loop *loop)
{
	while (!loop->stopping) {
		struct epoll_event events[16];
		int n = epoll_wait(loop->epoll_fd, events, 16, next_timeout_ms(loop));

		if (n < 0 && errno != EINTR)
			return -1;
		/* A callback may remove another watch: only call live ones. */
		for (int i = 0; i < n && !loop->stopping; i++) {
			struct fd_watch *w = events[i].data.ptr;

			if (watch_alive(loop, w))
				w->cb(w->arg, w->fd, events[i].events);
		}
		run_due_timers(loop);
	}
	return 0;
}

void loop_stop(struct event_loop *loop)
{
	loop->stopping = true;
}
