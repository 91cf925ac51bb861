/*
 * Unit tests for auth/userdb: parsing, alias expansion (recursion, loops,
 * depth), ownership, APOP, the password job, and on-disk behaviour:
 * secret creation, refresh, and atomic edits.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auth/hash.h"
#include "auth/scram.h"
#include "auth/userdb.h"
#include "core/buf.h"
#include "core/str.h"
#include "core/strlist.h"

static char *const domains[] = { "example.org", "example.net" };

static const char users_text[] =
    "# accounts\n"
    "alice@example.org\t$y$j9T$abc$def\n"
    "\n"
    "Bob@Example.ORG\t$y$j9T$abc$xyz\r\n"
    "carol@example.net\t$y$j9T$abc$123\n";

static const char aliases_text[] =
    "# aliases\n"
    "postmaster@example.org: alice@example.org\n"
    "team@example.org: alice@example.org, bob@example.org carol@example.net\n"
    "all@example.org: team@example.org, postmaster@example.org, "
    "ext@remote.test, BOB@example.org\n"
    "loop1@example.org: loop2@example.org\n"
    "loop2@example.org: loop1@example.org\n"
    "half@example.org: loop1@example.org, alice@example.org\n"
    "fwd@example.org: someone@remote.test\n";

static struct userdb *
db_from_text(const char *users, const char *aliases, const char *apop)
{
	const char *err = NULL;
	struct userdb *db = userdb_new_from_text(users, strlen(users),
	    aliases, strlen(aliases), apop, strlen(apop), NULL, &err);

	if (db == NULL)
		fail_msg("userdb: %s", err);
	return db;
}

static void
test_userdb_addr_normalize(void **state)
{
	static const struct {
		const char	*in;
		const char	*out;	/* NULL: rejected */
	} cases[] = {
		{ "Alice@Example.ORG", "alice@example.org" },
		{ "a.b+c@x.y", "a.b+c@x.y" },
		{ "alice", NULL },
		{ "@example.org", NULL },
		{ "alice@", NULL },
		{ "a@b@c", NULL },
		{ "a b@c", NULL },
		{ "a:b@c", NULL },
		{ "a,b@c", NULL },
		{ "a#b@c", NULL },
		{ "a\tb@c", NULL },
		{ "a@.c", NULL },
		{ "a@c.", NULL },
		{ "<a@c>", NULL },
		{ "", NULL },
	};
	char out[USERDB_ADDR_MAX + 1], big[400];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc = userdb_addr_normalize(cases[i].in, out, sizeof(out));

		if (cases[i].out == NULL)
			assert_int_equal(rc, -1);
		else {
			assert_int_equal(rc, 0);
			assert_string_equal(out, cases[i].out);
		}
	}
	memset(big, 'a', sizeof(big));
	memcpy(big + 300, "@x.y", 5);
	assert_int_equal(userdb_addr_normalize(big, out, sizeof(out)), -1);
	assert_string_equal(userdb_addr_domain("a@b.c"), "b.c");
	assert_true(userdb_domain_listed(domains, 2, "EXAMPLE.net"));
	assert_false(userdb_domain_listed(domains, 2, "example.com"));
}

static void
test_userdb_parse_and_lookup(void **state)
{
	struct userdb *db = db_from_text(users_text, aliases_text, "");

	(void)state;
	assert_int_equal(userdb_count(db), 3);
	assert_true(userdb_is_account(db, "alice@example.org"));
	assert_true(userdb_is_account(db, "BOB@example.org"));
	assert_true(userdb_is_account(db, "bob@example.org"));
	assert_false(userdb_is_account(db, "team@example.org"));
	assert_true(userdb_is_alias(db, "Team@example.org"));
	assert_false(userdb_is_account(db, "nobody@example.org"));
	assert_false(userdb_is_account(db, "garbage"));
	userdb_free(&db);
	assert_null(db);
}

