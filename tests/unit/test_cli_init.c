/*
 * Tests of `sealpost init`: runs the built `sealpost` binary (found next to
 * this test executable) and checks the instance it leaves: every file with
 * its mode, a configuration that loads with every file check, a
 * certificate for the promised names, and refusal to overwrite.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <limits.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/config.h"

static char sealpost_bin[PATH_MAX];

/* Runs sealpost with args (NULL-terminated), output to /dev/null; returns
 * the exit status. */
static int
run(char *const args[])
{
	char *argv[16];
	pid_t pid;
	int st, i;

	argv[0] = sealpost_bin;
	for (i = 0; args[i] != NULL && i < 14; i++)
		argv[i + 1] = args[i];
	argv[i + 1] = NULL;
	pid = fork();
	assert_true(pid != -1);
	if (pid == 0) {
		int fd = open("/dev/null", O_WRONLY);

		if (fd != -1) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execv(sealpost_bin, argv);
		_exit(127);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	return WEXITSTATUS(st);
}

static int
setup(void **state)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	char *slash;

	(void)state;
	if (n <= 0)
		return -1;
	self[n] = '\0';
	if ((slash = strrchr(self, '/')) == NULL)
		return -1;
	*slash = '\0';
	if ((size_t)snprintf(sealpost_bin, sizeof(sealpost_bin), "%s/sealpost",
	    self) >= sizeof(sealpost_bin))
		return -1;
	return access(sealpost_bin, X_OK);
}

static void
path_in(char *out, const char *dir, const char *name)
{
	assert_true((size_t)snprintf(out, PATH_MAX, "%s/%s", dir, name) <
	    PATH_MAX);
}

static mode_t
mode_of(const char *dir, const char *name, bool want_dir)
{
	char p[PATH_MAX];
	struct stat st;

	path_in(p, dir, name);
	if (stat(p, &st) == -1)
		fail_msg("%s missing", p);
	assert_int_equal(S_ISDIR(st.st_mode), want_dir);
	return st.st_mode & 07777;
}

static void
rm_rf(const char *dir)
{
	char *argv[] = { "rm", "-rf", (char *)dir, NULL };
	pid_t pid = fork();
	int st;

	if (pid == 0) {
		execvp("rm", argv);
		_exit(127);
	}
	waitpid(pid, &st, 0);
}

static void
check_cert(const char *dir)
{
	char p[PATH_MAX];
	FILE *f;
	X509 *cert;
	GENERAL_NAMES *san;
	int dns = 0, ip = 0;

	path_in(p, dir, "inst/tls/cert.pem");
	assert_non_null(f = fopen(p, "r"));
	assert_non_null(cert = PEM_read_X509(f, NULL, NULL, NULL));
	fclose(f);
	assert_int_equal(X509_check_host(cert, "mx.example.test", 0, 0, NULL),
	    1);
	assert_int_equal(X509_check_host(cert, "localhost", 0, 0, NULL), 1);
	assert_int_equal(X509_check_ip_asc(cert, "127.0.0.1", 0), 1);
	san = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
	assert_non_null(san);
	for (int i = 0; i < sk_GENERAL_NAME_num(san); i++) {
		GENERAL_NAME *g = sk_GENERAL_NAME_value(san, i);

		dns += g->type == GEN_DNS;
		ip += g->type == GEN_IPADD;
	}
	assert_int_equal(dns, 2);
	assert_int_equal(ip, 1);
	GENERAL_NAMES_free(san);
	assert_true(X509_check_ca(cert) >= 1);
	X509_free(cert);
}

static void
check_config(const char *dir)
{
	char p[PATH_MAX];
	struct config c;
	struct buf e;

	path_in(p, dir, "inst/sealpost.conf");
	config_defaults(&c);
	buf_init(&e, 16 * 1024);
	if (config_load(&c, p, true, &e) != 0)
		fail_msg("%s", e.data);
	assert_string_equal(c.hostname, "mx.example.test");
	assert_int_equal(c.n_domains, 1);
	assert_string_equal(c.domains[0], "mail.example.test");
	assert_string_equal(c.listen_smtp.item[0].text, "127.0.0.1:30025");
	assert_string_equal(c.listen_submission.item[0].text,
	    "127.0.0.1:30587");
	assert_string_equal(c.listen_submissions.item[0].text,
	    "127.0.0.1:30465");
	assert_string_equal(c.listen_pop3.item[0].text, "127.0.0.1:30110");
	assert_string_equal(c.listen_pop3s.item[0].text, "127.0.0.1:30995");
	assert_int_equal(c.n_trusted, 0);
	assert_string_equal(c.user, geteuid() == 0 ? "nobody" : "");
	/* Every key is written out (dns_servers as a comment). */
	for (size_t i = 0; i < config_key_count(); i++)
		if (c.key_line[i] == 0 &&
		    strcmp(config_key_name(i), "dns_servers") != 0)
			fail_msg("%s not in the generated file",
			    config_key_name(i));
	config_free(&c);
	buf_cleanup(&e);
}

