/*
 * Unit tests for auth/sasl: the RFC 7677 SCRAM-SHA-256 exchange through
 * the server state machine, PLAIN and LOGIN flows, malformed input, and
 * unknown users looking like real ones until the proof.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>

#include "auth/hash.h"
#include "auth/sasl.h"
#include "auth/scram.h"
#include "auth/userdb.h"
#include "core/base64.h"
#include "core/buf.h"

struct fixture {
	struct userdb	*db;
	struct buf	 out;
};

static const unsigned char test_secret[USERDB_SECRET_LEN] = { 1, 2, 3 };

static int
setup(void **state)
{
	static struct fixture f;
	char hash[HASH_MAX], users[2048];
	struct scram_entry se;
	struct buf sbuf;
	const char *err = NULL;
	int n;

	assert_int_equal(hash_password("secret pw", hash, sizeof(hash)), 0);
	assert_int_equal(scram_entry_new("secret pw", 4096, &se), 0);
	buf_init(&sbuf, 256);
	assert_int_equal(scram_entry_format(&se, &sbuf), 0);
	n = snprintf(users, sizeof(users),
	    "alice@example.org\t%s\t%s\nbob@example.org\t%s\n", hash,
	    sbuf.data, hash);
	assert_true(n > 0 && (size_t)n < sizeof(users));
	buf_cleanup(&sbuf);
	f.db = userdb_new_from_text(users, strlen(users), NULL, 0, NULL, 0,
	    test_secret, &err);
	assert_non_null(f.db);
	buf_init(&f.out, SASL_OUTPUT_MAX);
	*state = &f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	userdb_free(&f->db);
	buf_cleanup(&f->out);
	return 0;
}

static enum sasl_step
step_str(struct sasl_session *s, const char *in, struct buf *out)
{
	return sasl_session_step(s, (const unsigned char *)in, strlen(in), out);
}

/* Runs the password job in-line as the pool thread would. */
static enum sasl_step
run_check(struct sasl_session *s)
{
	struct auth_password_job *job = sasl_session_password_job(s);

	assert_non_null(job);
	auth_password_job_run(job);
	return sasl_session_password_done(s, auth_password_job_ok(job));
}

/* RFC 7677 3: salt W22ZaJ0SNY7soEsUEjb6gQ==, 4096 iterations, "pencil". */
static bool
rfc7677_lookup(void *arg, const char *user, struct scram_entry *out)
{
	struct buf salt;

	(void)arg;
	buf_init(&salt, 64);
	assert_int_equal(base64_decode(&salt, "W22ZaJ0SNY7soEsUEjb6gQ==", 24), 0);
	assert_int_equal(scram_entry_derive("pencil", 6,
	    (const unsigned char *)salt.data, salt.len, 4096, out), 0);
	buf_cleanup(&salt);
	return strcmp(user, "user") == 0;
}

static void
test_sasl_scram_rfc7677_vector(void **state)
{
	struct fixture *f = *state;
	struct sasl_session *s = sasl_session_new("scram-sha-256", f->db);

	assert_non_null(s);
	sasl_session_set_server_nonce(s, "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0");
	sasl_session_set_scram_lookup(s, rfc7677_lookup, NULL);
	assert_int_equal(step_str(s, "n,,n=user,r=rOprNGfwEbeRWgbNEkqO",
	    &f->out), SASL_STEP_CHALLENGE);
	assert_string_equal(f->out.data,
	    "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
	    "s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096");
	assert_int_equal(step_str(s, "c=biws,"
	    "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
	    "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=", &f->out),
	    SASL_STEP_CHALLENGE);
	assert_string_equal(f->out.data,
	    "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=");
	assert_int_equal(sasl_session_step(s, (const unsigned char *)"", 0,
	    &f->out), SASL_STEP_SUCCESS);
	assert_int_equal(f->out.len, 0);
	assert_string_equal(sasl_session_login(s), "user");
	/* Finished: anything more is a protocol error. */
	assert_int_equal(step_str(s, "x", &f->out), SASL_STEP_MALFORMED);
	sasl_session_free(&s);
	assert_null(s);
}