static void
test_userdb_rejects_malformed_files(void **state)
{
	static const struct {
		const char	*users;
		const char	*aliases;
		const char	*apop;
		const char	*err;
	} cases[] = {
		{ "alice@example.org\n", "", "", "users:1:" },
		{ "# c\nalice\t$y$x\n", "", "", "users:2:" },
		{ "a@b.c\t$y$x\ta@b.c\t$y$x\n", "", "", "users:1:" },
		{ "a@b.c\t$y$x\tSCRAM-SHA-256$bad\n", "", "", "users:1:" },
		{ "a@b.c\t$y$x\nA@B.C\t$y$z\n", "", "", "duplicate" },
		{ "", "x@y.z a@b.c\n", "", "aliases:1:" },
		{ "", "x@y.z:\n", "", "aliases:1:" },
		{ "", "x@y.z: x@y.z\n", "", "aliases:1:" },
		{ "", "x@y.z: bad address\n", "", "aliases:1:" },
		{ "", "x@y.z: a@b.c\nX@y.z: c@d.e\n", "", "duplicate" },
		{ "", "", "a@b.c\n", "apop:1:" },
		{ "", "", "a@b.c\tsec ret\n", "apop:1:" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *err = NULL;
		struct userdb *db = userdb_new_from_text(cases[i].users,
		    strlen(cases[i].users), cases[i].aliases,
		    strlen(cases[i].aliases), cases[i].apop,
		    strlen(cases[i].apop), NULL, &err);

		assert_null(db);
		assert_non_null(err);
		if (strstr(err, cases[i].err) == NULL)
			fail_msg("case %zu: \"%s\" lacks \"%s\"", i, err,
			    cases[i].err);
	}
}

/* Joins a list into "a b c" for compact comparisons. */
static const char *
joined(struct strlist *l)
{
	static char out[1024];
	size_t n = 0;

	strlist_sort(l);
	out[0] = '\0';
	for (size_t i = 0; i < l->n; i++)
		n += (size_t)snprintf(out + n, sizeof(out) - n, "%s%s",
		    i == 0 ? "" : " ", l->v[i]);
	return out;
}

static void
test_userdb_resolve_aliases(void **state)
{
	static const struct {
		const char	*addr;
		int		 rc;
		const char	*local;
		const char	*remote;
	} cases[] = {
		{ "alice@example.org", 0, "alice@example.org", "" },
		{ "ALICE@example.org", 0, "alice@example.org", "" },
		{ "postmaster@example.org", 0, "alice@example.org", "" },
		{ "team@example.org", 0,
		    "alice@example.org bob@example.org carol@example.net", "" },
		/* nested, duplicates suppressed, remote kept apart */
		{ "all@example.org", 0,
		    "alice@example.org bob@example.org carol@example.net",
		    "ext@remote.test" },
		{ "fwd@example.org", 0, "", "someone@remote.test" },
		/* a loop that yields nobody is an error, not silence */
		{ "loop1@example.org", -2, "", "" },
		/* a loop next to a real target still delivers */
		{ "half@example.org", 0, "alice@example.org", "" },
		{ "nobody@example.org", -1, "", "" },
		{ "not an address", -1, "", "" },
	};
	struct userdb *db = db_from_text(users_text, aliases_text, "");

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct strlist l, r;
		int rc;

		strlist_init(&l);
		strlist_init(&r);
		rc = userdb_resolve(db, cases[i].addr, &l, &r);
		if (rc != cases[i].rc)
			fail_msg("%s: rc %d, want %d", cases[i].addr, rc,
			    cases[i].rc);
		assert_string_equal(joined(&l), cases[i].local);
		assert_string_equal(joined(&r), cases[i].remote);
		strlist_clear(&l);
		strlist_clear(&r);
	}
	userdb_free(&db);
}

