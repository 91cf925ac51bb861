/*
 * POP3 session lifecycle, input loop, command dispatch and the one reply
 * writer (RFC 1939, RFC 2449). The dispatcher does every generic check
 * (syntax, unknown command, state, arguments); handlers in cmd_*.c only
 * do their command. Storage is reached through store.h only, and its
 * blocking calls (opening and updating a maildrop) run on the pool.
 */
#include "pop3/session.h"

#include <arpa/inet.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <openssl/rand.h>

#include "core/config.h"
#include "core/log.h"
#include "core/xmalloc.h"
#include "net/conn.h"
#include "net/threadpool.h"
#include "net/tls.h"
#include "pop3/session_int.h"
#include "store/store.h"

/* RFC 1939 section 3: responses up to 512 octets including the CRLF. */
#define POP3_REPLY_MAX		512
/*
 * RFC 5034 section 4: a SASL response line may be as long as the
 * mechanism needs; PLAIN with long names fits well within this.
 */
#define POP3_SASL_LINE_MAX	12288

#define ARGS_MSG	POP3_ARG_MAX
#define ARGS_NAME	POP3_LINE_MAX	/* RFC 2449 4 lifts the 40 for names */

static const struct pop3_cmd pop3_cmds[] = {
	{ "CAPA", PS_AUTHORIZATION | PS_TRANSACTION, 0, 0, 0, 0,
	    pop3_cmd_capa },
	{ "STLS", PS_AUTHORIZATION, 0, 0, 0, 0, pop3_cmd_stls },
	{ "USER", PS_AUTHORIZATION, 0, 1, 1, ARGS_NAME, pop3_cmd_user },
	{ "PASS", PS_AUTHORIZATION, CMD_RAW_ARG, 0, 0, 0, pop3_cmd_pass },
	{ "APOP", PS_AUTHORIZATION, 0, 2, 2, ARGS_NAME, pop3_cmd_apop },
	{ "AUTH", PS_AUTHORIZATION, 0, 0, 2, ARGS_NAME, pop3_cmd_auth },
	{ "QUIT", PS_AUTHORIZATION | PS_TRANSACTION, 0, 0, 0, 0,
	    pop3_cmd_quit },
	{ "STAT", PS_TRANSACTION, 0, 0, 0, 0, pop3_cmd_stat },
	{ "LIST", PS_TRANSACTION, 0, 0, 1, ARGS_MSG, pop3_cmd_list },
	{ "UIDL", PS_TRANSACTION, 0, 0, 1, ARGS_MSG, pop3_cmd_uidl },
	{ "RETR", PS_TRANSACTION, 0, 1, 1, ARGS_MSG, pop3_cmd_retr },
	{ "TOP", PS_TRANSACTION, 0, 2, 2, ARGS_MSG, pop3_cmd_top },
	{ "DELE", PS_TRANSACTION, 0, 1, 1, ARGS_MSG, pop3_cmd_dele },
	{ "RSET", PS_TRANSACTION, 0, 0, 0, 0, pop3_cmd_rset },
	{ "NOOP", PS_TRANSACTION, 0, 0, 0, 0, pop3_cmd_noop },
};
#define POP3_N_CMDS	(sizeof(pop3_cmds) / sizeof(pop3_cmds[0]))
_Static_assert(POP3_N_CMDS <= POP3_N_COUNTERS, "counters too small");

static void	pop3_session_free(struct pop3_session *);

void
pop3_log(const struct pop3_session *s, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_info("%s sid=%s %s", service_kind_name(s->kind), s->sid, msg);
}

bool
pop3_is_tls(const struct pop3_session *s)
{
	return conn_is_tls(s->conn);
}

bool
pop3_plaintext_allowed(const struct pop3_session *s)
{
	return pop3_is_tls(s);
}

bool
pop3_login_allowed(const struct pop3_session *s)
{
	return pop3_is_tls(s) || !s->svc->cfg->pop3_require_tls;
}

void
pop3_set_state(struct pop3_session *s, unsigned state)
{
	if (s->state != state)
		log_debug("pop3 sid=%s event=state old=%#x new=%#x", s->sid,
		    s->state, state);
	s->state = state;
}

