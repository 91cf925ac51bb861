/*
 * Asynchronous DNS lookups on c-ares, driven by a libevent loop: the
 * resolver watches c-ares's sockets and its retransmission timer with
 * events, so a worker never blocks on DNS. One query asks one name for
 * one type (no search list, no /etc/hosts) and reports OK, NXDOMAIN,
 * NODATA or TEMPFAIL, which is what mail policy needs to tell "this
 * domain does not exist" from "ask again later".
 */
#ifndef SEALPOST_DNS_RESOLVER_H
#define SEALPOST_DNS_RESOLVER_H

#include <stddef.h>
#include <stdint.h>

struct config;
struct event_base;
struct resolver;
struct dns_query;

enum dns_type {
	DNS_A,
	DNS_AAAA,
	DNS_MX,
	DNS_TXT,
	DNS_PTR,
};

enum dns_status {
	DNS_OK,		/* at least one record of the type */
	DNS_NXDOMAIN,	/* the name does not exist (RCODE 3) */
	DNS_NODATA,	/* the name exists, no record of this type */
	DNS_TEMPFAIL,	/* SERVFAIL, REFUSED, timeout, bad reply, no server */
};

/* Limits that keep a hostile answer from costing more than this. */
#define DNS_MAX_RR	64	/* records kept per answer */
#define DNS_NAME_MAX	255	/* RFC 1035 2.3.4, text form + NUL */
#define DNS_TXT_MAX	4096	/* one TXT record's strings joined */

struct dns_rr {
	int		 family;	/* A/AAAA: AF_INET or AF_INET6 */
	unsigned char	 addr[16];	/* A: 4 bytes, AAAA: 16 */
	unsigned	 pref;		/* MX preference */
	/*
	 * MX exchange or PTR name (no trailing dot; "" for the root, as in
	 * a null MX), or a TXT record's character-strings concatenated
	 * (RFC 7208 3.3) and NUL-terminated; text_len excludes the NUL.
	 */
	char		*text;
	size_t		 text_len;
};

struct dns_result {
	enum dns_status	 status;
	enum dns_type	 type;
	const char	*name;		/* the name that was asked */
	const char	*error;		/* static text for TEMPFAIL, else NULL */
	size_t		 n;		/* records in rr (0 unless DNS_OK) */
	struct dns_rr	*rr;
};

/*
 * Called once on the loop thread with the answer; the result and all it
 * points to are valid only during the call. Not called after
 * dns_query_cancel() or once the resolver is freed.
 */
typedef void	(*dns_callback)(void *arg, const struct dns_result *);

/*
 * A resolver asking cfg->dns_servers (host:port list) with
 * cfg->dns_timeout seconds per try and cfg->dns_retries retries. Returns
 * NULL with *err set (static text) when c-ares cannot be set up.
 */
struct resolver	*resolver_new(struct event_base *, const struct config *,
		    const char **err);
/* The same with explicit settings (CLI, tests); timeout in milliseconds. */
struct resolver	*resolver_new_servers(struct event_base *, const char *csv,
		    unsigned timeout_ms, unsigned retries, const char **err);
/*
 * Stops every query without calling its callback, frees the resolver and
 * NULLs *rp. Handles from resolver_query() become invalid.
 */
void		 resolver_free(struct resolver **rp);

/*
 * Starts a lookup of name (a domain name, or for DNS_PTR already the
 * in-addr.arpa / ip6.arpa name). The callback always comes later from
 * the loop, never from inside this call. Returns a handle the caller may
 * keep to cancel the query; it stays valid until the callback starts
 * or dns_query_cancel() is called.
 */
struct dns_query	*resolver_query(struct resolver *, const char *name,
			    enum dns_type, dns_callback, void *arg);
/*
 * Forgets the query: its callback will not run. The memory is released
 * when c-ares finishes with it. NULLs *qp; a NULL *qp is fine.
 */
void		 dns_query_cancel(struct dns_query **qp);

/*
 * Writes the reverse-lookup name of a 4- or 16-byte address (RFC 1035
 * 3.5, RFC 3596 2.5) into out. Returns 0, or -1 if outsz is too small.
 */
int		 dns_reverse_name(int family, const unsigned char *addr,
		    char *out, size_t outsz);

/*
 * Keeps up to max_entries answers in a TTL-bounded cache
 * (src/dns/dnscache.h); 0 turns caching off, as it is after
 * resolver_new_servers(). resolver_new() sets cfg->dns_cache_size.
 * Answers from the cache still reach the callback from the loop, later.
 */
void		 resolver_set_cache(struct resolver *, size_t max_entries);
size_t		 resolver_cache_count(const struct resolver *);

/* The loop the resolver runs on (for callers that must defer work). */
struct event_base	*resolver_base(const struct resolver *);

const char	*dns_status_name(enum dns_status);
const char	*dns_type_name(enum dns_type);

#endif
