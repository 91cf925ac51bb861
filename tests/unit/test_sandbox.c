/*
 * Unit tests for daemon/sandbox: each case forks a child that calls
 * sandbox_apply() exactly as a worker or the queue runner does and then
 * tries what the sandbox must allow or refuse; the child reports through
 * its exit status (or dies of SIGSYS), the parent asserts. Cases needing
 * a kernel feature (Landlock ABI 2+, 4+ for TCP rules) or a build with
 * the seccomp filter (not sanitizer builds) are skipped, not passed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/config.h"
#include "core/xmalloc.h"
#include "daemon/sandbox.h"
#include "test_tmpdir.h"

struct fixture {
	char		root[64];	/* holds data/ and etc/ */
	char		data[96];
	char		conf[192];
	char		secret[96];	/* relay_auth_password_file */
	struct config	cfg;
};

static int
setup(void **state)
{
	struct fixture *f = xcalloc(1, sizeof(*f));
	char confdir[96];

	snprintf(f->root, sizeof(f->root), "/tmp/sealpost-sandbox-XXXXXX");
	assert_non_null(mkdtemp(f->root));
	snprintf(f->data, sizeof(f->data), "%s/data", f->root);
	snprintf(confdir, sizeof(confdir), "%s/etc", f->root);
	snprintf(f->conf, sizeof(f->conf), "%s/sealpost.conf", confdir);
	assert_int_equal(mkdir(f->data, 0700), 0);
	assert_int_equal(mkdir(confdir, 0700), 0);
	snprintf(f->secret, sizeof(f->secret), "%s/relay.secret", f->root);
	close(open(f->secret, O_WRONLY | O_CREAT | O_CLOEXEC, 0600));
	config_defaults(&f->cfg);
	free(f->cfg.data_dir);
	f->cfg.data_dir = xstrdup(f->data);
	free(f->cfg.path);
	f->cfg.path = xstrdup(f->conf);
	free(f->cfg.relay_auth_password_file);
	f->cfg.relay_auth_password_file = xstrdup(f->secret);
	/* The DNS port a worker may still reach over TCP. */
	f->cfg.n_dns = 1;
	assert_int_equal(config_parse_dns_server("127.0.0.1:5353",
	    &f->cfg.dns_servers[0]), 0);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	config_free(&f->cfg);
	if (test_tmpdir_remove(f->root) == -1)
		fprintf(stderr, "could not remove %s\n", f->root);
	free(f);
	return 0;
}