static void
test_sasl_scram_rfc7677_wrong_proof_fails(void **state)
{
	struct fixture *f = *state;
	struct sasl_session *s = sasl_session_new("SCRAM-SHA-256", f->db);

	sasl_session_set_server_nonce(s, "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0");
	sasl_session_set_scram_lookup(s, rfc7677_lookup, NULL);
	/* No initial response: an empty challenge first. */
	assert_int_equal(sasl_session_step(s, NULL, 0, &f->out),
	    SASL_STEP_CHALLENGE);
	assert_int_equal(f->out.len, 0);
	assert_int_equal(step_str(s, "n,,n=user,r=rOprNGfwEbeRWgbNEkqO",
	    &f->out), SASL_STEP_CHALLENGE);
	assert_int_equal(step_str(s, "c=biws,"
	    "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
	    "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVU=", &f->out),
	    SASL_STEP_FAILURE);
	sasl_session_free(&s);
}

/* A tiny SCRAM client, to drive the server with userdb entries. */
static enum sasl_step
scram_client_run_gs2(struct fixture *f, const char *gs2, const char *user,
    const char *password, const char *cnonce, char *server_first, size_t sfsz)
{
	struct sasl_session *s = sasl_session_new("SCRAM-SHA-256", f->db);
	char first[512], final_wo[1024], auth[2048], msg[2048];
	struct buf salt, proof_b64;
	struct scram_entry e;
	unsigned char ck[32], sig[32], proof[32];
	const char *p, *r, *sp, *ip;
	unsigned iter = 0;
	enum sasl_step step;

	snprintf(first, sizeof(first), "n=%s,r=%s", user, cnonce);
	snprintf(msg, sizeof(msg), "%s%s", gs2, first);
	step = step_str(s, msg, &f->out);
	assert_int_equal(step, SASL_STEP_CHALLENGE);
	snprintf(server_first, sfsz, "%s", f->out.data);
	/* Parse r=...,s=...,i=... */
	r = f->out.data + 2;
	sp = strstr(f->out.data, ",s=");
	ip = strstr(f->out.data, ",i=");
	assert_non_null(sp);
	assert_non_null(ip);
	for (p = ip + 3; *p >= '0' && *p <= '9'; p++)
		iter = iter * 10 + (unsigned)(*p - '0');
	buf_init(&salt, 64);
	assert_int_equal(base64_decode(&salt, sp + 3, (size_t)(ip - sp - 3)), 0);
	assert_int_equal(scram_entry_derive(password, strlen(password),
	    (unsigned char *)salt.data, salt.len, iter, &e), 0);
	{
		struct buf cb;

		buf_init(&cb, 1024);
		assert_int_equal(base64_encode(&cb, gs2, strlen(gs2)), 0);
		snprintf(final_wo, sizeof(final_wo), "c=%s,r=%.*s", cb.data,
		    (int)(sp - r), r);
		buf_cleanup(&cb);
	}
	snprintf(auth, sizeof(auth), "%s,%s,%s", first, f->out.data, final_wo);
	/* ClientKey = HMAC(SaltedPassword, "Client Key"); we only have the
	 * StoredKey, so recompute SaltedPassword the long way. */
	{
		unsigned char salted[32];

		assert_int_equal(PKCS5_PBKDF2_HMAC(password,
		    (int)strlen(password), (unsigned char *)salt.data,
		    (int)salt.len, (int)iter, EVP_sha256(), 32, salted), 1);
		scram_hmac_sha256(salted, 32, "Client Key", 10, ck);
	}
	scram_hmac_sha256(e.stored_key, 32, auth, strlen(auth), sig);
	for (int i = 0; i < 32; i++)
		proof[i] = ck[i] ^ sig[i];
	buf_init(&proof_b64, 128);
	base64_encode(&proof_b64, proof, 32);
	snprintf(msg, sizeof(msg), "%s,p=%s", final_wo, proof_b64.data);
	step = step_str(s, msg, &f->out);
	if (step == SASL_STEP_CHALLENGE) {
		assert_int_equal(strncmp(f->out.data, "v=", 2), 0);
		step = sasl_session_step(s, (const unsigned char *)"", 0,
		    &f->out);
		if (step == SASL_STEP_SUCCESS)
			assert_string_equal(sasl_session_login(s),
			    "alice@example.org");
	}
	buf_cleanup(&salt);
	buf_cleanup(&proof_b64);
	sasl_session_free(&s);
	return step;
}