/* userdb_expand also names every alias it went through, the top first. */
static void
test_userdb_expand_lists_aliases(void **state)
{
	static const struct {
		const char	*addr;
		int		 rc;
		const char	*aliases;
	} cases[] = {
		{ "alice@example.org", 0, "" },
		{ "fwd@example.org", 0, "fwd@example.org" },
		{ "ALL@example.org", 0, "all@example.org postmaster@example.org "
		    "team@example.org" },
		{ "half@example.org", 0, "half@example.org loop1@example.org "
		    "loop2@example.org" },
		{ "loop1@example.org", -2, "" },
		{ "nobody@example.org", -1, "" },
	};
	struct userdb *db = db_from_text(users_text, aliases_text, "");

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct strlist l, r, a;
		int rc;

		strlist_init(&l);
		strlist_init(&r);
		strlist_init(&a);
		rc = userdb_expand(db, cases[i].addr, &l, &r, &a);
		if (rc != cases[i].rc)
			fail_msg("%s: rc %d, want %d", cases[i].addr, rc,
			    cases[i].rc);
		if (a.n > 0) {
			char top[64];

			snprintf(top, sizeof(top), "%s", cases[i].addr);
			str_lower(top);
			assert_string_equal(a.v[0], top);
		}
		assert_string_equal(joined(&a), cases[i].aliases);
		strlist_clear(&l);
		strlist_clear(&r);
		strlist_clear(&a);
	}
	userdb_free(&db);
}

/* Derived keys: stable, distinct per label, different from the secret. */
static void
test_userdb_derive_key(void **state)
{
	unsigned char k1[USERDB_SECRET_LEN], k2[USERDB_SECRET_LEN];
	unsigned char k3[USERDB_SECRET_LEN];
	struct userdb *db = db_from_text(users_text, aliases_text, "");

	(void)state;
	userdb_derive_key(db, "sealpost srs v1", k1);
	userdb_derive_key(db, "sealpost srs v1", k2);
	userdb_derive_key(db, "another label", k3);
	assert_memory_equal(k1, k2, sizeof(k1));
	assert_memory_not_equal(k1, k3, sizeof(k1));
	userdb_free(&db);
}

static void
test_userdb_resolve_depth_limit(void **state)
{
	char aliases[4096];
	size_t n = 0;
	struct strlist l, r;
	struct userdb *db;

	(void)state;
	/* a0 -> a1 -> ... -> aK -> alice: K+1 alias levels. */
	for (int i = 0; i < 12; i++)
		n += (size_t)snprintf(aliases + n, sizeof(aliases) - n,
		    "a%d@example.org: a%d@example.org\n", i, i + 1);
	n += (size_t)snprintf(aliases + n, sizeof(aliases) - n,
	    "a12@example.org: alice@example.org\n");
	db = db_from_text(users_text, aliases, "");
	strlist_init(&l);
	strlist_init(&r);
	/* a3 .. a12: 10 aliases deep, allowed. */
	assert_int_equal(userdb_resolve(db, "a3@example.org", &l, &r), 0);
	assert_string_equal(joined(&l), "alice@example.org");
	strlist_clear(&l);
	/* a2 .. a12: 11 levels, refused. */
	assert_int_equal(userdb_resolve(db, "a2@example.org", &l, &r), -2);
	assert_int_equal(l.n, 0);
	assert_int_equal(r.n, 0);
	userdb_free(&db);
}

static void
test_userdb_login_owns(void **state)
{
	static const struct {
		const char	*login;
		const char	*addr;
		bool		 owns;
	} cases[] = {
		{ "alice@example.org", "alice@example.org", true },
		{ "alice@example.org", "ALICE@Example.org", true },
		{ "Alice@example.org", "postmaster@example.org", true },
		{ "alice@example.org", "all@example.org", true },
		{ "bob@example.org", "postmaster@example.org", false },
		{ "bob@example.org", "alice@example.org", false },
		{ "alice@example.org", "fwd@example.org", false },
		{ "nobody@example.org", "nobody@example.org", false },
		{ "alice@example.org", "stranger@remote.test", false },
	};
	struct userdb *db = db_from_text(users_text, aliases_text, "");

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (userdb_login_owns(db, cases[i].login, cases[i].addr) !=
		    cases[i].owns)
			fail_msg("%s owns %s: want %d", cases[i].login,
			    cases[i].addr, cases[i].owns);
	userdb_free(&db);
}

