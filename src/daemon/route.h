/*
 * Next hops for a recipient domain from DNS (RFC 5321 5.1): MX records
 * in preference order, randomised among equal preferences, each MX host's
 * AAAA and A addresses; no MX means the domain itself is the one host
 * (the implicit MX); a null MX (RFC 7505) and a domain that does not
 * exist are permanent failures, anything the DNS cannot answer now is a
 * temporary one. Lookups run on the async resolver in the caller's loop.
 * `transport` and `relay_host` never come here: the runner asks
 * config_route_find() first.
 *
 * The ordering is pure and unit-tested (route_mx_order).
 */
#ifndef SEALPOST_DAEMON_ROUTE_H
#define SEALPOST_DAEMON_ROUTE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "dns/resolver.h"

/*
 * What one attempt may try: a hostile or broken zone with hundreds of MX
 * records costs at most this many look-ups and connections.
 */
#define ROUTE_MAX_MX		8	/* MX hosts looked up */
#define ROUTE_MAX_ADDRS		12	/* addresses tried, all hosts */
#define ROUTE_MAX_PER_HOST	4	/* addresses per host and family */

struct route_lookup;

struct route_hop {
	char			 host[DNS_NAME_MAX + 1];	/* MX name */
	struct sockaddr_storage	 addr;		/* with the port */
	socklen_t		 addrlen;
	char			 text[DNS_NAME_MAX + 64];	/* host[addr]:port */
	char			 ip[64];		/* numeric, no port */
};

enum route_status {
	ROUTE_OK,		/* n_hop >= 1 */
	ROUTE_TEMPFAIL,		/* retry later (reply is 4xx) */
	ROUTE_PERMFAIL		/* bounce now (reply is 5xx) */
};

struct route_result {
	enum route_status	 status;
	const char		*reply;		/* failures: "556 5.1.10 ..." */
	size_t			 n_hop;
	const struct route_hop	*hop;		/* in the order to try */
};

/*
 * Called once from the loop; the result is valid only during the call and
 * the lookup frees itself when the callback returns (do not cancel it from
 * inside the callback).
 */
typedef void	(*route_callback)(void *arg, const struct route_result *);

/*
 * Starts resolving domain's next hops, connecting to port on each. The
 * callback always comes later from the loop. Returns the lookup, valid
 * until the callback starts or route_lookup_cancel().
 */
struct route_lookup	*route_lookup_start(struct resolver *,
			    const char *domain, unsigned port, route_callback,
			    void *arg);
/* Stops a lookup without calling back; NULLs *lp (NULL is fine). */
void	route_lookup_cancel(struct route_lookup **lp);

/* --- pure --- */

struct route_mx {
	unsigned	 pref;
	const char	*host;
};

/*
 * Sorts mx by ascending preference and shuffles each run of equal
 * preferences (RFC 5321 5.1: "randomize them to spread the load"), with
 * rnd(arg) as the random source (uniform 32 bits). Stable otherwise.
 */
void	route_mx_order(struct route_mx *mx, size_t n,
	    uint32_t (*rnd)(void *), void *arg);

#endif
