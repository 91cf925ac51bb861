/*
 * Unit tests for policy/dkim's pure parts: the DKIM-Signature tag-list
 * (RFC 6376 3.2, 3.5), the key record (3.6.1) and canonicalization (3.4,
 * with the example of 3.4.5), including byte-at-a-time body feeding and
 * the l= limit.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "core/base64.h"
#include "core/buf.h"
#include "policy/dkim.h"

#define SIG_TAIL	"b=dGVzdA==; bh=dGVzdA=="

struct sig_case {
	const char	*in;
	int		 rc;
	const char	*err;		/* expected error text, rc -1 */
};

static const struct sig_case sig_cases[] = {
	{ "v=1; a=rsa-sha256; d=example.com; s=sel; h=From; " SIG_TAIL, 0,
	    NULL },
	{ " v = 1 ;\r\n a=ed25519-sha256; c=relaxed/relaxed; d=example.com;"
	    "\r\n\ts=sel; h=from : to :\r\n subject; i=joe@sub.example.com; "
	    "l=10; q=dns/txt; t=100; x=200; z=From:foo; " SIG_TAIL ";", 0,
	    NULL },
	{ "v=1; a=rsa-sha1; c=relaxed; d=example.com; s=a.b; h=From; "
	    "unknown=tag; " SIG_TAIL, 0, NULL },
	{ "v=1; a=rsa-sha256; d=example.com; s=sel; h=From; b=dGVz\r\n dA==;"
	    " bh=dGVzdA==", 0, NULL },
	/* Errors: each is a permerror. */
	{ "a=rsa-sha256; d=example.com; s=sel; h=From; " SIG_TAIL, -1,
	    "missing v=" },
	{ "v=2; a=rsa-sha256; d=example.com; s=sel; h=From; " SIG_TAIL, -1,
	    "unsupported v=" },
	{ "v=1; d=example.com; s=sel; h=From; " SIG_TAIL, -1, "missing a=" },
	{ "v=1; a=rsa-md5; d=example.com; s=sel; h=From; " SIG_TAIL, -1,
	    "unknown algorithm" },
	{ "v=1; a=rsa-sha256; d=example.com; s=sel; h=From; bh=dGVzdA==", -1,
	    "missing b=" },
	{ "v=1; a=rsa-sha256; d=example.com; s=sel; h=From; b=dGVzdA==", -1,
	    "missing bh=" },
	{ "v=1; a=rsa-sha256; s=sel; h=From; " SIG_TAIL, -1, "missing d=" },
	{ "v=1; a=rsa-sha256; d=example.com; s=sel; " SIG_TAIL, -1,
	    "missing h=" },
	{ "v=1; a=rsa-sha256; d=example.com; h=From; " SIG_TAIL, -1,
	    "missing s=" },
	{ "v=1; a=rsa-sha256; d=example.com; s=sel; s=sel; h=From; "
	    SIG_TAIL, -1, "duplicate tag" },
	{ "v=1; a=rsa-sha256; d=example.com; s=sel; h=To:Subject; "
	    SIG_TAIL, -1, "h= does not sign From" },
	{ "v=1; a=rsa-sha256; d=example.com; s=sel; h=From::To; " SIG_TAIL,
	    -1, "empty name in h=" },
	{ "v=1; a=rsa-sha256; d=example.com; s=sel; h=From; i=a@evil.com; "
	    SIG_TAIL, -1, "i= not within d=" },
	{ "v=1; a=rsa-sha256; d=example.com; s=sel; h=From; "
	    "i=a@notexample.com; " SIG_TAIL, -1, "i= not within d=" },
	{ "v=1; a=rsa-sha256; d=example.com; s=sel; h=From; l=x; "
	    SIG_TAIL, -1, "bad l=" },
	{ "v=1; a=rsa-sha256; d=example.com; s=sel; h=From; "
	    "l=99999999999999999999999; " SIG_TAIL, -1, "bad l=" },
	{ "v=1; a=rsa-sha256; d=example.com; s=sel; h=From; t=200; x=100; "
	    SIG_TAIL, -1, "x= before t=" },
	{ "v=1; a=rsa-sha256; d=example.com; s=sel; h=From; q=http; "
	    SIG_TAIL, -1, "q= without dns/txt" },
	{ "v=1; a=rsa-sha256; c=fancy/simple; d=example.com; s=sel; "
	    "h=From; " SIG_TAIL, -1, "unknown canonicalization" },
	{ "v=1; a=rsa-sha256; d=exa mple.com; s=sel; h=From; " SIG_TAIL,
	    -1, "bad d=" },
	{ "v=1; a=rsa-sha256; d=example..com; s=sel; h=From; " SIG_TAIL,
	    -1, "bad d=" },
	{ "v=1; a=rsa-sha256; d=example.com; s=se/l; h=From; " SIG_TAIL,
	    -1, "bad s=" },
	{ "v=1; a=rsa-sha256; d=example.com; s=sel; h=From; b=!!; "
	    "bh=dGVzdA==", -1, "bad b=" },
	{ "v=1; a=rsa-sha256; d=example.com; s=sel; h=From;; " SIG_TAIL, -1,
	    "empty tag" },
	{ "v=1; a; " SIG_TAIL, -1, "tag without '='" },
	{ "v=1; 9a=x; " SIG_TAIL, -1, "bad tag name" },
	{ "v=1; a=rsa-sha256\x01; " SIG_TAIL, -1,
	    "bad character in tag value" },
	{ "", -1, "missing v=" },
};

