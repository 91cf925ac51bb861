/*
 * DMARC policy discovery (RFC 7489 6.6.3) on the resolver: a TXT query at
 * _dmarc.<From domain>; when that yields no DMARC record, one at
 * _dmarc.<Organizational Domain>. At most two queries, one in flight; the
 * result is handed over once from the loop, and a cancelled lookup never
 * calls back (the session that asked may be gone).
 */
#include "policy/dmarc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "core/xmalloc.h"
#include "dns/resolver.h"
#include "policy/psl.h"

struct dmarc_lookup {
	struct resolver		*res;
	const struct psl	*psl;
	dmarc_lookup_cb		 cb;
	void			*arg;
	struct dns_query	*q;
	struct event		*later;		/* an answer found without DNS */
	bool			 asking_org;
	char			 from[DMARC_DOMAIN_MAX];
	struct dmarc_policy_found found;
};

static void
lookup_free(struct dmarc_lookup *l)
{
	dns_query_cancel(&l->q);
	if (l->later != NULL)
		event_free(l->later);
	free(l);
}

void
dmarc_lookup_cancel(struct dmarc_lookup **lp)
{
	if (*lp == NULL)
		return;
	lookup_free(*lp);
	*lp = NULL;
}

static void
deliver(struct dmarc_lookup *l)
{
	l->cb(l->arg, &l->found);
	lookup_free(l);
}

static void
later_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	deliver(arg);
}

/* Ends the lookup; from the start it is deferred to the loop. */
static void
finish(struct dmarc_lookup *l, enum dmarc_lookup_status st, const char *why,
    bool from_loop)
{
	l->found.status = st;
	l->found.reason = why;
	if (from_loop) {
		deliver(l);
		return;
	}
	l->later = event_new(resolver_base(l->res), -1, 0, later_cb, l);
	event_active(l->later, EV_TIMEOUT, 0);
}

static void	answer_cb(void *arg, const struct dns_result *r);

/* found.domain := d (at most 253 octets: checked by the callers). */
static void
set_domain(struct dmarc_lookup *l, const char *d)
{
	size_t len = strlen(d);

	if (len >= sizeof(l->found.domain))
		len = 0;
	memcpy(l->found.domain, d, len);
	l->found.domain[len] = '\0';
}

/* Asks _dmarc.<domain>; false when that name is too long for DNS. */
static bool
ask(struct dmarc_lookup *l, const char *domain)
{
	char name[DNS_NAME_MAX + 1];
	int n = snprintf(name, sizeof(name), "_dmarc.%s", domain);

	if (n < 0 || (size_t)n > 253)
		return false;
	set_domain(l, domain);
	l->q = resolver_query(l->res, name, DNS_TXT, answer_cb, l);
	return true;
}

/* Step 4: nothing at the From domain; try the Organizational Domain. */
static void
fall_back(struct dmarc_lookup *l, bool from_loop)
{
	if (!l->asking_org && l->found.org_domain[0] != '\0' &&
	    strcmp(l->found.org_domain, l->from) != 0) {
		l->asking_org = true;
		if (ask(l, l->found.org_domain))
			return;
	}
	set_domain(l, l->from);
	l->found.is_org = false;
	finish(l, DMARC_LOOKUP_NONE, "no DMARC record", from_loop);
}

static void
answer_cb(void *arg, const struct dns_result *r)
{
	struct dmarc_lookup *l = arg;
	struct dmarc_record rec;
	const char *err = NULL;
	size_t n = 0;
	bool ok = false;

	l->q = NULL;
	l->found.is_org = l->asking_org;
	if (r->status == DNS_TEMPFAIL) {
		finish(l, DMARC_LOOKUP_TEMPERROR, "DNS error looking up the "
		    "DMARC record", true);
		return;
	}
	if (r->status != DNS_OK) {
		fall_back(l, true);
		return;
	}
	/* 6.6.3 steps 3-6: non-DMARC TXT records are discarded; more than
	 * one DMARC record at a name means no policy at all. */
	for (size_t i = 0; i < r->n; i++) {
		struct dmarc_record one;
		const char *e = NULL;
		enum dmarc_parse_status st = dmarc_record_parse(r->rr[i].text,
		    r->rr[i].text_len, &one, &e);

		if (st == DMARC_PARSE_NOT_DMARC)
			continue;
		if (n++ == 0) {
			ok = st == DMARC_PARSE_OK;
			rec = one;
			err = e;
		}
	}
	if (n == 0) {
		fall_back(l, true);
		return;
	}
	if (n > 1) {
		finish(l, DMARC_LOOKUP_NONE, "more than one DMARC record", true);
		return;
	}
	if (!ok) {
		finish(l, DMARC_LOOKUP_PERMERROR, err != NULL ? err :
		    "invalid DMARC record", true);
		return;
	}
	l->found.rec = rec;
	finish(l, DMARC_LOOKUP_FOUND, "DMARC record found", true);
}

/* Lower-cases d into out without a trailing dot; false if unusable. */
static bool
normalize(const char *d, char *out, size_t outsz)
{
	size_t len = strlen(d);

	if (len > 0 && d[len - 1] == '.')
		len--;
	if (len == 0 || len > 253 || len >= outsz)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = d[i];

		if (c == '.' && (i == 0 || d[i - 1] == '.'))
			return false;
		if ((unsigned char)c <= 0x20 || c == 0x7f)
			return false;
		out[i] = c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
	}
	out[len] = '\0';
	return true;
}

struct dmarc_lookup *
dmarc_lookup_start(struct resolver *res, const struct psl *psl,
    const char *from_domain, dmarc_lookup_cb cb, void *arg)
{
	struct dmarc_lookup *l = xcalloc(1, sizeof(*l));

	l->res = res;
	l->psl = psl;
	l->cb = cb;
	l->arg = arg;
	l->found.reason = "";
	if (from_domain == NULL ||
	    !normalize(from_domain, l->from, sizeof(l->from))) {
		finish(l, DMARC_LOOKUP_NONE, "no usable From domain", false);
		return l;
	}
	set_domain(l, l->from);
	(void)psl_organizational_domain(psl, l->from, l->found.org_domain,
	    sizeof(l->found.org_domain));
	if (!ask(l, l->from))
		fall_back(l, false);
	return l;
}
