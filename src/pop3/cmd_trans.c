/*
 * The TRANSACTION state (RFC 1939 section 5) apart from RETR/TOP: STAT,
 * LIST, UIDL, DELE, RSET, NOOP, and QUIT with the UPDATE state (section
 * 6). DELE only marks; the store changes only when QUIT leads to UPDATE,
 * so a dropped connection or an autologout removes nothing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/xmalloc.h"
#include "pop3/session_int.h"
#include "store/store.h"

#define SIGN_OFF	"sealpost POP3 server signing off"

int
pop3_msg_lookup(struct pop3_session *s, struct str_view arg, size_t *idx)
{
	struct pop3_drop *d = s->drop;
	uint32_t n;

	if (pop3_parse_msgnum(arg, &n) == -1) {
		pop3_err(s, "Invalid message number");
		return -1;
	}
	if (n > d->n) {
		pop3_err(s, "No such message, only %zu in maildrop", d->n);
		return -1;
	}
	if (d->deleted[n - 1]) {
		pop3_err(s, "Message %u already deleted", n);
		return -1;
	}
	*idx = n - 1;
	return 0;
}

static uint64_t
msg_size(const struct pop3_session *s, size_t i)
{
	return store_mailbox_msg(s->drop->mb, i)->size;
}

enum cmd_rc
pop3_cmd_stat(struct pop3_session *s, const struct str_view *args,
    size_t nargs, struct str_view rest)
{
	const struct pop3_drop *d = s->drop;

	(void)args;
	(void)nargs;
	(void)rest;
	/* RFC 1939 section 5: exactly "+OK nn mm", deleted ones excluded. */
	pop3_ok(s, "%zu %llu", d->n - d->n_deleted,
	    (unsigned long long)(d->size_total - d->size_deleted));
	return CMD_DONE;
}

enum cmd_rc
pop3_cmd_list(struct pop3_session *s, const struct str_view *args,
    size_t nargs, struct str_view rest)
{
	const struct pop3_drop *d = s->drop;
	size_t i;

	(void)rest;
	if (nargs == 1) {
		if (pop3_msg_lookup(s, args[0], &i) == 0)
			pop3_ok(s, "%zu %llu", i + 1,
			    (unsigned long long)msg_size(s, i));
		return CMD_DONE;
	}
	pop3_ok(s, "%zu message%s (%llu octets)", d->n - d->n_deleted,
	    d->n - d->n_deleted == 1 ? "" : "s",
	    (unsigned long long)(d->size_total - d->size_deleted));
	for (i = 0; i < d->n; i++)
		if (!d->deleted[i])
			pop3_line(s, "%zu %llu", i + 1,
			    (unsigned long long)msg_size(s, i));
	pop3_end(s);
	return CMD_DONE;
}

/* RFC 1939 section 7: unique-ids are stable across sessions. */
enum cmd_rc
pop3_cmd_uidl(struct pop3_session *s, const struct str_view *args,
    size_t nargs, struct str_view rest)
{
	const struct pop3_drop *d = s->drop;
	size_t i;

	(void)rest;
	if (nargs == 1) {
		if (pop3_msg_lookup(s, args[0], &i) == 0)
			pop3_ok(s, "%zu %s", i + 1,
			    store_mailbox_msg(d->mb, i)->uid);
		return CMD_DONE;
	}
	pop3_ok(s, "Unique-ID listing follows");
	for (i = 0; i < d->n; i++)
		if (!d->deleted[i])
			pop3_line(s, "%zu %s", i + 1,
			    store_mailbox_msg(d->mb, i)->uid);
	pop3_end(s);
	return CMD_DONE;
}

enum cmd_rc
pop3_cmd_dele(struct pop3_session *s, const struct str_view *args,
    size_t nargs, struct str_view rest)
{
	struct pop3_drop *d = s->drop;
	size_t i;

	(void)nargs;
	(void)rest;
	if (pop3_msg_lookup(s, args[0], &i) == -1)
		return CMD_DONE;
	d->deleted[i] = true;
	d->n_deleted++;
	d->size_deleted += msg_size(s, i);
	pop3_ok(s, "Message %zu deleted", i + 1);
	return CMD_DONE;
}