/* RFC 1939 7 example: tanstaaf with this timestamp. */
static void
test_userdb_apop(void **state)
{
	static const char ts[] = "<1896.697170952@dbc.mtview.ca.us>";
	struct userdb *db = db_from_text(users_text, "",
	    "alice@example.org\ttanstaaf\n");

	(void)state;
	assert_string_equal(userdb_apop_secret(db, "Alice@example.org"),
	    "tanstaaf");
	assert_null(userdb_apop_secret(db, "bob@example.org"));
	assert_true(userdb_apop_verify(db, "alice@example.org", ts,
	    "c4c9334bac560ecc979e58001b3e22fb"));
	assert_true(userdb_apop_verify(db, "alice@example.org", ts,
	    "C4C9334BAC560ECC979E58001B3E22FB"));
	assert_false(userdb_apop_verify(db, "alice@example.org", ts,
	    "c4c9334bac560ecc979e58001b3e22fc"));
	assert_false(userdb_apop_verify(db, "alice@example.org", ts, "c4c9"));
	assert_false(userdb_apop_verify(db, "bob@example.org", ts,
	    "c4c9334bac560ecc979e58001b3e22fb"));
	assert_false(userdb_apop_verify(db, "nobody@example.org", ts,
	    "c4c9334bac560ecc979e58001b3e22fb"));
	userdb_free(&db);
}

static void
test_userdb_password_job(void **state)
{
	char hash[HASH_MAX], users[1024];
	struct auth_password_job *job;
	struct userdb *db;

	(void)state;
	assert_int_equal(hash_password("pw1", hash, sizeof(hash)), 0);
	snprintf(users, sizeof(users), "alice@example.org\t%s\n"
	    "locked@example.org\t!%s\n", hash, hash);
	db = db_from_text(users, "", "");

	job = auth_password_job_new(db, "ALICE@example.org", "pw1");
	/* The job owns copies: the database may go away before it runs. */
	auth_password_job_run(job);
	assert_true(auth_password_job_ok(job));
	assert_string_equal(auth_password_job_login(job), "alice@example.org");
	auth_password_job_free(&job);
	assert_null(job);

	job = auth_password_job_new(db, "alice@example.org", "pw2");
	auth_password_job_run(job);
	assert_false(auth_password_job_ok(job));
	auth_password_job_free(&job);

	job = auth_password_job_new(db, "locked@example.org", "pw1");
	auth_password_job_run(job);
	assert_false(auth_password_job_ok(job));
	auth_password_job_free(&job);

	job = auth_password_job_new(db, "nobody@example.org", "pw1");
	userdb_free(&db);
	auth_password_job_run(job);
	assert_false(auth_password_job_ok(job));
	auth_password_job_free(&job);
}

