/*
 * The daemon's view of the user database: loading, change detection,
 * lookups, alias expansion and the off-loop password job; see userdb.h.
 * Editing lives in userdb_edit.c, parsing in userdb_data.c.
 */
#include "auth/userdb.h"
#include "auth/userdb_private.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth/credcache.h"
#include "auth/hash.h"
#include "auth/scram.h"
#include "core/buf.h"
#include "core/log.h"
#include "core/str.h"
#include "core/strlist.h"
#include "core/xmalloc.h"

/* What identifies one version of a file, to notice edits. */
struct ud_filestat {
	bool		exists;
	dev_t		dev;
	ino_t		ino;
	off_t		size;
	struct timespec	mtime;
	struct timespec	ctime;
};

enum { UD_F_USERS, UD_F_ALIASES, UD_F_APOP, UD_F_COUNT };
static const char *const ud_file_names[UD_F_COUNT] = {
	UD_USERS, UD_ALIASES, UD_APOP
};

struct userdb {
	char			*data_dir;	/* NULL when built from text */
	struct ud_data		 d;
	struct ud_filestat	 fs[UD_F_COUNT];
	unsigned char		 secret[USERDB_SECRET_LEN];
	struct credcache	*cache;		/* owned; NULL = no caching */
};

static void
filestat_from(struct ud_filestat *fs, const struct stat *st, bool exists)
{
	memset(fs, 0, sizeof(*fs));
	if (!exists)
		return;
	fs->exists = true;
	fs->dev = st->st_dev;
	fs->ino = st->st_ino;
	fs->size = st->st_size;
	fs->mtime = st->st_mtim;
	fs->ctime = st->st_ctim;
}

static bool
filestat_equal(const struct ud_filestat *a, const struct ud_filestat *b)
{
	if (a->exists != b->exists)
		return false;
	if (!a->exists)
		return true;
	return a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
	    a->mtime.tv_sec == b->mtime.tv_sec &&
	    a->mtime.tv_nsec == b->mtime.tv_nsec &&
	    a->ctime.tv_sec == b->ctime.tv_sec &&
	    a->ctime.tv_nsec == b->ctime.tv_nsec;
}

/* Reads and parses the three files into *d, recording what was read. */
static int
load_files(const char *dir, struct ud_data *d, struct ud_filestat *fs,
    const char **errstr)
{
	static int (*const parse[UD_F_COUNT])(struct ud_data *, const char *,
	    size_t, const char **) = {
		ud_parse_users, ud_parse_aliases, ud_parse_apop
	};
	struct buf b;

	memset(d, 0, sizeof(*d));
	buf_init(&b, USERDB_FILE_MAX);
	for (int i = 0; i < UD_F_COUNT; i++) {
		struct stat st;
		bool exists;

		buf_reset(&b);
		if (ud_file_read(dir, ud_file_names[i], true, &b, &st, &exists,
		    errstr) == -1 ||
		    parse[i](d, b.data == NULL ? "" : b.data, b.len,
		    errstr) == -1) {
			buf_wipe(&b);
			ud_data_free(d);
			return -1;
		}
		filestat_from(&fs[i], &st, exists);
	}
	buf_wipe(&b);
	return 0;
}

/*
 * Reads data_dir/secret, creating it first if absent. It is created under
 * a temporary name and link()ed into place, so two processes racing to
 * create it agree on one secret and nobody ever reads a short file.
 */
