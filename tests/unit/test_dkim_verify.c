/*
 * Unit tests for policy/dkim's verifier and signer: the signed example of
 * RFC 8463 Appendix A (ed25519 and a 1024-bit RSA key) verifies, fed in
 * one piece, byte by byte and field by field; tampering fails; key
 * lookup outcomes map to the right verdicts; sign-then-verify for both
 * algorithms and the four canonicalization pairs; key files.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/buf.h"
#include "policy/dkim.h"
#include "rfc8463_message.h"

/* RFC 8463 A.2, each record's strings joined. */
static const char rfc8463_ed_key[] =
    "v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=";
static const char rfc8463_rsa_key[] =
    "v=DKIM1; k=rsa; p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDkHlOQoBTzWR"
    "iGs5V6NpP3idY6Wk08a5qhdR6wy5bdOKb2jLQiY/J16JYi0Qvx/byYzCNb3W91y3FutAC"
    "DfzwQ/BC/e/8uBsCR+yz1Lxj+PL6lHvqMKrM3rG4hstT5QjvHO9PzoxZyVYLzBfO2EeC3"
    "Ip3G+2kryOTIKT+l/K4w3QIDAQAB";

#define NOW	1790910000	/* 2026-10-02 */

struct keyset {
	const char	*qname[4];
	const char	*record[4];	/* NULL: NXDOMAIN */
};

static const struct keyset rfc_keys = {
	{ "brisbane._domainkey.football.example.com",
	  "test._domainkey.football.example.com" },
	{ rfc8463_ed_key, rfc8463_rsa_key },
};

/* Gives every signature its key from ks (or NXDOMAIN). */
static void
give_keys(struct dkim_verify *v, const struct keyset *ks)
{
	for (size_t i = 0; i < dkim_verify_count(v); i++) {
		const char *q = dkim_verify_qname(v, i);
		bool given = false;

		if (q == NULL)
			continue;
		for (size_t k = 0; k < 4 && ks->qname[k] != NULL; k++)
			if (strcmp(q, ks->qname[k]) == 0 &&
			    ks->record[k] != NULL) {
				const char *t = ks->record[k];
				size_t len = strlen(t);

				dkim_verify_key_txt(v, i, &t, &len, 1);
				given = true;
			}
		if (!given)
			dkim_verify_key_status(v, i, DKIM_DNS_NXDOMAIN);
	}
}

/* Verifies msg fed in chunks of step (0: one piece). */
static struct dkim_verify *
verify_msg(const char *msg, size_t len, size_t step, const struct keyset *ks)
{
	struct dkim_verify *v = dkim_verify_new(NOW);
	int ended = 0;

	if (step == 0)
		step = len;
	for (size_t off = 0; off < len; off += step)
		ended += dkim_verify_feed(v, msg + off,
		    len - off < step ? len - off : step);
	assert_true(ended <= 1);
	dkim_verify_body_end(v);
	give_keys(v, ks);
	assert_true(dkim_verify_is_done(v));
	return v;
}

static void
expect(const struct dkim_verify *v, size_t i, enum dkim_status st,
    const char *reason)
{
	const struct dkim_result *r = dkim_verify_result(v, i);

	assert_non_null(r);
	if (r->status != st || (reason != NULL &&
	    strcmp(r->reason, reason) != 0))
		fail_msg("signature %zu: %s (%s), wanted %s (%s)", i,
		    dkim_status_name(r->status), r->reason,
		    dkim_status_name(st), reason != NULL ? reason : "any");
}

