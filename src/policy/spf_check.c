/*
 * check_host() (RFC 7208 section 4) as a state machine on the resolver:
 * a stack of frames (the record of the domain being evaluated, one per
 * include level; redirect replaces the top frame), one DNS query in flight
 * at a time, the 10-lookup and 2-void-lookup limits of 4.6.4, and the
 * explanation of 6.2 for a fail. Each step runs from a DNS callback on the
 * loop, so nothing here blocks.
 */
#include "policy/spf.h"

#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/event.h>

#include "core/buf.h"
#include "core/xmalloc.h"
#include "dns/resolver.h"

#define SPF_MAX_LOOKUPS	10	/* 4.6.4 */
#define SPF_MAX_VOID	2	/* 4.6.4 */
#define SPF_MAX_NAMES	10	/* MX hosts / PTR names looked at (4.6.4) */
#define SPF_MAX_DEPTH	(SPF_MAX_LOOKUPS + 2)
#define SPF_WHY_MAX	4096

enum spf_wait { W_NONE, W_RECORD, W_A, W_MX, W_MX_ADDR, W_PTR, W_PTR_ADDR,
    W_EXISTS, W_EXP };

struct spf_frame {
	char		 domain[DNS_NAME_MAX + 1];
	char		 text[DNS_TXT_MAX + 1];
	struct spf_record rec;
	size_t		 cur;		/* term being evaluated */
	bool		 is_include;	/* its result answers an include */
	bool		 is_redirect;	/* none here is permerror (6.1) */
};

struct spf_check {
	struct resolver		*res;
	spf_callback		 cb;
	void			*arg;
	struct spf_macro_ctx	 m;
	char			 sender[512];
	char			 local[256];
	char			 sender_domain[DNS_NAME_MAX + 1];
	char			 helo[DNS_NAME_MAX + 1];
	char			 receiver[DNS_NAME_MAX + 1];
	struct spf_frame	*f[SPF_MAX_DEPTH];
	size_t			 depth;
	unsigned		 lookups, voids;
	struct dns_query	*q;
	enum spf_wait		 wait;
	char			 target[DNS_NAME_MAX + 1];
	char			 names[SPF_MAX_NAMES][DNS_NAME_MAX + 1];
	size_t			 n_names, name_i;
	struct event		*later;		/* an answer found without DNS */
	bool			 ptr_done;	/* the p macro's name is known */
	bool			 p_for_exp;	/* what to resume after it */
	char			 ptr_name[DNS_NAME_MAX + 1];
	char			 exp_text[DNS_TXT_MAX + 1];
	enum spf_result		 result;
	char			 mechanism[128];
	char			 explanation[1024];
	struct buf		 why;
};

static void	spf_run(struct spf_check *);
static void	spf_frame_result(struct spf_check *, enum spf_result);

static struct spf_frame *
top(struct spf_check *c)
{
	return c->f[c->depth - 1];
}

static void
why(struct spf_check *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
why(struct spf_check *c, const char *fmt, ...)
{
	va_list ap;

	if (c->why.len > 0)
		(void)buf_append_str(&c->why, "; ");
	va_start(ap, fmt);
	(void)buf_vprintf(&c->why, fmt, ap);
	va_end(ap);
}

static void
spf_free(struct spf_check *c)
{
	dns_query_cancel(&c->q);
	for (size_t i = 0; i < c->depth; i++)
		free(c->f[i]);
	if (c->later != NULL)
		event_free(c->later);
	buf_cleanup(&c->why);
	free(c);
}

void
spf_check_cancel(struct spf_check **cp)
{
	if (*cp == NULL)
		return;
	spf_free(*cp);
	*cp = NULL;
}

static void
spf_deliver(struct spf_check *c)
{
	struct spf_verdict v;

	(void)buf_append_char(&c->why, '\0');
	v.result = c->result;
	v.explanation = c->explanation[0] != '\0' ? c->explanation : NULL;
	v.reason = c->why.data != NULL ? c->why.data : "";
	v.mechanism = c->mechanism[0] != '\0' ? c->mechanism : "default";
	c->cb(c->arg, &v);
	spf_free(c);
}

static void
spf_later_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	spf_deliver(arg);
}

