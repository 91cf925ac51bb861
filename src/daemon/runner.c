/*
 * Queue runner; see runner.h. One libevent loop: a timer scans queue/
 * every queue_scan_interval seconds and starts an SMTP client for each
 * message with recipients due, one delivery per message at a time (so
 * only one attempt ever rewrites an envelope). When a delivery ends the
 * envelope is reloaded, updated and saved atomically before anything
 * else happens, so a kill -9 at any instant at worst repeats an attempt.
 *
 * Envelope saves and bounce writes fsync on the loop thread: this process
 * serves no clients, so a short stall delays only its own deliveries,
 * whose timeouts are minutes.
 */
#include "daemon/runner.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <openssl/ssl.h>

#include "auth/userdb.h"
#include "core/config.h"
#include "core/log.h"
#include "core/xmalloc.h"
#include "daemon/bounce.h"
#include "daemon/sandbox.h"
#include "daemon/worker.h"
#include "policy/srs.h"
#include "smtp/client.h"
#include "store/store.h"

/* Deliveries in flight at once (each one connection). */
#define RUNNER_MAX_ACTIVE	32
/* Original header section copied into a bounce. */
#define RUNNER_BOUNCE_HEADERS	(64 * 1024)

struct runner;

struct delivery {
	struct runner		*r;
	struct delivery		*next;
	char			 id[STORE_ID_LEN + 1];
	int			 fd;
	struct smtp_client	*client;
	size_t			 n_rcpt;
	char			**rcpt;		/* attempted, owned */
};

struct runner {
	const struct config	*cfg;
	struct event_base	*base;
	struct store		*store;
	struct userdb		*users;
	SSL_CTX			*tls_ctx;
	struct event		*scan_timer, *sig_term, *sig_usr2;
	struct delivery		*active;
	size_t			 n_active;
};

/* One recipient's outcome of an attempt. */
struct attempt_result {
	const char	*addr;
	int		 code;
	const char	*reply;
};

static void
runner_log_attempt(const char *qid, const char *event, const char *to,
    const char *peer, const char *tls, const char *reply, long retry)
{
	char esc[600], rbuf[32] = "";

	if (retry >= 0)
		(void)snprintf(rbuf, sizeof(rbuf), " retry=%lds", retry);
	log_info("relay qid=%s event=%s to=<%s> peer=%s tls=%s reply=\"%s\"%s",
	    qid, event, to, peer, tls, log_escape(esc, sizeof(esc), reply,
	    strlen(reply)), rbuf);
}

static unsigned
runner_backoff(const struct config *cfg, uint32_t attempts)
{
	size_t i = attempts == 0 ? 0 : attempts - 1;

	if (i >= cfg->n_retry)
		i = cfg->n_retry - 1;
	return cfg->queue_retry[i];
}

/* The header section of the queued message, without our Return-Path. */
static size_t
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
 * Where the message proper starts: after the Return-Path line the server
 * wrote for local delivery, which must not be transmitted (RFC 5321 4.4:
 * only the final delivery adds it).
 */
