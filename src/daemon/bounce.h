/*
 * Delivery status notifications (RFC 3464, RFC 6522 multipart/report)
 * for recipients the queue runner gave up on, and delay notices for those
 * it is still retrying. Formatting is pure; sending
 * writes the notification through the store's spool/commit path like any
 * received message: into the sender's Maildir when the sender is local,
 * else into the queue with the null sender.
 */
#ifndef SEALPOST_DAEMON_BOUNCE_H
#define SEALPOST_DAEMON_BOUNCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct buf;
struct config;
struct store;
struct userdb;

struct bounce_rcpt {
	const char	*addr;
	const char	*reply;		/* the peer's last reply, or our reason */
	const char	*status;	/* RFC 3463 code, e.g. "5.1.1" */
};

struct bounce_info {
	const char		*reporting_mta;	/* our hostname */
	const char		*qid;
	const char		*to;		/* envelope sender of the original */
	uint64_t		 arrival;
	time_t			 now;
	size_t			 n_rcpt;
	const struct bounce_rcpt	*rcpt;
	const char		*headers;	/* original header section */
	size_t			 headers_len;
	/*
	 * A delay notice (RFC 3464 2.3.3 "delayed"): the recipients are
	 * still being retried until retry_until (unix time), statuses are
	 * 4.X.X. Otherwise a failure report ("failed").
	 */
	bool			 is_delay;
	uint64_t		 retry_until;
};

/*
 * The RFC 3463 status to report for a reply: the enhanced code in the
 * reply text when there is one ("550 5.1.1 ..."), else X.0.0 from the
 * reply's first digit. out must hold 16 bytes. Returns out.
 */
const char	*bounce_status_of(const char *reply, char *out);
/*
 * Appends the whole notification (starting with "Return-Path: <>") to
 * out. Returns 0, or -1 when out's limit was reached.
 */
int	bounce_format(const struct bounce_info *, struct buf *out);
/*
 * BLOCKING. Formats and durably delivers a notification to info->to:
 * local accounts (aliases expanded) get it in their Maildir, remote ones
 * through the queue with sender <>. For a null-sender original (info->to
 * empty) the caller passes "postmaster@<first domain>" with double set:
 * then only local targets receive it, so a double bounce is never
 * queued and never bounces again. Returns 0, or -1 with *errstr.
 */
int	bounce_send(const struct config *, struct store *,
	    const struct userdb *, const struct bounce_info *, int double_bounce,
	    const char **errstr);

#endif
