/* Unit tests for core/addr: RFC 5321 paths, plain and header addresses. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "core/addr.h"

#define N	ADDR_ALLOW_NULL
#define P	ADDR_ALLOW_POSTMASTER
#define U	ADDR_ALLOW_UTF8

struct path_case {
	const char	*in;
	unsigned	 flags;
	int		 rc;
	const char	*local;		/* expected on success */
	const char	*domain;
	const char	*rest;		/* what remains after the path */
};

static const struct path_case path_cases[] = {
	/* Plain mailboxes, domain lower-cased, local part kept. */
	{ "<a@b>", 0, ADDR_OK, "a", "b", "" },
	{ "<John.Doe@Example.COM>", 0, ADDR_OK, "John.Doe", "example.com", "" },
	{ "<a@b> SIZE=10", 0, ADDR_OK, "a", "b", " SIZE=10" },
	{ "<user+tag@mail-1.example.org>", 0, ADDR_OK, "user+tag",
	    "mail-1.example.org", "" },
	{ "<!#$%&'*+-/=?^_`{|}~@x.y>", 0, ADDR_OK, "!#$%&'*+-/=?^_`{|}~",
	    "x.y", "" },
	{ "<a@1.2.3.example>", 0, ADDR_OK, "a", "1.2.3.example", "" },
	{ "<a@9example.com>", 0, ADDR_OK, "a", "9example.com", "" },
	/* Quoted local parts stay quoted, with their quoted-pairs. */
	{ "<\"john doe\"@example.com>", 0, ADDR_OK, "\"john doe\"",
	    "example.com", "" },
	{ "<\"a\\\"b\"@c>", 0, ADDR_OK, "\"a\\\"b\"", "c", "" },
	{ "<\"a>b@c\"@d>", 0, ADDR_OK, "\"a>b@c\"", "d", "" },
	{ "<\"a\\\\\"@d>", 0, ADDR_OK, "\"a\\\\\"", "d", "" },
	/* Address literals. */
	{ "<a@[192.0.2.1]>", 0, ADDR_OK, "a", "[192.0.2.1]", "" },
	{ "<a@[IPv6:2001:DB8::1]>", 0, ADDR_OK, "a", "[IPv6:2001:db8::1]", "" },
	{ "<a@[ipv6:::1]>", 0, ADDR_OK, "a", "[IPv6:::1]", "" },
	{ "<a@[IPv6:::ffff:192.0.2.1]>", 0, ADDR_OK, "a",
	    "[IPv6:::ffff:192.0.2.1]", "" },
	/* Source routes are accepted and dropped (RFC 5321 appendix C). */
	{ "<@a,@b:user@c>", 0, ADDR_OK, "user", "c", "" },
	{ "<@relay.example:u@d.example>", 0, ADDR_OK, "u", "d.example", "" },
	/* Null path and postmaster, with and without their flags. */
	{ "<>", N, ADDR_OK, "", "", "" },
	{ "<> BODY=8BITMIME", N, ADDR_OK, "", "", " BODY=8BITMIME" },
	{ "<>", 0, ADDR_ERR_SYNTAX, NULL, NULL, NULL },
	{ "<postmaster>", P, ADDR_OK, "postmaster", "", "" },
	{ "<PostMaster>", P, ADDR_OK, "PostMaster", "", "" },
	{ "<postmaster>", 0, ADDR_ERR_SYNTAX, NULL, NULL, NULL },
	{ "<postmaster@example.com>", 0, ADDR_OK, "postmaster",
	    "example.com", "" },
	{ "<other>", P, ADDR_ERR_SYNTAX, NULL, NULL, NULL },
	/* UTF-8 (RFC 6531) only under the flag and only well-formed. */
	{ "<j\xc3\xb6rg@b\xc3\xbc" "cher.example>", U, ADDR_OK,
	    "j\xc3\xb6rg", "b\xc3\xbc" "cher.example", "" },
	{ "<\"\xe4\xbd\xa0 x\"@example.com>", U, ADDR_OK,
	    "\"\xe4\xbd\xa0 x\"", "example.com", "" },
	{ "<j\xc3\xb6rg@example.com>", 0, ADDR_ERR_UTF8, NULL, NULL, NULL },
	{ "<a@b\xc3\xbc" "cher.example>", 0, ADDR_ERR_UTF8, NULL, NULL, NULL },
	{ "<a\xc3@b>", U, ADDR_ERR_SYNTAX, NULL, NULL, NULL },
	{ "<a\xc0\xaf@b>", U, ADDR_ERR_SYNTAX, NULL, NULL, NULL },
	{ "<a\xed\xa0\x80@b>", U, ADDR_ERR_SYNTAX, NULL, NULL, NULL },
	{ "<a\xf4\x90\x80\x80@b>", U, ADDR_ERR_SYNTAX, NULL, NULL, NULL },
	{ "<a\xff@b>", U, ADDR_ERR_SYNTAX, NULL, NULL, NULL },
	/* Malformed. */
	{ "a@b", 0, ADDR_ERR_SYNTAX, NULL, NULL, NULL },
	{ "", 0, ADDR_ERR_SYNTAX, NULL, NULL, NULL },
	{ "<", 0, ADDR_ERR_SYNTAX, NULL, NULL, NULL },
	{ "<a@b", 0, ADDR_ERR_SYNTAX, NULL, NULL, NULL },
	{ "<a@b c>", 0, ADDR_ERR_SYNTAX, NULL, NULL, NULL },
	{ "<a b@c>", 0, ADDR_ERR_SYNTAX, NULL, NULL, NULL },
	{ "< a@b>", 0, ADDR_ERR_SYNTAX, NULL, NULL, NULL },
	{ "<a@b >", 0, ADDR_ERR_SYNTAX, NULL, NULL, NULL },
	{ "<@b>", 0, ADDR_ERR_SYNTAX, NULL, NULL, NULL },
	{ "<a@>", 0, ADDR_ERR_SYNTAX, NULL, NULL, NULL },
	{ "<a>", 0, ADDR_ERR_SYNTAX, NULL, NULL, NULL },
	{ "<a@@b>", 0, ADDR_ERR_SYNTAX, NULL, NULL, NULL },
	{ "<a@b@c>", 0, ADDR_ERR_SYNTAX, NULL, NULL, NULL },
	{ "<.a@b>", 0, ADDR_ERR_SYNTAX, NULL, NULL, NULL },
	{ "<a.@b>", 0, ADDR_ERR_SYNTAX, NULL, NULL, NULL },
	{ "<a..b@c>", 0, ADDR_ERR_SYNTAX, NULL, NULL, NULL },
	{ "<a@b.>", 0, ADDR_ERR_SYNTAX, NULL, NULL, NULL },
	{ "<a@.b>", 0, ADDR_ERR_SYNTAX, NULL, NULL, NULL },
	{ "<a@b..c>", 0, ADDR_ERR_SYNTAX, NULL, NULL, NULL },
	{ "<a@-b.c>", 0, ADDR_ERR_SYNTAX, NULL, NULL, NULL },
	{ "<a@b-.c>", 0, ADDR_ERR_SYNTAX, NULL, NULL, NULL },
	{ "<a@b_c.d>", 0, ADDR_ERR_SYNTAX, NULL, NULL, NULL },
	{ "<\"a@b>", 0, ADDR_ERR_SYNTAX, NULL, NULL, NULL },
	{ "<\"\"@b>", 0, ADDR_ERR_SYNTAX, NULL, NULL, NULL },
	{ "<\"a\tb\"@c>", 0, ADDR_ERR_SYNTAX, NULL, NULL, NULL },
	{ "<\"a\\\x01\"@c>", 0, ADDR_ERR_SYNTAX, NULL, NULL, NULL },
	{ "<a\"b@c>", 0, ADDR_ERR_SYNTAX, NULL, NULL, NULL },
	{ "<a(b)@c>", 0, ADDR_ERR_SYNTAX, NULL, NULL, NULL },
	{ "<a@[192.0.2.256]>", 0, ADDR_ERR_SYNTAX, NULL, NULL, NULL },
	{ "<a@[192.0.2]>", 0, ADDR_ERR_SYNTAX, NULL, NULL, NULL },
	{ "<a@[IPv6:2001:db8::g]>", 0, ADDR_ERR_SYNTAX, NULL, NULL, NULL },
	{ "<a@[2001:db8::1]>", 0, ADDR_ERR_SYNTAX, NULL, NULL, NULL },
	{ "<a@[x-tag:foo]>", 0, ADDR_ERR_SYNTAX, NULL, NULL, NULL },
	{ "<a@[192.0.2.1>", 0, ADDR_ERR_SYNTAX, NULL, NULL, NULL },
	{ "<a@[]>", 0, ADDR_ERR_SYNTAX, NULL, NULL, NULL },
	{ "<@a,b:u@c>", 0, ADDR_ERR_SYNTAX, NULL, NULL, NULL },
	{ "<@a:@b:u@c>", 0, ADDR_ERR_SYNTAX, NULL, NULL, NULL },
	{ "<@a u@c>", 0, ADDR_ERR_SYNTAX, NULL, NULL, NULL },
	{ "<a\x00@b>", 0, ADDR_ERR_SYNTAX, NULL, NULL, NULL },
};