static void
test_dkim_verify_rfc8463_example(void **state)
{
	size_t steps[] = { 0, 1, 7, 64 };

	(void)state;
	for (size_t k = 0; k < sizeof(steps) / sizeof(steps[0]); k++) {
		struct dkim_verify *v = verify_msg(rfc8463_msg,
		    strlen(rfc8463_msg), steps[k], &rfc_keys);
		const struct dkim_result *r;

		assert_int_equal(dkim_verify_count(v), 2);
		expect(v, 0, DKIM_PASS, NULL);
		expect(v, 1, DKIM_PASS, NULL);
		r = dkim_verify_result(v, 0);
		assert_string_equal(r->domain, "football.example.com");
		assert_string_equal(r->selector, "brisbane");
		assert_string_equal(r->auid, "@football.example.com");
		assert_string_equal(r->b_prefix, "/gCrinpcQOoIfuHN");
		assert_int_equal(r->alg, DKIM_ALG_ED25519_SHA256);
		assert_false(r->is_weak);
		if (k == 0) {
			struct buf ar;

			buf_init(&ar, 1024);
			assert_int_equal(dkim_result_authres(r, &ar), 0);
			assert_string_equal(ar.data, "dkim=pass (signature "
			    "verified) header.d=football.example.com "
			    "header.s=brisbane header.a=ed25519-sha256 "
			    "header.b=\"/gCrinpcQOoIfuHN\"");
			buf_cleanup(&ar);
		}
		r = dkim_verify_result(v, 1);
		assert_int_equal(r->key_bits, 1024);
		assert_int_equal(r->alg, DKIM_ALG_RSA_SHA256);
		assert_null(dkim_verify_result(v, 2));
		dkim_verify_free(&v);
		assert_null(v);
	}
}

/* Field style: complete fields, end of headers, body, in any order of keys. */
static void
test_dkim_verify_field_style(void **state)
{
	const char *p = rfc8463_msg, *body = strstr(p, "\r\n\r\n") + 4;
	struct dkim_verify *v = dkim_verify_new(NOW);
	const char *t = rfc8463_rsa_key;
	size_t len = strlen(t);

	(void)state;
	while (p < body - 2) {
		const char *e = p;

		/* A field runs to a CRLF not followed by WSP. */
		for (;;) {
			e = strstr(e, "\r\n") + 2;
			if (*e != ' ' && *e != '\t')
				break;
		}
		dkim_verify_header(v, p, (size_t)(e - p));
		p = e;
	}
	assert_int_equal(dkim_verify_headers_end(v), 2);
	assert_string_equal(dkim_verify_qname(v, 1),
	    "test._domainkey.football.example.com");
	/* A key before the body ended: decided once the body is there. */
	dkim_verify_key_txt(v, 1, &t, &len, 1);
	assert_false(dkim_verify_is_done(v));
	expect(v, 1, DKIM_TEMPERROR, "not evaluated");
	dkim_verify_body(v, body, strlen(body));
	dkim_verify_body_end(v);
	t = rfc8463_ed_key;
	len = strlen(t);
	dkim_verify_key_txt(v, 0, &t, &len, 1);
	assert_true(dkim_verify_is_done(v));
	expect(v, 0, DKIM_PASS, NULL);
	expect(v, 1, DKIM_PASS, NULL);
	dkim_verify_free(&v);
}

/* Returns a copy of rfc8463_msg with the first `from` replaced by `to`. */
static char *
edit(const char *from, const char *to)
{
	const char *at = strstr(rfc8463_msg, from);
	size_t n = strlen(rfc8463_msg) - strlen(from) + strlen(to) + 1;
	char *out = malloc(n);

	assert_non_null(at);
	assert_non_null(out);
	snprintf(out, n, "%.*s%s%s", (int)(at - rfc8463_msg), rfc8463_msg, to,
	    at + strlen(from));
	return out;
}

struct tamper_case {
	const char	*from, *to;
	enum dkim_status st0, st1;
	const char	*reason;	/* of signature 0 */
};

