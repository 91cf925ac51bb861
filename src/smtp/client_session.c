/*
 * The outbound SMTP session; see client.h. One bufferevent per
 * connection: a socket bufferevent, replaced after STARTTLS by an OpenSSL
 * filter on top of it. Entering a state sends its command (sc_enter) and
 * that state's reply handler picks the next state (sc_on_reply).
 *
 * With PIPELINING (RFC 2920) MAIL, every RCPT and DATA leave as one
 * batch; the replies come back in order and walk the same states as in
 * lock-step, which only skips sending. So per-recipient results are the
 * same either way.
 *
 * A connection outlives its first message when the caller asks for
 * reuse: after the outcome of a message it idles (SC_IDLE) until
 * smtp_client_next (RSET, then the next MAIL), smtp_client_close (QUIT),
 * or the idle timer (QUIT and closed()).
 *
 * Everything the caller hears arrives through finish_ev, an event of its
 * own, so no callback runs inside a call the caller made, and the client
 * is freed only from there.
 */
#include "smtp/client.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "core/base64.h"
#include "core/buf.h"
#include "core/log.h"
#include "core/str.h"
#include "core/xmalloc.h"

/* A reply line longer than this is a broken or hostile peer (RFC 5321
 * 4.5.3.1.5 allows 512 octets). */
#define CLIENT_MAX_LINE		4096
/* Body pump: read this much per step, refill below the low mark. */
#define CLIENT_CHUNK		(16 * 1024)
#define CLIENT_OUT_HIGH		(128 * 1024)
#define CLIENT_OUT_LOW		(32 * 1024)
/* Header bytes looked at for our own Received field. */
#define CLIENT_HEAD_SCAN	(16 * 1024)
/* RFC 4616 2: authcid and passwd are at most 255 octets each. */
#define CLIENT_SECRET_MAX	255

enum sc_state {
	SC_CONNECT, SC_GREET, SC_EHLO, SC_HELO, SC_STARTTLS, SC_TLS,
	SC_AUTH_PLAIN, SC_AUTH_LOGIN, SC_AUTH_USER, SC_AUTH_PASS,
	SC_MAIL, SC_RCPT, SC_DATA, SC_BODY, SC_DOT, SC_RSET, SC_IDLE,
	SC_QUIT, SC_DONE
};

static const char *const sc_names[] = {
	"connect", "greeting", "ehlo", "helo", "starttls", "tls",
	"auth-plain", "auth-login", "auth-user", "auth-pass",
	"mail", "rcpt", "data", "body", "dot", "rset", "idle", "quit", "done"
};

/* One message: what smtp_client_start or _next was given, and results. */
struct sc_msg {
	char				*sender;
	size_t				 n_rcpt;
	char				**rcpt;
	struct smtp_client_rcpt_result	*res;
	bool				*accepted;
	int				 fd;
	off_t				 offset;
	uint64_t			 size;
	void				(*done)(void *,
					    const struct smtp_client_result *);
	void				*arg;
	bool				 is_8bit;	/* any byte >= 0x80 */
	bool				 needs_utf8;	/* RFC 6531 */
	bool				 batch;		/* pipelined */
	bool				 mail_failed;
	bool				 reported;	/* done() scheduled */
	size_t				 next_rcpt;	/* next RCPT reply */
	size_t				 n_accepted;
	bool				 body_eof;
	off_t				 body_off;
	struct smtp_stuffer		 stuffer;
};

struct smtp_client {
	struct event_base		*base;
	const struct config		*cfg;
	SSL_CTX				*tls_ctx;
	char				*tls_name;
	enum config_tls_outbound	 tls_mode;
	struct bufferevent		*bev;
	struct event			*finish_ev;
	enum sc_state			 state;
	struct smtp_reply_acc		 reply;
	struct smtp_reply_acc		 caps;		/* the last EHLO */
	bool				 is_tls;
	bool				 use_auth;	/* the smarthost */
	bool				 is_authed;
	bool				 reuse;
	bool				 closing;	/* no more messages */
	bool				 broken;	/* not reusable */
	unsigned			 idle_timeout;
	unsigned			 n_message;
	void				(*closed)(void *);
	void				*closed_arg;
	struct sc_msg			*msg;		/* current */
	struct sc_msg			*reporting;	/* inside done() */
	struct sc_msg			*done_msg;	/* done() pending */
	char				*peer;
	char				 tls_version[32];
	char				 cipher[64];
};

static void	sc_enter(struct smtp_client *, enum sc_state);
static void	sc_setup_bev(struct smtp_client *);
static void	sc_begin_message(struct smtp_client *);
static void	sc_give_up(struct smtp_client *, const char *prefix);

/* --- messages -------------------------------------------------------- */

static void
msg_free(struct sc_msg *m)
{
	if (m == NULL)
		return;
	for (size_t i = 0; i < m->n_rcpt; i++)
		free(m->rcpt[i]);
	free(m->rcpt);
	free(m->res);
	free(m->accepted);
	free(m->sender);
	free(m);
}

/*
 * Reads the message once: 8-bit content anywhere (then BODY=8BITMIME is
 * needed, RFC 6152) and whether our Received says it came in with
 * SMTPUTF8. A read error leaves both false; the body pump reports it.
 */