/* Ends the check with r, from a callback or (deferred) from the start. */
static void
spf_finish(struct spf_check *c, enum spf_result r, bool from_loop)
{
	c->result = r;
	c->wait = W_NONE;
	if (from_loop) {
		spf_deliver(c);
		return;
	}
	c->later = event_new(resolver_base(c->res), -1, 0, spf_later_cb, c);
	event_active(c->later, EV_TIMEOUT, 0);
}

/*
 * 4.3: a domain with an empty or over-long label, or a single label, is
 * not one check_host() can be asked about.
 */
static bool
spf_domain_ok(const char *d)
{
	size_t len = strlen(d), label = 0, labels = 0;

	if (len > 0 && d[len - 1] == '.')
		len--;
	if (len == 0 || len > 253)
		return false;
	for (size_t i = 0; i <= len; i++) {
		if (i == len || d[i] == '.') {
			if (label == 0 || label > 63)
				return false;
			labels++;
			label = 0;
		} else {
			label++;
		}
	}
	return labels >= 2;
}

static void
spf_query(struct spf_check *c, const char *name, enum dns_type type,
    enum spf_wait wait, dns_callback cb)
{
	c->wait = wait;
	c->q = resolver_query(c->res, name, type, cb, c);
}

/* --- records --- */

static void
record_cb(void *arg, const struct dns_result *r)
{
	struct spf_check *c = arg;
	struct spf_frame *f = top(c);
	const struct dns_rr *found = NULL;
	const char *err = NULL;
	size_t n = 0;

	c->q = NULL;
	if (r->status == DNS_TEMPFAIL) {
		why(c, "%s: DNS error looking up the record (%s)", f->domain,
		    r->error != NULL ? r->error : "temporary failure");
		spf_frame_result(c, SPF_TEMPERROR);
		return;
	}
	for (size_t i = 0; i < r->n; i++)
		if (spf_is_record(r->rr[i].text, r->rr[i].text_len)) {
			found = &r->rr[i];
			n++;
		}
	if (n == 0) {
		why(c, "%s: no SPF record", f->domain);
		spf_frame_result(c, SPF_NONE);
		return;
	}
	if (n > 1) {
		why(c, "%s: more than one SPF record (4.5)", f->domain);
		spf_frame_result(c, SPF_PERMERROR);
		return;
	}
	/* 4.5: a record with NUL or too long to keep cannot be trusted. */
	if (found->text_len >= DNS_TXT_MAX ||
	    memchr(found->text, '\0', found->text_len) != NULL) {
		why(c, "%s: unusable record", f->domain);
		spf_frame_result(c, SPF_PERMERROR);
		return;
	}
	memcpy(f->text, found->text, found->text_len + 1);
	why(c, "%s: \"%s\"", f->domain, f->text);
	if (spf_record_parse(f->text, found->text_len, &f->rec, &err) == -1) {
		why(c, "%s: syntax error: %s", f->domain, err);
		spf_frame_result(c, SPF_PERMERROR);
		return;
	}
	f->cur = 0;
	spf_run(c);
}

static void
spf_push(struct spf_check *c, const char *domain, bool is_include,
    bool is_redirect)
{
	struct spf_frame *f = xcalloc(1, sizeof(*f));

	snprintf(f->domain, sizeof(f->domain), "%s", domain);
	f->is_include = is_include;
	f->is_redirect = is_redirect;
	c->f[c->depth++] = f;
	c->m.domain = f->domain;
	spf_query(c, f->domain, DNS_TXT, W_RECORD, record_cb);
}

/* --- matching --- */

static bool
prefix_match(const unsigned char *a, const unsigned char *b, unsigned bits)
{
	unsigned full = bits / 8, rest = bits % 8;

	if (memcmp(a, b, full) != 0)
		return false;
	if (rest == 0)
		return true;
	return ((a[full] ^ b[full]) & (0xff << (8 - rest))) == 0;
}

static bool
addr_matches(const struct spf_check *c, const struct dns_result *r,
    unsigned cidr4, unsigned cidr6)
{
	for (size_t i = 0; i < r->n; i++)
		if (r->rr[i].family == c->m.family &&
		    prefix_match(r->rr[i].addr, c->m.ip,
		    c->m.family == AF_INET ? cidr4 : cidr6))
			return true;
	return false;
}