/* Runs fn in a child after sandbox_apply(role); returns the wait status. */
static int
in_sandbox(struct fixture *f, enum sandbox_role role,
    int (*fn)(struct fixture *))
{
	int status;
	pid_t pid = fork();

	assert_true(pid != -1);
	if (pid == 0) {
		struct sandbox_result r;

		if (sandbox_apply(&f->cfg, role, &r) == -1)
			_exit(90);
		_exit(fn(f));
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return status;
}

static int
open_errno(const char *path, int flags)
{
	int fd = open(path, flags | O_CLOEXEC, 0600);

	if (fd == -1)
		return errno;
	close(fd);
	return 0;
}

/* Exit codes: 0 = all as expected, else the number of the failed check. */
static int
child_files(struct fixture *f)
{
	char a[256], b[256], dir[256];

	snprintf(dir, sizeof(dir), "%s/mail", f->data);
	snprintf(a, sizeof(a), "%s/spool-file", f->data);
	snprintf(b, sizeof(b), "%s/mail/delivered", f->data);
	if (open_errno("/etc/passwd", O_RDONLY) != EACCES)
		return 1;
	if (open_errno("/tmp/sealpost-sandbox-escape", O_WRONLY | O_CREAT)
	    != EACCES)
		return 2;
	if (open_errno(a, O_WRONLY | O_CREAT) != 0)
		return 3;
	/* The Maildir write path: mkdir, hard link across directories. */
	if ((mkdir(dir, 0700) == -1 && errno != EEXIST) ||
	    (unlink(b) == -1 && errno != ENOENT) || link(a, b) == -1 ||
	    unlink(a) == -1)
		return 4;
	if (open_errno(b, O_RDONLY) != 0)
		return 5;
	/* The configuration's directory: read, never write. */
	if (open_errno(f->conf, O_RDONLY) != 0)
		return 6;
	if (open_errno(f->conf, O_WRONLY) != EACCES)
		return 7;
	/* System files outside the list stay out of reach. */
	if (open_errno("/bin/sh", O_RDONLY) != EACCES)
		return 8;
	if (open_errno("/etc/resolv.conf", O_RDONLY) != 0 &&
	    access("/etc/resolv.conf", F_OK) == 0)
		return 9;
	return 0;
}

static void
test_sandbox_files_outside_data_dir_refused(void **state)
{
	struct fixture *f = *state;
	int st;

	if (sandbox_landlock_abi() < 2)
		skip();		/* kernel without Landlock ABI 2+ */
	/* The configuration file must exist to be read. */
	close(open(f->conf, O_WRONLY | O_CREAT | O_CLOEXEC, 0600));
	st = in_sandbox(f, SANDBOX_WORKER, child_files);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	st = in_sandbox(f, SANDBOX_RUNNER, child_files);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
}

static int
child_secret_readable(struct fixture *f)
{
	return open_errno(f->secret, O_RDONLY);
}

/* The smarthost password: the runner reads it per delivery, a worker never. */
static void
test_sandbox_relay_secret_runner_only(void **state)
{
	struct fixture *f = *state;
	int st;

	if (sandbox_landlock_abi() < 2)
		skip();
	st = in_sandbox(f, SANDBOX_RUNNER, child_secret_readable);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	st = in_sandbox(f, SANDBOX_WORKER, child_secret_readable);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), EACCES);
}

static int
child_passwd(struct fixture *f)
{
	(void)f;
	return open_errno("/etc/passwd", O_RDONLY);
}

/* A configuration directly in /etc must not open all of /etc. */
static void
test_sandbox_config_in_etc_opens_only_the_file(void **state)
{
	struct fixture *f = *state;
	int st;

	if (sandbox_landlock_abi() < 2)
		skip();
	free(f->cfg.path);
	f->cfg.path = xstrdup("/etc/sealpost.conf");
	st = in_sandbox(f, SANDBOX_WORKER, child_passwd);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), EACCES);
}

static int
child_sandbox_off(struct fixture *f)
{
	(void)f;
	return open_errno("/etc/passwd", O_RDONLY) == 0 ? 0 : 1;
}

static void
test_sandbox_config_off_confines_nothing(void **state)
{
	struct fixture *f = *state;
	int st;

	f->cfg.sandbox = false;
	st = in_sandbox(f, SANDBOX_WORKER, child_sandbox_off);
	f->cfg.sandbox = true;
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
}

static int
tcp_connect_errno(uint16_t port)
{
	struct sockaddr_in sin;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), e = 0;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1)
		e = errno;
	close(fd);
	return e;
}

static int
child_worker_tcp(struct fixture *f)
{
	(void)f;
	/* Port 25 of anyone: a worker is not a relay. */
	if (tcp_connect_errno(25) != EACCES)
		return 1;
	/* The configured DNS server's port: allowed (nobody listens). */
	if (tcp_connect_errno(5353) == EACCES)
		return 2;
	return 0;
}

static int
child_runner_tcp(struct fixture *f)
{
	(void)f;
	return tcp_connect_errno(25) == EACCES ? 1 : 0;
}

static void
test_sandbox_worker_tcp_only_to_dns(void **state)
{
	struct fixture *f = *state;
	int st;

	if (sandbox_landlock_abi() < 4)
		skip();		/* Landlock without TCP rules (before 6.7) */
	st = in_sandbox(f, SANDBOX_WORKER, child_worker_tcp);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	st = in_sandbox(f, SANDBOX_RUNNER, child_runner_tcp);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
}