static void
test_addr_path_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(path_cases) / sizeof(path_cases[0]); i++) {
		const struct path_case *c = &path_cases[i];
		/* Cases with an embedded NUL say so by their known length. */
		size_t len = strcmp(c->in, "<a") == 0 ? 6 : strlen(c->in);
		struct str_view cur = { c->in, len };
		struct mailaddr a;
		const char *err = NULL;
		int rc;

		rc = addr_parse_path(&cur, &a, c->flags, &err);
		if (rc != c->rc)
			fail_msg("case %zu \"%s\": rc %d, want %d (%s)", i, c->in,
			    rc, c->rc, err ? err : "");
		if (rc != ADDR_OK) {
			assert_non_null(err);
			assert_true(strlen(err) > 0);
			/* The cursor is untouched on failure. */
			assert_ptr_equal(cur.p, c->in);
			continue;
		}
		assert_string_equal(a.local, c->local);
		assert_string_equal(a.domain, c->domain);
		assert_int_equal(cur.len, strlen(c->rest));
		assert_memory_equal(cur.p, c->rest, cur.len);
		assert_int_equal(a.is_null, c->local[0] == '\0');
		assert_int_equal(a.is_utf8, (c->flags & U) != 0);
	}
}

static void
test_addr_path_flags_reported(void **state)
{
	struct str_view cur = STR_VIEW_LIT("<Postmaster@Example.com>");
	struct mailaddr a;

	(void)state;
	assert_int_equal(addr_parse_path(&cur, &a, 0, NULL), ADDR_OK);
	assert_true(a.is_postmaster);
	assert_false(a.is_null);
	cur = STR_VIEW_LIT("<\"postmaster\"@example.com>");
	assert_int_equal(addr_parse_path(&cur, &a, 0, NULL), ADDR_OK);
	assert_false(a.is_postmaster);
	cur = STR_VIEW_LIT("<>");
	assert_int_equal(addr_parse_path(&cur, &a, N, NULL), ADDR_OK);
	assert_true(a.is_null);
	assert_string_equal(a.local, "");
}

