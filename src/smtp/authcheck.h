/*
 * Sender authenticity of one message, as it streams in
 * (docs/authenticity.md): for mail from outside (port 25, not logged in,
 * not from trusted_networks) DKIM verification and DMARC, with the
 * exactly-one-From rule of RFC 7489 6.6.1; for a logged-in sender, DKIM
 * signing with every key of the From domain. Key and policy look-ups
 * start as soon as the header section has been seen, so they overlap the
 * body; the verdict is ready at the end of the data, possibly after the
 * last answer arrives. The header fields this adds
 * (Authentication-Results, the quarantine marker, DKIM-Signature) are
 * known only then and go in front of the message through the spool's
 * prefix. The SPF verdict comes from MAIL (cmd_mail.c).
 *
 * Private to src/smtp/. The check belongs to the session's transaction
 * and dies with it: freeing it cancels every look-up in flight.
 */
#ifndef SEALPOST_SMTP_AUTHCHECK_H
#define SEALPOST_SMTP_AUTHCHECK_H

#include <stdbool.h>
#include <stddef.h>

struct buf;
struct config;
struct smtp_authcheck;
struct smtp_session;

/*
 * At the start of DATA/BDAT (the transaction exists): what this message
 * gets checked or signed with. NULL when there is nothing to do (a
 * trusted relay; a logged-in sender without keys and no checks).
 */
struct smtp_authcheck	*smtp_authcheck_new(struct smtp_session *);
/* Cancels look-ups in flight, frees, NULLs *acp; NULL is fine. */
void	smtp_authcheck_free(struct smtp_authcheck **acp);

/*
 * Message octets as received (dot-unstuffed, before any field is removed
 * or added), after the session's header scanner (txn->header) saw them:
 * fed to the DKIM verifier; when the header section is complete, the
 * DMARC policy and DKIM key look-ups start.
 */
void	smtp_authcheck_received(struct smtp_authcheck *, const char *p,
	    size_t len);
/*
 * Message octets as stored, fields the session inserts included (the
 * DKIM signer signs what the recipient will get).
 */
void	smtp_authcheck_stored(struct smtp_authcheck *, const char *p,
	    size_t len);

/* Called on the loop when a pending verdict is ready (see finish). */
typedef void	smtp_authcheck_done_fn(struct smtp_session *);

/*
 * The message is complete (the header scanner finished). Returns 0 when
 * the verdict is ready now, or 1 when look-ups are still pending: done(s)
 * then runs later from the loop, once (never after free).
 */
int	smtp_authcheck_finish(struct smtp_authcheck *,
	    smtp_authcheck_done_fn *done);

/*
 * After the verdict: NULL to accept the message, or the text of the
 * "550 5.7.1" refusal (DMARC p=reject, the From rule). Valid until free.
 */
const char	*smtp_authcheck_refusal(const struct smtp_authcheck *);

/*
 * After the verdict: appends the fields to put in front of the message
 * (after Return-Path and Received): Authentication-Results (RFC 8601)
 * for checked mail, the quarantine marker, DKIM-Signature fields.
 * Returns 0, or -1 when out is full (out may hold part of them).
 */
int	smtp_authcheck_fields(struct smtp_authcheck *, struct buf *out);

#endif
