/*
 * MAIL FROM (RFC 5321 4.1.1.2) and the sender policy: on submission the
 * login must own the envelope sender; on the MX port nobody outside
 * trusted_networks may claim a local domain without authenticating (the
 * founding document's spoofing walkthrough), and the sender's domain must
 * exist in the DNS: it needs an MX, or failing that an A or AAAA record
 * (RFC 5321 5.1), and must not publish a null MX (RFC 7505); then its
 * SPF policy (RFC 7208) is checked for the client's address, with the HELO
 * name as the identity for the null path. The DNS look-ups pause the
 * session (SM_WAIT, input not read), so pipelined commands behind MAIL
 * wait in the input buffer for its reply.
 */
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/userdb.h"
#include "core/config.h"
#include "core/log.h"
#include "core/xmalloc.h"
#include "dns/resolver.h"
#include "net/conn.h"
#include "smtp/parse.h"
#include "smtp/session_int.h"

/* One MAIL FROM's DNS checks in flight; owned by the session. */
struct smtp_mail_check {
	struct smtp_session	*s;
	struct smtp_mail_args	 m;
	char			 sender[ADDR_FORMAT_MAX];
	struct dns_query	*q[2];		/* MX, or A and AAAA */
	struct spf_check	*spf;
	enum dns_status		 mx, a, aaaa;
	unsigned		 waiting;	/* answers still to come */
};

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

/* Opens the transaction and says 250; spf is NULL when not checked. */
static void
mail_accept(struct smtp_session *s, const struct smtp_mail_args *m,
    const char *sender, const enum spf_result *spf)
{
	struct smtp_txn *t = xcalloc(1, sizeof(*t));

	if (spf != NULL) {
		t->spf_checked = true;
		t->spf = *spf;
		t->spf_is_helo = m->from.is_null;
	}

	t->sender = m->from;
	snprintf(t->sender_text, sizeof(t->sender_text), "%s", sender);
	t->smtputf8 = m->smtputf8;
	t->body_8bit = m->body == SMTP_BODY_8BITMIME;
	t->declared_size = m->has_size ? m->size : 0;
	strlist_init(&t->local);
	strlist_init(&t->remote);
	s->txn = t;
	smtp_set_state(s, SS_MAIL);
	smtp_reply(s, 250, "2.1.0", "Ok");
}

static bool
domain_is_ascii(const char *d)
{
	for (; *d != '\0'; d++)
		if ((unsigned char)*d >= 0x80)
			return false;
	return true;
}

/*
 * Whether the sender's domain is looked up (for an outsider: see the
 * caller). The null path has no domain, and an address literal names
 * none to look up. A UTF-8 domain would have to be
 * converted to A-labels (IDNA) first, which we cannot do yet: it is
 * passed unchecked (docs/authenticity.md says so).
 */
static bool
mail_needs_domain_check(const struct smtp_session *s,
    const struct smtp_mail_args *m)
{
	const char *d = m->from.domain;

	if (!s->svc->cfg->sender_domain_check || m->from.is_null ||
	    d[0] == '\0' || d[0] == '[')
		return false;
	if (!domain_is_ascii(d)) {
		smtp_log(s, "event=sender-domain domain=utf8 verdict=unchecked");
		return false;
	}
	return true;
}

void
smtp_mail_check_cancel(struct smtp_session *s)
{
	struct smtp_mail_check *c = s->mail_check;

	if (c == NULL)
		return;
	s->mail_check = NULL;
	dns_query_cancel(&c->q[0]);
	dns_query_cancel(&c->q[1]);
	spf_check_cancel(&c->spf);
	free(c);
}

