/*
 * Queue runner; see runner.h. One libevent loop: a timer scans queue/
 * every queue_scan_interval seconds and starts a delivery for each
 * message with recipients due, one delivery per message at a time (so
 * only one attempt ever rewrites an envelope). When a delivery ends the
 * envelope is reloaded, updated and saved atomically before anything
 * else happens, so a kill -9 at any instant at worst repeats an attempt.
 *
 * A delivery takes the due recipients of one destination: a `transport`
 * or `relay_host` route when one matches (fixed next hop), else the
 * recipient domain's MX hosts (route.c), tried address after address
 * while the failure is temporary and applies to every recipient (RFC
 * 5321 5.1). Connections are counted by relay_limit.c; a message over a
 * limit waits in an in-memory backlog that finished deliveries draw from,
 * so a busy queue is not re-read from disk for every free slot. A
 * connection whose message is done stays open a few seconds (RUNNER_IDLE)
 * for the next message to the same domain (RSET, then MAIL: client.c).
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
#include "daemon/relay_limit.h"
#include "daemon/route.h"
#include "daemon/runner_int.h"
#include "daemon/sandbox.h"
#include "daemon/worker.h"
#include "dns/resolver.h"
#include "smtp/client.h"
#include "store/store.h"

/* Messages remembered as due but over a limit; more wait for a scan. */
#define RUNNER_BACKLOG_MAX	20000
/* Seconds an idle connection waits for another message of its domain. */
#define RUNNER_IDLE		5

/*
 * One outbound connection. While a delivery uses it, the delivery holds
 * the connection slot; while idle it waits in r->idle holding the slot
 * itself, for the next message to the same domain.
 */
struct rconn {
	struct runner		*r;
	struct rconn		*next;		/* in r->idle */
	struct smtp_client	*c;
	struct relay_dest	*dest;		/* the slot, while idle */
	char			 domain[256];
};

struct backlog_item {
	char	id[STORE_ID_LEN + 1];
	char	domain[256];
	bool	used;
};

struct delivery {
	struct runner		*r;
	struct delivery		*next;
	char			 id[STORE_ID_LEN + 1];
	int			 fd;
	struct rconn		*conn;		/* NULL in the DNS phase */
	bool			 reused;	/* conn was idle before */
	const struct config_route	*rt;	/* fixed route, or NULL: MX */
	struct route_lookup	*lookup;
	struct relay_dest	*dest;
	char			*sender;
	off_t			 msg_offset;
	uint64_t		 msg_size;
	size_t			 n_rcpt;
	char			**rcpt;		/* attempted, owned */
	/* The next hops: one for a fixed route, MX addresses otherwise. */
	bool			 is_mx;
	struct route_hop	*hop;
	size_t			 n_hop, next_hop;
};

/* One recipient's outcome of an attempt. */
struct attempt_result {
	const char	*addr;
	int		 code;
	const char	*reply;
};

static double
runner_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * One line per recipient and attempt: message id, recipient, peer (MX
 * name and address), TLS state, the peer's reply and, when deferred, the
 * wait and the time of the next try.
 */
static void
runner_log_attempt(const char *qid, const char *event, const char *to,
    const char *peer, const char *tls, const char *reply, long retry)
{
	char esc[600], rbuf[80] = "";

	if (retry >= 0) {
		time_t next = time(NULL) + retry;
		struct tm tm;
		char when[32];

		gmtime_r(&next, &tm);
		if (strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
			when[0] = '\0';
		(void)snprintf(rbuf, sizeof(rbuf), " retry=%lds next=%s", retry,
		    when);
	}
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
			return;
		}
}

static void
runner_scan_soon(struct runner *r)
{
	struct timeval now = { 0, 0 };

	evtimer_add(r->scan_timer, &now);
}

/* Frees d and gives its connection slot back (it is not in r->active). */
static void
delivery_free(struct delivery *d)
{
	if (d->conn != NULL) {
		smtp_client_free(&d->conn->c);
		free(d->conn);
	}
	route_lookup_cancel(&d->lookup);
	if (d->dest != NULL)
		relay_limit_release(d->r->limits, d->dest);
	if (d->fd != -1)
		close(d->fd);
	for (size_t i = 0; i < d->n_rcpt; i++)
		free(d->rcpt[i]);
	free(d->rcpt);
	free(d->sender);
	free(d->hop);
	free(d);
}

