/*
 * AUTH (RFC 4954) over the shared SASL state machines: only on the
 * submission ports and only under TLS. Failures look the same whether the
 * account exists or not, are throttled per client address and account,
 * and end the session after auth_max_failures.
 */
#include <stdlib.h>
#include <string.h>

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
#include "smtp/session_int.h"

static void	auth_step(struct smtp_session *, const unsigned char *in,
		    size_t inlen, bool has_input);

static void
auth_end(struct smtp_session *s)
{
	if (s->sasl != NULL)
		sasl_session_free(&s->sasl);
	s->mode = SM_COMMAND;
}

static void
auth_reply_final(struct smtp_session *s, enum sasl_step step)
{
	const struct sockaddr *peer = (const struct sockaddr *)&s->peer;
	const char *tried = s->sasl != NULL ? sasl_session_login(s->sasl) : NULL;
	const char *mech = s->sasl != NULL ? sasl_session_mechanism(s->sasl) : "?";
	char esc[128];

	log_escape(esc, sizeof(esc), tried != NULL ? tried : "",
	    tried != NULL ? strlen(tried) : 0);
	if (step == SASL_STEP_SUCCESS) {
		s->login = xstrdup(tried);
		throttle_record_success(s->svc->throttle, peer, s->login);
		smtp_log(s, "event=auth-ok addr=%s mech=%s login=%s", s->peer_ip,
		    mech, esc);
		auth_end(s);
		smtp_reply(s, 235, "2.7.0", "Authentication successful");
		return;
	}
	if (step == SASL_STEP_MALFORMED) {
		auth_end(s);
		smtp_reply(s, 501, "5.5.2", "Malformed authentication exchange");
		return;
	}
	throttle_record_failure(s->svc->throttle, peer, tried);
	/* This line is what fail2ban-style tools match on. */
	log_warn("%s sid=%s event=auth-failed addr=%s mech=%s login=%s",
	    service_kind_name(s->kind), s->sid, s->peer_ip, mech, esc);
	auth_end(s);
	smtp_reply(s, 535, "5.7.8", "Authentication credentials invalid");
	if (++s->auth_failures >= s->svc->cfg->auth_max_failures) {
		smtp_reply(s, 421, "4.7.0", "%s Too many authentication "
		    "failures", s->svc->cfg->hostname);
		smtp_close(s, "auth failures");
	}
}

static void
auth_delay_cb(evutil_socket_t fd, short what, void *arg)
{
	struct smtp_session *s = arg;
	enum sasl_step step = (enum sasl_step)s->auth_delayed_step;

	(void)fd;
	(void)what;
	auth_reply_final(s, step);
	smtp_resume(s);
}

/*
 * Replies now, or after the throttle's delay for this address and
 * account: every outcome waits the same, so timing tells an attacker
 * nothing and guessing from a noisy address slows to a crawl. Verdicts
 * from one address take turns (throttle_turn_ms), so parallel
 * connections guess no faster than one.
 */
static void
auth_finish(struct smtp_session *s, enum sasl_step step)
{
	const char *tried = s->sasl != NULL ? sasl_session_login(s->sasl) : NULL;
	unsigned delay = step == SASL_STEP_MALFORMED ? 0 :
	    throttle_turn_ms(s->svc->throttle,
	    (const struct sockaddr *)&s->peer, tried);
	struct timeval tv;

	if (delay == 0) {
		auth_reply_final(s, step);
		return;
	}
	s->auth_delayed_step = (int)step;
	s->mode = SM_WAIT;
	conn_pause(s->conn);
	if (s->delay_timer == NULL)
		s->delay_timer = evtimer_new(s->svc->base, auth_delay_cb, s);
	tv.tv_sec = delay / 1000;
	tv.tv_usec = (delay % 1000) * 1000;
	evtimer_add(s->delay_timer, &tv);
}

static void
auth_password_work(void *arg)
{
	auth_password_job_run(sasl_session_password_job(arg));
}

static void
auth_password_done(void *owner, void *arg)
{
	struct smtp_session *s = owner;
	struct sasl_session *sasl = arg;
	struct auth_password_job *job = sasl_session_password_job(sasl);
	enum sasl_step step;

	if (s == NULL) {
		/* The client left while its password was being checked. */
		sasl_session_free(&sasl);
		return;
	}
	s->sasl = sasl;
	step = sasl_session_password_done(sasl, job != NULL &&
	    auth_password_job_ok(job));
	s->mode = SM_COMMAND;
	auth_finish(s, step);
	if (s->mode != SM_WAIT)
		smtp_resume(s);
}

