/*
 * SMTP session lifecycle, input loop, command dispatch and the one reply
 * writer. The dispatcher does every generic check (unknown verb, state,
 * line length); handlers in cmd_*.c only do their verb.
 */
#include "smtp/session.h"

#include <arpa/inet.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "auth/sasl.h"
#include "core/config.h"
#include "core/log.h"
#include "core/xmalloc.h"
#include "net/conn.h"
#include "net/threadpool.h"
#include "net/tls.h"
#include "smtp/authcheck.h"
#include "smtp/expand.h"
#include "smtp/session_int.h"
#include "store/store.h"

/* RFC 4954 section 4: AUTH lines (command and continuations) up to 12288. */
#define SMTP_AUTH_LINE_MAX	12288
#define SMTP_REPLY_MAX		512

static const struct smtp_cmd smtp_cmds[] = {
	{ "HELO", SS_ANY, 0, smtp_cmd_helo },
	{ "EHLO", SS_ANY, 0, smtp_cmd_ehlo },
	{ "MAIL", SS_READY, CMD_NEEDS_HELO, smtp_cmd_mail },
	{ "RCPT", SS_MAIL | SS_RCPT, CMD_NEEDS_HELO, smtp_cmd_rcpt },
	{ "DATA", SS_RCPT, CMD_NEEDS_HELO, smtp_cmd_data },
	{ "BDAT", SS_ANY, 0, smtp_cmd_bdat },	/* checks in handler */
	{ "RSET", SS_ANY, 0, smtp_cmd_rset },
	{ "NOOP", SS_ANY, 0, smtp_cmd_noop },
	{ "QUIT", SS_ANY, 0, smtp_cmd_quit },
	{ "VRFY", SS_ANY & ~SS_BDAT, 0, smtp_cmd_vrfy },
	{ "EXPN", SS_ANY & ~SS_BDAT, 0, smtp_cmd_expn },
	{ "HELP", SS_ANY & ~SS_BDAT, 0, smtp_cmd_help },
	{ "STARTTLS", SS_GREET | SS_READY, 0, smtp_cmd_starttls },
	{ "AUTH", SS_READY, CMD_NEEDS_HELO, smtp_cmd_auth },
};
#define SMTP_N_CMDS	(sizeof(smtp_cmds) / sizeof(smtp_cmds[0]))
_Static_assert(SMTP_N_CMDS <= SMTP_N_COUNTERS, "counters too small");

static void	smtp_session_free(struct smtp_session *);

void
smtp_log(const struct smtp_session *s, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_info("%s sid=%s %s", service_kind_name(s->kind), s->sid, msg);
}

bool
smtp_is_submission(const struct smtp_session *s)
{
	return s->kind == SERVICE_SUBMISSION || s->kind == SERVICE_SUBMISSIONS;
}

bool
smtp_is_tls(const struct smtp_session *s)
{
	return conn_is_tls(s->conn);
}

void
smtp_set_state(struct smtp_session *s, unsigned state)
{
	if (s->state != state)
		log_debug("smtp sid=%s event=state old=%#x new=%#x", s->sid,
		    s->state, state);
	s->state = state;
}

void
smtp_close(struct smtp_session *s, const char *reason)
{
	if (s->closing)
		return;
	s->closing = true;
	s->close_reason = reason;
	conn_close_after_flush(s->conn, reason);
}

static void	smtp_reply_append(struct smtp_session *, unsigned, char,
		    const char *, const char *, va_list)
		    __attribute__((format(printf, 5, 0)));

