/*
 * A cache of recently verified passwords, so a client that logs in again
 * and again (POP3 polling, SMTP submission) does not pay a yescrypt
 * verification (~20 ms of CPU) every time; Dovecot's auth_cache plays the
 * same role. See docs/performance.md for the security argument.
 *
 * What is kept is never a password: each entry is
 * HMAC-SHA-256(K, len(user) || user || len(hash) || hash || password),
 * with K 32 random bytes drawn per cache (per worker process), plus an
 * expiry time. The stored hash is part of the MAC, so a password change
 * (a new hash, with a new salt) misses every old entry. Only successful
 * verifications are remembered; a miss costs the caller the full hash, so
 * a wrong password is exactly as slow as before. Entries expire ttl
 * seconds after the verification that created them (a hit does not extend
 * them). The table is fixed-size (set-associative, least recently used
 * entry replaced) and wiped when freed.
 *
 * All calls are thread-safe (one mutex): the password jobs of one worker
 * run on its thread pool. Each worker process has its own cache.
 */
#ifndef SEALPOST_AUTH_CREDCACHE_H
#define SEALPOST_AUTH_CREDCACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Default table size: entries of 48 bytes (about 200 KiB). */
#define CREDCACHE_ENTRIES	4096

struct credcache;

/*
 * A cache whose entries live ttl_seconds, holding at most max_entries
 * (rounded up to a multiple of the associativity; 0 picks
 * CREDCACHE_ENTRIES). ttl_seconds == 0 returns NULL: caching off, and
 * every call below accepts a NULL cache (check says false, remember does
 * nothing). Free with credcache_free().
 */
struct credcache	*credcache_new(unsigned ttl_seconds, size_t max_entries);
/* Wipes every entry and the key; NULLs the pointer. */
void	credcache_free(struct credcache **);

/*
 * True when user verified password against the stored hash (crypt
 * string) less than ttl seconds ago and the entry is still held. An
 * expired entry found on the way is wiped. now_ms is a monotonic clock in
 * milliseconds (credcache_check() reads CLOCK_MONOTONIC; the _at form is
 * for tests).
 */
bool	credcache_check(struct credcache *, const char *user,
	    const char *hash, const char *password);
bool	credcache_check_at(struct credcache *, const char *user,
	    const char *hash, const char *password, uint64_t now_ms);
/*
 * Remembers that password is right for user with this stored hash. Call
 * only after a successful full verification against hash.
 */
void	credcache_remember(struct credcache *, const char *user,
	    const char *hash, const char *password);
void	credcache_remember_at(struct credcache *, const char *user,
	    const char *hash, const char *password, uint64_t now_ms);
/* Drops every entry (e.g. when accounts are reloaded). */
void	credcache_clear(struct credcache *);

/* Counters for tests and logs: live entries, hits and misses so far. */
size_t	credcache_count(struct credcache *);
uint64_t	credcache_hits(struct credcache *);
uint64_t	credcache_misses(struct credcache *);

#endif
