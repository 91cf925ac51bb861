/*
 * Forwarding lists, per-copy Delivered-To, loop protection, the list
 * rate limit and SRS for the SMTP server; see expand.h and
 * docs/outbound.md. cmd_rcpt.c and cmd_data.c only call in here.
 */
#include "smtp/expand.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "auth/userdb.h"
#include "core/buf.h"
#include "core/config.h"
#include "core/xmalloc.h"
#include "policy/ratelimit.h"
#include "policy/srs.h"
#include "store/store.h"

struct smtp_copy {
	char			*alias;		/* the RCPT address */
	char			*owner;		/* owner-<alias>, NULL: not a list */
	struct strlist		 aliases;	/* alias + nested ones */
	struct strlist		 local;
	struct strlist		 remote;
	char			 sender[ADDR_FORMAT_MAX];	/* for remote */
	struct store_spool	*spool;		/* NULL: none or the main one */
	char			 error[160];
};

struct smtp_copies {
	size_t			 n;
	struct smtp_copy	 v[SMTP_COPIES_MAX];
	struct smtp_copy	*main;		/* the copy in t->spool, or NULL */
};

/* The list rate limit of this worker process (loop thread only). */
static struct ratelimit	*list_rate;

static void
copy_cleanup(struct smtp_copy *c)
{
	free(c->alias);
	free(c->owner);
	strlist_clear(&c->aliases);
	strlist_clear(&c->local);
	strlist_clear(&c->remote);
	/* Without a successful commit this removes the file. */
	if (c->spool != NULL)
		store_spool_free(&c->spool);
}

void
smtp_copies_free(struct smtp_copies **cp)
{
	struct smtp_copies *c = *cp;

	if (c == NULL)
		return;
	for (size_t i = 0; i < c->n; i++)
		copy_cleanup(&c->v[i]);
	free(c);
	*cp = NULL;
}

/* "owner-<local>@<domain>" when that is an account or alias, else NULL. */
static char *
copy_owner(const struct smtp_session *s, const char *alias)
{
	char owner[ADDR_FORMAT_MAX];
	int n = snprintf(owner, sizeof(owner), "owner-%s", alias);

	if (n < 0 || (size_t)n >= sizeof(owner) ||
	    (!userdb_is_account(s->svc->users, owner) &&
	    !userdb_is_alias(s->svc->users, owner)))
		return NULL;
	return xstrdup(owner);
}

/* True when sender may send one more message through alias this hour. */
static bool
rate_ok(struct smtp_session *s, const char *alias)
{
	unsigned rate = s->svc->cfg->list_rate_limit;
	char key[RATELIMIT_KEY_MAX + 1];

	if (rate == 0)
		return true;
	if (list_rate == NULL)
		list_rate = ratelimit_new(rate);
	ratelimit_set_rate(list_rate, rate);
	/* Truncation only merges keys of absurdly long addresses. */
	(void)snprintf(key, sizeof(key), "%s %s", s->txn->sender_text, alias);
	return ratelimit_take(list_rate, key, time(NULL));
}

bool
smtp_copies_rcpt(struct smtp_session *s, const char *alias,
    const struct strlist *local, const struct strlist *remote,
    const struct strlist *aliases)
{
	struct smtp_txn *t = s->txn;
	struct smtp_copy *c;

	if (t->copies == NULL)
		t->copies = xcalloc(1, sizeof(*t->copies));
	for (size_t i = 0; i < t->copies->n; i++)
		if (strcmp(t->copies->v[i].alias, alias) == 0)
			return true;	/* the same alias twice: one copy */
	if (t->copies->n >= SMTP_COPIES_MAX) {
		smtp_reply(s, 452, "4.5.3", "Too many lists in one message, "
		    "send the rest separately");
		return false;
	}
	/*
	 * Only aliases that forward off this host can feed a storm; local
	 * ones (postmaster -> admin) take any amount of mail.
	 */
	if (remote->n > 0 && !rate_ok(s, alias)) {
		smtp_log(s, "event=list-rate-limited from=<%s> alias=<%s> "
		    "limit=%u/h", t->sender_text, alias,
		    s->svc->cfg->list_rate_limit);
		smtp_reply(s, 450, "4.7.1", "<%s>: too many messages from this "
		    "sender to this list, try again later", alias);
		return false;
	}
	c = &t->copies->v[t->copies->n++];
	memset(c, 0, sizeof(*c));
	c->alias = xstrdup(alias);
	c->owner = copy_owner(s, alias);
	strlist_init(&c->aliases);
	strlist_init(&c->local);
	strlist_init(&c->remote);
	for (size_t i = 0; i < aliases->n; i++)
		strlist_add_unique(&c->aliases, aliases->v[i]);
	for (size_t i = 0; i < local->n; i++)
		strlist_add_unique(&c->local, local->v[i]);
	for (size_t i = 0; i < remote->n; i++)
		strlist_add_unique(&c->remote, remote->v[i]);
	return true;
}

