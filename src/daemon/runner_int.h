/*
 * Inside the queue runner (runner.c: loop, scan, deliveries and their
 * outcome; runner_notify.c: bounces and delay notices). Not for other
 * modules.
 */
#ifndef SEALPOST_DAEMON_RUNNER_INT_H
#define SEALPOST_DAEMON_RUNNER_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <openssl/ssl.h>

#include "daemon/bounce.h"
#include "store/store.h"

struct config;
struct event;
struct event_base;
struct relay_limit;
struct resolver;
struct userdb;

struct runner {
	const struct config	*cfg;
	struct event_base	*base;
	struct store		*store;
	struct userdb		*users;
	struct resolver		*res;		/* NULL: MX routing defers */
	struct relay_limit	*limits;
	SSL_CTX			*tls_ctx;
	struct event		*scan_timer, *sig_term, *sig_usr2;
	struct event		*kick_ev;	/* a slot came free */
	struct delivery		*active;
	struct rconn		*idle;		/* open, kept for reuse */
	struct backlog_item	*backlog;	/* due, waiting for a limit */
	size_t			 n_backlog, cap_backlog;
};

/* The header section of the queued message at off, NUL-terminated in out. */
size_t	runner_read_headers(int fd, off_t off, char *out, size_t outsz);
/* Where the message proper starts: after the Return-Path line. */
off_t	runner_body_offset(int fd);

/*
 * BLOCKING. A failure notification for br[0..n) of env to its sender (or
 * the postmaster for a null sender, or when the sender's copy fails).
 */
void	runner_bounce(struct runner *, const struct queue_envelope *,
	    const struct bounce_rcpt *br, size_t n);
/*
 * BLOCKING. When queue_delay_notice is on and env (loaded, not being
 * delivered) has waited that long with recipients pending, marks env as
 * notified, saves it, then sends one RFC 3464 "delayed" notification to
 * the sender (never to <>). Marking first makes it at most once: a crash
 * in between loses the notice rather than repeating it.
 */
void	runner_delay_notice(struct runner *, struct queue_envelope *env,
	    uint64_t now);

#endif