static void	runner_backlog_serve(struct runner *);

/* An idle connection ended by itself (timeout, peer hung up or 421). */
static void
runner_idle_closed(void *arg)
{
	struct rconn *rc = arg, **pp;
	struct runner *r = rc->r;

	for (pp = &r->idle; *pp != NULL; pp = &(*pp)->next)
		if (*pp == rc) {
			*pp = rc->next;
			break;
		}
	rc->c = NULL;		/* frees itself */
	if (rc->dest != NULL)
		relay_limit_release(r->limits, rc->dest);
	free(rc);
	event_active(r->kick_ev, EV_TIMEOUT, 0);
}

/* Takes the idle connection for domain out of the pool, or NULL. */
static struct rconn *
runner_idle_take(struct runner *r, const char *domain)
{
	struct rconn **pp;

	for (pp = &r->idle; *pp != NULL; pp = &(*pp)->next)
		if (strcasecmp((*pp)->domain, domain) == 0) {
			struct rconn *rc = *pp;

			*pp = rc->next;
			rc->next = NULL;
			return rc;
		}
	return NULL;
}

/*
 * Ends the longest idle connection (the last in the list: new ones go
 * first) to free its slot for another domain. False when none is idle.
 */
static bool
runner_idle_close_oldest(struct runner *r)
{
	struct rconn **pp = &r->idle, *rc;

	if (*pp == NULL)
		return false;
	while ((*pp)->next != NULL)
		pp = &(*pp)->next;
	rc = *pp;
	*pp = NULL;
	smtp_client_close(&rc->c);
	relay_limit_release(r->limits, rc->dest);
	free(rc);
	return true;
}

/* The attempt is over: record every recipient's outcome, free d. */
static void
runner_finish(struct delivery *d, const struct attempt_result *ar,
    const char *peer, const char *tls)
{
	struct runner *r = d->r;
	struct queue_envelope env;
	const char *err = NULL;

	runner_unlink(r, d);
	/* A connection still good waits for the domain's next message. */
	if (d->conn != NULL) {
		d->conn->dest = d->dest;
		d->dest = NULL;
		d->conn->next = r->idle;
		r->idle = d->conn;
		d->conn = NULL;
	}
	if (store_queue_envelope_load(r->store, d->id, &env, &err) == -1)
		log_warn("relay qid=%s event=envelope-gone error=\"%s\"", d->id,
		    err);
	else {
		runner_apply(r, &env, ar, d->n_rcpt, peer, tls);
		store_queue_envelope_cleanup(&env);
	}
	delivery_free(d);
	/* From the loop: this may run inside a scan or a backlog walk. */
	event_active(r->kick_ev, EV_TIMEOUT, 0);
}

/* Waiting work first; with none, look for new work. */
static void
runner_kick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct runner *r = arg;

	(void)fd;
	(void)what;
	if (r->n_backlog > 0)
		runner_backlog_serve(r);
	else
		runner_scan_soon(r);
}

/* Every recipient gets the same temporary or permanent reply. */
static void
runner_finish_all(struct delivery *d, const char *reply, const char *peer)
{
	struct attempt_result *ar = xcalloc(d->n_rcpt, sizeof(*ar));
	int code = (reply[0] - '0') * 100 + (reply[1] - '0') * 10 +
	    (reply[2] - '0');

	for (size_t i = 0; i < d->n_rcpt; i++) {
		ar[i].addr = d->rcpt[i];
		ar[i].code = code;
		ar[i].reply = reply;
	}
	runner_finish(d, ar, peer, "no");
	free(ar);
}

static void	runner_done(void *, const struct smtp_client_result *);
static void	runner_route_cb(void *, const struct route_result *);
static void	route_as_hop(const struct config_route *, struct route_hop *);

/* The message half of the client parameters. */
static void
runner_msg_params(struct delivery *d, struct smtp_client_params *p)
{
	memset(p, 0, sizeof(*p));
	p->sender = d->sender;
	p->n_rcpt = d->n_rcpt;
	p->rcpt = (const char *const *)d->rcpt;
	p->msg_fd = d->fd;
	p->msg_offset = d->msg_offset;
	p->msg_size = d->msg_size;
	p->done = runner_done;
	p->arg = d;
}

