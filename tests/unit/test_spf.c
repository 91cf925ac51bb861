/*
 * Unit tests for policy/spf: record selection and parsing (RFC 7208
 * section 12 grammar, the permerror cases of 4.6 and 6) and macro
 * expansion with the examples of RFC 7208 7.4. check_host() itself runs
 * against the RFC 7208 test suite in tests/protocol/test_spf_suite.py.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "policy/spf.h"

struct record_case {
	const char	*in;
	int		 rc;
	size_t		 n;		/* directives, on success */
	const char	*redirect;	/* expected, or NULL for none */
};

static const struct record_case record_cases[] = {
	{ "v=spf1", 0, 0, NULL },
	{ "v=spf1 -all", 0, 1, NULL },
	{ "V=SPF1 +ALL", 0, 1, NULL },
	{ "v=spf1  a  mx   -all  ", 0, 3, NULL },
	{ "v=spf1 ip4:192.0.2.0/24 ip6:2001:db8::/32 ~all", 0, 3, NULL },
	{ "v=spf1 a:example.com/24//64 mx//48 ?all", 0, 3, NULL },
	{ "v=spf1 include:_spf.example.com exists:%{ir}.%{l1r+-}._spf.%{d}",
	    0, 2, NULL },
	{ "v=spf1 redirect=_spf.example.com", 0, 0, "_spf.example.com" },
	{ "v=spf1 ptr ptr:example.com -all", 0, 3, NULL },
	{ "v=spf1 foo=bar -all", 0, 1, NULL },	/* unknown modifier */
	{ "v=spf1 exp=explain.example.com -all", 0, 1, NULL },
	{ "v=spf1 a:foo.example.com. -all", 0, 2, NULL },
	/* Errors: each is a permerror for check_host(). */
	{ "v=spf10", -1, 0, NULL },
	{ "spf1 -all", -1, 0, NULL },
	{ "v=spf1 frob -all", -1, 0, NULL },
	{ "v=spf1 all:x", -1, 0, NULL },
	{ "v=spf1 include", -1, 0, NULL },
	{ "v=spf1 exists", -1, 0, NULL },
	{ "v=spf1 ip4", -1, 0, NULL },
	{ "v=spf1 ip4:1.2.3.4/33", -1, 0, NULL },
	{ "v=spf1 ip4:1.2.3/24", -1, 0, NULL },
	{ "v=spf1 ip6:2001:db8::/129", -1, 0, NULL },
	{ "v=spf1 a/033", -1, 0, NULL },
	{ "v=spf1 a:museum", -1, 0, NULL },	/* domain-end needs "." */
	{ "v=spf1 a:111.222.33.44", -1, 0, NULL },	/* numeric toplabel */
	{ "v=spf1 a:foo-.example.com-", -1, 0, NULL },
	{ "v=spf1 redirect=a.example.com redirect=b.example.com", -1, 0,
	    NULL },
	{ "v=spf1 exp=a.example.com exp=b.example.com", -1, 0, NULL },
	{ "v=spf1 -redirect=a.example.com", -1, 0, NULL },
	{ "v=spf1 exists:%{x}.example.com", -1, 0, NULL },
	{ "v=spf1 exists:%{d0}.example.com", -1, 0, NULL },
	{ "v=spf1 a:%.example.com", -1, 0, NULL },
	{ "v=spf1 exists:%{c}.example.com", -1, 0, NULL },	/* exp only */
	{ "v=spf1 =all", -1, 0, NULL },
};

static void
test_spf_record_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(record_cases) / sizeof(record_cases[0]);
	    i++) {
		const struct record_case *c = &record_cases[i];
		struct spf_record r;
		const char *err = NULL;
		int rc = spf_record_parse(c->in, strlen(c->in), &r, &err);

		if (rc != c->rc)
			fail_msg("\"%s\": rc %d, want %d (%s)", c->in, rc, c->rc,
			    err != NULL ? err : "");
		if (rc == -1) {
			assert_non_null(err);
			continue;
		}
		if (r.n != c->n)
			fail_msg("\"%s\": %zu terms, want %zu", c->in, r.n, c->n);
		if (c->redirect == NULL)
			assert_null(r.redirect.p);
		else
			assert_true(str_eq(r.redirect, c->redirect));
	}
}