bool
smtp_srs_rcpt(struct smtp_session *s, const char *addr, char *out,
    size_t outsz)
{
	unsigned char key[USERDB_SECRET_LEN];
	enum srs_result rc;
	static const char *const why[] = { "ok", "not SRS", "malformed",
	    "bad hash", "expired", "too long" };

	userdb_derive_key(s->svc->users, SRS_KEY_LABEL, key);
	rc = srs_reverse_address(key, sizeof(key), time(NULL), addr, out,
	    outsz);
	explicit_bzero(key, sizeof(key));
	if (rc == SRS_OK) {
		str_lower(out);
		smtp_log(s, "event=srs-reversed rcpt=<%s> to=<%s>", addr, out);
		return true;
	}
	smtp_log(s, "event=srs-refused rcpt=<%s> reason=\"%s\"", addr,
	    why[-rc < 6 ? -rc : 2]);
	smtp_reply(s, 550, "5.1.1", "<%s>: Recipient address rejected: "
	    "invalid or expired SRS address", addr);
	return false;
}

/* Removes from l every entry in other. */
static void
list_subtract(struct strlist *l, const struct strlist *other)
{
	for (size_t i = 0; i < l->n; i++) {
		if (!strlist_contains(other, l->v[i]))
			continue;
		free(l->v[i]);
		l->v[i] = l->v[--l->n];
		i--;
	}
}

/* Moves every entry of from into to (to is empty); from ends empty. */
static void
list_move(struct strlist *to, struct strlist *from)
{
	for (size_t i = 0; i < from->n; i++)
		strlist_add_unique(to, from->v[i]);
	strlist_clear(from);
	strlist_init(from);
}

/* Duplicate suppression: plain recipients first, then copies in order. */
static void
copies_dedup(struct smtp_txn *t)
{
	struct smtp_copies *cs = t->copies;

	for (size_t i = 0; i < cs->n; i++) {
		struct smtp_copy *c = &cs->v[i];

		list_subtract(&c->local, &t->local);
		list_subtract(&c->remote, &t->remote);
		for (size_t j = 0; j < i; j++) {
			list_subtract(&c->local, &cs->v[j].local);
			list_subtract(&c->remote, &cs->v[j].remote);
		}
	}
}

static void
spool_write(struct smtp_session *s, struct store_spool *sp, const char *p,
    size_t len)
{
	struct smtp_txn *t = s->txn;
	const char *err = NULL;

	if (t->write_failed || len == 0)
		return;
	if (store_spool_write(sp, p, len, &err) == -1) {
		t->write_failed = true;
		snprintf(t->write_error, sizeof(t->write_error), "%s",
		    err != NULL ? err : "write failed");
		smtp_log(s, "event=spool-write-failed error=\"%s\"",
		    t->write_error);
	}
}

/* The prefix with "Delivered-To: alias" after its first line. */
static int
prefix_set(struct store_spool *sp, const char *alias, const char *pre,
    size_t len, const char **errstr)
{
	const char *nl = memchr(pre, '\n', len);
	size_t first = nl != NULL ? (size_t)(nl - pre) + 1 : 0;
	struct buf b;
	int rc;

	if (alias == NULL)
		return store_spool_set_prefix(sp, pre, len, errstr);
	buf_init(&b, STORE_PREFIX_MAX);
	rc = buf_append(&b, pre, first);
	if (rc == 0)
		rc = buf_printf(&b, "Delivered-To: %s\r\n", alias);
	if (rc == 0)
		rc = buf_append(&b, pre + first, len - first);
	if (rc == 0)
		rc = store_spool_set_prefix(sp, b.data, b.len, errstr);
	else
		*errstr = "header fields too long";
	buf_cleanup(&b);
	return rc;
}

