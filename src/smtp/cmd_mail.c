/*
 * MAIL FROM (RFC 5321 4.1.1.2) and the sender policy: on submission the
 * login must own the envelope sender; on the MX port nobody outside
 * trusted_networks may claim a local domain without authenticating (the
 * founding document's spoofing walkthrough).
 */
#include <stdlib.h>

#include "auth/userdb.h"
#include "core/config.h"
#include "core/xmalloc.h"
#include "smtp/parse.h"
#include "smtp/session_int.h"

static bool
mail_sender_allowed(struct smtp_session *s, const struct smtp_mail_args *m,
    const char *sender)
{
	const struct config *cfg = s->svc->cfg;

	if (s->login != NULL) {
		if (m->from.is_null || !userdb_login_owns(s->svc->users,
		    s->login, sender)) {
			smtp_reply(s, 550, "5.7.1", "Sender address <%s> is not "
			    "owned by user %s", sender, s->login);
			return false;
		}
		return true;
	}
	if (!s->is_trusted && !m->from.is_null &&
	    config_is_local_domain(cfg, m->from.domain)) {
		smtp_reply(s, 550, "5.7.1", "Sender address <%s> is in a local "
		    "domain; log in on the submission port to send as it",
		    sender);
		return false;
	}
	return true;
}

enum cmd_rc
smtp_cmd_mail(struct smtp_session *s, struct str_view args)
{
	const struct config *cfg = s->svc->cfg;
	struct smtp_mail_args m;
	struct smtp_parse_err err;
	char sender[ADDR_FORMAT_MAX];
	struct smtp_txn *t;

	if (smtp_is_submission(s) && !smtp_is_tls(s)) {
		smtp_reply(s, 530, "5.7.0", "Must issue a STARTTLS command first");
		return CMD_DONE;
	}
	if (smtp_is_submission(s) && s->login == NULL) {
		smtp_reply(s, 530, "5.7.0", "Authentication required");
		return CMD_DONE;
	}
	/* A HELO client gets no extensions, so no parameters (RFC 1869). */
	if (smtp_parse_mail_args(args, s->esmtp ? SMTP_EXT_ALL : 0, &m,
	    &err) == -1) {
		smtp_reply(s, (unsigned)err.code, err.enhanced, "%s", err.text);
		return CMD_DONE;
	}
	if (m.has_size && m.size > cfg->max_message_size) {
		smtp_reply(s, 552, "5.3.4", "Message size exceeds fixed maximum "
		    "message size (%llu)",
		    (unsigned long long)cfg->max_message_size);
		return CMD_DONE;
	}
	if (addr_format(&m.from, sender, sizeof(sender)) == -1) {
		smtp_reply(s, 501, "5.1.7", "Bad sender address syntax");
		return CMD_DONE;
	}
	if (!mail_sender_allowed(s, &m, sender))
		return CMD_DONE;

	t = xcalloc(1, sizeof(*t));
	t->sender = m.from;
	snprintf(t->sender_text, sizeof(t->sender_text), "%s", sender);
	t->smtputf8 = m.smtputf8;
	t->body_8bit = m.body == SMTP_BODY_8BITMIME;
	t->declared_size = m.has_size ? m.size : 0;
	strlist_init(&t->local);
	strlist_init(&t->remote);
	s->txn = t;
	smtp_set_state(s, SS_MAIL);
	smtp_reply(s, 250, "2.1.0", "Ok");
	return CMD_DONE;
}
