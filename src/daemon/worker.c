/*
 * Worker process; see worker.h. SIGTERM and SIGUSR1 both mean "drain":
 * stop accepting, let every session finish its transaction, exit by the
 * deadline. SIGHUP re-reads the account files.
 */
#include "daemon/worker.h"
#include "daemon/sandbox.h"

#include <errno.h>
#include <grp.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pwd.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/listener.h>
#include <event2/thread.h>

#include "auth/credcache.h"
#include "auth/userdb.h"
#include "core/config.h"
#include "core/log.h"
#include "core/xmalloc.h"
#include "dns/resolver.h"
#include "net/limits.h"
#include "net/threadpool.h"
#include "policy/psl.h"
#include "pop3/session.h"
#include "smtp/session.h"
#include "smtp/signkeys.h"
#include "store/store.h"

/* How often the account files are checked for changes. */
#define WORKER_USERDB_CHECK_SECONDS	2

struct worker {
	struct service			 svc;
	const struct worker_params	*params;
	struct evconnlistener		**evl;
	struct event			*sig_term, *sig_usr1, *sig_hup;
	struct event			*userdb_timer;
	struct event			*deadline;
};

void
worker_drop_privileges(const struct config *cfg)
{
	struct passwd *pw;

	if (geteuid() != 0)
		goto no_new_privs;
	if (cfg->user == NULL || cfg->user[0] == '\0')
		fatal("started as root but `user` is not set: refusing to run "
		    "sessions as root");
	if ((pw = getpwnam(cfg->user)) == NULL)
		fatal("user %s: no such account", cfg->user);
	if (pw->pw_uid == 0)
		fatal("user %s is root: refusing to run sessions as root",
		    cfg->user);
	if (setgroups(1, &pw->pw_gid) == -1 || setgid(pw->pw_gid) == -1 ||
	    setuid(pw->pw_uid) == -1)
		fatal("dropping privileges to %s: %s", cfg->user,
		    strerror(errno));
	if (setuid(0) != -1)
		fatal("dropping privileges to %s did not stick", cfg->user);
no_new_privs:
	/* Nothing a worker execs (it execs nothing) may regain privileges. */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1)
		log_warn("worker event=no-new-privs-failed error=\"%s\"",
		    strerror(errno));
}

static void
worker_session_ended(struct service *svc, const struct sockaddr *peer)
{
	struct worker *w = (struct worker *)svc;

	conn_limits_release(w->params->limits, peer);
	if (svc->draining && svc->n_sessions == 0)
		event_base_loopexit(svc->base, NULL);
}

/* Refuses a connection over the limits with the protocol's own words. */
static void
worker_refuse(int fd, enum service_kind kind)
{
	static const char smtp_busy[] =
	    "421 4.7.0 Too many connections, try again later\r\n";
	static const char pop3_busy[] =
	    "-ERR [SYS/TEMP] Too many connections, try again later\r\n";
	ssize_t n = 0;

	/* Implicit-TLS ports cannot be answered in plaintext: just close. */
	if (kind == SERVICE_SMTP || kind == SERVICE_SUBMISSION)
		n = write(fd, smtp_busy, sizeof(smtp_busy) - 1);
	else if (kind == SERVICE_POP3)
		n = write(fd, pop3_busy, sizeof(pop3_busy) - 1);
	(void)n;
	close(fd);
}

static void
worker_accept_cb(struct evconnlistener *evl, evutil_socket_t fd,
    struct sockaddr *addr, int addrlen, void *arg)
{
	struct worker *w = arg;
	const struct worker_listener *l = NULL;
	const struct config *cfg = w->params->cfg;
	int one = 1;

