/*
 * DMARC evaluation (RFC 7489 3.1 alignment, 6.6.2 the pass rule, 6.3 p
 * versus sp, 6.6.4 pct sampling) and the dmarc clause of
 * Authentication-Results (RFC 8601 2.7.1, RFC 7489 11.2). Pure: what
 * discovery found and what SPF and DKIM said go in, a verdict comes out.
 * The random roll for pct is the caller's, so tests can pin it.
 */
#include "policy/dmarc.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "policy/psl.h"

/* Compares two names case-insensitively, one trailing dot ignored. */
static bool
domain_eq(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);

	if (la > 0 && a[la - 1] == '.')
		la--;
	if (lb > 0 && b[lb - 1] == '.')
		lb--;
	return la == lb && la > 0 && strncasecmp(a, b, la) == 0;
}

bool
dmarc_aligned(const struct psl *psl, enum dmarc_align mode,
    const char *from_domain, const char *other)
{
	char o1[DMARC_DOMAIN_MAX], o2[DMARC_DOMAIN_MAX];

	if (from_domain == NULL || other == NULL || from_domain[0] == '\0' ||
	    other[0] == '\0')
		return false;
	if (domain_eq(from_domain, other))
		return true;
	if (mode == DMARC_ALIGN_STRICT)
		return false;
	/* 3.1.1, 3.1.2: relaxed means the same Organizational Domain; a
	 * name that is a public suffix has none and aligns only with
	 * itself. */
	if (psl_organizational_domain(psl, from_domain, o1, sizeof(o1)) == -1 ||
	    psl_organizational_domain(psl, other, o2, sizeof(o2)) == -1)
		return false;
	return strcmp(o1, o2) == 0;
}

/* 6.6.4: an unsampled message gets the next milder policy. */
static enum dmarc_policy
milder(enum dmarc_policy p)
{
	switch (p) {
	case DMARC_POLICY_REJECT:
		return DMARC_POLICY_QUARANTINE;
	case DMARC_POLICY_QUARANTINE:
	case DMARC_POLICY_NONE:
		break;
	}
	return DMARC_POLICY_NONE;
}

static void	set_reason(struct dmarc_verdict *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));

/* A reason cut short is still a useful reason: truncation is fine. */
static void
set_reason(struct dmarc_verdict *out, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(out->reason, sizeof(out->reason), fmt, ap);
	va_end(ap);
	if (n < 0)
		out->reason[0] = '\0';
}

static void
evaluate_found(const struct psl *psl, const struct dmarc_policy_found *f,
    const struct dmarc_input *in, struct dmarc_verdict *out)
{
	const struct dmarc_record *r = &f->rec;

	out->spf_aligned = in->spf == SPF_PASS && dmarc_aligned(psl, r->aspf,
	    in->from_domain, in->spf_domain);
	for (size_t i = 0; i < in->n_dkim && !out->dkim_aligned; i++)
		out->dkim_aligned = dmarc_aligned(psl, r->adkim,
		    in->from_domain, in->dkim_domains[i]);
	/* 6.3 sp: the policy for subdomains, used when the record was
	 * found at the Organizational Domain for a From domain below it. */
	out->policy = f->is_org && !domain_eq(in->from_domain, f->domain) ?
	    r->sp : r->p;
	if (out->spf_aligned || out->dkim_aligned) {
		out->result = DMARC_RESULT_PASS;
		out->disposition = DMARC_POLICY_NONE;
		set_reason(out, "DMARC pass for %s (aligned %s)",
		    in->from_domain, out->dkim_aligned ? "DKIM" : "SPF");
		return;
	}
	out->result = DMARC_RESULT_FAIL;
	out->sampled = in->roll % 100 < r->pct;
	out->disposition = out->sampled ? out->policy : milder(out->policy);
	set_reason(out, "DMARC policy of %s is %s and neither SPF nor DKIM "
	    "aligns with the From domain", f->domain,
	    dmarc_policy_name(out->policy));
}

void
dmarc_evaluate(const struct psl *psl, const struct dmarc_policy_found *f,
    const struct dmarc_input *in, struct dmarc_verdict *out)
{
	const char *from = in->from_domain != NULL ? in->from_domain : "";
	const char *why = f->reason != NULL ? f->reason : "";

	memset(out, 0, sizeof(*out));
	out->policy = DMARC_POLICY_NONE;
	out->disposition = DMARC_POLICY_NONE;
	switch (f->status) {
	case DMARC_LOOKUP_FOUND:
		evaluate_found(psl, f, in, out);
		return;
	case DMARC_LOOKUP_NONE:
		out->result = DMARC_RESULT_NONE;
		set_reason(out, "no DMARC policy for %s (%s)", from, why);
		return;
	case DMARC_LOOKUP_TEMPERROR:
		out->result = DMARC_RESULT_TEMPERROR;
		set_reason(out, "DMARC policy of %s unavailable (%s)", from,
		    why);
		return;
	case DMARC_LOOKUP_PERMERROR:
		out->result = DMARC_RESULT_PERMERROR;
		set_reason(out, "DMARC record of %s is invalid (%s)", f->domain,
		    why);
		return;
	}
}

int
dmarc_authres_format(const struct dmarc_verdict *v, const char *from_domain,
    char *out, size_t outsz)
{
	char prop[DMARC_DOMAIN_MAX + 16] = "";
	int n;

	if (from_domain != NULL && from_domain[0] != '\0') {
		n = snprintf(prop, sizeof(prop), " header.from=%s", from_domain);
		if (n < 0 || (size_t)n >= sizeof(prop))
			goto too_small;
	}
	if (v->result == DMARC_RESULT_PASS || v->result == DMARC_RESULT_FAIL)
		n = snprintf(out, outsz, "dmarc=%s (p=%s dis=%s)%s",
		    dmarc_result_name(v->result), dmarc_policy_name(v->policy),
		    dmarc_policy_name(v->disposition), prop);
	else
		n = snprintf(out, outsz, "dmarc=%s%s",
		    dmarc_result_name(v->result), prop);
	if (n >= 0 && (size_t)n < outsz)
		return n;
too_small:
	if (outsz > 0)
		out[0] = '\0';
	return -1;
}

const char *
dmarc_result_name(enum dmarc_result r)
{
	switch (r) {
	case DMARC_RESULT_NONE:
		return "none";
	case DMARC_RESULT_PASS:
		return "pass";
	case DMARC_RESULT_FAIL:
		return "fail";
	case DMARC_RESULT_TEMPERROR:
		return "temperror";
	case DMARC_RESULT_PERMERROR:
		return "permerror";
	}
	return "none";
}

const char *
dmarc_policy_name(enum dmarc_policy p)
{
	switch (p) {
	case DMARC_POLICY_NONE:
		return "none";
	case DMARC_POLICY_QUARANTINE:
		return "quarantine";
	case DMARC_POLICY_REJECT:
		return "reject";
	}
	return "none";
}
