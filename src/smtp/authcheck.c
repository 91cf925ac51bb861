/*
 * Sender authenticity of one message; see authcheck.h. The policy (what
 * a verdict does) lives here; the checks themselves are src/policy's.
 *
 * Inbound (port 25, outsiders): the DKIM verifier gets every octet as
 * received; when its header section ends, one TXT look-up per signature
 * starts (s._domainkey.d), and as soon as the session's header scanner
 * has the whole first From field, DMARC policy discovery for its domain
 * starts. Both run while the rest of the message streams in. At the end of the
 * data the verdict waits for the answers still missing, then DMARC is
 * evaluated with the SPF result from MAIL and the aligned DKIM passes:
 *
 *   dmarc=fail, policy reject      550 5.7.1, nothing stored
 *   dmarc=fail, policy quarantine  stored with X-Sealpost-Quarantine
 *   anything else                  stored
 *
 * (pct sampling may make a failing message's disposition milder, RFC 7489
 * 6.6.4). A DNS failure makes a DKIM signature or DMARC temperror, which
 * is recorded and accepted: refusing would let a broken DNS server bounce
 * mail, and SPF's temperror already asks the sender to retry at MAIL.
 *
 * Submission (a logged-in sender): the header section is held (bounded)
 * until the From field is known; if its domain has keys the signer is
 * created with all of them and fed what was held, then the rest as it
 * is stored.
 */
#include "smtp/authcheck.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/addr.h"
#include "core/buf.h"
#include "core/config.h"
#include "core/log.h"
#include "core/xmalloc.h"
#include "dns/resolver.h"
#include "policy/dkim.h"
#include "policy/dmarc.h"
#include "smtp/session_int.h"
#include "smtp/signkeys.h"

/* From addresses looked at for the signing domain. */
#define AC_FROM_MAX	16

struct ac_keyq {
	struct smtp_authcheck	*ac;
	size_t			 i;		/* signature index */
	struct dns_query	*q;
};

struct smtp_authcheck {
	struct smtp_session	*s;
	bool			 is_inbound;	/* checked: A-R, From rule */
	bool			 is_finished;	/* end of data seen */
	unsigned		 pending;	/* DNS answers still to come */
	smtp_authcheck_done_fn	*done;

	/* DKIM verification */
	struct dkim_verify	*dv;
	bool			 keys_started;
	struct ac_keyq		 kq[DKIM_MAX_SIGS];

	/* DMARC */
	bool			 dmarc_started;
	struct dmarc_lookup	*dl;
	enum dmarc_from_status	 from_status;
	char			 from_domain[DMARC_DOMAIN_MAX];
	struct dmarc_policy_found found;
	bool			 has_verdict;
	struct dmarc_verdict	 verdict;
	bool			 is_quarantined;

	/* DKIM signing */
	bool			 sign_decided;
	struct buf		 held;		/* header section so far */
	struct dkim_signer	*signer;
	char			 sign_domain[ADDR_DOMAIN_MAX + 1];

	char			 refusal[384];	/* "" = accept */
};

static bool
ac_wants_dmarc(const struct smtp_authcheck *ac)
{
	return ac->is_inbound && ac->s->svc->psl != NULL;
}

struct smtp_authcheck *
smtp_authcheck_new(struct smtp_session *s)
{
	const struct config *cfg = s->svc->cfg;
	struct smtp_authcheck *ac;

	if (s->login != NULL) {
		/* Signing: only if some local domain has a key at all. */
		if (!cfg->dkim_sign ||
		    smtp_signkeys_count(s->svc->dkim_keys) == 0)
			return NULL;
		ac = xcalloc(1, sizeof(*ac));
		ac->s = s;
		buf_init(&ac->held, DKIM_HEADERS_MAX);
		return ac;
	}
	/*
	 * Only mail from outside is checked: a logged-in sender was checked
	 * against its account, and trusted_networks vouch for theirs.
	 */
	if (s->is_trusted || s->kind != SERVICE_SMTP)
		return NULL;
	ac = xcalloc(1, sizeof(*ac));
	ac->s = s;
	ac->is_inbound = true;
	ac->sign_decided = true;
	buf_init(&ac->held, 0);
	if (cfg->dkim_verify)
		ac->dv = dkim_verify_new(time(NULL));
	return ac;
}