static void
test_dkim_sig_parse_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(sig_cases) / sizeof(sig_cases[0]);
	    i++) {
		const struct sig_case *c = &sig_cases[i];
		struct dkim_sig sig;
		const char *err = NULL;
		int rc = dkim_sig_parse(c->in, strlen(c->in), &sig, &err);

		if (rc != c->rc)
			fail_msg("case %zu \"%s\": rc %d (%s)", i, c->in, rc,
			    err != NULL ? err : "");
		if (c->err != NULL)
			assert_string_equal(err, c->err);
	}
}

static void
test_dkim_sig_parse_fields(void **state)
{
	const char *in = sig_cases[1].in;
	struct dkim_sig s;
	const char *err = NULL;

	(void)state;
	assert_int_equal(dkim_sig_parse(in, strlen(in), &s, &err), 0);
	assert_int_equal(s.alg, DKIM_ALG_ED25519_SHA256);
	assert_int_equal(s.hcanon, DKIM_CANON_RELAXED);
	assert_int_equal(s.bcanon, DKIM_CANON_RELAXED);
	assert_true(str_eq(s.d, "example.com"));
	assert_true(str_eq(s.s, "sel"));
	assert_true(str_eq(s.i, "joe@sub.example.com"));
	assert_int_equal(s.n_h, 3);
	assert_true(str_eq(s.h[0], "from"));
	assert_true(str_eq(s.h[1], "to"));
	assert_true(str_eq(s.h[2], "subject"));
	assert_true(s.has_l && s.l == 10);
	assert_true(s.has_t && s.t == 100);
	assert_true(s.has_x && s.x == 200);
	/* b= ends the text (before the trailing ';'). */
	assert_memory_equal(in + s.b_start, "dGVzdA==", 8);
	assert_int_equal(s.b_end - s.b_start, 8);

	/* c=relaxed alone: body stays simple (3.5). */
	in = sig_cases[2].in;
	assert_int_equal(dkim_sig_parse(in, strlen(in), &s, &err), 0);
	assert_int_equal(s.alg, DKIM_ALG_RSA_SHA1);
	assert_int_equal(s.hcanon, DKIM_CANON_RELAXED);
	assert_int_equal(s.bcanon, DKIM_CANON_SIMPLE);
	assert_false(s.has_l);
	assert_null(s.i.p);
}