static off_t
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
 * A forwarded copy left with our SRS address as sender: its bounce goes
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
runner_bounce(struct runner *r, const struct queue_envelope *env,
    const struct bounce_rcpt *br, size_t n)
{
	const struct config *cfg = r->cfg;
	char headers[RUNNER_BOUNCE_HEADERS], to[QUEUE_ENV_MAX_ADDR + 16];
	const char *err = NULL;
	int fd, dbl = env->sender[0] == '\0';
	struct bounce_info b = {
		.reporting_mta = cfg->hostname, .qid = env->id,
		.arrival = env->arrival, .now = time(NULL), .n_rcpt = n,
		.rcpt = br, .headers = headers,
	};

	/*
	 * Accounts and aliases, to deliver bounces to local senders: opened
	 * on the first bounce, as opening hashes a dummy password, CPU the
	 * workers need more while the server starts.
	 */
	if (r->users == NULL &&
	    (r->users = userdb_open(cfg->data_dir, &err)) == NULL)
		log_warn("relay event=no-userdb error=\"%s\"", err);
	headers[0] = '\0';
	if ((fd = store_queue_message_open(r->store, env->id, &err)) != -1) {
		b.headers_len = runner_read_headers(fd, runner_body_offset(fd),
		    headers, sizeof(headers));
		close(fd);
	}
	/* Never a bounce to <> (RFC 5321 6.1); the postmaster hears once. */
	if (dbl)
		(void)snprintf(to, sizeof(to), "postmaster@%s",
		    cfg->n_domains > 0 ? cfg->domains[0] : cfg->hostname);
	else
		(void)snprintf(to, sizeof(to), "%s", env->sender);
	runner_srs_unwrap(r, to, sizeof(to));
	b.to = to;
	if (bounce_send(cfg, r->store, r->users, &b, dbl, &err) == -1) {
		log_error("relay qid=%s event=bounce-failed to=<%s> "
		    "double=%s error=\"%s\"", env->id, to, dbl ? "yes" : "no",
		    err);
		if (dbl)
			return;
		/* Undeliverable bounce: the postmaster hears of it instead. */
		dbl = 1;
		(void)snprintf(to, sizeof(to), "postmaster@%s",
		    cfg->n_domains > 0 ? cfg->domains[0] : cfg->hostname);
		if (bounce_send(cfg, r->store, r->users, &b, dbl, &err) == -1) {
			log_error("relay qid=%s event=bounce-failed to=<%s> "
			    "double=yes error=\"%s\"", env->id, to, err);
			return;
		}
	}
	log_info("relay qid=%s event=%s to=<%s> rcpts=%zu", env->id,
	    dbl ? "double-bounce" : "bounce-sent", to, n);
}

/*
 * Applies the results of one attempt to env (freshly loaded), bounces the
 * recipients that failed for good, then saves the envelope or, with no
 * recipient left pending, removes the entry.
 */
static void
runner_apply(struct runner *r, struct queue_envelope *env,
    const struct attempt_result *res, size_t n, const char *peer,
    const char *tls)
{
	struct bounce_rcpt *br = xcalloc(n, sizeof(*br));
	char (*status)[16] = xcalloc(n, sizeof(*status));
	time_t now = time(NULL);
	size_t n_br = 0, pending = 0;
	const char *err = NULL;

	for (size_t i = 0; i < n; i++) {
		struct queue_rcpt *q = NULL;
		/* No answer at all is a temporary failure. */
		int code = res[i].code != 0 ? res[i].code : 451;
		char reply[QUEUE_ENV_MAX_REPLY];

		for (size_t k = 0; k < env->n_rcpt && q == NULL; k++)
			if (env->rcpt[k].state == QUEUE_RCPT_PENDING &&
			    strcmp(env->rcpt[k].addr, res[i].addr) == 0)
				q = &env->rcpt[k];
		if (q == NULL)
			continue;	/* deleted or changed meanwhile */
		q->attempts++;
		(void)snprintf(reply, sizeof(reply), "%s", res[i].reply);
		if (code >= 400 && code < 500 && (uint64_t)now >=
		    env->arrival + r->cfg->queue_max_lifetime) {
			(void)snprintf(reply, sizeof(reply), "%s (4.4.7 gave up "
			    "after %u attempts)", res[i].reply, q->attempts);
			code = 554;
		}
		free(q->last_reply);
		q->last_reply = xstrdup(reply);
		if (code >= 200 && code < 300) {
			q->state = QUEUE_RCPT_DELIVERED;
			runner_log_attempt(env->id, "delivered", q->addr, peer,
			    tls, reply, -1);
		} else if (code >= 400 && code < 500) {
			unsigned wait = runner_backoff(r->cfg, q->attempts);

			/* Held (queue hold) while this attempt ran: stays held. */
			if (q->next_try < RUNNER_NEXT_TRY_HELD)
				q->next_try = (uint64_t)now + wait;
			runner_log_attempt(env->id, "deferred", q->addr, peer,
			    tls, reply, (long)wait);
		} else {
			q->state = QUEUE_RCPT_FAILED;
			runner_log_attempt(env->id, "bounced", q->addr, peer,
			    tls, reply, -1);
			if (res[i].code >= 400 && res[i].code < 500)
				(void)snprintf(status[n_br], 16, "4.4.7");
			else
				(void)bounce_status_of(reply, status[n_br]);
			br[n_br].addr = q->addr;
			br[n_br].reply = q->last_reply;
			br[n_br].status = status[n_br];
			n_br++;
		}
	}
	/* Bounce first: a crash before the save repeats it, never loses it. */
	if (n_br > 0)
		runner_bounce(r, env, br, n_br);
	for (size_t k = 0; k < env->n_rcpt; k++)
		if (env->rcpt[k].state == QUEUE_RCPT_PENDING)
			pending++;
	if (pending == 0) {
		if (store_queue_remove(r->store, env->id, &err) == -1)
			log_error("relay qid=%s event=remove-failed error=\"%s\"",
			    env->id, err);
		else
			log_info("relay qid=%s event=done", env->id);
	} else if (store_queue_envelope_save(r->store, env, &err) == -1)
		log_error("relay qid=%s event=save-failed error=\"%s\"", env->id,
		    err);
	free(status);
	free(br);
}

