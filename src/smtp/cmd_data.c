/*
 * DATA (RFC 5321 4.1.1.4) and BDAT (RFC 3030): the message is streamed
 * through the DATA reader (anti-smuggling end detection, dot un-stuffing,
 * bare CR/LF policy, size limit), the header scanner and the sender
 * authenticity checks (authcheck.c) into a spool file. At the end the
 * checks give their verdict (maybe after DNS answers), the fields known
 * only then (Return-Path, Received, Authentication-Results, DKIM-Signature)
 * become the spool's prefix, and the message is committed on the thread
 * pool (fsync, link into each Maildir and the queue, fsync the
 * directories). 250 is sent only after that commit: an acknowledged
 * message is on disk.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/userdb.h"
#include "core/buf.h"
#include "core/config.h"
#include "core/log.h"
#include "core/xmalloc.h"
#include "net/conn.h"
#include "smtp/authcheck.h"
#include "smtp/expand.h"
#include "smtp/parse.h"
#include "smtp/session_int.h"
#include "smtp/trace.h"
#include "store/store.h"

#define DATA_HEADERS_MAX	4096
/* Trace, Authentication-Results and DKIM-Signature fields in front. */
#define DATA_PREFIX_MAX		(32 * 1024)
/* At most this many From addresses are checked on submission. */
#define DATA_FROM_MAX		16

static void
data_write(struct smtp_session *s, const char *p, size_t len)
{
	struct smtp_txn *t = s->txn;
	const char *err = NULL;

	if (t->write_failed || len == 0)
		return;
	if (t->auth != NULL)
		smtp_authcheck_stored(t->auth, p, len);
	if (store_spool_write(t->spool, p, len, &err) == -1) {
		t->write_failed = true;
		snprintf(t->write_error, sizeof(t->write_error), "%s",
		    err != NULL ? err : "write failed");
		smtp_log(s, "event=spool-write-failed error=\"%s\"",
		    t->write_error);
	}
	smtp_copies_write(s, p, len);
}

static void
data_write_cb(void *arg, const char *p, size_t len)
{
	data_write(arg, p, len);
}

/*
 * Message octets from the client. RFC 8601 5: Authentication-Results
 * fields from outside our trust boundary are removed, so that nobody can
 * forge our verdicts (ours is added with the trace fields).
 */
static void
data_write_message(struct smtp_session *s, const char *p, size_t len)
{
	struct smtp_txn *t = s->txn;

	if (!t->strip_authres || t->authres.done)
		data_write(s, p, len);
	else
		authres_filter_feed(&t->authres, p, len, data_write_cb, s);
}

static void
data_add_submission_headers(struct smtp_session *s)
{
	struct smtp_txn *t = s->txn;
	struct buf hdr;

	t->headers_added = true;
	if (!smtp_is_submission(s))
		return;
	buf_init(&hdr, DATA_HEADERS_MAX);
	if (smtp_submission_headers(s, store_spool_id(t->spool), &hdr) == 0)
		data_write(s, hdr.data != NULL ? hdr.data : "", hdr.len);
	buf_cleanup(&hdr);
}

/* Receives the message bytes from the DATA/BDAT reader. */
static void
data_sink(void *arg, const char *p, size_t len)
{
	struct smtp_session *s = arg;
	struct smtp_txn *t = s->txn;
	size_t split = smtp_header_feed(&t->header, p, len);

	if (t->auth != NULL)
		smtp_authcheck_received(t->auth, p, len);
	if (split == SMTP_HEADER_MORE || t->headers_added) {
		data_write_message(s, p, len);
		return;
	}
	data_write_message(s, p, split);
	data_add_submission_headers(s);
	/* Fields added before a body with no header section need its end. */
	if (smtp_is_submission(s) && !t->header.has_header_section)
		data_write(s, "\r\n", 2);
	data_write_message(s, p + split, len - split);
}

/*
 * Opens the spool and starts the checks; false after a 4xx reply. The
 * trace fields are written at the end, in front (data_commit).
 */