static void
msg_classify(struct sc_msg *m)
{
	char chunk[CLIENT_CHUNK];
	off_t off = m->offset;
	ssize_t n;

	while ((n = pread(m->fd, chunk, sizeof(chunk), off)) != 0) {
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			return;
		if (off == m->offset && smtp_head_received_utf8(chunk,
		    (size_t)n < CLIENT_HEAD_SCAN ? (size_t)n : CLIENT_HEAD_SCAN))
			m->needs_utf8 = true;
		if (!m->is_8bit && smtp_text_is_8bit(chunk, (size_t)n))
			m->is_8bit = true;
		off += n;
		if (m->is_8bit && off - m->offset >= CLIENT_CHUNK)
			break;	/* the answer cannot change any more */
	}
}

static struct sc_msg *
msg_new(const struct smtp_client_params *p)
{
	struct sc_msg *m = xcalloc(1, sizeof(*m));

	m->sender = xstrdup(p->sender);
	m->n_rcpt = p->n_rcpt;
	m->rcpt = xcalloc(p->n_rcpt, sizeof(*m->rcpt));
	for (size_t i = 0; i < p->n_rcpt; i++) {
		m->rcpt[i] = xstrdup(p->rcpt[i]);
		/* RFC 6531 3.7.5: a UTF-8 address needs SMTPUTF8. */
		if (smtp_text_is_8bit(m->rcpt[i], strlen(m->rcpt[i])))
			m->needs_utf8 = true;
	}
	if (smtp_text_is_8bit(m->sender, strlen(m->sender)))
		m->needs_utf8 = true;
	m->res = xcalloc(p->n_rcpt, sizeof(*m->res));
	m->accepted = xcalloc(p->n_rcpt, sizeof(*m->accepted));
	m->fd = p->msg_fd;
	m->offset = p->msg_offset;
	m->size = p->msg_size;
	m->done = p->done;
	m->arg = p->arg;
	msg_classify(m);
	return m;
}

/* --- output ---------------------------------------------------------- */

static void
sc_set_timeout(struct smtp_client *c, unsigned seconds)
{
	struct timeval tv = { (time_t)seconds, 0 };

	bufferevent_set_timeouts(c->bev, &tv, &tv);
}

