/*
 * Outbound concurrency and rate limits of the queue runner: connections
 * open at once in all (relay_max_connections), per recipient domain
 * (relay_max_per_domain), and messages started per minute per domain
 * (relay_rate_per_domain, a token bucket). Pure bookkeeping: the caller
 * passes the time, so the rules are unit-tested without a clock. Work
 * refused here just waits for the runner's next scan; it is not an
 * attempt and costs no retry step.
 */
#ifndef SEALPOST_DAEMON_RELAY_LIMIT_H
#define SEALPOST_DAEMON_RELAY_LIMIT_H

#include <stddef.h>

struct relay_limit;
struct relay_dest;

enum relay_limit_rc {
	RELAY_LIMIT_OK,		/* counted: call relay_limit_release later */
	RELAY_LIMIT_DOMAIN,	/* this domain is at its limit or rate */
	RELAY_LIMIT_TOTAL	/* every connection slot is taken */
};

/* rate_per_min 0 = no rate limit. Never fails (xmalloc). */
struct relay_limit	*relay_limit_new(unsigned max_total,
			    unsigned max_per_domain, unsigned rate_per_min);
/* Frees the table and every destination; NULLs *lp. */
void	relay_limit_free(struct relay_limit **lp);

/*
 * Asks for one more connection to domain (case-insensitive) at time now
 * (seconds, any monotonic origin). On RELAY_LIMIT_OK the connection is
 * counted, one rate token is spent and *out is the destination handle,
 * valid until the matching release. Otherwise nothing changes.
 */
enum relay_limit_rc	relay_limit_acquire(struct relay_limit *,
			    const char *domain, double now,
			    struct relay_dest **out);
/*
 * Spends one rate token of a destination already held (another message
 * over a connection that is open anyway): 0, or -1 when the domain is
 * over its rate (nothing spent).
 */
int	relay_limit_take_token(struct relay_limit *, struct relay_dest *,
	    double now);
/*
 * Gives one connection back. The handle stays valid only while the
 * destination holds a connection (it is forgotten lazily later).
 */
void	relay_limit_release(struct relay_limit *, struct relay_dest *);

/* Connections counted now, in all and for domain (0 if unknown). */
size_t	relay_limit_total(const struct relay_limit *);
size_t	relay_limit_domain(const struct relay_limit *, const char *domain);
/* The domain of a handle (lower-cased). */
const char	*relay_dest_domain(const struct relay_dest *);

#endif