static void
mail_check_log(const struct smtp_mail_check *c, const char *verdict)
{
	smtp_log(c->s, "event=sender-domain from=<%s> domain=%s mx=%s a=%s "
	    "aaaa=%s verdict=%s", c->sender, c->m.from.domain,
	    dns_status_name(c->mx), c->waiting == 0 && c->mx != DNS_OK ?
	    dns_status_name(c->a) : "-", c->waiting == 0 && c->mx != DNS_OK ?
	    dns_status_name(c->aaaa) : "-", verdict);
}

/* Gives the MAIL reply, frees the check and reads the next command. */
static void
mail_check_finish(struct smtp_mail_check *c, unsigned code)
{
	struct smtp_session *s = c->s;

	s->current_verb = "MAIL";
	if (code == 450)
		smtp_reply(s, 450, "4.4.3", "<%s>: Sender address rejected: "
		    "Temporary DNS failure, try again later", c->sender);
	else if (c->mx == DNS_OK)
		smtp_reply(s, 550, "5.1.8", "<%s>: Sender address rejected: "
		    "domain does not accept mail (null MX)", c->sender);
	else
		smtp_reply(s, 550, "5.1.8", "<%s>: Sender address rejected: "
		    "Domain not found", c->sender);
	smtp_mail_check_cancel(s);
	smtp_resume(s);
}

/*
 * RFC 7208 8 and RFC 7372 3.2 (the 5.7.23 / 4.7.24 codes). A permerror
 * is the domain owner's mistake in publishing, not evidence of forgery:
 * by default the mail is accepted and the result recorded
 * (spf_reject_permerror; docs/authenticity.md).
 */
static void
mail_spf_cb(void *arg, const struct spf_verdict *v)
{
	struct smtp_mail_check *c = arg;
	struct smtp_session *s = c->s;
	char why[256], reason[512];

	c->spf = NULL;		/* the check frees itself after this call */
	/* Record text comes from the sender's DNS: escaped for the log. */
	smtp_log(s, "event=spf identity=%s from=<%s> client=%s result=%s "
	    "mechanism=\"%s\" reason=\"%s\"", c->m.from.is_null ? "helo" :
	    "mailfrom", c->sender, s->peer_ip, spf_result_name(v->result),
	    log_escape(why, sizeof(why), v->mechanism, strlen(v->mechanism)),
	    log_escape(reason, sizeof(reason), v->reason, strlen(v->reason)));
	s->current_verb = "MAIL";
	if (v->result == SPF_FAIL && s->svc->cfg->spf_reject_fail) {
		smtp_reply(s, 550, "5.7.23", "<%s>: Sender address rejected: "
		    "SPF fail: %s", c->sender, v->explanation != NULL ?
		    log_escape(why, sizeof(why), v->explanation,
		    strlen(v->explanation)) :
		    "the domain does not authorize this host to send its mail");
	} else if (v->result == SPF_TEMPERROR) {
		smtp_reply(s, 451, "4.7.24", "<%s>: Sender address rejected: "
		    "SPF temporary error, try again later", c->sender);
	} else if (v->result == SPF_PERMERROR &&
	    s->svc->cfg->spf_reject_permerror) {
		smtp_reply(s, 550, "5.7.24", "<%s>: Sender address rejected: "
		    "SPF permanent error: the domain's SPF record is invalid",
		    c->sender);
	} else {
		mail_accept(s, &c->m, c->sender, &v->result);
	}
	smtp_mail_check_cancel(s);
	smtp_resume(s);
}

/* Runs SPF for MAIL FROM, or for the HELO name when MAIL FROM is <>. */
static void
mail_spf_start(struct smtp_mail_check *c)
{
	struct smtp_session *s = c->s;
	const struct sockaddr *sa = (const struct sockaddr *)&s->peer;
	char identity[ADDR_FORMAT_MAX + 16];
	const unsigned char *ip;

	if (sa->sa_family == AF_INET)
		ip = (const void *)&((const struct sockaddr_in *)
		    (const void *)sa)->sin_addr;
	else if (sa->sa_family == AF_INET6)
		ip = (const void *)&((const struct sockaddr_in6 *)
		    (const void *)sa)->sin6_addr;
	else {
		mail_accept(s, &c->m, c->sender, NULL);
		smtp_mail_check_cancel(s);
		smtp_resume(s);
		return;
	}
	if (c->m.from.is_null)
		snprintf(identity, sizeof(identity), "postmaster@%s",
		    s->helo != NULL ? s->helo : "");
	else
		snprintf(identity, sizeof(identity), "%s", c->sender);
	c->spf = spf_check_start(s->svc->resolver, sa->sa_family, ip,
	    identity, s->helo, s->svc->cfg->hostname, mail_spf_cb, c);
}