/* Connects to d's next hop. */
static void
runner_connect(struct delivery *d)
{
	const struct route_hop *h = &d->hop[d->next_hop++];
	const struct config *cfg = d->r->cfg;
	struct smtp_client_params p;
	struct rconn *rc = xcalloc(1, sizeof(*rc));

	rc->r = d->r;
	(void)snprintf(rc->domain, sizeof(rc->domain), "%s",
	    relay_dest_domain(d->dest));
	d->conn = rc;
	runner_msg_params(d, &p);
	p.base = d->r->base;
	p.cfg = cfg;
	p.tls_ctx = d->r->tls_ctx;
	/* Under verify: an MX is checked by its name, a route by address. */
	p.tls_name = d->is_mx ? h->host : h->ip;
	p.tls_mode = config_tls_policy_find(cfg, rc->domain);
	p.is_relay_host = d->rt != NULL && d->rt == &cfg->relay_host;
	p.addr = (const struct sockaddr *)&h->addr;
	p.addrlen = h->addrlen;
	p.peer_text = h->text;
	p.reuse = true;
	p.idle_timeout = RUNNER_IDLE;
	p.closed = runner_idle_closed;
	p.closed_arg = rc;
	rc->c = smtp_client_start(&p);
}

/* Finds d's next hops: the fixed route, or the domain's MX hosts. */
static void
runner_begin(struct delivery *d)
{
	struct runner *r = d->r;

	free(d->hop);
	d->hop = NULL;
	d->n_hop = d->next_hop = 0;
	if (d->rt != NULL) {
		d->hop = xcalloc(1, sizeof(*d->hop));
		route_as_hop(d->rt, d->hop);
		d->n_hop = 1;
		runner_connect(d);
		return;
	}
	d->is_mx = true;
	if (r->res == NULL) {
		runner_finish_all(d, "451 4.4.3 no DNS resolver for MX "
		    "look-ups", "dns");
		return;
	}
	d->lookup = route_lookup_start(r->res, relay_dest_domain(d->dest),
	    r->cfg->relay_mx_port, runner_route_cb, d);
}

/* Sends d's message over an idle connection of its domain. */
static void
runner_reuse(struct delivery *d, struct rconn *rc)
{
	struct smtp_client_params p;

	/* The slot moves from the idle connection to the delivery. */
	d->dest = rc->dest;
	rc->dest = NULL;
	d->conn = rc;
	d->reused = true;
	d->is_mx = d->rt == NULL;
	runner_msg_params(d, &p);
	p.closed = runner_idle_closed;
	p.closed_arg = rc;
	if (smtp_client_next(rc->c, &p) == -1) {
		/* Not idle after all: a bug, but the message still goes. */
		log_error("relay qid=%s event=reuse-refused", d->id);
		smtp_client_free(&rc->c);
		free(rc);
		d->conn = NULL;
		d->reused = false;
		runner_begin(d);
	}
}

/*
 * RFC 5321 5.1: on a temporary failure for the whole transaction
 * (connection refused, 4xx greeting, lost connection, timeout) the next
 * address is tried. A 2xx or 5xx for anyone, or 4xx replies some
 * recipients got while others got an answer, end the attempt.
 */
static bool
runner_all_temporary(const struct smtp_client_result *res)
{
	for (size_t i = 0; i < res->n_rcpt; i++)
		if (res->rcpt[i].code != 0 && (res->rcpt[i].code < 400 ||
		    res->rcpt[i].code >= 500))
			return false;
	return true;
}

