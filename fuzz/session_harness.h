/*
 * Shared by fuzz_smtp_session.c and fuzz_pop3_session.c: runs one whole
 * protocol session per fuzz input, in process, with the production code
 * unchanged. The session gets one end of a socketpair exactly as a worker
 * hands it an accepted socket; the harness writes the input into the
 * other end, reads and discards every reply, and once the session is
 * idle (waiting for input that will not come) half-closes it (EOF); the
 * event loop runs until the session has ended and the thread pool is
 * idle. Nothing touches the network. Sessions on implicit-TLS ports get
 * a real handshake first (a self-signed certificate made at start, the
 * harness as TLS client), so AUTH and the authenticated states are
 * reachable; STARTTLS is offered but not followed.
 *
 * Process-wide (made on the first input, kept for the process's life, so
 * libFuzzer runs stay fast): the event loop, the thread pool, the config,
 * the account database and a store in a temporary data_dir, removed at
 * exit. Per input: the socketpair and a fresh throttle table, so a
 * failed login in one input never delays the next (auth_max_failures is
 * 1, so no input ever waits out a throttling delay either).
 *
 * SEALPOST_FUZZ_ECHO=1 in the environment copies every reply to stderr
 * (handy when writing seed sessions).
 *
 * Time limits are short (2 s) so that an input leaving a session waiting
 * for more data still ends quickly through the timeout path.
 */
#ifndef SEALPOST_FUZZ_SESSION_HARNESS_H
#define SEALPOST_FUZZ_SESSION_HARNESS_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <crypt.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <event2/event.h>
#include <event2/thread.h>

#include "auth/throttle.h"
#include "auth/userdb.h"
#include "core/buf.h"
#include "core/config.h"
#include "core/log.h"
#include "dns/resolver.h"
#include "net/service.h"
#include "net/threadpool.h"
#include "net/tls.h"
#include "net/tls_cert.h"
#include "store/store.h"

#define FUZZ_DOMAIN	"example.test"
#define FUZZ_PASSWORD	"alice-Secret-1"

struct fuzz_env {
	char			 dir[64];
	SSL_CTX			*client_tls;
	struct config		 cfg;
	struct service		 svc;
	bool			 session_over;
};

/* One input in flight: what is left to write, and the harness's socket. */
struct fuzz_feed {
	const uint8_t	*data;
	size_t		 len;
	int		 fd;
	bool		 writes_done;
	struct event	*ev;
	SSL		*ssl;		/* implicit TLS: the client side */
	bool		 handshake_done;
};

static struct fuzz_env	*fuzz_env;

static inline void
fuzz_die(const char *what)
{
	fprintf(stderr, "fuzz harness: %s: %s\n", what, strerror(errno));
	abort();
}

static inline int
fuzz_rm_one(const char *path, const struct stat *st, int flag,
    struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	(void)remove(path);
	return 0;
}