static void
runner_unlink(struct runner *r, struct delivery *d)
{
	struct delivery **pp;

	for (pp = &r->active; *pp != NULL; pp = &(*pp)->next)
		if (*pp == d) {
			*pp = d->next;
			r->n_active--;
			return;
		}
}

static void
runner_scan_soon(struct runner *r)
{
	struct timeval now = { 0, 0 };

	evtimer_add(r->scan_timer, &now);
}

static void
delivery_free(struct delivery *d)
{
	smtp_client_free(&d->client);
	if (d->fd != -1)
		close(d->fd);
	for (size_t i = 0; i < d->n_rcpt; i++)
		free(d->rcpt[i]);
	free(d->rcpt);
	free(d);
}

static void
runner_done(void *arg, const struct smtp_client_result *res)
{
	struct delivery *d = arg;
	struct runner *r = d->r;
	struct queue_envelope env;
	struct attempt_result *ar = xcalloc(res->n_rcpt, sizeof(*ar));
	const char *err = NULL;
	char tls[128];

	/* The client frees itself when this returns. */
	d->client = NULL;
	runner_unlink(r, d);
	if (res->cipher[0] != '\0')
		(void)snprintf(tls, sizeof(tls), "%s cipher=%s", res->tls,
		    res->cipher);
	else
		(void)snprintf(tls, sizeof(tls), "%s", res->tls);
	for (size_t i = 0; i < res->n_rcpt; i++) {
		ar[i].addr = d->rcpt[i];
		ar[i].code = res->rcpt[i].code;
		ar[i].reply = res->rcpt[i].reply;
	}
	if (store_queue_envelope_load(r->store, d->id, &env, &err) == -1)
		log_warn("relay qid=%s event=envelope-gone error=\"%s\"", d->id,
		    err);
	else {
		runner_apply(r, &env, ar, res->n_rcpt, res->peer, tls);
		store_queue_envelope_cleanup(&env);
	}
	free(ar);
	delivery_free(d);
	runner_scan_soon(r);
}

static bool
runner_is_active(const struct runner *r, const char *id)
{
	for (const struct delivery *d = r->active; d != NULL; d = d->next)
		if (strcmp(d->id, id) == 0)
			return true;
	return false;
}

static const char *
rcpt_domain(const char *addr)
{
	const char *at = strrchr(addr, '@');

	return at != NULL ? at + 1 : "";
}

/* The numeric host of a route, for the certificate check under verify. */
static void
route_host(const struct config_route *rt, char *out, size_t outsz)
{
	const struct sockaddr *sa = (const struct sockaddr *)&rt->hop.addr;

	if (sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr,
		    out, (socklen_t)outsz);
	else
		inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr,
		    out, (socklen_t)outsz);
}

/*
 * Starts one delivery for the due recipients of env that share the first
 * due recipient's route. Recipients without any route are deferred here.
 */