static void
smtp_reply_append(struct smtp_session *s, unsigned code, char sep,
    const char *enh, const char *fmt, va_list ap)
{
	char line[SMTP_REPLY_MAX];
	size_t elen = enh != NULL ? strlen(enh) : 0, room;
	int n = 4;

	/*
	 * Built by hand, and a text without conversions copied as is: every
	 * reply went through two snprintf calls, ~15 replies per message
	 * (docs/performance.md).
	 */
	line[0] = (char)('0' + code / 100 % 10);
	line[1] = (char)('0' + code / 10 % 10);
	line[2] = (char)('0' + code % 10);
	line[3] = sep;
	if (elen > 0 && elen < 32) {
		memcpy(line + n, enh, elen);
		n += (int)elen;
		line[n++] = ' ';
	}
	room = sizeof(line) - (size_t)n - 2;
	if (strchr(fmt, '%') == NULL) {
		size_t flen = strnlen(fmt, room - 1);

		memcpy(line + n, fmt, flen);
		line[n + (int)flen] = '\0';
	} else
		vsnprintf(line + n, room, fmt, ap);
	n += (int)strlen(line + n);
	memcpy(line + n, "\r\n", 2);
	evbuffer_add(conn_output(s->conn), line, (size_t)n + 2);
	if (code >= 400) {
		line[n] = '\0';
		smtp_log(s, "event=cmd-failed cmd=%s reply=\"%s\"",
		    s->current_verb != NULL ? s->current_verb : "-", line);
	}
}

void
smtp_reply_line(struct smtp_session *s, unsigned code, bool last,
    const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	smtp_reply_append(s, code, last ? ' ' : '-', NULL, fmt, ap);
	va_end(ap);
}

void
smtp_reply(struct smtp_session *s, unsigned code, const char *enh,
    const char *fmt, ...)
{
	va_list ap;

	if (s->closing)
		return;
	va_start(ap, fmt);
	smtp_reply_append(s, code, ' ', enh, fmt, ap);
	va_end(ap);
	if (code >= 200 && code < 300 && s->current_verb != NULL) {
		for (size_t i = 0; i < SMTP_N_CMDS; i++)
			if (strcmp(smtp_cmds[i].verb, s->current_verb) == 0)
				s->counters[i].ok++;
	}
	/* RFC 5321 4.3.2 lets a server give up on a client that keeps erring. */
	if (code >= 400 && code != 421 && ++s->errors >= s->svc->cfg->max_errors) {
		smtp_reply(s, 421, "4.7.0", "%s Too many errors, closing "
		    "connection", s->svc->cfg->hostname);
		smtp_close(s, "too many errors");
	}
}

void
smtp_txn_free(struct smtp_txn **tp)
{
	struct smtp_txn *t = *tp;

	if (t == NULL)
		return;
	*tp = NULL;
	if (t->spool != NULL)
		store_spool_abort(&t->spool);
	smtp_authcheck_free(&t->auth);
	smtp_copies_free(&t->copies);
	strlist_clear(&t->local);
	strlist_clear(&t->remote);
	free(t);
}

void
smtp_txn_reset(struct smtp_session *s)
{
	smtp_txn_free(&s->txn);
}

/* --- async work --- */

void
smtp_async(struct smtp_session *s, void (*work)(void *),
    void (*done)(void *owner, void *arg), void *arg)
{
	s->mode = SM_WAIT;
	conn_pause(s->conn);
	service_job_submit(s->svc, &s->pending, s, work, done, arg);
}

static void
smtp_check_drain(struct smtp_session *s)
{
	if (!s->drain_requested || s->closing || s->txn != NULL ||
	    s->pending != NULL || s->mail_check != NULL)
		return;
	smtp_reply(s, 421, "4.3.2", "%s Service shutting down",
	    s->svc->cfg->hostname);
	smtp_close(s, "shutdown");
}

static void	smtp_process_input(struct smtp_session *);

void
smtp_resume(struct smtp_session *s)
{
	if (s->mode == SM_WAIT)
		s->mode = SM_COMMAND;
	smtp_check_drain(s);
	if (!s->closing)
		conn_resume(s->conn);
}

/* --- dispatch --- */

