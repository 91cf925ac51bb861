/*
 * Unit tests for policy/psl: the Organizational Domain of RFC 7489 3.2
 * from a small inline list (normal, wildcard and exception rules, the
 * default rule, Unicode rules as A-labels, case and trailing dots), the
 * loader's bounds, and a few answers from Debian's installed list (skipped
 * when the publicsuffix package is absent).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/config.h"
#include "policy/psl.h"

static const char list[] =
    "// ===BEGIN ICANN DOMAINS===\n"
    "com\n"
    "uk\n"
    "co.uk\n"
    "\n"
    "// wildcard with an exception\n"
    "*.ck\n"
    "!www.ck\n"
    "jp\n"
    "*.kawasaki.jp\n"
    "!city.kawasaki.jp\n"
    "\xe5\x85\xac\xe5\x8f\xb8.cn\n"		/* 公司.cn */
    "cn\n"
    "  org   trailing words are ignored\r\n"
    "// ===BEGIN PRIVATE DOMAINS===\n"
    "blogspot.com\n"
    "bad..rule\n"
    "a*.b\n"
    "*\n";

struct org_case {
	const char	*in;
	const char	*org;		/* NULL: none (-1) */
};

static const struct org_case org_cases[] = {
	{ "example.com", "example.com" },
	{ "mail.example.com", "example.com" },
	{ "a.b.example.co.uk", "example.co.uk" },
	{ "example.co.uk", "example.co.uk" },
	{ "co.uk", NULL },		/* a public suffix itself */
	{ "uk", NULL },
	{ "com", NULL },
	{ "Mail.EXAMPLE.Com.", "example.com" },
	/* *.ck and !www.ck */
	{ "www.ck", "www.ck" },
	{ "a.www.ck", "www.ck" },
	{ "foo.ck", NULL },
	{ "a.foo.ck", "a.foo.ck" },
	{ "b.a.foo.ck", "a.foo.ck" },
	{ "ck", NULL },
	{ "x.y.kawasaki.jp", "x.y.kawasaki.jp" },
	{ "x.city.kawasaki.jp", "city.kawasaki.jp" },
	{ "y.kawasaki.jp", NULL },
	/* default rule "*": an unlisted TLD is a public suffix */
	{ "example.invalid", "example.invalid" },
	{ "a.b.example.invalid", "example.invalid" },
	{ "localhost", NULL },
	/* Unicode rule, matched in A-label and in UTF-8 form */
	{ "a.b.xn--55qx5d.cn", "b.xn--55qx5d.cn" },
	{ "xn--55qx5d.cn", NULL },
	{ "b.\xe5\x85\xac\xe5\x8f\xb8.cn", "b.\xe5\x85\xac\xe5\x8f\xb8.cn" },
	{ "x.org", "x.org" },
	/* private section */
	{ "foo.blogspot.com", "foo.blogspot.com" },
	{ "a.foo.blogspot.com", "foo.blogspot.com" },
	{ "blogspot.com", NULL },
	/* not domain names */
	{ "", NULL },
	{ ".", NULL },
	{ "a..example.com", NULL },
	{ ".example.com", NULL },
	{ "x.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.com",
	    NULL },
};

static struct psl *
small(size_t *skipped)
{
	const char *err = NULL;
	struct psl *psl = psl_parse(list, sizeof(list) - 1, skipped, &err);

	assert_non_null(psl);
	return psl;
}

static void
test_psl_org_domain_table(void **state)
{
	struct psl *psl = small(NULL);
	char out[256];

	(void)state;
	for (size_t i = 0; i < sizeof(org_cases) / sizeof(org_cases[0]); i++) {
		const struct org_case *c = &org_cases[i];
		int rc = psl_organizational_domain(psl, c->in, out, sizeof(out));

		if (c->org == NULL) {
			if (rc != -1)
				fail_msg("case %zu (%s): got %s", i, c->in, out);
			assert_string_equal(out, "");
		} else {
			if (rc != 0)
				fail_msg("case %zu (%s): no org domain", i, c->in);
			assert_string_equal(out, c->org);
		}
	}
	psl_free(&psl);
	assert_null(psl);
}

static void
test_psl_is_public_suffix(void **state)
{
	struct psl *psl = small(NULL);

	(void)state;
	assert_true(psl_is_public_suffix(psl, "co.uk"));
	assert_true(psl_is_public_suffix(psl, "CO.UK."));
	assert_true(psl_is_public_suffix(psl, "foo.ck"));
	assert_false(psl_is_public_suffix(psl, "www.ck"));
	assert_true(psl_is_public_suffix(psl, "invalid"));
	assert_false(psl_is_public_suffix(psl, "example.com"));
	assert_false(psl_is_public_suffix(psl, ""));
	psl_free(&psl);
}

static void
test_psl_skips_bad_rules_and_counts(void **state)
{
	size_t skipped = 0;
	struct psl *psl = small(&skipped);

	(void)state;
	/* bad..rule, a*.b and the lone "*" */
	assert_int_equal(skipped, 3);
	/* 12 rules + the A-label twin of 公司.cn */
	assert_int_equal(psl_rule_count(psl), 13);
	psl_free(&psl);
}

static void
test_psl_out_too_small(void **state)
{
	struct psl *psl = small(NULL);
	char out[8] = "x";

	(void)state;
	assert_int_equal(psl_organizational_domain(psl, "a.example.com", out,
	    sizeof(out)), -1);
	assert_string_equal(out, "");
	assert_int_equal(psl_organizational_domain(psl, "a.example.com", out,
	    sizeof("example.com") - 1), -1);
	psl_free(&psl);
}

