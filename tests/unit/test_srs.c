/*
 * Unit tests for policy/srs (Sender Rewriting Scheme) and
 * policy/ratelimit: round trips, tampering, expiry, SRS1 chains, case
 * folding, length limits; token-bucket arithmetic.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "policy/ratelimit.h"
#include "policy/srs.h"

static const unsigned char key[SRS_KEY_LEN] = "0123456789abcdef0123456789abcdef";
static const unsigned char key2[SRS_KEY_LEN] = "fedcba9876543210fedcba9876543210";

/* 2026-11-28 12:00 UTC and a day in seconds. */
#define NOW	((time_t)1795867200)
#define DAY	((time_t)86400)

static void
lower(char *s)
{
	for (; *s != '\0'; s++)
		if (*s >= 'A' && *s <= 'Z')
			*s = (char)(*s - 'A' + 'a');
}

/* The local part of addr (before the last '@') into out. */
static void
local_of(const char *addr, char *out, size_t outsz)
{
	const char *at = strrchr(addr, '@');

	assert_non_null(at);
	assert_true((size_t)(at - addr) < outsz);
	memcpy(out, addr, (size_t)(at - addr));
	out[at - addr] = '\0';
}

static const char *const senders[] = {
	"alice@example.org", "Bob.Smith+tag@Mail.Example.COM", "x@y.z",
	"a=b@weird.example",
};

static void
test_srs_round_trip(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(senders) / sizeof(senders[0]); i++) {
		char fwd[400], local[100], back[400], want[400];

		assert_int_equal(srs_forward(key, sizeof(key), NOW, senders[i],
		    "fwd.test", fwd, sizeof(fwd)), SRS_OK);
		assert_int_equal(strncmp(fwd, "SRS0=", 5), 0);
		assert_non_null(strstr(fwd, "@fwd.test"));
		local_of(fwd, local, sizeof(local));
		assert_true(srs_is_srs(local));
		assert_int_equal(srs_reverse(key, sizeof(key), NOW, local, back,
		    sizeof(back)), SRS_OK);
		assert_string_equal(back, senders[i]);
		/* Our own RCPT handling lower-cases: still valid. */
		lower(local);
		assert_int_equal(srs_reverse(key, sizeof(key), NOW + DAY, local,
		    back, sizeof(back)), SRS_OK);
		snprintf(want, sizeof(want), "%s", senders[i]);
		lower(want);
		assert_string_equal(back, want);
	}
}

static void
test_srs_tamper_is_refused(void **state)
{
	char fwd[400], local[100], back[400] = "untouched";
	size_t n;

	(void)state;
	assert_int_equal(srs_forward(key, sizeof(key), NOW, "alice@example.org",
	    "fwd.test", fwd, sizeof(fwd)), SRS_OK);
	local_of(fwd, local, sizeof(local));
	/* Wrong key. */
	assert_int_equal(srs_reverse(key2, sizeof(key2), NOW, local, back,
	    sizeof(back)), SRS_BAD_HASH);
	/* Each field changed in turn: hash, timestamp, domain, local part. */
	n = strlen(local);
	for (size_t i = 5; i < n; i++) {
		char t[100];

		if (local[i] == '=')
			continue;
		memcpy(t, local, n + 1);
		t[i] = t[i] == 'q' ? 'r' : 'q';
		assert_true(srs_reverse(key, sizeof(key), NOW, t, back,
		    sizeof(back)) < 0);
	}
	/* Redirecting the bounce elsewhere. */
	{
		char t[200];
		const char *dom = strstr(local, "=example.org=");

		assert_non_null(dom);
		snprintf(t, sizeof(t), "%.*s=evil.example=alice",
		    (int)(dom - local), local);
		assert_int_equal(srs_reverse(key, sizeof(key), NOW, t, back,
		    sizeof(back)), SRS_BAD_HASH);
	}
	assert_string_equal(back, "untouched");
}

