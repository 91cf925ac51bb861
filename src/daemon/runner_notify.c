/*
 * The queue runner's notifications to senders (runner_int.h): failure
 * reports for recipients given up on, and the optional one-time delay
 * notice (queue_delay_notice). Formatting and delivery are bounce.c's.
 */
#include "daemon/runner_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "auth/userdb.h"
#include "core/config.h"
#include "core/log.h"
#include "core/xmalloc.h"
#include "daemon/runner.h"
#include "policy/srs.h"

/* Original header section copied into a notification. */
#define RUNNER_BOUNCE_HEADERS	(64 * 1024)

size_t
runner_read_headers(int fd, off_t off, char *out, size_t outsz)
{
	ssize_t n = pread(fd, out, outsz - 1, off);
	char *end;

	if (n <= 0)
		return 0;
	out[n] = '\0';
	if ((end = memmem(out, (size_t)n, "\r\n\r\n", 4)) != NULL)
		return (size_t)(end - out) + 2;
	return (size_t)n;
}

/*
 * After the Return-Path line the server wrote for local delivery, which
 * must not be transmitted (RFC 5321 4.4: only the final delivery adds it).
 */
off_t
runner_body_offset(int fd)
{
	char head[1024];
	ssize_t n = pread(fd, head, sizeof(head), 0);
	const char *nl;

	if (n < 12 || strncasecmp(head, "Return-Path:", 12) != 0)
		return 0;
	if ((nl = memchr(head, '\n', (size_t)n)) == NULL)
		return 0;
	return (off_t)(nl - head) + 1;
}

/*
 * Accounts and aliases, to deliver notifications to local senders: opened
 * on the first one, as opening hashes a dummy password, CPU the workers
 * need more while the server starts.
 */
static void
runner_users(struct runner *r)
{
	const char *err = NULL;

	if (r->users == NULL &&
	    (r->users = userdb_open(r->cfg->data_dir, &err)) == NULL)
		log_warn("relay event=no-userdb error=\"%s\"", err);
}

static void
runner_headers(struct runner *r, const char *id, char *headers, size_t sz,
    size_t *len)
{
	const char *err = NULL;
	int fd;

	headers[0] = '\0';
	*len = 0;
	if ((fd = store_queue_message_open(r->store, id, &err)) != -1) {
		*len = runner_read_headers(fd, runner_body_offset(fd), headers,
		    sz);
		close(fd);
	}
}

/*
 * A forwarded copy left with our SRS address as sender: its notices go
 * straight to the address inside (docs/outbound.md), not to ourselves.
 */
static void
runner_srs_unwrap(const struct runner *r, char *to, size_t tosz)
{
	const char *at = strrchr(to, '@');
	unsigned char key[USERDB_SECRET_LEN];
	char orig[QUEUE_ENV_MAX_ADDR + 16];

	if (r->users == NULL || at == NULL || !srs_is_srs(to) ||
	    !config_is_local_domain(r->cfg, at + 1))
		return;
	userdb_derive_key(r->users, SRS_KEY_LABEL, key);
	if (srs_reverse_address(key, sizeof(key), time(NULL), to, orig,
	    sizeof(orig)) == SRS_OK)
		(void)snprintf(to, tosz, "%s", orig);
	explicit_bzero(key, sizeof(key));
}

static void
postmaster(const struct config *cfg, char *to, size_t tosz)
{
	(void)snprintf(to, tosz, "postmaster@%s",
	    cfg->n_domains > 0 ? cfg->domains[0] : cfg->hostname);
}