static bool
data_start(struct smtp_session *s)
{
	struct smtp_txn *t = s->txn;
	const struct config *cfg = s->svc->cfg;
	const char *err = NULL;
	enum smtp_data_mode mode = cfg->bare_newline == BARE_NEWLINE_NORMALIZE ?
	    DATA_BARE_NORMALIZE : DATA_BARE_REJECT;

	t->spool = store_spool_create(s->svc->store, &err);
	if (t->spool == NULL) {
		smtp_log(s, "event=spool-create-failed error=\"%s\"",
		    err != NULL ? err : "?");
		smtp_reply(s, 451, "4.3.0", "Temporary local problem, try "
		    "again later");
		return false;
	}
	/* Alias copies' spools; the trace fields come at the end. */
	if (smtp_copies_start(s) == -1) {
		smtp_reply(s, 451, "4.3.0", "Temporary local problem, try "
		    "again later");
		return false;
	}
	smtp_data_init(&t->data, mode, cfg->max_message_size, data_sink, s);
	smtp_header_init(&t->header);
	authres_filter_init(&t->authres);
	t->strip_authres = !s->is_trusted;
	t->auth = smtp_authcheck_new(s);
	conn_set_timeout(s->conn, cfg->timeout_data_block);
	return true;
}

/* Back to commands after a transaction ended (replied either way). */
static void
data_txn_over(struct smtp_session *s)
{
	smtp_txn_reset(s);
	smtp_set_state(s, SS_READY);
	s->mode = SM_COMMAND;
	conn_set_timeout(s->conn, s->svc->cfg->timeout_command);
}

static bool
data_is_nospace(const char *err)
{
	return strstr(err, "No space left") != NULL ||
	    strstr(err, "quota") != NULL;
}

/* Submission: the header From must name addresses the login owns. */
static bool
data_header_from_ok(struct smtp_session *s)
{
	struct smtp_txn *t = s->txn;
	struct mailaddr from[DATA_FROM_MAX];
	const char *err = NULL;
	int n;

	if (t->header.from_count != 1 || t->header.from_truncated) {
		smtp_reply(s, 550, "5.6.0", "Message must have exactly one "
		    "From header field");
		return false;
	}
	n = addr_parse_header_list(str_view_make(t->header.from,
	    t->header.from_len), from, DATA_FROM_MAX, &err);
	if (n <= 0) {
		smtp_reply(s, 550, "5.6.0", "Malformed From header field");
		return false;
	}
	for (int i = 0; i < n; i++) {
		char addr[ADDR_FORMAT_MAX];

		if (addr_format(&from[i], addr, sizeof(addr)) == -1 ||
		    !userdb_login_owns(s->svc->users, s->login, addr)) {
			smtp_reply(s, 550, "5.7.1", "From header address <%s> "
			    "is not owned by user %s", addr, s->login);
			return false;
		}
	}
	return true;
}

struct commit_job {
	struct smtp_txn	*txn;
	int		 rc;
	char		 error[256];
	char		 id[STORE_ID_LEN + 1];
	uint64_t	 size;
};

static void
commit_work(void *arg)
{
	struct commit_job *job = arg;
	struct smtp_txn *t = job->txn;
	const char *err = NULL;
	struct store_delivery d = {
		.sender = smtp_copies_main_sender(t),
		.n_local = t->local.n,
		.local = (const char *const *)t->local.v,
		.n_remote = t->remote.n,
		.remote = (const char *const *)t->remote.v,
	};

	/* A list's automatic mail may leave no one here (expand.h). */
	if (d.n_local + d.n_remote > 0)
		job->rc = store_spool_commit(t->spool, &d, &err);
	if (job->rc == 0)
		job->rc = smtp_copies_commit(t, &err);
	if (job->rc == -1)
		snprintf(job->error, sizeof(job->error), "%s",
		    err != NULL ? err : "commit failed");
}

static void
commit_done(void *owner, void *arg)
{
	struct smtp_session *s = owner;
	struct commit_job *job = arg;
	struct smtp_txn *t = job->txn;

	if (job->rc == 0)
		store_spool_free(&t->spool);
	else
		store_spool_abort(&t->spool);
	if (s != NULL) {
		s->current_verb = t->bdat_chunks > 0 ? "BDAT" : "DATA";
		if (job->rc == 0) {
			smtp_log(s, "event=accepted id=%s from=<%s> rcpts=%u "
			    "local=%zu remote=%zu size=%llu", job->id,
			    t->sender_text, t->n_rcpt, t->local.n, t->remote.n,
			    (unsigned long long)job->size);
			smtp_reply(s, 250, "2.0.0", "Ok: queued as %s", job->id);
		} else {
			smtp_log(s, "event=commit-failed id=%s error=\"%s\"",
			    job->id, job->error);
			if (data_is_nospace(job->error))
				smtp_reply(s, 452, "4.3.1", "Insufficient system "
				    "storage, try again later");
			else
				smtp_reply(s, 451, "4.3.0", "Temporary local "
				    "problem, try again later");
		}
		data_txn_over(s);
		smtp_resume(s);
	}
	smtp_txn_free(&job->txn);
	free(job);
}