static enum sasl_step
scram_client_run(struct fixture *f, const char *user, const char *password,
    const char *cnonce, char *server_first, size_t sfsz)
{
	return scram_client_run_gs2(f, "n,,", user, password, cnonce,
	    server_first, sfsz);
}

static void
test_sasl_scram_userdb_account(void **state)
{
	struct fixture *f = *state;
	char sf[512];

	assert_int_equal(scram_client_run(f, "alice@example.org", "secret pw",
	    "abcdef", sf, sizeof(sf)), SASL_STEP_SUCCESS);
	/* Case of the name does not matter; the login is canonical. */
	assert_int_equal(scram_client_run(f, "Alice@Example.ORG", "secret pw",
	    "abcdef", sf, sizeof(sf)), SASL_STEP_SUCCESS);
	assert_int_equal(scram_client_run(f, "alice@example.org", "wrong",
	    "abcdef", sf, sizeof(sf)), SASL_STEP_FAILURE);
	/* "y" flag and an authzid equal to the login are fine. */
	assert_int_equal(scram_client_run_gs2(f, "y,,", "alice@example.org",
	    "secret pw", "n0nce", sf, sizeof(sf)), SASL_STEP_SUCCESS);
	assert_int_equal(scram_client_run_gs2(f, "n,a=ALICE@example.org,",
	    "alice@example.org", "secret pw", "n0nce", sf, sizeof(sf)),
	    SASL_STEP_SUCCESS);
}

/* Returns the s= and i= part of a server-first message. */
static const char *
salt_part(const char *server_first)
{
	const char *p = strstr(server_first, ",s=");

	assert_non_null(p);
	return p;
}

static void
test_sasl_scram_unknown_user_looks_real(void **state)
{
	struct fixture *f = *state;
	char sf1[512], sf2[512], sf3[512], sfa[512];
	size_t nonce_len_a, nonce_len_u;

	/* Unknown user: the exchange proceeds and fails only at the proof. */
	assert_int_equal(scram_client_run(f, "nobody@example.org", "x",
	    "abcdef", sf1, sizeof(sf1)), SASL_STEP_FAILURE);
	assert_int_equal(scram_client_run(f, "nobody@example.org", "y",
	    "abcdef", sf2, sizeof(sf2)), SASL_STEP_FAILURE);
	assert_int_equal(scram_client_run(f, "other@example.org", "y",
	    "abcdef", sf3, sizeof(sf3)), SASL_STEP_FAILURE);
	assert_int_equal(scram_client_run(f, "alice@example.org", "secret pw",
	    "abcdef", sfa, sizeof(sfa)), SASL_STEP_SUCCESS);
	/* Same salt on every attempt for one name, different across names. */
	assert_string_equal(salt_part(sf1), salt_part(sf2));
	assert_string_not_equal(salt_part(sf1), salt_part(sf3));
	/* Same shape as a real account: salt length, iterations, nonce. */
	assert_int_equal(strlen(salt_part(sf1)), strlen(salt_part(sfa)));
	assert_string_equal(strstr(sf1, ",i="), strstr(sfa, ",i="));
	nonce_len_a = (size_t)(salt_part(sfa) - sfa);
	nonce_len_u = (size_t)(salt_part(sf1) - sf1);
	assert_int_equal(nonce_len_a, nonce_len_u);
	/* An account without a SCRAM entry also gets a fake one. */
	assert_int_equal(scram_client_run(f, "bob@example.org", "secret pw",
	    "abcdef", sf1, sizeof(sf1)), SASL_STEP_FAILURE);
}

