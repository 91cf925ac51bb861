/*
 * Bounces; see bounce.h. The report follows RFC 3464 (delivery-status
 * fields) inside RFC 6522 multipart/report, with the original header
 * section as text/rfc822-headers (RFC 3462 allows headers only, which
 * keeps a bounce small whatever the message size).
 */
#include "daemon/bounce.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "auth/userdb.h"
#include "core/buf.h"
#include "core/config.h"
#include "core/strlist.h"
#include "store/store.h"

/* A notification with every field and the headers stays far below this. */
#define BOUNCE_MAX	(4 * 1024 * 1024)

static void
bounce_date(time_t t, char *out, size_t outsz)
{
	struct tm tm;

	gmtime_r(&t, &tm);
	if (strftime(out, outsz, "%a, %d %b %Y %H:%M:%S +0000", &tm) == 0)
		out[0] = '\0';
}

static int
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

const char *
bounce_status_of(const char *reply, char *out)
{
	const char *p = reply;
	size_t i = 0;

	/* "NNN X.Y.Z": class digit, then 1-3 digits twice (RFC 3463 2). */
	if (strlen(reply) > 4 && reply[3] == ' ') {
		p = reply + 4;
		if ((p[0] == '2' || p[0] == '4' || p[0] == '5') && p[1] == '.') {
			size_t a = 0, b = 0;

			i = 2;
			while (is_digit(p[i]) && a < 3) {
				i++;
				a++;
			}
			if (a > 0 && p[i] == '.') {
				i++;
				while (is_digit(p[i]) && b < 3) {
					i++;
					b++;
				}
				if (b > 0 && (p[i] == '\0' || p[i] == ' ')) {
					memcpy(out, p, i);
					out[i] = '\0';
					return out;
				}
			}
		}
	}
	(void)snprintf(out, 16, "%c.0.0", reply[0] == '4' ? '4' : '5');
	return out;
}

static int
bounce_format_dsn(const struct bounce_info *b, struct buf *out)
{
	char date[64], until[64];
	int rc = 0;

	bounce_date((time_t)b->arrival, date, sizeof(date));
	rc |= buf_printf(out, "Content-Type: message/delivery-status\r\n\r\n"
	    "Reporting-MTA: dns; %s\r\n"
	    "X-Sealpost-Queue-ID: %s\r\n"
	    "Arrival-Date: %s\r\n", b->reporting_mta, b->qid, date);
	bounce_date(b->now, date, sizeof(date));
	bounce_date((time_t)b->retry_until, until, sizeof(until));
	for (size_t i = 0; i < b->n_rcpt; i++) {
		rc |= buf_printf(out, "\r\n"
		    "Final-Recipient: rfc822; %s\r\n"
		    "Action: %s\r\n"
		    "Status: %s\r\n", b->rcpt[i].addr,
		    b->is_delay ? "delayed" : "failed", b->rcpt[i].status);
		/* A recipient not tried yet has no reply to quote. */
		if (b->rcpt[i].reply[0] != '\0')
			rc |= buf_printf(out, "Diagnostic-Code: smtp; %s\r\n",
			    b->rcpt[i].reply);
		rc |= buf_printf(out, "Last-Attempt-Date: %s\r\n", date);
		/* RFC 3464 2.3.9, for delayed recipients. */
		if (b->is_delay)
			rc |= buf_printf(out, "Will-Retry-Until: %s\r\n", until);
	}
	return rc;
}

