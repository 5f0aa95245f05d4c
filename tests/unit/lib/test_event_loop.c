// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* lib/event_loop: timers in due order, cancel and re-arm, watches removed mid-batch. */
#include <errno.h>
#include <unistd.h>

#include "lib/clock.h"
#include "lib/event_loop.h"
#include "suites.h"

#define N_TIMERS 64

struct timer_run {
	struct event_loop *loop;
	struct loop_timer timers[N_TIMERS];
	int order[N_TIMERS];
	uint64_t due[N_TIMERS]; /* due_ms of each, in firing order */
	int fired;
	int expect;	 /* the loop stops after this many */
	int cancel_from; /* timer index whose callback cancels the next one; -1: none */
};

struct timer_arg {
	struct timer_run *run;
	int index;
};

static struct timer_arg args[N_TIMERS];

static void on_timer(void *arg)
{
	struct timer_arg *a = arg;
	struct timer_run *r = a->run;

	r->due[r->fired] = r->timers[a->index].due_ms;
	ck_assert_uint_le(r->due[r->fired], mono_now_ms()); /* never early */
	r->order[r->fired++] = a->index;
	if (a->index == r->cancel_from && a->index + 1 < N_TIMERS)
		loop_timer_cancel(r->loop, &r->timers[a->index + 1]);
	if (r->fired == r->expect)
		loop_stop(r->loop);
}

static void arm_all(struct timer_run *r)
{
	for (int i = 0; i < N_TIMERS; i++) {
		/* Armed out of order (37 and 64 are coprime: each j once), due j ms from now. */
		int j = (i * 37) % N_TIMERS;

		args[j] = (struct timer_arg){r, j};
		ck_assert_int_eq(
		    loop_timer_arm(r->loop, &r->timers[j], (uint64_t)j, on_timer, &args[j]), 0);
	}
}

START_TEST(test_timers_fire_in_due_order)
{
	struct timer_run r = {.loop = loop_new(), .expect = N_TIMERS, .cancel_from = -1};

	ck_assert_ptr_nonnull(r.loop);
	arm_all(&r);
	ck_assert_int_eq(loop_run(r.loop), 0);
	ck_assert_int_eq(r.fired, N_TIMERS);
	/* Arming takes time, so equal due times may fire in either order. */
	for (int i = 1; i < N_TIMERS; i++)
		ck_assert_msg(r.due[i - 1] <= r.due[i],
			      "timer %d (due %llu) fired before %d (due %llu)", r.order[i],
			      (unsigned long long)r.due[i], r.order[i - 1],
			      (unsigned long long)r.due[i - 1]);
	for (int i = 0; i < N_TIMERS; i++)
		ck_assert(!loop_timer_armed(&r.timers[i]));
	loop_free(r.loop);
}
END_TEST

START_TEST(test_timer_cancel_and_rearm)
{
	struct timer_run r = {.loop = loop_new(), .expect = N_TIMERS - 2, .cancel_from = 10};

	arm_all(&r);
	/* Cancelled before the run, and one re-armed later than the last. */
	loop_timer_cancel(r.loop, &r.timers[3]);
	loop_timer_cancel(r.loop, &r.timers[3]); /* harmless twice */
	ck_assert_int_eq(loop_timer_arm(r.loop, &r.timers[5], 200, on_timer, &args[5]), 0);
	ck_assert_int_eq(loop_run(r.loop), 0);
	/* 3 cancelled, 11 cancelled by 10's callback; 5 fires last. */
	ck_assert_int_eq(r.fired, N_TIMERS - 2);
	for (int i = 0; i < r.fired; i++)
		ck_assert(r.order[i] != 3 && r.order[i] != 11);
	ck_assert_int_eq(r.order[r.fired - 1], 5);
	loop_free(r.loop);
}
END_TEST

struct watch_run {
	struct event_loop *loop;
	struct loop_watch *a, *b;
	int a_calls, b_calls;
};

/* a's callback removes b, whose event is in the same batch: b must not be called. */
static void on_a(void *arg, int fd, uint32_t events)
{
	struct watch_run *w = arg;
	char c;

	(void)events;
	ck_assert_int_eq(read(fd, &c, 1), 1);
	w->a_calls++;
	loop_unwatch(w->loop, w->b);
	w->b = NULL;
	loop_stop(w->loop);
}

static void on_b(void *arg, int fd, uint32_t events)
{
	struct watch_run *w = arg;
	char c;

	(void)events;
	ck_assert_int_eq(read(fd, &c, 1), 1);
	w->b_calls++;
	loop_unwatch(w->loop, w->a);
	w->a = NULL;
	loop_stop(w->loop);
}

START_TEST(test_unwatch_during_dispatch)
{
	struct watch_run w = {.loop = loop_new()};
	int pa[2], pb[2];

	ck_assert_int_eq(pipe(pa), 0);
	ck_assert_int_eq(pipe(pb), 0);
	w.a = loop_watch(w.loop, pa[0], EPOLLIN, on_a, &w);
	w.b = loop_watch(w.loop, pb[0], EPOLLIN, on_b, &w);
	ck_assert(w.a && w.b);
	ck_assert_int_eq(write(pa[1], "x", 1), 1);
	ck_assert_int_eq(write(pb[1], "x", 1), 1);
	ck_assert_int_eq(loop_run(w.loop), 0);
	/* Whichever ran first removed the other: exactly one call in all. */
	ck_assert_int_eq(w.a_calls + w.b_calls, 1);
	ck_assert_ptr_null(w.a_calls ? w.b : w.a);
	loop_unwatch(w.loop, w.a_calls ? w.a : w.b);
	ck_assert_ptr_null(loop_watch(w.loop, -1, EPOLLIN, on_a, &w));
	ck_assert_int_eq(errno, EBADF);
	loop_free(w.loop);
	for (int i = 0; i < 2; i++) {
		close(pa[i]);
		close(pb[i]);
	}
}
END_TEST

Suite *event_loop_suite(void)
{
	Suite *s = suite_create("event_loop");
	TCase *tc = tcase_create("loop");

	tcase_add_test(tc, test_timers_fire_in_due_order);
	tcase_add_test(tc, test_timer_cancel_and_rearm);
	tcase_add_test(tc, test_unwatch_during_dispatch);
	suite_add_tcase(s, tc);
	return s;
}