enum cmd_rc
pop3_cmd_rset(struct pop3_session *s, const struct str_view *args,
    size_t nargs, struct str_view rest)
{
	struct pop3_drop *d = s->drop;

	(void)args;
	(void)nargs;
	(void)rest;
	memset(d->deleted, 0, d->n * sizeof(bool));
	d->n_deleted = 0;
	d->size_deleted = 0;
	pop3_ok(s, "Maildrop has %zu message%s (%llu octets)", d->n,
	    d->n == 1 ? "" : "s", (unsigned long long)d->size_total);
	return CMD_DONE;
}

enum cmd_rc
pop3_cmd_noop(struct pop3_session *s, const struct str_view *args,
    size_t nargs, struct str_view rest)
{
	(void)args;
	(void)nargs;
	(void)rest;
	pop3_ok(s, "%s", "");
	return CMD_DONE;
}

/* --- QUIT and UPDATE --- */

struct update_job {
	struct pop3_drop	*drop;
	int			 rc;
	char			 err[256];
};

static void
update_work(void *arg)
{
	struct update_job *j = arg;
	const char *errstr = NULL;

	j->rc = store_mailbox_commit(j->drop->mb, j->drop->deleted,
	    j->drop->retrieved, &errstr);
	if (j->rc == -1)
		snprintf(j->err, sizeof(j->err), "%s",
		    errstr != NULL ? errstr : "?");
}

static void
update_done(void *owner, void *arg)
{
	struct pop3_session *s = owner;
	struct update_job *j = arg;
	size_t left = j->drop->n - j->drop->n_deleted;

	/* The client asked for UPDATE; it happened even if it left. */
	if (s != NULL) {
		s->mode = PM_COMMAND;
		if (j->rc == 0) {
			pop3_log(s, "event=update deleted=%zu left=%zu",
			    j->drop->n_deleted, left);
			pop3_ok(s, "" SIGN_OFF " (%zu message%s left)", left,
			    left == 1 ? "" : "s");
		} else {
			log_warn("pop3 sid=%s event=update-failed error=\"%s\"",
			    s->sid, j->err);
			pop3_err(s, "[SYS/TEMP] Some deleted messages not "
			    "removed");
		}
		pop3_close(s, "quit");
	}
	pop3_drop_free(&j->drop);
	free(j);
}

enum cmd_rc
pop3_cmd_quit(struct pop3_session *s, const struct str_view *args,
    size_t nargs, struct str_view rest)
{
	struct update_job *j;
	bool changes = false;

	(void)args;
	(void)nargs;
	(void)rest;
	if (!(s->state & PS_TRANSACTION)) {
		pop3_ok(s, "" SIGN_OFF);
		return CMD_CLOSE;
	}
	pop3_set_state(s, PS_UPDATE);
	for (size_t i = 0; i < s->drop->n && !changes; i++)
		changes = s->drop->deleted[i] || s->drop->retrieved[i];
	if (!changes) {
		size_t n = s->drop->n;

		/*
		 * Unlock before the reply: a client that logs in again as soon
		 * as it reads +OK must not find its own maildrop [IN-USE]
		 * (seen once logins became fast, docs/performance.md).
		 */
		pop3_drop_free(&s->drop);
		pop3_ok(s, "" SIGN_OFF " (%zu message%s left)", n,
		    n == 1 ? "" : "s");
		return CMD_CLOSE;
	}
	/* The job owns the maildrop (and its lock) until UPDATE is done. */
	j = xcalloc(1, sizeof(*j));
	j->drop = s->drop;
	s->drop = NULL;
	pop3_async(s, update_work, update_done, j);
	return CMD_ASYNC;
}