static void
runner_done(void *arg, const struct smtp_client_result *res)
{
	struct delivery *d = arg;
	struct attempt_result *ar;
	bool temp = runner_all_temporary(res);
	const char *why = res->n_rcpt > 0 ? res->rcpt[0].reply : "";
	char tls[128], esc[600];

	if (!res->reusable) {
		d->conn->c = NULL;	/* frees itself when this returns */
		free(d->conn);
		d->conn = NULL;
	}
	/*
	 * A kept connection that broke (the peer timed it out, or said 421
	 * to RSET) says nothing about the destination: try afresh.
	 */
	if (d->reused && d->conn == NULL && temp) {
		log_info("relay qid=%s event=reuse-failed peer=%s reply=\"%s\"",
		    d->id, res->peer, log_escape(esc, sizeof(esc), why,
		    strlen(why)));
		d->reused = false;
		runner_begin(d);
		return;
	}
	if (d->next_hop < d->n_hop && temp) {
		log_info("relay qid=%s event=next-hop peer=%s tls=%s "
		    "reply=\"%s\" next=%s", d->id, res->peer, res->tls,
		    log_escape(esc, sizeof(esc), why, strlen(why)),
		    d->hop[d->next_hop].text);
		if (d->conn != NULL) {
			smtp_client_close(&d->conn->c);
			free(d->conn);
			d->conn = NULL;
		}
		runner_connect(d);
		return;
	}
	if (res->cipher[0] != '\0')
		(void)snprintf(tls, sizeof(tls), "%s cipher=%s", res->tls,
		    res->cipher);
	else
		(void)snprintf(tls, sizeof(tls), "%s", res->tls);
	ar = xcalloc(res->n_rcpt, sizeof(*ar));
	for (size_t i = 0; i < res->n_rcpt; i++) {
		ar[i].addr = d->rcpt[i];
		ar[i].code = res->rcpt[i].code;
		ar[i].reply = res->rcpt[i].reply;
	}
	runner_finish(d, ar, res->peer, tls);
	free(ar);
}

/* The MX look-up is over: connect, or record why not. */
static void
runner_route_cb(void *arg, const struct route_result *rr)
{
	struct delivery *d = arg;

	d->lookup = NULL;	/* frees itself when this returns */
	if (rr->status != ROUTE_OK) {
		runner_finish_all(d, rr->reply, "dns");
		return;
	}
	d->hop = xcalloc(rr->n_hop, sizeof(*d->hop));
	memcpy(d->hop, rr->hop, rr->n_hop * sizeof(*d->hop));
	d->n_hop = rr->n_hop;
	runner_connect(d);
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

/* A fixed route as the one hop of a delivery. */
static void
route_as_hop(const struct config_route *rt, struct route_hop *h)
{
	const struct sockaddr *sa = (const struct sockaddr *)&rt->hop.addr;
	unsigned port;

	memset(h, 0, sizeof(*h));
	memcpy(&h->addr, &rt->hop.addr, sizeof(h->addr));
	h->addrlen = rt->hop.addrlen;
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const void *)sa;

		inet_ntop(AF_INET6, &s6->sin6_addr, h->ip, sizeof(h->ip));
		port = ntohs(s6->sin6_port);
	} else {
		const struct sockaddr_in *s4 = (const void *)sa;

		inet_ntop(AF_INET, &s4->sin_addr, h->ip, sizeof(h->ip));
		port = ntohs(s4->sin_port);
	}
	(void)snprintf(h->text, sizeof(h->text), sa->sa_family == AF_INET6 ?
	    "[%s]:%u" : "%s:%u", h->ip, port);
}

/*
 * Starts one delivery of env's due recipients for one domain: those
 * sharing the domain's fixed route, or, without a route, those of the
 * same domain. Either dest is a slot just acquired for the domain, or rc
 * an idle connection to it (whose slot the delivery takes over).
 */
static void
runner_start(struct runner *r, struct queue_envelope *env,
    struct relay_dest *dest, struct rconn *rc)
{
	const char *domain = dest != NULL ? relay_dest_domain(dest) :
	    rc->domain;
	const struct config_route *rt = config_route_find(r->cfg, domain);
	uint64_t now = (uint64_t)time(NULL);
	const char *err = NULL;
	struct delivery *d;
	struct stat sb;