void
pop3_close(struct pop3_session *s, const char *reason)
{
	if (s->closing)
		return;
	s->closing = true;
	s->close_reason = reason;
	conn_close_after_flush(s->conn, reason);
}

static size_t	pop3_format(char *, const char *, const char *, va_list)
		    __attribute__((format(printf, 3, 0)));

/* Formats one response line into line (POP3_REPLY_MAX), CRLF included. */
static size_t
pop3_format(char *line, const char *status, const char *fmt, va_list ap)
{
	int n = snprintf(line, POP3_REPLY_MAX, "%s%s", status,
	    status[0] != '\0' ? " " : "");

	if (n < 0 || (size_t)n >= POP3_REPLY_MAX - 2)
		n = 0;
	/* A cut text still ends in CRLF: the limit includes it. */
	vsnprintf(line + n, POP3_REPLY_MAX - (size_t)n - 2, fmt, ap);
	n = (int)strlen(line);
	/* "+OK" alone, not "+OK ", when there is no text. */
	if (n > 0 && line[n - 1] == ' ' && status[0] != '\0' &&
	    (size_t)n == strlen(status) + 1)
		n--;
	memcpy(line + n, "\r\n", 2);
	return (size_t)n + 2;
}

static void
pop3_count_ok(struct pop3_session *s)
{
	if (s->current_verb == NULL)
		return;
	for (size_t i = 0; i < POP3_N_CMDS; i++)
		if (strcmp(pop3_cmds[i].keyword, s->current_verb) == 0)
			s->counters[i].ok++;
}

void
pop3_ok(struct pop3_session *s, const char *fmt, ...)
{
	char line[POP3_REPLY_MAX];
	va_list ap;
	size_t n;

	if (s->closing)
		return;
	va_start(ap, fmt);
	n = pop3_format(line, "+OK", fmt, ap);
	va_end(ap);
	evbuffer_add(conn_output(s->conn), line, n);
	pop3_count_ok(s);
}

void
pop3_err(struct pop3_session *s, const char *fmt, ...)
{
	char line[POP3_REPLY_MAX];
	va_list ap;
	size_t n;

	if (s->closing)
		return;
	va_start(ap, fmt);
	n = pop3_format(line, "-ERR", fmt, ap);
	va_end(ap);
	evbuffer_add(conn_output(s->conn), line, n);
	line[n - 2] = '\0';
	pop3_log(s, "event=cmd-failed cmd=%s reply=\"%s\"",
	    s->current_verb != NULL ? s->current_verb : "-", line);
	/* Give up on a client that keeps erring (a scanner, a confused bot). */
	if (++s->errors >= s->svc->cfg->max_errors) {
		static const char bye[] = "-ERR Too many errors, closing "
		    "connection\r\n";

		evbuffer_add(conn_output(s->conn), bye, sizeof(bye) - 1);
		pop3_close(s, "too many errors");
	}
}

void
pop3_line(struct pop3_session *s, const char *fmt, ...)
{
	char line[POP3_REPLY_MAX + 1];
	struct evbuffer *out = conn_output(s->conn);
	va_list ap;
	size_t n;

	va_start(ap, fmt);
	n = pop3_format(line + 1, "", fmt, ap);
	va_end(ap);
	/* RFC 1939 section 3: byte-stuff a line that starts with ".". */
	if (line[1] == '.') {
		line[0] = '.';
		evbuffer_add(out, line, n + 1);
	} else {
		evbuffer_add(out, line + 1, n);
	}
}

void
pop3_end(struct pop3_session *s)
{
	evbuffer_add(conn_output(s->conn), ".\r\n", 3);
}

/* --- async work --- */

void
pop3_async(struct pop3_session *s, void (*work)(void *),
    void (*done)(void *owner, void *arg), void *arg)
{
	s->mode = PM_WAIT;
	conn_pause(s->conn);
	service_job_submit(s->svc, &s->pending, s, work, done, arg);
}

void
pop3_drop_free(struct pop3_drop **dp)
{
	struct pop3_drop *d = *dp;

	if (d == NULL)
		return;
	*dp = NULL;
	store_mailbox_close(&d->mb);
	free(d->deleted);
	free(d->retrieved);
	free(d);
}

/*
 * Graceful stop: a session between commands is told and closed. It is
 * not QUIT, so nothing is deleted (RFC 1939 section 6: UPDATE only after
 * QUIT); a session waiting for work or sending a message finishes first.
 */