static int
load_secret(const char *dir, unsigned char *secret, const char **errstr)
{
	struct buf b;
	bool exists;
	int rc = -1;

	buf_init(&b, USERDB_SECRET_LEN + 1);
	if (ud_file_read(dir, UD_SECRET, false, &b, NULL, &exists,
	    errstr) == -1) {
		if (b.len > USERDB_SECRET_LEN)
			*errstr = ud_err("%s/" UD_SECRET ": expected %d bytes",
			    dir, USERDB_SECRET_LEN);
		goto out;
	}
	if (!exists) {
		char path[4096], tmp[4096], tmpname[64];
		unsigned char fresh[USERDB_SECRET_LEN];
		int n = snprintf(path, sizeof(path), "%s/" UD_SECRET, dir);
		int n2 = snprintf(tmpname, sizeof(tmpname), "." UD_SECRET
		    ".new.%ld", (long)getpid());
		int n3 = snprintf(tmp, sizeof(tmp), "%s/%s", dir, tmpname);
		int rnd = RAND_bytes(fresh, sizeof(fresh));

		if (n < 0 || (size_t)n >= sizeof(path) || n2 < 0 ||
		    (size_t)n2 >= sizeof(tmpname) || n3 < 0 ||
		    (size_t)n3 >= sizeof(tmp) || rnd != 1) {
			*errstr = ud_err("%s/" UD_SECRET ": cannot create",
			    dir);
			goto out;
		}
		n = ud_file_replace(dir, tmpname, fresh, sizeof(fresh), 0600,
		    errstr);
		explicit_bzero(fresh, sizeof(fresh));
		if (n == -1)
			goto out;
		/* link() never replaces: a racing creator's secret wins. */
		if (link(tmp, path) == -1 && errno != EEXIST) {
			*errstr = ud_err("link(%s, %s): %s", tmp, path,
			    strerror(errno));
			unlink(tmp);
			goto out;
		}
		unlink(tmp);
		buf_reset(&b);
		if (ud_file_read(dir, UD_SECRET, false, &b, NULL, &exists,
		    errstr) == -1)
			goto out;
	}
	if (b.len != USERDB_SECRET_LEN) {
		*errstr = ud_err("%s/" UD_SECRET ": expected %d bytes", dir,
		    USERDB_SECRET_LEN);
		goto out;
	}
	memcpy(secret, b.data, USERDB_SECRET_LEN);
	rc = 0;
out:
	buf_wipe(&b);
	return rc;
}

struct userdb *
userdb_open(const char *data_dir, const char **errstr)
{
	struct userdb *db = xcalloc(1, sizeof(*db));
	struct stat st;

	if (stat(data_dir, &st) == -1 || !S_ISDIR(st.st_mode)) {
		*errstr = ud_err("%s: not a directory", data_dir);
		free(db);
		return NULL;
	}
	db->data_dir = xstrdup(data_dir);
	if (load_secret(data_dir, db->secret, errstr) == -1 ||
	    load_files(data_dir, &db->d, db->fs, errstr) == -1) {
		userdb_free(&db);
		return NULL;
	}
	(void)hash_dummy();
	return db;
}

struct userdb *
userdb_new_from_text(const char *users, size_t users_len, const char *aliases,
    size_t aliases_len, const char *apop, size_t apop_len,
    const unsigned char *secret, const char **errstr)
{
	struct userdb *db = xcalloc(1, sizeof(*db));

	if (secret != NULL)
		memcpy(db->secret, secret, USERDB_SECRET_LEN);
	if (ud_parse_users(&db->d, users == NULL ? "" : users, users_len,
	    errstr) == -1 ||
	    ud_parse_aliases(&db->d, aliases == NULL ? "" : aliases,
	    aliases_len, errstr) == -1 ||
	    ud_parse_apop(&db->d, apop == NULL ? "" : apop, apop_len,
	    errstr) == -1) {
		userdb_free(&db);
		return NULL;
	}
	return db;
}

