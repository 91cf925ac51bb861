/* Unit tests for smtp/parse: command lines and their arguments. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "smtp/parse.h"

static struct str_view
sv(const char *s)
{
	return str_view_from(s);
}

static void
test_smtp_parse_command_table(void **state)
{
	static const struct {
		const char	*line;
		size_t		 len;	/* 0: strlen */
		int		 rc;
		const char	*verb, *args;
	} cases[] = {
		{ "EHLO client.example", 0, 0, "EHLO", "client.example" },
		{ "ehlo client.example", 0, 0, "EHLO", "client.example" },
		{ "MaIl FROM:<a@b> SIZE=1", 0, 0, "MAIL", "FROM:<a@b> SIZE=1" },
		{ "DATA", 0, 0, "DATA", "" },
		{ "QUIT   ", 0, 0, "QUIT", "" },
		{ "NOOP  x  ", 0, 0, "NOOP", "x" },
		{ "RCPT\tTO:<a@b>", 0, 0, "RCPT", "TO:<a@b>" },
		{ "ABCDEFGHIJKLMNOP", 0, 0, "ABCDEFGHIJKLMNOP", "" },
		{ "ABCDEFGHIJKLMNOPQ", 0, -1, NULL, NULL },
		{ "", 0, -1, NULL, NULL },
		{ " MAIL FROM:<a@b>", 0, -1, NULL, NULL },
		{ "MAIL:FROM", 0, -1, NULL, NULL },
		{ "HELO2 x", 0, -1, NULL, NULL },
		{ "GET / HTTP/1.0", 0, 0, "GET", "/ HTTP/1.0" },
		{ "MAIL FROM:<a@b>\r", 0, -1, NULL, NULL },
		{ "NOOP \x7f", 0, -1, NULL, NULL },
		{ "NOOP a\0b", 8, -1, NULL, NULL },
		{ "\xc3\xa9HLO x", 0, -1, NULL, NULL },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct str_view line = { cases[i].line,
		    cases[i].len ? cases[i].len : strlen(cases[i].line) };
		struct smtp_command cmd;
		struct smtp_parse_err err = { 0, NULL, NULL };
		int rc = smtp_parse_command(line, &cmd, &err);

		if (rc != cases[i].rc)
			fail_msg("command case %zu \"%s\"", i, cases[i].line);
		if (rc == -1) {
			assert_int_equal(err.code, 500);
			assert_string_equal(err.enhanced, "5.5.2");
			assert_non_null(err.text);
			continue;
		}
		assert_string_equal(cmd.verb, cases[i].verb);
		assert_true(str_eq(cmd.args, cases[i].args));
	}
}

struct mail_case {
	const char	*args;
	unsigned	 exts;
	int		 code;		/* 0 = success */
	const char	*enhanced;
	const char	*addr;		/* formatted, on success */
	uint64_t	 size;
	enum smtp_body	 body;
	bool		 utf8;
};

