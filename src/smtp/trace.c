/* Trace and submission header fields; see trace.h. */
#include "smtp/trace.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/buf.h"
#include "core/config.h"
#include "net/conn.h"
#include "net/tls.h"
#include "smtp/session_int.h"

/* RFC 5322 3.3 date-time, always in UTC. */
static void
trace_date(char *out, size_t outsz)
{
	time_t now = time(NULL);
	struct tm tm;

	gmtime_r(&now, &tm);
	if (strftime(out, outsz, "%a, %d %b %Y %H:%M:%S +0000", &tm) == 0)
		out[0] = '\0';
}

/* RFC 3848 / RFC 6531 "with" protocol names. */
static const char *
trace_protocol(const struct smtp_session *s)
{
	bool tls = smtp_is_tls(s), auth = s->login != NULL;
	bool utf8 = s->txn != NULL && s->txn->smtputf8;

	if (!s->esmtp)
		return "SMTP";
	if (utf8)
		return tls ? (auth ? "UTF8SMTPSA" : "UTF8SMTPS") :
		    (auth ? "UTF8SMTPA" : "UTF8SMTP");
	return tls ? (auth ? "ESMTPSA" : "ESMTPS") : (auth ? "ESMTPA" : "ESMTP");
}

int
smtp_trace_headers(const struct smtp_session *s, const char *msg_id,
    struct buf *out)
{
	const struct smtp_txn *t = s->txn;
	SSL *ssl = conn_ssl(s->conn);
	char date[64];
	int rc = 0;

	trace_date(date, sizeof(date));
	rc |= buf_printf(out, "Return-Path: <%s>\r\n", t->sender_text);
	/* Every line after the first is folded (starts with a tab). */
	rc |= buf_printf(out, "Received: from %s ([%s])\r\n\tby %s (sealpost) "
	    "with %s id %s", s->helo != NULL ? s->helo : "unknown",
	    s->peer_ip, s->svc->cfg->hostname, trace_protocol(s), msg_id);
	if (ssl != NULL)
		rc |= buf_printf(out, "\r\n\t(using %s with cipher %s)",
		    tls_version(ssl), tls_cipher(ssl));
	/* Naming the recipient of a multi-recipient message would leak Bcc. */
	if (t->n_rcpt == 1)
		rc |= buf_printf(out, "\r\n\tfor <%s>", t->first_rcpt);
	rc |= buf_printf(out, ";\r\n\t%s\r\n", date);
	return rc;
}

int
smtp_submission_headers(const struct smtp_session *s, const char *msg_id,
    struct buf *out)
{
	const struct smtp_txn *t = s->txn;
	char date[64];
	int rc = 0;

	if (!t->header.has_date) {
		trace_date(date, sizeof(date));
		rc |= buf_printf(out, "Date: %s\r\n", date);
	}
	if (!t->header.has_message_id)
		rc |= buf_printf(out, "Message-ID: <%s.%llu@%s>\r\n", msg_id,
		    (unsigned long long)time(NULL), s->svc->cfg->hostname);
	return rc;
}