static void
test_sasl_scram_malformed(void **state)
{
	static const struct {
		const char	*first;
		enum sasl_step	 want;
	} cases[] = {
		{ "p=tls-unique,,n=user,r=abc", SASL_STEP_FAILURE },
		{ "x,,n=user,r=abc", SASL_STEP_MALFORMED },
		{ "n,n=user,r=abc", SASL_STEP_MALFORMED },
		{ "n,,r=abc,n=user", SASL_STEP_MALFORMED },
		{ "n,,n=,r=abc", SASL_STEP_MALFORMED },
		{ "n,,n=us=er,r=abc", SASL_STEP_MALFORMED },
		{ "n,,n=us=2", SASL_STEP_MALFORMED },
		{ "n,,n=user", SASL_STEP_MALFORMED },
		{ "n,,n=user,r=", SASL_STEP_MALFORMED },
		{ "n,,n=user,r=a\x01" "b", SASL_STEP_MALFORMED },
		{ "n,,m=ext,n=user,r=abc", SASL_STEP_FAILURE },
		{ "n,a=other@example.org,n=alice@example.org,r=abc",
		    SASL_STEP_FAILURE },
		{ "", SASL_STEP_MALFORMED },
	};
	struct fixture *f = *state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct sasl_session *s = sasl_session_new("SCRAM-SHA-256",
		    f->db);

		assert_int_equal(step_str(s, cases[i].first, &f->out),
		    cases[i].want);
		sasl_session_free(&s);
	}
}

static void
test_sasl_scram_final_malformed(void **state)
{
	static const struct {
		const char	*final;
		enum sasl_step	 want;
	} cases[] = {
		{ "c=biws,r=abcSRV", SASL_STEP_MALFORMED },	/* no proof */
		{ "c=biws,r=abcSRV,p=!!!!", SASL_STEP_MALFORMED },
		{ "c=biws,r=abcSRV,p=AAAA", SASL_STEP_MALFORMED },
		{ "r=abcSRV,c=biws,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
		    SASL_STEP_MALFORMED },
		{ "c=eSws,r=abcSRV,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
		    SASL_STEP_FAILURE },	/* y,, does not match n,, */
		{ "c=biws,r=abcXXX,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
		    SASL_STEP_FAILURE },	/* nonce changed */
		{ "c=biws,r=abcSRV,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=,x=1",
		    SASL_STEP_MALFORMED },	/* proof not last */
		{ "c=biws,r=abcSRV,x=1,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
		    SASL_STEP_FAILURE },	/* extension ok, proof wrong */
	};
	struct fixture *f = *state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct sasl_session *s = sasl_session_new("SCRAM-SHA-256",
		    f->db);

		sasl_session_set_server_nonce(s, "SRV");
		assert_int_equal(step_str(s, "n,,n=alice@example.org,r=abc",
		    &f->out), SASL_STEP_CHALLENGE);
		assert_int_equal(step_str(s, cases[i].final, &f->out),
		    cases[i].want);
		sasl_session_free(&s);
	}
}

