/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The agent's single event loop: epoll over file descriptors, each with its
 * own callback, and monotonic timers.  Sources (DNS, Kubernetes) and the
 * rebalancer register here; nothing in the agent blocks.
 */
#ifndef SOCKLB_EVENT_LOOP_H
#define SOCKLB_EVENT_LOOP_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/epoll.h>

struct event_loop;

/* events: EPOLLIN / EPOLLOUT bits as epoll reported them. */
typedef void (*loop_fd_cb)(void *arg, int fd, uint32_t events);
typedef void (*loop_timer_cb)(void *arg);

struct event_loop *loop_new(void);
void loop_free(struct event_loop *loop);

/* Watch fd for events (EPOLLIN/EPOLLOUT); mod changes them; del forgets fd. */
int loop_add_fd(struct event_loop *loop, int fd, uint32_t events, loop_fd_cb cb, void *arg);
int loop_mod_fd(struct event_loop *loop, int fd, uint32_t events);
int loop_del_fd(struct event_loop *loop, int fd);

/*
 * One-shot timer: cb(arg) after delay_ms.  Returns an id > 0 for
 * loop_cancel_timer, or 0 on failure.  A callback may add timers.
 */
uint64_t loop_add_timer(struct event_loop *loop, uint64_t delay_ms, loop_timer_cb cb, void *arg);
void loop_cancel_timer(struct event_loop *loop, uint64_t id);

/* CLOCK_MONOTONIC in milliseconds. */
uint64_t loop_now_ms(void);

/* Runs until loop_stop is called; returns 0, or -1 if epoll failed. */
int loop_run(struct event_loop *loop);
void loop_stop(struct event_loop *loop);

#endif
