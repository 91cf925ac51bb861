/*
 * Master process; see master.h. It waits for signals with sigtimedwait()
 * rather than an event loop: it has nothing else to do, and forked
 * children then inherit no loop state.
 */
#include "daemon/master.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "auth/throttle.h"
#include "core/buf.h"
#include "core/config.h"
#include "core/log.h"
#include "core/xmalloc.h"
#include "daemon/runner.h"
#include "daemon/worker.h"
#include "net/limits.h"
#include "net/tls.h"
#include "store/store.h"

#define MASTER_MAX_WORKERS	64
#define MASTER_MAX_LISTENERS	(SERVICE_KIND_COUNT * CONFIG_MAX_LISTEN)
/* A worker that dies sooner than this after starting is restarted later. */
#define MASTER_RESTART_BACKOFF	1
/* Addresses and accounts tracked for brute-force throttling. */
#define MASTER_THROTTLE_SLOTS	65536

struct worker_slot {
	pid_t	pid;		/* 0 = not running */
	time_t	started;
	time_t	restart_at;	/* 0 = no restart pending */
	unsigned row;		/* conn_limits row */
};

struct master {
	struct config		*cfg;
	SSL_CTX			*tls_ctx;
	unsigned		 n_workers;
	/* listeners[w][i]: worker w's own SO_REUSEPORT socket for listener i */
	struct worker_listener	*listeners[MASTER_MAX_WORKERS];
	size_t			 n_listeners;
	struct worker_slot	 slots[MASTER_MAX_WORKERS];
	struct worker_slot	 runner;	/* the queue runner */
	pid_t			 old_gen[MASTER_MAX_WORKERS * 4];
	unsigned		 generation;
	struct conn_limits	*limits;
	struct throttle		*throttle;
	bool			 stopping;
	/* Replaced by reloads; children may still use copies, so freed at exit. */
	struct config		*retired_cfg[16];
	SSL_CTX			*retired_tls[16];
	size_t			 n_retired;
};

static int
master_bind_one(const struct config_listen *l)
{
	int one = 1;
	int fd = socket(l->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0);

	if (fd == -1)
		fatal("socket for %s: %s", l->text, strerror(errno));
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	/* One socket per worker: the kernel spreads connections over them. */
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) == -1)
		fatal("SO_REUSEPORT on %s: %s", l->text, strerror(errno));
	if (l->addr.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, (const struct sockaddr *)&l->addr, l->addrlen) == -1)
		fatal("bind %s: %s", l->text, strerror(errno));
	if (listen(fd, 1024) == -1)
		fatal("listen %s: %s", l->text, strerror(errno));
	return fd;
}

static void
master_bind(struct master *m)
{
	const struct config *cfg = m->cfg;
	const struct config_listen_list *lists[SERVICE_KIND_COUNT] = {
		&cfg->listen_smtp, &cfg->listen_submission,
		&cfg->listen_submissions, &cfg->listen_pop3, &cfg->listen_pop3s,
	};

	for (unsigned w = 0; w < m->n_workers; w++)
		m->listeners[w] = xcalloc(MASTER_MAX_LISTENERS,
		    sizeof(struct worker_listener));
	for (int kind = 0; kind < SERVICE_KIND_COUNT; kind++) {
		for (size_t i = 0; i < lists[kind]->n; i++) {
			const struct config_listen *l = &lists[kind]->item[i];

			if ((kind == SERVICE_SUBMISSIONS || kind == SERVICE_POP3S) &&
			    m->tls_ctx == NULL)
				fatal("%s needs tls_cert and tls_key", l->text);
			for (unsigned w = 0; w < m->n_workers; w++) {
				struct worker_listener *wl =
				    &m->listeners[w][m->n_listeners];

				wl->fd = master_bind_one(l);
				wl->kind = (enum service_kind)kind;
				snprintf(wl->text, sizeof(wl->text), "%s", l->text);
			}
			log_info("master event=listening service=%s addr=%s",
			    service_kind_name((enum service_kind)kind), l->text);
			m->n_listeners++;
		}
	}
}