static void
pop3_check_drain(struct pop3_session *s)
{
	if (!s->drain_requested || s->closing || s->pending != NULL ||
	    s->stream != NULL || s->mode != PM_COMMAND)
		return;
	s->current_verb = NULL;
	pop3_err(s, "[SYS/TEMP] Server shutting down, try again later");
	pop3_close(s, "shutdown");
}

void
pop3_resume(struct pop3_session *s)
{
	if (s->mode == PM_WAIT)
		s->mode = PM_COMMAND;
	pop3_check_drain(s);
	if (!s->closing)
		conn_resume(s->conn);
}

/* --- dispatch --- */

static const struct pop3_cmd *
pop3_cmd_find(const char *keyword, size_t *idx)
{
	for (size_t i = 0; i < POP3_N_CMDS; i++) {
		if (strcmp(keyword, pop3_cmds[i].keyword) == 0) {
			*idx = i;
			return &pop3_cmds[i];
		}
	}
	return NULL;
}

static void
pop3_dispatch(struct pop3_session *s, const char *line, size_t len)
{
	struct str_view args[POP3_MAX_ARGS];
	struct pop3_command pc;
	const struct pop3_cmd *cmd;
	enum pop3_parse_rc prc;
	size_t idx = 0, nargs = 0;
	enum cmd_rc rc;

	s->current_verb = NULL;
	prc = pop3_parse_command(line, len, &pc);
	if (prc != POP3_PARSE_OK) {
		pop3_err(s, "%s", pop3_parse_strerror(prc));
		return;
	}
	if ((cmd = pop3_cmd_find(pc.keyword, &idx)) == NULL) {
		/* A web client talking to us: nothing it says makes sense. */
		if (strcmp(pc.keyword, "GET") == 0 ||
		    strcmp(pc.keyword, "POST") == 0) {
			pop3_err(s, "This is a POP3 server");
			pop3_close(s, "http");
			return;
		}
		pop3_err(s, "Unknown command");
		return;
	}
	s->current_verb = cmd->keyword;
	s->counters[idx].total++;
	if (!(cmd->states & s->state)) {
		pop3_err(s, "%s not valid in the %s state", cmd->keyword,
		    (s->state & PS_TRANSACTION) ? "TRANSACTION" :
		    "AUTHORIZATION");
		return;
	}
	if (!(cmd->flags & CMD_RAW_ARG) && (prc = pop3_parse_args(pc.rest,
	    cmd->min_args, cmd->max_args, cmd->arg_max, args, &nargs)) !=
	    POP3_PARSE_OK) {
		pop3_err(s, "%s: %s", cmd->keyword, pop3_parse_strerror(prc));
		return;
	}
	rc = cmd->run(s, args, nargs, pc.rest);
	if (rc == CMD_CLOSE)
		pop3_close(s, "quit");
	else if (rc == CMD_DONE)
		pop3_check_drain(s);
}

static size_t
pop3_line_limit(struct pop3_session *s)
{
	return s->mode == PM_SASL ? POP3_SASL_LINE_MAX : POP3_LINE_MAX;
}