	d = xcalloc(1, sizeof(*d));
	d->r = r;
	d->fd = -1;
	d->dest = dest;
	d->rt = rt;
	memcpy(d->id, env->id, sizeof(d->id));
	d->sender = xstrdup(env->sender);
	d->rcpt = xcalloc(env->n_rcpt, sizeof(*d->rcpt));
	for (size_t i = 0; i < env->n_rcpt; i++) {
		const struct queue_rcpt *q = &env->rcpt[i];
		const char *qd = rcpt_domain(q->addr);

		if (q->state != QUEUE_RCPT_PENDING || q->next_try > now)
			continue;
		if (rt != NULL ? config_route_find(r->cfg, qd) == rt :
		    strcasecmp(qd, domain) == 0)
			d->rcpt[d->n_rcpt++] = xstrdup(q->addr);
	}
	if (d->n_rcpt == 0 || (d->fd = store_queue_message_open(r->store,
	    env->id, &err)) == -1 || fstat(d->fd, &sb) == -1) {
		if (d->n_rcpt > 0)
			log_error("relay qid=%s event=message-unreadable "
			    "error=\"%s\"", env->id, err != NULL ? err :
			    strerror(errno));
		if (rc != NULL) {
			/* Back to the pool, untouched. */
			rc->next = r->idle;
			r->idle = rc;
		}
		delivery_free(d);
		return;
	}
	d->msg_offset = runner_body_offset(d->fd);
	d->msg_size = (uint64_t)sb.st_size - (uint64_t)d->msg_offset;
	d->next = r->active;
	r->active = d;
	if (rc != NULL)
		runner_reuse(d, rc);
	else
		runner_begin(d);
}

static void
runner_backlog_add(struct runner *r, const char *id, const char *domain)
{
	struct backlog_item *b;

	if (r->n_backlog >= RUNNER_BACKLOG_MAX)
		return;		/* the next scan finds it again */
	if (r->n_backlog == r->cap_backlog) {
		r->cap_backlog = r->cap_backlog == 0 ? 64 : 2 * r->cap_backlog;
		r->backlog = xrealloc(r->backlog, r->cap_backlog *
		    sizeof(*r->backlog));
	}
	b = &r->backlog[r->n_backlog++];
	(void)snprintf(b->id, sizeof(b->id), "%s", id);
	(void)snprintf(b->domain, sizeof(b->domain), "%s", domain);
	b->used = false;
}

/*
 * A way to send to dom now: an idle connection to it (*rc; only the rate
 * applies), else a new connection slot (*dest; an idle connection of
 * another domain is closed when every slot is taken).
 */
static enum relay_limit_rc
runner_claim(struct runner *r, const char *dom, struct relay_dest **dest,
    struct rconn **rc)
{
	enum relay_limit_rc lrc;

	*dest = NULL;
	if ((*rc = runner_idle_take(r, dom)) != NULL) {
		if (relay_limit_take_token(r->limits, (*rc)->dest,
		    runner_now()) == 0)
			return RELAY_LIMIT_OK;
		(*rc)->next = r->idle;
		r->idle = *rc;
		*rc = NULL;
		return RELAY_LIMIT_DOMAIN;
	}
	lrc = relay_limit_acquire(r->limits, dom, runner_now(), dest);
	if (lrc == RELAY_LIMIT_TOTAL && runner_idle_close_oldest(r))
		lrc = relay_limit_acquire(r->limits, dom, runner_now(), dest);
	return lrc;
}

/*
 * Loads id and, when recipients are due, starts a delivery for the first
 * of their domains that the limits allow. Returns true when the message
 * is due but waits for a limit, with the domain it waits for in
 * wait_domain.
 */
static bool
runner_try(struct runner *r, const char *id, char *wait_domain, size_t wdsz)
{
	struct queue_envelope env;
	const char *err = NULL;
	uint64_t now = (uint64_t)time(NULL);
	bool pending = false, waiting = false;

	if (store_queue_envelope_load(r->store, id, &env, &err) == -1) {
		log_warn("relay qid=%s event=envelope-unreadable error=\"%s\"",
		    id, err);
		return false;
	}
	runner_delay_notice(r, &env, now);
	for (size_t i = 0; i < env.n_rcpt; i++) {
		const struct queue_rcpt *q = &env.rcpt[i];
		const char *dom = rcpt_domain(q->addr);
		struct relay_dest *dest;
		struct rconn *rc;
		bool tried = false;

		if (q->state != QUEUE_RCPT_PENDING)
			continue;
		pending = true;
		if (q->next_try > now)
			continue;
		/* A domain refused for an earlier recipient is refused now. */
		for (size_t k = 0; k < i && !tried; k++)
			tried = env.rcpt[k].state == QUEUE_RCPT_PENDING &&
			    env.rcpt[k].next_try <= now &&
			    strcasecmp(rcpt_domain(env.rcpt[k].addr), dom) == 0;
		if (tried)
			continue;
		if (runner_claim(r, dom, &dest, &rc) == RELAY_LIMIT_OK) {
			runner_start(r, &env, dest, rc);
			store_queue_envelope_cleanup(&env);
			return false;
		}
		if (!waiting)
			(void)snprintf(wait_domain, wdsz, "%s", dom);
		waiting = true;
	}
	/* Finished but not removed (a crash between save and remove). */
	if (!pending && store_queue_remove(r->store, id, &err) == 0)
		log_info("relay qid=%s event=done", id);
	store_queue_envelope_cleanup(&env);
	return waiting;
}