static const struct spf_term *
cur_term(struct spf_check *c)
{
	struct spf_frame *f = top(c);

	return &f->rec.term[f->cur];
}

static void
term_matched(struct spf_check *c)
{
	const struct spf_term *t = cur_term(c);

	snprintf(c->mechanism, sizeof(c->mechanism), "%.*s", (int)t->text.len,
	    t->text.p);
	why(c, "%s: matched %s", top(c)->domain, c->mechanism);
	spf_frame_result(c, t->qual);
}

static void
term_not_matched(struct spf_check *c)
{
	top(c)->cur++;
	spf_run(c);
}

/* A void answer (4.6.4): NXDOMAIN or no records. false = limit passed. */
static bool
count_void(struct spf_check *c, const struct dns_result *r)
{
	if (r->status != DNS_NXDOMAIN && r->status != DNS_NODATA)
		return true;
	if (++c->voids > SPF_MAX_VOID) {
		why(c, "more than %d void lookups", SPF_MAX_VOID);
		spf_frame_result(c, SPF_PERMERROR);
		return false;
	}
	return true;
}

static void
addr_cb(void *arg, const struct dns_result *r)
{
	struct spf_check *c = arg;
	const struct spf_term *t = cur_term(c);

	c->q = NULL;
	if (r->status == DNS_TEMPFAIL) {
		why(c, "%s: DNS error (%s)", r->name, r->error);
		spf_frame_result(c, SPF_TEMPERROR);
		return;
	}
	if (!count_void(c, r))
		return;
	if (t->mech == SPF_M_EXISTS ? r->status == DNS_OK :
	    addr_matches(c, r, t->cidr4, t->cidr6))
		term_matched(c);
	else
		term_not_matched(c);
}

static enum dns_type
addr_type(const struct spf_check *c)
{
	return c->m.family == AF_INET ? DNS_A : DNS_AAAA;
}

static void
mx_addr_cb(void *arg, const struct dns_result *r)
{
	struct spf_check *c = arg;
	const struct spf_term *t = cur_term(c);

	c->q = NULL;
	if (r->status == DNS_TEMPFAIL) {
		why(c, "%s: DNS error (%s)", r->name, r->error);
		spf_frame_result(c, SPF_TEMPERROR);
		return;
	}
	if (addr_matches(c, r, t->cidr4, t->cidr6)) {
		term_matched(c);
		return;
	}
	if (++c->name_i < c->n_names) {
		spf_query(c, c->names[c->name_i], addr_type(c), W_MX_ADDR,
		    mx_addr_cb);
		return;
	}
	term_not_matched(c);
}

static void
mx_cb(void *arg, const struct dns_result *r)
{
	struct spf_check *c = arg;

	c->q = NULL;
	if (r->status == DNS_TEMPFAIL) {
		why(c, "%s: DNS error (%s)", r->name, r->error);
		spf_frame_result(c, SPF_TEMPERROR);
		return;
	}
	if (!count_void(c, r))
		return;
	if (r->n > SPF_MAX_NAMES) {
		why(c, "%s: more than %d MX records", r->name, SPF_MAX_NAMES);
		spf_frame_result(c, SPF_PERMERROR);
		return;
	}
	c->n_names = c->name_i = 0;
	for (size_t i = 0; i < r->n; i++)
		if (r->rr[i].text_len > 0)	/* not a null MX */
			snprintf(c->names[c->n_names++], sizeof(c->names[0]),
			    "%s", r->rr[i].text);
	if (c->n_names == 0) {
		term_not_matched(c);
		return;
	}
	spf_query(c, c->names[0], addr_type(c), W_MX_ADDR, mx_addr_cb);
}

/* name is target or a subdomain of it (case-insensitive). */
static bool
name_within(const char *name, const char *target)
{
	size_t n = strlen(name), t = strlen(target);

	if (t > 0 && target[t - 1] == '.')
		t--;
	if (n == t)
		return strncasecmp(name, target, t) == 0;
	return n > t && name[n - t - 1] == '.' &&
	    strncasecmp(name + n - t, target, t) == 0;
}