static SSL_CTX *
master_load_tls(const struct config *cfg)
{
	char err[512];
	SSL_CTX *ctx;

	if (cfg->tls_cert == NULL || cfg->tls_key == NULL)
		return NULL;
	ctx = tls_server_ctx_new(cfg->tls_cert, cfg->tls_key, err, sizeof(err));
	if (ctx == NULL)
		log_error("master event=tls-load-failed error=\"%s\"", err);
	return ctx;
}

static void
master_unblock_signals(void)
{
	sigset_t set;

	sigemptyset(&set);
	sigprocmask(SIG_SETMASK, &set, NULL);
}

static void
master_spawn(struct master *m, unsigned w)
{
	struct worker_slot *slot = &m->slots[w];
	pid_t pid;

	slot->row = w + (m->generation % 2) * m->n_workers;
	conn_limits_reset_worker(m->limits, slot->row);
	pid = fork();
	if (pid == -1) {
		log_error("master event=fork-failed error=\"%s\"", strerror(errno));
		slot->restart_at = time(NULL) + MASTER_RESTART_BACKOFF;
		return;
	}
	if (pid == 0) {
		struct worker_params p = {
			.cfg = m->cfg,
			.tls_ctx = m->tls_ctx,
			.listeners = m->listeners[w],
			.n_listeners = m->n_listeners,
			.limits = m->limits,
			.throttle = m->throttle,
			.index = slot->row,
		};

		master_unblock_signals();
		_exit(worker_main(&p));
	}
	slot->pid = pid;
	slot->started = time(NULL);
	slot->restart_at = 0;
}

/* The queue runner: one process, restarted like a worker when it dies. */
static void
master_spawn_runner(struct master *m)
{
	pid_t pid = fork();

	if (pid == -1) {
		log_error("master event=fork-failed error=\"%s\"", strerror(errno));
		m->runner.restart_at = time(NULL) + MASTER_RESTART_BACKOFF;
		return;
	}
	if (pid == 0) {
		master_unblock_signals();
		_exit(runner_main(m->cfg));
	}
	m->runner.pid = pid;
	m->runner.started = time(NULL);
	m->runner.restart_at = 0;
}

/*
 * Removes what an earlier crash left in spool/ and tmp/, as the
 * unprivileged user, before any worker accepts a message (a worker
 * restarted later must not: it would delete its siblings' spools).
 */
static void
master_recover_store(const struct config *cfg)
{
	int status;
	pid_t pid = fork();

	if (pid == -1)
		fatal("fork: %s", strerror(errno));
	if (pid == 0) {
		const char *err = NULL;
		struct store *st;

		master_unblock_signals();
		log_set_prefix("recover ");
		worker_drop_privileges(cfg);
		if ((st = store_open(cfg->data_dir, cfg->hostname, &err)) == NULL)
			fatal("store in %s: %s", cfg->data_dir, err);
		if (store_recover(st) > 0)
			log_info("master event=recovered");
		store_free(&st);
		_exit(0);
	}
	if (waitpid(pid, &status, 0) == -1 || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != 0)
		fatal("store recovery failed");
}

/*
 * SIGSYS is how the seccomp filter (sandbox.c) kills a child that made a
 * system call it never makes: treat it as a sign of compromise.
 */
static void
master_log_violation(pid_t pid, int status)
{
	if (WIFSIGNALED(status) && WTERMSIG(status) == SIGSYS)
		log_error("master event=sandbox-violation pid=%d signal=SIGSYS "
		    "hint=\"a forbidden system call: compromise, or a call "
		    "missing from the allow-list (sandbox = no to debug)\"",
		    (int)pid);
}

