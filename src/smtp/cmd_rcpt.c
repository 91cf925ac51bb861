/*
 * RCPT TO (RFC 5321 4.1.1.3): local recipients are checked now, so an
 * unknown user is refused here (550 5.1.1) rather than bounced later
 * (no backscatter); remote ones only for clients allowed to relay.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/userdb.h"
#include "core/config.h"
#include "policy/srs.h"
#include "smtp/expand.h"
#include "smtp/parse.h"
#include "smtp/session_int.h"

/* Adds addr's mailboxes to the transaction; false after a refusal reply. */
static bool
rcpt_local(struct smtp_session *s, const char *addr)
{
	struct smtp_txn *t = s->txn;
	struct strlist local, remote, aliases;
	bool ok = true;
	int rc;

	strlist_init(&local);
	strlist_init(&remote);
	strlist_init(&aliases);
	rc = userdb_expand(s->svc->users, addr, &local, &remote, &aliases);
	if (rc == -1) {
		smtp_reply(s, 550, "5.1.1", "<%s>: Recipient address rejected: "
		    "User unknown", addr);
		return false;
	}
	if (rc == -2) {
		smtp_reply(s, 451, "4.3.0", "<%s>: Alias configuration error, "
		    "try again later", addr);
		return false;
	}
	/*
	 * An alias target in a local domain that is no longer an account
	 * (deleted after the alias was made) must not be queued: it would
	 * loop back here. It is dropped with a log line.
	 */
	for (size_t i = 0; i < remote.n; i++) {
		const char *at = strrchr(remote.v[i], '@');

		if (at != NULL && config_is_local_domain(s->svc->cfg, at + 1)) {
			smtp_log(s, "event=alias-target-missing alias=%s "
			    "target=%s", addr, remote.v[i]);
			free(remote.v[i]);
			remote.v[i] = remote.v[--remote.n];
			i--;
		}
	}
	if (local.n == 0 && remote.n == 0) {
		smtp_reply(s, 550, "5.1.1", "<%s>: Recipient address rejected: "
		    "User unknown", addr);
		ok = false;
	} else if (aliases.n > 0) {
		/* An alias: its members get their own copy (expand.h). */
		ok = smtp_copies_rcpt(s, addr, &local, &remote, &aliases);
	} else {
		for (size_t i = 0; i < local.n; i++)
			strlist_add_unique(&t->local, local.v[i]);
		for (size_t i = 0; i < remote.n; i++)
			strlist_add_unique(&t->remote, remote.v[i]);
	}
	strlist_clear(&local);
	strlist_clear(&remote);
	strlist_clear(&aliases);
	return ok;
}

/*
 * A bounce to an SRS address we made when forwarding (docs/outbound.md):
 * verified and reversed, then routed like any recipient. It is relayed
 * for any client: the hash is the authorisation.
 */
static bool
rcpt_srs(struct smtp_session *s, char *addr, size_t addrsz)
{
	char orig[ADDR_FORMAT_MAX];
	const char *at;

	if (!smtp_srs_rcpt(s, addr, orig, sizeof(orig)))
		return false;
	if (str_copy(addr, addrsz, str_view_from(orig)) == -1) {
		smtp_reply(s, 550, "5.1.1", "<%s>: Recipient address rejected: "
		    "invalid SRS address", addr);
		return false;
	}
	at = strrchr(addr, '@');
	if (at != NULL && config_is_local_domain(s->svc->cfg, at + 1))
		return rcpt_local(s, addr);
	strlist_add_unique(&s->txn->remote, addr);
	return true;
}

enum cmd_rc
smtp_cmd_rcpt(struct smtp_session *s, struct str_view args)
{
	const struct config *cfg = s->svc->cfg;
	struct smtp_txn *t = s->txn;
	struct smtp_rcpt_args r;
	struct smtp_parse_err err;
	char addr[ADDR_FORMAT_MAX];

	if (smtp_parse_rcpt_args(args, t->smtputf8, &r, &err) == -1) {
		smtp_reply(s, (unsigned)err.code, err.enhanced, "%s", err.text);
		return CMD_DONE;
	}
	if (t->n_rcpt >= cfg->max_recipients) {
		smtp_reply(s, 452, "4.5.3", "Too many recipients");
		return CMD_DONE;
	}
	/* RFC 5321 4.5.1: a bare <postmaster> is ours. */
	if (r.to.domain[0] == '\0' && cfg->n_domains > 0) {
		struct mailaddr pm = r.to;

		if (str_copy(pm.domain, sizeof(pm.domain),
		    str_view_from(cfg->domains[0])) == -1 ||
		    addr_format(&pm, addr, sizeof(addr)) == -1) {
			smtp_reply(s, 451, "4.3.0", "Local configuration error");
			return CMD_DONE;
		}
	} else if (addr_format(&r.to, addr, sizeof(addr)) == -1) {
		smtp_reply(s, 501, "5.1.3", "Bad recipient address syntax");
		return CMD_DONE;
	}
	str_lower(addr);
	if (config_is_local_domain(cfg, strchr(addr, '@') != NULL ?
	    strchr(addr, '@') + 1 : "")) {
		if (srs_is_srs(addr) && !userdb_is_account(s->svc->users, addr) &&
		    !userdb_is_alias(s->svc->users, addr)) {
			if (!rcpt_srs(s, addr, sizeof(addr)))
				return CMD_DONE;
		} else if (!rcpt_local(s, addr))
			return CMD_DONE;
	} else if (s->login != NULL || s->is_trusted) {
		strlist_add_unique(&t->remote, addr);
	} else {
		smtp_reply(s, 554, "5.7.1", "<%s>: Relay access denied", addr);
		return CMD_DONE;
	}
	if (t->n_rcpt == 0)
		snprintf(t->first_rcpt, sizeof(t->first_rcpt), "%s", addr);
	t->n_rcpt++;
	smtp_set_state(s, SS_RCPT);
	smtp_reply(s, 250, "2.1.5", "Ok");
	return CMD_DONE;
}