void
smtp_authcheck_free(struct smtp_authcheck **acp)
{
	struct smtp_authcheck *ac = *acp;

	if (ac == NULL)
		return;
	*acp = NULL;
	for (size_t i = 0; i < DKIM_MAX_SIGS; i++)
		dns_query_cancel(&ac->kq[i].q);
	dmarc_lookup_cancel(&ac->dl);
	dkim_verify_free(&ac->dv);
	dkim_signer_free(&ac->signer);
	buf_cleanup(&ac->held);
	free(ac);
}

/* One answer came in; the last one after the end of data gives the verdict. */
static void	ac_evaluate(struct smtp_authcheck *);

static void
ac_answered(struct smtp_authcheck *ac)
{
	if (--ac->pending > 0 || !ac->is_finished)
		return;
	ac_evaluate(ac);
	ac->done(ac->s);
}

static void
ac_key_cb(void *arg, const struct dns_result *r)
{
	struct ac_keyq *kq = arg;

	kq->q = NULL;
	dkim_verify_key_result(kq->ac->dv, kq->i, r);
	ac_answered(kq->ac);
}

/* The verifier knows the signatures: ask for every key they name. */
static void
ac_keys_start(struct smtp_authcheck *ac)
{
	size_t n = dkim_verify_count(ac->dv);

	ac->keys_started = true;
	for (size_t i = 0; i < n && i < DKIM_MAX_SIGS; i++) {
		const char *qname = dkim_verify_qname(ac->dv, i);

		if (qname == NULL)
			continue;
		ac->kq[i].ac = ac;
		ac->kq[i].i = i;
		ac->pending++;
		ac->kq[i].q = resolver_query(ac->s->svc->resolver, qname,
		    DNS_TXT, ac_key_cb, &ac->kq[i]);
	}
}

static void
ac_dmarc_cb(void *arg, const struct dmarc_policy_found *found)
{
	struct smtp_authcheck *ac = arg;

	ac->dl = NULL;		/* the lookup frees itself */
	ac->found = *found;
	ac_answered(ac);
}

/*
 * The first From field is complete (or the header section is over): its
 * domain is known. Without a From field there is nothing to look up; a
 * second From found later is the From rule's business at the end.
 */
static void
ac_dmarc_start(struct smtp_authcheck *ac)
{
	const struct smtp_header *h = &ac->s->txn->header;

	ac->dmarc_started = true;
	ac->found.status = DMARC_LOOKUP_NONE;
	ac->found.reason = "not looked up";
	if (h->from_count != 1 || h->from_truncated) {
		ac->from_status = h->from_count > 1 ? DMARC_FROM_MULTIPLE :
		    h->from_count == 0 ? DMARC_FROM_NONE : DMARC_FROM_INVALID;
		return;
	}
	ac->from_status = dmarc_from_domain(h->from, h->from_len,
	    ac->from_domain, sizeof(ac->from_domain));
	if (ac->from_status != DMARC_FROM_OK)
		return;
	ac->pending++;
	ac->dl = dmarc_lookup_start(ac->s->svc->resolver, ac->s->svc->psl,
	    ac->from_domain, ac_dmarc_cb, ac);
}

void
smtp_authcheck_received(struct smtp_authcheck *ac, const char *p, size_t len)
{
	if (!ac->is_inbound)
		return;
	if (ac->dv != NULL && dkim_verify_feed(ac->dv, p, len) == 1)
		ac_keys_start(ac);
	/* As soon as the From field is complete, or the section is over. */
	if (!ac->dmarc_started && ac_wants_dmarc(ac) &&
	    (ac->s->txn->header.done ||
	    smtp_header_from_done(&ac->s->txn->header)))
		ac_dmarc_start(ac);
}

/* The domain of the (first) From address, for choosing the keys. */
static bool
ac_from_domain(struct smtp_authcheck *ac, char *out, size_t outsz)
{
	const struct smtp_header *h = &ac->s->txn->header;
	struct mailaddr from[AC_FROM_MAX];
	const char *err = NULL;
	int n;

	if (h->from_count < 1 || h->from_truncated)
		return false;
	n = addr_parse_header_list(str_view_make(h->from, h->from_len), from,
	    AC_FROM_MAX, &err);
	if (n <= 0 || from[0].domain[0] == '\0' || from[0].domain[0] == '[')
		return false;
	return (size_t)snprintf(out, outsz, "%s", from[0].domain) < outsz;
}