static const struct tamper_case tamper_cases[] = {
	{ "hungry", "angry", DKIM_FAIL, DKIM_FAIL, "body hash mismatch" },
	{ "dinner", "lunch", DKIM_FAIL, DKIM_FAIL,
	    "signature did not verify" },
	/* From is oversigned: an added From above breaks the signature. */
	{ "From: Joe", "From: Mallory <m@evil.example>\r\nFrom: Joe",
	    DKIM_FAIL, DKIM_FAIL, "signature did not verify" },
	/* ... and so does an added Subject (listed twice in h=). */
	{ "Subject: Is", "Subject: Buy now\r\nSubject: Is", DKIM_FAIL,
	    DKIM_FAIL, "signature did not verify" },
	/* A field no signature covers may be added. */
	{ "Message-ID:", "X-Mailer: any\r\nMessage-ID:", DKIM_PASS,
	    DKIM_PASS, NULL },
	/* relaxed: whitespace changes do not matter. */
	{ "Subject: Is dinner", "Subject:   Is   dinner", DKIM_PASS,
	    DKIM_PASS, NULL },
	{ "the game.  Are", "the game. \t Are", DKIM_PASS, DKIM_PASS, NULL },
	/* Trailing empty lines are not part of the body. */
	{ "Joe.\r\n\r\n", "Joe.\r\n\r\n\r\n\r\n", DKIM_PASS, DKIM_PASS, NULL },
	/* Verdicts that need no key or no body. */
	{ "s=brisbane; t=1528637909;", "s=brisbane; t=1528637909; "
	    "x=1528637910;", DKIM_PERMERROR, DKIM_PASS, "signature expired" },
	{ "i=@football.example.com;\r\n q=dns/txt; s=brisbane",
	    "i=@example.net;\r\n q=dns/txt; s=brisbane", DKIM_PERMERROR,
	    DKIM_PASS, "i= not within d=" },
	{ "s=brisbane;", "s=brisbane; s=brisbane;", DKIM_PERMERROR,
	    DKIM_PASS, "duplicate tag" },
	{ "a=ed25519-sha256", "a=rsa-sha256", DKIM_PERMERROR, DKIM_PASS,
	    "key type does not match a=" },
	/* rsa-sha1 over a sha256 signature: hash and signature fail. */
	{ "a=rsa-sha256", "a=rsa-sha1", DKIM_PASS, DKIM_FAIL,
	    NULL },
	/* l= longer than the body. */
	{ "s=brisbane;", "s=brisbane; l=999;", DKIM_FAIL, DKIM_PASS,
	    "l= is longer than the body" },
};

static void
test_dkim_verify_tampered(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(tamper_cases) / sizeof(tamper_cases[0]);
	    i++) {
		const struct tamper_case *c = &tamper_cases[i];
		char *m = edit(c->from, c->to);
		struct dkim_verify *v = verify_msg(m, strlen(m), 0, &rfc_keys);

		assert_int_equal(dkim_verify_count(v), 2);
		expect(v, 0, c->st0, c->reason);
		expect(v, 1, c->st1, NULL);
		dkim_verify_free(&v);
		free(m);
	}
}

struct keyres_case {
	const char	*record;	/* for brisbane; NULL: status below */
	enum dkim_dns	 dns;
	enum dkim_status st;
	const char	*reason;
	const char	*i_edit;	/* i= replacement, NULL none */
};

static const struct keyres_case keyres_cases[] = {
	{ NULL, DKIM_DNS_NXDOMAIN, DKIM_PERMERROR, "no key record", NULL },
	{ NULL, DKIM_DNS_NODATA, DKIM_PERMERROR, "no key record", NULL },
	{ NULL, DKIM_DNS_TEMPFAIL, DKIM_TEMPERROR, "key lookup failed",
	    NULL },
	{ "v=DKIM1; k=ed25519; p=", 0, DKIM_PERMERROR, "key revoked", NULL },
	{ rfc8463_rsa_key, 0, DKIM_PERMERROR, "key type does not match a=",
	    NULL },
	{ "v=DKIM1; k=ed25519; h=sha1; "
	    "p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=", 0,
	    DKIM_PERMERROR, "hash not allowed by key h=", NULL },
	{ "v=DKIM1; k=ed25519; s=tlsrpt; "
	    "p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=", 0,
	    DKIM_PERMERROR, "key not for email, s=", NULL },
	{ "v=DKIM1; k=ed25519; p=AAAA", 0, DKIM_PERMERROR, "bad key p=",
	    NULL },
	{ "v=DKIM2; p=AAAA", 0, DKIM_PERMERROR, "bad v=", NULL },
	/* t=y: still verified, flagged. */
	{ "v=DKIM1; k=ed25519; t=y; "
	    "p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=", 0, DKIM_PASS,
	    NULL, NULL },
	/* t=s: i= must be d= exactly (the edit breaks the signature, but
	 * the key check comes first). */
	{ "v=DKIM1; k=ed25519; t=s; "
	    "p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=", 0,
	    DKIM_PERMERROR, "i= subdomain with t=s key",
	    "i=@news.football.example.com;" },
	{ "v=DKIM1; k=ed25519; t=s; "
	    "p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=", 0, DKIM_PASS,
	    NULL, NULL },
};