static void
sc_send(struct smtp_client *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
sc_send(struct smtp_client *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	evbuffer_add_vprintf(bufferevent_get_output(c->bev), fmt, ap);
	va_end(ap);
	evbuffer_add(bufferevent_get_output(c->bev), "\r\n", 2);
}

/* Stores one recipient's outcome; the status comes from the text when it
 * is ours or the peer promised enhanced codes (RFC 2034). */
static void
sc_set_result(struct smtp_client *c, size_t i, int code, const char *text,
    bool ours)
{
	struct smtp_client_rcpt_result *r = &c->msg->res[i];

	r->code = code;
	(void)snprintf(r->reply, sizeof(r->reply), "%s", text);
	if (ours || c->caps.has_enhanced)
		(void)smtp_reply_status(r->reply, r->status);
	else
		r->status[0] = '\0';
}

/* Gives every recipient still without a final answer this result. */
static void
sc_fail_open(struct smtp_client *c, bool ours, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void
sc_fail_open(struct smtp_client *c, bool ours, int code, const char *fmt, ...)
{
	struct sc_msg *m = c->msg;
	char text[SMTP_REPLY_TEXT];
	va_list ap;

	if (m == NULL || m->reported)
		return;
	va_start(ap, fmt);
	(void)vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	for (size_t i = 0; i < m->n_rcpt; i++) {
		/* Refused ones keep the peer's own answer. */
		if (m->res[i].code != 0 && !m->accepted[i])
			continue;
		sc_set_result(c, i, code, text, ours);
		m->accepted[i] = false;
	}
}

/* --- ending ---------------------------------------------------------- */

/* The connection is over: report what is open, then free (finish_cb). */
static void
sc_finish(struct smtp_client *c)
{
	if (c->state == SC_DONE)
		return;
	c->state = SC_DONE;
	if (c->bev != NULL)
		bufferevent_disable(c->bev, EV_READ | EV_WRITE);
	if (c->msg != NULL && !c->msg->reported) {
		c->msg->reported = true;
		c->done_msg = c->msg;
	}
	event_active(c->finish_ev, EV_TIMEOUT, 0);
}

static void
sc_finish_cb(evutil_socket_t fd, short what, void *arg)
{
	struct smtp_client *c = arg;
	struct sc_msg *m = c->done_msg;

	(void)fd;
	(void)what;
	if (m != NULL) {
		struct smtp_client_result r = {
			.peer = c->peer,
			.tls = c->is_tls ? c->tls_version : "no",
			.cipher = c->is_tls ? c->cipher : "",
			.n_rcpt = m->n_rcpt,
			.rcpt = m->res,
			.pipelined = m->batch,
			.n_message = c->n_message,
			.reusable = c->state == SC_IDLE && !c->closing,
		};

		c->done_msg = NULL;
		c->reporting = m;
		m->done(m->arg, &r);
		c->reporting = NULL;
		/* smtp_client_next from done() replaced it. */
		if (m != c->msg)
			msg_free(m);
	}
	if (c->state == SC_DONE)
		smtp_client_free(&c);
}

/*
 * The outcome of the current message is known. With reuse and a sound
 * connection: report it and idle. Otherwise QUIT first, then report.
 */
static void
sc_message_end(struct smtp_client *c)
{
	struct timeval tv;

	if (!c->reuse || c->closing || c->broken) {
		sc_enter(c, SC_QUIT);
		return;
	}
	c->msg->reported = true;
	c->done_msg = c->msg;
	c->state = SC_IDLE;
	smtp_reply_acc_reset(&c->reply);
	/* Idle: only the read side is timed (the peer may hang up). */
	tv.tv_sec = (time_t)c->idle_timeout;
	tv.tv_usec = 0;
	bufferevent_set_timeouts(c->bev, &tv, NULL);
	event_active(c->finish_ev, EV_TIMEOUT, 0);
}

/* An idle connection ends by itself: tell the owner, then go. */
static void
sc_idle_end(struct smtp_client *c, bool say_quit)
{
	c->closing = true;
	/* With done() still pending, it says "not reusable" instead. */
	if (c->closed != NULL && c->done_msg == NULL)
		c->closed(c->closed_arg);
	if (say_quit)
		sc_enter(c, SC_QUIT);
	else
		sc_finish(c);
}

/* --- body ------------------------------------------------------------ */

static void
sc_body_pump(struct smtp_client *c)
{
	struct sc_msg *m = c->msg;
	struct evbuffer *out = bufferevent_get_output(c->bev);
	char in[CLIENT_CHUNK], wire[2 * CLIENT_CHUNK + 8];

	while (!m->body_eof && evbuffer_get_length(out) < CLIENT_OUT_HIGH) {
		ssize_t n = pread(m->fd, in, sizeof(in), m->body_off);

		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			sc_fail_open(c, true, 451, "451 4.3.0 reading the queued "
			    "message: %s", strerror(errno));
			sc_finish(c);
			return;
		}
		if (n == 0) {
			m->body_eof = true;
			evbuffer_add(out, wire, smtp_stuffer_end(&m->stuffer,
			    wire));
			sc_enter(c, SC_DOT);
			return;
		}
		m->body_off += n;
		evbuffer_add(out, wire, smtp_stuffer_feed(&m->stuffer, in,
		    (size_t)n, wire));
	}
}

/* --- AUTH (RFC 4954) ------------------------------------------------- */

/*
 * Reads the smarthost password: the first line of a regular file that
 * neither group nor others may read (checked on the open file, so a swap
 * after the check does not matter). Returns the length, or -1 with why.
 */
static int
sc_read_secret(const struct config *cfg, char *out, size_t outsz,
    const char **why)
{
	int fd = open(cfg->relay_auth_password_file, O_RDONLY | O_CLOEXEC |
	    O_NOFOLLOW | O_NONBLOCK);
	struct stat st;
	ssize_t n;
	size_t len;

	*why = NULL;
	if (fd == -1) {
		*why = strerror(errno);
		return -1;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode))
		*why = "not a regular file";
	else if ((st.st_mode & 077) != 0)
		*why = "readable or writable by group or others";
	if (*why != NULL) {
		close(fd);
		return -1;
	}
	do
		n = read(fd, out, outsz - 1);
	while (n == -1 && errno == EINTR);
	close(fd);
	if (n == -1) {
		*why = "read failed";
		return -1;
	}
	out[n] = '\0';
	len = strcspn(out, "\r\n");
	out[len] = '\0';
	if (len == 0 || len > CLIENT_SECRET_MAX) {
		explicit_bzero(out, outsz);
		*why = len == 0 ? "empty" : "longer than 255 bytes";
		return -1;
	}
	return (int)len;
}

/* Sends "prefix" + base64(data) + CRLF, then wipes the encoding. */
static int
sc_send_b64(struct smtp_client *c, const char *prefix, const void *data,
    size_t len)
{
	struct buf b;
	int rc = -1;

	buf_init(&b, 2048);
	if (buf_append_str(&b, prefix) == 0 && base64_encode(&b, data,
	    len) == 0 && buf_append_str(&b, "\r\n") == 0) {
		evbuffer_add(bufferevent_get_output(c->bev), b.data, b.len);
		rc = 0;
	}
	buf_wipe(&b);
	return rc;
}