/*
 * The From field is known (header section over, or the message ended):
 * sign with every key of its domain, starting with what was held.
 */
static void
ac_sign_decide(struct smtp_authcheck *ac)
{
	const struct dkim_key *keys;
	size_t n = 0;

	ac->sign_decided = true;
	if (!ac_from_domain(ac, ac->sign_domain, sizeof(ac->sign_domain)) ||
	    (keys = smtp_signkeys_find(ac->s->svc->dkim_keys,
	    ac->sign_domain, &n)) == NULL || n == 0) {
		buf_cleanup(&ac->held);
		return;
	}
	ac->signer = dkim_signer_new(keys, n, time(NULL));
	if (ac->signer != NULL && ac->held.len > 0)
		dkim_signer_feed(ac->signer, ac->held.data, ac->held.len);
	buf_cleanup(&ac->held);
}

void
smtp_authcheck_stored(struct smtp_authcheck *ac, const char *p, size_t len)
{
	if (ac->signer != NULL) {
		dkim_signer_feed(ac->signer, p, len);
		return;
	}
	if (ac->sign_decided)
		return;
	if (ac->s->txn->header.done) {
		ac_sign_decide(ac);
		if (ac->signer != NULL)
			dkim_signer_feed(ac->signer, p, len);
		return;
	}
	if (buf_append(&ac->held, p, len) == -1) {
		/* A header section this large is not signed. */
		smtp_log(ac->s, "event=dkim-sign-skipped reason=\"header "
		    "section over %u octets\"", (unsigned)DKIM_HEADERS_MAX);
		ac->sign_decided = true;
		buf_cleanup(&ac->held);
	}
}

/*
 * RFC 7489 6.6.1: a message without exactly one author (one From field
 * with one mailbox and a domain) names no single domain whose policy
 * could protect it, so mail from outside is refused rather than let
 * through unchecked. Returns false with the refusal set.
 */
static bool
ac_from_rule_ok(struct smtp_authcheck *ac)
{
	const struct smtp_header *h = &ac->s->txn->header;
	const char *why = NULL;

	if (h->from_count != 1) {
		snprintf(ac->refusal, sizeof(ac->refusal), "Message must have "
		    "exactly one From header field (RFC 7489 6.6.1), it has %u",
		    h->from_count);
		return false;
	}
	if (!ac_wants_dmarc(ac))
		return true;
	switch (ac->from_status) {
	case DMARC_FROM_OK:
		return true;
	case DMARC_FROM_MULTIPLE:
		why = "more than one author address";
		break;
	case DMARC_FROM_NONE:
		why = "no author address";
		break;
	case DMARC_FROM_INVALID:
		why = "no usable author domain";
		break;
	}
	snprintf(ac->refusal, sizeof(ac->refusal), "From header field has %s "
	    "(RFC 7489 6.6.1)", why);
	return false;
}

/* RFC 8601 / RFC 6376: a value from the message may go into A-R as is. */
static bool
ar_value_plain(const char *v)
{
	if (*v == '\0')
		return false;
	for (; *v != '\0'; v++) {
		unsigned char c = (unsigned char)*v;

		/* RFC 2045 tspecials but '@' (RFC 8601 2.2 allows it). */
		if (c <= 0x20 || c >= 0x7f ||
		    strchr("()<>,;:\\\"/[]?=", c) != NULL)
			return false;
	}
	return true;
}

static void
ac_log_dkim(struct smtp_authcheck *ac)
{
	size_t n = dkim_verify_count(ac->dv);

	for (size_t i = 0; i < n; i++) {
		const struct dkim_result *r = dkim_verify_result(ac->dv, i);
		char d[128], sel[96];

		smtp_log(ac->s, "event=dkim d=%s s=%s a=%s result=%s "
		    "reason=\"%s\"", log_escape(d, sizeof(d), r->domain,
		    strlen(r->domain)), log_escape(sel, sizeof(sel),
		    r->selector, strlen(r->selector)), dkim_alg_name(r->alg),
		    dkim_status_name(r->status), r->reason);
	}
}

