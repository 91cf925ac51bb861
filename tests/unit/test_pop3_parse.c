/* Unit tests for pop3/parse: command lines, arguments, message numbers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pop3/parse.h"

struct cmd_case {
	const char		*in;
	enum pop3_parse_rc	 rc;
	const char		*keyword;	/* expected on success */
	const char		*rest;
};

static const struct cmd_case cmd_cases[] = {
	/* Keywords: 3-4 letters, any case, upper-cased on output. */
	{ "QUIT", POP3_PARSE_OK, "QUIT", "" },
	{ "quit", POP3_PARSE_OK, "QUIT", "" },
	{ "qUiT", POP3_PARSE_OK, "QUIT", "" },
	{ "TOP 1 10", POP3_PARSE_OK, "TOP", "1 10" },
	{ "top 1 10", POP3_PARSE_OK, "TOP", "1 10" },
	{ "RETR 1", POP3_PARSE_OK, "RETR", "1" },
	{ "USER srahman2", POP3_PARSE_OK, "USER", "srahman2" },
	/* PASS keeps inner spaces; trailing spaces are dropped. */
	{ "PASS my secret pw", POP3_PARSE_OK, "PASS", "my secret pw" },
	{ "PASS  lead", POP3_PARSE_OK, "PASS", " lead" },
	{ "NOOP   ", POP3_PARSE_OK, "NOOP", "" },
	{ "LIST 2 ", POP3_PARSE_OK, "LIST", "2" },
	/* The founding document's "TOP 1,10" parses; the handler refuses. */
	{ "TOP 1,10", POP3_PARSE_OK, "TOP", "1,10" },
	{ "ABC", POP3_PARSE_OK, "ABC", "" },
	/* Bad keywords. */
	{ "", POP3_PARSE_EMPTY, NULL, NULL },
	{ "   ", POP3_PARSE_EMPTY, NULL, NULL },
	{ "QU", POP3_PARSE_BAD_KEYWORD, NULL, NULL },
	{ "QUITT", POP3_PARSE_BAD_KEYWORD, NULL, NULL },
	{ "STARTTLS", POP3_PARSE_BAD_KEYWORD, NULL, NULL },
	{ " QUIT", POP3_PARSE_BAD_KEYWORD, NULL, NULL },
	{ "RET1 1", POP3_PARSE_BAD_KEYWORD, NULL, NULL },
	{ "R.TR", POP3_PARSE_BAD_KEYWORD, NULL, NULL },
	/* Only printable ASCII and spaces. */
	{ "QUIT\t", POP3_PARSE_BAD_CHAR, NULL, NULL },
	{ "USER a\x7f", POP3_PARSE_BAD_CHAR, NULL, NULL },
	{ "USER \xc3\xa9", POP3_PARSE_BAD_CHAR, NULL, NULL },
	{ "USER a\rb", POP3_PARSE_BAD_CHAR, NULL, NULL },
};

static void
test_pop3_parse_command_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cmd_cases) / sizeof(cmd_cases[0]); i++) {
		const struct cmd_case *c = &cmd_cases[i];
		struct pop3_command pc;
		enum pop3_parse_rc rc;

		rc = pop3_parse_command(c->in, strlen(c->in), &pc);
		if (rc != c->rc)
			fail_msg("case %zu \"%s\": rc %d, want %d", i, c->in,
			    (int)rc, (int)c->rc);
		if (c->rc != POP3_PARSE_OK) {
			assert_string_equal(pc.keyword, "");
			continue;
		}
		assert_string_equal(pc.keyword, c->keyword);
		assert_int_equal(pc.rest.len, strlen(c->rest));
		assert_memory_equal(pc.rest.p, c->rest, pc.rest.len);
	}
}

static void
test_pop3_parse_command_nul(void **state)
{
	static const char line[] = "USER a\0b";
	struct pop3_command pc;

	(void)state;
	assert_int_equal(pop3_parse_command(line, sizeof(line) - 1, &pc),
	    POP3_PARSE_BAD_CHAR);
}

/* RFC 2449 section 4: 255 octets with CRLF, so 253 of text. */
static void
test_pop3_parse_command_length_limit(void **state)
{
	char line[POP3_LINE_MAX + 2];
	struct pop3_command pc;

	(void)state;
	memset(line, 'a', sizeof(line));
	memcpy(line, "USER ", 5);
	assert_int_equal(pop3_parse_command(line, POP3_LINE_MAX, &pc),
	    POP3_PARSE_OK);
	assert_int_equal(pc.rest.len, POP3_LINE_MAX - 5);
	assert_int_equal(pop3_parse_command(line, POP3_LINE_MAX + 1, &pc),
	    POP3_PARSE_TOO_LONG);
}

struct args_case {
	const char		*rest;
	size_t			 min, max, arg_max;
	enum pop3_parse_rc	 rc;
	size_t			 nargs;
	const char		*a0, *a1;
};

