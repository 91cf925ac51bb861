/*
 * A per-process cache of DNS answers, so that the mail of one sender
 * domain costs its MX, SPF and _dmarc round trips once per TTL, not once
 * per message. What is kept is the server's answer as it came off the
 * wire (the resolver parses a cached answer exactly as a fresh one), with
 * the status c-ares gave it and an expiry:
 *
 *   - an answer with records lives as long as its smallest TTL (RFC 1035
 *     3.2.1, RFC 2181 8: a TTL with the top bit set counts as 0), at most
 *     DNS_CACHE_MAX_TTL;
 *   - NXDOMAIN and NODATA live as long as the SOA of the authority
 *     section says (RFC 2308 5: the smaller of the SOA record's TTL and
 *     its MINIMUM field), at most DNS_CACHE_MAX_NEG_TTL; without an SOA
 *     they are not cached (RFC 2308 5 again);
 *   - TTL 0, failures (SERVFAIL, timeouts, malformed answers) and answers
 *     over DNS_CACHE_MAX_ANSWER bytes are never cached.
 *
 * The table holds at most max_entries answers (config `dns_cache_size`);
 * when full, the least recently used one goes. Names compare without
 * regard to ASCII case (RFC 4343). Not thread-safe: one cache belongs to
 * one resolver on one event loop.
 */
#ifndef SEALPOST_DNS_DNSCACHE_H
#define SEALPOST_DNS_DNSCACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DNS_CACHE_MAX_TTL	3600	/* seconds, positive answers */
#define DNS_CACHE_MAX_NEG_TTL	900	/* seconds, NXDOMAIN / NODATA */
#define DNS_CACHE_MAX_ANSWER	4096	/* bytes of one cached answer */

/* What an answer says, as far as caching is concerned. */
enum dns_cache_kind {
	DNS_CACHE_POSITIVE,	/* NOERROR with records */
	DNS_CACHE_NEGATIVE,	/* NXDOMAIN, or NOERROR without records */
};

struct dns_cache;

/* A cache of at most max_entries answers; 0 returns NULL (caching off).
 * Every call below accepts a NULL cache. */
struct dns_cache	*dns_cache_new(size_t max_entries);
void			 dns_cache_free(struct dns_cache **);

/*
 * How many seconds the answer abuf (alen bytes) may be kept, capped as
 * above; 0 when it must not be cached (no usable TTL, malformed, or a
 * negative answer without an SOA). Bounded walk: never reads past alen.
 */
uint32_t	dns_answer_ttl(const unsigned char *abuf, size_t alen,
		    enum dns_cache_kind);

/*
 * Remembers the answer for (name, qtype) with the caller's status code
 * until now + ttl (seconds on a monotonic clock); ttl 0 or an answer
 * over DNS_CACHE_MAX_ANSWER does nothing. Replaces an older entry.
 */
void	dns_cache_put(struct dns_cache *, const char *name, unsigned qtype,
	    int status, const unsigned char *abuf, size_t alen, uint32_t ttl,
	    uint64_t now);

/*
 * On a live entry for (name, qtype): true, *status set, and a copy of the
 * answer in *abuf (malloc'd, the caller frees) of *alen bytes. An expired
 * entry is dropped and false returned.
 */
bool	dns_cache_get(struct dns_cache *, const char *name, unsigned qtype,
	    uint64_t now, int *status, unsigned char **abuf, size_t *alen);

/* Entries held (tests, logs). */
size_t	dns_cache_count(const struct dns_cache *);

#endif
