/*
 * Unit tests for auth/credcache: hits, misses on another password, user or
 * stored hash, expiry on an injected clock, the bounded table, the
 * disabled cache, and the password job's use of it (failures never
 * remembered, a changed hash never hits).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "auth/credcache.h"
#include "auth/hash.h"
#include "auth/userdb.h"

#define TTL	300u
#define T0	1000000ull

static const char H1[] = "$y$j9T$salt1$hash1";
static const char H2[] = "$y$j9T$salt2$hash2";

static void
test_credcache_hit_after_remember(void **state)
{
	struct credcache *c = credcache_new(TTL, 0);

	(void)state;
	assert_non_null(c);
	assert_false(credcache_check_at(c, "a@x.test", H1, "pw", T0));
	credcache_remember_at(c, "a@x.test", H1, "pw", T0);
	assert_int_equal(credcache_count(c), 1);
	assert_true(credcache_check_at(c, "a@x.test", H1, "pw", T0 + 1));
	assert_int_equal(credcache_hits(c), 1);
	assert_int_equal(credcache_misses(c), 1);
	/* Remembering again replaces, never duplicates. */
	credcache_remember_at(c, "a@x.test", H1, "pw", T0 + 2);
	assert_int_equal(credcache_count(c), 1);
	credcache_free(&c);
	assert_null(c);
}

static void
test_credcache_miss_on_any_difference(void **state)
{
	static const struct {
		const char	*user, *hash, *password;
	} probes[] = {
		{ "a@x.test", H1, "pW" },	/* other password */
		{ "a@x.test", H1, "pw " },
		{ "a@x.test", H1, "" },
		{ "b@x.test", H1, "pw" },	/* other user */
		{ "a@x.test", H2, "pw" },	/* hash changed: new password set */
		/* Length prefixes: moving bytes between fields is no match. */
		{ "a@x.tes", H1, "tpw" },
	};
	struct credcache *c = credcache_new(TTL, 0);

	(void)state;
	credcache_remember_at(c, "a@x.test", H1, "pw", T0);
	for (size_t i = 0; i < sizeof(probes) / sizeof(probes[0]); i++)
		assert_false(credcache_check_at(c, probes[i].user,
		    probes[i].hash, probes[i].password, T0 + 1));
	assert_true(credcache_check_at(c, "a@x.test", H1, "pw", T0 + 1));
	credcache_free(&c);
}

static void
test_credcache_expires_after_ttl(void **state)
{
	struct credcache *c = credcache_new(TTL, 0);

	(void)state;
	credcache_remember_at(c, "a@x.test", H1, "pw", T0);
	assert_true(credcache_check_at(c, "a@x.test", H1, "pw",
	    T0 + TTL * 1000 - 1));
	/* A hit does not extend the entry. */
	assert_false(credcache_check_at(c, "a@x.test", H1, "pw",
	    T0 + TTL * 1000));
	assert_int_equal(credcache_count(c), 0);
	credcache_free(&c);
}

static void
test_credcache_bounded_and_clear(void **state)
{
	struct credcache *c = credcache_new(TTL, 64);
	char user[32];
	size_t hits = 0;

	(void)state;
	for (unsigned i = 0; i < 1000; i++) {
		snprintf(user, sizeof(user), "u%u@x.test", i);
		credcache_remember_at(c, user, H1, "pw", T0 + i);
		assert_true(credcache_count(c) <= 64);
	}
	assert_int_equal(credcache_count(c), 64);
	/* The most recent entry is always kept (LRU replaces older ones). */
	assert_true(credcache_check_at(c, "u999@x.test", H1, "pw", T0 + 1000));
	for (unsigned i = 0; i < 1000; i++) {
		snprintf(user, sizeof(user), "u%u@x.test", i);
		hits += credcache_check_at(c, user, H1, "pw", T0 + 1001);
	}
	assert_int_equal(hits, 64);
	credcache_clear(c);
	assert_int_equal(credcache_count(c), 0);
	assert_false(credcache_check_at(c, "u999@x.test", H1, "pw", T0 + 1002));
	credcache_free(&c);
}

static void
test_credcache_off_when_ttl_zero(void **state)
{
	struct credcache *c = credcache_new(0, 0);

	(void)state;
	assert_null(c);
	credcache_remember(c, "a@x.test", H1, "pw");
	assert_false(credcache_check(c, "a@x.test", H1, "pw"));
	assert_int_equal(credcache_count(c), 0);
	credcache_free(&c);
}

static bool
job_ok(struct userdb *db, const char *user, const char *pw)
{
	struct auth_password_job *job = auth_password_job_new(db, user, pw);
	bool ok;

	auth_password_job_run(job);
	ok = auth_password_job_ok(job);
	auth_password_job_free(&job);
	return ok;
}

static struct userdb *
db_with(const char *hash)
{
	char text[512];
	const char *err = NULL;
	struct userdb *db;
	int n = snprintf(text, sizeof(text), "alice@example.org\t%s\n", hash);

	assert_true(n > 0 && (size_t)n < sizeof(text));
	db = userdb_new_from_text(text, strlen(text), NULL, 0, NULL, 0, NULL,
	    &err);
	assert_non_null(db);
	return db;
}

static void
test_credcache_password_job(void **state)
{
	char hash1[HASH_MAX], hash2[HASH_MAX];
	struct userdb *db;
	struct credcache *c;

	(void)state;
	assert_int_equal(hash_password("right", hash1, sizeof(hash1)), 0);
	assert_int_equal(hash_password("new", hash2, sizeof(hash2)), 0);
	db = db_with(hash1);
	userdb_set_credcache(db, credcache_new(TTL, 0));
	c = userdb_credcache(db);
	assert_non_null(c);

	/* A failure is not remembered and is no hit later. */
	assert_false(job_ok(db, "alice@example.org", "wrong"));
	assert_int_equal(credcache_count(c), 0);
	assert_false(job_ok(db, "alice@example.org", "wrong"));
	assert_int_equal(credcache_hits(c), 0);
	/* Unknown users never hit (their dummy hash is never remembered). */
	assert_false(job_ok(db, "nobody@example.org", "right"));
	assert_int_equal(credcache_count(c), 0);

	assert_true(job_ok(db, "alice@example.org", "right"));
	assert_int_equal(credcache_count(c), 1);
	assert_int_equal(credcache_hits(c), 0);
	assert_true(job_ok(db, "ALICE@example.org", "right"));
	assert_int_equal(credcache_hits(c), 1);
	/* A cached success does not let another password through. */
	assert_false(job_ok(db, "alice@example.org", "Right"));
	assert_int_equal(credcache_hits(c), 1);
	userdb_free(&db);

	/*
	 * The password changed (the users file now holds hash2); the same
	 * cache must not accept the old password.
	 */
	db = db_with(hash2);
	c = credcache_new(TTL, 0);
	credcache_remember(c, "alice@example.org", hash1, "right");
	userdb_set_credcache(db, c);
	assert_false(job_ok(db, "alice@example.org", "right"));
	assert_int_equal(credcache_hits(c), 0);
	assert_true(job_ok(db, "alice@example.org", "new"));
	assert_true(job_ok(db, "alice@example.org", "new"));
	assert_int_equal(credcache_hits(c), 1);
	userdb_free(&db);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_credcache_hit_after_remember),
		cmocka_unit_test(test_credcache_miss_on_any_difference),
		cmocka_unit_test(test_credcache_expires_after_ttl),
		cmocka_unit_test(test_credcache_bounded_and_clear),
		cmocka_unit_test(test_credcache_off_when_ttl_zero),
		cmocka_unit_test(test_credcache_password_job),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