/* Handles one line if a whole one is waiting; false when it needs more. */
static bool
pop3_read_line(struct pop3_session *s, struct evbuffer *in)
{
	char line[POP3_SASL_LINE_MAX + 1];
	size_t eol_len = 0, limit = pop3_line_limit(s);
	struct evbuffer_ptr eol;

	/* CRLF, or a bare LF from a sloppy client: both end a command. */
	eol = evbuffer_search_eol(in, NULL, &eol_len, EVBUFFER_EOL_CRLF);
	if (eol.pos == -1) {
		/*
		 * Say "too long" once the unterminated part passes the
		 * limit, and forget it, instead of buffering it.
		 */
		if (evbuffer_get_length(in) > limit) {
			evbuffer_drain(in, evbuffer_get_length(in));
			if (!s->skipping_long_line) {
				s->skipping_long_line = true;
				s->current_verb = NULL;
				pop3_err(s, "Line too long");
				if (s->mode == PM_SASL)
					pop3_auth_cleanup(s);
			}
		}
		/*
		 * Every byte restarts the idle timer; a client trickling
		 * bytes (slowloris) must still finish a line within the
		 * autologout time. Like the autologout: no reply, no UPDATE.
		 */
		if (s->line_started == 0)
			s->line_started = time(NULL);
		else if (time(NULL) - s->line_started >
		    (time_t)s->svc->cfg->pop3_autologout)
			pop3_close(s, "slow command line");
		return false;
	}
	s->line_started = 0;
	if (s->skipping_long_line || (size_t)eol.pos > limit) {
		bool was_skipping = s->skipping_long_line;

		evbuffer_drain(in, (size_t)eol.pos + eol_len);
		s->skipping_long_line = false;
		if (!was_skipping) {
			s->current_verb = NULL;
			pop3_err(s, "Line too long");
			if (s->mode == PM_SASL)
				pop3_auth_cleanup(s);
		}
		return true;
	}
	evbuffer_remove(in, line, (size_t)eol.pos);
	evbuffer_drain(in, eol_len);
	line[eol.pos] = '\0';
	if (s->mode == PM_SASL)
		pop3_auth_continue(s, str_view_make(line, (size_t)eol.pos));
	else
		pop3_dispatch(s, line, (size_t)eol.pos);
	/* The line may have held a password. */
	explicit_bzero(line, (size_t)eol.pos);
	return true;
}

static void
pop3_process_input(struct pop3_session *s)
{
	struct evbuffer *in = conn_input(s->conn);

	while (!s->closing && s->mode != PM_WAIT && s->pending == NULL &&
	    s->stream == NULL && !(s->state & (PS_TLS_WAIT | PS_UPDATE)) &&
	    evbuffer_get_length(in) > 0) {
		if (!pop3_read_line(s, in))
			break;
	}
}

/* --- connection callbacks --- */

static void
pop3_make_timestamp(struct pop3_session *s)
{
	uint64_t r = 0;
	int n;

	s->timestamp[0] = '\0';
	if (!s->svc->cfg->pop3_apop)
		return;
	/* RFC 1939 section 7: a msg-id unique to this greeting. */
	if (RAND_bytes((unsigned char *)&r, sizeof(r)) != 1)
		r = s->id ^ (uint64_t)getpid();
	n = snprintf(s->timestamp, sizeof(s->timestamp), "<%ld.%016" PRIx64
	    "@%s>", (long)getpid(), r, s->svc->cfg->hostname);
	if (n < 0 || (size_t)n >= sizeof(s->timestamp))
		snprintf(s->timestamp, sizeof(s->timestamp), "<%ld.%016"
		    PRIx64 "@sealpost>", (long)getpid(), r);
}

static void
pop3_greet(struct pop3_session *s)
{
	pop3_set_state(s, PS_AUTHORIZATION);
	pop3_make_timestamp(s);
	if (s->timestamp[0] != '\0')
		pop3_ok(s, "POP3 server ready %s", s->timestamp);
	else
		pop3_ok(s, "POP3 server ready");
	/* RFC 1939 section 3: an autologout timer of at least 10 minutes. */
	conn_set_timeout(s->conn, s->svc->cfg->pop3_autologout);
}

static void
pop3_on_readable(void *ctx)
{
	pop3_process_input(ctx);
}

/*
 * RFC 1939 section 3: when the autologout timer expires the session does
 * not enter UPDATE; the connection closes without a response.
 */
static void
pop3_on_timeout(void *ctx)
{
	struct pop3_session *s = ctx;

	pop3_close(s, "autologout");
}

static void
pop3_on_tls_ready(void *ctx)
{
	struct pop3_session *s = ctx;
	SSL *ssl = conn_ssl(s->conn);

	pop3_log(s, "event=tls version=%s cipher=%s", tls_version(ssl),
	    tls_cipher(ssl));
	if (s->state & PS_TLS_WAIT) {
		pop3_greet(s);
		return;
	}
	/*
	 * RFC 2595 4: after STLS the client starts over; forget a USER
	 * name given in the clear. No new greeting is sent.
	 */
	free(s->user);
	s->user = NULL;
	s->mode = PM_COMMAND;
	conn_set_timeout(s->conn, s->svc->cfg->pop3_autologout);
	pop3_resume(s);
}

static void
pop3_on_drained(void *ctx)
{
	struct pop3_session *s = ctx;

	if (s->stream != NULL && !s->closing)
		pop3_stream_pump(s);
}