static void
test_addr_missing_brackets_error_text(void **state)
{
	struct str_view cur = STR_VIEW_LIT("a@b");
	struct mailaddr a;
	const char *err = NULL;

	(void)state;
	assert_int_equal(addr_parse_path(&cur, &a, 0, &err), ADDR_ERR_SYNTAX);
	assert_string_equal(err, "address must be enclosed in <>");
	cur = STR_VIEW_LIT("<x@y.example>");
	assert_int_equal(addr_parse_path(&cur, &a, ADDR_ALLOW_POSTMASTER, &err),
	    ADDR_OK);
}

/* Builds "<" local "@" domain ">" with the given lengths. */
static void
make_path(char *out, size_t outsz, size_t local_len, size_t label_len,
    size_t labels)
{
	size_t n = 0;

	out[n++] = '<';
	for (size_t i = 0; i < local_len; i++)
		out[n++] = 'l';
	out[n++] = '@';
	for (size_t l = 0; l < labels; l++) {
		if (l > 0)
			out[n++] = '.';
		for (size_t i = 0; i < label_len; i++)
			out[n++] = 'd';
	}
	out[n++] = '>';
	assert_true(n < outsz);
	out[n] = '\0';
}

static void
test_addr_length_limits(void **state)
{
	struct {
		size_t	local, label, labels;
		int	rc;
	} cases[] = {
		{ 64, 3, 1, ADDR_OK },
		{ 65, 3, 1, ADDR_ERR_SYNTAX },
		{ 1, 63, 1, ADDR_OK },
		{ 1, 64, 1, ADDR_ERR_SYNTAX },
		{ 1, 63, 4, ADDR_OK },		/* 255 octets */
		{ 1, 50, 5, ADDR_OK },		/* 254 octets */
		{ 1, 51, 5, ADDR_ERR_SYNTAX },	/* 259 octets */
		{ 1, 1, 128, ADDR_OK },		/* 255 octets */
		{ 1, 1, 129, ADDR_ERR_SYNTAX },
	};
	char buf[1024];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct str_view cur;
		struct mailaddr a;
		char fmt[ADDR_FORMAT_MAX];

		make_path(buf, sizeof(buf), cases[i].local, cases[i].label,
		    cases[i].labels);
		cur = str_view_from(buf);
		if (addr_parse_path(&cur, &a, 0, NULL) != cases[i].rc)
			fail_msg("length case %zu", i);
		if (cases[i].rc == ADDR_OK) {
			assert_int_equal(addr_format(&a, fmt, sizeof(fmt)),
			    (int)strlen(buf) - 2);
			assert_memory_equal(fmt, buf + 1, strlen(buf) - 2);
		}
	}
	/* A quoted local part counts its quotes. */
	snprintf(buf, sizeof(buf), "<\"%062d\"@b>", 0);
	{
		struct str_view cur = str_view_from(buf);
		struct mailaddr a;

		assert_int_equal(addr_parse_path(&cur, &a, 0, NULL), ADDR_OK);
		snprintf(buf, sizeof(buf), "<\"%063d\"@b>", 0);
		cur = str_view_from(buf);
		assert_int_equal(addr_parse_path(&cur, &a, 0, NULL),
		    ADDR_ERR_SYNTAX);
	}
}