int
userdb_refresh(struct userdb *db)
{
	struct ud_filestat fs[UD_F_COUNT];
	struct ud_data d;
	const char *errstr;
	bool changed = false;

	if (db->data_dir == NULL)
		return 0;
	for (int i = 0; i < UD_F_COUNT; i++) {
		char path[4096];
		struct stat st;
		int n = snprintf(path, sizeof(path), "%s/%s", db->data_dir,
		    ud_file_names[i]);
		bool exists;

		if (n < 0 || (size_t)n >= sizeof(path))
			return -1;
		exists = stat(path, &st) == 0;
		filestat_from(&fs[i], &st, exists);
		if (!filestat_equal(&fs[i], &db->fs[i]))
			changed = true;
	}
	if (!changed)
		return 0;
	if (load_files(db->data_dir, &d, fs, &errstr) == -1) {
		log_error("userdb event=reload-failed error=\"%s\" "
		    "action=keeping-old-data", errstr);
		return -1;
	}
	ud_data_free(&db->d);
	db->d = d;
	memcpy(db->fs, fs, sizeof(fs));
	log_info("userdb event=reloaded accounts=%zu aliases=%zu",
	    db->d.n_acct, db->d.n_alias);
	return 1;
}

void
userdb_free(struct userdb **dbp)
{
	struct userdb *db = *dbp;

	if (db == NULL)
		return;
	ud_data_free(&db->d);
	credcache_free(&db->cache);
	free(db->data_dir);
	explicit_bzero(db->secret, sizeof(db->secret));
	free(db);
	*dbp = NULL;
}

size_t
userdb_count(const struct userdb *db)
{
	return db->d.n_acct;
}

/* Normalizes addr into key; false when it cannot be any entry's address. */
static bool
make_key(const char *addr, char key[USERDB_ADDR_MAX + 1])
{
	return userdb_addr_normalize(addr, key, USERDB_ADDR_MAX + 1) == 0;
}

bool
userdb_is_account(const struct userdb *db, const char *addr)
{
	char key[USERDB_ADDR_MAX + 1];

	return make_key(addr, key) && ud_find_account(&db->d, key) != NULL;
}

bool
userdb_is_alias(const struct userdb *db, const char *addr)
{
	char key[USERDB_ADDR_MAX + 1];

	return make_key(addr, key) && ud_find_alias(&db->d, key) != NULL;
}

/*
 * Expands alias a at nesting level depth. seen holds every alias already
 * expanded, so loops end and each alias contributes once. Returns 0, or
 * -2 when the chain is too deep.
 */
static int
expand_alias(const struct ud_data *d, const struct ud_alias *a,
    unsigned depth, struct strlist *seen, struct strlist *local,
    struct strlist *remote)
{
	for (size_t i = 0; i < a->targets.n; i++) {
		const char *t = a->targets.v[i];
		const struct ud_alias *sub;

		if (ud_find_account(d, t) != NULL)
			strlist_add_unique(local, t);
		else if ((sub = ud_find_alias(d, t)) != NULL) {
			if (strlist_contains(seen, t))
				continue;
			if (depth + 1 > USERDB_ALIAS_DEPTH)
				return -2;
			strlist_add(seen, t);
			if (expand_alias(d, sub, depth + 1, seen, local,
			    remote) == -2)
				return -2;
		} else
			strlist_add_unique(remote, t);
	}
	return 0;
}

int
userdb_expand(const struct userdb *db, const char *addr,
    struct strlist *local, struct strlist *remote, struct strlist *aliases)
{
	char key[USERDB_ADDR_MAX + 1];
	const struct ud_alias *a;
	struct strlist seen, l, r;
	int rc;

	if (!make_key(addr, key))
		return -1;
	if (ud_find_account(&db->d, key) != NULL) {
		strlist_add_unique(local, key);
		return 0;
	}
	if ((a = ud_find_alias(&db->d, key)) == NULL)
		return -1;
	strlist_init(&seen);
	strlist_init(&l);
	strlist_init(&r);
	strlist_add(&seen, key);
	rc = expand_alias(&db->d, a, 1, &seen, &l, &r);
	if (rc == 0 && l.n == 0 && r.n == 0)
		rc = -2;
	if (rc == 0) {
		for (size_t i = 0; i < l.n; i++)
			strlist_add_unique(local, l.v[i]);
		for (size_t i = 0; i < r.n; i++)
			strlist_add_unique(remote, r.v[i]);
		for (size_t i = 0; aliases != NULL && i < seen.n; i++)
			strlist_add_unique(aliases, seen.v[i]);
	}
	strlist_clear(&seen);
	strlist_clear(&l);
	strlist_clear(&r);
	return rc;
}

