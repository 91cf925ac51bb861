/*
 * Client connections over libevent bufferevents; see conn.h. Plaintext
 * connections use a socket bufferevent that does not own the fd, so that
 * STARTTLS can replace it by an OpenSSL bufferevent on the same socket.
 *
 * Plaintext replies are written directly: a bufferevent writes only once
 * the loop reports the socket writable, which costs two epoll_ctl calls
 * (arm, disarm) and one more epoll_wait round per reply, although a reply
 * almost always fits the socket buffer at once. So a plaintext
 * bufferevent keeps EV_WRITE disabled; whatever a handler appends to the
 * output during one callback is written by one write from the loop right
 * after that callback (conn_flush_cb), and only what the socket does not
 * take is left to the bufferevent (EV_WRITE enabled until drained).
 */
#include "net/conn.h"

#include <stdlib.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>

#include "core/xmalloc.h"

/*
 * Input: libevent stops reading from the socket while this much is
 * unprocessed. Output: a client that does not read its replies (pipelining
 * abuse) stops being read from, so neither side grows without bound.
 */
#define CONN_INPUT_HIGH		(128 * 1024)
#define CONN_OUTPUT_HIGH	(256 * 1024)
#define CONN_CLOSE_WRITE_TIMEOUT 30

struct conn {
	struct event_base		*base;
	int				 fd;
	struct bufferevent		*bev;
	bool				 bev_owns_fd;
	const struct conn_handler	*handler;
	void				*ctx;
	struct event			*deferred;	/* runs pending actions from the loop */
	struct event			*flush;		/* direct write of new output */
	struct evbuffer_cb_entry	*output_cb;	/* plaintext: schedules flush */

	unsigned	 timeout;		/* read timeout once established */
	unsigned	 handshake_timeout;
	SSL_CTX		*starttls_ctx;		/* switch to TLS once output flushed */
	const char	*close_reason;
	bool		 is_tls;
	bool		 handshaking;
	bool		 paused;
	bool		 output_throttled;
	bool		 closing;		/* close once output is flushed */
	bool		 close_now;		/* notify closed() from the loop */
	bool		 notified;		/* closed() was called */
	bool		 want_readable;
};

static void	conn_setup_bev(struct conn *);

static void
conn_defer(struct conn *c)
{
	event_active(c->deferred, EV_TIMEOUT, 0);
}

static void
conn_apply_timeouts(struct conn *c)
{
	struct timeval tv;

	if (c->handshaking) {
		tv.tv_sec = c->handshake_timeout;
		tv.tv_usec = 0;
		bufferevent_set_timeouts(c->bev, &tv, &tv);
	} else if (c->closing) {
		tv.tv_sec = CONN_CLOSE_WRITE_TIMEOUT;
		tv.tv_usec = 0;
		bufferevent_set_timeouts(c->bev, NULL, &tv);
	} else if (c->timeout > 0) {
		tv.tv_sec = c->timeout;
		tv.tv_usec = 0;
		/* A client that stops reading our replies is as dead as a silent one. */
		bufferevent_set_timeouts(c->bev, &tv, &tv);
	} else {
		bufferevent_set_timeouts(c->bev, NULL, NULL);
	}
}

static void
conn_notify_closed(struct conn *c, const char *reason)
{
	if (c->notified)
		return;
	c->notified = true;
	bufferevent_disable(c->bev, EV_READ | EV_WRITE);
	c->handler->closed(c->ctx, reason);
}

static void
conn_update_reading(struct conn *c)
{
	if (c->paused || c->closing || c->output_throttled || c->starttls_ctx)
		bufferevent_disable(c->bev, EV_READ);
	else
		bufferevent_enable(c->bev, EV_READ);
}

static void
conn_read_cb(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;

	(void)bev;
	if (c->paused || c->closing || c->notified || c->starttls_ctx != NULL) {
		c->want_readable = true;
		return;
	}
	c->want_readable = false;
	c->handler->readable(c->ctx);
	/* The handler may have freed nothing (it defers), so c is still valid. */
	if (!c->notified &&
	    evbuffer_get_length(bufferevent_get_output(c->bev)) > CONN_OUTPUT_HIGH) {
		c->output_throttled = true;
		conn_update_reading(c);
	}
}

