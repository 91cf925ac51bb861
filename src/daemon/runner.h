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

struct config;

/* Runs until SIGTERM; returns the exit status. */
int	runner_main(const struct config *cfg);

#endif