/* Every answer is in and the body is complete: the DMARC verdict. */
static void
ac_evaluate(struct smtp_authcheck *ac)
{
	const struct smtp_txn *t = ac->s->txn;
	const char *pass[DKIM_MAX_SIGS];
	struct dmarc_input in;
	size_t n_pass = 0, n;
	char why[300];

	if (ac->dv != NULL) {
		ac_log_dkim(ac);
		n = dkim_verify_count(ac->dv);
		for (size_t i = 0; i < n && n_pass < DKIM_MAX_SIGS; i++) {
			const struct dkim_result *r =
			    dkim_verify_result(ac->dv, i);

			/* RFC 8301 3.1: rsa-sha1 does not count. */
			if (r->status == DKIM_PASS && !r->is_weak)
				pass[n_pass++] = r->domain;
		}
	}
	if (!ac_wants_dmarc(ac) || ac->from_status != DMARC_FROM_OK)
		return;
	memset(&in, 0, sizeof(in));
	in.from_domain = ac->from_domain;
	in.spf = t->spf_checked ? t->spf : SPF_NONE;
	/* RFC 7489 4.1: the SPF identity is MAIL FROM's, or HELO's for <>. */
	in.spf_domain = t->spf_is_helo ? ac->s->helo : t->sender.domain;
	if (!t->spf_checked || in.spf_domain == NULL ||
	    in.spf_domain[0] == '\0')
		in.spf_domain = NULL;
	in.dkim_domains = pass;
	in.n_dkim = n_pass;
	in.roll = arc4random_uniform(100);
	dmarc_evaluate(ac->s->svc->psl, &ac->found, &in, &ac->verdict);
	ac->has_verdict = true;
	smtp_log(ac->s, "event=dmarc from=%s result=%s policy=%s "
	    "disposition=%s reason=\"%s\"", ac->from_domain,
	    dmarc_result_name(ac->verdict.result),
	    dmarc_policy_name(ac->verdict.policy),
	    dmarc_policy_name(ac->verdict.disposition),
	    log_escape(why, sizeof(why), ac->verdict.reason,
	    strlen(ac->verdict.reason)));
	if (ac->verdict.result != DMARC_RESULT_FAIL ||
	    !ac->s->svc->cfg->dmarc_enforce)
		return;
	if (ac->verdict.disposition == DMARC_POLICY_REJECT) {
		/* A reason cut short still refuses: the domain comes first. */
		int w = snprintf(ac->refusal, sizeof(ac->refusal), "Message "
		    "rejected by the DMARC policy of %s: %s", ac->from_domain,
		    why);

		if (w < 0)
			snprintf(ac->refusal, sizeof(ac->refusal), "Message "
			    "rejected by DMARC policy");
	} else if (ac->verdict.disposition == DMARC_POLICY_QUARANTINE)
		ac->is_quarantined = true;
}

int
smtp_authcheck_finish(struct smtp_authcheck *ac, smtp_authcheck_done_fn *done)
{
	ac->is_finished = true;
	ac->done = done;
	if (!ac->is_inbound) {
		if (!ac->sign_decided)
			ac_sign_decide(ac);
		return 0;
	}
	if (ac->dv != NULL) {
		dkim_verify_body_end(ac->dv);
		if (!ac->keys_started)
			ac_keys_start(ac);
	}
	if (!ac->dmarc_started && ac_wants_dmarc(ac))
		ac_dmarc_start(ac);
	if (ac->s->svc->cfg->dmarc_enforce && !ac_from_rule_ok(ac))
		return 0;	/* refused: the answers do not matter */
	if (ac->pending > 0)
		return 1;
	ac_evaluate(ac);
	return 0;
}

const char *
smtp_authcheck_refusal(const struct smtp_authcheck *ac)
{
	return ac->refusal[0] != '\0' ? ac->refusal : NULL;
}

/*
 * RFC 8601 2.7.2: the SPF verdict with the identity it was computed for
 * (RFC 7208 9.2 registers spf and smtp.mailfrom / smtp.helo). A sender
 * whose local part would need quoting is named by its domain only.
 */
static int
ar_spf(const struct smtp_session *s, struct buf *out)
{
	const struct smtp_txn *t = s->txn;
	const char *prop = t->spf_is_helo ? "smtp.helo" : "smtp.mailfrom";
	const char *val = t->spf_is_helo ? s->helo : t->sender_text;

	if (!t->spf_checked)
		return buf_printf(out, "\r\n\tspf=none");
	if (val == NULL || !ar_value_plain(val))
		val = t->spf_is_helo ? "unknown" : t->sender.domain;
	if (!ar_value_plain(val))
		return buf_printf(out, "\r\n\tspf=%s", spf_result_name(t->spf));
	return buf_printf(out, "\r\n\tspf=%s %s=%s", spf_result_name(t->spf),
	    prop, val);
}

