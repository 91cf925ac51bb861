/*
 * Unit tests for policy/dmarc's pure parts: the From field's author
 * domain (RFC 5322 3.4 address-list, RFC 7489 6.6.1), the record parser
 * (RFC 7489 6.3, 6.4, 6.6.3 step 6), alignment, evaluation with p/sp and
 * pct sampling under fixed rolls, and the Authentication-Results clause.
 * The organizational domains come from a small inline suffix list.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/dmarc.h"
#include "policy/psl.h"

/* --- From --- */

struct from_case {
	const char		*in;
	enum dmarc_from_status	 st;
	const char		*domain;	/* on OK */
};

static const struct from_case from_cases[] = {
	{ "user@example.org", DMARC_FROM_OK, "example.org" },
	{ " User@Example.ORG ", DMARC_FROM_OK, "example.org" },
	{ "<user@example.org>", DMARC_FROM_OK, "example.org" },
	{ "Joe Q. Public <john.q.public@example.com>", DMARC_FROM_OK,
	    "example.com" },
	{ "\"Doe, John\" <jd@mail.example.net>", DMARC_FROM_OK,
	    "mail.example.net" },
	{ "\"a@evil.example, <x@evil.example>\" <jd@good.example>",
	    DMARC_FROM_OK, "good.example" },
	{ "\"quoted \\\" pair\" <q@example.org>", DMARC_FROM_OK,
	    "example.org" },
	{ "Pete(A nice \\) chap) <pete(his account)@silly.test(his host)>",
	    DMARC_FROM_OK, "silly.test" },
	{ "(comment (nested)) user@example.org (trailing)", DMARC_FROM_OK,
	    "example.org" },
	{ "\"dot.local\"@example.org", DMARC_FROM_OK, "example.org" },
	{ "first.last@sub.example.org.", DMARC_FROM_OK, "sub.example.org" },
	{ "Folded\r\n <user@example.org>", DMARC_FROM_OK, "example.org" },
	{ "=?utf-8?q?J=C3=B6rg?= <j@example.org>", DMARC_FROM_OK,
	    "example.org" },
	/* U-labels come back as A-labels (RFC 3492 7.1 style) */
	{ "J\xc3\xb6rg <j@b\xc3\xbc\x63her.example>", DMARC_FROM_OK,
	    "xn--bcher-kva.example" },
	{ "j@\xe5\x85\xac\xe5\x8f\xb8.cn", DMARC_FROM_OK, "xn--55qx5d.cn" },
	{ "j@xn--bcher-kva.example", DMARC_FROM_OK, "xn--bcher-kva.example" },
	{ "j@b\xc3.example", DMARC_FROM_INVALID, NULL },	/* bad UTF-8 */
	/* obsolete forms (RFC 5322 4.4) */
	{ "<@relay.example,@other.example:user@example.org>", DMARC_FROM_OK,
	    "example.org" },
	{ "user . name @ example . org", DMARC_FROM_OK, "example.org" },
	{ ", user@example.org ,", DMARC_FROM_OK, "example.org" },
	{ "Team: user@example.org;", DMARC_FROM_OK, "example.org" },
	{ "Team: , user@example.org, ;", DMARC_FROM_OK, "example.org" },
	/* zero addresses */
	{ "", DMARC_FROM_NONE, NULL },
	{ "   ", DMARC_FROM_NONE, NULL },
	{ "undisclosed-recipients:;", DMARC_FROM_NONE, NULL },
	{ "(just a comment)", DMARC_FROM_NONE, NULL },
	/* several addresses (RFC 7489 6.6.1) */
	{ "a@example.org, b@example.org", DMARC_FROM_MULTIPLE, NULL },
	{ "A <a@one.example>, \"B, b\" <b@two.example>", DMARC_FROM_MULTIPLE,
	    NULL },
	{ "Team: a@example.org, b@example.net;", DMARC_FROM_MULTIPLE, NULL },
	{ "a@example.org, Team: b@example.net;", DMARC_FROM_MULTIPLE, NULL },
	/* unparseable or no DNS domain */
	{ "just words", DMARC_FROM_INVALID, NULL },
	{ "user", DMARC_FROM_INVALID, NULL },
	{ "user@", DMARC_FROM_INVALID, NULL },
	{ "@example.org", DMARC_FROM_INVALID, NULL },
	{ "<user@example.org", DMARC_FROM_INVALID, NULL },
	{ "<>", DMARC_FROM_INVALID, NULL },
	{ "\"unterminated <u@example.org>", DMARC_FROM_INVALID, NULL },
	{ "(unterminated user@example.org", DMARC_FROM_INVALID, NULL },
	{ "user@[192.0.2.1]", DMARC_FROM_INVALID, NULL },
	{ "user@exa!mple.org", DMARC_FROM_INVALID, NULL },
	{ "user@example..org", DMARC_FROM_INVALID, NULL },
	{ "a@example.org b@example.org", DMARC_FROM_INVALID, NULL },
	{ "user@example.org>", DMARC_FROM_INVALID, NULL },
	{ "Team: Sub: a@example.org;;", DMARC_FROM_INVALID, NULL },
	{ "a\\b@example.org", DMARC_FROM_INVALID, NULL },
	{ "user@x.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    ".org", DMARC_FROM_INVALID, NULL },
};

static void
test_dmarc_from_table(void **state)
{
	char out[DMARC_DOMAIN_MAX];

	(void)state;
	for (size_t i = 0; i < sizeof(from_cases) / sizeof(from_cases[0]); i++) {
		const struct from_case *c = &from_cases[i];
		enum dmarc_from_status st;

		st = dmarc_from_domain(c->in, strlen(c->in), out, sizeof(out));
		if (st != c->st)
			fail_msg("case %zu [%s]: got %s want %s", i, c->in,
			    dmarc_from_status_name(st),
			    dmarc_from_status_name(c->st));
		assert_string_equal(out, c->domain != NULL ? c->domain : "");
	}
}

static void
test_dmarc_from_bounds(void **state)
{
	static char big[DMARC_FROM_MAX + 16];
	char out[DMARC_DOMAIN_MAX], small[8];
	char deep[200];
	size_t o = 0;

	(void)state;
	/* Over the length limit, even if well-formed. */
	memset(big, ' ', sizeof(big));
	memcpy(big + sizeof(big) - 16, "u@example.org", 13);
	assert_int_equal(dmarc_from_domain(big, sizeof(big), out, sizeof(out)),
	    DMARC_FROM_INVALID);
	/* Comments nested deeper than 32 levels. */
	for (int i = 0; i < 40; i++)
		deep[o++] = '(';
	for (int i = 0; i < 40; i++)
		deep[o++] = ')';
	memcpy(deep + o, " u@example.org", 14);
	o += 14;
	assert_int_equal(dmarc_from_domain(deep, o, out, sizeof(out)),
	    DMARC_FROM_INVALID);
	/* A NUL inside is not text. */
	assert_int_equal(dmarc_from_domain("u@exa\0mple.org", 14, out,
	    sizeof(out)), DMARC_FROM_INVALID);
	/* The bytes given, not a NUL, end the value. */
	assert_int_equal(dmarc_from_domain("u@example.orgXXX", 13, out,
	    sizeof(out)), DMARC_FROM_OK);
	assert_string_equal(out, "example.org");
	/* out too small */
	assert_int_equal(dmarc_from_domain("u@example.org", 13, small,
	    sizeof(small)), DMARC_FROM_INVALID);
	assert_string_equal(small, "");
}

/* --- records --- */

struct record_case {
	const char		*in;
	enum dmarc_parse_status	 st;
	int			 p, sp;		/* -1: don't check */
	unsigned		 pct;
	enum dmarc_align	 adkim, aspf;
	unsigned		 n_rua;
};

#define R	DMARC_ALIGN_RELAXED
#define S	DMARC_ALIGN_STRICT
#define PN	DMARC_POLICY_NONE
#define PQ	DMARC_POLICY_QUARANTINE
#define PR	DMARC_POLICY_REJECT
#define OK	DMARC_PARSE_OK
#define NOT	DMARC_PARSE_NOT_DMARC
#define BAD	DMARC_PARSE_INVALID

static const struct record_case record_cases[] = {
	{ "v=DMARC1; p=reject", OK, PR, PR, 100, R, R, 0 },
	{ "v=DMARC1;p=none;", OK, PN, PN, 100, R, R, 0 },
	{ "v=DMARC1 ; p = Quarantine ; sp=none; pct=20; adkim=s; aspf=S",
	    OK, PQ, PN, 20, S, S, 0 },
	{ "v=DMARC1; p=reject; rua=mailto:d@example.org,mailto:e@example.net!10m;"
	    " ruf=mailto:f@example.org; fo=0:1:d:s; rf=afrf; ri=3600",
	    OK, PR, PR, 100, R, R, 2 },
	{ "v=DMARC1; p=none; pct=0", OK, PN, PN, 0, R, R, 0 },
	{ "v=DMARC1; p=reject; future=tag; x_y=1", OK, PR, PR, 100, R, R, 0 },
	{ "v=DMARC1; p=reject;; ", OK, PR, PR, 100, R, R, 0 },
	/* 6.6.3 step 6: no usable p, a usable rua -> p=none */
	{ "v=DMARC1; rua=mailto:d@example.org", OK, PN, PN, 100, R, R, 1 },
	{ "v=DMARC1; p=bogus; rua=mailto:d@example.org", OK, PN, PN, 100,
	    R, R, 1 },
	{ "v=DMARC1; p=reject; sp=bogus; rua=mailto:d@example.org, junk", OK,
	    PN, PN, 100, R, R, 1 },
	/* not DMARC records: discarded */
	{ "v=spf1 -all", NOT, -1, -1, 0, R, R, 0 },
	{ "v=dmarc1; p=reject", NOT, -1, -1, 0, R, R, 0 },
	{ "p=reject; v=DMARC1", NOT, -1, -1, 0, R, R, 0 },
	{ "v=DMARC2; p=reject", NOT, -1, -1, 0, R, R, 0 },
	{ "", NOT, -1, -1, 0, R, R, 0 },
	/* invalid DMARC records */
	{ "v=DMARC1", BAD, -1, -1, 0, R, R, 0 },
	{ "v=DMARC1; p=bogus", BAD, -1, -1, 0, R, R, 0 },
	{ "v=DMARC1; p=reject; sp=bogus", BAD, -1, -1, 0, R, R, 0 },
	{ "v=DMARC1; p=reject; rua=junk", OK, PR, PR, 100, R, R, 0 },
	{ "v=DMARC1; sp=reject; rua=nope", BAD, -1, -1, 0, R, R, 0 },
	{ "v=DMARC1; p=reject; pct=101", BAD, -1, -1, 0, R, R, 0 },
	{ "v=DMARC1; p=reject; pct=-1", BAD, -1, -1, 0, R, R, 0 },
	{ "v=DMARC1; p=reject; pct=", BAD, -1, -1, 0, R, R, 0 },
	{ "v=DMARC1; p=reject; pct=5 0", BAD, -1, -1, 0, R, R, 0 },
	{ "v=DMARC1; p=reject; adkim=x", BAD, -1, -1, 0, R, R, 0 },
	{ "v=DMARC1; p=reject; aspf=relaxed", BAD, -1, -1, 0, R, R, 0 },
	{ "v=DMARC1; p=reject; fo=2", BAD, -1, -1, 0, R, R, 0 },
	{ "v=DMARC1; p=reject; fo=", BAD, -1, -1, 0, R, R, 0 },
	{ "v=DMARC1; p=reject; rf=", BAD, -1, -1, 0, R, R, 0 },
	{ "v=DMARC1; p=reject; ri=99999999999", BAD, -1, -1, 0, R, R, 0 },
	{ "v=DMARC1; p=reject; p=none", BAD, -1, -1, 0, R, R, 0 },
	{ "v=DMARC1; v=DMARC1; p=none", BAD, -1, -1, 0, R, R, 0 },
	{ "v=DMARC1; p reject", BAD, -1, -1, 0, R, R, 0 },
	{ "v=DMARC1; 1p=reject", BAD, -1, -1, 0, R, R, 0 },
	{ "v=DMARC1; p=reject\n", BAD, -1, -1, 0, R, R, 0 },
};

static void
test_dmarc_record_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(record_cases) / sizeof(record_cases[0]);
	    i++) {
		const struct record_case *c = &record_cases[i];
		struct dmarc_record r;
		const char *err = "unset";
		enum dmarc_parse_status st;

		memset(&r, 0xa5, sizeof(r));
		st = dmarc_record_parse(c->in, strlen(c->in), &r, &err);
		if (st != c->st)
			fail_msg("case %zu [%s]: got %d want %d (%s)", i, c->in,
			    st, c->st, err != NULL ? err : "");
		if (st != OK) {
			assert_non_null(err);
			continue;
		}
		assert_null(err);
		assert_int_equal(r.p, c->p);
		assert_int_equal(r.sp, c->sp);
		assert_int_equal(r.pct, c->pct);
		assert_int_equal(r.adkim, c->adkim);
		assert_int_equal(r.aspf, c->aspf);
		assert_int_equal(r.n_rua, c->n_rua);
	}
}