static void
test_dkim_verify_key_outcomes(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(keyres_cases) / sizeof(keyres_cases[0]);
	    i++) {
		const struct keyres_case *c = &keyres_cases[i];
		char *m = c->i_edit != NULL ?
		    edit("i=@football.example.com;", c->i_edit) :
		    edit("x", "x");
		struct dkim_verify *v = dkim_verify_new(NOW);

		dkim_verify_feed(v, m, strlen(m));
		dkim_verify_body_end(v);
		assert_non_null(dkim_verify_qname(v, 0));
		if (c->record != NULL) {
			const char *t = c->record;
			size_t len = strlen(t);

			dkim_verify_key_txt(v, 0, &t, &len, 1);
		} else {
			dkim_verify_key_status(v, 0, c->dns);
		}
		expect(v, 0, c->st, c->reason);
		if (c->st == DKIM_PASS && strstr(c->record, "t=y") != NULL)
			assert_true(dkim_verify_result(v, 0)->is_testing);
		/* Decided: no more lookups wanted, late answers ignored. */
		assert_null(dkim_verify_qname(v, 0));
		dkim_verify_key_status(v, 0, DKIM_DNS_TEMPFAIL);
		expect(v, 0, c->st, c->reason);
		dkim_verify_free(&v);
		free(m);
	}
}

static void
test_dkim_verify_limits(void **state)
{
	struct buf m;
	struct dkim_verify *v;
	const char *sig = "DKIM-Signature: v=1; a=rsa-sha256; d=example.com; "
	    "s=s; h=From; b=dGVzdA==; bh=dGVzdA==\r\n";

	(void)state;
	/* Only the first DKIM_MAX_SIGS signatures are evaluated. */
	buf_init(&m, 1 << 20);
	for (int k = 0; k < DKIM_MAX_SIGS + 3; k++)
		assert_int_equal(buf_append_str(&m, sig), 0);
	assert_int_equal(buf_append_str(&m, "From: a@example.com\r\n\r\nhi\r\n"),
	    0);
	v = dkim_verify_new(NOW);
	assert_int_equal(dkim_verify_feed(v, m.data, m.len), 1);
	assert_int_equal(dkim_verify_count(v), DKIM_MAX_SIGS);
	assert_int_equal(dkim_verify_ignored(v), 3);
	assert_string_equal(dkim_verify_qname(v, 0), "s._domainkey.example.com");
	dkim_verify_free(&v);

	/* A header section over the limit: permerror, not a crash. */
	buf_reset(&m);
	assert_int_equal(buf_append_str(&m, sig), 0);
	for (int k = 0; k < DKIM_MAX_FIELDS + 5; k++)
		assert_int_equal(buf_append_str(&m, "X: y\r\n"), 0);
	assert_int_equal(buf_append_str(&m, "\r\nbody\r\n"), 0);
	v = dkim_verify_new(NOW);
	dkim_verify_feed(v, m.data, m.len);
	dkim_verify_body_end(v);
	assert_int_equal(dkim_verify_count(v), 1);
	expect(v, 0, DKIM_PERMERROR, "header section too large");
	assert_true(dkim_verify_is_done(v));
	dkim_verify_free(&v);

	/* No signature, no empty line: done once the body ended. */
	v = dkim_verify_new(NOW);
	assert_int_equal(dkim_verify_feed(v, "From: x\r\n", 9), 0);
	assert_false(dkim_verify_is_done(v));
	dkim_verify_body_end(v);
	assert_int_equal(dkim_verify_count(v), 0);
	assert_true(dkim_verify_is_done(v));
	dkim_verify_free(&v);
	dkim_verify_free(&v);
	buf_cleanup(&m);
}