/*
 * The verdict is in and the message is to be kept: the fields known only
 * now go in front, Return-Path and Received first (RFC 5321 4.4), and the
 * commit runs on the pool; its completion replies.
 */
static void
data_commit(struct smtp_session *s)
{
	struct smtp_txn *t = s->txn;
	struct commit_job *job;
	const char *err = NULL;
	struct buf pre;
	int rc;

	buf_init(&pre, DATA_PREFIX_MAX);
	rc = smtp_trace_headers(s, store_spool_id(t->spool), &pre);
	if (rc == 0 && t->auth != NULL)
		rc = smtp_authcheck_fields(t->auth, &pre);
	/* The main spool and each alias copy's (with its Delivered-To). */
	if (rc == 0)
		rc = smtp_copies_set_prefix(s, pre.data != NULL ? pre.data : "",
		    pre.len, &err);
	buf_cleanup(&pre);
	if (rc != 0) {
		smtp_log(s, "event=prefix-failed error=\"%s\"", err != NULL ?
		    err : "header fields too long");
		smtp_reply(s, 451, "4.3.0", "Temporary local problem, try "
		    "again later");
		data_txn_over(s);
		return;
	}
	smtp_authcheck_free(&t->auth);
	job = xcalloc(1, sizeof(*job));
	snprintf(job->id, sizeof(job->id), "%s", store_spool_id(t->spool));
	job->size = store_spool_size(t->spool);
	/* The job owns the transaction until it is done. */
	job->txn = t;
	s->txn = NULL;
	smtp_async(s, commit_work, commit_done, job);
}

/* The refusal of a message the checks condemned, else its commit. */
static void
data_verdict(struct smtp_session *s)
{
	const char *why = smtp_authcheck_refusal(s->txn->auth);

	if (why == NULL) {
		data_commit(s);
		return;
	}
	smtp_log(s, "event=refused id=%s from=<%s> reason=\"%s\"",
	    store_spool_id(s->txn->spool), s->txn->sender_text, why);
	smtp_reply(s, 550, "5.7.1", "%s", why);
	data_txn_over(s);
}

/* The checks' look-ups answered after the end of the data. */
static void
data_checked(struct smtp_session *s)
{
	s->current_verb = s->txn->bdat_chunks > 0 ? "BDAT" : "DATA";
	data_verdict(s);
	/* A commit now pending resumes the session when it is done. */
	if (s->pending == NULL)
		smtp_resume(s);
}

/* The message is complete: check it, then commit it (async). */
static void
data_finish(struct smtp_session *s)
{
	struct smtp_txn *t = s->txn;

	if (t->strip_authres)
		authres_filter_finish(&t->authres, data_write_cb, s);
	if (t->authres.removed > 0)
		smtp_log(s, "event=authres-removed fields=%u",
		    t->authres.removed);
	smtp_header_finish(&t->header);
	if (!t->headers_added) {
		if (t->header.unterminated)
			data_write(s, "\r\n", 2);
		data_add_submission_headers(s);
	}
	if (t->data.too_big) {
		smtp_reply(s, 552, "5.3.4", "Message size exceeds fixed maximum "
		    "message size (%llu)",
		    (unsigned long long)s->svc->cfg->max_message_size);
	} else if (t->data.has_bare_newline &&
	    s->svc->cfg->bare_newline == BARE_NEWLINE_REJECT) {
		smtp_reply(s, 550, "5.5.2", "Message contains bare CR or LF "
		    "characters; lines must end with CRLF (RFC 5321 2.3.8)");
	} else if (t->write_failed) {
		if (data_is_nospace(t->write_error))
			smtp_reply(s, 452, "4.3.1", "Insufficient system "
			    "storage, try again later");
		else
			smtp_reply(s, 451, "4.3.0", "Temporary local problem, "
			    "try again later");
	} else if ((s->login == NULL || data_header_from_ok(s)) &&
	    smtp_copies_check(s)) {
		if (t->auth == NULL) {
			data_commit(s);
			return;
		}
		if (smtp_authcheck_finish(t->auth, data_checked) == 1) {
			/* Nothing more is read until the verdict. */
			s->mode = SM_WAIT;
			conn_pause(s->conn);
			return;
		}
		data_verdict(s);
		return;
	}
	data_txn_over(s);
}