static void
test_userdb_scram_lookup(void **state)
{
	static const unsigned char secret_a[USERDB_SECRET_LEN] = { 7 };
	static const unsigned char secret_b[USERDB_SECRET_LEN] = { 8 };
	struct scram_entry real, e1, e2, e3;
	const char *err;
	char users[1024];
	struct buf b;
	struct userdb *a, *bdb;

	(void)state;
	assert_int_equal(scram_entry_new("pw", 4096, &real), 0);
	buf_init(&b, 256);
	assert_int_equal(scram_entry_format(&real, &b), 0);
	snprintf(users, sizeof(users), "alice@example.org\t$y$x\t%s\n", b.data);
	buf_cleanup(&b);
	a = userdb_new_from_text(users, strlen(users), NULL, 0, NULL, 0,
	    secret_a, &err);
	bdb = userdb_new_from_text(users, strlen(users), NULL, 0, NULL, 0,
	    secret_b, &err);
	assert_true(userdb_scram_lookup(a, "Alice@example.org", &e1));
	assert_memory_equal(e1.stored_key, real.stored_key, SCRAM_HASH_LEN);
	assert_false(userdb_scram_lookup(a, "x@example.org", &e1));
	assert_false(userdb_scram_lookup(a, "X@EXAMPLE.org", &e2));
	assert_false(userdb_scram_lookup(bdb, "x@example.org", &e3));
	assert_int_equal(e1.iterations, SCRAM_ITER_DEFAULT);
	assert_int_equal(e1.salt_len, SCRAM_SALT_LEN);
	/* Stable per name, different per server secret. */
	assert_memory_equal(e1.salt, e2.salt, SCRAM_SALT_LEN);
	assert_memory_not_equal(e1.salt, e3.salt, SCRAM_SALT_LEN);
	userdb_free(&a);
	userdb_free(&bdb);
}

/* ---- on disk ---- */

struct tmpdir {
	char	path[64];
};

static int
setup_dir(void **state)
{
	static struct tmpdir t;

	snprintf(t.path, sizeof(t.path), "/tmp/sealpost-userdb-XXXXXX");
	if (mkdtemp(t.path) == NULL)
		return -1;
	*state = &t;
	return 0;
}

