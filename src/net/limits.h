/*
 * Connection limits shared by all worker processes: total sessions and
 * sessions per client address. Counters live in a shared mapping made by
 * the master before fork, one row per worker slot, so a worker that dies
 * is forgotten by zeroing its row rather than leaking counts forever.
 */
#ifndef SEALPOST_NET_LIMITS_H
#define SEALPOST_NET_LIMITS_H

#include <stdbool.h>
#include <sys/socket.h>

struct conn_limits;

struct conn_limits	*conn_limits_new_shared(unsigned n_workers);
/* Which worker row this process updates. */
void	conn_limits_set_worker(struct conn_limits *, unsigned worker);
/* Zeroes a dead worker's row (master only). */
void	conn_limits_reset_worker(struct conn_limits *, unsigned worker);
/*
 * Counts a new session from addr unless that would pass max_total or
 * max_per_ip (0 = no limit); returns false (nothing counted) then.
 */
bool	conn_limits_acquire(struct conn_limits *, const struct sockaddr *addr,
	    unsigned max_total, unsigned max_per_ip);
void	conn_limits_release(struct conn_limits *, const struct sockaddr *addr);

#endif