static void
master_reap(struct master *m)
{
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		bool found = false;

		if (pid == m->runner.pid) {
			found = true;
			m->runner.pid = 0;
			if (!m->stopping) {
				master_log_violation(pid, status);
				log_error("master event=runner-died pid=%d status=%d",
				    (int)pid, status);
				m->runner.restart_at = time(NULL) -
				    m->runner.started < MASTER_RESTART_BACKOFF ?
				    time(NULL) + MASTER_RESTART_BACKOFF : time(NULL);
			}
		}
		for (unsigned w = 0; w < m->n_workers; w++) {
			struct worker_slot *slot = &m->slots[w];

			if (slot->pid != pid)
				continue;
			found = true;
			slot->pid = 0;
			conn_limits_reset_worker(m->limits, slot->row);
			if (m->stopping)
				break;
			master_log_violation(pid, status);
			if (WIFSIGNALED(status))
				log_error("master event=worker-died pid=%d "
				    "signal=%d", (int)pid, WTERMSIG(status));
			else
				log_error("master event=worker-exited pid=%d "
				    "status=%d", (int)pid, WEXITSTATUS(status));
			slot->restart_at = time(NULL) - slot->started <
			    MASTER_RESTART_BACKOFF ?
			    time(NULL) + MASTER_RESTART_BACKOFF : time(NULL);
		}
		for (size_t i = 0; !found && i < sizeof(m->old_gen) /
		    sizeof(m->old_gen[0]); i++) {
			if (m->old_gen[i] == pid) {
				m->old_gen[i] = 0;
				found = true;
			}
		}
	}
}

static void
master_restart_due(struct master *m)
{
	time_t now = time(NULL);

	if (m->runner.pid == 0 && m->runner.restart_at != 0 &&
	    m->runner.restart_at <= now) {
		master_spawn_runner(m);
		log_info("master event=runner-restarted pid=%d",
		    (int)m->runner.pid);
	}
	for (unsigned w = 0; w < m->n_workers; w++) {
		struct worker_slot *slot = &m->slots[w];

		if (slot->pid == 0 && slot->restart_at != 0 &&
		    slot->restart_at <= now) {
			master_spawn(m, w);
			log_info("master event=worker-restarted pid=%d",
			    (int)slot->pid);
		}
	}
}

static void
master_retire_generation(struct master *m)
{
	size_t j = 0;

	/* The runner has no sessions to drain: stop it, start it anew. */
	if (m->runner.pid != 0) {
		kill(m->runner.pid, SIGTERM);
		while (j < sizeof(m->old_gen) / sizeof(m->old_gen[0]) &&
		    m->old_gen[j] != 0)
			j++;
		if (j < sizeof(m->old_gen) / sizeof(m->old_gen[0]))
			m->old_gen[j] = m->runner.pid;
		m->runner.pid = 0;
	}

	for (unsigned w = 0; w < m->n_workers; w++) {
		if (m->slots[w].pid == 0)
			continue;
		kill(m->slots[w].pid, SIGUSR1);
		while (j < sizeof(m->old_gen) / sizeof(m->old_gen[0]) &&
		    m->old_gen[j] != 0)
			j++;
		if (j < sizeof(m->old_gen) / sizeof(m->old_gen[0]))
			m->old_gen[j] = m->slots[w].pid;
		m->slots[w].pid = 0;
	}
}

static void
master_reload(struct master *m)
{
	struct config *cfg = xcalloc(1, sizeof(*cfg));
	struct buf errs;
	SSL_CTX *ctx;

	buf_init(&errs, 64 * 1024);
	config_defaults(cfg);
	if (config_load(cfg, m->cfg->path, true, &errs) != 0) {
		log_error("master event=reload-failed errors=\"%s\"",
		    errs.data != NULL ? errs.data : "");
		buf_cleanup(&errs);
		config_free(cfg);
		free(cfg);
		return;
	}
	buf_cleanup(&errs);
	ctx = master_load_tls(cfg);
	if (cfg->tls_cert != NULL && ctx == NULL) {
		config_free(cfg);
		free(cfg);
		return;
	}
	/*
	 * Listening addresses stay as bound at start (binding may need the
	 * root we keep only for reading keys); the rest takes effect in the
	 * new generation. Old workers drain their sessions and exit.
	 */
	master_retire_generation(m);
	if (m->n_retired < sizeof(m->retired_cfg) / sizeof(m->retired_cfg[0])) {
		m->retired_cfg[m->n_retired] = m->cfg;
		m->retired_tls[m->n_retired++] = m->tls_ctx;
	}
	m->cfg = cfg;
	m->tls_ctx = ctx;
	log_set_level((enum log_level)cfg->log_level);
	m->generation++;
	for (unsigned w = 0; w < m->n_workers; w++)
		master_spawn(m, w);
	master_spawn_runner(m);
	log_info("master event=reloaded generation=%u", m->generation);
}