static void
test_spf_record_terms_parsed(void **state)
{
	const char *text = "v=spf1 -ip4:192.0.2.0/24 ~a:mail.example.com/28//64 "
	    "?mx include:x.example.com +all";
	struct spf_record r;
	const char *err;
	unsigned char net[4] = { 192, 0, 2, 0 };

	(void)state;
	assert_int_equal(spf_record_parse(text, strlen(text), &r, &err), 0);
	assert_int_equal(r.n, 5);
	assert_int_equal(r.term[0].mech, SPF_M_IP4);
	assert_int_equal(r.term[0].qual, SPF_FAIL);
	assert_int_equal(r.term[0].cidr4, 24);
	assert_memory_equal(r.term[0].addr, net, 4);
	assert_int_equal(r.term[1].mech, SPF_M_A);
	assert_int_equal(r.term[1].qual, SPF_SOFTFAIL);
	assert_true(str_eq(r.term[1].domain, "mail.example.com"));
	assert_int_equal(r.term[1].cidr4, 28);
	assert_int_equal(r.term[1].cidr6, 64);
	assert_int_equal(r.term[2].mech, SPF_M_MX);
	assert_int_equal(r.term[2].qual, SPF_NEUTRAL);
	assert_int_equal(r.term[2].domain.len, 0);
	assert_int_equal(r.term[2].cidr4, 32);
	assert_int_equal(r.term[2].cidr6, 128);
	assert_int_equal(r.term[3].mech, SPF_M_INCLUDE);
	assert_int_equal(r.term[3].qual, SPF_PASS);
	assert_true(str_eq(r.term[4].text, "+all"));
}

static void
test_spf_record_too_many_terms(void **state)
{
	char text[SPF_MAX_TERMS * 4 + 64];
	size_t o;
	struct spf_record r;
	const char *err;

	(void)state;
	o = (size_t)snprintf(text, sizeof(text), "v=spf1");
	for (size_t i = 0; i < SPF_MAX_TERMS; i++)
		o += (size_t)snprintf(text + o, sizeof(text) - o, " mx");
	assert_int_equal(spf_record_parse(text, o, &r, &err), 0);
	o += (size_t)snprintf(text + o, sizeof(text) - o, " a");
	assert_int_equal(spf_record_parse(text, o, &r, &err), -1);
}

static void
test_spf_is_record(void **state)
{
	(void)state;
	assert_true(spf_is_record("v=spf1", 6));
	assert_true(spf_is_record("v=spf1 -all", 11));
	assert_true(spf_is_record("V=SpF1 -all", 11));
	assert_false(spf_is_record("v=spf1-all", 10));
	assert_false(spf_is_record("v=spf10", 7));
	assert_false(spf_is_record(" v=spf1", 7));
	assert_false(spf_is_record("v=spf", 5));
}

struct macro_case {
	const char	*in;
	bool		 v6;
	const char	*out;		/* NULL: an error */
};

/* RFC 7208 7.4. */
static const struct macro_case macro_cases[] = {
	{ "%{s}", false, "strong-bad@email.example.com" },
	{ "%{o}", false, "email.example.com" },
	{ "%{d}", false, "email.example.com" },
	{ "%{d4}", false, "email.example.com" },
	{ "%{d3}", false, "email.example.com" },
	{ "%{d2}", false, "example.com" },
	{ "%{d1}", false, "com" },
	{ "%{dr}", false, "com.example.email" },
	{ "%{d2r}", false, "example.email" },
	{ "%{l}", false, "strong-bad" },
	{ "%{l-}", false, "strong.bad" },
	{ "%{lr}", false, "strong-bad" },
	{ "%{lr-}", false, "bad.strong" },
	{ "%{l1r-}", false, "strong" },
	{ "%{ir}.%{v}._spf.%{d2}", false, "3.2.0.192.in-addr._spf.example.com" },
	{ "%{lr-}.lp._spf.%{d2}", false, "bad.strong.lp._spf.example.com" },
	{ "%{lr-}.lp.%{ir}.%{v}._spf.%{d2}", false,
	    "bad.strong.lp.3.2.0.192.in-addr._spf.example.com" },
	{ "%{ir}.%{v}.%{l1r-}.lp._spf.%{d2}", false,
	    "3.2.0.192.in-addr.strong.lp._spf.example.com" },
	{ "%{d2}.trusted-domains.example.net", false,
	    "example.com.trusted-domains.example.net" },
	{ "%{ir}.%{v}._spf.%{d2}", true, "1.0.B.C.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0."
	    "0.0.0.0.0.8.B.D.0.1.0.0.2.ip6._spf.example.com" },
	/* Escapes and URL encoding (7.1, 7.3). */
	{ "a%%b%_c%-d", false, "a%b c%20d" },
	{ "%{L}", false, "strong-bad" },
	{ "%{S}", false, "strong-bad%40email.example.com" },
	{ "%{p}", false, "unknown" },
	{ "%{d0}", false, NULL },
	{ "%{q}", false, NULL },
	{ "%{d", false, NULL },
	{ "%x", false, NULL },
	{ "%", false, NULL },
};