/* --- signing --- */

static const char plain_msg[] =
    "From: Joe <joe@example.com>\r\n"
    "To: Suzie <suzie@example.net>,\r\n\tother@example.net\r\n"
    "Subject:  Dinner \r\n"
    "Date: Fri, 11 Jul 2003 21:00:37 -0700\r\n"
    "Message-ID: <1@example.com>\r\n"
    "Received: from x by y\r\n"
    "\r\n"
    "Hi.  \r\n"
    "\r\n"
    "We lost the game.\r\n"
    "\r\n\r\n";

static struct dkim_key test_keys[2];
static char test_records[2][1024];

static int
keys_setup(void **state)
{
	(void)state;
	for (int k = 0; k < 2; k++) {
		struct dkim_key *key = &test_keys[k];
		const char *err = NULL;
		struct buf rec;

		memset(key, 0, sizeof(*key));
		key->type = k == 0 ? DKIM_KEY_ED25519 : DKIM_KEY_RSA;
		key->pkey = dkim_key_generate(key->type, &err);
		if (key->pkey == NULL)
			return -1;
		snprintf(key->domain, sizeof(key->domain), "example.com");
		snprintf(key->selector, sizeof(key->selector), "%s",
		    k == 0 ? "ed" : "rsa");
		buf_init(&rec, 1024);
		if (dkim_key_record_format(key->pkey, &rec) == -1)
			return -1;
		snprintf(test_records[k], sizeof(test_records[k]), "%s",
		    rec.data);
		buf_cleanup(&rec);
	}
	return 0;
}

static int
keys_teardown(void **state)
{
	(void)state;
	dkim_keys_free(test_keys, 2);
	return 0;
}

static const struct keyset *
my_keys(void)
{
	static struct keyset ks;

	ks.qname[0] = "ed._domainkey.example.com";
	ks.qname[1] = "rsa._domainkey.example.com";
	ks.record[0] = test_records[0];
	ks.record[1] = test_records[1];
	return &ks;
}

/* Signs msg (in chunks of step) and returns signature fields + msg. */
static char *
sign_msg(const char *msg, size_t step, enum dkim_canon hc,
    enum dkim_canon bc, const struct dkim_key *keys, size_t n)
{
	struct dkim_signer *s = dkim_signer_new_canon(keys, n, NOW, hc, bc);
	struct buf out;
	const char *err = NULL;
	size_t len = strlen(msg);
	char *res;

	assert_non_null(s);
	buf_init(&out, 1 << 20);
	for (size_t off = 0; off < len; off += step)
		dkim_signer_feed(s, msg + off, len - off < step ? len - off :
		    step);
	assert_int_equal(dkim_signer_finish(s, &out, &err), 0);
	/* Call once: a second finish fails and adds nothing. */
	assert_int_equal(dkim_signer_finish(s, &out, &err), -1);
	dkim_signer_free(&s);
	assert_int_equal(buf_append_str(&out, msg), 0);
	res = strdup(out.data);
	buf_cleanup(&out);
	return res;
}

static void
test_dkim_sign_roundtrip(void **state)
{
	static const enum dkim_canon pairs[4][2] = {
		{ DKIM_CANON_SIMPLE, DKIM_CANON_SIMPLE },
		{ DKIM_CANON_SIMPLE, DKIM_CANON_RELAXED },
		{ DKIM_CANON_RELAXED, DKIM_CANON_SIMPLE },
		{ DKIM_CANON_RELAXED, DKIM_CANON_RELAXED },
	};

	(void)state;
	for (size_t p = 0; p < 4; p++) {
		for (size_t step = 1; step < 2000; step += 1998) {
			char *m = sign_msg(plain_msg, step, pairs[p][0],
			    pairs[p][1], test_keys, 2);
			struct dkim_verify *v = verify_msg(m, strlen(m), 3,
			    my_keys());

			assert_int_equal(dkim_verify_count(v), 2);
			expect(v, 0, DKIM_PASS, NULL);
			expect(v, 1, DKIM_PASS, NULL);
			assert_int_equal(dkim_verify_result(v, 0)->alg,
			    DKIM_ALG_ED25519_SHA256);
			assert_int_equal(dkim_verify_result(v, 1)->alg,
			    DKIM_ALG_RSA_SHA256);
			assert_int_equal(dkim_verify_result(v, 1)->key_bits,
			    2048);
			dkim_verify_free(&v);
			free(m);
		}
	}
}