/*
 * RFC 6376 7.2 / RFC 8601 2.7.1: one dkim= per signature with header.d,
 * header.s, header.a and header.b (the first 8 characters of b=, so a
 * reader can tell signatures of one domain apart); "dkim=none" when there
 * was none. Values that would need quoting are left out.
 */
static int
ar_dkim(struct smtp_authcheck *ac, struct buf *out)
{
	size_t n = ac->dv != NULL ? dkim_verify_count(ac->dv) : 0;
	int rc = 0;

	if (n == 0)
		return buf_printf(out, ";\r\n\tdkim=none");
	for (size_t i = 0; i < n; i++) {
		const struct dkim_result *r = dkim_verify_result(ac->dv, i);
		char b[9];

		rc |= buf_printf(out, ";\r\n\tdkim=%s",
		    dkim_status_name(r->status));
		/* l= leaves the body past it unsigned: the reader should know. */
		if (r->status != DKIM_PASS || r->is_weak)
			rc |= buf_printf(out, " (%s%s)", r->reason,
			    r->has_l ? ", l= used" : "");
		else if (r->has_l)
			rc |= buf_printf(out, " (l= used)");
		if (ar_value_plain(r->domain))
			rc |= buf_printf(out, " header.d=%s", r->domain);
		if (ar_value_plain(r->selector))
			rc |= buf_printf(out, " header.s=%s", r->selector);
		if (r->domain[0] != '\0')
			rc |= buf_printf(out, " header.a=%s",
			    dkim_alg_name(r->alg));
		/* The first 8 characters; b_prefix holds up to 16. */
		memcpy(b, r->b_prefix, sizeof(b) - 1);
		b[sizeof(b) - 1] = '\0';
		/* base64 may hold '/': then a quoted-string (RFC 8601 2.2). */
		if (b[0] != '\0' && strspn(b, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
		    "abcdefghijklmnopqrstuvwxyz0123456789+/=") == strlen(b))
			rc |= buf_printf(out, ar_value_plain(b) ?
			    " header.b=%s" : " header.b=\"%s\"", b);
	}
	return rc;
}

static int
ar_dmarc(struct smtp_authcheck *ac, struct buf *out)
{
	char clause[160 + DMARC_DOMAIN_MAX];

	if (!ac_wants_dmarc(ac))
		return 0;
	if (!ac->has_verdict)
		return buf_printf(out, ";\r\n\tdmarc=permerror (%s)",
		    ac->from_status == DMARC_FROM_OK ? "not evaluated" :
		    "no single author domain");
	if (dmarc_authres_format(&ac->verdict, ac->from_domain, clause,
	    sizeof(clause)) == -1)
		return -1;
	return buf_printf(out, ";\r\n\t%s", clause);
}

static int
ac_sign_fields(struct smtp_authcheck *ac, struct buf *out)
{
	const char *err = NULL;

	if (ac->signer == NULL)
		return 0;
	if (dkim_signer_finish(ac->signer, out, &err) == -1) {
		/* Unsigned mail still goes out; the log says why. */
		smtp_log(ac->s, "event=dkim-sign-failed domain=%s error=\"%s\"",
		    ac->sign_domain, err != NULL ? err : "?");
		return 0;
	}
	smtp_log(ac->s, "event=dkim-signed domain=%s", ac->sign_domain);
	return 0;
}

int
smtp_authcheck_fields(struct smtp_authcheck *ac, struct buf *out)
{
	int rc = 0;

	if (!ac->is_inbound)
		return ac_sign_fields(ac, out);
	/* One field, one method per folded line (RFC 8601 2.2). */
	rc |= buf_printf(out, "Authentication-Results: %s;",
	    ac->s->svc->cfg->hostname);
	rc |= ar_spf(ac->s, out);
	rc |= ar_dkim(ac, out);
	rc |= ar_dmarc(ac, out);
	rc |= buf_append_str(out, "\r\n");
	/*
	 * RFC 7489 6.6.4 leaves the quarantine to the receiver; POP3 has no
	 * folders, so the mark is a field a mail client can filter on.
	 */
	if (ac->is_quarantined)
		rc |= buf_printf(out, "X-Sealpost-Quarantine: dmarc "
		    "p=quarantine from=%s\r\n", ac->from_domain);
	return rc;
}