static const char *
pop3_counter_verb(size_t i)
{
	return pop3_cmds[i].keyword;
}

static void
pop3_log_disconnect(struct pop3_session *s, const char *reason)
{
	char counts[512];

	service_counters_format(counts, sizeof(counts), s->counters,
	    POP3_N_CMDS, pop3_counter_verb);
	pop3_log(s, "event=disconnect reason=\"%s\"%s", reason, counts);
}

static void
pop3_on_closed(void *ctx, const char *reason)
{
	struct pop3_session *s = ctx;

	pop3_log_disconnect(s, s->close_reason != NULL ? s->close_reason :
	    reason);
	pop3_session_free(s);
}

static const struct conn_handler pop3_conn_handler = {
	.readable = pop3_on_readable,
	.timeout = pop3_on_timeout,
	.tls_ready = pop3_on_tls_ready,
	.closed = pop3_on_closed,
	.drained = pop3_on_drained,
};

static void
pop3_drain(struct service_session *ss)
{
	struct pop3_session *s = (struct pop3_session *)ss;

	s->drain_requested = true;
	if (s->state & PS_TLS_WAIT) {
		pop3_close(s, "shutdown");
		return;
	}
	pop3_check_drain(s);
}

static void
pop3_format_peer(struct pop3_session *s)
{
	const struct sockaddr *sa = (const struct sockaddr *)&s->peer;

	s->peer_ip[0] = '\0';
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const void *)sa;

		inet_ntop(AF_INET, &in->sin_addr, s->peer_ip,
		    sizeof(s->peer_ip));
		snprintf(s->peer_text, sizeof(s->peer_text), "%s:%u",
		    s->peer_ip, (unsigned)ntohs(in->sin_port));
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const void *)sa;

		inet_ntop(AF_INET6, &in6->sin6_addr, s->peer_ip,
		    sizeof(s->peer_ip));
		snprintf(s->peer_text, sizeof(s->peer_text), "[%s]:%u",
		    s->peer_ip, (unsigned)ntohs(in6->sin6_port));
	} else {
		snprintf(s->peer_ip, sizeof(s->peer_ip), "unknown");
		snprintf(s->peer_text, sizeof(s->peer_text), "unknown");
	}
}

void
pop3_session_start(struct service *svc, enum service_kind kind, int fd,
    const struct sockaddr *peer, socklen_t peerlen)
{
	struct pop3_session *s = xcalloc(1, sizeof(*s));
	bool implicit_tls = kind == SERVICE_POP3S;

	s->svc = svc;
	s->kind = kind;
	s->id = service_next_session_id();
	snprintf(s->sid, sizeof(s->sid), "%016" PRIx64, s->id);
	if (peerlen > sizeof(s->peer))
		peerlen = sizeof(s->peer);
	memcpy(&s->peer, peer, peerlen);
	s->peerlen = peerlen;
	pop3_format_peer(s);
	s->link.drain = pop3_drain;
	service_session_add(svc, &s->link);
	s->conn = conn_new(svc->base, fd, implicit_tls ? svc->tls_ctx : NULL,
	    svc->cfg->timeout_tls_handshake, &pop3_conn_handler, s);
	pop3_log(s, "event=connect addr=%s tls=%s", s->peer_text,
	    implicit_tls ? "implicit" : "no");
	if (implicit_tls && svc->tls_ctx == NULL) {
		/* No certificate: 995 cannot work; say nothing and close. */
		pop3_close(s, "no tls certificate");
		return;
	}
	if (implicit_tls)
		pop3_set_state(s, PS_TLS_WAIT);
	else
		pop3_greet(s);
}

static void
pop3_session_free(struct pop3_session *s)
{
	service_job_orphan(s->pending);
	pop3_auth_cleanup(s);
	if (s->delay_timer != NULL)
		event_free(s->delay_timer);
	pop3_stream_free(&s->stream);
	/* No QUIT, no UPDATE: dropping the listing deletes nothing. */
	pop3_drop_free(&s->drop);
	free(s->user);
	free(s->login);
	conn_free(&s->conn);
	service_session_remove(s->svc, &s->link,
	    (const struct sockaddr *)&s->peer);
	free(s);
}