	for (size_t i = 0; i < w->params->n_listeners; i++)
		if (w->evl[i] == evl)
			l = &w->params->listeners[i];
	if (l == NULL || w->svc.draining) {
		close(fd);
		return;
	}
	if (!conn_limits_acquire(w->params->limits, addr, cfg->max_sessions,
	    cfg->max_sessions_per_ip)) {
		char ip[64] = "?";

		if (addr->sa_family == AF_INET || addr->sa_family == AF_INET6)
			evutil_inet_ntop(addr->sa_family,
			    addr->sa_family == AF_INET ?
			    (const void *)&((struct sockaddr_in *)addr)->sin_addr :
			    (const void *)&((struct sockaddr_in6 *)addr)->sin6_addr,
			    ip, sizeof(ip));
		log_warn("%s event=refused addr=%s reason=too-many-connections",
		    service_kind_name(l->kind), ip);
		worker_refuse(fd, l->kind);
		return;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (l->kind == SERVICE_POP3 || l->kind == SERVICE_POP3S)
		pop3_session_start(&w->svc, l->kind, fd, addr,
		    (socklen_t)addrlen);
	else
		smtp_session_start(&w->svc, l->kind, fd, addr,
		    (socklen_t)addrlen);
}

static void
worker_deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;

	(void)fd;
	(void)what;
	log_warn("worker event=drain-deadline sessions=%u", w->svc.n_sessions);
	event_base_loopexit(w->svc.base, NULL);
}

/*
 * Stops accepting. With close_idle (SIGTERM) sessions between transactions
 * are told 421 now; without it (a reload handed over to new workers) every
 * session simply runs on until its client quits or times out, so nothing
 * is cut unless it outlives the deadline.
 */
static void
worker_drain(struct worker *w, unsigned deadline_seconds, bool close_idle)
{
	struct timeval tv = { (time_t)deadline_seconds, 0 };
	struct service_session *ss, *next;

	if (w->svc.draining)
		return;
	w->svc.draining = true;
	log_info("worker event=draining sessions=%u", w->svc.n_sessions);
	for (size_t i = 0; i < w->params->n_listeners; i++) {
		evconnlistener_free(w->evl[i]);
		w->evl[i] = NULL;
	}
	for (ss = w->svc.sessions; close_idle && ss != NULL; ss = next) {
		next = ss->next;
		ss->drain(ss);
	}
	if (w->svc.n_sessions == 0) {
		event_base_loopexit(w->svc.base, NULL);
		return;
	}
	w->deadline = evtimer_new(w->svc.base, worker_deadline_cb, w);
	evtimer_add(w->deadline, &tv);
}

static void
worker_signal_cb(evutil_socket_t sig, short what, void *arg)
{
	struct worker *w = arg;

	(void)what;
	if (sig == SIGHUP) {
		if (userdb_refresh(w->svc.users) == 1)
			log_info("worker event=accounts-reloaded");
		return;
	}
	/*
	 * SIGTERM: the server stops, within timeout_shutdown. SIGUSR1: a new
	 * generation took over after a reload; sessions finish on their own.
	 */
	if (sig == SIGTERM)
		worker_drain(w, w->params->cfg->timeout_shutdown, true);
	else
		worker_drain(w, w->params->cfg->timeout_command * 2, false);
}

static void
worker_userdb_cb(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;

	(void)fd;
	(void)what;
	if (userdb_refresh(w->svc.users) == 1)
		log_info("worker event=accounts-reloaded");
}

static void
worker_open_modules(struct worker *w)
{
	const struct config *cfg = w->params->cfg;
	const char *err = NULL;

	w->svc.users = userdb_open(cfg->data_dir, &err);
	if (w->svc.users == NULL)
		fatal("accounts in %s: %s", cfg->data_dir, err);
	/* Each worker its own cache (docs/performance.md): no shared memory. */
	userdb_set_credcache(w->svc.users,
	    credcache_new(cfg->auth_cache_ttl, 0));
	w->svc.store = store_open(cfg->data_dir, cfg->hostname, &err);
	if (w->svc.store == NULL)
		fatal("store in %s: %s", cfg->data_dir, err);
	w->svc.resolver = resolver_new(w->svc.base, cfg, &err);
	if (w->svc.resolver == NULL)
		fatal("DNS resolver: %s", err);
}