static void
test_srs_expiry(void **state)
{
	char fwd[400], local[100], back[400];

	(void)state;
	assert_int_equal(srs_forward(key, sizeof(key), NOW, "alice@example.org",
	    "fwd.test", fwd, sizeof(fwd)), SRS_OK);
	local_of(fwd, local, sizeof(local));
	assert_int_equal(srs_reverse(key, sizeof(key),
	    NOW + SRS_MAX_AGE_DAYS * DAY, local, back, sizeof(back)), SRS_OK);
	assert_int_equal(srs_reverse(key, sizeof(key),
	    NOW + (SRS_MAX_AGE_DAYS + 1) * DAY, local, back, sizeof(back)),
	    SRS_EXPIRED);
	/* From the future (the clock went back by days): refused too. */
	assert_int_equal(srs_reverse(key, sizeof(key), NOW - 2 * DAY, local,
	    back, sizeof(back)), SRS_EXPIRED);
	/* The day counter wraps at 1024 days: still judged by age. */
	assert_int_equal(srs_reverse(key, sizeof(key), NOW + 1024 * DAY, local,
	    back, sizeof(back)), SRS_OK);
}

/* A second forwarder re-signs as SRS1; reversal goes hop by hop. */
static void
test_srs_chain(void **state)
{
	char a[400], b[400], c[400], la[100], lb[100], lc[100];
	char back[400], back2[400];

	(void)state;
	assert_int_equal(srs_forward(key, sizeof(key), NOW, "alice@example.org",
	    "one.test", a, sizeof(a)), SRS_OK);
	assert_int_equal(srs_forward(key2, sizeof(key2), NOW, a, "two.test", b,
	    sizeof(b)), SRS_OK);
	assert_int_equal(strncmp(b, "SRS1=", 5), 0);
	assert_non_null(strstr(b, "=one.test=="));
	/* A third forwarder: SRS1 again, the same length class, host kept. */
	assert_int_equal(srs_forward(key, sizeof(key), NOW, b, "three.test",
	    c, sizeof(c)), SRS_OK);
	assert_int_equal(strncmp(c, "SRS1=", 5), 0);
	assert_int_equal(strlen(c) - strlen("three.test"),
	    strlen(b) - strlen("two.test"));
	local_of(a, la, sizeof(la));
	local_of(b, lb, sizeof(lb));
	local_of(c, lc, sizeof(lc));
	/* two.test reverses its SRS1 into one.test's SRS0 ... */
	assert_int_equal(srs_reverse(key2, sizeof(key2), NOW, lb, back,
	    sizeof(back)), SRS_OK);
	assert_string_equal(back, a);
	/* ... which one.test reverses into the original sender. */
	local_of(back, lb, sizeof(lb));
	assert_int_equal(srs_reverse(key, sizeof(key), NOW, lb, back2,
	    sizeof(back2)), SRS_OK);
	assert_string_equal(back2, "alice@example.org");
	/* three.test's SRS1 goes straight back to one.test too. */
	assert_int_equal(srs_reverse(key, sizeof(key), NOW, lc, back,
	    sizeof(back)), SRS_OK);
	assert_string_equal(back, a);
	/* SRS1 signed by two.test is not valid with another key. */
	local_of(b, lb, sizeof(lb));
	assert_int_equal(srs_reverse(key, sizeof(key), NOW, lb, back,
	    sizeof(back)), SRS_BAD_HASH);
}

