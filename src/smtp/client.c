/*
 * Outbound SMTP client; see client.h. One bufferevent per delivery: a
 * socket bufferevent, replaced after STARTTLS by an OpenSSL filter on top
 * of it. No PIPELINING: one command, one reply, which keeps per-recipient
 * results exact and costs a round trip per recipient.
 */
#include "smtp/client.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

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

/* --- replies --------------------------------------------------------- */

void
smtp_reply_acc_reset(struct smtp_reply_acc *a)
{
	memset(a, 0, sizeof(*a));
}

static void
acc_keyword(struct smtp_reply_acc *a, struct str_view kw)
{
	struct str_view word;

	if (str_take_word(&kw, &word, 64) != 0)
		return;
	if (str_case_eq(word, "STARTTLS"))
		a->has_starttls = true;
	else if (str_case_eq(word, "SIZE")) {
		uint64_t n = 0;

		a->has_size = true;
		str_skip_space(&kw);
		if (kw.len > 0 && str_parse_u64(&kw, &n, UINT64_MAX / 2) == 0)
			a->size = n;
	}
}

int
smtp_reply_acc_line(struct smtp_reply_acc *a, const char *line, size_t len)
{
	int code;
	bool last;
	struct str_view text;

	if (len < 3 || a->lines >= SMTP_REPLY_MAX_LINES)
		return -1;
	for (int i = 0; i < 3; i++)
		if (line[i] < '0' || line[i] > '9')
			return -1;
	code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
	if (code < 200 || code > 599 || (a->code != 0 && code != a->code))
		return -1;
	if (len > 3 && line[3] != ' ' && line[3] != '-')
		return -1;
	last = len == 3 || line[3] == ' ';
	a->code = code;
	text = str_view_make(line + (len > 3 ? 4 : 3), len > 3 ? len - 4 : 0);
	if (a->lines > 0)
		acc_keyword(a, text);
	/* Keep "NNN first line" and as much of the rest as fits. */
	if (a->lines == 0) {
		int n = snprintf(a->text, sizeof(a->text), "%d", code);

		a->text_len = n > 0 ? (size_t)n : 0;
	}
	if (text.len > 0 && a->text_len + 2 < sizeof(a->text)) {
		size_t room = sizeof(a->text) - a->text_len - 2;
		size_t n = text.len < room ? text.len : room;

		a->text[a->text_len++] = ' ';
		for (size_t i = 0; i < n; i++) {
			char c = text.p[i];

			/* Control bytes would garble envelopes and logs. */
			a->text[a->text_len++] = (c >= 0x20 && c < 0x7f) ? c : '?';
		}
		a->text[a->text_len] = '\0';
	}
	a->lines++;
	return last ? 1 : 0;
}

/* --- dot-stuffing ---------------------------------------------------- */

void
smtp_stuffer_init(struct smtp_stuffer *s)
{
	s->at_bol = true;
	s->last = '\0';
	s->any = false;
}

size_t
smtp_stuffer_feed(struct smtp_stuffer *s, const char *in, size_t len,
    char *out)
{
	size_t o = 0;

	for (size_t i = 0; i < len; i++) {
		char c = in[i];

		/* RFC 5321 4.5.2: a line starting with '.' gets one more. */
		if (s->at_bol && c == '.')
			out[o++] = '.';
		/* The wire needs CRLF; a stored bare LF is converted. */
		if (c == '\n' && s->last != '\r')
			out[o++] = '\r';
		out[o++] = c;
		s->at_bol = c == '\n';
		s->last = c;
		s->any = true;
	}
	return o;
}

size_t
smtp_stuffer_end(struct smtp_stuffer *s, char *out)
{
	size_t o = 0;

	if (s->any && !(s->last == '\n' && s->at_bol)) {
		out[o++] = '\r';
		out[o++] = '\n';
	}
	memcpy(out + o, ".\r\n", 3);
	return o + 3;
}

/* --- the client ------------------------------------------------------ */