int
smtp_copies_set_prefix(struct smtp_session *s, const char *pre, size_t len,
    const char **errstr)
{
	struct smtp_txn *t = s->txn;
	struct smtp_copies *cs = t->copies;

	if (cs == NULL)
		return prefix_set(t->spool, NULL, pre, len, errstr);
	for (size_t i = 0; i < cs->n; i++)
		if (cs->v[i].spool != NULL && prefix_set(cs->v[i].spool,
		    cs->v[i].alias, pre, len, errstr) == -1)
			return -1;
	return prefix_set(t->spool, cs->main != NULL ? cs->main->alias : NULL,
	    pre, len, errstr);
}

int
smtp_copies_start(struct smtp_session *s)
{
	struct smtp_txn *t = s->txn;
	struct smtp_copies *cs = t->copies;
	const char *err = NULL;

	if (cs == NULL)
		return 0;
	copies_dedup(t);
	for (size_t i = 0; i < cs->n; i++) {
		struct smtp_copy *c = &cs->v[i];

		if (c->local.n + c->remote.n == 0)
			continue;
		/* The usual list post: the copy takes over the main spool. */
		if (cs->main == NULL && t->local.n + t->remote.n == 0) {
			cs->main = c;
			list_move(&t->local, &c->local);
			list_move(&t->remote, &c->remote);
			continue;
		}
		c->spool = store_spool_create(s->svc->store, &err);
		if (c->spool == NULL) {
			smtp_log(s, "event=spool-create-failed error=\"%s\"",
			    err != NULL ? err : "?");
			return -1;
		}
	}
	return 0;
}

void
smtp_copies_write(struct smtp_session *s, const char *p, size_t len)
{
	struct smtp_copies *cs = s->txn->copies;

	for (size_t i = 0; cs != NULL && i < cs->n; i++)
		if (cs->v[i].spool != NULL)
			spool_write(s, cs->v[i].spool, p, len);
}

/* A Delivered-To value names addr (angle brackets and case ignored). */
static bool
dt_matches(const char *value, const char *addr)
{
	size_t len = strlen(value), alen = strlen(addr);

	if (len >= 2 && value[0] == '<' && value[len - 1] == '>') {
		value++;
		len -= 2;
	}
	return len == alen && strncasecmp(value, addr, len) == 0;
}

/* The alias of cs already delivered this message: a loop. */
static const char *
copies_loop(const struct smtp_copies *cs, const struct smtp_header *h)
{
	size_t n = h->delivered_to_count < SMTP_HEADER_DT_MAX ?
	    h->delivered_to_count : SMTP_HEADER_DT_MAX;

	for (size_t i = 0; i < cs->n; i++)
		for (size_t a = 0; a < cs->v[i].aliases.n; a++)
			for (size_t j = 0; j < n; j++)
				if (dt_matches(h->delivered_to[j],
				    cs->v[i].aliases.v[a]))
					return cs->v[i].aliases.v[a];
	return NULL;
}

/* RFC 3834 5.1: any Auto-Submitted value other than "no" is automatic. */
static bool
is_auto_submitted(const struct smtp_header *h)
{
	const char *v = h->auto_submitted;

	if (!h->has_auto_submitted)
		return false;
	return !(strncasecmp(v, "no", 2) == 0 && (v[2] == '\0' ||
	    v[2] == ';' || v[2] == ' ' || v[2] == '\t' || v[2] == '('));
}