/* The field text: every line under 78 columns, h= as promised. */
static void
test_dkim_sign_field_shape(void **state)
{
	char *m = sign_msg(plain_msg, 4096, DKIM_CANON_RELAXED,
	    DKIM_CANON_RELAXED, test_keys, 1);
	const char *p = m, *nl, *h;

	(void)state;
	assert_true(strncmp(m, "DKIM-Signature: v=1; a=ed25519-sha256; "
	    "c=relaxed/relaxed; d=example.com;", 54) == 0);
	while ((nl = strstr(p, "\r\n")) != NULL) {
		assert_true(nl - p < 78);
		p = nl + 2;
	}
	/* From once more than it occurs; Cc etc. absent are not listed. */
	h = strstr(m, "h=");
	assert_non_null(h);
	assert_true(strncmp(h, "h=From:From:To:Subject:Date:Message-ID;",
	    39) == 0);
	assert_non_null(strstr(m, "t=1790910000;"));
	free(m);
}

/*
 * Ed25519 signatures are deterministic: the same message given whole,
 * byte by byte, or as fields and body gives the same field text.
 */
static void
test_dkim_sign_input_styles(void **state)
{
	char *whole = sign_msg(plain_msg, 4096, DKIM_CANON_RELAXED,
	    DKIM_CANON_RELAXED, test_keys, 1);
	char *bytes = sign_msg(plain_msg, 1, DKIM_CANON_RELAXED,
	    DKIM_CANON_RELAXED, test_keys, 1);
	struct dkim_signer *s = dkim_signer_new(test_keys, 1, NOW);
	const char *p = plain_msg, *body = strstr(p, "\r\n\r\n") + 4;
	const char *err = NULL;
	struct buf out;

	(void)state;
	assert_string_equal(whole, bytes);
	buf_init(&out, 1 << 16);
	while (p < body - 2) {
		const char *e = p;

		for (;;) {
			e = strstr(e, "\r\n") + 2;
			if (*e != ' ' && *e != '\t')
				break;
		}
		dkim_signer_header(s, p, (size_t)(e - p));
		p = e;
	}
	dkim_signer_headers_end(s);
	for (; *body != '\0'; body++)
		dkim_signer_body(s, body, 1);
	assert_int_equal(dkim_signer_finish(s, &out, &err), 0);
	assert_int_equal(strncmp(whole, out.data, out.len), 0);
	assert_int_equal(strcmp(whole + out.len, plain_msg), 0);
	dkim_signer_free(&s);
	buf_cleanup(&out);
	free(whole);
	free(bytes);
}

/* Changes after signing fail; unsigned additions do not. */
static void
test_dkim_sign_tamper(void **state)
{
	char *m = sign_msg(plain_msg, 4096, DKIM_CANON_RELAXED,
	    DKIM_CANON_RELAXED, test_keys, 2);
	struct {
		const char *from, *to;
		enum dkim_status st;
	} cases[] = {
		{ "We lost", "We won", DKIM_FAIL },
		{ "Subject:  Dinner", "Subject: Lunch", DKIM_FAIL },
		{ "From: Joe", "From: Eve <eve@example.org>\r\nFrom: Joe",
		    DKIM_FAIL },
		/* Only From is oversigned: a Cc added where there was none
		 * is not covered, nor is an unsigned field. */
		{ "Received:", "Cc: added@example.org\r\nReceived:", DKIM_PASS },
		{ "Received: from x", "Received: from z", DKIM_PASS },
		{ "Message-ID:", "Message-ID: <2@example.com>\r\nX:",
		    DKIM_FAIL },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *at = strstr(m, cases[i].from);
		char t[8192];
		struct dkim_verify *v;

		assert_non_null(at);
		snprintf(t, sizeof(t), "%.*s%s%s", (int)(at - m), m,
		    cases[i].to, at + strlen(cases[i].from));
		v = verify_msg(t, strlen(t), 0, my_keys());
		expect(v, 0, cases[i].st, NULL);
		expect(v, 1, cases[i].st, NULL);
		dkim_verify_free(&v);
	}
	free(m);
}