/* Sends the credentials for this AUTH step; never logs them. */
static void
sc_send_auth(struct smtp_client *c, enum sc_state st)
{
	const struct config *cfg = c->cfg;
	char secret[CLIENT_SECRET_MAX + 2];
	char plain[2 * CLIENT_SECRET_MAX + 3];
	const char *why = NULL;
	size_t ulen = strlen(cfg->relay_auth_user);
	int plen = 0, rc = 0;

	if (st == SC_AUTH_LOGIN) {
		sc_send(c, "AUTH LOGIN");
		return;
	}
	if (st == SC_AUTH_USER) {
		rc = sc_send_b64(c, "", cfg->relay_auth_user, ulen);
		goto out;
	}
	if ((plen = sc_read_secret(cfg, secret, sizeof(secret), &why)) == -1) {
		log_warn("relay peer=%s event=auth-failed user=%s "
		    "error=\"relay_auth_password_file %s: %s\"", c->peer,
		    cfg->relay_auth_user, cfg->relay_auth_password_file, why);
		sc_fail_open(c, true, 451, "451 4.7.0 smarthost password "
		    "unusable (relay_auth_password_file: %s)", why);
		c->broken = true;
		sc_enter(c, SC_QUIT);
		return;
	}
	if (st == SC_AUTH_PASS)
		rc = sc_send_b64(c, "", secret, (size_t)plen);
	else {
		/* RFC 4616 2: [authzid] NUL authcid NUL passwd. */
		plain[0] = '\0';
		memcpy(plain + 1, cfg->relay_auth_user, ulen);
		plain[1 + ulen] = '\0';
		memcpy(plain + 2 + ulen, secret, (size_t)plen);
		rc = sc_send_b64(c, "AUTH PLAIN ", plain, 2 + ulen +
		    (size_t)plen);
	}
	explicit_bzero(secret, sizeof(secret));
	explicit_bzero(plain, sizeof(plain));
out:
	if (rc == -1) {
		sc_fail_open(c, true, 451, "451 4.7.0 AUTH encoding failed");
		sc_finish(c);
	}
}

/* --- states ---------------------------------------------------------- */

/* MAIL FROM with the parameters the message and the peer call for. */
static void
sc_send_mail(struct smtp_client *c)
{
	struct sc_msg *m = c->msg;
	char size[40] = "";

	if (c->caps.has_size)
		(void)snprintf(size, sizeof(size), " SIZE=%llu",
		    (unsigned long long)m->size);
	sc_send(c, "MAIL FROM:<%s>%s%s%s", m->sender, size,
	    m->is_8bit && c->caps.has_8bitmime ? " BODY=8BITMIME" : "",
	    m->needs_utf8 ? " SMTPUTF8" : "");
}

/* Entering a state sends its command and arms its RFC 5321 4.5.3.2 timer. */
static void
sc_enter(struct smtp_client *c, enum sc_state st)
{
	const struct config *cfg = c->cfg;
	struct sc_msg *m = c->msg;

	log_debug("relay peer=%s event=state old=%s new=%s", c->peer,
	    sc_names[c->state], sc_names[st]);
	c->state = st;
	smtp_reply_acc_reset(&c->reply);
	switch (st) {
	case SC_GREET:
		sc_set_timeout(c, cfg->timeout_relay_greeting);
		break;
	case SC_EHLO:
		sc_send(c, "EHLO %s", cfg->hostname);
		sc_set_timeout(c, cfg->timeout_relay_mail);
		break;
	case SC_HELO:
		sc_send(c, "HELO %s", cfg->hostname);
		sc_set_timeout(c, cfg->timeout_relay_mail);
		break;
	case SC_STARTTLS:
		sc_send(c, "STARTTLS");
		sc_set_timeout(c, cfg->timeout_relay_mail);
		break;
	case SC_AUTH_PLAIN: case SC_AUTH_LOGIN: case SC_AUTH_USER:
	case SC_AUTH_PASS:
		sc_set_timeout(c, cfg->timeout_relay_mail);
		sc_send_auth(c, st);
		break;
	case SC_MAIL:
		if (!m->batch)
			sc_send_mail(c);
		sc_set_timeout(c, cfg->timeout_relay_mail);
		break;
	case SC_RCPT:
		if (!m->batch)
			sc_send(c, "RCPT TO:<%s>", m->rcpt[m->next_rcpt]);
		sc_set_timeout(c, cfg->timeout_relay_rcpt);
		break;
	case SC_DATA:
		if (!m->batch)
			sc_send(c, "DATA");
		sc_set_timeout(c, cfg->timeout_relay_data);
		break;
	case SC_BODY: {
		struct timeval tv = { (time_t)cfg->timeout_relay_data_block, 0 };

		/* RFC 5321 4.5.3.2.5: each send must progress within the
		 * data block time; the peer says nothing until the dot. */
		bufferevent_set_timeouts(c->bev, NULL, &tv);
		smtp_stuffer_init(&m->stuffer);
		m->body_off = m->offset;
		sc_body_pump(c);
		break;
	}
	case SC_DOT:
		sc_set_timeout(c, cfg->timeout_relay_dot);
		break;
	case SC_RSET:
		sc_send(c, "RSET");
		sc_set_timeout(c, cfg->timeout_relay_mail);
		break;
	case SC_QUIT:
		sc_send(c, "QUIT");
		sc_set_timeout(c, cfg->timeout_relay_mail);
		/* A timeout (the idle one) disabled reading. */
		bufferevent_enable(c->bev, EV_READ | EV_WRITE);
		break;
	default:
		break;
	}
}

/* The CA store for verify, loaded once per context on first need (the
 * runner loads it up front when tls_outbound itself is verify). */
static void
sc_load_ca(SSL_CTX *ctx)
{
	static SSL_CTX *loaded;

	if (loaded == ctx)
		return;
	loaded = ctx;
	if (SSL_CTX_set_default_verify_paths(ctx) != 1)
		log_warn("relay event=no-ca-store");
}