static void
test_dmarc_record_details(void **state)
{
	struct dmarc_record r;
	const char *t = "v=DMARC1; p=reject; rua=mailto:a@example.org; "
	    "fo=1:d; rf=iodef; ri=600; ruf=mailto:x@example.org,bad";

	(void)state;
	assert_int_equal(dmarc_record_parse(t, strlen(t), &r, NULL), OK);
	assert_true(r.has_p);
	assert_false(r.has_sp);
	assert_int_equal(r.fo, DMARC_FO_1 | DMARC_FO_D);
	assert_false(r.rf_afrf);
	assert_int_equal(r.ri, 600);
	assert_string_equal(r.rua, "mailto:a@example.org");
	assert_string_equal(r.ruf, "mailto:x@example.org,bad");
	assert_int_equal(r.n_ruf, 1);
	/* defaults */
	t = "v=DMARC1; p=none";
	assert_int_equal(dmarc_record_parse(t, strlen(t), &r, NULL), OK);
	assert_int_equal(r.fo, DMARC_FO_0);
	assert_true(r.rf_afrf);
	assert_int_equal(r.ri, 86400);
	assert_string_equal(r.rua, "");
	/* p missing, rua valid: p=none without has_p */
	t = "v=DMARC1; rua=mailto:a@example.org";
	assert_int_equal(dmarc_record_parse(t, strlen(t), &r, NULL), OK);
	assert_false(r.has_p);
	/* the length given counts, not a NUL */
	assert_int_equal(dmarc_record_parse("v=DMARC1; p=reject; pct=1000", 26,
	    &r, NULL), OK);
	assert_int_equal(r.pct, 10);
}

