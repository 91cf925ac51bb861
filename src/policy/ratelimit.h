/*
 * A fixed-size table of token buckets keyed by short strings, for the
 * per-(sender, list) rate limit of forwarding lists (docs/outbound.md):
 * each key may take `rate` events per hour, refilled continuously, with
 * a burst of `rate`. The table holds RATELIMIT_SLOTS keys; when it is
 * full the bucket touched longest ago is forgotten (it starts full
 * again if that key returns: the limit is best-effort under a flood of
 * distinct keys, never a memory problem). Pure: the caller passes the
 * time; no I/O. One table per process (each worker has its own).
 */
#ifndef SEALPOST_POLICY_RATELIMIT_H
#define SEALPOST_POLICY_RATELIMIT_H

#include <stdbool.h>
#include <time.h>

#define RATELIMIT_SLOTS		1024
#define RATELIMIT_KEY_MAX	600	/* longer keys are truncated */

struct ratelimit;

/* A table allowing rate events per hour per key (rate >= 1). */
struct ratelimit	*ratelimit_new(unsigned rate);
void	ratelimit_free(struct ratelimit **);
/* Changes the rate (configuration reload); buckets keep their level. */
void	ratelimit_set_rate(struct ratelimit *, unsigned rate);
/*
 * Takes one event for key at time now. Returns true when allowed (a
 * token was taken), false when the key is over its rate (nothing taken).
 */
bool	ratelimit_take(struct ratelimit *, const char *key, time_t now);

#endif