static void
smtp_dispatch(struct smtp_session *s, const char *line, size_t len)
{
	/*
	 * verb starts empty: str_take_word() leaves it untouched when the
	 * line is blank, starts with a space or its first word is too long,
	 * and the web-client check below reads it (found by
	 * fuzz_smtp_session).
	 */
	struct str_view cur = { line, len }, verb = { line, 0 };
	const struct smtp_cmd *cmd = NULL;
	size_t idx = 0;
	enum cmd_rc rc;

	s->current_verb = NULL;
	if (memchr(line, '\0', len) != NULL) {
		smtp_reply(s, 500, "5.5.2", "Syntax error: NUL in command");
		return;
	}
	if (str_take_word(&cur, &verb, 16) == 0) {
		for (idx = 0; idx < SMTP_N_CMDS; idx++) {
			if (str_case_eq(verb, smtp_cmds[idx].verb)) {
				cmd = &smtp_cmds[idx];
				break;
			}
		}
	}
	if (cmd == NULL) {
		/* A web client talking to us: nothing it says makes sense. */
		if (str_case_eq(verb, "GET") || str_case_eq(verb, "POST") ||
		    str_case_eq(verb, "CONNECT")) {
			smtp_reply(s, 421, "4.7.0", "This is an SMTP server");
			smtp_close(s, "http");
			return;
		}
		smtp_reply(s, 500, "5.5.1", "Command unrecognized");
		return;
	}
	s->current_verb = cmd->verb;
	s->counters[idx].total++;
	/* RFC 5321 4.1.1: exactly one space separates verb and arguments. */
	str_skip_space(&cur);
	if ((cmd->flags & CMD_NEEDS_HELO) && (s->state & SS_GREET)) {
		smtp_reply(s, 503, "5.5.1", "Send HELO/EHLO first");
		return;
	}
	if (!(cmd->states & s->state)) {
		if (s->state & SS_BDAT)
			smtp_reply(s, 503, "5.5.1", "Only BDAT, RSET, NOOP or "
			    "QUIT may follow a BDAT without LAST");
		else
			smtp_reply(s, 503, "5.5.1", "Bad sequence of commands");
		return;
	}
	rc = cmd->run(s, cur);
	if (rc == CMD_CLOSE)
		smtp_close(s, "quit");
	else if (rc == CMD_DONE)
		smtp_check_drain(s);
}

/* Limit for the line starting at the front of in. */
static size_t
smtp_line_limit(struct smtp_session *s, struct evbuffer *in)
{
	char head[5];

	if (s->mode == SM_AUTH)
		return SMTP_AUTH_LINE_MAX;
	if (evbuffer_copyout(in, head, sizeof(head)) == (ssize_t)sizeof(head) &&
	    strncasecmp(head, "AUTH ", 5) == 0)
		return SMTP_AUTH_LINE_MAX;
	return s->svc->cfg->max_line_length;
}

/*
 * The read timeout restarts with every byte, so a client trickling one
 * byte every few seconds (slowloris) would never time out. A command line
 * must be complete within timeout_command of its first byte.
 */
static void
smtp_check_slow_line(struct smtp_session *s)
{
	time_t now = time(NULL);

	if (s->line_started == 0) {
		s->line_started = now;
		return;
	}
	if (now - s->line_started <= (time_t)s->svc->cfg->timeout_command)
		return;
	s->current_verb = NULL;
	smtp_reply(s, 421, "4.4.2", "%s Error: timeout exceeded",
	    s->svc->cfg->hostname);
	smtp_close(s, "slow command line");
}