/* RFC 8301 3.2: an RSA key under 1024 bits does not verify. */
static void
test_dkim_verify_small_rsa_key(void **state)
{
	struct dkim_key k;
	struct buf rec;
	struct keyset ks = { { "small._domainkey.example.com" }, { NULL } };
	char *m;
	struct dkim_verify *v;

	(void)state;
	memset(&k, 0, sizeof(k));
	k.type = DKIM_KEY_RSA;
	k.pkey = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)768);
	assert_non_null(k.pkey);
	snprintf(k.domain, sizeof(k.domain), "example.com");
	snprintf(k.selector, sizeof(k.selector), "small");
	buf_init(&rec, 2048);
	assert_int_equal(dkim_key_record_format(k.pkey, &rec), 0);
	ks.record[0] = rec.data;
	m = sign_msg(plain_msg, 4096, DKIM_CANON_RELAXED, DKIM_CANON_RELAXED,
	    &k, 1);
	v = verify_msg(m, strlen(m), 0, &ks);
	expect(v, 0, DKIM_PERMERROR, "rsa key shorter than 1024 bits");
	dkim_verify_free(&v);
	free(m);
	buf_cleanup(&rec);
	dkim_keys_free(&k, 1);
}

static void
test_dkim_signer_bounds(void **state)
{
	struct dkim_key none[1];

	(void)state;
	memset(none, 0, sizeof(none));
	assert_null(dkim_signer_new(test_keys, 0, NOW));
	assert_null(dkim_signer_new(test_keys, DKIM_SIGN_MAX_KEYS + 1, NOW));
	assert_null(dkim_signer_new(none, 1, NOW));
}

/* --- key files --- */