static void
runner_start(struct runner *r, struct queue_envelope *env)
{
	const struct config_route *rt = NULL;
	struct delivery *d;
	struct smtp_client_params p;
	uint64_t now = (uint64_t)time(NULL);
	const char *err = NULL;
	char host[64], peer[80];
	struct stat sb;
	size_t n_noroute = 0;
	struct attempt_result *noroute = xcalloc(env->n_rcpt, sizeof(*noroute));

	d = xcalloc(1, sizeof(*d));
	d->r = r;
	d->fd = -1;
	memcpy(d->id, env->id, sizeof(d->id));
	d->rcpt = xcalloc(env->n_rcpt, sizeof(*d->rcpt));
	for (size_t i = 0; i < env->n_rcpt; i++) {
		const struct queue_rcpt *q = &env->rcpt[i];
		const struct config_route *qr;

		if (q->state != QUEUE_RCPT_PENDING || q->next_try > now)
			continue;
		qr = config_route_find(r->cfg, rcpt_domain(q->addr));
		if (qr == NULL) {
			noroute[n_noroute].addr = q->addr;
			noroute[n_noroute].code = 451;
			noroute[n_noroute++].reply = "451 4.4.3 no route (DNS MX "
			    "delivery not yet available)";
			continue;
		}
		if (rt == NULL)
			rt = qr;
		if (qr == rt)
			d->rcpt[d->n_rcpt++] = xstrdup(q->addr);
	}
	if (n_noroute > 0)
		runner_apply(r, env, noroute, n_noroute, "none", "no");
	free(noroute);
	if (d->n_rcpt == 0) {
		delivery_free(d);
		return;
	}
	if ((d->fd = store_queue_message_open(r->store, env->id, &err)) == -1 ||
	    fstat(d->fd, &sb) == -1) {
		log_error("relay qid=%s event=message-unreadable error=\"%s\"",
		    env->id, err != NULL ? err : strerror(errno));
		delivery_free(d);
		return;
	}
	route_host(rt, host, sizeof(host));
	(void)snprintf(peer, sizeof(peer), rt->hop.addr.ss_family == AF_INET6 ?
	    "[%s]:%u" : "%s:%u", host, (unsigned)ntohs(
	    ((const struct sockaddr_in *)&rt->hop.addr)->sin_port));
	memset(&p, 0, sizeof(p));
	p.base = r->base;
	p.cfg = r->cfg;
	p.tls_ctx = r->tls_ctx;
	p.tls_name = host;
	p.tls_mode = config_tls_policy_find(r->cfg, rcpt_domain(d->rcpt[0]));
	p.addr = (const struct sockaddr *)&rt->hop.addr;
	p.addrlen = rt->hop.addrlen;
	p.peer_text = peer;
	p.sender = env->sender;
	p.n_rcpt = d->n_rcpt;
	p.rcpt = (const char *const *)d->rcpt;
	p.msg_fd = d->fd;
	p.msg_offset = runner_body_offset(d->fd);
	p.msg_size = (uint64_t)sb.st_size - (uint64_t)p.msg_offset;
	p.done = runner_done;
	p.arg = d;
	d->next = r->active;
	r->active = d;
	r->n_active++;
	d->client = smtp_client_start(&p);
}

static int
runner_scan_one(const char *id, void *arg)
{
	struct runner *r = arg;
	struct queue_envelope env;
	const char *err = NULL;
	uint64_t now = (uint64_t)time(NULL);
	bool due = false;

	if (r->n_active >= RUNNER_MAX_ACTIVE)
		return 1;
	if (runner_is_active(r, id))
		return 0;
	if (store_queue_envelope_load(r->store, id, &env, &err) == -1) {
		log_warn("relay qid=%s event=envelope-unreadable error=\"%s\"",
		    id, err);
		return 0;
	}
	for (size_t i = 0; i < env.n_rcpt; i++)
		if (env.rcpt[i].state == QUEUE_RCPT_PENDING &&
		    env.rcpt[i].next_try <= now)
			due = true;
	if (due)
		runner_start(r, &env);
	else if (env.n_rcpt > 0) {
		bool pending = false;

		for (size_t i = 0; i < env.n_rcpt; i++)
			pending |= env.rcpt[i].state == QUEUE_RCPT_PENDING;
		/* Finished but not removed (a crash between save and remove). */
		if (!pending && store_queue_remove(r->store, id, &err) == 0)
			log_info("relay qid=%s event=done", id);
	}
	store_queue_envelope_cleanup(&env);
	return 0;
}