/* Handles one line if a whole one is waiting; false when it needs more. */
static bool
smtp_read_line(struct smtp_session *s, struct evbuffer *in)
{
	char line[SMTP_AUTH_LINE_MAX + 1];
	size_t eol_len = 0, limit = smtp_line_limit(s, in);
	struct evbuffer_ptr eol;

	eol = evbuffer_search_eol(in, NULL, &eol_len, EVBUFFER_EOL_CRLF);
	if (eol.pos == -1) {
		/*
		 * Say "too long" as soon as the unterminated part passes the
		 * limit, and forget it, instead of buffering it.
		 */
		if (evbuffer_get_length(in) > limit) {
			evbuffer_drain(in, evbuffer_get_length(in));
			s->skipping_long_line = true;
		}
		smtp_check_slow_line(s);
		return false;
	}
	s->line_started = 0;
	if (s->skipping_long_line || (size_t)eol.pos > limit) {
		evbuffer_drain(in, (size_t)eol.pos + eol_len);
		s->skipping_long_line = false;
		s->current_verb = NULL;
		if (s->mode == SM_AUTH) {
			s->mode = SM_COMMAND;
			smtp_reply(s, 500, "5.5.6", "Authentication line too long");
			return true;
		}
		smtp_reply(s, 500, "5.5.6", "Line too long");
		return true;
	}
	evbuffer_remove(in, line, (size_t)eol.pos);
	evbuffer_drain(in, eol_len);
	line[eol.pos] = '\0';
	if (s->mode == SM_AUTH)
		smtp_auth_continue(s, str_view_make(line, (size_t)eol.pos));
	else
		smtp_dispatch(s, line, (size_t)eol.pos);
	explicit_bzero(line, (size_t)eol.pos);
	return true;
}

static void
smtp_process_input(struct smtp_session *s)
{
	struct evbuffer *in = conn_input(s->conn);

	while (!s->closing && s->mode != SM_WAIT && s->pending == NULL &&
	    !(s->state & SS_TLS_WAIT) && evbuffer_get_length(in) > 0) {
		if (s->mode == SM_DATA || s->mode == SM_BDAT) {
			struct evbuffer_iovec v;
			size_t used;

			if (evbuffer_peek(in, -1, NULL, &v, 1) < 1)
				break;
			used = s->mode == SM_DATA ?
			    smtp_data_input(s, v.iov_base, v.iov_len) :
			    smtp_bdat_input(s, v.iov_base, v.iov_len);
			evbuffer_drain(in, used);
			continue;
		}
		if (!smtp_read_line(s, in))
			break;
	}
}

/* --- connection callbacks --- */

static void
smtp_greet(struct smtp_session *s)
{
	smtp_set_state(s, SS_GREET);
	smtp_reply(s, 220, NULL, "%s ESMTP sealpost", s->svc->cfg->hostname);
	conn_set_timeout(s->conn, s->svc->cfg->timeout_command);
}

static void
smtp_on_readable(void *ctx)
{
	smtp_process_input(ctx);
}

static void
smtp_on_timeout(void *ctx)
{
	struct smtp_session *s = ctx;

	s->current_verb = NULL;
	smtp_reply(s, 421, "4.4.2", "%s Error: timeout exceeded",
	    s->svc->cfg->hostname);
	smtp_close(s, "timeout");
}

static void
smtp_on_tls_ready(void *ctx)
{
	struct smtp_session *s = ctx;
	SSL *ssl = conn_ssl(s->conn);

	smtp_log(s, "event=tls version=%s cipher=%s", tls_version(ssl),
	    tls_cipher(ssl));
	if (s->state & SS_TLS_WAIT) {
		smtp_greet(s);
		return;
	}
	/* RFC 3207 4.2: forget everything the client said before TLS. */
	smtp_txn_reset(s);
	free(s->helo);
	s->helo = NULL;
	s->esmtp = false;
	smtp_set_state(s, SS_GREET);
	s->mode = SM_COMMAND;
	conn_set_timeout(s->conn, s->svc->cfg->timeout_command);
}

static const char *
smtp_counter_verb(size_t i)
{
	return smtp_cmds[i].verb;
}