static void
test_dkim_sig_parse_bounded(void **state)
{
	char in[8192];
	size_t n = 0;
	struct dkim_sig s;
	const char *err = NULL;

	(void)state;
	n += (size_t)snprintf(in + n, sizeof(in) - n, "v=1; a=rsa-sha256; "
	    "d=example.com; s=sel; " SIG_TAIL "; h=From");
	for (int k = 0; k < DKIM_MAX_H; k++)
		n += (size_t)snprintf(in + n, sizeof(in) - n, ":To");
	assert_int_equal(dkim_sig_parse(in, n, &s, &err), -1);
	assert_string_equal(err, "too many names in h=");
	n = 0;
	for (int k = 0; k < DKIM_MAX_TAGS + 1; k++)
		n += (size_t)snprintf(in + n, sizeof(in) - n, "z%d=1;", k);
	assert_int_equal(dkim_sig_parse(in, n, &s, &err), -1);
	assert_string_equal(err, "too many tags");
}

struct key_case {
	const char	*in;
	int		 rc;
	enum dkim_keytype k;
	bool		 revoked, testing, strict, sha1, sha256, email;
};

static const struct key_case key_cases[] = {
	{ "v=DKIM1; k=rsa; p=dGVzdA==", 0, DKIM_KEY_RSA, false, false, false,
	    true, true, true },
	{ "p=dGVzdA==", 0, DKIM_KEY_RSA, false, false, false, true, true,
	    true },
	{ "v=DKIM1; k=ed25519; p=dGVz dA==; t=y:s; h=sha256; s=email", 0,
	    DKIM_KEY_ED25519, false, true, true, false, true, true },
	{ "v=DKIM1; p=", 0, DKIM_KEY_RSA, true, false, false, true, true,
	    true },
	{ "v=DKIM1; h=sha1; s=tlsrpt; t=x; p=dGVzdA==;", 0, DKIM_KEY_RSA,
	    false, false, false, true, false, false },
	{ "v=DKIM1;; p=dGVzdA==; n=a note", 0, DKIM_KEY_RSA, false, false,
	    false, true, true, true },
	{ "v=DKIM1; s=*; p=dGVzdA==", 0, DKIM_KEY_RSA, false, false, false,
	    true, true, true },
	/* Errors. */
	{ "v=DKIM1; k=rsa", -1, 0, 0, 0, 0, 0, 0, 0 },
	{ "k=rsa; v=DKIM1; p=dGVzdA==", -1, 0, 0, 0, 0, 0, 0, 0 },
	{ "v=DKIM2; p=dGVzdA==", -1, 0, 0, 0, 0, 0, 0, 0 },
	{ "v=DKIM1; k=dsa; p=dGVzdA==", -1, 0, 0, 0, 0, 0, 0, 0 },
	{ "v=DKIM1; p=dGVzdA==; p=dGVzdA==", -1, 0, 0, 0, 0, 0, 0, 0 },
	{ "v=DKIM1; p=not base64!", -1, 0, 0, 0, 0, 0, 0, 0 },
	{ "", -1, 0, 0, 0, 0, 0, 0, 0 },
	{ "v=spf1 -all", -1, 0, 0, 0, 0, 0, 0, 0 },
};

static void
test_dkim_key_record_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(key_cases) / sizeof(key_cases[0]);
	    i++) {
		const struct key_case *c = &key_cases[i];
		struct dkim_key_record kr;
		const char *err = NULL;
		int rc = dkim_key_record_parse(c->in, strlen(c->in), &kr, &err);

		if (rc != c->rc)
			fail_msg("case %zu \"%s\": rc %d (%s)", i, c->in, rc,
			    err != NULL ? err : "");
		if (rc == -1) {
			assert_non_null(err);
			continue;
		}
		assert_int_equal(kr.k, c->k);
		assert_int_equal(kr.is_revoked, c->revoked);
		assert_int_equal(kr.is_testing, c->testing);
		assert_int_equal(kr.is_strict, c->strict);
		assert_int_equal(kr.allows_sha1, c->sha1);
		assert_int_equal(kr.allows_sha256, c->sha256);
		assert_int_equal(kr.allows_email, c->email);
	}
}

/* --- canonicalization --- */

static void
canon_headers(enum dkim_canon c, struct buf *out)
{
	assert_int_equal(dkim_header_canon(c, "A: X\r\n", 6, out), 0);
	assert_int_equal(dkim_header_canon(c, "B : Y\t\r\n\tZ  ", 12, out), 0);
}