static void
test_cli_init_creates_instance(void **state)
{
	char dir[] = "/tmp/test_cli_init.XXXXXX", inst[PATH_MAX], p[PATH_MAX];
	struct stat st;

	(void)state;
	assert_non_null(mkdtemp(dir));
	path_in(inst, dir, "inst");
	{
		char *args[] = { "init", inst, "--hostname", "mx.example.test",
		    "--domain=mail.example.test", "--port-base", "30000", NULL };

		assert_int_equal(run(args), 0);
	}
	assert_int_equal(mode_of(inst, "data", true), 0700);
	assert_int_equal(mode_of(inst, "data/spool", true), 0700);
	assert_int_equal(mode_of(inst, "data/queue", true), 0700);
	assert_int_equal(mode_of(inst, "data/mail", true), 0700);
	assert_int_equal(mode_of(inst, "data/users", false), 0600);
	assert_int_equal(mode_of(inst, "data/aliases", false) & 0644, 0644);
	assert_int_equal(mode_of(inst, "data/secret", false), 0600);
	assert_int_equal(mode_of(inst, "tls/key.pem", false), 0600);
	assert_int_equal(mode_of(inst, "tls/cert.pem", false) & 0600, 0600);
	path_in(p, inst, "data/secret");
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_size, 32);
	path_in(p, inst, "data/users");
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_size, 0);
	check_config(dir);
	check_cert(dir);

	/* A second init refuses and changes nothing. */
	path_in(p, inst, "sealpost.conf");
	assert_int_equal(stat(p, &st), 0);
	{
		char *args[] = { "init", inst, NULL };
		struct stat st2;

		assert_int_equal(run(args), 1);
		assert_int_equal(stat(p, &st2), 0);
		assert_int_equal(st2.st_size, st.st_size);
		assert_int_equal(st2.st_mtime, st.st_mtime);
	}
	rm_rf(dir);
}

static void
test_cli_init_usage_errors(void **state)
{
	char *no_dir[] = { "init", NULL };
	char *bad_port[] = { "init", "/tmp/x-never", "--port-base", "64541",
	    NULL };
	char *bad_host[] = { "init", "/tmp/x-never", "--hostname", "a,b",
	    NULL };
	char *no_value[] = { "init", "/tmp/x-never", "--domain", NULL };
	char *two_dirs[] = { "init", "/tmp/x-never", "/tmp/y-never", NULL };
	char *unknown[] = { "init", "/tmp/x-never", "--frobnicate", NULL };
	char *help[] = { "init", "--help", NULL };
	char *top_help[] = { "--help", NULL };
	char *bad_sub[] = { "nosuchcommand", NULL };

	(void)state;
	assert_int_equal(run(no_dir), 2);
	assert_int_equal(run(bad_port), 2);
	assert_int_equal(run(bad_host), 2);
	assert_int_equal(run(no_value), 2);
	assert_int_equal(run(two_dirs), 2);
	assert_int_equal(run(unknown), 2);
	assert_int_equal(run(help), 0);
	assert_int_equal(run(top_help), 0);
	assert_int_equal(run(bad_sub), 2);
	assert_int_equal(access("/tmp/x-never", F_OK), -1);
}

static void
test_cli_config_errors_stop_subcommands(void **state)
{
	char dir[] = "/tmp/test_cli_cfg.XXXXXX", conf[PATH_MAX];
	FILE *f;

	(void)state;
	assert_non_null(mkdtemp(dir));
	path_in(conf, dir, "bad.conf");
	assert_non_null(f = fopen(conf, "w"));
	fputs("bogus = 1\n", f);
	fclose(f);
	{
		char *args[] = { "-c", conf, "check", NULL };
		char *missing[] = { "-c", "/nonexistent/x.conf", "check", NULL };

		assert_int_equal(run(args), 1);
		assert_int_equal(run(missing), 1);
	}
	rm_rf(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cli_init_creates_instance),
		cmocka_unit_test(test_cli_init_usage_errors),
		cmocka_unit_test(test_cli_config_errors_stop_subcommands),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