enum sc_state {
	SC_CONNECT, SC_GREET, SC_EHLO, SC_HELO, SC_STARTTLS, SC_TLS,
	SC_MAIL, SC_RCPT, SC_DATA, SC_BODY, SC_DOT, SC_QUIT, SC_DONE
};

static const char *const sc_names[] = {
	"connect", "greeting", "ehlo", "helo", "starttls", "tls", "mail",
	"rcpt", "data", "body", "dot", "quit", "done"
};

struct smtp_client {
	struct smtp_client_params	 p;
	struct event_base		*base;
	struct bufferevent		*bev;
	struct event			*finish_ev;
	enum sc_state			 state;
	struct smtp_reply_acc		 reply;
	bool				 is_tls;
	bool				 peer_starttls;
	bool				 peer_has_size;
	uint64_t			 peer_size;	/* 0 = no limit given */
	size_t				 next_rcpt;	/* in SC_RCPT */
	size_t				 n_accepted;
	bool				 body_eof;
	off_t				 body_off;
	struct smtp_stuffer		 stuffer;
	char				*peer;
	char				*sender;
	char				**rcpt;
	struct smtp_client_rcpt_result	*res;
	bool				*accepted;
	char				 tls_version[32];
	char				 cipher[64];
};

static void	sc_enter(struct smtp_client *, enum sc_state);
static void	sc_setup_bev(struct smtp_client *);

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

/* Gives every recipient still without a final answer this result. */
static void
sc_fail_open(struct smtp_client *c, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
sc_fail_open(struct smtp_client *c, int code, const char *fmt, ...)
{
	char text[SMTP_REPLY_TEXT];
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	for (size_t i = 0; i < c->p.n_rcpt; i++) {
		/* Refused ones keep the peer's own answer. */
		if (c->res[i].code != 0 && !c->accepted[i])
			continue;
		c->res[i].code = code;
		(void)snprintf(c->res[i].reply, sizeof(c->res[i].reply), "%s",
		    text);
		c->accepted[i] = false;
	}
}

static void
sc_finish(struct smtp_client *c)
{
	if (c->state == SC_DONE)
		return;
	c->state = SC_DONE;
	if (c->bev != NULL)
		bufferevent_disable(c->bev, EV_READ | EV_WRITE);
	event_active(c->finish_ev, EV_TIMEOUT, 0);
}

static void
sc_finish_cb(evutil_socket_t fd, short what, void *arg)
{
	struct smtp_client *c = arg;
	struct smtp_client_result r = {
		.peer = c->peer,
		.tls = c->is_tls ? c->tls_version : "no",
		.cipher = c->is_tls ? c->cipher : "",
		.n_rcpt = c->p.n_rcpt,
		.rcpt = c->res,
	};

	(void)fd;
	(void)what;
	c->p.done(c->p.arg, &r);
	smtp_client_free(&c);
}

/* Ends the session politely once the outcome is known. */
static void
sc_quit(struct smtp_client *c)
{
	sc_enter(c, SC_QUIT);
}

static void
sc_body_pump(struct smtp_client *c)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);
	char in[CLIENT_CHUNK], wire[2 * CLIENT_CHUNK + 8];

	while (!c->body_eof && evbuffer_get_length(out) < CLIENT_OUT_HIGH) {
		ssize_t n = pread(c->p.msg_fd, in, sizeof(in), c->body_off);

		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			sc_fail_open(c, 451, "451 4.3.0 reading the queued "
			    "message: %s", strerror(errno));
			sc_finish(c);
			return;
		}
		if (n == 0) {
			c->body_eof = true;
			evbuffer_add(out, wire, smtp_stuffer_end(&c->stuffer,
			    wire));
			sc_enter(c, SC_DOT);
			return;
		}
		c->body_off += n;
		evbuffer_add(out, wire, smtp_stuffer_feed(&c->stuffer, in,
		    (size_t)n, wire));
	}
}

