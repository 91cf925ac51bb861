/*
 * Unit tests for net/threadpool: every job runs once, done callbacks run
 * on the loop's thread, pending counts, and free waits for queued work.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "net/threadpool.h"

#define NJOBS	2000

struct counters {
	atomic_int	work_runs;
	int		done_runs;	/* only touched on the loop thread */
	int		done_off_loop;
	pthread_t	loop_thread;
	struct event_base	*base;
	struct threadpool	*tp;
	int		target;
};

struct job {
	struct counters	*c;
	int		 ran;
	unsigned	 sleep_us;
	bool		 on_pool_thread;
};

static void
job_work(void *arg)
{
	struct job *j = arg;

	if (j->sleep_us > 0)
		usleep(j->sleep_us);
	j->ran++;
	j->on_pool_thread = !pthread_equal(pthread_self(), j->c->loop_thread);
	atomic_fetch_add(&j->c->work_runs, 1);
}

static void
job_done(void *arg)
{
	struct job *j = arg;
	struct counters *c = j->c;

	if (!pthread_equal(pthread_self(), c->loop_thread))
		c->done_off_loop++;
	/* The work's effects are visible here without extra locking. */
	if (j->ran != 1)
		c->done_off_loop++;
	if (++c->done_runs == c->target && c->base != NULL)
		event_base_loopbreak(c->base);
}

static void
test_threadpool_runs_many_jobs(void **state)
{
	static const unsigned sizes[] = { 1, 3, 0 };	/* 0 = default */

	(void)state;
	for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
		struct counters c = { 0 };
		struct job *jobs = calloc(NJOBS, sizeof(*jobs));

		c.loop_thread = pthread_self();
		c.base = event_base_new();
		c.target = NJOBS;
		assert_non_null(c.base);
		c.tp = threadpool_new(c.base, sizes[s]);
		assert_non_null(c.tp);
		for (int i = 0; i < NJOBS; i++) {
			jobs[i].c = &c;
			threadpool_submit(c.tp, job_work, job_done, &jobs[i]);
		}
		assert_true(threadpool_pending(c.tp) > 0);
		assert_int_equal(event_base_dispatch(c.base), 0);
		assert_int_equal(c.done_runs, NJOBS);
		assert_int_equal(atomic_load(&c.work_runs), NJOBS);
		assert_int_equal(c.done_off_loop, 0);
		assert_int_equal(threadpool_pending(c.tp), 0);
		for (int i = 0; i < NJOBS; i++) {
			assert_int_equal(jobs[i].ran, 1);
			assert_true(jobs[i].on_pool_thread);
		}
		threadpool_free(&c.tp);
		assert_null(c.tp);
		event_base_free(c.base);
		free(jobs);
	}
}

static void
test_threadpool_done_may_be_null(void **state)
{
	struct counters c = { 0 };
	struct job jobs[50] = { 0 };
	struct event_base *base = event_base_new();
	struct threadpool *tp = threadpool_new(base, 2);

	(void)state;
	c.loop_thread = pthread_self();
	for (int i = 0; i < 50; i++) {
		jobs[i].c = &c;
		threadpool_submit(tp, job_work, NULL, &jobs[i]);
	}
	/* The loop must see the completions even with no callback to run. */
	while (threadpool_pending(tp) > 0)
		event_base_loop(base, EVLOOP_ONCE);
	assert_int_equal(atomic_load(&c.work_runs), 50);
	threadpool_free(&tp);
	event_base_free(base);
}

static void
test_threadpool_free_waits_for_queued(void **state)
{
	struct counters c = { 0 };
	struct job jobs[40] = { 0 };
	struct event_base *base = event_base_new();
	struct threadpool *tp = threadpool_new(base, 2);

	(void)state;
	c.loop_thread = pthread_self();
	c.target = -1;
	for (int i = 0; i < 40; i++) {
		jobs[i].c = &c;
		jobs[i].sleep_us = 2000;
		threadpool_submit(tp, job_work, job_done, &jobs[i]);
	}
	/* No loop iteration at all: free runs the work and the callbacks. */
	threadpool_free(&tp);
	assert_null(tp);
	assert_int_equal(atomic_load(&c.work_runs), 40);
	assert_int_equal(c.done_runs, 40);
	assert_int_equal(c.done_off_loop, 0);
	for (int i = 0; i < 40; i++)
		assert_int_equal(jobs[i].ran, 1);
	event_base_free(base);
}

static void
chain_done(void *arg)
{
	struct job *j = arg;

	job_done(arg);
	/* A completion that queues more work, as a session's next step does. */
	if (j->c->done_runs < 10)
		threadpool_submit(j->c->tp, job_work, chain_done, &j[1]);
}

static void
test_threadpool_done_can_submit(void **state)
{
	struct counters c = { 0 };
	struct job jobs[12] = { 0 };

	(void)state;
	c.loop_thread = pthread_self();
	c.base = event_base_new();
	c.tp = threadpool_new(c.base, 2);
	c.target = 10;
	for (int i = 0; i < 12; i++)
		jobs[i].c = &c;
	threadpool_submit(c.tp, job_work, chain_done, &jobs[0]);
	assert_int_equal(event_base_dispatch(c.base), 0);
	assert_int_equal(c.done_runs, 10);
	for (int i = 0; i < 10; i++)
		assert_int_equal(jobs[i].ran, 1);
	threadpool_free(&c.tp);
	event_base_free(c.base);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_threadpool_runs_many_jobs),
		cmocka_unit_test(test_threadpool_done_may_be_null),
		cmocka_unit_test(test_threadpool_free_waits_for_queued),
		cmocka_unit_test(test_threadpool_done_can_submit),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