static void
test_addr_format(void **state)
{
	struct mailaddr a;
	char out[ADDR_FORMAT_MAX], tiny[4];

	(void)state;
	assert_int_equal(addr_parse_plain("Jo@Example.org", &a), ADDR_OK);
	assert_int_equal(addr_format(&a, out, sizeof(out)), 14);
	assert_string_equal(out, "Jo@example.org");
	assert_int_equal(addr_format(&a, tiny, sizeof(tiny)), -1);
	assert_string_equal(tiny, "");
	memset(&a, 0, sizeof(a));
	a.is_null = true;
	assert_int_equal(addr_format(&a, out, sizeof(out)), 0);
	assert_string_equal(out, "");
	{
		struct str_view cur = STR_VIEW_LIT("<postmaster>");

		assert_int_equal(addr_parse_path(&cur, &a, P, NULL), ADDR_OK);
		assert_int_equal(addr_format(&a, out, sizeof(out)), 10);
		assert_string_equal(out, "postmaster");
	}
}

static void
test_addr_plain(void **state)
{
	static const struct {
		const char	*in;
		int		 rc;
		const char	*local, *domain;
	} cases[] = {
		{ "a@b.example", ADDR_OK, "a", "b.example" },
		{ "First.Last@EXAMPLE.net", ADDR_OK, "First.Last", "example.net" },
		{ "\"x y\"@z", ADDR_OK, "\"x y\"", "z" },
		{ "r\xc3\xa9mi@exemple.fr", ADDR_OK, "r\xc3\xa9mi", "exemple.fr" },
		{ "a@[192.0.2.7]", ADDR_OK, "a", "[192.0.2.7]" },
		{ "<a@b>", ADDR_ERR_SYNTAX, NULL, NULL },
		{ "a@b ", ADDR_ERR_SYNTAX, NULL, NULL },
		{ " a@b", ADDR_ERR_SYNTAX, NULL, NULL },
		{ "a", ADDR_ERR_SYNTAX, NULL, NULL },
		{ "a@", ADDR_ERR_SYNTAX, NULL, NULL },
		{ "@b", ADDR_ERR_SYNTAX, NULL, NULL },
		{ "", ADDR_ERR_SYNTAX, NULL, NULL },
		{ "a@b@c", ADDR_ERR_SYNTAX, NULL, NULL },
		{ "a\xc3@b", ADDR_ERR_SYNTAX, NULL, NULL },
	};
	struct mailaddr a, b;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (addr_parse_plain(cases[i].in, &a) != cases[i].rc)
			fail_msg("plain case %zu \"%s\"", i, cases[i].in);
		if (cases[i].rc != ADDR_OK)
			continue;
		assert_string_equal(a.local, cases[i].local);
		assert_string_equal(a.domain, cases[i].domain);
	}
	assert_int_equal(addr_parse_plain("u@Example.COM", &a), 0);
	assert_int_equal(addr_parse_plain("u@example.com", &b), 0);
	assert_true(addr_equal(&a, &b));
	assert_int_equal(addr_parse_plain("U@example.com", &b), 0);
	assert_false(addr_equal(&a, &b));
}