static void
test_psl_empty_and_long_lines(void **state)
{
	const char *err = NULL;
	char big[600];
	size_t skipped = 0;
	struct psl *psl;

	(void)state;
	assert_null(psl_parse("// only a comment\n\n", 19, NULL, &err));
	assert_non_null(err);
	memset(big, 'a', sizeof(big));
	big[sizeof(big) - 5] = '\n';
	memcpy(big + sizeof(big) - 4, "com\n", 4);
	psl = psl_parse(big, sizeof(big), &skipped, &err);
	assert_non_null(psl);
	assert_int_equal(skipped, 1);
	assert_int_equal(psl_rule_count(psl), 1);
	psl_free(&psl);
}

static void
test_psl_load_missing_file(void **state)
{
	const char *err = NULL;
	struct config cfg;

	(void)state;
	assert_null(psl_load("/nonexistent/psl.dat", &err));
	assert_non_null(err);
	memset(&cfg, 0, sizeof(cfg));
	assert_null(psl_load_config(&cfg));	/* unset: off, quietly */
	cfg.public_suffix_list = (char *)"/nonexistent/psl.dat";
	assert_null(psl_load_config(&cfg));	/* one warning, not fatal */
}

struct ascii_case {
	const char	*in;
	const char	*out;		/* NULL: -1 */
};

/* Expected values from Python's idna codec (RFC 3492 + "xn--"). */
static const struct ascii_case ascii_cases[] = {
	{ "example.com", "example.com" },
	{ "m\xc3\xbcnchen.example", "xn--mnchen-3ya.example" },
	{ "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e.jp", "xn--wgv71a119e.jp" },
	{ "\xc3\xb1", "xn--ida" },
	{ "a\xc3\xa9-b.example", "xn--a-b-bma.example" },
	{ "\xcf\x80\xce\xb1\xcf\x81\xce\xac\xce\xb4\xce\xb5\xce\xb9"
	    "\xce\xb3\xce\xbc\xce\xb1.gr", "xn--hxajbheg2az3al.gr" },
	{ "x.\xc3\xbc\xc3\xbc\xc3\xbc\xc3\xbc\xc3\xbc\xc3\xbc\xc3\xbc"
	    "\xc3\xbc\xc3\xbc\xc3\xbc", "x.xn--tdaaaaaaaaaa" },
	{ "bad\xc3.example", NULL },		/* truncated sequence */
	{ "bad\xc0\xaf.example", NULL },	/* overlong */
	{ "bad\xed\xa0\x80.example", NULL },	/* surrogate */
	{ "bad\xff.example", NULL },
};

static void
test_psl_domain_to_ascii(void **state)
{
	char out[256], tiny[10];

	(void)state;
	for (size_t i = 0; i < sizeof(ascii_cases) / sizeof(ascii_cases[0]);
	    i++) {
		const struct ascii_case *c = &ascii_cases[i];
		int n = psl_domain_to_ascii(c->in, out, sizeof(out));

		if (c->out == NULL) {
			assert_int_equal(n, -1);
			assert_string_equal(out, "");
		} else {
			if (n < 0)
				fail_msg("case %zu: -1", i);
			assert_string_equal(out, c->out);
			assert_int_equal(n, strlen(c->out));
		}
	}
	assert_int_equal(psl_domain_to_ascii("m\xc3\xbcnchen.example", tiny,
	    sizeof(tiny)), -1);
	assert_string_equal(tiny, "");
	/* a NULL list knows no suffix */
	assert_int_equal(psl_organizational_domain(NULL, "a.example.com", out,
	    sizeof(out)), -1);
	assert_false(psl_is_public_suffix(NULL, "com"));
}

static const struct org_case debian_cases[] = {
	{ "example.com", "example.com" },
	{ "a.b.example.co.uk", "example.co.uk" },
	{ "a.www.ck", "www.ck" },
	{ "foo.ck", NULL },
	{ "x.city.kawasaki.jp", "city.kawasaki.jp" },
	{ "a.b.xn--55qx5d.cn", "b.xn--55qx5d.cn" },
	{ "mail.example.xn--p1ai", "example.xn--p1ai" },
	{ "me.github.io", "me.github.io" },
	{ "co.uk", NULL },
};

static void
test_psl_debian_list(void **state)
{
	const char *err = NULL;
	struct psl *psl;
	char out[256];

	(void)state;
	if (access(PSL_DEFAULT_PATH, R_OK) == -1)
		skip();
	psl = psl_load(PSL_DEFAULT_PATH, &err);
	assert_non_null(psl);
	assert_true(psl_rule_count(psl) > 5000);
	for (size_t i = 0; i < sizeof(debian_cases) / sizeof(debian_cases[0]);
	    i++) {
		const struct org_case *c = &debian_cases[i];
		int rc = psl_organizational_domain(psl, c->in, out, sizeof(out));

		if (c->org == NULL) {
			assert_int_equal(rc, -1);
		} else {
			if (rc != 0)
				fail_msg("%s: no org domain", c->in);
			assert_string_equal(out, c->org);
		}
	}
	psl_free(&psl);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_psl_org_domain_table),
		cmocka_unit_test(test_psl_is_public_suffix),
		cmocka_unit_test(test_psl_skips_bad_rules_and_counts),
		cmocka_unit_test(test_psl_out_too_small),
		cmocka_unit_test(test_psl_empty_and_long_lines),
		cmocka_unit_test(test_psl_load_missing_file),
		cmocka_unit_test(test_psl_domain_to_ascii),
		cmocka_unit_test(test_psl_debian_list),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