static void
ptr_addr_cb(void *arg, const struct dns_result *r)
{
	struct spf_check *c = arg;

	c->q = NULL;
	/* 5.5: a name whose addresses do not include the client is skipped. */
	if (r->status == DNS_OK && addr_matches(c, r, 32, 128)) {
		term_matched(c);
		return;
	}
	if (++c->name_i < c->n_names) {
		spf_query(c, c->names[c->name_i], addr_type(c), W_PTR_ADDR,
		    ptr_addr_cb);
		return;
	}
	term_not_matched(c);
}

static void
ptr_cb(void *arg, const struct dns_result *r)
{
	struct spf_check *c = arg;

	c->q = NULL;
	/* 5.5: a DNS error while looking up the PTR is simply no match. */
	if (r->status == DNS_TEMPFAIL) {
		term_not_matched(c);
		return;
	}
	if (!count_void(c, r))
		return;
	c->n_names = c->name_i = 0;
	for (size_t i = 0; i < r->n && i < SPF_MAX_NAMES; i++)
		if (name_within(r->rr[i].text, c->target))
			snprintf(c->names[c->n_names++], sizeof(c->names[0]),
			    "%s", r->rr[i].text);
	if (c->n_names == 0) {
		term_not_matched(c);
		return;
	}
	spf_query(c, c->names[0], addr_type(c), W_PTR_ADDR, ptr_addr_cb);
}

/* --- explanation (6.2) --- */

static void
exp_finish(struct spf_check *c)
{
	/* Any trouble with the explanation just means there is none. */
	if (c->exp_text[0] != '\0' && spf_macro_expand(&c->m,
	    str_view_from(c->exp_text), true, false, c->explanation,
	    sizeof(c->explanation)) == -1)
		c->explanation[0] = '\0';
	spf_finish(c, SPF_FAIL, true);
}

/* --- the p macro (7.3): a validated name of the client --- */

static bool
needs_p(struct str_view v)
{
	for (size_t i = 0; i + 2 < v.len; i++)
		if (v.p[i] == '%' && v.p[i + 1] == '{' &&
		    (v.p[i + 2] == 'p' || v.p[i + 2] == 'P'))
			return true;
	return false;
}

static void
p_done(struct spf_check *c)
{
	c->ptr_done = true;
	c->m.ptr_name = c->ptr_name[0] != '\0' ? c->ptr_name : NULL;
	if (c->p_for_exp)
		exp_finish(c);
	else
		spf_run(c);
}

static void
p_addr_cb(void *arg, const struct dns_result *r)
{
	struct spf_check *c = arg;

	c->q = NULL;
	if (r->status == DNS_OK && addr_matches(c, r, 32, 128)) {
		snprintf(c->ptr_name, sizeof(c->ptr_name), "%s",
		    c->names[c->name_i]);
		p_done(c);
		return;
	}
	if (++c->name_i < c->n_names) {
		spf_query(c, c->names[c->name_i], addr_type(c), W_PTR_ADDR,
		    p_addr_cb);
		return;
	}
	p_done(c);
}

static void
p_ptr_cb(void *arg, const struct dns_result *r)
{
	struct spf_check *c = arg;

	c->q = NULL;
	c->n_names = c->name_i = 0;
	/* Names within the current domain are preferred (7.3). */
	for (int pass = 0; pass < 2; pass++)
		for (size_t i = 0; r->status == DNS_OK && i < r->n &&
		    c->n_names < SPF_MAX_NAMES; i++)
			if (name_within(r->rr[i].text, c->m.domain) ==
			    (pass == 0))
				snprintf(c->names[c->n_names++],
				    sizeof(c->names[0]), "%s", r->rr[i].text);
	if (c->n_names == 0) {
		p_done(c);
		return;
	}
	spf_query(c, c->names[0], addr_type(c), W_PTR_ADDR, p_addr_cb);
}

static void
p_start(struct spf_check *c, bool for_exp)
{
	char rev[DNS_NAME_MAX + 1];

	c->p_for_exp = for_exp;
	(void)dns_reverse_name(c->m.family, c->m.ip, rev, sizeof(rev));
	spf_query(c, rev, DNS_PTR, W_PTR, p_ptr_cb);
}