static void
test_addr_utf8_seq_len(void **state)
{
	static const struct {
		const char	*s;
		size_t		 n, want;
	} cases[] = {
		{ "a", 1, 1 },
		{ "\xc3\xa9", 2, 2 },
		{ "\xe2\x82\xac", 3, 3 },
		{ "\xf0\x9f\x98\x80", 4, 4 },
		{ "\xf4\x8f\xbf\xbf", 4, 4 },
		{ "\xc3", 1, 0 },		/* truncated */
		{ "\xc1\x81", 2, 0 },		/* overlong */
		{ "\xe0\x80\x80", 3, 0 },	/* overlong */
		{ "\xf0\x80\x80\x80", 4, 0 },	/* overlong */
		{ "\xed\xa0\x80", 3, 0 },	/* surrogate */
		{ "\xf4\x90\x80\x80", 4, 0 },	/* > U+10FFFF */
		{ "\xf5\x80\x80\x80", 4, 0 },
		{ "\x80", 1, 0 },
		{ "\xe2\x28\xa1", 3, 0 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (addr_utf8_seq_len((const unsigned char *)cases[i].s,
		    cases[i].n) != cases[i].want)
			fail_msg("utf8 case %zu", i);
}

struct hdr_case {
	const char	*value;
	int		 rc;		/* count or -1 */
	const char	*addrs[3];	/* formatted */
};

static const struct hdr_case hdr_cases[] = {
	{ "a@b.example", 1, { "a@b.example" } },
	{ "  a@b.example  ", 1, { "a@b.example" } },
	{ "John Doe <jd@Example.com>", 1, { "jd@example.com" } },
	{ "\"Doe, John\" <jd@example.com>", 1, { "jd@example.com" } },
	{ "\"Q\" <a@b>, b@c", 2, { "a@b", "b@c" } },
	{ "\"x@y.example\" <a@b>", 1, { "a@b" } },
	{ "a@b (Alice), (Bob) b@c", 2, { "a@b", "b@c" } },
	{ "a@b (nested (comment) \\) here)", 1, { "a@b" } },
	{ "Name\r\n <a@b>", 1, { "a@b" } },
	{ "=?UTF-8?B?w6lsw6hWZQ==?= <e@f.example>", 1, { "e@f.example" } },
	{ "J\xc3\xb6rg <j\xc3\xb6rg@b\xc3\xbc" "cher.example>", 1,
	    { "j\xc3\xb6rg@b\xc3\xbc" "cher.example" } },
	{ "team: a@b, c@d;", 2, { "a@b", "c@d" } },
	{ "undisclosed-recipients:;", 0, { NULL } },
	{ "a@b,,c@d,", 2, { "a@b", "c@d" } },
	{ "<@route.example:u@v>", 1, { "u@v" } },
	{ "< a@b >", 1, { "a@b" } },
	{ "\"quoted local\"@b", 1, { "\"quoted local\"@b" } },
	{ "a@[192.0.2.1]", 1, { "a@[192.0.2.1]" } },
	{ "", 0, { NULL } },
	{ "(just a comment)", 0, { NULL } },
	/* Malformed. */
	{ "John Doe a@b", -1, { NULL } },
	{ "a@b <c@d>", -1, { NULL } },
	{ "<a@b> junk", -1, { NULL } },
	{ "<a@b", -1, { NULL } },
	{ "a@b>", -1, { NULL } },
	{ "\"unterminated <a@b>", -1, { NULL } },
	{ "(unterminated a@b", -1, { NULL } },
	{ "Name <a@>", -1, { NULL } },
	{ "<<a@b>>", -1, { NULL } },
	{ "a@b; c@d", -1, { NULL } },
	{ "g: a@b", -1, { NULL } },
	{ "a@b\x01", -1, { NULL } },
	{ "just-a-name", -1, { NULL } },
	{ "a@b, c@d, e@f, g@h", -1, { NULL } },	/* more than max (3) */
};

static void
test_addr_header_list(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(hdr_cases) / sizeof(hdr_cases[0]); i++) {
		const struct hdr_case *c = &hdr_cases[i];
		struct mailaddr out[3];
		const char *err = NULL;
		int rc;

		rc = addr_parse_header_list(str_view_from(c->value), out, 3, &err);
		if (rc != c->rc)
			fail_msg("header case %zu \"%s\": rc %d want %d (%s)", i,
			    c->value, rc, c->rc, err ? err : "");
		if (rc == -1) {
			assert_non_null(err);
			continue;
		}
		for (int k = 0; k < rc; k++) {
			char fmt[ADDR_FORMAT_MAX];

			assert_true(addr_format(&out[k], fmt, sizeof(fmt)) > 0);
			assert_string_equal(fmt, c->addrs[k]);
		}
	}
}

static void
test_addr_header_list_bounds(void **state)
{
	static char big[ADDR_HEADER_MAX + 64];
	struct mailaddr out[1];
	size_t n;

	(void)state;
	/* A long display name (encoded words) is fine before <...>. */
	memset(big, 'x', 1000);
	memcpy(big + 1000, " <a@b>", 7);
	assert_int_equal(addr_parse_header_list(str_view_from(big), out, 1,
	    NULL), 1);
	/* ... but as a bare address it is too long. */
	big[1000] = '\0';
	assert_int_equal(addr_parse_header_list(str_view_from(big), out, 1,
	    NULL), -1);
	/* Deeply nested comments are refused, not recursed into. */
	n = 0;
	for (int i = 0; i < 100; i++)
		big[n++] = '(';
	for (int i = 0; i < 100; i++)
		big[n++] = ')';
	memcpy(big + n, "a@b", 4);
	assert_int_equal(addr_parse_header_list(str_view_from(big), out, 1,
	    NULL), -1);
	/* Over ADDR_HEADER_MAX is refused outright. */
	memset(big, ' ', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(addr_parse_header_list(str_view_from(big), out, 1,
	    NULL), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_addr_path_table),
		cmocka_unit_test(test_addr_path_flags_reported),
		cmocka_unit_test(test_addr_missing_brackets_error_text),
		cmocka_unit_test(test_addr_length_limits),
		cmocka_unit_test(test_addr_format),
		cmocka_unit_test(test_addr_plain),
		cmocka_unit_test(test_addr_utf8_seq_len),
		cmocka_unit_test(test_addr_header_list),
		cmocka_unit_test(test_addr_header_list_bounds),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
