/*
 * `sealpost user ...`: accounts and their APOP secrets; see cmd_auth.h.
 * Passwords are read from /dev/tty without echo (or one line of stdin for
 * scripts), handed to the userdb to hash, and wiped; they never appear in
 * argv, where any local user could read them from /proc.
 */
#include "cli/cmd_auth.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "auth/userdb.h"
#include "core/config.h"
#include "core/strlist.h"

enum { EXIT_OK = 0, EXIT_FAIL = 1, EXIT_USAGE = 2 };

#define PASSWORD_MAX	1024
#define GENERATED_LEN	20

static int
user_usage(void)
{
	fprintf(stderr,
	    "usage: sealpost user add ADDRESS [--password-stdin | "
	    "--generate-password]\n"
	    "       sealpost user del ADDRESS\n"
	    "       sealpost user passwd ADDRESS [--password-stdin | "
	    "--generate-password]\n"
	    "       sealpost user list\n"
	    "       sealpost user apop ADDRESS [--secret-stdin | --clear]\n");
	return EXIT_USAGE;
}

/* Reads one line from fd into out (NUL-terminated, newline dropped). */
static int
read_line_fd(int fd, char *out, size_t outsz)
{
	size_t n = 0;

	for (;;) {
		char c;
		ssize_t r = read(fd, &c, 1);

		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		if (c == '\n')
			break;
		if (n + 1 >= outsz) {
			explicit_bzero(out, outsz);
			return -1;
		}
		out[n++] = c;
	}
	if (n > 0 && out[n - 1] == '\r')
		n--;
	out[n] = '\0';
	return 0;
}

/* Prompts on the terminal with echo off. */
static int
prompt_tty(int tty, const char *prompt, char *out, size_t outsz)
{
	struct termios old, quiet;
	int rc;

	if (tcgetattr(tty, &old) == -1)
		return -1;
	quiet = old;
	quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
	quiet.c_lflag |= ICANON;
	if (write(tty, prompt, strlen(prompt)) < 0 ||
	    tcsetattr(tty, TCSAFLUSH, &quiet) == -1)
		return -1;
	rc = read_line_fd(tty, out, outsz);
	tcsetattr(tty, TCSAFLUSH, &old);
	if (write(tty, "\n", 1) < 0)
		rc = -1;
	return rc;
}

/* Asks twice for what ("Password", "APOP secret") on the terminal. */
static int
password_from_tty(const char *what, char *pw, size_t pwsz)
{
	char again[PASSWORD_MAX], prompt[64];
	int tty = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
	int rc = -1;

	if (tty == -1) {
		fprintf(stderr, "sealpost: no terminal to ask on; use "
		    "--password-stdin, --generate-password or --secret-stdin\n");
		return -1;
	}
	snprintf(prompt, sizeof(prompt), "%s: ", what);
	if (prompt_tty(tty, prompt, pw, pwsz) == -1)
		fprintf(stderr, "sealpost: cannot read the input\n");
	else if (snprintf(prompt, sizeof(prompt), "%s again: ", what) < 0 ||
	    prompt_tty(tty, prompt, again, sizeof(again)) == -1)
		fprintf(stderr, "sealpost: cannot read the input\n");
	else if (strcmp(pw, again) != 0)
		fprintf(stderr, "sealpost: the two entries differ\n");
	else
		rc = 0;
	explicit_bzero(again, sizeof(again));
	close(tty);
	return rc;
}

/*
 * A random password from an alphabet without look-alikes (no 0/O, 1/l/I):
 * 20 characters of 56 possibilities is about 116 bits.
 */
static int
password_generate(char *pw, size_t pwsz)
{
	static const char alphabet[] =
	    "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
	unsigned char rnd[GENERATED_LEN * 2];
	size_t n = 0, alen = sizeof(alphabet) - 1;

	if (pwsz <= GENERATED_LEN)
		return -1;
	while (n < GENERATED_LEN) {
		if (RAND_bytes(rnd, sizeof(rnd)) != 1)
			return -1;
		/* Rejection sampling keeps every character equally likely. */
		for (size_t i = 0; i < sizeof(rnd) && n < GENERATED_LEN; i++)
			if (rnd[i] < 256 - 256 % alen)
				pw[n++] = alphabet[rnd[i] % alen];
	}
	pw[n] = '\0';
	explicit_bzero(rnd, sizeof(rnd));
	return 0;
}

enum pw_source { PW_TTY, PW_STDIN, PW_GENERATE };

/* Parses the optional password flag at argv[3]. -1 on a usage error. */
static int
password_source(int argc, char **argv, enum pw_source *src)
{
	*src = PW_TTY;
	if (argc == 3)
		return 0;
	if (argc != 4)
		return -1;
	if (strcmp(argv[3], "--password-stdin") == 0)
		*src = PW_STDIN;
	else if (strcmp(argv[3], "--generate-password") == 0)
		*src = PW_GENERATE;
	else
		return -1;
	return 0;
}