static void
sc_start_tls(struct smtp_client *c)
{
	SSL *ssl = SSL_new(c->tls_ctx);
	struct bufferevent *tls;

	if (ssl == NULL) {
		sc_fail_open(c, true, 451, "451 4.7.0 TLS setup failed");
		sc_finish(c);
		return;
	}
	if (c->tls_name != NULL && c->tls_name[0] != '\0') {
		X509_VERIFY_PARAM *vp = SSL_get0_param(ssl);

		/* An address route is checked as an IP SAN, a name as a DNS one. */
		if (X509_VERIFY_PARAM_set1_ip_asc(vp, c->tls_name) != 1) {
			SSL_set_tlsext_host_name(ssl, c->tls_name);
			(void)SSL_set1_host(ssl, c->tls_name);
		}
	}
	if (c->tls_mode == TLS_OUTBOUND_VERIFY) {
		sc_load_ca(c->tls_ctx);
		SSL_set_verify(ssl, SSL_VERIFY_PEER, NULL);
	}
	/* Anything the peer sent after its 220 must not be read as TLS. */
	evbuffer_drain(bufferevent_get_input(c->bev),
	    evbuffer_get_length(bufferevent_get_input(c->bev)));
	tls = bufferevent_openssl_filter_new(c->base, c->bev, ssl,
	    BUFFEREVENT_SSL_CONNECTING, BEV_OPT_CLOSE_ON_FREE |
	    BEV_OPT_DEFER_CALLBACKS);
	if (tls == NULL) {
		sc_fail_open(c, true, 451, "451 4.7.0 TLS setup failed");
		sc_finish(c);
		return;
	}
	c->bev = tls;
	c->state = SC_TLS;
	sc_setup_bev(c);
	sc_set_timeout(c, c->cfg->timeout_tls_handshake);
}

static const char *
tls_mode_name(enum config_tls_outbound mode)
{
	return mode == TLS_OUTBOUND_VERIFY ? "verify" :
	    mode == TLS_OUTBOUND_ENCRYPT ? "encrypt" : "may";
}