/* Entering a state sends its command and arms its RFC 5321 4.5.3.2 timer. */
static void
sc_enter(struct smtp_client *c, enum sc_state st)
{
	const struct config *cfg = c->p.cfg;

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
	case SC_MAIL:
		if (c->peer_size > 0 && c->p.msg_size > c->peer_size) {
			sc_fail_open(c, 552, "552 5.3.4 message size %llu "
			    "exceeds the limit of %llu the peer announced",
			    (unsigned long long)c->p.msg_size,
			    (unsigned long long)c->peer_size);
			sc_quit(c);
			return;
		}
		if (c->peer_has_size)
			sc_send(c, "MAIL FROM:<%s> SIZE=%llu", c->sender,
			    (unsigned long long)c->p.msg_size);
		else
			sc_send(c, "MAIL FROM:<%s>", c->sender);
		sc_set_timeout(c, cfg->timeout_relay_mail);
		break;
	case SC_RCPT:
		sc_send(c, "RCPT TO:<%s>", c->rcpt[c->next_rcpt]);
		sc_set_timeout(c, cfg->timeout_relay_rcpt);
		break;
	case SC_DATA:
		sc_send(c, "DATA");
		sc_set_timeout(c, cfg->timeout_relay_data);
		break;
	case SC_BODY: {
		struct timeval tv = { (time_t)cfg->timeout_relay_data_block, 0 };

		/* RFC 5321 4.5.3.2.5: each send must progress within the
		 * data block time; the peer says nothing until the dot. */
		bufferevent_set_timeouts(c->bev, NULL, &tv);
		smtp_stuffer_init(&c->stuffer);
		c->body_off = c->p.msg_offset;
		sc_body_pump(c);
		break;
	}
	case SC_DOT:
		sc_set_timeout(c, cfg->timeout_relay_dot);
		break;
	case SC_QUIT:
		sc_send(c, "QUIT");
		sc_set_timeout(c, cfg->timeout_relay_mail);
		break;
	default:
		break;
	}
}

static void
sc_start_tls(struct smtp_client *c)
{
	SSL *ssl = SSL_new(c->p.tls_ctx);
	struct bufferevent *tls;

	if (ssl == NULL) {
		sc_fail_open(c, 451, "451 4.7.0 TLS setup failed");
		sc_finish(c);
		return;
	}
	if (c->p.tls_name != NULL && c->p.tls_name[0] != '\0') {
		X509_VERIFY_PARAM *vp = SSL_get0_param(ssl);

		/* An address route is checked as an IP SAN, a name as a DNS one. */
		if (X509_VERIFY_PARAM_set1_ip_asc(vp, c->p.tls_name) != 1) {
			SSL_set_tlsext_host_name(ssl, c->p.tls_name);
			(void)SSL_set1_host(ssl, c->p.tls_name);
		}
	}
	if (c->p.cfg->tls_outbound == TLS_OUTBOUND_VERIFY)
		SSL_set_verify(ssl, SSL_VERIFY_PEER, NULL);
	/* Anything the peer sent after its 220 must not be read as TLS. */
	evbuffer_drain(bufferevent_get_input(c->bev),
	    evbuffer_get_length(bufferevent_get_input(c->bev)));
	tls = bufferevent_openssl_filter_new(c->base, c->bev, ssl,
	    BUFFEREVENT_SSL_CONNECTING, BEV_OPT_CLOSE_ON_FREE |
	    BEV_OPT_DEFER_CALLBACKS);
	if (tls == NULL) {
		sc_fail_open(c, 451, "451 4.7.0 TLS setup failed");
		sc_finish(c);
		return;
	}
	c->bev = tls;
	c->state = SC_TLS;
	sc_setup_bev(c);
	sc_set_timeout(c, c->p.cfg->timeout_tls_handshake);
}

/* After (re-)EHLO: STARTTLS when offered and not yet used, else MAIL. */
static void
sc_after_ehlo(struct smtp_client *c)
{
	enum config_tls_outbound pol = c->p.cfg->tls_outbound;

	if (!c->is_tls && c->peer_starttls && c->p.tls_ctx != NULL) {
		sc_enter(c, SC_STARTTLS);
		return;
	}
	if (!c->is_tls && pol != TLS_OUTBOUND_MAY) {
		/* A policy failure is ours to retry, not the sender's fault. */
		sc_fail_open(c, 451, "451 4.7.5 TLS is required (tls_outbound "
		    "= %s) but the peer does not offer STARTTLS",
		    pol == TLS_OUTBOUND_VERIFY ? "verify" : "encrypt");
		sc_quit(c);
		return;
	}
	sc_enter(c, SC_MAIL);
}

