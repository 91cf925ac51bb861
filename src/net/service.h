/*
 * What a worker process gives each protocol session: the loop, the
 * configuration, TLS, the thread pool and the shared modules. Sessions
 * reach storage, accounts and throttling only through these handles.
 */
#ifndef SEALPOST_NET_SERVICE_H
#define SEALPOST_NET_SERVICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <openssl/ssl.h>

struct event_base;
struct config;
struct threadpool;
struct userdb;
struct store;
struct throttle;
struct conn_limits;
struct resolver;
struct sockaddr;
struct psl;
struct smtp_signkeys;

enum service_kind {
	SERVICE_SMTP,		/* port 25: MX, STARTTLS offered */
	SERVICE_SUBMISSION,	/* port 587: STARTTLS then AUTH required */
	SERVICE_SUBMISSIONS,	/* port 465: implicit TLS, AUTH required */
	SERVICE_POP3,		/* port 110: STLS before any login */
	SERVICE_POP3S,		/* port 995: implicit TLS */
	SERVICE_KIND_COUNT
};

/*
 * Embedded in every session so the worker can list them (graceful stop)
 * and account for them when they end.
 */
struct service_session {
	struct service_session	*prev, *next;
	/* Asked once when the worker drains: finish the transaction, then close. */
	void	(*drain)(struct service_session *);
};

struct service {
	struct event_base	*base;
	const struct config	*cfg;
	SSL_CTX			*tls_ctx;	/* NULL without a certificate */
	struct threadpool	*pool;
	struct userdb		*users;
	struct store		*store;
	struct throttle		*throttle;
	struct resolver		*resolver;	/* async DNS on base */
	const struct psl	*psl;		/* DMARC; NULL = DMARC off */
	const struct smtp_signkeys *dkim_keys;	/* submission signing */
	bool			 draining;	/* stop accepting, finish sessions */
	unsigned		 n_sessions;
	struct service_session	*sessions;	/* every live session */
	struct conn_limits	*limits;
	/* Called by the worker when a session ended (limits, drain accounting). */
	void	(*session_ended)(struct service *, const struct sockaddr *peer);
};

/*
 * Blocking work a session hands to the thread pool. work(arg) runs on a
 * pool thread; then, on the loop thread, *slot is cleared and done(owner,
 * arg) runs. If the owner went away meanwhile (it called
 * service_job_orphan() on *slot), done runs with owner NULL so it can free
 * arg: a job owns whatever it works on until done, so a client leaving
 * mid-job frees nothing in use.
 */
struct service_job;
void	service_job_submit(struct service *, struct service_job **slot,
	    void *owner, void (*work)(void *arg),
	    void (*done)(void *owner, void *arg), void *arg);
void	service_job_orphan(struct service_job *);

/* Per-command counts for the disconnect log line. */
struct service_counter {
	unsigned	ok;	/* 2xx / +OK replies */
	unsigned	total;
};

/*
 * Formats " verb=N" (all succeeded) or " verb=ok/total" for each counter
 * that was used, verbs lower-cased, into out (always NUL-terminated; cut
 * at a whole item when full). verb(i) names counter i.
 */
void	service_counters_format(char *out, size_t outsz,
	    const struct service_counter *, size_t n,
	    const char *(*verb)(size_t i));

/* Links a new session into svc->sessions / unlinks it and calls session_ended. */
void	service_session_add(struct service *, struct service_session *);
void	service_session_remove(struct service *, struct service_session *,
	    const struct sockaddr *peer);

const char	*service_kind_name(enum service_kind);
/* A new 64-bit session id, unique within this process's lifetime. */
uint64_t	service_next_session_id(void);

#endif