/* A failure of ours that keeps the connection usable for the next one. */
static void
sc_refuse_message(struct smtp_client *c, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
sc_refuse_message(struct smtp_client *c, int code, const char *fmt, ...)
{
	char text[SMTP_REPLY_TEXT];
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	sc_fail_open(c, true, code, "%s", text);
	sc_message_end(c);
}

/* After (re-)EHLO: STARTTLS when offered and not yet used, AUTH to the
 * smarthost, then the message. */
static void
sc_after_ehlo(struct smtp_client *c)
{
	if (!c->is_tls && c->caps.has_starttls && c->tls_ctx != NULL) {
		sc_enter(c, SC_STARTTLS);
		return;
	}
	if (!c->is_tls && c->tls_mode != TLS_OUTBOUND_MAY) {
		/* A policy failure is ours to retry, not the sender's fault. */
		c->broken = true;
		sc_fail_open(c, true, 451, "451 4.7.5 TLS is required "
		    "(tls_outbound = %s) but the peer does not offer STARTTLS",
		    tls_mode_name(c->tls_mode));
		sc_enter(c, SC_QUIT);
		return;
	}
	if (c->use_auth && !c->is_authed) {
		c->broken = true;
		if (!c->is_tls) {
			/* Credentials never travel in the clear. */
			log_warn("relay peer=%s event=auth-refused user=%s "
			    "reason=\"no TLS: the smarthost did not offer "
			    "STARTTLS\"", c->peer, c->cfg->relay_auth_user);
			sc_fail_open(c, true, 451, "451 4.7.0 not sending "
			    "smarthost credentials without TLS (no STARTTLS)");
			sc_enter(c, SC_QUIT);
		} else if (c->caps.has_auth_plain)
			sc_enter(c, SC_AUTH_PLAIN);
		else if (c->caps.has_auth_login)
			sc_enter(c, SC_AUTH_LOGIN);
		else {
			log_warn("relay peer=%s event=auth-refused user=%s "
			    "reason=\"no AUTH PLAIN or LOGIN offered\"", c->peer,
			    c->cfg->relay_auth_user);
			sc_fail_open(c, true, 451, "451 4.7.0 the smarthost "
			    "offers neither AUTH PLAIN nor AUTH LOGIN");
			sc_enter(c, SC_QUIT);
		}
		return;
	}
	sc_begin_message(c);
}

/*
 * Checks the message against what the peer announced, then sends MAIL
 * (with RCPT and DATA when pipelining).
 */
static void
sc_begin_message(struct smtp_client *c)
{
	struct sc_msg *m = c->msg;

	c->n_message++;
	/* RFC 1870 6: do not send what the peer said it will refuse. */
	if (c->caps.size > 0 && m->size > c->caps.size) {
		sc_refuse_message(c, 552, "552 5.3.4 message size %llu exceeds "
		    "the limit of %llu the peer announced",
		    (unsigned long long)m->size,
		    (unsigned long long)c->caps.size);
		return;
	}
	/* RFC 6531 3.7.5: no downgrade; a UTF-8 message needs SMTPUTF8. */
	if (m->needs_utf8 && !c->caps.has_smtputf8) {
		sc_refuse_message(c, 553, "553 5.6.7 the message needs SMTPUTF8 "
		    "(a UTF-8 address or header) but the peer does not support "
		    "it (RFC 6531 3.7.5)");
		return;
	}
	/* RFC 6152 3: 8-bit data only to a peer with 8BITMIME; we do not
	 * convert to 7 bits. */
	if (m->is_8bit && !c->caps.has_8bitmime) {
		sc_refuse_message(c, 554, "554 5.6.3 the message has 8-bit "
		    "content but the peer does not support 8BITMIME");
		return;
	}
	m->next_rcpt = 0;
	if (c->caps.has_pipelining) {
		/* RFC 2920 3.1: DATA may end the batch; replies in order. */
		m->batch = true;
		sc_send_mail(c);
		for (size_t i = 0; i < m->n_rcpt; i++)
			sc_send(c, "RCPT TO:<%s>", m->rcpt[i]);
		sc_send(c, "DATA");
	}
	sc_enter(c, SC_MAIL);
}

static void
sc_on_ehlo(struct smtp_client *c, int code)
{
	bool ok = code >= 200 && code < 300;

	if (ok) {
		c->caps = c->reply;
		sc_after_ehlo(c);
	} else if (code >= 500 && !c->is_tls)
		sc_enter(c, SC_HELO);	/* RFC 5321 3.2 */
	else
		sc_give_up(c, NULL);
}

static void
sc_on_auth(struct smtp_client *c, int code)
{
	if (code == 334 && c->state == SC_AUTH_LOGIN) {
		sc_enter(c, SC_AUTH_USER);
		return;
	}
	if (code == 334 && c->state == SC_AUTH_USER) {
		sc_enter(c, SC_AUTH_PASS);
		return;
	}
	if (code == 235) {
		c->is_authed = true;
		c->broken = false;
		log_info("relay peer=%s event=auth user=%s mech=%s result=ok",
		    c->peer, c->cfg->relay_auth_user, c->state ==
		    SC_AUTH_PLAIN ? "PLAIN" : "LOGIN");
		sc_begin_message(c);
		return;
	}
	/*
	 * A refused login is a configuration problem here, not the
	 * sender's: temporary, so mail waits for the fix (a 334 where none
	 * was due is a broken exchange; cancel it by hanging up).
	 */
	log_warn("relay peer=%s event=auth-failed user=%s reply=\"%s\"",
	    c->peer, c->cfg->relay_auth_user, c->reply.text);
	sc_fail_open(c, true, 451, "451 4.7.0 smarthost refused AUTH: %s",
	    c->reply.text);
	if (code == 334)
		sc_finish(c);
	else
		sc_enter(c, SC_QUIT);
}

static void
sc_on_rcpt(struct smtp_client *c, int code)
{
	struct sc_msg *m = c->msg;
	size_t i = m->next_rcpt++;

	/* After a refused MAIL the recipients keep MAIL's answer; a
	 * pipelined RCPT then only gets "503 need MAIL" anyway. */
	if (!m->mail_failed) {
		sc_set_result(c, i, code, c->reply.text, false);
		if (code >= 200 && code < 300) {
			m->accepted[i] = true;
			m->n_accepted++;
		}
	}
	if (m->next_rcpt < m->n_rcpt)
		sc_enter(c, SC_RCPT);
	else if (m->batch || m->n_accepted > 0)
		sc_enter(c, SC_DATA);
	else
		sc_message_end(c);
}

static void
sc_on_data(struct smtp_client *c, int code)
{
	struct sc_msg *m = c->msg;

	if (code == 354 && m->n_accepted == 0) {
		/* RFC 2920 3.1: a pipelined DATA accepted with no recipient;
		 * end it with an empty message (all results are known). */
		evbuffer_add(bufferevent_get_output(c->bev), ".\r\n", 3);
		sc_enter(c, SC_DOT);
	} else if (code == 354)
		sc_enter(c, SC_BODY);
	else {
		sc_fail_open(c, false, code, "%s", c->reply.text);
		if (code == 421)
			c->broken = true;
		sc_message_end(c);
	}
}

/*
 * The connection is no good for this message (nor a next one): every open
 * recipient gets the peer's reply, or ours (prefix: the peer's reply
 * follows it), then QUIT.
 */
static void
sc_give_up(struct smtp_client *c, const char *prefix)
{
	c->broken = true;
	if (prefix == NULL)
		sc_fail_open(c, false, c->reply.code, "%s", c->reply.text);
	else
		sc_fail_open(c, true, 451, "%s: %s", prefix, c->reply.text);
	sc_enter(c, SC_QUIT);
}

static void
sc_on_starttls(struct smtp_client *c, int code)
{
	if (code == 220)
		sc_start_tls(c);
	else if (c->tls_mode == TLS_OUTBOUND_MAY && !c->use_auth) {
		c->tls_ctx = NULL;	/* no second STARTTLS */
		sc_after_ehlo(c);
	} else
		sc_give_up(c, "451 4.7.5 STARTTLS refused");
}

static void
sc_on_mail(struct smtp_client *c, int code)
{
	if (code >= 200 && code < 300) {
		sc_enter(c, SC_RCPT);
		return;
	}
	sc_fail_open(c, false, code, "%s", c->reply.text);
	c->msg->mail_failed = true;
	if (c->msg->batch)
		sc_enter(c, SC_RCPT);	/* the RCPT and DATA replies are due */
	else
		sc_message_end(c);
}

/* The reply to the current state's command is complete: pick the next. */
static void
sc_on_reply(struct smtp_client *c)
{
	int code = c->reply.code;
	bool ok = code >= 200 && code < 300;

	/* RFC 5321 3.8: 421 means the peer is closing the channel. */
	if (code == 421)
		c->broken = true;
	switch (c->state) {
	case SC_GREET:
		if (code == 220)
			sc_enter(c, SC_EHLO);
		else
			sc_give_up(c, NULL);
		return;
	case SC_EHLO:
		sc_on_ehlo(c, code);
		return;
	case SC_HELO:
		memset(&c->caps, 0, sizeof(c->caps));
		if (ok)
			sc_after_ehlo(c);
		else
			sc_give_up(c, NULL);
		return;
	case SC_STARTTLS:
		sc_on_starttls(c, code);
		return;
	case SC_AUTH_PLAIN: case SC_AUTH_LOGIN: case SC_AUTH_USER:
	case SC_AUTH_PASS:
		sc_on_auth(c, code);
		return;
	case SC_MAIL:
		sc_on_mail(c, code);
		return;
	case SC_RCPT:
		sc_on_rcpt(c, code);
		return;
	case SC_DATA:
		sc_on_data(c, code);
		return;
	case SC_DOT:
		/* The final reply applies to every accepted recipient. */
		sc_fail_open(c, false, code, "%s", c->reply.text);
		sc_message_end(c);
		return;
	case SC_RSET:
		if (ok)
			sc_begin_message(c);
		else
			sc_give_up(c, "451 4.4.2 RSET refused on a reused "
			    "connection");
		return;
	case SC_IDLE:
		/* Unprompted, e.g. "421 idle too long": the peer goes. */
		sc_idle_end(c, false);
		return;
	case SC_QUIT:
		sc_finish(c);
		return;
	default:
		return;
	}
}

static void
sc_read_cb(struct bufferevent *bev, void *arg)
{
	struct smtp_client *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);

	while (c->state != SC_DONE && c->state != SC_TLS) {
		size_t len;
		char *line = evbuffer_readln(in, &len, EVBUFFER_EOL_CRLF);
		int rc;

		if (line == NULL) {
			if (evbuffer_get_length(in) > CLIENT_MAX_LINE) {
				sc_fail_open(c, true, 451, "451 4.5.0 reply line "
				    "too long");
				sc_finish(c);
			}
			return;
		}
		if (c->state == SC_BODY || c->state == SC_CONNECT) {
			/* Nothing may come while we send; a peer that talks
			 * here has given up on the transaction. */
			free(line);
			sc_fail_open(c, true, 451, "451 4.5.0 unexpected reply "
			    "while sending data");
			sc_finish(c);
			return;
		}
		rc = len > CLIENT_MAX_LINE ? -1 :
		    smtp_reply_acc_line(&c->reply, line, len);
		free(line);
		if (rc == -1) {
			sc_fail_open(c, true, 451, "451 4.5.0 malformed reply "
			    "from the peer");
			sc_finish(c);
			return;
		}
		if (rc == 1)
			sc_on_reply(c);
	}
}