static void
smtp_log_disconnect(struct smtp_session *s, const char *reason)
{
	char counts[512];

	service_counters_format(counts, sizeof(counts), s->counters,
	    SMTP_N_CMDS, smtp_counter_verb);
	smtp_log(s, "event=disconnect reason=\"%s\"%s", reason, counts);
}

static void
smtp_on_closed(void *ctx, const char *reason)
{
	struct smtp_session *s = ctx;

	smtp_log_disconnect(s, s->close_reason != NULL ? s->close_reason :
	    reason);
	smtp_session_free(s);
}

static const struct conn_handler smtp_conn_handler = {
	.readable = smtp_on_readable,
	.timeout = smtp_on_timeout,
	.tls_ready = smtp_on_tls_ready,
	.closed = smtp_on_closed,
};

static void
smtp_drain(struct service_session *ss)
{
	struct smtp_session *s = (struct smtp_session *)ss;

	s->drain_requested = true;
	if (s->mode == SM_COMMAND && s->txn == NULL && s->pending == NULL &&
	    s->mail_check == NULL) {
		s->current_verb = NULL;
		smtp_check_drain(s);
	}
}

static void
smtp_format_peer(struct smtp_session *s)
{
	const struct sockaddr *sa = (const struct sockaddr *)&s->peer;
	unsigned port = 0;

	s->peer_ip[0] = '\0';
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const void *)sa;

		inet_ntop(AF_INET, &in->sin_addr, s->peer_ip, sizeof(s->peer_ip));
		port = ntohs(in->sin_port);
		snprintf(s->peer_text, sizeof(s->peer_text), "%s:%u",
		    s->peer_ip, port);
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const void *)sa;

		inet_ntop(AF_INET6, &in6->sin6_addr, s->peer_ip,
		    sizeof(s->peer_ip));
		port = ntohs(in6->sin6_port);
		snprintf(s->peer_text, sizeof(s->peer_text), "[%s]:%u",
		    s->peer_ip, port);
	} else {
		snprintf(s->peer_ip, sizeof(s->peer_ip), "unknown");
		snprintf(s->peer_text, sizeof(s->peer_text), "unknown");
	}
}

void
smtp_session_start(struct service *svc, enum service_kind kind, int fd,
    const struct sockaddr *peer, socklen_t peerlen)
{
	struct smtp_session *s = xcalloc(1, sizeof(*s));
	bool implicit_tls = kind == SERVICE_SUBMISSIONS;

	s->svc = svc;
	s->kind = kind;
	s->id = service_next_session_id();
	snprintf(s->sid, sizeof(s->sid), "%016" PRIx64, s->id);
	if (peerlen > sizeof(s->peer))
		peerlen = sizeof(s->peer);
	memcpy(&s->peer, peer, peerlen);
	s->peerlen = peerlen;
	smtp_format_peer(s);
	s->is_trusted = config_is_trusted(svc->cfg, peer);
	s->link.drain = smtp_drain;
	service_session_add(svc, &s->link);
	s->conn = conn_new(svc->base, fd, implicit_tls ? svc->tls_ctx : NULL,
	    svc->cfg->timeout_tls_handshake, &smtp_conn_handler, s);
	smtp_log(s, "event=connect addr=%s tls=%s trusted=%s", s->peer_text,
	    implicit_tls ? "implicit" : "no", s->is_trusted ? "yes" : "no");
	if (implicit_tls)
		smtp_set_state(s, SS_TLS_WAIT);
	else
		smtp_greet(s);
}

static void
smtp_session_free(struct smtp_session *s)
{
	service_job_orphan(s->pending);
	smtp_mail_check_cancel(s);
	smtp_txn_reset(s);
	if (s->sasl != NULL)
		sasl_session_free(&s->sasl);
	if (s->delay_timer != NULL)
		event_free(s->delay_timer);
	free(s->helo);
	free(s->login);
	conn_free(&s->conn);
	service_session_remove(s->svc, &s->link,
	    (const struct sockaddr *)&s->peer);
	free(s);
}