static void
sc_next_rcpt_or_data(struct smtp_client *c)
{
	if (c->next_rcpt < c->p.n_rcpt) {
		sc_enter(c, SC_RCPT);
		return;
	}
	if (c->n_accepted == 0) {
		sc_quit(c);
		return;
	}
	sc_enter(c, SC_DATA);
}

/* The reply to the current state's command is complete: pick the next. */
static void
sc_on_reply(struct smtp_client *c)
{
	int code = c->reply.code;
	bool ok = code >= 200 && code < 300;

	switch (c->state) {
	case SC_GREET:
		if (code != 220) {
			sc_fail_open(c, code, "%s", c->reply.text);
			sc_quit(c);
		} else
			sc_enter(c, SC_EHLO);
		return;
	case SC_EHLO:
		if (ok) {
			c->peer_starttls = c->reply.has_starttls;
			c->peer_has_size = c->reply.has_size;
			c->peer_size = c->reply.has_size ? c->reply.size : 0;
			sc_after_ehlo(c);
		} else if (code >= 500 && !c->is_tls)
			sc_enter(c, SC_HELO);	/* RFC 5321 3.2 */
		else {
			sc_fail_open(c, code, "%s", c->reply.text);
			sc_quit(c);
		}
		return;
	case SC_HELO:
		if (ok)
			sc_after_ehlo(c);
		else {
			sc_fail_open(c, code, "%s", c->reply.text);
			sc_quit(c);
		}
		return;
	case SC_STARTTLS:
		if (code == 220)
			sc_start_tls(c);
		else if (c->p.cfg->tls_outbound == TLS_OUTBOUND_MAY)
			sc_enter(c, SC_MAIL);
		else {
			sc_fail_open(c, 451, "451 4.7.5 STARTTLS refused: %s",
			    c->reply.text);
			sc_quit(c);
		}
		return;
	case SC_MAIL:
		if (!ok) {
			sc_fail_open(c, code, "%s", c->reply.text);
			sc_quit(c);
		} else {
			c->next_rcpt = 0;
			sc_enter(c, SC_RCPT);
		}
		return;
	case SC_RCPT: {
		size_t i = c->next_rcpt++;

		c->res[i].code = code;
		(void)snprintf(c->res[i].reply, sizeof(c->res[i].reply), "%s",
		    c->reply.text);
		if (ok) {
			c->accepted[i] = true;
			c->n_accepted++;
		}
		sc_next_rcpt_or_data(c);
		return;
	}
	case SC_DATA:
		if (code == 354)
			sc_enter(c, SC_BODY);
		else {
			sc_fail_open(c, code, "%s", c->reply.text);
			sc_quit(c);
		}
		return;
	case SC_DOT:
		/* The final reply applies to every accepted recipient. */
		sc_fail_open(c, code, "%s", c->reply.text);
		sc_quit(c);
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
				sc_fail_open(c, 451, "451 4.5.0 reply line "
				    "too long");
				sc_finish(c);
			}
			return;
		}
		if (c->state == SC_BODY || c->state == SC_CONNECT) {
			/* Nothing may come while we send; a peer that talks
			 * here has given up on the transaction. */
			free(line);
			sc_fail_open(c, 451, "451 4.5.0 unexpected reply while "
			    "sending data");
			sc_finish(c);
			return;
		}
		rc = len > CLIENT_MAX_LINE ? -1 :
		    smtp_reply_acc_line(&c->reply, line, len);
		free(line);
		if (rc == -1) {
			sc_fail_open(c, 451, "451 4.5.0 malformed reply from "
			    "the peer");
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
sc_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct smtp_client *c = arg;

	(void)bev;
	if (c->state == SC_DONE)
		return;
	if (what & BEV_EVENT_CONNECTED) {
		if (c->state == SC_CONNECT) {
			sc_enter(c, SC_GREET);
			return;
		}
		if (c->state == SC_TLS) {
			SSL *ssl = bufferevent_openssl_get_ssl(c->bev);

			c->is_tls = true;
			(void)snprintf(c->tls_version, sizeof(c->tls_version),
			    "%s", SSL_get_version(ssl));
			(void)snprintf(c->cipher, sizeof(c->cipher), "%s",
			    SSL_get_cipher_name(ssl));
			/* RFC 3207 4.2: forget what EHLO said in the clear. */
			c->peer_starttls = false;
			c->peer_size = 0;
			c->peer_has_size = false;
			sc_enter(c, SC_EHLO);
		}
		return;
	}
	if (c->state == SC_QUIT) {
		/* The outcome is known; a peer that hangs up on QUIT is fine. */
		sc_finish(c);
		return;
	}
	if (what & BEV_EVENT_TIMEOUT)
		sc_fail_open(c, 451, "451 4.4.2 timeout in state %s",
		    sc_names[c->state]);
	else if (c->state == SC_CONNECT)
		sc_fail_open(c, 451, "451 4.4.1 connect to %s failed: %s",
		    c->peer, evutil_socket_error_to_string(
		    EVUTIL_SOCKET_ERROR()));
	else if (c->state == SC_TLS) {
		unsigned long e = bufferevent_get_openssl_error(c->bev);
		char reason[160] = "handshake failed";

		if (e != 0)
			ERR_error_string_n(e, reason, sizeof(reason));
		sc_fail_open(c, 451, "451 4.7.5 TLS with %s failed: %s",
		    c->peer, reason);
	} else
		sc_fail_open(c, 451, "451 4.4.2 connection lost in state %s",
		    sc_names[c->state]);
	sc_finish(c);
}

