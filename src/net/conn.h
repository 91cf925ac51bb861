/*
 * One client connection: a socket, optionally TLS (implicit or upgraded in
 * place by STARTTLS/STLS), with bounded buffers and timeouts. The protocol
 * session on top reads from conn_input() and appends replies to
 * conn_output(); it never touches the socket. Callbacks into the session
 * always come from the event loop, never from inside a conn_* call, so a
 * session may ask to close itself from any handler.
 */
#ifndef SEALPOST_NET_CONN_H
#define SEALPOST_NET_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <openssl/ssl.h>

struct event_base;
struct evbuffer;
struct conn;

struct conn_handler {
	/* New input is waiting (or reading was resumed with input waiting). */
	void	(*readable)(void *ctx);
	/* The read timeout expired with no input; the session replies/closes. */
	void	(*timeout)(void *ctx);
	/* A TLS handshake (implicit or STARTTLS) completed. */
	void	(*tls_ready)(void *ctx);
	/*
	 * The connection is finished: peer closed, I/O or TLS error, or the
	 * close the session asked for has flushed. reason is static text. The
	 * session must call conn_free() (here or later) and not use it again.
	 */
	void	(*closed)(void *ctx, const char *reason);
	/*
	 * Optional (NULL: not wanted): everything queued in conn_output() has
	 * been handed to the socket. A session that sends a large response
	 * (POP3 RETR/TOP) adds the next piece here, so its memory stays
	 * bounded whatever the response size. Not called while closing or
	 * switching to TLS.
	 */
	void	(*drained)(void *ctx);
};

/*
 * Wraps an accepted socket (takes ownership of fd). With tls_ctx non-NULL
 * the connection starts with a TLS handshake (implicit TLS, RFC 8314) that
 * must finish within handshake_timeout seconds.
 */
struct conn	*conn_new(struct event_base *, int fd, SSL_CTX *tls_ctx,
		    unsigned handshake_timeout, const struct conn_handler *,
		    void *ctx);
void	conn_free(struct conn **);

struct evbuffer	*conn_input(struct conn *);
struct evbuffer	*conn_output(struct conn *);

/* Read timeout while waiting for input; 0 = none. */
void	conn_set_timeout(struct conn *, unsigned seconds);
/* Stops/starts delivering readable() (async work pending). */
void	conn_pause(struct conn *);
void	conn_resume(struct conn *);
/*
 * Starts TLS on a plaintext connection once the pending output (the "go
 * ahead" reply) is flushed. Unread input is discarded now: anything a
 * client pipelined behind STARTTLS must not be executed (RFC 3207 sec. 6,
 * CVE-2011-0411 class of bugs). tls_ready() or closed() follows.
 */
void	conn_starttls(struct conn *, SSL_CTX *, unsigned handshake_timeout);
/* Flushes the pending output, then closes and calls closed(reason). */
void	conn_close_after_flush(struct conn *, const char *reason);

bool	conn_is_tls(const struct conn *);
/* The TLS object of an established TLS connection, else NULL. */
SSL	*conn_ssl(const struct conn *);
/* Pending output bytes; sessions stop reading while this is large. */
size_t	conn_output_pending(struct conn *);

#endif
