/*
 * The worker's thread pool (contract in threadpool.h). Pool threads take
 * jobs from a mutex-protected FIFO; a finished job goes on a done list
 * and an eventfd wakes the loop, whose callback runs the done functions.
 * An eventfd rather than event_active() keeps this independent of
 * whether evthread_use_pthreads() was called before the base was made.
 *
 * threadpool_pending() counts a job from submit until its done callback
 * has returned, so "pending == 0" means every completion has been seen:
 * what a draining worker waits for.
 */
#include "net/threadpool.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <event2/event.h>

#include "core/log.h"
#include "core/xmalloc.h"

#define THREADPOOL_MIN	4
#define THREADPOOL_MAX	64

struct tp_job {
	threadpool_work_fn	 work;
	threadpool_done_fn	 done;
	void			*arg;
	struct tp_job		*next;
};

struct threadpool {
	struct event_base	*base;
	struct event		*ev;
	int			 efd;
	pthread_mutex_t		 mu;
	pthread_cond_t		 cv;
	struct tp_job		*queue_head, *queue_tail;	/* under mu */
	struct tp_job		*done_head, *done_tail;		/* under mu */
	bool			 stopping;			/* under mu */
	atomic_uint		 pending;
	unsigned		 nthreads;
	pthread_t		*threads;
};

static void
tp_wake(struct threadpool *tp)
{
	uint64_t one = 1;

	/* EAGAIN means the counter is already non-zero: the loop will wake. */
	while (write(tp->efd, &one, sizeof(one)) == -1 && errno == EINTR)
		;
}

static void *
tp_thread(void *arg)
{
	struct threadpool *tp = arg;
	struct tp_job *job;
	bool was_empty;

	for (;;) {
		pthread_mutex_lock(&tp->mu);
		while (tp->queue_head == NULL && !tp->stopping)
			pthread_cond_wait(&tp->cv, &tp->mu);
		if ((job = tp->queue_head) == NULL) {
			/* Stopping and nothing left: queued jobs always run. */
			pthread_mutex_unlock(&tp->mu);
			return NULL;
		}
		if ((tp->queue_head = job->next) == NULL)
			tp->queue_tail = NULL;
		pthread_mutex_unlock(&tp->mu);

		job->work(job->arg);

		job->next = NULL;
		pthread_mutex_lock(&tp->mu);
		was_empty = tp->done_head == NULL;
		if (tp->done_tail != NULL)
			tp->done_tail->next = job;
		else
			tp->done_head = job;
		tp->done_tail = job;
		pthread_mutex_unlock(&tp->mu);
		/* One wake-up per batch: the loop takes the whole list. */
		if (was_empty)
			tp_wake(tp);
	}
}

/* Runs every finished job's done callback; on the loop thread. */
static void
tp_run_done(struct threadpool *tp)
{
	struct tp_job *job, *next;

	pthread_mutex_lock(&tp->mu);
	job = tp->done_head;
	tp->done_head = tp->done_tail = NULL;
	pthread_mutex_unlock(&tp->mu);
	for (; job != NULL; job = next) {
		next = job->next;
		if (job->done != NULL)
			job->done(job->arg);
		free(job);
		atomic_fetch_sub(&tp->pending, 1);
	}
}

static void
tp_on_wake(evutil_socket_t fd, short what, void *arg)
{
	uint64_t n;

	(void)what;
	/* Drain first: a job finishing after this read wakes us again. */
	while (read(fd, &n, sizeof(n)) == -1 && errno == EINTR)
		;
	tp_run_done(arg);
}

struct threadpool *
threadpool_new(struct event_base *base, unsigned nthreads)
{
	struct threadpool *tp;
	sigset_t all, old;

	if (nthreads == 0) {
		long ncpu = sysconf(_SC_NPROCESSORS_ONLN);

		/* fsync waits on the disk, not the CPU: more threads than cores. */
		nthreads = ncpu > 0 ? 2 * (unsigned)ncpu : THREADPOOL_MIN;
		if (nthreads < THREADPOOL_MIN)
			nthreads = THREADPOOL_MIN;
	}
	if (nthreads > THREADPOOL_MAX)
		nthreads = THREADPOOL_MAX;
	tp = xcalloc(1, sizeof(*tp));
	tp->base = base;
	tp->nthreads = nthreads;
	pthread_mutex_init(&tp->mu, NULL);
	pthread_cond_init(&tp->cv, NULL);
	atomic_init(&tp->pending, 0);
	if ((tp->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) == -1)
		fatal("threadpool: eventfd: %s", strerror(errno));
	tp->ev = event_new(base, tp->efd, EV_READ | EV_PERSIST, tp_on_wake, tp);
	if (tp->ev == NULL || event_add(tp->ev, NULL) == -1)
		fatal("threadpool: cannot watch eventfd");
	tp->threads = xcalloc(nthreads, sizeof(*tp->threads));
	/* Signals belong to the loop thread: pool threads block them all. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	for (unsigned i = 0; i < nthreads; i++) {
		int rc = pthread_create(&tp->threads[i], NULL, tp_thread, tp);

		if (rc != 0)
			fatal("threadpool: pthread_create: %s", strerror(rc));
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return tp;
}

void
threadpool_submit(struct threadpool *tp, threadpool_work_fn work,
    threadpool_done_fn done, void *arg)
{
	struct tp_job *job = xmalloc(sizeof(*job));
	bool inline_run;

	job->work = work;
	job->done = done;
	job->arg = arg;
	job->next = NULL;
	atomic_fetch_add(&tp->pending, 1);
	pthread_mutex_lock(&tp->mu);
	inline_run = tp->stopping;
	if (!inline_run) {
		if (tp->queue_tail != NULL)
			tp->queue_tail->next = job;
		else
			tp->queue_head = job;
		tp->queue_tail = job;
		pthread_cond_signal(&tp->cv);
	}
	pthread_mutex_unlock(&tp->mu);
	if (inline_run) {
		/*
		 * A done callback submitting while threadpool_free() drains:
		 * the threads are gone, so the job runs here, in order.
		 */
		work(arg);
		if (done != NULL)
			done(arg);
		free(job);
		atomic_fetch_sub(&tp->pending, 1);
	}
}

unsigned
threadpool_pending(const struct threadpool *tp)
{
	return atomic_load(&((struct threadpool *)tp)->pending);
}

void
threadpool_free(struct threadpool **tpp)
{
	struct threadpool *tp = *tpp;

	if (tp == NULL)
		return;
	pthread_mutex_lock(&tp->mu);
	tp->stopping = true;
	pthread_cond_broadcast(&tp->cv);
	pthread_mutex_unlock(&tp->mu);
	for (unsigned i = 0; i < tp->nthreads; i++)
		pthread_join(tp->threads[i], NULL);
	tp_run_done(tp);
	event_free(tp->ev);
	close(tp->efd);
	pthread_cond_destroy(&tp->cv);
	pthread_mutex_destroy(&tp->mu);
	free(tp->threads);
	free(tp);
	*tpp = NULL;
}
