/*
 * Sender authenticity of one message; see authcheck.h. The policy (what
 * a verdict does) lives here; the checks themselves are src/policy's.
 */
#include "smtp/authcheck.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/config.h"
#include "core/xmalloc.h"
#include "smtp/session_int.h"

struct smtp_authcheck {
	struct smtp_session	*s;
	bool			 is_inbound;	/* checked: A-R, From rule */
	char			 refusal[256];	/* "" = accept */
};

struct smtp_authcheck *
smtp_authcheck_new(struct smtp_session *s)
{
	struct smtp_authcheck *ac;

	/*
	 * Only mail from outside is checked: a logged-in sender was checked
	 * against its account, and trusted_networks vouch for theirs.
	 */
	if (s->login != NULL || s->is_trusted || s->kind != SERVICE_SMTP)
		return NULL;
	ac = xcalloc(1, sizeof(*ac));
	ac->s = s;
	ac->is_inbound = true;
	return ac;
}

void
smtp_authcheck_free(struct smtp_authcheck **acp)
{
	struct smtp_authcheck *ac = *acp;

	if (ac == NULL)
		return;
	*acp = NULL;
	free(ac);
}

void
smtp_authcheck_received(struct smtp_authcheck *ac, const char *p, size_t len)
{
	(void)ac;
	(void)p;
	(void)len;
}

void
smtp_authcheck_stored(struct smtp_authcheck *ac, const char *p, size_t len)
{
	(void)ac;
	(void)p;
	(void)len;
}

/*
 * RFC 7489 6.6.1: a message without exactly one From field names no
 * single author domain, so DMARC could not protect it; such mail from
 * outside is refused.
 */
static bool
from_rule_ok(struct smtp_authcheck *ac)
{
	const struct smtp_header *h = &ac->s->txn->header;

	if (h->from_count == 1)
		return true;
	snprintf(ac->refusal, sizeof(ac->refusal), "Message must have "
	    "exactly one From header field (RFC 7489 6.6.1), it has %u",
	    h->from_count);
	return false;
}

int
smtp_authcheck_finish(struct smtp_authcheck *ac, smtp_authcheck_done_fn *done)
{
	(void)done;
	if (ac->is_inbound && !from_rule_ok(ac))
		return 0;
	return 0;
}

const char *
smtp_authcheck_refusal(const struct smtp_authcheck *ac)
{
	return ac->refusal[0] != '\0' ? ac->refusal : NULL;
}

/* Characters that may stand in an RFC 8601 pvalue without quoting. */
static bool
ar_value_plain(const char *v)
{
	if (*v == '\0')
		return false;
	for (; *v != '\0'; v++) {
		unsigned char c = (unsigned char)*v;

		if (c <= 0x20 || c >= 0x7f || strchr("()<>;\"\\,[]:", c) != NULL)
			return false;
	}
	return true;
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

int
smtp_authcheck_fields(struct smtp_authcheck *ac, struct buf *out)
{
	int rc = 0;

	if (!ac->is_inbound)
		return 0;
	/* One field, one method per folded line (RFC 8601 2.2). */
	rc |= buf_printf(out, "Authentication-Results: %s;",
	    ac->s->svc->cfg->hostname);
	rc |= ar_spf(ac->s, out);
	rc |= buf_append_str(out, "\r\n");
	return rc;
}