int
userdb_resolve(const struct userdb *db, const char *addr,
    struct strlist *local, struct strlist *remote)
{
	return userdb_expand(db, addr, local, remote, NULL);
}

void
userdb_derive_key(const struct userdb *db, const char *label,
    unsigned char out[USERDB_SECRET_LEN])
{
	scram_hmac_sha256(db->secret, sizeof(db->secret), label,
	    strlen(label), out);
}

bool
userdb_login_owns(const struct userdb *db, const char *login,
    const char *addr)
{
	char lkey[USERDB_ADDR_MAX + 1], akey[USERDB_ADDR_MAX + 1];
	struct strlist local, remote;
	bool owns;

	if (!make_key(login, lkey) || !make_key(addr, akey) ||
	    ud_find_account(&db->d, lkey) == NULL)
		return false;
	if (strcmp(lkey, akey) == 0)
		return true;
	if (ud_find_account(&db->d, akey) != NULL)
		return false;
	strlist_init(&local);
	strlist_init(&remote);
	owns = userdb_resolve(db, akey, &local, &remote) == 0 &&
	    strlist_contains(&local, lkey);
	strlist_clear(&local);
	strlist_clear(&remote);
	return owns;
}

const char *
userdb_apop_secret(const struct userdb *db, const char *addr)
{
	char key[USERDB_ADDR_MAX + 1];
	const struct ud_apop *p;

	if (!make_key(addr, key) || ud_find_account(&db->d, key) == NULL)
		return NULL;
	p = ud_find_apop(&db->d, key);
	return p == NULL ? NULL : p->secret;
}

/* HMAC(secret, label ":" name), for values that must look real but are not. */
static void
derive_fake(const struct userdb *db, const char *label, const char *name,
    unsigned char out[SCRAM_HASH_LEN])
{
	struct buf b;

	buf_init(&b, 64 + 1024);
	if (buf_printf(&b, "%s:%.1024s", label, name) == -1)
		buf_append_str(&b, label);
	scram_hmac_sha256(db->secret, sizeof(db->secret), b.data, b.len, out);
	buf_cleanup(&b);
}