static void
conn_switch_to_tls(struct conn *c)
{
	SSL *ssl = SSL_new(c->starttls_ctx);

	c->starttls_ctx = NULL;
	if (ssl == NULL) {
		conn_notify_closed(c, "tls setup failed");
		return;
	}
	c->output_cb = NULL;	/* freed with the buffer */
	bufferevent_free(c->bev);
	c->bev = bufferevent_openssl_socket_new(c->base, c->fd, ssl,
	    BUFFEREVENT_SSL_ACCEPTING,
	    BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
	c->bev_owns_fd = true;
	c->handshaking = true;
	conn_setup_bev(c);
}

static void
conn_write_cb(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;

	(void)bev;
	/* Drained: back to writing directly (see the top of this file). */
	if (c->output_cb != NULL)
		bufferevent_disable(c->bev, EV_WRITE);
	if (c->notified)
		return;
	if (c->closing) {
		conn_notify_closed(c, c->close_reason);
		return;
	}
	if (c->starttls_ctx != NULL) {
		conn_switch_to_tls(c);
		return;
	}
	if (c->output_throttled) {
		c->output_throttled = false;
		conn_update_reading(c);
		if (evbuffer_get_length(bufferevent_get_input(c->bev)) > 0) {
			c->want_readable = true;
			conn_defer(c);
		}
	}
	if (c->handler->drained != NULL)
		c->handler->drained(c->ctx);
}

static void
conn_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct conn *c = arg;

	(void)bev;
	if (c->notified)
		return;
	if (what & BEV_EVENT_CONNECTED) {
		c->handshaking = false;
		c->is_tls = true;
		conn_apply_timeouts(c);
		c->handler->tls_ready(c->ctx);
		return;
	}
	if (what & BEV_EVENT_TIMEOUT) {
		if (c->handshaking)
			conn_notify_closed(c, "tls handshake timeout");
		else if (c->closing || (what & BEV_EVENT_WRITING))
			conn_notify_closed(c, "write timeout");
		else
			c->handler->timeout(c->ctx);
		return;
	}
	if (what & BEV_EVENT_EOF) {
		conn_notify_closed(c, c->handshaking ? "tls handshake eof" :
		    "peer closed");
		return;
	}
	if (what & BEV_EVENT_ERROR)
		conn_notify_closed(c, c->handshaking ? "tls handshake failed" :
		    "io error");
}

static void
conn_deferred_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;

	(void)fd;
	(void)what;
	if (c->notified)
		return;
	if (c->close_now) {
		conn_notify_closed(c, c->close_reason);
		return;
	}
	if (c->starttls_ctx != NULL &&
	    evbuffer_get_length(bufferevent_get_output(c->bev)) == 0) {
		conn_switch_to_tls(c);
		return;
	}
	if (c->want_readable)
		conn_read_cb(c->bev, c);
}

/*
 * One write of everything appended since the last one. What the socket
 * does not take (or an error, which the bufferevent then reports through
 * conn_event_cb) is left to the bufferevent.
 */
static void
conn_flush_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;
	struct evbuffer *out;
	int n;

	(void)fd;
	(void)what;
	if (c->notified || c->output_cb == NULL)
		return;
	out = bufferevent_get_output(c->bev);
	if (evbuffer_get_length(out) == 0)
		return;
	/* A bufferevent keeps its output's front frozen except while it
	 * writes itself; do as it does. */
	evbuffer_unfreeze(out, 1);
	n = evbuffer_write(out, c->fd);
	evbuffer_freeze(out, 1);
	if (n < 0 || evbuffer_get_length(out) > 0) {
		bufferevent_enable(c->bev, EV_WRITE);
		return;
	}
	conn_write_cb(c->bev, c);
}

static void
conn_output_added(struct evbuffer *buf, const struct evbuffer_cb_info *info,
    void *arg)
{
	struct conn *c = arg;

	(void)buf;
	if (info->n_added > 0 && !c->notified)
		event_active(c->flush, EV_TIMEOUT, 0);
}

