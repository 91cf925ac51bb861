/*
 * Sender Rewriting Scheme (SRS, Shevek's "Sender Rewriting Scheme"
 * paper, as implemented by Postfix's postsrsd and Exim): a message we
 * forward to another domain leaves with an envelope sender in *our*
 * domain, so SPF (RFC 7208) at the next hop checks our IP against our
 * record and passes; a bounce to that address comes back to us, is
 * verified and reversed to the original sender.
 *
 *   SRS0=<hash>=<tt>=<domain>=<local>@<our domain>
 *   SRS1=<hash>=<first forwarder>==<hash0>=<tt>=<domain>=<local>@<ours>
 *
 * <tt> is the day number (days since the epoch, mod 1024) in two base32
 * digits; <hash> is HMAC-SHA256(key, lower-cased fields) truncated to
 * SRS_HASH_LEN base32 digits. Everything is lower-case, so an address
 * survives case folding by intermediate servers (we lower-case RCPT TO
 * ourselves). SRS1 re-signs an SRS0 address from another forwarder
 * without growing it further (a chain of forwarders adds one hop each).
 *
 * Pure: key and time come from the caller; no I/O, no allocation.
 */
#ifndef SEALPOST_POLICY_SRS_H
#define SEALPOST_POLICY_SRS_H

#include <stddef.h>
#include <time.h>

#define SRS_HASH_LEN	8	/* base32 digits: 40 bits of HMAC */
#define SRS_KEY_LEN	32
/* A reverse address older than this many days is refused. */
#define SRS_MAX_AGE_DAYS	21

enum srs_result {
	SRS_OK = 0,
	SRS_NOT_SRS = -1,	/* local part does not start SRS0=/SRS1= */
	SRS_MALFORMED = -2,	/* SRS-looking but unparsable */
	SRS_BAD_HASH = -3,	/* forged or tampered */
	SRS_EXPIRED = -4,	/* valid hash, timestamp outside the window */
	SRS_TOO_LONG = -5,	/* result does not fit (64-octet local part
				   or outsz) */
};

/*
 * Rewrites sender ("local@domain", not empty) into an SRS address at
 * our_domain, written NUL-terminated to out (outsz bytes). A sender that
 * is already SRS0 or SRS1 at another domain becomes SRS1. Returns SRS_OK,
 * SRS_MALFORMED (no '@'), or SRS_TOO_LONG when the new local part would
 * pass 64 octets (RFC 5321 4.5.3.1.1): then the caller keeps the sender.
 */
enum srs_result	srs_forward(const unsigned char *key, size_t keylen,
		    time_t now, const char *sender, const char *our_domain,
		    char *out, size_t outsz);
/*
 * Reverses the local part of an address we received (RCPT TO) into the
 * address the bounce goes to, NUL-terminated in out: SRS0 gives the
 * original sender, SRS1 the SRS0 address at the first forwarder. The
 * compare is case-insensitive and constant-time in the hash. Returns
 * SRS_OK or a negative srs_result; out is untouched unless SRS_OK.
 */
enum srs_result	srs_reverse(const unsigned char *key, size_t keylen,
		    time_t now, const char *local_part, char *out,
		    size_t outsz);
/*
 * srs_reverse() for a whole address "local@domain" (the domain is not
 * checked: the caller knows it is ours). Same results.
 */
enum srs_result	srs_reverse_address(const unsigned char *key, size_t keylen,
		    time_t now, const char *addr, char *out, size_t outsz);
/* HMAC label of the SRS key derived from the instance secret. */
#define SRS_KEY_LABEL	"sealpost srs v1"
/* True when the local part starts with "SRS0=" or "SRS1=" (any case). */
int	srs_is_srs(const char *local_part);

#endif
