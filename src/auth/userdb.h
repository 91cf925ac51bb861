/*
 * The user database: accounts, aliases and APOP secrets, read from flat
 * files under data_dir and kept in memory for lookups.
 *
 *   users    address<TAB>yescrypt-hash[<TAB>RFC 5803 SCRAM-SHA-256 entry]
 *   aliases  address: target, target ...     (commas and/or spaces)
 *   apop     address<TAB>secret               (POP3 APOP, RFC 1939 7)
 *   secret   32 random bytes: HMAC key for fake SCRAM salts
 *
 * `#` starts a comment line; blank lines are ignored. Addresses are
 * `local@domain`, stored and compared lower-cased. A malformed file is
 * rejected as a whole (never half-loaded), with "FILE:LINE: message".
 *
 * Reading (userdb_open, lookups, refresh) is for the daemon: one struct
 * per process, used on its loop thread; only auth_password_job_run() runs
 * elsewhere and it touches no userdb memory but the (locked) credential
 * cache. Editing (userdb_edit_*) is
 * for the admin command: each call locks data_dir, rewrites one file
 * atomically (temp file, fsync, rename, fsync dir) keeping the old file's
 * owner, group and mode, and never leaves a half-written file.
 */
#ifndef SEALPOST_AUTH_USERDB_H
#define SEALPOST_AUTH_USERDB_H

#include <stdbool.h>
#include <stddef.h>

struct buf;
struct credcache;
struct scram_entry;
struct strlist;
struct userdb;

/* Longest address accepted anywhere (RFC 5321 4.5.3.1.3 path minus <>). */
#define USERDB_ADDR_MAX		254
/* Alias chains longer than this are a configuration error. */
#define USERDB_ALIAS_DEPTH	10
/* Largest users/aliases/apop file read. */
#define USERDB_FILE_MAX		(64u * 1024 * 1024)
#define USERDB_SECRET_LEN	32

/*
 * Lower-cases and checks an address: exactly one '@', non-empty local part
 * and domain, at most USERDB_ADDR_MAX bytes, printable ASCII without
 * spaces, ':', ',', '#', '<', '>', '"', '\\'. Writes the canonical form to
 * out (size outsz). Returns 0, or -1 when malformed or it does not fit.
 */
int	userdb_addr_normalize(const char *addr, char *out, size_t outsz);
/* Returns a pointer to the domain part of a normalized address. */
const char	*userdb_addr_domain(const char *addr);
/* True when domain (any case) is one of domains[0..n-1]. */
bool	userdb_domain_listed(char *const *domains, size_t n,
	    const char *domain);

/*
 * Loads data_dir/{users,aliases,apop} (a missing file counts as empty)
 * and data_dir/secret (created with 32 random bytes, mode 0600, if
 * absent). Also computes hash_dummy() so no password job pays for it.
 * Returns NULL with *errstr set on failure (text valid until the next
 * userdb call). The result is freed with userdb_free().
 */
struct userdb	*userdb_open(const char *data_dir, const char **errstr);
/*
 * Builds a database from file contents in memory, without touching disk
 * (tests, fuzzing). Any text may be NULL (empty). secret may be NULL (all
 * zero key). Returns NULL with *errstr set when a text is malformed.
 */
struct userdb	*userdb_new_from_text(const char *users, size_t users_len,
	    const char *aliases, size_t aliases_len, const char *apop,
	    size_t apop_len, const unsigned char *secret, const char **errstr);
/*
 * Reloads users, aliases and apop if any of them changed (inode, size or
 * mtime). Returns 1 when reloaded, 0 when nothing changed, -1 on error:
 * the old data stays in use and the problem is logged. Pointers returned
 * by earlier lookups are invalid after a return of 1.
 */
int	userdb_refresh(struct userdb *);
void	userdb_free(struct userdb **);

/* Number of accounts. */
size_t	userdb_count(const struct userdb *);
/* True when addr (any case) is an account. */
bool	userdb_is_account(const struct userdb *, const char *addr);
/* True when addr (any case) is an alias. */
bool	userdb_is_alias(const struct userdb *, const char *addr);
/*
 * Expands addr into the accounts (local) and non-local addresses (remote)
 * that receive its mail, appending lower-cased addresses to both lists
 * (which the caller owns, initialized). An account is itself; an alias
 * expands recursively, each target once: a target that is an account
 * receives the mail, a target that is an alias expands in turn, any other
 * target is remote (the CLI refuses targets in local domains that are
 * neither, so these are really remote). If a name is both an account and
 * an alias, the account wins.
 * Returns 0; -1 when addr is neither account nor alias (lists untouched);
 * -2 when expansion passes USERDB_ALIAS_DEPTH levels or yields nobody
 * (an alias loop): a configuration error, lists untouched.
 */
int	userdb_resolve(const struct userdb *, const char *addr,
	    struct strlist *local, struct strlist *remote);
/*
 * userdb_resolve(), and also appends to aliases (when not NULL) every
 * alias the expansion went through, addr first: the addresses a
 * forwarded copy has been "delivered to" (loop detection,
 * docs/outbound.md). Same return values; lists untouched on error.
 */
int	userdb_expand(const struct userdb *, const char *addr,
	    struct strlist *local, struct strlist *remote,
	    struct strlist *aliases);