static void
runner_scan_cb(evutil_socket_t fd, short what, void *arg)
{
	struct runner *r = arg;
	struct timeval tv = { (time_t)r->cfg->queue_scan_interval, 0 };
	const char *err = NULL;

	(void)fd;
	(void)what;
	if (r->users != NULL && userdb_refresh(r->users) == 1)
		log_info("relay event=accounts-reloaded");
	if (store_queue_list(r->store, runner_scan_one, r, &err) == -1)
		log_error("relay event=scan-failed error=\"%s\"", err);
	evtimer_add(r->scan_timer, &tv);
}

static void
runner_signal_cb(evutil_socket_t sig, short what, void *arg)
{
	struct runner *r = arg;

	(void)what;
	if (sig == SIGUSR2) {
		runner_scan_soon(r);
		return;
	}
	/* Attempts in flight are abandoned: their envelopes still say
	 * pending, so they are simply tried again after a restart. */
	while (r->active != NULL) {
		struct delivery *d = r->active;

		r->active = d->next;
		delivery_free(d);
	}
	r->n_active = 0;
	event_base_loopexit(r->base, NULL);
}

static SSL_CTX *
runner_tls_ctx(const struct config *cfg)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

	if (ctx == NULL)
		fatal("SSL_CTX_new for outbound TLS failed");
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION |
	    SSL_OP_NO_COMPRESSION);
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
	    SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS);
	/*
	 * Opportunistic TLS (RFC 7435) accepts any certificate: an
	 * unauthenticated encrypted hop still beats plaintext. Under verify
	 * each connection turns peer verification on (client.c).
	 */
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	if (cfg->tls_outbound == TLS_OUTBOUND_VERIFY &&
	    SSL_CTX_set_default_verify_paths(ctx) != 1)
		log_warn("relay event=no-ca-store");
	return ctx;
}

int
runner_main(const struct config *cfg)
{
	struct runner r;
	const char *err = NULL;

	memset(&r, 0, sizeof(r));
	r.cfg = cfg;
	log_set_prefix("runner ");
	worker_drop_privileges(cfg);
	if (prctl(PR_SET_PDEATHSIG, SIGTERM, 0, 0, 0) == -1 || getppid() == 1)
		_exit(1);
	if (sandbox_apply(cfg, SANDBOX_RUNNER, NULL) == -1)
		_exit(1);
	signal(SIGPIPE, SIG_IGN);
	if ((r.base = event_base_new()) == NULL)
		fatal("event_base_new failed");
	if ((r.store = store_open(cfg->data_dir, cfg->hostname, &err)) == NULL)
		fatal("store in %s: %s", cfg->data_dir, err);
	r.tls_ctx = runner_tls_ctx(cfg);
	r.scan_timer = evtimer_new(r.base, runner_scan_cb, &r);
	r.sig_term = evsignal_new(r.base, SIGTERM, runner_signal_cb, &r);
	r.sig_usr2 = evsignal_new(r.base, SIGUSR2, runner_signal_cb, &r);
	evsignal_add(r.sig_term, NULL);
	evsignal_add(r.sig_usr2, NULL);
	runner_scan_soon(&r);
	log_info("relay event=started pid=%d", (int)getpid());
	event_base_dispatch(r.base);

	event_free(r.scan_timer);
	event_free(r.sig_term);
	event_free(r.sig_usr2);
	SSL_CTX_free(r.tls_ctx);
	userdb_free(&r.users);
	store_free(&r.store);
	event_base_free(r.base);
	log_info("relay event=stopped");
	return 0;
}
