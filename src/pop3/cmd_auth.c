/*
 * The AUTHORIZATION state: USER/PASS and APOP (RFC 1939 section 7), AUTH
 * (RFC 5034) over the SASL state machines shared with SMTP, and the
 * maildrop lock that ends it.
 *
 * Enumeration and guessing defences (the founding document's POP3
 * drawbacks): USER answers the same for every name; a failed login
 * answers the same bytes after the same work (a dummy hash for unknown
 * names) whether the account exists or not; every verdict, good or bad,
 * waits the throttle's delay for the client address and the name; the
 * session ends after auth_max_failures. Passwords travel only under TLS.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "auth/sasl.h"
#include "auth/throttle.h"
#include "auth/userdb.h"
#include "core/base64.h"
#include "core/buf.h"
#include "core/config.h"
#include "core/log.h"
#include "core/xmalloc.h"
#include "net/conn.h"
#include "pop3/session_int.h"
#include "store/store.h"

#define AUTH_FAILED	"[AUTH] Authentication failed"

static void	auth_step(struct pop3_session *, const unsigned char *in,
		    size_t inlen, bool has_input);

/* The one refusal of a login before TLS, whatever the name or method. */
static void
auth_need_tls(struct pop3_session *s)
{
	if (s->kind == SERVICE_POP3 && s->svc->tls_ctx != NULL)
		pop3_err(s, "[AUTH] Authentication requires TLS; "
		    "use STLS first");
	else
		pop3_err(s, "[AUTH] Authentication requires TLS");
}

void
pop3_auth_cleanup(struct pop3_session *s)
{
	if (s->sasl != NULL)
		sasl_session_free(&s->sasl);
	if (s->mode == PM_SASL)
		s->mode = PM_COMMAND;
	free(s->delayed_login);
	s->delayed_login = NULL;
}

/* --- the maildrop: RFC 1939 section 4, "acquires an exclusive lock" --- */

struct open_job {
	struct store		*st;
	char			*account;
	struct store_mailbox	*mb;
	int			 rc;
	char			 err[256];
};

static void
open_work(void *arg)
{
	struct open_job *j = arg;
	const char *errstr = NULL;

	j->rc = store_mailbox_open(j->st, j->account, &j->mb, &errstr);
	if (j->rc == -1)
		snprintf(j->err, sizeof(j->err), "%s",
		    errstr != NULL ? errstr : "?");
}

static struct pop3_drop *
drop_new(struct store_mailbox *mb)
{
	struct pop3_drop *d = xcalloc(1, sizeof(*d));

	d->mb = mb;
	d->n = store_mailbox_count(mb);
	d->deleted = xcalloc(d->n + 1, sizeof(bool));
	d->retrieved = xcalloc(d->n + 1, sizeof(bool));
	for (size_t i = 0; i < d->n; i++)
		d->size_total += store_mailbox_msg(mb, i)->size;
	return d;
}

static void
open_done(void *owner, void *arg)
{
	struct pop3_session *s = owner;
	struct open_job *j = arg;
	char esc[128];

	if (s == NULL) {
		/* The client left while the maildrop was being opened. */
		store_mailbox_close(&j->mb);
		free(j->account);
		free(j);
		return;
	}
	s->mode = PM_COMMAND;
	log_escape(esc, sizeof(esc), j->account, strlen(j->account));
	if (j->rc == STORE_LOCKED) {
		pop3_log(s, "event=in-use login=%s", esc);
		pop3_err(s, "[IN-USE] Maildrop is locked by another session");
	} else if (j->rc != 0) {
		log_warn("pop3 sid=%s event=maildrop-error login=%s "
		    "error=\"%s\"", s->sid, esc, j->err);
		pop3_err(s, "[SYS/TEMP] Cannot open maildrop, try again later");
	} else {
		s->drop = drop_new(j->mb);
		j->mb = NULL;
		s->login = j->account;
		j->account = NULL;
		pop3_set_state(s, PS_TRANSACTION);
		pop3_log(s, "event=maildrop login=%s messages=%zu size=%llu",
		    esc, s->drop->n, (unsigned long long)s->drop->size_total);
		pop3_ok(s, "%s has %zu message%s (%llu octets)", esc,
		    s->drop->n, s->drop->n == 1 ? "" : "s",
		    (unsigned long long)s->drop->size_total);
	}
	free(j->account);
	free(j);
	pop3_resume(s);
}