/*
 * A key for another purpose derived from the instance secret
 * (data_dir/secret, made by `sealpost init` or on first start, 0600):
 * HMAC-SHA256(secret, label), USERDB_SECRET_LEN bytes into out. Distinct
 * labels give independent keys; the caller wipes out after use.
 */
void	userdb_derive_key(const struct userdb *, const char *label,
	    unsigned char out[USERDB_SECRET_LEN]);
/*
 * True when the account login may use addr as its sender: addr is login,
 * or addr is an alias whose expansion delivers to login.
 */
bool	userdb_login_owns(const struct userdb *, const char *login,
	    const char *addr);
/*
 * The APOP secret of account addr, or NULL when it has none. Valid until
 * the next userdb_refresh()/userdb_free(); copy it, wipe the copy.
 */
const char	*userdb_apop_secret(const struct userdb *, const char *addr);
/*
 * Checks a POP3 APOP digest (RFC 1939 7: lower-case hex MD5 of the
 * greeting's timestamp followed by the secret). Unknown users and users
 * without a secret are checked against a dummy secret so they take the
 * same path. The compare is constant-time.
 */
bool	userdb_apop_verify(const struct userdb *, const char *addr,
	    const char *timestamp, const char *digest_hex);
/*
 * Fills *out with the SCRAM-SHA-256 entry of account user and returns
 * true; for an unknown user, or an account without a SCRAM entry, fills
 * *out with a fake entry (salt = HMAC(secret, user), SCRAM_ITER_DEFAULT
 * iterations, keys no proof can match) and returns false, so the exchange
 * looks the same up to the proof step, the same on every connection.
 */
bool	userdb_scram_lookup(const struct userdb *, const char *user,
	    struct scram_entry *out);

/*
 * Gives db a cache of verified passwords (auth/credcache.h; NULL = none),
 * which db then owns and frees; a previous cache is freed. Password jobs
 * hold a pointer to it: free the db only after its jobs are done (the
 * worker never frees its db before its thread pool).
 */
void	userdb_set_credcache(struct userdb *, struct credcache *);
/* db's cache, or NULL (for counters and tests). */
struct credcache	*userdb_credcache(const struct userdb *);

/*
 * A password check that runs off the event loop. _new() runs on the loop
 * thread: it copies the login, the password and the stored hash (or the
 * dummy hash for an unknown user) so _run() never touches the userdb.
 * _run() does the slow yescrypt verify on a pool thread, unless db's
 * credential cache remembers this user, stored hash and password as
 * verified (then it is quick); a verified password is remembered. _ok() and
 * _login() read the result afterwards on the loop thread: _login() is the
 * canonical (lower-cased) account name, valid until _free(). _free()
 * wipes the password and NULLs the pointer.
 */
struct auth_password_job;
struct auth_password_job	*auth_password_job_new(const struct userdb *,
	    const char *login, const char *password);
void	auth_password_job_run(struct auth_password_job *);
bool	auth_password_job_ok(const struct auth_password_job *);
const char	*auth_password_job_login(const struct auth_password_job *);
void	auth_password_job_free(struct auth_password_job **);

/*
 * Editing, for `sealpost user` / `sealpost alias`. Each returns 0, or -1
 * with *errstr set to a message fit for the admin (valid until the next
 * userdb call). domains/n_domains is the config's list of local domains.
 */
/* Adds an account; refuses malformed addresses, domains not listed,
 * existing accounts and existing aliases. The password is hashed with
 * yescrypt and SCRAM-SHA-256 (SCRAM_ITER_DEFAULT). */
int	userdb_edit_user_add(const char *data_dir, char *const *domains,
	    size_t n_domains, const char *addr, const char *password,
	    const char **errstr);
/* Deletes an account and its APOP secret; refuses unknown accounts. */
int	userdb_edit_user_del(const char *data_dir, const char *addr,
	    const char **errstr);
/* Replaces an existing account's hashes. */
int	userdb_edit_user_passwd(const char *data_dir, const char *addr,
	    const char *password, const char **errstr);
/* Appends every account address, sorted, to out (caller-owned). */
int	userdb_edit_user_list(const char *data_dir, struct strlist *out,
	    const char **errstr);
/*
 * Adds targets to alias addr (creating it, or merging into an existing
 * alias without duplicates). Refuses addr that is an account, addr not in
 * a local domain, malformed targets, a target equal to addr, and targets
 * in local domains that are neither account nor alias.
 */
int	userdb_edit_alias_add(const char *data_dir, char *const *domains,
	    size_t n_domains, const char *addr, char *const *targets,
	    size_t n_targets, const char **errstr);
int	userdb_edit_alias_del(const char *data_dir, const char *addr,
	    const char **errstr);
/* Appends one "address: target, target" line per alias, sorted. */
int	userdb_edit_alias_list(const char *data_dir, struct strlist *out,
	    const char **errstr);
/* Sets (replacing) the APOP secret of an existing account; the secret
 * must be 1..255 printable non-space characters. */
int	userdb_edit_apop_set(const char *data_dir, const char *addr,
	    const char *secret, const char **errstr);
/* Removes the APOP secret of addr; no error when it had none. */
int	userdb_edit_apop_clear(const char *data_dir, const char *addr,
	    const char **errstr);

#endif