static void
auth_step(struct smtp_session *s, const unsigned char *in, size_t inlen,
    bool has_input)
{
	struct buf out, b64;
	enum sasl_step step;

	buf_init(&out, SASL_OUTPUT_MAX);
	step = sasl_session_step(s->sasl, has_input ? in : NULL, inlen, &out);
	if (step == SASL_STEP_CHALLENGE) {
		buf_init(&b64, base64_encoded_len(SASL_OUTPUT_MAX) + 1);
		if (base64_encode(&b64, out.data != NULL ? out.data : "",
		    out.len) == -1) {
			buf_wipe(&out);
			auth_end(s);
			smtp_reply(s, 454, "4.7.0", "Temporary authentication "
			    "failure");
			return;
		}
		s->mode = SM_AUTH;
		smtp_reply(s, 334, NULL, "%s", b64.data != NULL ? b64.data : "");
		buf_cleanup(&b64);
	} else if (step == SASL_STEP_CHECK_PASSWORD) {
		struct sasl_session *sasl = s->sasl;

		/* The job owns the exchange until it is done (see smtp_async). */
		s->sasl = NULL;
		smtp_async(s, auth_password_work, auth_password_done, sasl);
	} else {
		auth_finish(s, step);
	}
	buf_wipe(&out);
}

/* Decodes a client response; "=" is the empty initial response (RFC 4954). */
static int
auth_decode(struct str_view text, bool initial, struct buf *out)
{
	if (initial && str_eq(text, "="))
		return 0;
	return base64_decode(out, text.p, text.len);
}

enum cmd_rc
smtp_cmd_auth(struct smtp_session *s, struct str_view args)
{
	struct str_view cur = args, mech, initial = { NULL, 0 };
	char mech_name[32];
	struct buf in;

	if (!smtp_is_tls(s)) {
		smtp_reply(s, 530, "5.7.0", "Must issue a STARTTLS command first");
		return CMD_DONE;
	}
	if (!smtp_is_submission(s)) {
		smtp_reply(s, 502, "5.5.1", "AUTH is available on the "
		    "submission ports only");
		return CMD_DONE;
	}
	if (s->login != NULL) {
		smtp_reply(s, 503, "5.5.1", "Already authenticated");
		return CMD_DONE;
	}
	if (str_take_word(&cur, &mech, sizeof(mech_name) - 1) == -1 ||
	    str_copy(mech_name, sizeof(mech_name), mech) == -1) {
		smtp_reply(s, 501, "5.5.4", "Syntax: AUTH mechanism "
		    "[initial-response]");
		return CMD_DONE;
	}
	str_skip_space(&cur);
	if (cur.len > 0 && str_take_word(&cur, &initial, cur.len) == -1) {
		smtp_reply(s, 501, "5.5.4", "Syntax: AUTH mechanism "
		    "[initial-response]");
		return CMD_DONE;
	}
	if (!sasl_mechanism_allowed(mech_name, true) ||
	    (s->sasl = sasl_session_new(mech_name, s->svc->users)) == NULL) {
		smtp_reply(s, 504, "5.5.4", "Unrecognized authentication type");
		return CMD_DONE;
	}
	buf_init(&in, SASL_INPUT_MAX);
	if (initial.p != NULL && auth_decode(initial, true, &in) == -1) {
		buf_wipe(&in);
		auth_end(s);
		smtp_reply(s, 501, "5.5.2", "Invalid base64 in initial response");
		return CMD_DONE;
	}
	auth_step(s, (const unsigned char *)(in.data != NULL ? in.data : ""),
	    in.len, initial.p != NULL);
	buf_wipe(&in);
	return s->mode == SM_WAIT ? CMD_ASYNC : CMD_DONE;
}

void
smtp_auth_continue(struct smtp_session *s, struct str_view line)
{
	struct buf in;

	s->current_verb = "AUTH";
	if (str_eq(line, "*")) {
		auth_end(s);
		smtp_reply(s, 501, "5.0.0", "Authentication cancelled");
		return;
	}
	buf_init(&in, SASL_INPUT_MAX);
	if (auth_decode(line, false, &in) == -1) {
		buf_wipe(&in);
		auth_end(s);
		smtp_reply(s, 501, "5.5.2", "Invalid base64 in response");
		return;
	}
	auth_step(s, (const unsigned char *)(in.data != NULL ? in.data : ""),
	    in.len, true);
	buf_wipe(&in);
}