/* --- alignment and evaluation --- */

static const char list[] =
    "com\norg\nuk\nco.uk\n*.ck\n!www.ck\n";

static struct psl *
test_psl(void)
{
	const char *err = NULL;
	struct psl *psl = psl_parse(list, sizeof(list) - 1, NULL, &err);

	assert_non_null(psl);
	return psl;
}

struct align_case {
	enum dmarc_align	 mode;
	const char		*from, *other;
	bool			 aligned;
};

static const struct align_case align_cases[] = {
	{ S, "example.com", "example.com", true },
	{ S, "Example.COM", "example.com.", true },
	{ S, "mail.example.com", "example.com", false },
	{ R, "mail.example.com", "example.com", true },
	{ R, "example.com", "bounce.example.com", true },
	{ R, "a.example.com", "b.example.com", true },
	{ R, "example.com", "example.org", false },
	{ R, "example.co.uk", "other.co.uk", false },
	{ R, "a.example.co.uk", "example.co.uk", true },
	{ R, "x.foo.ck", "y.foo.ck", false },	/* *.ck: foo.ck is a suffix */
	{ R, "a.www.ck", "b.www.ck", true },	/* !www.ck */
	{ R, "co.uk", "example.co.uk", false },
	{ R, "co.uk", "co.uk", true },
	{ R, "example.com", "", false },
	{ R, "example.com", NULL, false },
};

