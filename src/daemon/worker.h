/*
 * A worker process: one libevent loop that accepts on its share of the
 * listening sockets and runs SMTP and POP3 sessions, with a thread pool
 * for fsync and password hashing. Started and supervised by the master.
 */
#ifndef SEALPOST_DAEMON_WORKER_H
#define SEALPOST_DAEMON_WORKER_H

#include <openssl/ssl.h>

#include "net/service.h"

struct config;
struct conn_limits;
struct throttle;

struct worker_listener {
	int			fd;
	enum service_kind	kind;
	char			text[64];	/* address as configured */
};

struct worker_params {
	const struct config		*cfg;
	SSL_CTX				*tls_ctx;
	const struct worker_listener	*listeners;
	size_t				 n_listeners;
	struct conn_limits		*limits;
	struct throttle			*throttle;
	unsigned			 index;		/* worker slot */
};

/* Runs the worker until it has drained after SIGTERM/SIGUSR1; returns the exit status. */
int	worker_main(const struct worker_params *);
/* Drops root for cfg->user (no-op when not root). Exits on failure. */
void	worker_drop_privileges(const struct config *);

#endif