enum cmd_rc
smtp_cmd_data(struct smtp_session *s, struct str_view args)
{
	struct smtp_parse_err err;

	if (smtp_parse_no_args(args, &err) == -1) {
		smtp_reply(s, (unsigned)err.code, err.enhanced, "%s", err.text);
		return CMD_DONE;
	}
	if (!data_start(s)) {
		data_txn_over(s);
		return CMD_DONE;
	}
	smtp_reply(s, 354, NULL, "End data with <CR><LF>.<CR><LF>");
	s->mode = SM_DATA;
	return CMD_DONE;
}

size_t
smtp_data_input(struct smtp_session *s, const char *p, size_t len)
{
	struct smtp_txn *t = s->txn;
	size_t used = smtp_data_feed(&t->data, p, len);

	if (t->data.done) {
		s->current_verb = "DATA";
		data_finish(s);
	}
	return used;
}

/* --- BDAT --- */

enum cmd_rc
smtp_cmd_bdat(struct smtp_session *s, struct str_view args)
{
	struct smtp_parse_err err;
	uint64_t size;
	bool last;

	if (smtp_parse_bdat_args(args, &size, &last, &err) == -1) {
		/* The chunk's extent is unknown: the stream cannot be resynced. */
		smtp_reply(s, (unsigned)err.code, err.enhanced, "%s", err.text);
		return CMD_CLOSE;
	}
	s->mode = SM_BDAT;
	conn_set_timeout(s->conn, s->svc->cfg->timeout_data_block);
	/*
	 * RFC 3030 2: the chunk follows whatever we answer, so a BDAT we
	 * refuse still has its octets read (and dropped) before the reply.
	 */
	if (!(s->state & (SS_RCPT | SS_BDAT)) ||
	    ((s->state & SS_RCPT) && !data_start(s))) {
		s->bdat_discarding = true;
		s->bdat_discard = size;
		if (size == 0)
			smtp_bdat_input(s, "", 0);
		return CMD_DONE;
	}
	smtp_set_state(s, SS_BDAT);
	{
		s->txn->bdat_remaining = size;
		s->txn->bdat_last = last;
		s->txn->bdat_chunks++;
	}
	if (size == 0)
		smtp_bdat_input(s, "", 0);
	return CMD_DONE;
}

static void
bdat_chunk_done(struct smtp_session *s)
{
	struct smtp_txn *t = s->txn;

	s->current_verb = "BDAT";
	if (s->bdat_discarding) {
		/* A refused or out-of-sequence BDAT: its octets were skipped. */
		s->bdat_discarding = false;
		s->mode = SM_COMMAND;
		conn_set_timeout(s->conn, s->svc->cfg->timeout_command);
		if (s->txn != NULL && s->txn->spool == NULL &&
		    (s->state & SS_RCPT)) {
			/* data_start() failed and already replied 4xx. */
			data_txn_over(s);
			return;
		}
		smtp_reply(s, 503, "5.5.1", "Bad sequence of commands: BDAT "
		    "needs a transaction with recipients");
		return;
	}
	if (t->bdat_last) {
		smtp_bdat_finish(&t->data);
		data_finish(s);
		return;
	}
	if (t->data.too_big) {
		smtp_reply(s, 552, "5.3.4", "Message size exceeds fixed maximum "
		    "message size (%llu)",
		    (unsigned long long)s->svc->cfg->max_message_size);
		data_txn_over(s);
		return;
	}
	s->mode = SM_COMMAND;
	conn_set_timeout(s->conn, s->svc->cfg->timeout_command);
	smtp_reply(s, 250, "2.0.0", "%llu octets received",
	    (unsigned long long)t->data.raw);
}

size_t
smtp_bdat_input(struct smtp_session *s, const char *p, size_t len)
{
	struct smtp_txn *t = s->bdat_discarding ? NULL : s->txn;
	uint64_t *remaining = t != NULL ? &t->bdat_remaining : &s->bdat_discard;
	size_t n = *remaining < len ? (size_t)*remaining : len;

	if (t != NULL && n > 0)
		smtp_bdat_feed(&t->data, p, n);
	*remaining -= n;
	if (*remaining == 0)
		bdat_chunk_done(s);
	return n;
}