static void
test_dmarc_alignment_strict_relaxed(void **state)
{
	struct psl *psl = test_psl();

	(void)state;
	for (size_t i = 0; i < sizeof(align_cases) / sizeof(align_cases[0]);
	    i++) {
		const struct align_case *c = &align_cases[i];

		if (dmarc_aligned(psl, c->mode, c->from, c->other) != c->aligned)
			fail_msg("case %zu: %s vs %s", i, c->from,
			    c->other != NULL ? c->other : "(null)");
	}
	/* Without a list, relaxed alignment needs equal names. */
	assert_false(dmarc_aligned(NULL, R, "a.example.com", "example.com"));
	assert_true(dmarc_aligned(NULL, R, "example.com", "EXAMPLE.com."));
	psl_free(&psl);
}

struct eval_case {
	const char		*record;
	bool			 is_org;	/* found at the org domain */
	const char		*from;
	enum spf_result		 spf;
	const char		*spf_domain;
	const char		*dkim;		/* one d=, or NULL */
	uint32_t		 roll;
	enum dmarc_result	 result;
	enum dmarc_policy	 policy, dis;
	bool			 sampled;
};

#define PASS	DMARC_RESULT_PASS
#define FAIL	DMARC_RESULT_FAIL

static const struct eval_case eval_cases[] = {
	/* pass by SPF, by DKIM, relaxed */
	{ "v=DMARC1; p=reject", false, "example.com", SPF_PASS,
	    "bounce.example.com", NULL, 0, PASS, PR, PN, false },
	{ "v=DMARC1; p=reject", false, "example.com", SPF_FAIL,
	    "example.com", "mail.example.com", 0, PASS, PR, PN, false },
	/* strict: subdomains do not align */
	{ "v=DMARC1; p=reject; aspf=s", false, "example.com", SPF_PASS,
	    "bounce.example.com", NULL, 0, FAIL, PR, PR, true },
	{ "v=DMARC1; p=reject; adkim=s", false, "example.com", SPF_NONE,
	    NULL, "mail.example.com", 0, FAIL, PR, PR, true },
	{ "v=DMARC1; p=reject; adkim=s", false, "example.com", SPF_NONE,
	    NULL, "EXAMPLE.com", 0, PASS, PR, PN, false },
	/* SPF must pass, alignment alone is not enough */
	{ "v=DMARC1; p=quarantine", false, "example.com", SPF_SOFTFAIL,
	    "example.com", NULL, 0, FAIL, PQ, PQ, true },
	{ "v=DMARC1; p=quarantine", false, "example.com", SPF_PASS,
	    "example.net", "example.org", 0, FAIL, PQ, PQ, true },
	/* sp applies below an org-domain record, p at the org itself */
	{ "v=DMARC1; p=none; sp=reject", true, "sub.example.com", SPF_FAIL,
	    NULL, NULL, 0, FAIL, PR, PR, true },
	{ "v=DMARC1; p=reject; sp=none", true, "sub.example.com", SPF_FAIL,
	    NULL, NULL, 0, FAIL, PN, PN, true },
	{ "v=DMARC1; p=reject; sp=none", false, "example.com", SPF_FAIL,
	    NULL, NULL, 0, FAIL, PR, PR, true },
	{ "v=DMARC1; p=quarantine", true, "sub.example.com", SPF_FAIL,
	    NULL, NULL, 0, FAIL, PQ, PQ, true },
	/* a subdomain's own record: its p, not the org's sp */
	{ "v=DMARC1; p=reject; sp=none", false, "sub.example.com", SPF_FAIL,
	    NULL, NULL, 0, FAIL, PR, PR, true },
	/* pct: 0 never samples, 100 always, 50 by the roll */
	{ "v=DMARC1; p=reject; pct=0", false, "example.com", SPF_FAIL,
	    NULL, NULL, 0, FAIL, PR, PQ, false },
	{ "v=DMARC1; p=quarantine; pct=0", false, "example.com", SPF_FAIL,
	    NULL, NULL, 0, FAIL, PQ, PN, false },
	{ "v=DMARC1; p=reject; pct=100", false, "example.com", SPF_FAIL,
	    NULL, NULL, 99, FAIL, PR, PR, true },
	{ "v=DMARC1; p=reject; pct=50", false, "example.com", SPF_FAIL,
	    NULL, NULL, 49, FAIL, PR, PR, true },
	{ "v=DMARC1; p=reject; pct=50", false, "example.com", SPF_FAIL,
	    NULL, NULL, 50, FAIL, PR, PQ, false },
	{ "v=DMARC1; p=reject; pct=50", false, "example.com", SPF_FAIL,
	    NULL, NULL, 149, FAIL, PR, PR, true },	/* 149 % 100 */
	{ "v=DMARC1; p=none; pct=50", false, "example.com", SPF_FAIL,
	    NULL, NULL, 99, FAIL, PN, PN, false },
	/* pass ignores pct */
	{ "v=DMARC1; p=reject; pct=0", false, "example.com", SPF_PASS,
	    "example.com", NULL, 0, PASS, PR, PN, false },
};