/* --- verdicts --- */

/* Replies to a finished login attempt (after the throttle's delay). */
static void
auth_conclude(struct pop3_session *s)
{
	const struct sockaddr *peer = (const struct sockaddr *)&s->peer;
	char *name = s->delayed_login;
	char esc[128];

	s->delayed_login = NULL;
	log_escape(esc, sizeof(esc), name, strlen(name));
	if (s->delayed_ok) {
		struct open_job *j = xcalloc(1, sizeof(*j));

		throttle_record_success(s->svc->throttle, peer, name);
		pop3_log(s, "event=auth-ok addr=%s mech=%s login=%s",
		    s->peer_ip, s->delayed_mech, esc);
		j->st = s->svc->store;
		j->account = name;
		pop3_async(s, open_work, open_done, j);
		return;
	}
	throttle_record_failure(s->svc->throttle, peer, name);
	/* This line is what fail2ban-style tools match on. */
	log_warn("%s sid=%s event=auth-failed addr=%s mech=%s login=%s",
	    service_kind_name(s->kind), s->sid, s->peer_ip, s->delayed_mech,
	    esc);
	free(name);
	pop3_err(s, AUTH_FAILED);
	if (++s->auth_failures >= s->svc->cfg->auth_max_failures)
		pop3_close(s, "auth failures");
}

static void
auth_delay_cb(evutil_socket_t fd, short what, void *arg)
{
	struct pop3_session *s = arg;

	(void)fd;
	(void)what;
	s->mode = PM_COMMAND;
	auth_conclude(s);
	if (s->mode != PM_WAIT)
		pop3_resume(s);
}

/*
 * Every verdict waits the throttle's delay for this address and name, so
 * timing tells an attacker nothing and guessing slows to a crawl; verdicts
 * from one address take turns, so parallel connections gain nothing. name
 * is the account on success, else the name tried (copied).
 */
static void
auth_verdict(struct pop3_session *s, bool ok, const char *name,
    const char *mech)
{
	unsigned delay = throttle_turn_ms(s->svc->throttle,
	    (const struct sockaddr *)&s->peer, name);
	struct timeval tv;

	free(s->delayed_login);
	s->delayed_login = xstrdup(name);
	s->delayed_ok = ok;
	s->delayed_mech = mech;
	if (delay == 0) {
		auth_conclude(s);
		return;
	}
	s->mode = PM_WAIT;
	conn_pause(s->conn);
	if (s->delay_timer == NULL)
		s->delay_timer = evtimer_new(s->svc->base, auth_delay_cb, s);
	tv.tv_sec = delay / 1000;
	tv.tv_usec = (delay % 1000) * 1000;
	evtimer_add(s->delay_timer, &tv);
}

static enum cmd_rc
auth_rc(const struct pop3_session *s)
{
	return s->mode == PM_WAIT ? CMD_ASYNC : CMD_DONE;
}

/* --- USER / PASS --- */

/*
 * RFC 1939 section 7 lets USER answer -ERR for an unknown name; that is
 * the enumeration drawback, so every name gets the same +OK and the
 * verdict waits for PASS.
 */
enum cmd_rc
pop3_cmd_user(struct pop3_session *s, const struct str_view *args,
    size_t nargs, struct str_view rest)
{
	(void)nargs;
	(void)rest;
	if (!pop3_plaintext_allowed(s)) {
		auth_need_tls(s);
		return CMD_DONE;
	}
	free(s->user);
	s->user = xstrndup(args[0].p, args[0].len);
	pop3_ok(s, "Password required");
	return CMD_DONE;
}

static void
pass_work(void *arg)
{
	auth_password_job_run(arg);
}

static void
pass_done(void *owner, void *arg)
{
	struct pop3_session *s = owner;
	struct auth_password_job *job = arg;
	const char *login;

	if (s == NULL) {
		auth_password_job_free(&job);
		return;
	}
	s->mode = PM_COMMAND;
	login = auth_password_job_login(job);
	auth_verdict(s, auth_password_job_ok(job), login != NULL ? login : "",
	    "USER");
	auth_password_job_free(&job);
	if (s->mode != PM_WAIT)
		pop3_resume(s);
}

