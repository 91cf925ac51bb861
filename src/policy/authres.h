/*
 * Authentication-Results hygiene (RFC 8601 5): a border MTA must not let
 * a sender forge its verdicts, and "for simplicity and maximum security"
 * may remove every Authentication-Results field of mail crossing into its
 * trust boundary. This is that filter, streaming: it is fed the message
 * as stored, in chunks of any size, and passes on everything except
 * Authentication-Results fields (with their folded continuation lines)
 * of the header section. Fixed-size state, no allocation, no I/O.
 */
#ifndef SEALPOST_POLICY_AUTHRES_H
#define SEALPOST_POLICY_AUTHRES_H

#include <stdbool.h>
#include <stddef.h>

#define AUTHRES_HOLD_MAX	32	/* a line start kept until decided */

struct authres_filter {
	bool		done;		/* header section over: all passes */
	bool		at_bol;		/* at the start of a line */
	bool		dropping;	/* inside a removed field */
	bool		line_drop;	/* the current line is removed */
	char		held[AUTHRES_HOLD_MAX];
	size_t		held_len;
	unsigned	removed;	/* fields removed */
};

/* The octets that stay, in order; called zero or more times per feed. */
typedef void	authres_out_fn(void *arg, const char *p, size_t len);

void	authres_filter_init(struct authres_filter *);
/*
 * Filters len octets of the message. The header section ends at the
 * first empty line or at a line that is not a header field (as in
 * smtp/header.h); after that every octet passes unchanged.
 */
void	authres_filter_feed(struct authres_filter *, const char *p, size_t len,
	    authres_out_fn *out, void *arg);
/* At the end of the message: passes on a line start still held. */
void	authres_filter_finish(struct authres_filter *, authres_out_fn *out,
	    void *arg);

#endif