/* RFC 6376 3.4.5. */
static void
test_dkim_canon_rfc_example_headers(void **state)
{
	struct buf out;

	(void)state;
	buf_init(&out, 1024);
	canon_headers(DKIM_CANON_RELAXED, &out);
	assert_string_equal(out.data, "a:X\r\nb:Y Z\r\n");
	buf_reset(&out);
	canon_headers(DKIM_CANON_SIMPLE, &out);
	assert_string_equal(out.data, "A: X\r\nB : Y\t\r\n\tZ  \r\n");
	buf_reset(&out);
	assert_int_equal(dkim_header_canon(DKIM_CANON_RELAXED, "no colon", 8,
	    &out), -1);
	assert_int_equal(out.len, 0);
	buf_cleanup(&out);
}

static void
collect(void *arg, const char *p, size_t len)
{
	assert_int_equal(buf_append(arg, p, len), 0);
}

/* Canonical body text and its base64 digest, fed in chunks of step. */
static void
body_run(enum dkim_canon c, const EVP_MD *md, bool has_l, uint64_t l,
    const char *in, size_t len, size_t step, struct buf *text,
    struct buf *b64, uint64_t *length)
{
	struct dkim_body b;
	unsigned char d[EVP_MAX_MD_SIZE];
	unsigned dlen;

	assert_int_equal(dkim_body_init(&b, c, md, has_l, l), 0);
	dkim_body_set_output(&b, collect, text);
	for (size_t off = 0; off < len; off += step)
		dkim_body_feed(&b, in + off, len - off < step ? len - off :
		    step);
	assert_int_equal(dkim_body_final(&b, d, &dlen), 0);
	if (length != NULL)
		*length = b.length;
	dkim_body_cleanup(&b);
	assert_int_equal(base64_encode(b64, d, dlen), 0);
}

struct body_case {
	enum dkim_canon	 c;
	const char	*in;
	const char	*out;
};

static const struct body_case body_cases[] = {
	/* RFC 6376 3.4.5 */
	{ DKIM_CANON_RELAXED, " C \r\nD \t E\r\n\r\n\r\n", " C\r\nD E\r\n" },
	{ DKIM_CANON_SIMPLE, " C \r\nD \t E\r\n\r\n\r\n",
	    " C \r\nD \t E\r\n" },
	/* empty bodies (3.4.3, 3.4.4) */
	{ DKIM_CANON_SIMPLE, "", "\r\n" },
	{ DKIM_CANON_SIMPLE, "\r\n\r\n\r\n", "\r\n" },
	{ DKIM_CANON_RELAXED, "", "" },
	{ DKIM_CANON_RELAXED, "\r\n \r\n\t\r\n", "" },
	/* a last line without CRLF gets one */
	{ DKIM_CANON_SIMPLE, "abc", "abc\r\n" },
	{ DKIM_CANON_RELAXED, "abc  ", "abc\r\n" },
	/* inner empty lines stay; whitespace-only lines empty (relaxed) */
	{ DKIM_CANON_RELAXED, "a\r\n  \r\nb\r\n", "a\r\n\r\nb\r\n" },
	{ DKIM_CANON_SIMPLE, "a\r\n  \r\nb\r\n\r\n", "a\r\n  \r\nb\r\n" },
	/* a lone CR is content */
	{ DKIM_CANON_SIMPLE, "a\rb\r\n\r", "a\rb\r\n\r\r\n" },
	{ DKIM_CANON_RELAXED, "a \r b\r\n", "a \r b\r\n" },
};

static void
test_dkim_canon_body_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(body_cases) / sizeof(body_cases[0]);
	    i++) {
		const struct body_case *c = &body_cases[i];
		size_t len = strlen(c->in);
		struct buf one, b64one;

		buf_init(&one, 4096);
		buf_init(&b64one, 256);
		body_run(c->c, EVP_sha256(), false, 0, c->in, len,
		    len > 0 ? len : 1, &one, &b64one, NULL);
		if (one.len != strlen(c->out) ||
		    memcmp(one.data != NULL ? one.data : "", c->out,
		    one.len) != 0)
			fail_msg("case %zu: wrong canonical body", i);
		/* One byte at a time gives the same text and digest. */
		for (size_t step = 1; step <= 3; step++) {
			struct buf t, b64;

			buf_init(&t, 4096);
			buf_init(&b64, 256);
			body_run(c->c, EVP_sha256(), false, 0, c->in, len,
			    step, &t, &b64, NULL);
			assert_int_equal(t.len, one.len);
			if (t.len > 0)
				assert_memory_equal(t.data, one.data, t.len);
			assert_string_equal(b64.data, b64one.data);
			buf_cleanup(&t);
			buf_cleanup(&b64);
		}
		buf_cleanup(&one);
		buf_cleanup(&b64one);
	}
}