static const struct mail_case mail_cases[] = {
	{ "FROM:<a@b.example>", SMTP_EXT_ALL, 0, NULL, "a@b.example", 0, 0, 0 },
	{ "from:<a@b.example>", SMTP_EXT_ALL, 0, NULL, "a@b.example", 0, 0, 0 },
	{ "FROM: <a@b.example>", SMTP_EXT_ALL, 0, NULL, "a@b.example", 0, 0, 0 },
	{ "FROM:<>", SMTP_EXT_ALL, 0, NULL, "", 0, 0, 0 },
	{ "FROM:<a@b> SIZE=12345", SMTP_EXT_ALL, 0, NULL, "a@b", 12345, 0, 0 },
	{ "FROM:<a@b> size=0", SMTP_EXT_ALL, 0, NULL, "a@b", 0, 0, 0 },
	{ "FROM:<a@b> SIZE=99999999999999999999", SMTP_EXT_ALL, 0, NULL, "a@b",
	    UINT64_MAX, 0, 0 },
	{ "FROM:<a@b> BODY=8BITMIME", SMTP_EXT_ALL, 0, NULL, "a@b", 0,
	    SMTP_BODY_8BITMIME, 0 },
	{ "FROM:<a@b> body=7bit  SIZE=10", SMTP_EXT_ALL, 0, NULL, "a@b", 10,
	    SMTP_BODY_7BIT, 0 },
	{ "FROM:<a@b> AUTH=<>", SMTP_EXT_ALL, 0, NULL, "a@b", 0, 0, 0 },
	{ "FROM:<a@b> AUTH=a+2Bb@c", SMTP_EXT_ALL, 0, NULL, "a@b", 0, 0, 0 },
	{ "FROM:<j\xc3\xb6@b> SMTPUTF8", SMTP_EXT_ALL, 0, NULL, "j\xc3\xb6@b",
	    0, 0, true },
	{ "FROM:<a@b> SMTPUTF8 BODY=8BITMIME", SMTP_EXT_ALL, 0, NULL, "a@b", 0,
	    SMTP_BODY_8BITMIME, true },
	{ "FROM:<@x,@y:a@b>", SMTP_EXT_ALL, 0, NULL, "a@b", 0, 0, 0 },
	/* Syntax errors. */
	{ "FROM<a@b>", SMTP_EXT_ALL, 501, "5.5.2", NULL, 0, 0, 0 },
	{ "TO:<a@b>", SMTP_EXT_ALL, 501, "5.5.2", NULL, 0, 0, 0 },
	{ "", SMTP_EXT_ALL, 501, "5.5.2", NULL, 0, 0, 0 },
	{ "FROM:a@b", SMTP_EXT_ALL, 501, "5.1.7", NULL, 0, 0, 0 },
	{ "FROM:  <a@b>", SMTP_EXT_ALL, 501, "5.1.7", NULL, 0, 0, 0 },
	{ "FROM:<a@>", SMTP_EXT_ALL, 501, "5.1.7", NULL, 0, 0, 0 },
	{ "FROM:<postmaster>", SMTP_EXT_ALL, 501, "5.1.7", NULL, 0, 0, 0 },
	{ "FROM:<a@b>SIZE=1", SMTP_EXT_ALL, 501, "5.5.2", NULL, 0, 0, 0 },
	{ "FROM:<a@b> =1", SMTP_EXT_ALL, 501, "5.5.2", NULL, 0, 0, 0 },
	{ "FROM:<a@b> SIZE=1=2", SMTP_EXT_ALL, 501, "5.5.2", NULL, 0, 0, 0 },
	{ "FROM:<a@b> SIZE=", SMTP_EXT_ALL, 501, "5.5.2", NULL, 0, 0, 0 },
	{ "FROM:<a@b> -X=1", SMTP_EXT_ALL, 501, "5.5.2", NULL, 0, 0, 0 },
	{ "FROM:<a@b> SIZE=12a", SMTP_EXT_ALL, 501, "5.5.4", NULL, 0, 0, 0 },
	{ "FROM:<a@b> SIZE", SMTP_EXT_ALL, 501, "5.5.4", NULL, 0, 0, 0 },
	{ "FROM:<a@b> SIZE=123456789012345678901", SMTP_EXT_ALL, 501, "5.5.4",
	    NULL, 0, 0, 0 },
	{ "FROM:<a@b> BODY=9BIT", SMTP_EXT_ALL, 501, "5.5.4", NULL, 0, 0, 0 },
	{ "FROM:<a@b> SMTPUTF8=yes", SMTP_EXT_ALL, 501, "5.5.4", NULL, 0, 0, 0 },
	{ "FROM:<a@b> AUTH", SMTP_EXT_ALL, 501, "5.5.4", NULL, 0, 0, 0 },
	/* Unknown, unadvertised, repeated, refused. */
	{ "FROM:<a@b> FOO=bar", SMTP_EXT_ALL, 555, "5.5.4", NULL, 0, 0, 0 },
	{ "FROM:<a@b> RET=HDRS", SMTP_EXT_ALL, 555, "5.5.4", NULL, 0, 0, 0 },
	{ "FROM:<a@b> SIZE=1 SIZE=2", SMTP_EXT_ALL, 555, "5.5.4", NULL, 0, 0,
	    0 },
	{ "FROM:<a@b> BODY=8BITMIME body=7BIT", SMTP_EXT_ALL, 555, "5.5.4",
	    NULL, 0, 0, 0 },
	{ "FROM:<a@b> BODY=BINARYMIME", SMTP_EXT_ALL, 555, "5.5.4", NULL, 0, 0,
	    0 },
	{ "FROM:<a@b> SIZE=10", SMTP_EXT_ALL & ~SMTP_EXT_SIZE, 555, "5.5.4",
	    NULL, 0, 0, 0 },
	{ "FROM:<a@b> SMTPUTF8", SMTP_EXT_ALL & ~SMTP_EXT_SMTPUTF8, 555, "5.5.4",
	    NULL, 0, 0, 0 },
	{ "FROM:<a@b> AUTH=<>", SMTP_EXT_ALL & ~SMTP_EXT_AUTH, 555, "5.5.4",
	    NULL, 0, 0, 0 },
	/* UTF-8 needs the SMTPUTF8 parameter (RFC 6531 3.5). */
	{ "FROM:<j\xc3\xb6@b>", SMTP_EXT_ALL, 553, "5.6.7", NULL, 0, 0, 0 },
	{ "FROM:<j\xc3\xb6@b> SMTPUTF8", SMTP_EXT_ALL & ~SMTP_EXT_SMTPUTF8,
	    553, "5.6.7", NULL, 0, 0, 0 },
	{ "FROM:<j\xc3@b> SMTPUTF8", SMTP_EXT_ALL, 501, "5.1.7", NULL, 0, 0, 0 },
};