static void
test_srs_malformed_and_limits(void **state)
{
	static const char *const bad[] = {
		"SRS0=", "SRS0=abc", "SRS0=abcdefgh=zz", "SRS0=abcdefgh=zz=d",
		"SRS0=abcdefgh=z1=d=l", "SRS0=abcdefgh=zzz=d=l", "SRS1=x",
		"SRS1=abcdefgh=host", "SRS1=abcdefgh===x",
	};
	char out[400];
	char longlocal[80];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		enum srs_result rc = srs_reverse(key, sizeof(key), NOW, bad[i],
		    out, sizeof(out));

		if (rc != SRS_MALFORMED && rc != SRS_BAD_HASH)
			fail_msg("\"%s\": %d", bad[i], rc);
	}
	assert_int_equal(srs_reverse(key, sizeof(key), NOW, "alice", out,
	    sizeof(out)), SRS_NOT_SRS);
	assert_false(srs_is_srs("srs2=x"));
	assert_true(srs_is_srs("srs0=x"));
	assert_int_equal(srs_forward(key, sizeof(key), NOW, "no-at-sign",
	    "f.test", out, sizeof(out)), SRS_MALFORMED);
	/* The result would pass 64 octets of local part. */
	memset(longlocal, 'a', 50);
	snprintf(longlocal + 50, sizeof(longlocal) - 50, "@e.org");
	assert_int_equal(srs_forward(key, sizeof(key), NOW, longlocal,
	    "f.test", out, sizeof(out)), SRS_TOO_LONG);
	/* And a too small output buffer. */
	assert_int_equal(srs_forward(key, sizeof(key), NOW, "a@e.org",
	    "f.test", out, 10), SRS_TOO_LONG);
}

static void
test_ratelimit_bucket(void **state)
{
	struct ratelimit *rl = ratelimit_new(3);

	(void)state;
	/* A burst of rate, then refusal; other keys are independent. */
	for (int i = 0; i < 3; i++)
		assert_true(ratelimit_take(rl, "s l", NOW));
	assert_false(ratelimit_take(rl, "s l", NOW));
	assert_true(ratelimit_take(rl, "s other", NOW));
	assert_true(ratelimit_take(rl, "", NOW));
	/* One token per 1200 s at 3/h: not yet at 1199 s, then one. */
	assert_false(ratelimit_take(rl, "s l", NOW + 1199));
	assert_true(ratelimit_take(rl, "s l", NOW + 1200));
	assert_false(ratelimit_take(rl, "s l", NOW + 1200));
	/* Frequent tries must not starve the refill. */
	for (time_t t = NOW + 1201; t < NOW + 2400; t += 7)
		(void)ratelimit_take(rl, "s l", t);
	assert_true(ratelimit_take(rl, "s l", NOW + 2401));
	/* Full after an hour: rate, not more. */
	for (int i = 0; i < 3; i++)
		assert_true(ratelimit_take(rl, "s l", NOW + 99999));
	assert_false(ratelimit_take(rl, "s l", NOW + 99999));
	ratelimit_free(&rl);
	assert_null(rl);
}

static void
test_ratelimit_table_full_evicts_oldest(void **state)
{
	struct ratelimit *rl = ratelimit_new(1);
	char k[32];

	(void)state;
	assert_true(ratelimit_take(rl, "first", NOW));
	assert_false(ratelimit_take(rl, "first", NOW));
	for (int i = 0; i < RATELIMIT_SLOTS; i++) {
		snprintf(k, sizeof(k), "k%d", i);
		assert_true(ratelimit_take(rl, k, NOW + 1 + i));
	}
	/* "first" was the stalest and has been forgotten. */
	assert_true(ratelimit_take(rl, "first", NOW + 1100));
	/* Recent keys are still limited. */
	snprintf(k, sizeof(k), "k%d", RATELIMIT_SLOTS - 1);
	assert_false(ratelimit_take(rl, k, NOW + 1100));
	ratelimit_free(&rl);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_srs_round_trip),
		cmocka_unit_test(test_srs_tamper_is_refused),
		cmocka_unit_test(test_srs_expiry),
		cmocka_unit_test(test_srs_chain),
		cmocka_unit_test(test_srs_malformed_and_limits),
		cmocka_unit_test(test_ratelimit_bucket),
		cmocka_unit_test(test_ratelimit_table_full_evicts_oldest),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