static bool
master_children_alive(struct master *m)
{
	if (m->runner.pid != 0)
		return true;
	for (unsigned w = 0; w < m->n_workers; w++)
		if (m->slots[w].pid != 0)
			return true;
	for (size_t i = 0; i < sizeof(m->old_gen) / sizeof(m->old_gen[0]); i++)
		if (m->old_gen[i] != 0)
			return true;
	return false;
}

static void
master_signal_all(struct master *m, int sig)
{
	if (m->runner.pid != 0)
		kill(m->runner.pid, sig);
	for (unsigned w = 0; w < m->n_workers; w++)
		if (m->slots[w].pid != 0)
			kill(m->slots[w].pid, sig);
	for (size_t i = 0; i < sizeof(m->old_gen) / sizeof(m->old_gen[0]); i++)
		if (m->old_gen[i] != 0)
			kill(m->old_gen[i], sig);
}

/* Everything the master allocated, so leak checkers see a clean exit. */
static void
master_free(struct master *m)
{
	for (unsigned w = 0; w < m->n_workers; w++) {
		for (size_t i = 0; i < m->n_listeners; i++)
			close(m->listeners[w][i].fd);
		free(m->listeners[w]);
	}
	for (size_t i = 0; i < m->n_retired; i++) {
		config_free(m->retired_cfg[i]);
		free(m->retired_cfg[i]);
		SSL_CTX_free(m->retired_tls[i]);
	}
	SSL_CTX_free(m->tls_ctx);
	config_free(m->cfg);
	free(m->cfg);
	throttle_free(&m->throttle);
}

/*
 * Every session holds a descriptor, and the usual soft limit (1024) would
 * cap a worker far below max_sessions: accept() would fail with EMFILE
 * while the configured limits still allow connections. The hard limit is
 * what the administrator allows, so use all of it; workers inherit it.
 */
static void
master_raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1 || rl.rlim_cur >= rl.rlim_max)
		return;
	rl.rlim_cur = rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
		log_warn("master event=rlimit-nofile-failed error=\"%s\"",
		    strerror(errno));
}

static int
master_stop(struct master *m)
{
	time_t deadline = time(NULL) + m->cfg->timeout_shutdown + 5;
	sigset_t set;
	struct timespec tick = { 0, 100 * 1000 * 1000 };

	m->stopping = true;
	log_info("master event=stopping");
	master_signal_all(m, SIGTERM);
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	while (master_children_alive(m)) {
		if (time(NULL) >= deadline) {
			log_error("master event=stop-deadline action=kill");
			master_signal_all(m, SIGKILL);
			deadline = time(NULL) + 5;
		}
		sigtimedwait(&set, NULL, &tick);
		master_reap(m);
	}
	log_info("master event=stopped");
	master_free(m);
	return 0;
}

int
master_run(struct config *cfg)
{
	struct master m;
	sigset_t set;
	struct timespec tick = { 1, 0 };
	long ncpu;

	memset(&m, 0, sizeof(m));
	m.cfg = cfg;
	log_set_prefix("");
	log_set_level((enum log_level)cfg->log_level);
	ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	m.n_workers = cfg->workers != 0 ? cfg->workers :
	    (ncpu > 0 ? (unsigned)ncpu : 1);
	if (m.n_workers > MASTER_MAX_WORKERS)
		m.n_workers = MASTER_MAX_WORKERS;

	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigprocmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	master_raise_nofile();

	m.tls_ctx = master_load_tls(cfg);
	if (cfg->tls_cert != NULL && m.tls_ctx == NULL)
		return 1;
	master_bind(&m);
	m.limits = conn_limits_new_shared(m.n_workers * 2);
	m.throttle = throttle_new_shared(MASTER_THROTTLE_SLOTS);
	master_recover_store(cfg);
	for (unsigned w = 0; w < m.n_workers; w++)
		master_spawn(&m, w);
	master_spawn_runner(&m);
	log_info("master event=started pid=%d workers=%u hostname=%s",
	    (int)getpid(), m.n_workers, cfg->hostname);

	for (;;) {
		siginfo_t info;
		int sig = sigtimedwait(&set, &info, &tick);

		if (sig == SIGTERM || sig == SIGINT)
			return master_stop(&m);
		if (sig == SIGHUP)
			master_reload(&m);
		master_reap(&m);
		master_restart_due(&m);
	}
}