enum cmd_rc
pop3_cmd_pass(struct pop3_session *s, const struct str_view *args,
    size_t nargs, struct str_view rest)
{
	struct auth_password_job *job;
	char *pw;

	(void)args;
	(void)nargs;
	if (!pop3_plaintext_allowed(s)) {
		auth_need_tls(s);
		return CMD_DONE;
	}
	if (s->user == NULL) {
		pop3_err(s, "Send USER first");
		return CMD_DONE;
	}
	if (rest.len == 0) {
		pop3_err(s, "PASS: Missing argument");
		return CMD_DONE;
	}
	pw = xstrndup(rest.p, rest.len);
	job = auth_password_job_new(s->svc->users, s->user, pw);
	explicit_bzero(pw, rest.len);
	free(pw);
	free(s->user);
	s->user = NULL;
	/* The job owns the copy of the password until it is freed. */
	pop3_async(s, pass_work, pass_done, job);
	return CMD_ASYNC;
}

/* --- APOP (RFC 1939 section 7) --- */

enum cmd_rc
pop3_cmd_apop(struct pop3_session *s, const struct str_view *args,
    size_t nargs, struct str_view rest)
{
	char name[USERDB_ADDR_MAX + 1], canon[USERDB_ADDR_MAX + 1];
	char digest[64];
	bool ok;

	(void)nargs;
	(void)rest;
	if (!s->svc->cfg->pop3_apop || s->timestamp[0] == '\0') {
		pop3_err(s, "APOP not available");
		return CMD_DONE;
	}
	if (!pop3_login_allowed(s)) {
		auth_need_tls(s);
		return CMD_DONE;
	}
	if (str_copy(name, sizeof(name), args[0]) == -1)
		name[0] = '\0';
	if (str_copy(digest, sizeof(digest), args[1]) == -1)
		digest[0] = '\0';
	/* Unknown names are checked against a dummy secret: same path. */
	ok = name[0] != '\0' && userdb_apop_verify(s->svc->users, name,
	    s->timestamp, digest);
	if (userdb_addr_normalize(name, canon, sizeof(canon)) == -1)
		snprintf(canon, sizeof(canon), "%s", name);
	auth_verdict(s, ok, canon, "APOP");
	return auth_rc(s);
}

/* --- AUTH (RFC 5034) --- */

static void
auth_end(struct pop3_session *s)
{
	if (s->sasl != NULL)
		sasl_session_free(&s->sasl);
	if (s->mode == PM_SASL)
		s->mode = PM_COMMAND;
}

static void
sasl_password_work(void *arg)
{
	auth_password_job_run(sasl_session_password_job(arg));
}

static void
sasl_password_done(void *owner, void *arg)
{
	struct pop3_session *s = owner;
	struct sasl_session *sasl = arg;
	struct auth_password_job *job = sasl_session_password_job(sasl);
	enum sasl_step step;
	const char *login;

	if (s == NULL) {
		sasl_session_free(&sasl);
		return;
	}
	s->mode = PM_COMMAND;
	step = sasl_session_password_done(sasl, job != NULL &&
	    auth_password_job_ok(job));
	login = sasl_session_login(sasl);
	if (step == SASL_STEP_SUCCESS || step == SASL_STEP_FAILURE)
		auth_verdict(s, step == SASL_STEP_SUCCESS,
		    login != NULL ? login : "", sasl_session_mechanism(sasl));
	else
		pop3_err(s, "Malformed authentication exchange");
	sasl_session_free(&sasl);
	if (s->mode != PM_WAIT)
		pop3_resume(s);
}