static void
test_smtp_parse_mail_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(mail_cases) / sizeof(mail_cases[0]); i++) {
		const struct mail_case *c = &mail_cases[i];
		struct smtp_mail_args m;
		struct smtp_parse_err err = { 0, NULL, NULL };
		char fmt[ADDR_FORMAT_MAX];
		int rc = smtp_parse_mail_args(sv(c->args), c->exts, &m, &err);

		if (c->code == 0) {
			if (rc != 0)
				fail_msg("mail case %zu \"%s\": %d %s %s", i,
				    c->args, err.code, err.enhanced, err.text);
			assert_true(addr_format(&m.from, fmt, sizeof(fmt)) >= 0);
			assert_string_equal(fmt, c->addr);
			assert_true(m.size == c->size);
			assert_int_equal(m.has_size, strstr(c->args, "SIZE") ||
			    strstr(c->args, "size"));
			assert_int_equal(m.body, c->body);
			assert_int_equal(m.smtputf8, c->utf8);
			continue;
		}
		if (rc != -1 || err.code != c->code ||
		    strcmp(err.enhanced, c->enhanced) != 0)
			fail_msg("mail case %zu \"%s\": got %d %d %s, want %d %s",
			    i, c->args, rc, err.code, err.enhanced ? err.enhanced :
			    "-", c->code, c->enhanced);
		assert_non_null(err.text);
		assert_true(strlen(err.text) > 0);
	}
}

static void
test_smtp_parse_mail_auth_flag(void **state)
{
	struct smtp_mail_args m;
	struct smtp_parse_err err;

	(void)state;
	assert_int_equal(smtp_parse_mail_args(sv("FROM:<a@b> AUTH=x@y"),
	    SMTP_EXT_ALL, &m, &err), 0);
	assert_true(m.has_auth);
	assert_int_equal(smtp_parse_mail_args(sv("FROM:<a@b>"), SMTP_EXT_ALL,
	    &m, &err), 0);
	assert_false(m.has_auth);
	assert_false(m.has_size);
	assert_int_equal(m.body, SMTP_BODY_UNSPEC);
	/* The address error text reaches the reply. */
	assert_int_equal(smtp_parse_mail_args(sv("FROM:a@b"), SMTP_EXT_ALL,
	    &m, &err), -1);
	assert_string_equal(err.text, "address must be enclosed in <>");
}

