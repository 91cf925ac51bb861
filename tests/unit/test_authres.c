/*
 * Unit tests for policy/authres: Authentication-Results fields (and their
 * folded lines) are removed from the header section only; everything else
 * passes unchanged, whole, byte by byte and in odd chunks.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "policy/authres.h"

struct sink {
	char	b[4096];
	size_t	n;
};

static void
sink_out(void *arg, const char *p, size_t len)
{
	struct sink *s = arg;

	assert_true(len <= sizeof(s->b) - s->n);
	memcpy(s->b + s->n, p, len);
	s->n += len;
}

struct case_ {
	const char	*in;
	const char	*out;
	unsigned	 removed;
};

static const struct case_ cases[] = {
	{ "From: a\r\n\r\nbody\r\n", "From: a\r\n\r\nbody\r\n", 0 },
	{ "Authentication-Results: mx.test; spf=pass\r\nFrom: a\r\n\r\nb\r\n",
	    "From: a\r\n\r\nb\r\n", 1 },
	{ "From: a\r\nauthentication-results : mx.test;\r\n\tspf=pass\r\n"
	    " dkim=pass\r\nSubject: s\r\n\r\nb\r\n",
	    "From: a\r\nSubject: s\r\n\r\nb\r\n", 1 },
	{ "AUTHENTICATION-RESULTS:x\r\nAuthentication-Results: y\r\n\r\n",
	    "\r\n", 2 },
	/* Only the header section: the body is never touched. */
	{ "From: a\r\n\r\nAuthentication-Results: x\r\n",
	    "From: a\r\n\r\nAuthentication-Results: x\r\n", 0 },
	/* Similar names stay. */
	{ "Authentication-Results-Original: x\r\nX-Authentication-Results: y"
	    "\r\nAuthentication-Result: z\r\n\r\n",
	    "Authentication-Results-Original: x\r\nX-Authentication-Results: y"
	    "\r\nAuthentication-Result: z\r\n\r\n", 0 },
	/* A non-field line ends the header section. */
	{ "From: a\r\nnot a field\r\nAuthentication-Results: x\r\n",
	    "From: a\r\nnot a field\r\nAuthentication-Results: x\r\n", 0 },
	/* A long name is decided without holding it all. */
	{ "X-An-Extremely-Long-Field-Name-Beyond-The-Hold-Limit: v\r\n"
	    "Authentication-Results: x\r\n\r\n",
	    "X-An-Extremely-Long-Field-Name-Beyond-The-Hold-Limit: v\r\n"
	    "\r\n", 1 },
	/* Bare LF lines are lines too. */
	{ "Authentication-Results: x\n\ty\nFrom: a\n\nb", "From: a\n\nb", 1 },
	/* A message ending inside a held line start keeps it. */
	{ "From: a\r\nAuthentic", "From: a\r\nAuthentic", 0 },
	{ "", "", 0 },
};

static void
run(const struct case_ *c, size_t chunk)
{
	struct authres_filter f;
	struct sink s;
	size_t len = strlen(c->in), pos = 0, k = 0;

	memset(&s, 0, sizeof(s));
	authres_filter_init(&f);
	while (pos < len) {
		size_t n = chunk == 0 ? len : chunk == 3 ? 1 + (k++ % 5) : chunk;

		if (n > len - pos)
			n = len - pos;
		authres_filter_feed(&f, c->in + pos, n, sink_out, &s);
		pos += n;
	}
	authres_filter_finish(&f, sink_out, &s);
	if (s.n != strlen(c->out) || memcmp(s.b, c->out, s.n) != 0)
		fail_msg("chunk %zu: \"%s\" -> \"%.*s\", want \"%s\"", chunk,
		    c->in, (int)s.n, s.b, c->out);
	assert_int_equal(f.removed, c->removed);
}

static void
test_authres_filter_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		run(&cases[i], 0);	/* whole */
		run(&cases[i], 1);	/* one byte at a time */
		run(&cases[i], 3);	/* odd chunks */
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_authres_filter_table),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