static void
sc_setup_bev(struct smtp_client *c)
{
	bufferevent_setcb(c->bev, sc_read_cb, sc_write_cb, sc_event_cb, c);
	bufferevent_setwatermark(c->bev, EV_WRITE, CLIENT_OUT_LOW, 0);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
}

struct smtp_client *
smtp_client_start(const struct smtp_client_params *p)
{
	struct smtp_client *c = xcalloc(1, sizeof(*c));

	c->p = *p;
	c->base = p->base;
	c->peer = xstrdup(p->peer_text);
	c->sender = xstrdup(p->sender);
	c->rcpt = xcalloc(p->n_rcpt, sizeof(*c->rcpt));
	for (size_t i = 0; i < p->n_rcpt; i++)
		c->rcpt[i] = xstrdup(p->rcpt[i]);
	c->p.rcpt = NULL;
	c->p.peer_text = NULL;
	c->p.sender = NULL;
	c->p.addr = NULL;
	c->p.tls_name = p->tls_name != NULL ? xstrdup(p->tls_name) : NULL;
	c->res = xcalloc(p->n_rcpt, sizeof(*c->res));
	c->accepted = xcalloc(p->n_rcpt, sizeof(*c->accepted));
	c->finish_ev = event_new(c->base, -1, 0, sc_finish_cb, c);
	c->state = SC_CONNECT;
	c->bev = bufferevent_socket_new(c->base, -1, BEV_OPT_CLOSE_ON_FREE |
	    BEV_OPT_DEFER_CALLBACKS);
	sc_setup_bev(c);
	sc_set_timeout(c, p->cfg->timeout_relay_greeting);
	if (bufferevent_socket_connect(c->bev, p->addr, (int)p->addrlen) != 0) {
		sc_fail_open(c, 451, "451 4.4.1 connect to %s failed: %s",
		    c->peer, strerror(errno));
		sc_finish(c);
	}
	return c;
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
	for (size_t i = 0; i < c->p.n_rcpt; i++)
		free(c->rcpt[i]);
	free(c->rcpt);
	free(c->res);
	free(c->accepted);
	free(c->peer);
	free(c->sender);
	free((char *)c->p.tls_name);
	free(c);
}