/* The envelope sender for c's remote members. */
static void
copy_sender(struct smtp_session *s, struct smtp_copy *c, size_t n_remote)
{
	const struct smtp_txn *t = s->txn;
	const char *at = strrchr(t->sender_text, '@');
	unsigned char key[USERDB_SECRET_LEN];
	enum srs_result rc;

	(void)snprintf(c->sender, sizeof(c->sender), "%s", t->sender_text);
	if (c->owner != NULL) {
		/* A list: its problems go to its owner, not the poster. */
		(void)snprintf(c->sender, sizeof(c->sender), "%s", c->owner);
		return;
	}
	if (at == NULL || config_is_local_domain(s->svc->cfg, at + 1) ||
	    !s->svc->cfg->srs || n_remote == 0)
		return;
	userdb_derive_key(s->svc->users, SRS_KEY_LABEL, key);
	rc = srs_forward(key, sizeof(key), time(NULL), t->sender_text,
	    userdb_addr_domain(c->alias), c->sender, sizeof(c->sender));
	explicit_bzero(key, sizeof(key));
	if (rc != SRS_OK) {
		(void)snprintf(c->sender, sizeof(c->sender), "%s",
		    t->sender_text);
		smtp_log(s, "event=srs-skipped from=<%s> alias=<%s> "
		    "reason=%s", t->sender_text, c->alias,
		    rc == SRS_TOO_LONG ? "too-long" : "malformed");
	}
}

bool
smtp_copies_check(struct smtp_session *s)
{
	struct smtp_txn *t = s->txn;
	struct smtp_copies *cs = t->copies;
	const struct smtp_header *h = &t->header;
	unsigned max = s->svc->cfg->max_hops;
	const char *loop;
	bool automatic;

	/* RFC 5321 6.3: a count of Received fields is the loop detector. */
	if (h->received_count > max) {
		smtp_log(s, "event=mail-loop reason=hops received=%u max=%u "
		    "from=<%s>", h->received_count, max, t->sender_text);
		smtp_reply(s, 554, "5.4.6", "Too many hops (%u Received "
		    "fields, limit %u): mail loop?", h->received_count, max);
		return false;
	}
	if (cs == NULL)
		return true;
	if ((loop = copies_loop(cs, h)) != NULL) {
		smtp_log(s, "event=mail-loop reason=delivered-to alias=<%s> "
		    "from=<%s>", loop, t->sender_text);
		smtp_reply(s, 554, "5.4.6", "Mail loop detected: message was "
		    "already delivered to <%s>", loop);
		return false;
	}
	automatic = t->sender_text[0] == '\0' || is_auto_submitted(h);
	for (size_t i = 0; i < cs->n; i++) {
		struct smtp_copy *c = &cs->v[i];
		struct strlist *remote = c == cs->main ? &t->remote :
		    &c->remote;

		if (c->owner != NULL && automatic && remote->n > 0) {
			/* RFC 3834 2: no automatic mail to lists' members. */
			smtp_log(s, "event=list-not-forwarded alias=<%s> "
			    "reason=%s remote=%zu", c->alias,
			    t->sender_text[0] == '\0' ? "bounce" :
			    "auto-submitted", remote->n);
			strlist_clear(remote);
			strlist_init(remote);
		}
		copy_sender(s, c, remote->n);
		smtp_log(s, "event=list-expanded alias=<%s> local=%zu "
		    "remote=%zu sender=<%s>%s", c->alias,
		    c == cs->main ? t->local.n : c->local.n,
		    c == cs->main ? t->remote.n : c->remote.n, c->sender,
		    c == cs->main ? " spool=main" : "");
	}
	return true;
}

const char *
smtp_copies_main_sender(const struct smtp_txn *t)
{
	if (t->copies == NULL || t->copies->main == NULL)
		return t->sender_text;
	return t->copies->main->sender;
}

int
smtp_copies_commit(struct smtp_txn *t, const char **errstr)
{
	struct smtp_copies *cs = t->copies;

	for (size_t i = 0; cs != NULL && i < cs->n; i++) {
		struct smtp_copy *c = &cs->v[i];
		const char *err = NULL;
		struct store_delivery d = {
			.sender = c->sender,
			.n_local = c->local.n,
			.local = (const char *const *)c->local.v,
			.n_remote = c->remote.n,
			.remote = (const char *const *)c->remote.v,
		};

		/* No members left (bounce to a remote-only list): none. */
		if (c->spool == NULL || d.n_local + d.n_remote == 0)
			continue;
		if (store_spool_commit(c->spool, &d, &err) == -1) {
			(void)snprintf(c->error, sizeof(c->error), "%s",
			    err != NULL ? err : "commit failed");
			*errstr = c->error;
			return -1;
		}
	}
	return 0;
}