/*
 * With epoll, libevent's changelist folds the enable/disable pairs made
 * within one loop iteration (pausing reading around an asynchronous
 * check, for instance) into one epoll_ctl: 20 -> 16 epoll_ctl per SMTP
 * message at 50 sessions; writing replies directly (src/net/conn.c) then
 * took it to about 6 (docs/performance.md). Sockets are never dup()ed
 * here, the case where the changelist misbehaves.
 */
static struct event_base *
worker_event_base_new(void)
{
	struct event_config *ec = event_config_new();
	struct event_base *base;

	if (ec == NULL)
		return NULL;
	event_config_set_flag(ec, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
	base = event_base_new_with_config(ec);
	event_config_free(ec);
	return base;
}

int
worker_main(const struct worker_params *params)
{
	struct worker w;
	struct timeval check = { WORKER_USERDB_CHECK_SECONDS, 0 };
	struct smtp_signkeys *dkim_keys;
	struct psl *psl;
	char prefix[32];

	memset(&w, 0, sizeof(w));
	w.params = params;
	snprintf(prefix, sizeof(prefix), "worker[%u] ", params->index);
	log_set_prefix(prefix);
	/*
	 * DKIM private keys are readable by their owner only: loaded while
	 * a worker started as root still is. A reload starts new workers,
	 * which load them again.
	 */
	dkim_keys = params->cfg->dkim_sign ?
	    smtp_signkeys_load(params->cfg) : NULL;
	psl = psl_load_config(params->cfg);
	worker_drop_privileges(params->cfg);
	/*
	 * A worker never outlives its master (e.g. one killed with -9). Set
	 * after the uid change, which clears it.
	 */
	if (prctl(PR_SET_PDEATHSIG, SIGTERM, 0, 0, 0) == -1 || getppid() == 1)
		_exit(1);
	/* Before the thread pool: Landlock binds only later threads. */
	if (sandbox_apply(params->cfg, SANDBOX_WORKER, NULL) == -1)
		_exit(1);
	signal(SIGPIPE, SIG_IGN);
	evthread_use_pthreads();

	w.svc.base = worker_event_base_new();
	if (w.svc.base == NULL)
		fatal("event_base_new failed");
	w.svc.cfg = params->cfg;
	w.svc.tls_ctx = params->tls_ctx;
	w.svc.throttle = params->throttle;
	w.svc.limits = params->limits;
	w.svc.session_ended = worker_session_ended;
	w.svc.dkim_keys = dkim_keys;
	w.svc.psl = psl;
	w.svc.pool = threadpool_new(w.svc.base, 0);
	conn_limits_set_worker(params->limits, params->index);
	worker_open_modules(&w);

	w.evl = xcalloc(params->n_listeners, sizeof(*w.evl));
	for (size_t i = 0; i < params->n_listeners; i++) {
		w.evl[i] = evconnlistener_new(w.svc.base, worker_accept_cb, &w,
		    LEV_OPT_CLOSE_ON_EXEC, -1, params->listeners[i].fd);
		if (w.evl[i] == NULL)
			fatal("listening on %s failed", params->listeners[i].text);
	}
	w.sig_term = evsignal_new(w.svc.base, SIGTERM, worker_signal_cb, &w);
	w.sig_usr1 = evsignal_new(w.svc.base, SIGUSR1, worker_signal_cb, &w);
	w.sig_hup = evsignal_new(w.svc.base, SIGHUP, worker_signal_cb, &w);
	evsignal_add(w.sig_term, NULL);
	evsignal_add(w.sig_usr1, NULL);
	evsignal_add(w.sig_hup, NULL);
	w.userdb_timer = event_new(w.svc.base, -1, EV_PERSIST, worker_userdb_cb,
	    &w);
	evtimer_add(w.userdb_timer, &check);

	log_info("worker event=started pid=%d listeners=%zu", (int)getpid(),
	    params->n_listeners);
	event_base_dispatch(w.svc.base);

	/* Blocking work still queued (fsyncs) finishes before we go. */
	threadpool_free(&w.svc.pool);
	resolver_free(&w.svc.resolver);
	smtp_signkeys_free(&dkim_keys);
	psl_free(&psl);
	log_info("worker event=stopped sessions=%u", w.svc.n_sessions);
	return 0;
}