static int
password_get(enum pw_source src, char *pw, size_t pwsz)
{
	switch (src) {
	case PW_STDIN:
		if (read_line_fd(STDIN_FILENO, pw, pwsz) == -1) {
			fprintf(stderr, "sealpost: password longer than %d "
			    "bytes\n", PASSWORD_MAX - 1);
			return -1;
		}
		return 0;
	case PW_GENERATE:
		if (password_generate(pw, pwsz) == -1) {
			fprintf(stderr, "sealpost: cannot generate a "
			    "password\n");
			return -1;
		}
		return 0;
	case PW_TTY:
		break;
	}
	return password_from_tty("Password", pw, pwsz);
}

/* user add / user passwd */
static int
user_set_password(const struct config *cfg, int argc, char **argv, bool add)
{
	char pw[PASSWORD_MAX];
	enum pw_source src;
	const char *err = NULL;
	int rc;

	if (password_source(argc, argv, &src) == -1)
		return user_usage();
	/* Check the address before asking for a password. */
	{
		char key[USERDB_ADDR_MAX + 1];

		if (userdb_addr_normalize(argv[2], key, sizeof(key)) == -1) {
			fprintf(stderr, "sealpost: malformed address \"%s\": "
			    "expected local@domain\n", argv[2]);
			return EXIT_FAIL;
		}
		if (add && !userdb_domain_listed(cfg->domains, cfg->n_domains,
		    userdb_addr_domain(key))) {
			fprintf(stderr, "sealpost: %s: domain %s is not one of "
			    "the configured domains\n", key,
			    userdb_addr_domain(key));
			return EXIT_FAIL;
		}
	}
	if (password_get(src, pw, sizeof(pw)) == -1)
		return EXIT_FAIL;
	if (pw[0] == '\0') {
		fprintf(stderr, "sealpost: empty password\n");
		return EXIT_FAIL;
	}
	rc = add ? userdb_edit_user_add(cfg->data_dir, cfg->domains,
	    cfg->n_domains, argv[2], pw, &err) :
	    userdb_edit_user_passwd(cfg->data_dir, argv[2], pw, &err);
	if (rc == 0 && src == PW_GENERATE)
		printf("%s\n", pw);
	explicit_bzero(pw, sizeof(pw));
	if (rc == -1) {
		fprintf(stderr, "sealpost: %s\n", err);
		return EXIT_FAIL;
	}
	if (src != PW_GENERATE)
		fprintf(stderr, "sealpost: %s %s\n", argv[2],
		    add ? "added" : "password changed");
	return EXIT_OK;
}

static int
user_apop(const struct config *cfg, int argc, char **argv)
{
	char secret[PASSWORD_MAX];
	const char *err = NULL;
	int rc;

	if (argc == 4 && strcmp(argv[3], "--clear") == 0)
		rc = userdb_edit_apop_clear(cfg->data_dir, argv[2], &err);
	else {
		if (argc == 4 && strcmp(argv[3], "--secret-stdin") == 0) {
			if (read_line_fd(STDIN_FILENO, secret,
			    sizeof(secret)) == -1) {
				fprintf(stderr, "sealpost: secret too long\n");
				return EXIT_FAIL;
			}
		} else if (argc == 3) {
			if (password_from_tty("APOP secret", secret,
			    sizeof(secret)) == -1)
				return EXIT_FAIL;
		} else
			return user_usage();
		rc = userdb_edit_apop_set(cfg->data_dir, argv[2], secret, &err);
		explicit_bzero(secret, sizeof(secret));
	}
	if (rc == -1) {
		fprintf(stderr, "sealpost: %s\n", err);
		return EXIT_FAIL;
	}
	return EXIT_OK;
}

int
cli_user(const struct config *cfg, int argc, char **argv)
{
	const char *err = NULL;

	if (argc < 2 || strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "-h") == 0)
		return user_usage();
	if (strcmp(argv[1], "list") == 0 && argc == 2) {
		struct strlist l;

		strlist_init(&l);
		if (userdb_edit_user_list(cfg->data_dir, &l, &err) == -1) {
			fprintf(stderr, "sealpost: %s\n", err);
			return EXIT_FAIL;
		}
		for (size_t i = 0; i < l.n; i++)
			printf("%s\n", l.v[i]);
		strlist_clear(&l);
		return EXIT_OK;
	}
	if (argc < 3)
		return user_usage();
	if (strcmp(argv[1], "add") == 0)
		return user_set_password(cfg, argc, argv, true);
	if (strcmp(argv[1], "passwd") == 0)
		return user_set_password(cfg, argc, argv, false);
	if (strcmp(argv[1], "apop") == 0)
		return user_apop(cfg, argc, argv);
	if (strcmp(argv[1], "del") == 0 && argc == 3) {
		if (userdb_edit_user_del(cfg->data_dir, argv[2], &err) == -1) {
			fprintf(stderr, "sealpost: %s\n", err);
			return EXIT_FAIL;
		}
		return EXIT_OK;
	}
	return user_usage();
}
