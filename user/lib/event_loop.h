/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The agent's single event loop: epoll over file descriptors, each watched
 * through a handle with its own callback, and one-shot monotonic timers kept
 * in a heap.  Sources (DNS, Kubernetes), the rebalancer and the metrics
 * server register here; nothing in the agent blocks.
 *
 * Timers live in their owner's struct (struct loop_timer, zeroed = not
 * armed): arming one allocates nothing, so a periodic tick costs no malloc.
 */
#ifndef SOCKLB_EVENT_LOOP_H
#define SOCKLB_EVENT_LOOP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/epoll.h>

struct event_loop;
struct loop_watch;

/* events: EPOLLIN / EPOLLOUT / EPOLLERR / EPOLLHUP bits as epoll reported them. */
typedef void (*loop_fd_cb)(void *arg, int fd, uint32_t events);
typedef void (*loop_timer_cb)(void *arg);

struct loop_timer {
	uint64_t due_ms;
	loop_timer_cb cb;
	void *arg;
	size_t heap_slot; /* 0: not armed; else its position in the heap + 1 */
};

struct event_loop *loop_new(void);
/* Frees the loop and every watch; armed timers are simply forgotten. */
void loop_free(struct event_loop *loop);

/* Watches fd for events (EPOLLIN/EPOLLOUT); NULL with errno set on failure. */
struct loop_watch *loop_watch(struct event_loop *loop, int fd, uint32_t events, loop_fd_cb cb,
			      void *arg);
int loop_watch_events(struct event_loop *loop, struct loop_watch *w, uint32_t events);
/* Forgets the watch (NULL is fine); events already fetched for it are dropped. */
void loop_unwatch(struct event_loop *loop, struct loop_watch *w);

/*
 * Arms t to call cb(arg) once, delay_ms from now (re-arming it if it was
 * armed).  Returns 0 or -ENOMEM.  A callback may arm timers, its own too.
 */
int loop_timer_arm(struct event_loop *loop, struct loop_timer *t, uint64_t delay_ms,
		   loop_timer_cb cb, void *arg);
/* Disarms t if it is armed. */
void loop_timer_cancel(struct event_loop *loop, struct loop_timer *t);

static inline bool loop_timer_armed(const struct loop_timer *t)
{
	return t->heap_slot != 0;
}

/* Runs until loop_stop is called; returns 0, or -errno if epoll failed. */
int loop_run(struct event_loop *loop);
void loop_stop(struct event_loop *loop);

#endif