static void
test_dkim_key_files(void **state)
{
	char dir[] = "/tmp/test_dkim_XXXXXX", path[1024], sub[256];
	struct dkim_key keys[4];
	enum dkim_keytype t;
	const char *err = NULL;
	struct stat st;
	struct buf a, b;
	size_t n = 0;
	EVP_PKEY *k;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(sub, sizeof(sub), "%s/dkim", dir);
	assert_int_equal(mkdir(sub, 0700), 0);
	snprintf(sub, sizeof(sub), "%s/dkim/example.com", dir);
	assert_int_equal(mkdir(sub, 0700), 0);
	/* No directory for a domain: no keys, no error. */
	assert_int_equal(dkim_keys_load(dir, "other.example", keys, 4, &n,
	    &err), 0);
	assert_int_equal(n, 0);

	for (int i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "%s/%s.pem", sub,
		    i == 0 ? "rsa202611" : "ed202611");
		assert_int_equal(dkim_key_save(path, test_keys[1 - i].pkey,
		    &err), 0);
		assert_int_equal(stat(path, &st), 0);
		assert_int_equal(st.st_mode & 0777, 0600);
	}
	/* Never replaces a key. */
	assert_int_equal(dkim_key_save(path, test_keys[0].pkey, &err), -1);
	k = dkim_key_load(path, &t, &err);
	assert_non_null(k);
	assert_int_equal(t, DKIM_KEY_ED25519);
	buf_init(&a, 4096);
	buf_init(&b, 4096);
	assert_int_equal(dkim_key_record_format(k, &a), 0);
	assert_string_equal(a.data, test_records[0]);
	assert_true(strncmp(a.data, "v=DKIM1; k=ed25519; p=", 22) == 0);
	assert_int_equal(strlen(a.data), 22 + 44);
	EVP_PKEY_free(k);

	/* Junk in the directory is skipped. */
	snprintf(path, sizeof(path), "%s/broken.pem", sub);
	assert_int_equal(dkim_key_save(path, test_keys[0].pkey, &err), 0);
	assert_int_equal(truncate(path, 20), 0);
	snprintf(path, sizeof(path), "%s/notes.txt", sub);
	assert_int_equal(dkim_key_save(path, test_keys[0].pkey, &err), 0);

	assert_int_equal(dkim_keys_load(dir, "Example.COM", keys, 4, &n, &err),
	    0);
	assert_int_equal(n, 2);
	assert_string_equal(keys[0].selector, "ed202611");
	assert_int_equal(keys[0].type, DKIM_KEY_ED25519);
	assert_string_equal(keys[1].selector, "rsa202611");
	assert_int_equal(keys[1].type, DKIM_KEY_RSA);
	assert_string_equal(keys[1].domain, "example.com");
	assert_int_equal(dkim_key_record_format(keys[1].pkey, &b), 0);
	assert_string_equal(b.data, test_records[1]);
	dkim_keys_free(keys, n);

	/* Zone strings: <= 255 octets each. */
	buf_reset(&a);
	assert_int_equal(dkim_zone_strings(b.data, b.len, &a), 0);
	assert_int_equal(a.data[0], '"');
	assert_true(strlen(strchr(a.data + 1, '"')) < a.len);
	assert_int_equal(strchr(a.data + 1, '"') - (a.data + 1), 255);
	assert_int_equal(a.len, b.len + 5);
	buf_reset(&a);
	assert_int_equal(dkim_zone_strings("v=DKIM1", 7, &a), 0);
	assert_string_equal(a.data, "\"v=DKIM1\"");
	buf_cleanup(&a);
	buf_cleanup(&b);
	for (int i = 0; i < 4; i++) {
		static const char *const files[] = { "rsa202611.pem",
		    "ed202611.pem", "broken.pem", "notes.txt" };

		snprintf(path, sizeof(path), "%s/%s", sub, files[i]);
		assert_int_equal(unlink(path), 0);
	}
	assert_int_equal(rmdir(sub), 0);
	snprintf(sub, sizeof(sub), "%s/dkim", dir);
	assert_int_equal(rmdir(sub), 0);
	assert_int_equal(rmdir(dir), 0);
}

static void
test_dkim_selector(void **state)
{
	char sel[64];

	(void)state;
	assert_int_equal(dkim_selector_default(DKIM_KEY_ED25519, NOW, sel,
	    sizeof(sel)), 0);
	assert_string_equal(sel, "ed202610");
	assert_int_equal(dkim_selector_default(DKIM_KEY_RSA, NOW, sel,
	    sizeof(sel)), 0);
	assert_string_equal(sel, "rsa202610");
	assert_int_equal(dkim_selector_default(DKIM_KEY_RSA, NOW, sel, 4), -1);
	assert_true(dkim_selector_is_valid("sel-1.mail"));
	assert_false(dkim_selector_is_valid(""));
	assert_false(dkim_selector_is_valid("../x"));
	assert_false(dkim_selector_is_valid("a..b"));
	assert_false(dkim_selector_is_valid("a_b"));
	assert_false(dkim_selector_is_valid("a."));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dkim_verify_rfc8463_example),
		cmocka_unit_test(test_dkim_verify_field_style),
		cmocka_unit_test(test_dkim_verify_tampered),
		cmocka_unit_test(test_dkim_verify_key_outcomes),
		cmocka_unit_test(test_dkim_verify_limits),
		cmocka_unit_test(test_dkim_sign_roundtrip),
		cmocka_unit_test(test_dkim_sign_field_shape),
		cmocka_unit_test(test_dkim_sign_input_styles),
		cmocka_unit_test(test_dkim_sign_tamper),
		cmocka_unit_test(test_dkim_verify_small_rsa_key),
		cmocka_unit_test(test_dkim_signer_bounds),
		cmocka_unit_test(test_dkim_key_files),
		cmocka_unit_test(test_dkim_selector),
	};

	return cmocka_run_group_tests(tests, keys_setup, keys_teardown);
}