static inline void
fuzz_env_cleanup(void)
{
	if (fuzz_env != NULL && fuzz_env->dir[0] != '\0')
		(void)nftw(fuzz_env->dir, fuzz_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static inline void
fuzz_session_ended(struct service *svc, const struct sockaddr *peer)
{
	(void)svc;
	(void)peer;
	fuzz_env->session_over = true;
}

/* A cheap yescrypt hash (cost 1): fuzzing should not spend its time hashing. */
static inline char *
fuzz_users_text(void)
{
	static char text[512];
	char *salt = crypt_gensalt("$y$", 1, NULL, 0);
	char *h = salt != NULL ? crypt(FUZZ_PASSWORD, salt) : NULL;
	int n;

	if (h == NULL || h[0] == '*')
		fuzz_die("crypt");
	n = snprintf(text, sizeof(text), "alice@%s\t%s\nbob@%s\t%s\n",
	    FUZZ_DOMAIN, h, FUZZ_DOMAIN, h);
	if (n < 0 || (size_t)n >= sizeof(text))
		fuzz_die("users text");
	return text;
}

static inline void
fuzz_env_config(struct fuzz_env *e)
{
	char text[1024];
	int n;

	config_defaults(&e->cfg);
	n = snprintf(text, sizeof(text),
	    "hostname = mx.%s\n"
	    "domains = %s\n"
	    "data_dir = %s\n"
	    "trusted_networks = 127.0.0.2/32\n"
	    "max_message_size = 64k\n"
	    "max_recipients = 8\n"
	    "auth_max_failures = 1\n"
	    "pop3_require_tls = yes\n"
	    "timeout_command = 2\n"
	    "timeout_data_block = 2\n"
	    "timeout_tls_handshake = 1\n"
	    "log_level = error\n",
	    FUZZ_DOMAIN, FUZZ_DOMAIN, e->dir);
	if (n < 0 || (size_t)n >= sizeof(text))
		fuzz_die("config text");
	if (config_parse(&e->cfg, "fuzz.conf", text, (size_t)n, NULL) != 0) {
		fprintf(stderr, "fuzz harness: config rejected\n");
		abort();
	}
}

/*
 * A self-signed certificate in the data_dir and the server context the
 * worker would use: STARTTLS is then offered (and fails on the plaintext
 * that follows), and implicit-TLS sessions get a real handshake.
 */
static inline void
fuzz_env_tls(struct fuzz_env *e)
{
	char cert[128], key[128], err[256];
	EVP_PKEY *pkey = NULL;
	X509 *x509 = NULL;

	snprintf(cert, sizeof(cert), "%s/cert.pem", e->dir);
	snprintf(key, sizeof(key), "%s/key.pem", e->dir);
	if (tls_cert_selfsigned(e->cfg.hostname, 30, &pkey, &x509, err,
	    sizeof(err)) == -1 ||
	    tls_cert_write_pem(pkey, x509, cert, key, err, sizeof(err)) == -1) {
		fprintf(stderr, "fuzz harness: certificate: %s\n", err);
		abort();
	}
	EVP_PKEY_free(pkey);
	X509_free(x509);
	e->svc.tls_ctx = tls_server_ctx_new(cert, key, err, sizeof(err));
	e->client_tls = SSL_CTX_new(TLS_client_method());
	if (e->svc.tls_ctx == NULL || e->client_tls == NULL) {
		fprintf(stderr, "fuzz harness: tls contexts: %s\n", err);
		abort();
	}
	SSL_CTX_set_verify(e->client_tls, SSL_VERIFY_NONE, NULL);
}

static inline struct fuzz_env *
fuzz_env_get(void)
{
	static const char aliases[] =
	    "postmaster@" FUZZ_DOMAIN ": alice@" FUZZ_DOMAIN "\n"
	    "list@" FUZZ_DOMAIN ": alice@" FUZZ_DOMAIN ", bob@" FUZZ_DOMAIN "\n";
	struct fuzz_env *e;
	const char *err = NULL;
	char *users;

	if (fuzz_env != NULL)
		return fuzz_env;
	e = calloc(1, sizeof(*e));
	if (e == NULL)
		fuzz_die("calloc");
	fuzz_env = e;
	snprintf(e->dir, sizeof(e->dir), "/tmp/sealpost-fuzz-XXXXXX");
	if (mkdtemp(e->dir) == NULL)
		fuzz_die("mkdtemp");
	atexit(fuzz_env_cleanup);
	/* As in a worker: a peer gone mid-write is an error, not a signal. */
	signal(SIGPIPE, SIG_IGN);
	fuzz_env_config(e);
	log_set_level(LOG_LVL_ERROR);
	evthread_use_pthreads();
	e->svc.base = event_base_new();
	if (e->svc.base == NULL)
		fuzz_die("event_base_new");
	e->svc.cfg = &e->cfg;
	e->svc.pool = threadpool_new(e->svc.base, 1);
	/*
	 * The MAIL FROM sender checks ask the DNS: a server nobody answers on
	 * (loopback port 9) fails at once, so outsiders' senders get the
	 * 450 path, and the pause/resume of the session is exercised.
	 */
	e->svc.resolver = resolver_new_servers(e->svc.base, "127.0.0.1:9", 50,
	    0, &err);
	if (e->svc.resolver == NULL) {
		fprintf(stderr, "fuzz harness: resolver: %s\n", err);
		abort();
	}
	users = fuzz_users_text();
	e->svc.users = userdb_new_from_text(users, strlen(users), aliases,
	    sizeof(aliases) - 1, NULL, 0, NULL, &err);
	if (e->svc.users == NULL) {
		fprintf(stderr, "fuzz harness: users: %s\n", err);
		abort();
	}
	e->svc.store = store_open(e->dir, e->cfg.hostname, &err);
	if (e->svc.store == NULL) {
		fprintf(stderr, "fuzz harness: store: %s\n", err);
		abort();
	}
	e->svc.session_ended = fuzz_session_ended;
	fuzz_env_tls(e);
	return e;
}

static inline void
fuzz_echo(const char *p, size_t n)
{
	if (getenv("SEALPOST_FUZZ_ECHO") != NULL)
		(void)fwrite(p, 1, n, stderr);
}

/* A TLS call that failed other than "try again later" ends the feed. */
static inline bool
fuzz_tls_retry(SSL *ssl, int rc)
{
	int err = SSL_get_error(ssl, rc);

	return err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE;
}

/* Returns true when the peer closed (or the connection failed). */
static inline bool
fuzz_feed_tls(struct fuzz_feed *f)
{
	char sink[16384];
	int n;

	if (!f->handshake_done) {
		n = SSL_do_handshake(f->ssl);
		if (n != 1) {
			if (fuzz_tls_retry(f->ssl, n))
				return false;
			f->len = 0;
			return true;
		}
		f->handshake_done = true;
	}
	while (f->len > 0) {
		n = SSL_write(f->ssl, f->data, f->len > 16384 ? 16384 : (int)f->len);
		if (n <= 0) {
			if (!fuzz_tls_retry(f->ssl, n))
				f->len = 0;
			break;
		}
		f->data += n;
		f->len -= (size_t)n;
	}
	while ((n = SSL_read(f->ssl, sink, sizeof(sink))) > 0)
		fuzz_echo(sink, (size_t)n);
	return !fuzz_tls_retry(f->ssl, n);
}

/* Plaintext: returns true when the peer closed. */
static inline bool
fuzz_feed_plain(struct fuzz_feed *f, short what)
{
	char sink[16384];
	ssize_t n;

	if ((what & EV_WRITE) && f->len > 0) {
		n = write(f->fd, f->data, f->len);
		if (n > 0) {
			f->data += n;
			f->len -= (size_t)n;
		}
	}
	if (!(what & EV_READ))
		return false;
	while ((n = read(f->fd, sink, sizeof(sink))) > 0)
		fuzz_echo(sink, (size_t)n);
	return n == 0;
}

/* Writes what is left of the input and discards replies. */
static inline void
fuzz_feed_cb(evutil_socket_t fd, short what, void *arg)
{
	struct fuzz_feed *f = arg;
	bool closed;

	closed = f->ssl != NULL ? fuzz_feed_tls(f) : fuzz_feed_plain(f, what);
	if (f->len == 0 && !f->writes_done) {
		f->writes_done = true;
		event_del(f->ev);
		event_assign(f->ev, fuzz_env->svc.base, fd,
		    EV_READ | EV_PERSIST, fuzz_feed_cb, f);
		event_add(f->ev, NULL);
	}
	if (closed)
		event_del(f->ev);	/* the session closed its end */
}

static inline size_t
fuzz_unread(int fd)
{
	int n = 0;

	return ioctl(fd, FIONREAD, &n) == 0 && n > 0 ? (size_t)n : 0;
}

/*
 * True when the session has nothing left to do but wait for input: every
 * input byte is written and read by the session, no reply is in flight,
 * no job is in the pool and no callback is pending in the loop.
 */
static inline bool
fuzz_session_idle(const struct fuzz_feed *f, int session_fd)
{
	return f->writes_done && fuzz_unread(session_fd) == 0 &&
	    fuzz_unread(f->fd) == 0 &&
	    (f->ssl == NULL || SSL_pending(f->ssl) == 0) &&
	    threadpool_pending(fuzz_env->svc.pool) == 0 &&
	    event_base_get_num_events(fuzz_env->svc.base,
	    EVENT_BASE_COUNT_ACTIVE) == 0;
}

typedef void	(*fuzz_start_fn)(struct service *, enum service_kind, int,
		    const struct sockaddr *, socklen_t);

/*
 * Runs one session of the given kind from a peer address (127.0.0.2 is a
 * trusted network, anything else an outsider) on the input bytes. With
 * implicit_tls the harness is a TLS client and the bytes travel inside.
 */
static inline void
fuzz_run_session(fuzz_start_fn start, enum service_kind kind,
    bool implicit_tls, const char *peer_ip, const uint8_t *data, size_t size)
{
	struct fuzz_env *e = fuzz_env_get();
	struct fuzz_feed feed = { data, size, -1, false, NULL, NULL, false };
	struct sockaddr_in peer;
	unsigned idle_rounds = 0;
	bool shut = false;
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
	    sv) == -1)
		fuzz_die("socketpair");
	e->svc.throttle = throttle_new_shared(64);
	e->session_over = false;
	memset(&peer, 0, sizeof(peer));
	peer.sin_family = AF_INET;
	peer.sin_port = htons(40000);
	(void)inet_pton(AF_INET, peer_ip, &peer.sin_addr);

	feed.fd = sv[1];
	if (implicit_tls) {
		if ((feed.ssl = SSL_new(e->client_tls)) == NULL ||
		    SSL_set_fd(feed.ssl, sv[1]) != 1)
			fuzz_die("SSL_new");
		SSL_set_connect_state(feed.ssl);
	}
	feed.ev = event_new(e->svc.base, sv[1], EV_READ | EV_WRITE | EV_PERSIST,
	    fuzz_feed_cb, &feed);
	event_add(feed.ev, NULL);
	start(&e->svc, kind, sv[0], (const struct sockaddr *)&peer,
	    sizeof(peer));
	/*
	 * The input ends with a half-close only once the session is idle:
	 * on a socketpair written in one go, an early EOF reached conn.c
	 * (which ends the session at EOF) before the session had processed
	 * the queued commands. Three idle rounds in a row, since callbacks
	 * a round schedules only run in the next one.
	 */
	while (!e->session_over || threadpool_pending(e->svc.pool) > 0) {
		bool wait = shut || threadpool_pending(e->svc.pool) > 0;

		event_base_loop(e->svc.base, wait ? EVLOOP_ONCE :
		    EVLOOP_NONBLOCK);
		if (shut || e->session_over)
			continue;
		idle_rounds = fuzz_session_idle(&feed, sv[0]) ?
		    idle_rounds + 1 : 0;
		if (idle_rounds >= 3) {
			(void)shutdown(sv[1], SHUT_WR);
			shut = true;
		}
	}
	event_free(feed.ev);
	if (feed.ssl != NULL)
		SSL_free(feed.ssl);
	close(sv[1]);
	throttle_free(&e->svc.throttle);
}

#endif