static void
test_sasl_plain_flows(void **state)
{
	static const struct {
		const char	*msg;
		size_t		 len;
		enum sasl_step	 want;		/* after the first step */
		enum sasl_step	 verdict;	/* after the password check */
	} cases[] = {
		{ "\0alice@example.org\0secret pw", 28, SASL_STEP_CHECK_PASSWORD,
		    SASL_STEP_SUCCESS },
		{ "ALICE@example.org\0alice@example.org\0secret pw", 45,
		    SASL_STEP_CHECK_PASSWORD, SASL_STEP_SUCCESS },
		{ "\0alice@example.org\0wrong", 24, SASL_STEP_CHECK_PASSWORD,
		    SASL_STEP_FAILURE },
		{ "\0nobody@example.org\0secret pw", 29,
		    SASL_STEP_CHECK_PASSWORD, SASL_STEP_FAILURE },
		{ "\0not-an-address\0secret pw", 25, SASL_STEP_CHECK_PASSWORD,
		    SASL_STEP_FAILURE },
		{ "bob@example.org\0alice@example.org\0secret pw", 43,
		    SASL_STEP_FAILURE, SASL_STEP_FAILURE },
		{ "alice@example.org\0secret pw", 27, SASL_STEP_MALFORMED,
		    SASL_STEP_MALFORMED },
		{ "\0\0secret pw", 11, SASL_STEP_MALFORMED, SASL_STEP_MALFORMED },
		{ "\0alice@example.org\0", 19, SASL_STEP_MALFORMED,
		    SASL_STEP_MALFORMED },
		{ "\0alice@example.org\0pw\0x", 23, SASL_STEP_MALFORMED,
		    SASL_STEP_MALFORMED },
		{ "", 0, SASL_STEP_MALFORMED, SASL_STEP_MALFORMED },
	};
	struct fixture *f = *state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct sasl_session *s = sasl_session_new("PLAIN", f->db);
		enum sasl_step st;

		st = sasl_session_step(s, (const unsigned char *)cases[i].msg,
		    cases[i].len, &f->out);
		assert_int_equal(st, cases[i].want);
		if (st == SASL_STEP_CHECK_PASSWORD) {
			/* No step is allowed while the check is pending. */
			st = run_check(s);
			assert_int_equal(st, cases[i].verdict);
			if (st == SASL_STEP_SUCCESS)
				assert_string_equal(sasl_session_login(s),
				    "alice@example.org");
		}
		sasl_session_free(&s);
	}
}

static void
test_sasl_plain_without_initial_response(void **state)
{
	struct fixture *f = *state;
	struct sasl_session *s = sasl_session_new("plain", f->db);

	assert_int_equal(sasl_session_step(s, NULL, 0, &f->out),
	    SASL_STEP_CHALLENGE);
	assert_int_equal(f->out.len, 0);
	assert_int_equal(sasl_session_step(s,
	    (const unsigned char *)"\0alice@example.org\0secret pw", 28,
	    &f->out), SASL_STEP_CHECK_PASSWORD);
	assert_int_equal(step_str(s, "more", &f->out), SASL_STEP_MALFORMED);
	sasl_session_free(&s);
}

static void
test_sasl_password_done_needs_the_job(void **state)
{
	struct fixture *f = *state;
	struct sasl_session *s = sasl_session_new("PLAIN", f->db);

	assert_int_equal(sasl_session_step(s,
	    (const unsigned char *)"\0alice@example.org\0secret pw", 28,
	    &f->out), SASL_STEP_CHECK_PASSWORD);
	/* A caller claiming success without running the job gets failure. */
	assert_int_equal(sasl_session_password_done(s, true),
	    SASL_STEP_FAILURE);
	assert_int_equal(sasl_session_password_done(s, true),
	    SASL_STEP_MALFORMED);
	sasl_session_free(&s);
}

