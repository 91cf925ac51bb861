/*
 * Trace and submission header fields: Return-Path and Received (RFC 5321
 * 4.4, with RFC 3848 protocol names and the TLS parameters), and the
 * Date / Message-ID a submission server adds when the client left them
 * out (RFC 6409 8.2, 8.3). Authentication-Results is authcheck.c's.
 */
#ifndef SEALPOST_SMTP_TRACE_H
#define SEALPOST_SMTP_TRACE_H

struct buf;
struct smtp_session;

/*
 * Appends Return-Path and Received for the current transaction to out
 * (written in front of the message at the end of the data).
 */
int	smtp_trace_headers(const struct smtp_session *, const char *msg_id,
	    struct buf *out);
/* Appends the Date and/or Message-ID fields the message lacks. */
int	smtp_submission_headers(const struct smtp_session *, const char *msg_id,
	    struct buf *out);

#endif