int
bounce_format(const struct bounce_info *b, struct buf *out)
{
	char date[64];
	int rc = 0;

	bounce_date(b->now, date, sizeof(date));
	/* Return-Path first, as for every stored message; the relay drops
	 * it before sending (RFC 5321 4.4). */
	rc |= buf_printf(out, "Return-Path: <>\r\n"
	    "From: Mail Delivery System <MAILER-DAEMON@%s>\r\n"
	    "To: <%s>\r\n"
	    "Subject: %s\r\n"
	    "Date: %s\r\n"
	    "Message-ID: <%s.%lld.%s@%s>\r\n"
	    "Auto-Submitted: auto-replied\r\n"
	    "MIME-Version: 1.0\r\n"
	    "Content-Type: multipart/report; report-type=delivery-status;\r\n"
	    "\tboundary=\"%s/%s\"\r\n"
	    "\r\n"
	    "This is a MIME-encapsulated message.\r\n\r\n"
	    "--%s/%s\r\n"
	    "Content-Type: text/plain; charset=us-ascii\r\n\r\n"
	    "This is the mail system at host %s.\r\n\r\n",
	    b->reporting_mta, b->to, b->is_delay ? "Delayed Mail (still being "
	    "retried)" : "Undelivered Mail Returned to Sender", date, b->qid,
	    (long long)b->now, b->is_delay ? "delay" : "bounce",
	    b->reporting_mta, b->qid, b->reporting_mta, b->qid,
	    b->reporting_mta, b->reporting_mta);
	if (b->is_delay) {
		char until[64];

		bounce_date((time_t)b->retry_until, until, sizeof(until));
		rc |= buf_printf(out, "Your message has not been delivered to "
		    "the recipients below yet.\r\nThe mail system will keep "
		    "trying until %s.\r\nThis is only a warning: you do not "
		    "need to send the message again.\r\n\r\n", until);
	} else
		rc |= buf_append_str(out, "Your message could not be delivered "
		    "to one or more recipients.\r\n\r\n");
	for (size_t i = 0; i < b->n_rcpt; i++)
		rc |= buf_printf(out, "<%s>: %s\r\n", b->rcpt[i].addr,
		    b->rcpt[i].reply);
	rc |= buf_printf(out, "\r\n--%s/%s\r\n", b->qid, b->reporting_mta);
	rc |= bounce_format_dsn(b, out);
	rc |= buf_printf(out, "\r\n--%s/%s\r\n"
	    "Content-Type: text/rfc822-headers\r\n\r\n", b->qid,
	    b->reporting_mta);
	rc |= buf_append(out, b->headers, b->headers_len);
	if (b->headers_len >= 2 && memcmp(b->headers + b->headers_len - 2,
	    "\r\n", 2) != 0)
		rc |= buf_append_str(out, "\r\n");
	rc |= buf_printf(out, "\r\n--%s/%s--\r\n", b->qid, b->reporting_mta);
	return rc != 0 ? -1 : 0;
}

int
bounce_send(const struct config *cfg, struct store *st,
    const struct userdb *users, const struct bounce_info *b,
    int double_bounce, const char **errstr)
{
	struct strlist local, remote;
	struct store_spool *sp;
	struct store_delivery d;
	struct buf text;
	const char *at = strrchr(b->to, '@');
	int rc = -1;

	strlist_init(&local);
	strlist_init(&remote);
	if (at != NULL && config_is_local_domain(cfg, at + 1)) {
		if (users == NULL || userdb_resolve(users, b->to, &local,
		    &remote) != 0) {
			*errstr = "sender is in a local domain but unknown";
			goto out;
		}
	} else
		strlist_add(&remote, b->to);
	buf_init(&text, BOUNCE_MAX);
	if (bounce_format(b, &text) == -1) {
		*errstr = "notification too large";
		buf_cleanup(&text);
		goto out;
	}
	if ((sp = store_spool_create(st, errstr)) == NULL) {
		buf_cleanup(&text);
		goto out;
	}
	memset(&d, 0, sizeof(d));
	d.sender = "";
	d.n_local = local.n;
	d.local = (const char *const *)local.v;
	d.n_remote = double_bounce ? 0 : remote.n;
	d.remote = (const char *const *)remote.v;
	if (d.n_local + d.n_remote == 0) {
		*errstr = "no local recipient for the notification";
		store_spool_abort(&sp);
	} else if (store_spool_write(sp, text.data, text.len, errstr) == -1 ||
	    store_spool_commit(sp, &d, errstr) == -1)
		store_spool_abort(&sp);
	else {
		store_spool_free(&sp);
		rc = 0;
	}
	buf_cleanup(&text);
out:
	strlist_clear(&local);
	strlist_clear(&remote);
	return rc;
}