static void
test_sasl_login_flows(void **state)
{
	struct fixture *f = *state;
	struct sasl_session *s = sasl_session_new("LOGIN", f->db);

	assert_int_equal(sasl_session_step(s, NULL, 0, &f->out),
	    SASL_STEP_CHALLENGE);
	assert_string_equal(f->out.data, "Username:");
	assert_int_equal(step_str(s, "Alice@Example.org", &f->out),
	    SASL_STEP_CHALLENGE);
	assert_string_equal(f->out.data, "Password:");
	assert_int_equal(step_str(s, "secret pw", &f->out),
	    SASL_STEP_CHECK_PASSWORD);
	assert_int_equal(run_check(s), SASL_STEP_SUCCESS);
	assert_string_equal(sasl_session_login(s), "alice@example.org");
	sasl_session_free(&s);

	/* User name as initial response; wrong password. */
	s = sasl_session_new("LOGIN", f->db);
	assert_int_equal(step_str(s, "alice@example.org", &f->out),
	    SASL_STEP_CHALLENGE);
	assert_string_equal(f->out.data, "Password:");
	assert_int_equal(step_str(s, "nope", &f->out),
	    SASL_STEP_CHECK_PASSWORD);
	assert_int_equal(run_check(s), SASL_STEP_FAILURE);
	assert_string_equal(sasl_session_login(s), "alice@example.org");
	sasl_session_free(&s);

	/* Empty user name or password is malformed. */
	s = sasl_session_new("LOGIN", f->db);
	assert_int_equal(sasl_session_step(s, (const unsigned char *)"", 0,
	    &f->out), SASL_STEP_MALFORMED);
	sasl_session_free(&s);
	s = sasl_session_new("LOGIN", f->db);
	assert_int_equal(step_str(s, "alice@example.org", &f->out),
	    SASL_STEP_CHALLENGE);
	assert_int_equal(sasl_session_step(s, (const unsigned char *)"", 0,
	    &f->out), SASL_STEP_MALFORMED);
	sasl_session_free(&s);
}

static void
test_sasl_mechanism_list(void **state)
{
	struct fixture *f = *state;

	assert_string_equal(sasl_mechanisms(false), "SCRAM-SHA-256");
	assert_string_equal(sasl_mechanisms(true), "SCRAM-SHA-256 PLAIN LOGIN");
	assert_true(sasl_mechanism_allowed("plain", true));
	assert_false(sasl_mechanism_allowed("plain", false));
	assert_false(sasl_mechanism_allowed("LOGIN", false));
	assert_true(sasl_mechanism_allowed("scram-sha-256", false));
	assert_false(sasl_mechanism_allowed("CRAM-MD5", true));
	assert_null(sasl_session_new("CRAM-MD5", f->db));
	assert_null(sasl_session_new("SCRAM-SHA-256-PLUS", f->db));
}

static void
test_sasl_input_bounded(void **state)
{
	static unsigned char big[SASL_INPUT_MAX + 1];
	struct fixture *f = *state;
	struct sasl_session *s = sasl_session_new("PLAIN", f->db);

	memset(big, 'a', sizeof(big));
	assert_int_equal(sasl_session_step(s, big, sizeof(big), &f->out),
	    SASL_STEP_MALFORMED);
	sasl_session_free(&s);
	/* A long name inside a legal-size message is refused, not copied. */
	big[0] = '\0';
	big[2000] = '\0';
	s = sasl_session_new("PLAIN", f->db);
	assert_int_equal(sasl_session_step(s, big, 2010, &f->out),
	    SASL_STEP_MALFORMED);
	sasl_session_free(&s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sasl_scram_rfc7677_vector),
		cmocka_unit_test(test_sasl_scram_rfc7677_wrong_proof_fails),
		cmocka_unit_test(test_sasl_scram_userdb_account),
		cmocka_unit_test(test_sasl_scram_unknown_user_looks_real),
		cmocka_unit_test(test_sasl_scram_malformed),
		cmocka_unit_test(test_sasl_scram_final_malformed),
		cmocka_unit_test(test_sasl_plain_flows),
		cmocka_unit_test(test_sasl_plain_without_initial_response),
		cmocka_unit_test(test_sasl_password_done_needs_the_job),
		cmocka_unit_test(test_sasl_login_flows),
		cmocka_unit_test(test_sasl_mechanism_list),
		cmocka_unit_test(test_sasl_input_bounded),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
