/*
 * A small pool of threads for the blocking work an event loop must never
 * do itself: fsync, directory syncs, password hashing. A job's work runs
 * on a pool thread; its done callback then runs on the loop's thread.
 */
#ifndef SEALPOST_NET_THREADPOOL_H
#define SEALPOST_NET_THREADPOOL_H

struct event_base;
struct threadpool;

typedef void	(*threadpool_work_fn)(void *arg);	/* on a pool thread */
typedef void	(*threadpool_done_fn)(void *arg);	/* on the loop thread */

/* nthreads == 0 picks a default. The pool lives until threadpool_free(). */
struct threadpool	*threadpool_new(struct event_base *, unsigned nthreads);
/* Queues a job; never blocks. done may be NULL. */
void	threadpool_submit(struct threadpool *, threadpool_work_fn work,
	    threadpool_done_fn done, void *arg);
/* Jobs queued or running right now. */
unsigned	threadpool_pending(const struct threadpool *);
/* Waits for queued jobs, runs their done callbacks, then frees. */
void	threadpool_free(struct threadpool **);

#endif