static const struct args_case args_cases[] = {
	{ "", 0, 0, 40, POP3_PARSE_OK, 0, NULL, NULL },
	{ "1", 0, 0, 40, POP3_PARSE_TOO_MANY_ARGS, 0, NULL, NULL },
	{ "", 0, 1, 40, POP3_PARSE_OK, 0, NULL, NULL },
	{ "7", 0, 1, 40, POP3_PARSE_OK, 1, "7", NULL },
	{ "", 1, 1, 40, POP3_PARSE_TOO_FEW_ARGS, 0, NULL, NULL },
	{ "1 10", 2, 2, 40, POP3_PARSE_OK, 2, "1", "10" },
	{ "1   10", 2, 2, 40, POP3_PARSE_OK, 2, "1", "10" },
	{ "1", 2, 2, 40, POP3_PARSE_TOO_FEW_ARGS, 1, "1", NULL },
	{ "1 2 3", 2, 2, 40, POP3_PARSE_TOO_MANY_ARGS, 2, "1", "2" },
	/* RFC 1939 section 3: arguments up to 40 characters. */
	{ "0123456789012345678901234567890123456789", 1, 1, 40,
	    POP3_PARSE_OK, 1, "0123456789012345678901234567890123456789",
	    NULL },
	{ "01234567890123456789012345678901234567890", 1, 1, 40,
	    POP3_PARSE_ARG_TOO_LONG, 0, NULL, NULL },
	/* max is capped at POP3_MAX_ARGS. */
	{ "a b c", 0, 9, 40, POP3_PARSE_TOO_MANY_ARGS, 2, "a", "b" },
};

static void
test_pop3_parse_args_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(args_cases) / sizeof(args_cases[0]);
	    i++) {
		const struct args_case *c = &args_cases[i];
		struct str_view args[POP3_MAX_ARGS];
		size_t nargs = 99;
		enum pop3_parse_rc rc;

		rc = pop3_parse_args(str_view_from(c->rest), c->min, c->max,
		    c->arg_max, args, &nargs);
		if (rc != c->rc)
			fail_msg("case %zu \"%s\": rc %d, want %d", i, c->rest,
			    (int)rc, (int)c->rc);
		if (rc != POP3_PARSE_OK)
			continue;
		assert_int_equal(nargs, c->nargs);
		if (nargs > 0)
			assert_true(str_eq(args[0], c->a0));
		if (nargs > 1)
			assert_true(str_eq(args[1], c->a1));
	}
}

struct num_case {
	const char	*in;
	int		 rc;
	uint64_t	 value;
};

static const struct num_case msgnum_cases[] = {
	{ "1", 0, 1 },
	{ "42", 0, 42 },
	{ "007", 0, 7 },
	{ "4294967295", 0, 4294967295u },
	{ "4294967296", -1, 0 },
	{ "99999999999999999999", -1, 0 },
	{ "0", -1, 0 },
	{ "", -1, 0 },
	{ "-1", -1, 0 },
	{ "+1", -1, 0 },
	{ "1a", -1, 0 },
	{ "1,10", -1, 0 },
	{ " 1", -1, 0 },
};

static void
test_pop3_parse_msgnum_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(msgnum_cases) / sizeof(msgnum_cases[0]);
	    i++) {
		const struct num_case *c = &msgnum_cases[i];
		uint32_t v = 0;

		if (pop3_parse_msgnum(str_view_from(c->in), &v) != c->rc)
			fail_msg("case %zu \"%s\"", i, c->in);
		if (c->rc == 0)
			assert_int_equal(v, c->value);
	}
}

static const struct num_case count_cases[] = {
	{ "0", 0, 0 },
	{ "10", 0, 10 },
	{ "999999999999999999", 0, 999999999999999999ull },
	/* Huge counts mean "the whole body", not an error. */
	{ "99999999999999999999999", 0, UINT64_MAX / 2 },
	{ "", -1, 0 },
	{ "-1", -1, 0 },
	{ "1x", -1, 0 },
};

static void
test_pop3_parse_count_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(count_cases) / sizeof(count_cases[0]);
	    i++) {
		const struct num_case *c = &count_cases[i];
		uint64_t v = 0;

		if (pop3_parse_count(str_view_from(c->in), &v) != c->rc)
			fail_msg("case %zu \"%s\"", i, c->in);
		if (c->rc == 0)
			assert_true(v == c->value);
	}
}

/*
 * The parser is not incremental (the session hands it whole lines), so
 * instead of a one-byte feeder: every prefix of every case must parse
 * without reading past its length (ASan catches an overread, since each
 * prefix is copied into an exact-size heap block).
 */
static void
test_pop3_parse_command_prefixes(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cmd_cases) / sizeof(cmd_cases[0]); i++) {
		size_t len = strlen(cmd_cases[i].in);

		for (size_t n = 0; n <= len; n++) {
			char *p = malloc(n + 1);
			struct pop3_command pc;
			struct str_view args[POP3_MAX_ARGS];
			size_t nargs;

			memcpy(p, cmd_cases[i].in, n);
			if (pop3_parse_command(p, n, &pc) == POP3_PARSE_OK) {
				assert_true(pc.rest.p + pc.rest.len <= p + n);
				(void)pop3_parse_args(pc.rest, 0, 2, 40, args,
				    &nargs);
			}
			free(p);
		}
	}
}

static void
test_pop3_parse_strerror_all(void **state)
{
	(void)state;
	for (int rc = POP3_PARSE_OK; rc <= POP3_PARSE_ARG_TOO_LONG; rc++)
		assert_true(strlen(pop3_parse_strerror(
		    (enum pop3_parse_rc)rc)) > 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pop3_parse_command_table),
		cmocka_unit_test(test_pop3_parse_command_nul),
		cmocka_unit_test(test_pop3_parse_command_length_limit),
		cmocka_unit_test(test_pop3_parse_args_table),
		cmocka_unit_test(test_pop3_parse_msgnum_table),
		cmocka_unit_test(test_pop3_parse_count_table),
		cmocka_unit_test(test_pop3_parse_command_prefixes),
		cmocka_unit_test(test_pop3_parse_strerror_all),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