static void
test_dmarc_evaluate_table(void **state)
{
	struct psl *psl = test_psl();

	(void)state;
	for (size_t i = 0; i < sizeof(eval_cases) / sizeof(eval_cases[0]); i++) {
		const struct eval_case *c = &eval_cases[i];
		struct dmarc_policy_found f;
		struct dmarc_input in;
		struct dmarc_verdict v;
		const char *dk[1] = { c->dkim };

		memset(&f, 0, sizeof(f));
		f.status = DMARC_LOOKUP_FOUND;
		f.reason = "found";
		f.is_org = c->is_org;
		snprintf(f.domain, sizeof(f.domain), "%s",
		    c->is_org ? "example.com" : c->from);
		assert_int_equal(dmarc_record_parse(c->record,
		    strlen(c->record), &f.rec, NULL), OK);
		memset(&in, 0, sizeof(in));
		in.from_domain = c->from;
		in.spf = c->spf;
		in.spf_domain = c->spf_domain;
		in.dkim_domains = dk;
		in.n_dkim = c->dkim != NULL ? 1 : 0;
		in.roll = c->roll;
		dmarc_evaluate(psl, &f, &in, &v);
		if (v.result != c->result || v.policy != c->policy ||
		    v.disposition != c->dis || v.sampled != c->sampled)
			fail_msg("case %zu: got %s p=%s dis=%s sampled=%d", i,
			    dmarc_result_name(v.result),
			    dmarc_policy_name(v.policy),
			    dmarc_policy_name(v.disposition), v.sampled);
		assert_true(v.reason[0] != '\0');
	}
	psl_free(&psl);
}