bool
userdb_apop_verify(const struct userdb *db, const char *addr,
    const char *timestamp, const char *digest_hex)
{
	unsigned char md[EVP_MAX_MD_SIZE], fake[SCRAM_HASH_LEN];
	char hex[2 * 16 + 1], given[2 * 16 + 1];
	char fake_hex[2 * SCRAM_HASH_LEN + 1];
	const char *secret = userdb_apop_secret(db, addr);
	unsigned int mdlen = 0;
	bool ok = secret != NULL;
	EVP_MD_CTX *ctx;

	if (secret == NULL) {
		derive_fake(db, "apop", addr, fake);
		for (size_t i = 0; i < sizeof(fake); i++)
			snprintf(fake_hex + 2 * i, 3, "%02x", fake[i]);
		secret = fake_hex;
	}
	/* RFC 1939 7: MD5(timestamp || secret), as 32 lower-case hex digits. */
	if ((ctx = EVP_MD_CTX_new()) == NULL)
		fatal("userdb: out of memory");
	if (EVP_DigestInit_ex(ctx, EVP_md5(), NULL) != 1 ||
	    EVP_DigestUpdate(ctx, timestamp, strlen(timestamp)) != 1 ||
	    EVP_DigestUpdate(ctx, secret, strlen(secret)) != 1 ||
	    EVP_DigestFinal_ex(ctx, md, &mdlen) != 1 || mdlen != 16)
		ok = false;
	EVP_MD_CTX_free(ctx);
	for (size_t i = 0; i < 16; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	if (strlen(digest_hex) != 32 ||
	    str_copy(given, sizeof(given), str_view_from(digest_hex)) == -1)
		ok = false;
	else {
		str_lower(given);
		if (!scram_mem_equal(hex, given, 32))
			ok = false;
	}
	explicit_bzero(md, sizeof(md));
	explicit_bzero(fake_hex, sizeof(fake_hex));
	return ok;
}

bool
userdb_scram_lookup(const struct userdb *db, const char *user,
    struct scram_entry *out)
{
	char key[USERDB_ADDR_MAX + 1];
	const struct ud_account *a = NULL;
	unsigned char salt[SCRAM_HASH_LEN];

	if (make_key(user, key))
		a = ud_find_account(&db->d, key);
	if (a != NULL && a->has_scram) {
		*out = a->scram;
		return true;
	}
	/*
	 * RFC 5802 9 leaves unknown users to the server; a stable fake salt
	 * keyed by our secret makes them indistinguishable from real ones
	 * until the proof fails. Keyed on the normalized name when there is
	 * one so "Bob@x" and "bob@x" get the same salt, as a real user would.
	 */
	if (key[0] != '\0')
		user = key;
	memset(out, 0, sizeof(*out));
	out->iterations = SCRAM_ITER_DEFAULT;
	out->salt_len = SCRAM_SALT_LEN;
	derive_fake(db, "scram-salt", user, salt);
	memcpy(out->salt, salt, SCRAM_SALT_LEN);
	derive_fake(db, "scram-stored", user, out->stored_key);
	derive_fake(db, "scram-server", user, out->server_key);
	return false;
}

void
userdb_set_credcache(struct userdb *db, struct credcache *cache)
{
	credcache_free(&db->cache);
	db->cache = cache;
}

struct credcache *
userdb_credcache(const struct userdb *db)
{
	return db->cache;
}

struct auth_password_job {
	char		 login[USERDB_ADDR_MAX + 1];
	char		*password;
	char		 hash[HASH_MAX];
	struct credcache *cache;	/* the userdb's, may be NULL */
	bool		 must_fail;	/* unknown user or disabled account */
	bool		 ok;
};

struct auth_password_job *
auth_password_job_new(const struct userdb *db, const char *login,
    const char *password)
{
	struct auth_password_job *job = xcalloc(1, sizeof(*job));
	const struct ud_account *a = NULL;
	int n;

	if (make_key(login, job->login))
		a = ud_find_account(&db->d, job->login);
	n = a == NULL || !hash_is_supported(a->hash) ? -1 :
	    snprintf(job->hash, sizeof(job->hash), "%s", a->hash);
	if (n < 0 || (size_t)n >= sizeof(job->hash)) {
		/* Same work as a real check, then a failure. */
		snprintf(job->hash, sizeof(job->hash), "%s", hash_dummy());
		job->must_fail = true;
	}
	job->password = xstrdup(password);
	job->cache = db->cache;
	return job;
}

void
auth_password_job_run(struct auth_password_job *job)
{
	bool ok;

	/*
	 * The cache is asked for every attempt, unknown users too (their
	 * dummy hash is never remembered, so they always miss), and a miss
	 * pays the full yescrypt verification: only a password verified
	 * right before is faster, and the client learns nothing from that
	 * it does not already know. Failures are never remembered.
	 */
	if (credcache_check(job->cache, job->login, job->hash,
	    job->password)) {
		job->ok = !job->must_fail;
		return;
	}
	ok = hash_verify(job->password, job->hash);
	job->ok = ok && !job->must_fail;
	if (job->ok)
		credcache_remember(job->cache, job->login, job->hash,
		    job->password);
}

bool
auth_password_job_ok(const struct auth_password_job *job)
{
	return job->ok;
}

const char *
auth_password_job_login(const struct auth_password_job *job)
{
	return job->login;
}

void
auth_password_job_free(struct auth_password_job **jobp)
{
	struct auth_password_job *job = *jobp;

	if (job == NULL)
		return;
	if (job->password != NULL) {
		explicit_bzero(job->password, strlen(job->password));
		free(job->password);
	}
	explicit_bzero(job, sizeof(*job));
	free(job);
	*jobp = NULL;
}
