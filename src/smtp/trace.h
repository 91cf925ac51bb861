/*
 * Trace and submission header fields: Return-Path and Received (RFC 5321
 * 4.4, with RFC 3848 protocol names and the TLS parameters), the
 * Authentication-Results of the checks made at MAIL (RFC 8601), and the
 * Date / Message-ID a submission server adds when the client left them
 * out (RFC 6409 8.2, 8.3).
 */
#ifndef SEALPOST_SMTP_TRACE_H
#define SEALPOST_SMTP_TRACE_H

struct buf;
struct smtp_session;

/*
 * Appends Return-Path and Received for the current transaction to out,
 * and Authentication-Results (RFC 8601) when SPF was checked at MAIL.
 */
int	smtp_trace_headers(const struct smtp_session *, const char *msg_id,
	    struct buf *out);
/* Appends the Date and/or Message-ID fields the message lacks. */
int	smtp_submission_headers(const struct smtp_session *, const char *msg_id,
	    struct buf *out);

#endif