static void
conn_setup_bev(struct conn *c)
{
	bufferevent_setcb(c->bev, conn_read_cb, conn_write_cb, conn_event_cb, c);
	bufferevent_setwatermark(c->bev, EV_READ, 0, CONN_INPUT_HIGH);
	if (c->handshaking)
		bufferevent_openssl_set_allow_dirty_shutdown(c->bev, 1);
	conn_apply_timeouts(c);
	if (c->bev_owns_fd) {
		bufferevent_enable(c->bev, EV_WRITE);
	} else {
		/* A new bufferevent starts with EV_WRITE enabled. */
		bufferevent_disable(c->bev, EV_WRITE);
		c->output_cb = evbuffer_add_cb(bufferevent_get_output(c->bev),
		    conn_output_added, c);
	}
	conn_update_reading(c);
}

struct conn *
conn_new(struct event_base *base, int fd, SSL_CTX *tls_ctx,
    unsigned handshake_timeout, const struct conn_handler *handler, void *ctx)
{
	struct conn *c = xcalloc(1, sizeof(*c));

	c->base = base;
	c->fd = fd;
	c->handler = handler;
	c->ctx = ctx;
	c->handshake_timeout = handshake_timeout;
	c->deferred = event_new(base, -1, 0, conn_deferred_cb, c);
	c->flush = event_new(base, -1, 0, conn_flush_cb, c);
	if (tls_ctx != NULL) {
		SSL *ssl = SSL_new(tls_ctx);

		c->bev = bufferevent_openssl_socket_new(base, fd, ssl,
		    BUFFEREVENT_SSL_ACCEPTING,
		    BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
		c->bev_owns_fd = true;
		c->handshaking = true;
	} else {
		c->bev = bufferevent_socket_new(base, fd, BEV_OPT_DEFER_CALLBACKS);
	}
	conn_setup_bev(c);
	return c;
}

void
conn_free(struct conn **cp)
{
	struct conn *c = *cp;

	if (c == NULL)
		return;
	*cp = NULL;
	if (c->bev != NULL)
		bufferevent_free(c->bev);
	if (!c->bev_owns_fd)
		close(c->fd);
	event_free(c->deferred);
	event_free(c->flush);
	free(c);
}

struct evbuffer *
conn_input(struct conn *c)
{
	return bufferevent_get_input(c->bev);
}

struct evbuffer *
conn_output(struct conn *c)
{
	return bufferevent_get_output(c->bev);
}

size_t
conn_output_pending(struct conn *c)
{
	return evbuffer_get_length(bufferevent_get_output(c->bev));
}

void
conn_set_timeout(struct conn *c, unsigned seconds)
{
	c->timeout = seconds;
	if (!c->handshaking && !c->closing && !c->notified)
		conn_apply_timeouts(c);
}

void
conn_pause(struct conn *c)
{
	c->paused = true;
	if (!c->notified)
		conn_update_reading(c);
}

void
conn_resume(struct conn *c)
{
	if (!c->paused || c->notified)
		return;
	c->paused = false;
	conn_update_reading(c);
	if (evbuffer_get_length(bufferevent_get_input(c->bev)) > 0) {
		c->want_readable = true;
		conn_defer(c);
	}
}

void
conn_starttls(struct conn *c, SSL_CTX *ctx, unsigned handshake_timeout)
{
	struct evbuffer *in = bufferevent_get_input(c->bev);

	evbuffer_drain(in, evbuffer_get_length(in));
	c->want_readable = false;
	c->starttls_ctx = ctx;
	c->handshake_timeout = handshake_timeout;
	conn_update_reading(c);
	conn_defer(c);
}

void
conn_close_after_flush(struct conn *c, const char *reason)
{
	if (c->closing || c->notified)
		return;
	c->closing = true;
	c->close_reason = reason;
	conn_update_reading(c);
	conn_apply_timeouts(c);
	if (evbuffer_get_length(bufferevent_get_output(c->bev)) == 0) {
		c->close_now = true;
		conn_defer(c);
	}
}

bool
conn_is_tls(const struct conn *c)
{
	return c->is_tls;
}

SSL *
conn_ssl(const struct conn *c)
{
	if (!c->is_tls)
		return NULL;
	return bufferevent_openssl_get_ssl(c->bev);
}