static int
teardown_dir(void **state)
{
	struct tmpdir *t = *state;
	DIR *d = opendir(t->path);
	struct dirent *de;

	while (d != NULL && (de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		unlinkat(dirfd(d), de->d_name, 0);
	}
	if (d != NULL)
		closedir(d);
	rmdir(t->path);
	return 0;
}

static void
write_file(const char *dir, const char *name, const char *text)
{
	char p[256];
	FILE *f;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	f = fopen(p, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static char *
read_text(const char *dir, const char *name)
{
	static char text[65536];
	char p[256];
	size_t n;
	FILE *f;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	if ((f = fopen(p, "r")) == NULL)
		return NULL;
	n = fread(text, 1, sizeof(text) - 1, f);
	text[n] = '\0';
	fclose(f);
	return text;
}

static mode_t
file_mode(const char *dir, const char *name)
{
	char p[256];
	struct stat st;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	assert_int_equal(stat(p, &st), 0);
	return st.st_mode & 07777;
}

/* No temp files may be left behind by any edit. */
static void
assert_no_temp_files(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;

	assert_non_null(d);
	while ((de = readdir(d)) != NULL)
		if (strstr(de->d_name, ".tmp") != NULL ||
		    strstr(de->d_name, ".new") != NULL)
			fail_msg("leftover %s", de->d_name);
	closedir(d);
}

static void
test_userdb_open_creates_secret(void **state)
{
	struct tmpdir *t = *state;
	const char *err = NULL;
	struct userdb *db;
	char first[USERDB_SECRET_LEN];
	char p[256];
	FILE *f;

	db = userdb_open(t->path, &err);
	if (db == NULL)
		fail_msg("userdb_open: %s", err);
	assert_int_equal(userdb_count(db), 0);
	userdb_free(&db);
	assert_int_equal(file_mode(t->path, "secret"), 0600);
	snprintf(p, sizeof(p), "%s/secret", t->path);
	f = fopen(p, "rb");
	assert_non_null(f);
	assert_int_equal(fread(first, 1, sizeof(first), f), sizeof(first));
	assert_int_equal(fgetc(f), EOF);
	fclose(f);
	/* Reopening keeps the same secret. */
	db = userdb_open(t->path, &err);
	assert_non_null(db);
	userdb_free(&db);
	f = fopen(p, "rb");
	{
		char again[USERDB_SECRET_LEN];

		assert_int_equal(fread(again, 1, sizeof(again), f),
		    sizeof(again));
		assert_memory_equal(first, again, sizeof(first));
	}
	fclose(f);
	assert_no_temp_files(t->path);
	/* Any 32 bytes are a valid secret, NUL bytes included. */
	{
		static const char zeros[USERDB_SECRET_LEN];

		f = fopen(p, "wb");
		assert_non_null(f);
		assert_int_equal(fwrite(zeros, 1, sizeof(zeros), f),
		    sizeof(zeros));
		fclose(f);
		db = userdb_open(t->path, &err);
		if (db == NULL)
			fail_msg("userdb_open: %s", err);
		userdb_free(&db);
	}
	/* A damaged secret is an error, not silently replaced. */
	write_file(t->path, "secret", "short");
	assert_null(userdb_open(t->path, &err));
	assert_non_null(strstr(err, "secret"));
	assert_null(userdb_open("/nonexistent/sealpost", &err));
}

static void
test_userdb_refresh(void **state)
{
	struct tmpdir *t = *state;
	const char *err = NULL;
	struct userdb *db;

	write_file(t->path, "users", "alice@example.org\t$y$x\n");
	db = userdb_open(t->path, &err);
	assert_non_null(db);
	assert_int_equal(userdb_refresh(db), 0);
	assert_true(userdb_is_account(db, "alice@example.org"));

	/* A new file (new inode) is noticed. */
	write_file(t->path, "aliases.new", "pm@example.org: alice@example.org\n");
	{
		char a[256], b[256];

		snprintf(a, sizeof(a), "%s/aliases.new", t->path);
		snprintf(b, sizeof(b), "%s/aliases", t->path);
		assert_int_equal(rename(a, b), 0);
	}
	assert_int_equal(userdb_refresh(db), 1);
	assert_true(userdb_is_alias(db, "pm@example.org"));
	assert_int_equal(userdb_refresh(db), 0);

	/* A broken edit keeps the old data. */
	write_file(t->path, "users", "alice@example.org\t$y$x\nbroken line\n");
	assert_int_equal(userdb_refresh(db), -1);
	assert_true(userdb_is_account(db, "alice@example.org"));
	assert_true(userdb_is_alias(db, "pm@example.org"));

	/* Fixed: reloaded. */
	write_file(t->path, "users", "bob@example.org\t$y$x\n");
	assert_int_equal(userdb_refresh(db), 1);
	assert_false(userdb_is_account(db, "alice@example.org"));
	assert_true(userdb_is_account(db, "bob@example.org"));
	userdb_free(&db);
}

static void
test_userdb_edit_users(void **state)
{
	struct tmpdir *t = *state;
	const char *err = NULL;
	struct strlist l;
	struct userdb *db;
	char *text;

	write_file(t->path, "users", "# keep this comment\n");
	{
		char p[256];

		snprintf(p, sizeof(p), "%s/users", t->path);
		assert_int_equal(chmod(p, 0600), 0);
	}
	assert_int_equal(userdb_edit_user_add(t->path, domains, 2,
	    "Alice@Example.org", "pw-alice", &err), 0);
	assert_int_equal(userdb_edit_user_add(t->path, domains, 2,
	    "bob@example.net", "pw-bob", &err), 0);

	/* Refusals, each leaving the file as it was. */
	assert_int_equal(userdb_edit_user_add(t->path, domains, 2,
	    "alice@example.org", "x", &err), -1);
	assert_non_null(strstr(err, "already exists"));
	assert_int_equal(userdb_edit_user_add(t->path, domains, 2,
	    "eve@evil.test", "x", &err), -1);
	assert_non_null(strstr(err, "not one of the configured domains"));
	assert_int_equal(userdb_edit_user_add(t->path, domains, 2,
	    "no-at-sign", "x", &err), -1);
	assert_non_null(strstr(err, "malformed"));
	assert_int_equal(userdb_edit_user_add(t->path, domains, 2,
	    "x@example.org", "", &err), -1);
	assert_int_equal(userdb_edit_user_del(t->path, "nobody@example.org",
	    &err), -1);
	assert_int_equal(userdb_edit_user_passwd(t->path, "nobody@example.org",
	    "x", &err), -1);

	text = read_text(t->path, "users");
	assert_non_null(strstr(text, "# keep this comment\n"));
	assert_non_null(strstr(text, "alice@example.org\t$y$"));
	assert_non_null(strstr(text, "\tSCRAM-SHA-256$4096:"));
	assert_int_equal(file_mode(t->path, "users"), 0600);

	/* The daemon side reads what the editor wrote. */
	db = userdb_open(t->path, &err);
	assert_non_null(db);
	{
		struct auth_password_job *job = auth_password_job_new(db,
		    "alice@example.org", "pw-alice");

		auth_password_job_run(job);
		assert_true(auth_password_job_ok(job));
		auth_password_job_free(&job);
	}

	/* Password change keeps the mode an admin chose. */
	{
		char p[256];

		snprintf(p, sizeof(p), "%s/users", t->path);
		assert_int_equal(chmod(p, 0640), 0);
	}
	assert_int_equal(userdb_edit_user_passwd(t->path, "ALICE@example.org",
	    "pw-new", &err), 0);
	assert_int_equal(file_mode(t->path, "users"), 0640);
	assert_int_equal(userdb_refresh(db), 1);
	{
		struct auth_password_job *job = auth_password_job_new(db,
		    "alice@example.org", "pw-new");

		auth_password_job_run(job);
		assert_true(auth_password_job_ok(job));
		auth_password_job_free(&job);
	}

	/* APOP secret set, replaced, removed with the account. */
	assert_int_equal(userdb_edit_apop_set(t->path, "bob@example.net",
	    "s1", &err), 0);
	assert_int_equal(userdb_edit_apop_set(t->path, "bob@example.net",
	    "s2", &err), 0);
	assert_int_equal(file_mode(t->path, "apop"), 0600);
	assert_int_equal(userdb_edit_apop_set(t->path, "bob@example.net",
	    "has space", &err), -1);
	assert_int_equal(userdb_edit_apop_set(t->path, "nobody@example.net",
	    "s3", &err), -1);
	assert_string_equal(read_text(t->path, "apop"), "bob@example.net\ts2\n");
	assert_int_equal(userdb_refresh(db), 1);
	assert_string_equal(userdb_apop_secret(db, "bob@example.net"), "s2");

	strlist_init(&l);
	assert_int_equal(userdb_edit_user_list(t->path, &l, &err), 0);
	assert_string_equal(joined(&l), "alice@example.org bob@example.net");
	strlist_clear(&l);

	assert_int_equal(userdb_edit_user_del(t->path, "bob@example.net",
	    &err), 0);
	assert_string_equal(read_text(t->path, "apop"), "");
	assert_int_equal(userdb_edit_apop_clear(t->path, "bob@example.net",
	    &err), 0);
	assert_int_equal(userdb_refresh(db), 1);
	assert_false(userdb_is_account(db, "bob@example.net"));
	userdb_free(&db);
	assert_no_temp_files(t->path);
}

static void
test_userdb_edit_aliases(void **state)
{
	struct tmpdir *t = *state;
	const char *err = NULL;
	char *targets1[] = { "alice@example.org", "ext@remote.test" };
	char *targets2[] = { "EXT@remote.test", "bob@example.org" };
	char *bad_local[] = { "ghost@example.org" };
	char *self[] = { "list@example.org" };
	char *bad_addr[] = { "not an address" };
	struct strlist l;

	write_file(t->path, "users", "alice@example.org\t$y$x\n"
	    "bob@example.org\t$y$y\n");
	assert_int_equal(userdb_edit_alias_add(t->path, domains, 2,
	    "List@example.org", targets1, 2, &err), 0);
	assert_int_equal(file_mode(t->path, "aliases"), 0644);
	/* Merging: new targets appended once. */
	assert_int_equal(userdb_edit_alias_add(t->path, domains, 2,
	    "list@example.org", targets2, 2, &err), 0);
	assert_string_equal(read_text(t->path, "aliases"),
	    "list@example.org: alice@example.org, ext@remote.test, "
	    "bob@example.org\n");

	assert_int_equal(userdb_edit_alias_add(t->path, domains, 2,
	    "alice@example.org", targets1, 1, &err), -1);
	assert_non_null(strstr(err, "already an account"));
	assert_int_equal(userdb_edit_alias_add(t->path, domains, 2,
	    "x@example.org", bad_local, 1, &err), -1);
	assert_non_null(strstr(err, "neither an account nor an alias"));
	assert_int_equal(userdb_edit_alias_add(t->path, domains, 2,
	    "list@example.org", self, 1, &err), -1);
	assert_int_equal(userdb_edit_alias_add(t->path, domains, 2,
	    "x@elsewhere.test", targets1, 1, &err), -1);
	assert_int_equal(userdb_edit_alias_add(t->path, domains, 2,
	    "x@example.org", bad_addr, 1, &err), -1);
	assert_int_equal(userdb_edit_alias_add(t->path, domains, 2,
	    "x@example.org", targets1, 0, &err), -1);
	/* An account cannot be added over an alias. */
	assert_int_equal(userdb_edit_user_add(t->path, domains, 2,
	    "list@example.org", "pw", &err), -1);
	assert_non_null(strstr(err, "already an alias"));

	/* A chain deeper than USERDB_ALIAS_DEPTH is refused at creation. */
	for (int i = 0; i <= USERDB_ALIAS_DEPTH; i++) {
		char name[64], prev[64];
		char *tg[] = { prev };
		int rc;

		snprintf(name, sizeof(name), "c%d@example.org", i);
		if (i == 0)
			snprintf(prev, sizeof(prev), "alice@example.org");
		else
			snprintf(prev, sizeof(prev), "c%d@example.org", i - 1);
		rc = userdb_edit_alias_add(t->path, domains, 2, name, tg, 1,
		    &err);
		assert_int_equal(rc, i < USERDB_ALIAS_DEPTH ? 0 : -1);
	}
	assert_non_null(strstr(err, "nest deeper"));
	assert_int_equal(userdb_edit_alias_del(t->path, "ghost@example.org",
	    &err), -1);
	assert_int_equal(userdb_edit_alias_del(t->path, "c9@example.org",
	    &err), 0);
	strlist_init(&l);
	assert_int_equal(userdb_edit_alias_list(t->path, &l, &err), 0);
	assert_int_equal(l.n, 1 + USERDB_ALIAS_DEPTH - 1);
	assert_string_equal(l.v[l.n - 1],
	    "list@example.org: alice@example.org, ext@remote.test, "
	    "bob@example.org");
	strlist_clear(&l);
	assert_no_temp_files(t->path);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_userdb_addr_normalize),
		cmocka_unit_test(test_userdb_parse_and_lookup),
		cmocka_unit_test(test_userdb_rejects_malformed_files),
		cmocka_unit_test(test_userdb_resolve_aliases),
		cmocka_unit_test(test_userdb_resolve_depth_limit),
		cmocka_unit_test(test_userdb_expand_lists_aliases),
		cmocka_unit_test(test_userdb_derive_key),
		cmocka_unit_test(test_userdb_login_owns),
		cmocka_unit_test(test_userdb_apop),
		cmocka_unit_test(test_userdb_password_job),
		cmocka_unit_test(test_userdb_scram_lookup),
		cmocka_unit_test_setup_teardown(test_userdb_open_creates_secret,
		    setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_userdb_refresh,
		    setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_userdb_edit_users,
		    setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_userdb_edit_aliases,
		    setup_dir, teardown_dir),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