static void
test_spf_macro_rfc_examples(void **state)
{
	struct spf_macro_ctx m = {
		.sender = "strong-bad@email.example.com",
		.local = "strong-bad",
		.sender_domain = "email.example.com",
		.domain = "email.example.com",
		.helo = "mx.example.org",
		.receiver = "mx.test",
	};
	char out[512];

	(void)state;
	for (size_t i = 0; i < sizeof(macro_cases) / sizeof(macro_cases[0]);
	    i++) {
		const struct macro_case *c = &macro_cases[i];
		int rc;

		memset(m.ip, 0, sizeof(m.ip));
		m.family = c->v6 ? AF_INET6 : AF_INET;
		assert_int_equal(inet_pton(m.family, c->v6 ? "2001:db8::cb01" :
		    "192.0.2.3", m.ip), 1);
		rc = spf_macro_expand(&m, str_view_from(c->in), false, true,
		    out, sizeof(out));
		if (c->out == NULL) {
			if (rc != -1)
				fail_msg("\"%s\" expanded to \"%s\"", c->in, out);
			continue;
		}
		if (rc != 0 || strcmp(out, c->out) != 0)
			fail_msg("\"%s\": rc %d \"%s\", want \"%s\"", c->in, rc,
			    out, c->out);
	}
}

static void
test_spf_macro_exp_only_letters_and_truncation(void **state)
{
	struct spf_macro_ctx m = {
		.sender = "a@b.example", .local = "a", .sender_domain = "b.example",
		.domain = "b.example", .family = AF_INET, .ip = { 192, 0, 2, 1 },
		.helo = "h.example", .receiver = "mx.test",
	};
	char out[1024], spec[600];

	(void)state;
	assert_int_equal(spf_macro_expand(&m, str_view_from("%{c} %{r}"), true,
	    false, out, sizeof(out)), 0);
	assert_string_equal(out, "192.0.2.1 mx.test");
	assert_int_equal(spf_macro_expand(&m, str_view_from("%{c}"), false,
	    true, out, sizeof(out)), -1);
	/* 7.3: a domain over 253 octets loses labels on the left. */
	memset(spec, 0, sizeof(spec));
	for (size_t i = 0; i < 30; i++)
		memcpy(spec + i * 10, "abcdefghi.", 10);
	memcpy(spec + 300, "%{d}", 4);
	assert_int_equal(spf_macro_expand(&m, str_view_from(spec), false, true,
	    out, sizeof(out)), 0);
	assert_true(strlen(out) <= 253);
	assert_true(strlen(out) > 240);
	assert_string_equal(out + strlen(out) - 10, ".b.example");
	/* Too small an output buffer is an error, never an overrun. */
	assert_int_equal(spf_macro_expand(&m, str_view_from("%{s}%{s}"), false,
	    false, out, 8), -1);
}

static void
test_spf_result_names(void **state)
{
	(void)state;
	assert_string_equal(spf_result_name(SPF_NONE), "none");
	assert_string_equal(spf_result_name(SPF_NEUTRAL), "neutral");
	assert_string_equal(spf_result_name(SPF_PASS), "pass");
	assert_string_equal(spf_result_name(SPF_FAIL), "fail");
	assert_string_equal(spf_result_name(SPF_SOFTFAIL), "softfail");
	assert_string_equal(spf_result_name(SPF_TEMPERROR), "temperror");
	assert_string_equal(spf_result_name(SPF_PERMERROR), "permerror");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_spf_record_table),
		cmocka_unit_test(test_spf_record_terms_parsed),
		cmocka_unit_test(test_spf_record_too_many_terms),
		cmocka_unit_test(test_spf_is_record),
		cmocka_unit_test(test_spf_macro_rfc_examples),
		cmocka_unit_test(test_spf_macro_exp_only_letters_and_truncation),
		cmocka_unit_test(test_spf_result_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
