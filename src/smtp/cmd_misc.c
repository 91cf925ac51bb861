/* The small commands: RSET, NOOP, QUIT, VRFY, EXPN, HELP, STARTTLS. */
#include "core/config.h"
#include "net/conn.h"
#include "smtp/session_int.h"

enum cmd_rc
smtp_cmd_rset(struct smtp_session *s, struct str_view args)
{
	(void)args;
	smtp_txn_reset(s);
	if (s->state & (SS_MAIL | SS_RCPT | SS_BDAT))
		smtp_set_state(s, SS_READY);
	smtp_reply(s, 250, "2.0.0", "Ok");
	return CMD_DONE;
}

enum cmd_rc
smtp_cmd_noop(struct smtp_session *s, struct str_view args)
{
	(void)args;
	smtp_reply(s, 250, "2.0.0", "Ok");
	return CMD_DONE;
}

enum cmd_rc
smtp_cmd_quit(struct smtp_session *s, struct str_view args)
{
	(void)args;
	smtp_reply(s, 221, "2.0.0", "%s Service closing transmission channel",
	    s->svc->cfg->hostname);
	return CMD_CLOSE;
}

/*
 * RFC 5321 3.5.3 allows 252 ("cannot verify, but will accept") so that
 * VRFY never tells a harvester which accounts exist.
 */
enum cmd_rc
smtp_cmd_vrfy(struct smtp_session *s, struct str_view args)
{
	if (str_trim(args).len == 0) {
		smtp_reply(s, 501, "5.5.4", "Syntax: VRFY address");
		return CMD_DONE;
	}
	smtp_reply(s, 252, "2.5.0", "Cannot VRFY user, but will accept "
	    "message and attempt delivery");
	return CMD_DONE;
}

enum cmd_rc
smtp_cmd_expn(struct smtp_session *s, struct str_view args)
{
	(void)args;
	smtp_reply(s, 502, "5.5.1", "EXPN not available");
	return CMD_DONE;
}

enum cmd_rc
smtp_cmd_help(struct smtp_session *s, struct str_view args)
{
	(void)args;
	smtp_reply(s, 214, "2.0.0", "Commands: HELO EHLO MAIL RCPT DATA BDAT "
	    "RSET NOOP QUIT VRFY HELP STARTTLS AUTH; see RFC 5321");
	return CMD_DONE;
}

enum cmd_rc
smtp_cmd_starttls(struct smtp_session *s, struct str_view args)
{
	if (args.len != 0) {
		smtp_reply(s, 501, "5.5.4", "Syntax: STARTTLS");
		return CMD_DONE;
	}
	if (smtp_is_tls(s)) {
		smtp_reply(s, 503, "5.5.1", "TLS already active");
		return CMD_DONE;
	}
	if (s->svc->tls_ctx == NULL || s->kind == SERVICE_SUBMISSIONS) {
		smtp_reply(s, 454, "4.7.0", "TLS not available");
		return CMD_DONE;
	}
	smtp_reply(s, 220, "2.0.0", "Ready to start TLS");
	/* The rest of the input buffer was sent in the clear: discard it. */
	s->mode = SM_WAIT;
	conn_starttls(s->conn, s->svc->tls_ctx, s->svc->cfg->timeout_tls_handshake);
	return CMD_ASYNC;
}