static void
exp_cb(void *arg, const struct dns_result *r)
{
	struct spf_check *c = arg;

	c->q = NULL;
	c->exp_text[0] = '\0';
	if (r->status == DNS_OK && r->n == 1)
		memcpy(c->exp_text, r->rr[0].text, r->rr[0].text_len + 1);
	if (!c->ptr_done && needs_p(str_view_from(c->exp_text))) {
		p_start(c, true);
		return;
	}
	exp_finish(c);
}

/* --- the evaluation loop --- */

static bool
count_lookup(struct spf_check *c)
{
	if (++c->lookups > SPF_MAX_LOOKUPS) {
		why(c, "more than %d DNS-querying terms", SPF_MAX_LOOKUPS);
		spf_frame_result(c, SPF_PERMERROR);
		return false;
	}
	return true;
}

static bool
expand_target(struct spf_check *c, struct str_view spec)
{
	struct spf_frame *f = top(c);
	char tmp[2048];

	if (spec.len == 0) {
		snprintf(c->target, sizeof(c->target), "%s", f->domain);
		return true;
	}
	if (spf_macro_expand(&c->m, spec, false, true, tmp, sizeof(tmp)) == -1 ||
	    strlen(tmp) >= sizeof(c->target)) {
		why(c, "%s: bad macro in %.*s", f->domain, (int)spec.len, spec.p);
		return false;
	}
	memcpy(c->target, tmp, strlen(tmp) + 1);
	return true;
}

/* Starts one term; false when the check is waiting or has ended. */
static bool
spf_term_start(struct spf_check *c, const struct spf_term *t)
{
	unsigned bits;

	switch (t->mech) {
	case SPF_M_ALL:
		term_matched(c);
		return false;
	case SPF_M_IP4:
	case SPF_M_IP6:
		bits = t->mech == SPF_M_IP4 ? t->cidr4 : t->cidr6;
		if (c->m.family == (t->mech == SPF_M_IP4 ? AF_INET : AF_INET6) &&
		    prefix_match(t->addr, c->m.ip, bits)) {
			term_matched(c);
			return false;
		}
		return true;
	default:
		break;
	}
	if (!c->ptr_done && needs_p(t->domain)) {
		p_start(c, false);
		return false;
	}
	if (!count_lookup(c))
		return false;
	if (!expand_target(c, t->domain)) {
		spf_frame_result(c, SPF_PERMERROR);
		return false;
	}
	switch (t->mech) {
	case SPF_M_INCLUDE:
		spf_push(c, c->target, true, false);
		break;
	case SPF_M_A:
		spf_query(c, c->target, addr_type(c), W_A, addr_cb);
		break;
	case SPF_M_EXISTS:
		/* 5.7: always an A query, whatever the client's family. */
		spf_query(c, c->target, DNS_A, W_EXISTS, addr_cb);
		break;
	case SPF_M_MX:
		spf_query(c, c->target, DNS_MX, W_MX, mx_cb);
		break;
	case SPF_M_PTR: {
		char rev[DNS_NAME_MAX + 1];

		(void)dns_reverse_name(c->m.family, c->m.ip, rev, sizeof(rev));
		spf_query(c, rev, DNS_PTR, W_PTR, ptr_cb);
		break;
	}
	default:
		break;
	}
	return false;
}

static void
spf_run(struct spf_check *c)
{
	for (;;) {
		struct spf_frame *f = top(c);

		c->m.domain = f->domain;
		if (f->cur >= f->rec.n)
			break;
		if (!spf_term_start(c, &f->rec.term[f->cur]))
			return;
		f->cur++;
	}
	/* 6.1: redirect only when no mechanism matched. */
	if (top(c)->rec.redirect.p != NULL) {
		struct spf_frame *f = top(c);
		bool inc = f->is_include;

		if (!c->ptr_done && needs_p(f->rec.redirect)) {
			p_start(c, false);
			return;
		}
		if (!count_lookup(c))
			return;
		if (!expand_target(c, f->rec.redirect)) {
			spf_frame_result(c, SPF_PERMERROR);
			return;
		}
		why(c, "%s: redirect to %s", f->domain, c->target);
		free(f);
		c->depth--;
		spf_push(c, c->target, inc, true);
		return;
	}
	why(c, "%s: no term matched", top(c)->domain);
	snprintf(c->mechanism, sizeof(c->mechanism), "default");
	spf_frame_result(c, SPF_NEUTRAL);
}