static int
runner_scan_one(const char *id, void *arg)
{
	struct runner *r = arg;
	char domain[256];

	if (runner_is_active(r, id))
		return 0;
	if (relay_limit_total(r->limits) >= r->cfg->relay_max_connections &&
	    r->idle == NULL) {
		/* No slot: remember it unread; it is checked when started. */
		runner_backlog_add(r, id, "");
		return 0;
	}
	if (runner_try(r, id, domain, sizeof(domain)))
		runner_backlog_add(r, id, domain);
	return 0;
}

/* Could a message for domain ("" = not known yet) start now? */
static bool
runner_may_start(const struct runner *r, const char *domain)
{
	const struct config *cfg = r->cfg;

	for (const struct rconn *rc = r->idle; rc != NULL; rc = rc->next)
		if (strcasecmp(rc->domain, domain) == 0)
			return true;
	if (relay_limit_total(r->limits) >= cfg->relay_max_connections &&
	    r->idle == NULL)
		return false;
	return domain[0] == '\0' || relay_limit_domain(r->limits, domain) <
	    cfg->relay_max_per_domain;
}

/*
 * A connection slot came free: start waiting messages whose domain has
 * room, reading only their envelopes. Entries that cannot start yet stay.
 */
static void
runner_backlog_serve(struct runner *r)
{
	size_t keep = 0;

	for (size_t i = 0; i < r->n_backlog; i++) {
		struct backlog_item *b = &r->backlog[i];
		char domain[256];

		if (runner_may_start(r, b->domain) &&
		    !runner_is_active(r, b->id)) {
			b->used = true;
			if (runner_try(r, b->id, domain, sizeof(domain))) {
				b->used = false;
				(void)snprintf(b->domain, sizeof(b->domain),
				    "%s", domain);
			}
		}
		if (!b->used)
			r->backlog[keep++] = *b;
	}
	r->n_backlog = keep;
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
	/* A full scan finds every waiting message again. */
	r->n_backlog = 0;
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
	while (r->idle != NULL) {
		struct rconn *rc = r->idle;

		r->idle = rc->next;
		smtp_client_free(&rc->c);
		relay_limit_release(r->limits, rc->dest);
		free(rc);
	}
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
	/* Without a resolver only fixed routes work; MX routing defers. */
	if ((r.res = resolver_new(r.base, cfg, &err)) == NULL)
		log_error("relay event=no-resolver error=\"%s\"", err);
	r.limits = relay_limit_new(cfg->relay_max_connections,
	    cfg->relay_max_per_domain, cfg->relay_rate_per_domain);
	r.tls_ctx = runner_tls_ctx(cfg);
	r.scan_timer = evtimer_new(r.base, runner_scan_cb, &r);
	r.kick_ev = event_new(r.base, -1, 0, runner_kick_cb, &r);
	r.sig_term = evsignal_new(r.base, SIGTERM, runner_signal_cb, &r);
	r.sig_usr2 = evsignal_new(r.base, SIGUSR2, runner_signal_cb, &r);
	evsignal_add(r.sig_term, NULL);
	evsignal_add(r.sig_usr2, NULL);
	runner_scan_soon(&r);
	log_info("relay event=started pid=%d", (int)getpid());
	event_base_dispatch(r.base);

	event_free(r.scan_timer);
	event_free(r.kick_ev);
	event_free(r.sig_term);
	event_free(r.sig_usr2);
	resolver_free(&r.res);
	relay_limit_free(&r.limits);
	free(r.backlog);
	SSL_CTX_free(r.tls_ctx);
	userdb_free(&r.users);
	store_free(&r.store);
	event_base_free(r.base);
	log_info("relay event=stopped");
	return 0;
}