static void
sc_write_cb(struct bufferevent *bev, void *arg)
{
	struct smtp_client *c = arg;

	(void)bev;
	if (c->state == SC_BODY)
		sc_body_pump(c);
}

static void
sc_tls_up(struct smtp_client *c)
{
	SSL *ssl = bufferevent_openssl_get_ssl(c->bev);

	c->is_tls = true;
	(void)snprintf(c->tls_version, sizeof(c->tls_version), "%s",
	    SSL_get_version(ssl));
	(void)snprintf(c->cipher, sizeof(c->cipher), "%s",
	    SSL_get_cipher_name(ssl));
	/* RFC 3207 4.2: forget what EHLO said in the clear. */
	memset(&c->caps, 0, sizeof(c->caps));
	sc_enter(c, SC_EHLO);
}

static void
sc_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct smtp_client *c = arg;

	(void)bev;
	if (c->state == SC_DONE)
		return;
	if (what & BEV_EVENT_CONNECTED) {
		if (c->state == SC_CONNECT)
			sc_enter(c, SC_GREET);
		else if (c->state == SC_TLS)
			sc_tls_up(c);
		return;
	}
	if (c->state == SC_IDLE) {
		/* Idle timer: say goodbye; the peer gone: just go. */
		sc_idle_end(c, (what & BEV_EVENT_TIMEOUT) != 0);
		return;
	}
	if (c->state == SC_QUIT) {
		/* The outcome is known; a peer that hangs up on QUIT is fine. */
		sc_finish(c);
		return;
	}
	if (what & BEV_EVENT_TIMEOUT)
		sc_fail_open(c, true, 451, "451 4.4.2 timeout in state %s",
		    sc_names[c->state]);
	else if (c->state == SC_CONNECT)
		sc_fail_open(c, true, 451, "451 4.4.1 connect to %s failed: %s",
		    c->peer, evutil_socket_error_to_string(
		    EVUTIL_SOCKET_ERROR()));
	else if (c->state == SC_TLS) {
		unsigned long e = bufferevent_get_openssl_error(c->bev);
		char reason[160] = "handshake failed";

		if (e != 0)
			ERR_error_string_n(e, reason, sizeof(reason));
		sc_fail_open(c, true, 451, "451 4.7.5 TLS with %s failed: %s",
		    c->peer, reason);
	} else
		sc_fail_open(c, true, 451, "451 4.4.2 connection lost in state "
		    "%s", sc_names[c->state]);
	sc_finish(c);
}