static void
test_smtp_parse_rcpt_table(void **state)
{
	static const struct {
		const char	*args;
		bool		 utf8;
		int		 code;
		const char	*enhanced;
		const char	*addr;
	} cases[] = {
		{ "TO:<a@b.example>", false, 0, NULL, "a@b.example" },
		{ "to:<A@B.Example>", false, 0, NULL, "A@b.example" },
		{ "TO: <a@b>", false, 0, NULL, "a@b" },
		{ "TO:<postmaster>", false, 0, NULL, "postmaster" },
		{ "TO:<Postmaster@Example.com>", false, 0, NULL,
		    "Postmaster@example.com" },
		{ "TO:<@hop:a@b>", false, 0, NULL, "a@b" },
		{ "TO:<a@b>   ", false, 0, NULL, "a@b" },
		{ "TO:<\xc3\xa9@b>", true, 0, NULL, "\xc3\xa9@b" },
		{ "TO:<\xc3\xa9@b>", false, 553, "5.6.7", NULL },
		{ "TO:<>", false, 501, "5.1.3", NULL },
		{ "TO:a@b", false, 501, "5.1.3", NULL },
		{ "TO:<a@b c>", false, 501, "5.1.3", NULL },
		{ "TO:<admin>", false, 501, "5.1.3", NULL },
		{ "FROM:<a@b>", false, 501, "5.5.2", NULL },
		{ "TO <a@b>", false, 501, "5.5.2", NULL },
		{ "TO:<a@b>x", false, 501, "5.5.2", NULL },
		{ "TO:<a@b> NOTIFY=NEVER", false, 555, "5.5.4", NULL },
		{ "TO:<a@b> ORCPT=rfc822;a@b", false, 555, "5.5.4", NULL },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct smtp_rcpt_args r;
		struct smtp_parse_err err = { 0, NULL, NULL };
		char fmt[ADDR_FORMAT_MAX];
		int rc = smtp_parse_rcpt_args(sv(cases[i].args), cases[i].utf8,
		    &r, &err);

		if (cases[i].code == 0) {
			if (rc != 0)
				fail_msg("rcpt case %zu: %d %s %s", i, err.code,
				    err.enhanced, err.text);
			assert_true(addr_format(&r.to, fmt, sizeof(fmt)) > 0);
			assert_string_equal(fmt, cases[i].addr);
			continue;
		}
		if (rc != -1 || err.code != cases[i].code ||
		    strcmp(err.enhanced, cases[i].enhanced) != 0)
			fail_msg("rcpt case %zu \"%s\": got %d %s", i,
			    cases[i].args, err.code, err.enhanced ?
			    err.enhanced : "-");
	}
}

static void
test_smtp_parse_bdat_table(void **state)
{
	static const struct {
		const char	*args;
		int		 rc;
		uint64_t	 size;
		bool		 last;
	} cases[] = {
		{ "0", 0, 0, false },
		{ "1000", 0, 1000, false },
		{ "1000 LAST", 0, 1000, true },
		{ "0 last", 0, 0, true },
		{ "7   LAST  ", 0, 7, true },
		{ "9223372036854775808", 0, UINT64_C(1) << 63, false },
		{ "9223372036854775809", -1, 0, false },
		{ "18446744073709551616", -1, 0, false },
		{ "", -1, 0, false },
		{ "LAST", -1, 0, false },
		{ "-1", -1, 0, false },
		{ "+1", -1, 0, false },
		{ "12x", -1, 0, false },
		{ "12 LASTX", -1, 0, false },
		{ "12 LAST x", -1, 0, false },
		{ "12 FIRST", -1, 0, false },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint64_t size;
		bool last;
		struct smtp_parse_err err = { 0, NULL, NULL };
		int rc = smtp_parse_bdat_args(sv(cases[i].args), &size, &last,
		    &err);

		if (rc != cases[i].rc)
			fail_msg("bdat case %zu \"%s\"", i, cases[i].args);
		if (rc == -1) {
			assert_int_equal(err.code, 501);
			assert_string_equal(err.enhanced, "5.5.4");
			continue;
		}
		assert_true(size == cases[i].size);
		assert_int_equal(last, cases[i].last);
	}
}