/* The frame on top ends with r: answer its include, or end the check. */
static void
spf_frame_result(struct spf_check *c, enum spf_result r)
{
	struct spf_frame *f = top(c);
	bool inc = f->is_include;

	if (r == SPF_NONE && f->is_redirect)
		r = SPF_PERMERROR;	/* 6.1 */
	if (c->depth == 1) {
		/* 6.2: exp= explains a fail of the record that decided. */
		if (r == SPF_FAIL && f->rec.exp.p != NULL &&
		    expand_target(c, f->rec.exp)) {
			spf_query(c, c->target, DNS_TXT, W_EXP, exp_cb);
			return;
		}
		spf_finish(c, r, true);
		return;
	}
	free(f);
	c->depth--;
	c->m.domain = top(c)->domain;
	if (!inc) {
		spf_frame_result(c, r);
		return;
	}
	/* 5.2: how an include's result counts for the including record. */
	switch (r) {
	case SPF_PASS:
		term_matched(c);
		break;
	case SPF_FAIL:
	case SPF_SOFTFAIL:
	case SPF_NEUTRAL:
		term_not_matched(c);
		break;
	case SPF_TEMPERROR:
		spf_frame_result(c, SPF_TEMPERROR);
		break;
	default:
		why(c, "%s: include found no usable record", top(c)->domain);
		spf_frame_result(c, SPF_PERMERROR);
		break;
	}
}

struct spf_check *
spf_check_start(struct resolver *res, int family, const unsigned char *ip,
    const char *sender, const char *helo, const char *receiver,
    spf_callback cb, void *arg)
{
	struct spf_check *c = xcalloc(1, sizeof(*c));
	static const unsigned char v4mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0,
	    0, 0xff, 0xff };
	const char *at = strrchr(sender, '@');

	c->res = res;
	c->cb = cb;
	c->arg = arg;
	buf_init(&c->why, SPF_WHY_MAX);
	/* 5: an IPv4-mapped IPv6 client is an IPv4 client. */
	if (family == AF_INET6 && memcmp(ip, v4mapped, 12) == 0) {
		family = AF_INET;
		ip += 12;
	}
	c->m.family = family;
	memcpy(c->m.ip, ip, family == AF_INET ? 4 : 16);
	snprintf(c->helo, sizeof(c->helo), "%s", helo != NULL ? helo : "");
	snprintf(c->receiver, sizeof(c->receiver), "%s",
	    receiver != NULL ? receiver : "unknown");
	/* 4.3: no local part means "postmaster". */
	if (at == NULL) {
		snprintf(c->local, sizeof(c->local), "postmaster");
		snprintf(c->sender_domain, sizeof(c->sender_domain), "%s",
		    c->helo);
	} else {
		snprintf(c->local, sizeof(c->local), "%.*s", (int)(at - sender),
		    sender);
		if (c->local[0] == '\0')
			snprintf(c->local, sizeof(c->local), "postmaster");
		snprintf(c->sender_domain, sizeof(c->sender_domain), "%s",
		    at + 1);
	}
	snprintf(c->sender, sizeof(c->sender), "%s@%s", c->local,
	    c->sender_domain);
	c->m.sender = c->sender;
	c->m.local = c->local;
	c->m.sender_domain = c->sender_domain;
	c->m.domain = c->sender_domain;
	c->m.helo = c->helo;
	c->m.receiver = c->receiver;
	c->m.ptr_name = NULL;
	if (!spf_domain_ok(c->sender_domain)) {
		why(c, "%s: not a domain SPF can check (4.3)",
		    c->sender_domain);
		spf_finish(c, SPF_NONE, false);
		return c;
	}
	spf_push(c, c->sender_domain, false, false);
	return c;
}