static void
sc_setup_bev(struct smtp_client *c)
{
	bufferevent_setcb(c->bev, sc_read_cb, sc_write_cb, sc_event_cb, c);
	bufferevent_setwatermark(c->bev, EV_WRITE, CLIENT_OUT_LOW, 0);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
}

/* --- the interface --------------------------------------------------- */

/* Same family, address and port. */
static bool
sockaddr_same(const struct sockaddr *a, const struct sockaddr_storage *b)
{
	if (a == NULL || a->sa_family != b->ss_family)
		return false;
	if (a->sa_family == AF_INET) {
		const struct sockaddr_in *x = (const struct sockaddr_in *)a;
		const struct sockaddr_in *y = (const struct sockaddr_in *)b;

		return x->sin_port == y->sin_port &&
		    x->sin_addr.s_addr == y->sin_addr.s_addr;
	}
	if (a->sa_family == AF_INET6) {
		const struct sockaddr_in6 *x = (const struct sockaddr_in6 *)a;
		const struct sockaddr_in6 *y = (const struct sockaddr_in6 *)b;

		return x->sin6_port == y->sin6_port && memcmp(&x->sin6_addr,
		    &y->sin6_addr, sizeof(x->sin6_addr)) == 0;
	}
	return false;
}

struct smtp_client *
smtp_client_start(const struct smtp_client_params *p)
{
	const struct config *cfg = p->cfg;
	struct smtp_client *c = xcalloc(1, sizeof(*c));

	c->base = p->base;
	c->cfg = cfg;
	c->tls_ctx = p->tls_ctx;
	c->tls_name = p->tls_name != NULL ? xstrdup(p->tls_name) : NULL;
	c->tls_mode = p->tls_mode != NULL ? *p->tls_mode : cfg->tls_outbound;
	c->use_auth = cfg->relay_auth_user != NULL &&
	    cfg->relay_auth_password_file != NULL && (p->is_relay_host ||
	    (cfg->has_relay_host && sockaddr_same(p->addr,
	    &cfg->relay_host.hop.addr)));
	c->reuse = p->reuse;
	c->idle_timeout = p->idle_timeout != 0 ? p->idle_timeout :
	    SMTP_CLIENT_IDLE_DEFAULT;
	c->closed = p->closed;
	c->closed_arg = p->closed_arg;
	c->peer = xstrdup(p->peer_text);
	c->msg = msg_new(p);
	c->finish_ev = event_new(c->base, -1, 0, sc_finish_cb, c);
	c->state = SC_CONNECT;
	c->bev = bufferevent_socket_new(c->base, -1, BEV_OPT_CLOSE_ON_FREE |
	    BEV_OPT_DEFER_CALLBACKS);
	sc_setup_bev(c);
	sc_set_timeout(c, cfg->timeout_relay_connect);
	if (bufferevent_socket_connect(c->bev, p->addr, (int)p->addrlen) != 0) {
		sc_fail_open(c, true, 451, "451 4.4.1 connect to %s failed: %s",
		    c->peer, strerror(errno));
		sc_finish(c);
	}
	return c;
}

int
smtp_client_next(struct smtp_client *c, const struct smtp_client_params *p)
{
	/* Idle, and done() has been called (it said reusable). */
	if (c == NULL || c->state != SC_IDLE || c->closing ||
	    c->done_msg != NULL)
		return -1;
	/* Inside done() the old message is still being reported. */
	if (c->msg != c->reporting)
		msg_free(c->msg);
	c->msg = msg_new(p);
	if (p->closed != NULL) {
		c->closed = p->closed;
		c->closed_arg = p->closed_arg;
	}
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	/* RFC 5321 4.1.1.5: a clean slate (and a check that the peer is
	 * still there) before the next transaction. */
	sc_enter(c, SC_RSET);
	return 0;
}

void
smtp_client_close(struct smtp_client **cp)
{
	struct smtp_client *c = *cp;

	if (c == NULL)
		return;
	*cp = NULL;
	c->closing = true;
	c->closed = NULL;
	if (c->state == SC_IDLE)
		sc_enter(c, SC_QUIT);
	else if (c->state != SC_QUIT)
		sc_finish(c);
}

void
smtp_client_free(struct smtp_client **cp)
{
	struct smtp_client *c = *cp;

	if (c == NULL)
		return;
	*cp = NULL;
	if (c->bev != NULL)
		bufferevent_free(c->bev);
	event_free(c->finish_ev);
	if (c->done_msg != NULL && c->done_msg != c->msg)
		msg_free(c->done_msg);
	msg_free(c->msg);
	free(c->peer);
	free(c->tls_name);
	free(c);
}
