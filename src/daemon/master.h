/*
 * The master process: binds every listener, loads the TLS key, forks the
 * workers (which drop privileges) and supervises them. SIGHUP reloads the
 * configuration and certificate by starting a new generation of workers
 * while the old one drains; SIGTERM drains all workers and exits 0.
 */
#ifndef SEALPOST_DAEMON_MASTER_H
#define SEALPOST_DAEMON_MASTER_H

struct config;

/* Takes ownership of cfg. Returns the process exit status. */
int	master_run(struct config *cfg);

#endif