static void
test_smtp_parse_auth_table(void **state)
{
	static const struct {
		const char	*args;
		int		 rc;
		const char	*mech, *initial;
		bool		 has_initial;
	} cases[] = {
		{ "PLAIN", 0, "PLAIN", "", false },
		{ "plain AGEAYg==", 0, "plain", "AGEAYg==", true },
		{ "SCRAM-SHA-256 biwsbj11c2VyLHI9ZnlrbytkMmxiYkZnT05Sdjlx"
		    "a3hkYXdM", 0, "SCRAM-SHA-256",
		    "biwsbj11c2VyLHI9ZnlrbytkMmxiYkZnT05Sdjlxa3hkYXdM", true },
		{ "LOGIN =", 0, "LOGIN", "=", true },
		{ "X_MECH-1", 0, "X_MECH-1", "", false },
		{ "", -1, NULL, NULL, false },
		{ "ABCDEFGHIJKLMNOPQRSTU", -1, NULL, NULL, false },
		{ "PL*AIN", -1, NULL, NULL, false },
		{ "PLAIN AGEAYg", -1, NULL, NULL, false },
		{ "PLAIN AG=AYg==", -1, NULL, NULL, false },
		{ "PLAIN AGEA====", -1, NULL, NULL, false },
		{ "PLAIN a b", -1, NULL, NULL, false },
		{ "PLAIN !!!!", -1, NULL, NULL, false },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct str_view mech, initial;
		bool has;
		struct smtp_parse_err err = { 0, NULL, NULL };
		int rc = smtp_parse_auth_args(sv(cases[i].args), &mech,
		    &initial, &has, &err);

		if (rc != cases[i].rc)
			fail_msg("auth case %zu \"%s\"", i, cases[i].args);
		if (rc == -1) {
			assert_int_equal(err.code, 501);
			continue;
		}
		assert_true(str_eq(mech, cases[i].mech));
		assert_true(str_eq(initial, cases[i].initial));
		assert_int_equal(has, cases[i].has_initial);
	}
}

static void
test_smtp_parse_helo(void **state)
{
	static const struct {
		const char	*args;
		int		 rc;
		const char	*name;
	} cases[] = {
		{ "mail.example.com", 0, "mail.example.com" },
		{ "[192.0.2.1]", 0, "[192.0.2.1]" },
		{ "[IPv6:2001:db8::1]", 0, "[IPv6:2001:db8::1]" },
		{ "my_host.local", 0, "my_host.local" },
		{ "  spaced  extra words", 0, "spaced" },
		{ "", -1, NULL },
		{ "   ", -1, NULL },
		{ "h\xc3\xa9llo", -1, NULL },
	};
	char big[300];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct str_view name;
		struct smtp_parse_err err = { 0, NULL, NULL };
		int rc = smtp_parse_helo_arg(sv(cases[i].args), &name, &err);

		if (rc != cases[i].rc)
			fail_msg("helo case %zu", i);
		if (rc == 0)
			assert_true(str_eq(name, cases[i].name));
		else {
			assert_int_equal(err.code, 501);
			assert_string_equal(err.enhanced, "5.5.4");
		}
	}
	memset(big, 'h', 255);
	big[255] = '\0';
	{
		struct str_view name;

		assert_int_equal(smtp_parse_helo_arg(sv(big), &name, NULL), 0);
		assert_int_equal(name.len, 255);
		big[255] = 'h';
		big[256] = '\0';
		assert_int_equal(smtp_parse_helo_arg(sv(big), &name, NULL), -1);
	}
}

static void
test_smtp_parse_no_args(void **state)
{
	struct smtp_parse_err err;

	(void)state;
	assert_int_equal(smtp_parse_no_args(sv(""), &err), 0);
	assert_int_equal(smtp_parse_no_args(sv("  "), &err), 0);
	assert_int_equal(smtp_parse_no_args(sv("x"), &err), -1);
	assert_int_equal(err.code, 501);
	assert_string_equal(err.enhanced, "5.5.4");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_smtp_parse_command_table),
		cmocka_unit_test(test_smtp_parse_mail_table),
		cmocka_unit_test(test_smtp_parse_mail_auth_flag),
		cmocka_unit_test(test_smtp_parse_rcpt_table),
		cmocka_unit_test(test_smtp_parse_bdat_table),
		cmocka_unit_test(test_smtp_parse_auth_table),
		cmocka_unit_test(test_smtp_parse_helo),
		cmocka_unit_test(test_smtp_parse_no_args),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