/* The well-known empty body hashes (sha256 of CRLF / of nothing). */
static void
test_dkim_canon_empty_body_hash(void **state)
{
	struct buf t, b64;

	(void)state;
	buf_init(&t, 64);
	buf_init(&b64, 256);
	body_run(DKIM_CANON_SIMPLE, EVP_sha256(), false, 0, "", 0, 1, &t,
	    &b64, NULL);
	assert_string_equal(b64.data,
	    "frcCV1k9oG9oKj3dpUqdJg1PxRT2RSN/XKdLCPjaYaY=");
	buf_reset(&b64);
	body_run(DKIM_CANON_RELAXED, EVP_sha256(), false, 0, "", 0, 1, &t,
	    &b64, NULL);
	assert_string_equal(b64.data,
	    "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=");
	buf_reset(&b64);
	body_run(DKIM_CANON_SIMPLE, EVP_sha1(), false, 0, "", 0, 1, &t,
	    &b64, NULL);
	assert_string_equal(b64.data, "uoq1oCgLlTqpdDX/iUbLy7J1Wic=");
	buf_cleanup(&t);
	buf_cleanup(&b64);
}

/* l= hashes only the first l canonical octets; length counts them all. */
static void
test_dkim_canon_body_limit(void **state)
{
	const char *in = "Hello  world\r\nmore text\r\n\r\n";
	struct buf t, b64, t2, b64b;
	uint64_t length;

	(void)state;
	buf_init(&t, 256);
	buf_init(&b64, 256);
	buf_init(&t2, 256);
	buf_init(&b64b, 256);
	body_run(DKIM_CANON_RELAXED, EVP_sha256(), true, 5, in, strlen(in), 1,
	    &t, &b64, &length);
	assert_int_equal(t.len, 5);
	assert_memory_equal(t.data, "Hello", 5);
	assert_int_equal(length, strlen("Hello world\r\nmore text\r\n"));
	/* Same digest as an unlimited hash of those 5 octets' source. */
	body_run(DKIM_CANON_SIMPLE, EVP_sha256(), true, 5, "Hello", 5, 5,
	    &t2, &b64b, NULL);
	assert_string_equal(b64.data, b64b.data);
	buf_cleanup(&t);
	buf_cleanup(&b64);
	buf_cleanup(&t2);
	buf_cleanup(&b64b);
}

static void
test_dkim_names(void **state)
{
	(void)state;
	assert_string_equal(dkim_status_name(DKIM_PASS), "pass");
	assert_string_equal(dkim_status_name(DKIM_PERMERROR), "permerror");
	assert_string_equal(dkim_status_name(DKIM_TEMPERROR), "temperror");
	assert_string_equal(dkim_alg_name(DKIM_ALG_ED25519_SHA256),
	    "ed25519-sha256");
	assert_string_equal(dkim_alg_name(DKIM_ALG_RSA_SHA1), "rsa-sha1");
	assert_string_equal(dkim_canon_name(DKIM_CANON_RELAXED), "relaxed");
	assert_string_equal(dkim_keytype_name(DKIM_KEY_ED25519), "ed25519");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dkim_sig_parse_table),
		cmocka_unit_test(test_dkim_sig_parse_fields),
		cmocka_unit_test(test_dkim_sig_parse_bounded),
		cmocka_unit_test(test_dkim_key_record_table),
		cmocka_unit_test(test_dkim_canon_rfc_example_headers),
		cmocka_unit_test(test_dkim_canon_body_table),
		cmocka_unit_test(test_dkim_canon_empty_body_hash),
		cmocka_unit_test(test_dkim_canon_body_limit),
		cmocka_unit_test(test_dkim_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