static void
test_dmarc_evaluate_lookup_outcomes(void **state)
{
	static const struct {
		enum dmarc_lookup_status st;
		enum dmarc_result	 result;
	} cases[] = {
		{ DMARC_LOOKUP_NONE, DMARC_RESULT_NONE },
		{ DMARC_LOOKUP_TEMPERROR, DMARC_RESULT_TEMPERROR },
		{ DMARC_LOOKUP_PERMERROR, DMARC_RESULT_PERMERROR },
	};
	struct psl *psl = test_psl();

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct dmarc_policy_found f;
		struct dmarc_input in;
		struct dmarc_verdict v;

		memset(&f, 0, sizeof(f));
		f.status = cases[i].st;
		f.reason = "why";
		memset(&in, 0, sizeof(in));
		in.from_domain = "example.com";
		in.spf = SPF_FAIL;
		dmarc_evaluate(psl, &f, &in, &v);
		assert_int_equal(v.result, cases[i].result);
		assert_int_equal(v.disposition, DMARC_POLICY_NONE);
		assert_false(v.sampled);
	}
	psl_free(&psl);
}

/* --- Authentication-Results --- */

static void
test_dmarc_authres_format(void **state)
{
	struct dmarc_verdict v;
	char out[512], tiny[20];

	(void)state;
	memset(&v, 0, sizeof(v));
	v.result = DMARC_RESULT_PASS;
	v.policy = DMARC_POLICY_REJECT;
	v.disposition = DMARC_POLICY_NONE;
	assert_int_equal(dmarc_authres_format(&v, "example.org", out,
	    sizeof(out)), 54);
	assert_string_equal(out,
	    "dmarc=pass (p=reject dis=none) header.from=example.org");
	v.result = DMARC_RESULT_FAIL;
	v.policy = DMARC_POLICY_REJECT;
	v.disposition = DMARC_POLICY_QUARANTINE;
	assert_true(dmarc_authres_format(&v, "example.org", out,
	    sizeof(out)) > 0);
	assert_string_equal(out,
	    "dmarc=fail (p=reject dis=quarantine) header.from=example.org");
	v.result = DMARC_RESULT_NONE;
	assert_true(dmarc_authres_format(&v, "example.org", out,
	    sizeof(out)) > 0);
	assert_string_equal(out, "dmarc=none header.from=example.org");
	v.result = DMARC_RESULT_TEMPERROR;
	assert_true(dmarc_authres_format(&v, NULL, out, sizeof(out)) > 0);
	assert_string_equal(out, "dmarc=temperror");
	v.result = DMARC_RESULT_PERMERROR;
	assert_true(dmarc_authres_format(&v, "", out, sizeof(out)) > 0);
	assert_string_equal(out, "dmarc=permerror");
	assert_int_equal(dmarc_authres_format(&v, "example.org", tiny,
	    sizeof(tiny)), -1);
	assert_string_equal(tiny, "");
}

static void
test_dmarc_names(void **state)
{
	(void)state;
	assert_string_equal(dmarc_result_name(DMARC_RESULT_FAIL), "fail");
	assert_string_equal(dmarc_result_name(DMARC_RESULT_TEMPERROR),
	    "temperror");
	assert_string_equal(dmarc_policy_name(DMARC_POLICY_QUARANTINE),
	    "quarantine");
	assert_string_equal(dmarc_from_status_name(DMARC_FROM_MULTIPLE),
	    "multiple");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dmarc_from_table),
		cmocka_unit_test(test_dmarc_from_bounds),
		cmocka_unit_test(test_dmarc_record_table),
		cmocka_unit_test(test_dmarc_record_details),
		cmocka_unit_test(test_dmarc_alignment_strict_relaxed),
		cmocka_unit_test(test_dmarc_evaluate_table),
		cmocka_unit_test(test_dmarc_evaluate_lookup_outcomes),
		cmocka_unit_test(test_dmarc_authres_format),
		cmocka_unit_test(test_dmarc_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
