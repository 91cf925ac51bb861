/*
 * HELO and EHLO (RFC 5321 4.1.1.1): the greeting that starts (or, when
 * repeated, resets) a session, and the list of ESMTP extensions.
 */
#include <stdio.h>
#include <stdlib.h>

#include "core/config.h"
#include "core/xmalloc.h"
#include "smtp/session_int.h"

/* RFC 5321 4.1.1.1: the argument is a domain or an address literal. */
static bool
helo_arg_ok(struct str_view arg)
{
	if (arg.len == 0 || arg.len > 255)
		return false;
	for (size_t i = 0; i < arg.len; i++) {
		unsigned char c = (unsigned char)arg.p[i];

		/* Be liberal (real clients send odd names) but printable. */
		if (c <= 0x20 || c == 0x7f)
			return false;
	}
	return true;
}

static bool
helo_start(struct smtp_session *s, struct str_view args)
{
	struct str_view arg = str_trim(args), word;
	struct str_view cur = arg;

	/* Some clients append junk after the name; the name is the first word. */
	if (str_take_word(&cur, &word, 255) == 0)
		arg = word;
	if (!helo_arg_ok(arg)) {
		smtp_reply(s, 501, "5.5.4", "Syntax: %s hostname",
		    s->current_verb);
		return false;
	}
	/* A repeated HELO/EHLO aborts any transaction (RFC 5321 4.1.4). */
	smtp_txn_reset(s);
	free(s->helo);
	s->helo = xstrndup(arg.p, arg.len);
	smtp_set_state(s, SS_READY);
	return true;
}

enum cmd_rc
smtp_cmd_helo(struct smtp_session *s, struct str_view args)
{
	if (!helo_start(s, args))
		return CMD_DONE;
	s->esmtp = false;
	smtp_reply(s, 250, NULL, "%s", s->svc->cfg->hostname);
	return CMD_DONE;
}

enum cmd_rc
smtp_cmd_ehlo(struct smtp_session *s, struct str_view args)
{
	const struct config *cfg = s->svc->cfg;
	bool tls = smtp_is_tls(s);

	if (!helo_start(s, args))
		return CMD_DONE;
	s->esmtp = true;
	smtp_reply_line(s, 250, false, "%s Hello %s [%s]", cfg->hostname,
	    s->helo, s->peer_ip);
	smtp_reply_line(s, 250, false, "PIPELINING");
	smtp_reply_line(s, 250, false, "SIZE %llu",
	    (unsigned long long)cfg->max_message_size);
	smtp_reply_line(s, 250, false, "8BITMIME");
	smtp_reply_line(s, 250, false, "ENHANCEDSTATUSCODES");
	smtp_reply_line(s, 250, false, "SMTPUTF8");
	smtp_reply_line(s, 250, false, "CHUNKING");
	/* RFC 3207: offered once, and only where a certificate exists. */
	if (!tls && s->svc->tls_ctx != NULL)
		smtp_reply_line(s, 250, false, "STARTTLS");
	/*
	 * AUTH only on the submission ports and only inside TLS, so no
	 * password ever crosses the network in the clear.
	 */
	if (tls && smtp_is_submission(s) && s->login == NULL)
		smtp_reply_line(s, 250, false, "AUTH PLAIN LOGIN SCRAM-SHA-256");
	smtp_reply(s, 250, NULL, "HELP");
	return CMD_DONE;
}