static void
auth_step(struct pop3_session *s, const unsigned char *in, size_t inlen,
    bool has_input)
{
	struct buf out, b64;
	enum sasl_step step;
	const char *login;

	buf_init(&out, SASL_OUTPUT_MAX);
	step = sasl_session_step(s->sasl, has_input ? in : NULL, inlen, &out);
	switch (step) {
	case SASL_STEP_CHALLENGE:
		buf_init(&b64, base64_encoded_len(SASL_OUTPUT_MAX) + 1);
		if (base64_encode(&b64, out.data != NULL ? out.data : "",
		    out.len) == -1) {
			auth_end(s);
			pop3_err(s, "[SYS/TEMP] Temporary authentication "
			    "failure");
		} else {
			/* RFC 5034 section 4: "+ " and the base64 challenge. */
			s->mode = PM_SASL;
			evbuffer_add(conn_output(s->conn), "+ ", 2);
			evbuffer_add(conn_output(s->conn),
			    b64.data != NULL ? b64.data : "", b64.len);
			evbuffer_add(conn_output(s->conn), "\r\n", 2);
		}
		buf_cleanup(&b64);
		break;
	case SASL_STEP_CHECK_PASSWORD: {
		struct sasl_session *sasl = s->sasl;

		/* The job owns the exchange until it is done. */
		s->sasl = NULL;
		s->mode = PM_COMMAND;
		pop3_async(s, sasl_password_work, sasl_password_done, sasl);
		break;
	}
	case SASL_STEP_SUCCESS:
	case SASL_STEP_FAILURE:
		login = sasl_session_login(s->sasl);
		s->mode = PM_COMMAND;
		auth_verdict(s, step == SASL_STEP_SUCCESS,
		    login != NULL ? login : "",
		    sasl_session_mechanism(s->sasl));
		if (s->sasl != NULL)
			sasl_session_free(&s->sasl);
		break;
	case SASL_STEP_MALFORMED:
		auth_end(s);
		pop3_err(s, "Malformed authentication exchange");
		break;
	}
	buf_wipe(&out);
}

/*
 * The mechanisms offered (see pop3_cmd_capa); *plaintext says the
 * mechanism sends the password itself and so needs TLS. LOGIN is left
 * to SMTP: no POP3 client needs it.
 */
static bool
auth_mech_offered(const char *mech, bool *plaintext)
{
	*plaintext = strcasecmp(mech, "PLAIN") == 0;
	return *plaintext || strcasecmp(mech, "SCRAM-SHA-256") == 0;
}

enum cmd_rc
pop3_cmd_auth(struct pop3_session *s, const struct str_view *args,
    size_t nargs, struct str_view rest)
{
	char mech[32];
	bool needs_tls;
	struct buf in;

	(void)rest;
	if (nargs == 0) {
		/* Not in RFC 5034, but older clients ask this way. */
		pop3_ok(s, "Supported mechanisms follow");
		if (pop3_login_allowed(s))
			pop3_line(s, "SCRAM-SHA-256");
		if (pop3_plaintext_allowed(s))
			pop3_line(s, "PLAIN");
		pop3_end(s);
		return CMD_DONE;
	}
	if (str_copy(mech, sizeof(mech), args[0]) == -1 ||
	    !auth_mech_offered(mech, &needs_tls)) {
		pop3_err(s, "Unsupported authentication mechanism");
		return CMD_DONE;
	}
	if ((needs_tls && !pop3_plaintext_allowed(s)) ||
	    !pop3_login_allowed(s)) {
		auth_need_tls(s);
		return CMD_DONE;
	}
	if ((s->sasl = sasl_session_new(mech, s->svc->users)) == NULL) {
		pop3_err(s, "Unsupported authentication mechanism");
		return CMD_DONE;
	}
	buf_init(&in, SASL_INPUT_MAX);
	/* RFC 5034 section 4: "=" is an empty initial response. */
	if (nargs == 2 && !str_eq(args[1], "=") &&
	    base64_decode(&in, args[1].p, args[1].len) == -1) {
		buf_wipe(&in);
		auth_end(s);
		pop3_err(s, "Invalid base64 in initial response");
		return CMD_DONE;
	}
	auth_step(s, (const unsigned char *)(in.data != NULL ? in.data : ""),
	    in.len, nargs == 2);
	buf_wipe(&in);
	return auth_rc(s);
}

void
pop3_auth_continue(struct pop3_session *s, struct str_view line)
{
	struct buf in;

	s->current_verb = "AUTH";
	/* RFC 5034 section 4: "*" cancels the exchange. */
	if (str_eq(line, "*")) {
		auth_end(s);
		pop3_err(s, "Authentication cancelled");
		return;
	}
	buf_init(&in, SASL_INPUT_MAX);
	if (base64_decode(&in, line.p, line.len) == -1) {
		buf_wipe(&in);
		auth_end(s);
		pop3_err(s, "Invalid base64 in response");
		return;
	}
	auth_step(s, (const unsigned char *)(in.data != NULL ? in.data : ""),
	    in.len, true);
	buf_wipe(&in);
}
