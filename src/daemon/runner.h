/*
 * The queue runner process: delivers what the SMTP server put in queue/
 * over the SMTP client, retries with the configured backoff and bounces
 * what fails for good. Started and supervised by the master like a
 * worker, never as root. SIGTERM stops it (deliveries in flight are
 * abandoned and simply retried later: delivery is at least once);
 * SIGUSR2 makes it scan the queue now.
 */
#ifndef SEALPOST_DAEMON_RUNNER_H
#define SEALPOST_DAEMON_RUNNER_H

#include <stdint.h>

struct config;

/*
 * `sealpost queue hold` sets a pending recipient's next try to this: it is
 * never due (and so never expires) until `queue release` sets it to 0.
 */
#define RUNNER_NEXT_TRY_HELD	(UINT64_C(1) << 62)

/* Runs until SIGTERM; returns the exit status. */
int	runner_main(const struct config *cfg);

#endif