static void
mail_check_addr_cb(void *arg, const struct dns_result *r)
{
	struct smtp_mail_check *c = arg;

	if (r->type == DNS_A) {
		c->q[0] = NULL;
		c->a = r->status;
	} else {
		c->q[1] = NULL;
		c->aaaa = r->status;
	}
	if (--c->waiting > 0)
		return;
	/* RFC 5321 5.1: without MX, the A/AAAA name is the implicit MX. */
	if (c->a == DNS_OK || c->aaaa == DNS_OK) {
		mail_check_log(c, "ok");
		mail_spf_start(c);
	} else if (c->mx == DNS_TEMPFAIL || c->a == DNS_TEMPFAIL ||
	    c->aaaa == DNS_TEMPFAIL) {
		mail_check_log(c, "tempfail");
		mail_check_finish(c, 450);
	} else {
		mail_check_log(c, "not-found");
		mail_check_finish(c, 550);
	}
}

/* RFC 7505 3: one MX, preference 0, exchange "." (the root). */
static bool
mx_is_null(const struct dns_result *r)
{
	return r->n == 1 && r->rr[0].pref == 0 && r->rr[0].text_len == 0;
}

static void
mail_check_mx_cb(void *arg, const struct dns_result *r)
{
	struct smtp_mail_check *c = arg;
	struct resolver *res = c->s->svc->resolver;

	c->q[0] = NULL;
	c->mx = r->status;
	c->waiting = 0;
	if (r->status == DNS_OK) {
		if (mx_is_null(r)) {
			mail_check_log(c, "null-mx");
			mail_check_finish(c, 550);
		} else {
			mail_check_log(c, "ok");
			mail_spf_start(c);
		}
		return;
	}
	c->waiting = 2;
	c->q[0] = resolver_query(res, c->m.from.domain, DNS_A,
	    mail_check_addr_cb, c);
	c->q[1] = resolver_query(res, c->m.from.domain, DNS_AAAA,
	    mail_check_addr_cb, c);
}

static enum cmd_rc
mail_check_start(struct smtp_session *s, const struct smtp_mail_args *m,
    const char *sender)
{
	struct smtp_mail_check *c = xcalloc(1, sizeof(*c));

	c->s = s;
	c->m = *m;
	snprintf(c->sender, sizeof(c->sender), "%s", sender);
	c->mx = c->a = c->aaaa = DNS_NODATA;
	s->mail_check = c;
	s->mode = SM_WAIT;
	conn_pause(s->conn);
	if (mail_needs_domain_check(s, m))
		c->q[0] = resolver_query(s->svc->resolver, m->from.domain,
		    DNS_MX, mail_check_mx_cb, c);
	else
		mail_spf_start(c);
	return CMD_ASYNC;
}

enum cmd_rc
smtp_cmd_mail(struct smtp_session *s, struct str_view args)
{
	const struct config *cfg = s->svc->cfg;
	struct smtp_mail_args m;
	struct smtp_parse_err err;
	char sender[ADDR_FORMAT_MAX];

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

	/* A logged-in or trusted client vouches for its senders. */
	if (s->login == NULL && !s->is_trusted)
		return mail_check_start(s, &m, sender);
	mail_accept(s, &m, sender, NULL);
	return CMD_DONE;
}