void
runner_bounce(struct runner *r, const struct queue_envelope *env,
    const struct bounce_rcpt *br, size_t n)
{
	const struct config *cfg = r->cfg;
	char *headers = xmalloc(RUNNER_BOUNCE_HEADERS);
	char to[QUEUE_ENV_MAX_ADDR + 16];
	const char *err = NULL;
	int dbl = env->sender[0] == '\0';
	struct bounce_info b = {
		.reporting_mta = cfg->hostname, .qid = env->id,
		.arrival = env->arrival, .now = time(NULL), .n_rcpt = n,
		.rcpt = br, .headers = headers,
	};

	runner_users(r);
	runner_headers(r, env->id, headers, RUNNER_BOUNCE_HEADERS,
	    &b.headers_len);
	/* Never a bounce to <> (RFC 5321 6.1); the postmaster hears once. */
	if (dbl)
		postmaster(cfg, to, sizeof(to));
	else
		(void)snprintf(to, sizeof(to), "%s", env->sender);
	runner_srs_unwrap(r, to, sizeof(to));
	b.to = to;
	if (bounce_send(cfg, r->store, r->users, &b, dbl, &err) == -1) {
		log_error("relay qid=%s event=bounce-failed to=<%s> "
		    "double=%s error=\"%s\"", env->id, to, dbl ? "yes" : "no",
		    err);
		if (dbl)
			goto out;
		/* Undeliverable bounce: the postmaster hears of it instead. */
		dbl = 1;
		postmaster(cfg, to, sizeof(to));
		if (bounce_send(cfg, r->store, r->users, &b, dbl, &err) == -1) {
			log_error("relay qid=%s event=bounce-failed to=<%s> "
			    "double=yes error=\"%s\"", env->id, to, err);
			goto out;
		}
	}
	log_info("relay qid=%s event=%s to=<%s> rcpts=%zu", env->id,
	    dbl ? "double-bounce" : "bounce-sent", to, n);
out:
	free(headers);
}

void
runner_delay_notice(struct runner *r, struct queue_envelope *env,
    uint64_t now)
{
	const struct config *cfg = r->cfg;
	struct bounce_rcpt *br;
	char (*status)[16];
	char *headers, to[QUEUE_ENV_MAX_ADDR + 16];
	const char *err = NULL;
	size_t n = 0;
	struct bounce_info b = {
		.reporting_mta = cfg->hostname, .qid = env->id,
		.arrival = env->arrival, .now = (time_t)now,
		.is_delay = true,
		.retry_until = env->arrival + cfg->queue_max_lifetime,
	};

	/* Never to <> (RFC 3464 2: no notification about a notification). */
	if (cfg->queue_delay_notice == 0 || env->delay_notified != 0 ||
	    env->sender[0] == '\0' || now < env->arrival +
	    cfg->queue_delay_notice)
		return;
	br = xcalloc(env->n_rcpt, sizeof(*br));
	status = xcalloc(env->n_rcpt, sizeof(*status));
	for (size_t i = 0; i < env->n_rcpt; i++) {
		const struct queue_rcpt *q = &env->rcpt[i];

		if (q->state != QUEUE_RCPT_PENDING)
			continue;
		/* Still being retried: a 4.X.X status whatever was said. */
		if (q->last_reply[0] == '4')
			(void)bounce_status_of(q->last_reply, status[n]);
		else
			(void)snprintf(status[n], 16, "4.0.0");
		br[n].addr = q->addr;
		br[n].reply = q->last_reply;
		br[n].status = status[n];
		n++;
	}
	if (n == 0)
		goto out;
	env->delay_notified = now;
	if (store_queue_envelope_save(r->store, env, &err) == -1) {
		log_error("relay qid=%s event=save-failed error=\"%s\"", env->id,
		    err);
		goto out;
	}
	runner_users(r);
	(void)snprintf(to, sizeof(to), "%s", env->sender);
	runner_srs_unwrap(r, to, sizeof(to));
	b.to = to;
	headers = xmalloc(RUNNER_BOUNCE_HEADERS);
	runner_headers(r, env->id, headers, RUNNER_BOUNCE_HEADERS,
	    &b.headers_len);
	b.headers = headers;
	b.n_rcpt = n;
	b.rcpt = br;
	if (bounce_send(cfg, r->store, r->users, &b, 0, &err) == -1)
		log_error("relay qid=%s event=delay-notice-failed to=<%s> "
		    "error=\"%s\"", env->id, to, err);
	else
		log_info("relay qid=%s event=delay-notice-sent to=<%s> rcpts=%zu",
		    env->id, to, n);
	free(headers);
out:
	free(status);
	free(br);
}