static void *
thread_fn(void *arg)
{
	return arg;
}

/* Threads (the pool) and ordinary work still function. */
static int
child_allowed(struct fixture *f)
{
	pthread_t t;
	void *ret = NULL;
	char path[256];
	int fd;

	if (pthread_create(&t, NULL, thread_fn, f) != 0 ||
	    pthread_join(t, &ret) != 0 || ret != f)
		return 1;
	snprintf(path, sizeof(path), "%s/fsynced", f->data);
	if ((fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600)) == -1 ||
	    write(fd, "x", 1) != 1 || fsync(fd) == -1)
		return 2;
	close(fd);
	return 0;
}

static int
child_ptrace(struct fixture *f)
{
	(void)f;
	(void)ptrace(PTRACE_TRACEME, 0, NULL, NULL);
	return 0;	/* reached only when the filter let it through */
}

static int
child_execve(struct fixture *f)
{
	char *argv[] = { (char *)"/bin/true", NULL };

	(void)f;
	execve(argv[0], argv, NULL);
	return 0;
}

static int
child_mount(struct fixture *f)
{
	(void)mount("none", f->data, "tmpfs", 0, NULL);
	return 0;
}

static int
child_fork(struct fixture *f)
{
	pid_t pid;

	(void)f;
	/* A new process, not a thread: could exec or escape the filter's
	 * intent; glibc's fork() is clone without CLONE_THREAD. */
	pid = (pid_t)syscall(SYS_clone, SIGCHLD, NULL, NULL, NULL, 0);
	if (pid == 0)
		_exit(0);
	return 0;
}

static int
child_bind(struct fixture *f)
{
	struct sockaddr_in sin;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	(void)f;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	(void)bind(fd, (struct sockaddr *)&sin, sizeof(sin));
	return 0;
}

static void
test_sandbox_forbidden_calls_kill(void **state)
{
	static const struct {
		const char	*name;
		int		(*fn)(struct fixture *);
	} cases[] = {
		{ "ptrace", child_ptrace },
		{ "execve", child_execve },
		{ "mount", child_mount },
		{ "fork", child_fork },
		{ "bind", child_bind },
	};
	struct fixture *f = *state;
	int st;

	if (!sandbox_seccomp_built())
		skip();		/* sanitizer build: no filter */
	st = in_sandbox(f, SANDBOX_WORKER, child_allowed);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		for (int role = 0; role < 2; role++) {
			st = in_sandbox(f, (enum sandbox_role)role, cases[i].fn);
			if (!WIFSIGNALED(st) || WTERMSIG(st) != SIGSYS)
				fail_msg("%s (role %d): status %#x, expected "
				    "death by SIGSYS", cases[i].name, role, st);
		}
	}
}

static int
child_accept(struct fixture *f)
{
	(void)f;
	(void)accept4(0, NULL, NULL, 0);
	return 0;
}

/* The runner serves no clients: accepting is not among its calls. */
static void
test_sandbox_runner_cannot_accept(void **state)
{
	struct fixture *f = *state;
	int st;

	if (!sandbox_seccomp_built())
		skip();
	st = in_sandbox(f, SANDBOX_RUNNER, child_accept);
	assert_true(WIFSIGNALED(st));
	assert_int_equal(WTERMSIG(st), SIGSYS);
	st = in_sandbox(f, SANDBOX_WORKER, child_accept);
	assert_true(WIFEXITED(st));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    test_sandbox_files_outside_data_dir_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_sandbox_relay_secret_runner_only, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_sandbox_config_in_etc_opens_only_the_file, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_sandbox_config_off_confines_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_sandbox_worker_tcp_only_to_dns, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_sandbox_forbidden_calls_kill, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_sandbox_runner_cannot_accept, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
