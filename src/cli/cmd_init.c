/*
 * `sealpost init DIR`: creates a complete instance that sealpostd can run
 * straight away: DIR/sealpost.conf (every key written out), DIR/data with
 * spool/, queue/, mail/, an empty users file, an aliases file and a random
 * instance secret, and DIR/tls with a self-signed certificate that clients
 * can trust directly. The configuration is written last, with O_EXCL: its
 * presence is what marks an instance as complete, so an existing one is
 * never overwritten and an interrupted init can simply be run again (files
 * it already made are kept).
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli/commands.h"
#include "core/buf.h"
#include "core/config.h"
#include "core/str.h"
#include "net/tls_cert.h"

#define SECRET_LEN	32
#define PORT_BASE_MAX	(65535 - 995)

struct init_opts {
	const char	*dir;
	const char	*hostname;
	const char	*domain;
	unsigned	 port_base;
};

struct init_paths {
	char	dir[PATH_MAX];		/* absolute */
	char	conf[PATH_MAX];
	char	data[PATH_MAX];
	char	cert[PATH_MAX];
	char	key[PATH_MAX];
};

static const struct {
	const char	*key;
	unsigned	 offset;	/* added to the port base */
	const char	*what;
} services[] = {
	{ "listen_smtp",	25,  "SMTP (inbound MX)" },
	{ "listen_submission",	587, "submission, STARTTLS + AUTH" },
	{ "listen_submissions",	465, "submission, implicit TLS" },
	{ "listen_pop3",	110, "POP3, STLS" },
	{ "listen_pop3s",	995, "POP3, implicit TLS" },
};

#define N_SERVICES	(sizeof(services) / sizeof(services[0]))

static int
init_usage(FILE *out)
{
	fprintf(out, "usage: sealpost init DIR [--hostname H] [--domain D] "
	    "[--port-base N]\n"
	    "  --hostname H   server name and certificate name "
	    "(default localhost)\n"
	    "  --domain D     first local mail domain (default example.test)\n"
	    "  --port-base N  listen on 127.0.0.1 at N+25, N+587, N+465, "
	    "N+110, N+995\n"
	    "                 (default 10000; 0 gives the standard ports)\n");
	return out == stdout ? CLI_EXIT_OK : CLI_EXIT_USAGE;
}

/* Matches "--name VALUE" and "--name=VALUE"; advances *i past the value. */
static bool
take_opt(int argc, char **argv, int *i, const char *name, const char **val)
{
	size_t n = strlen(name);

	if (strncmp(argv[*i], name, n) != 0)
		return false;
	if (argv[*i][n] == '=') {
		*val = argv[*i] + n + 1;
		return true;
	}
	if (argv[*i][n] != '\0')
		return false;
	*val = *i + 1 < argc ? argv[++*i] : NULL;
	return true;
}

/* Returns 0, 1 for --help, or -1 for a usage error. */
static int
parse_args(int argc, char **argv, struct init_opts *o)
{
	const char *port = NULL, *v;
	uint64_t n;

	*o = (struct init_opts){ NULL, "localhost", "example.test", 10000 };
	for (int i = 1; i < argc; i++) {
		v = NULL;
		if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0)
			return 1;
		if (take_opt(argc, argv, &i, "--hostname", &v))
			o->hostname = v;
		else if (take_opt(argc, argv, &i, "--domain", &v))
			o->domain = v;
		else if (take_opt(argc, argv, &i, "--port-base", &v))
			port = v;
		else if (argv[i][0] == '-' || o->dir != NULL)
			return -1;
		else {
			o->dir = argv[i];
			continue;
		}
		if (v == NULL)
			return -1;	/* option without its value */
	}
	if (o->dir == NULL || o->dir[0] == '\0')
		return -1;
	if (!config_is_domain_name(o->hostname)) {
		fprintf(stderr, "sealpost init: \"%s\" is not a host name\n",
		    o->hostname);
		return -1;
	}
	if (!config_is_domain_name(o->domain)) {
		fprintf(stderr, "sealpost init: \"%s\" is not a domain name\n",
		    o->domain);
		return -1;
	}
	if (port != NULL) {
		if (str_to_u64(str_view_from(port), &n, PORT_BASE_MAX) == -1) {
			fprintf(stderr, "sealpost init: --port-base must be "
			    "0 to %d\n", PORT_BASE_MAX);
			return -1;
		}
		o->port_base = (unsigned)n;
	}
	return 0;
}

static int
join(char *out, const char *a, const char *b)
{
	int n = snprintf(out, PATH_MAX, "%s/%s", a, b);

	if (n < 0 || n >= PATH_MAX) {
		fprintf(stderr, "sealpost init: path too long: %s/%s\n", a, b);
		return -1;
	}
	return 0;
}

/* mkdir that accepts an existing directory. */
static int
make_dir(const char *path, mode_t mode)
{
	struct stat st;

	if (mkdir(path, mode) == 0)
		return 0;
	if (errno == EEXIST && stat(path, &st) == 0 && S_ISDIR(st.st_mode))
		return 0;
	fprintf(stderr, "sealpost init: mkdir(%s): %s\n", path,
	    errno == EEXIST ? "exists and is not a directory" : strerror(errno));
	return -1;
}

/*
 * Creates path with mode and content, fsynced. An existing file is kept
 * when keep is true (left from an interrupted init), else an error. 0 or -1.
 */
static int
write_new(const char *path, mode_t mode, const void *data, size_t len,
    bool keep)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
	const char *p = data;

	if (fd == -1 && errno == EEXIST && keep)
		return 0;
	if (fd == -1) {
		fprintf(stderr, "sealpost init: open(%s): %s\n", path,
		    strerror(errno));
		return -1;
	}
	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			goto fail;
		p += n;
		len -= (size_t)n;
	}
	if (fsync(fd) == -1)
		goto fail;
	if (close(fd) == -1) {
		fd = -1;
		goto fail;
	}
	return 0;
fail:
	fprintf(stderr, "sealpost init: write(%s): %s\n", path,
	    strerror(errno));
	if (fd != -1)
		close(fd);
	unlink(path);
	return -1;
}

static int
make_paths(const struct init_opts *o, struct init_paths *p)
{
	struct stat st;

	/* DIR and tls/ are public (the certificate is what clients trust);
	 * what is secret is protected by its own mode: data/ 0700, key 0600. */
	if (make_dir(o->dir, 0755) == -1)
		return -1;
	if (realpath(o->dir, p->dir) == NULL) {
		fprintf(stderr, "sealpost init: realpath(%s): %s\n", o->dir,
		    strerror(errno));
		return -1;
	}
	if (join(p->conf, p->dir, "sealpost.conf") == -1 ||
	    join(p->data, p->dir, "data") == -1 ||
	    join(p->cert, p->dir, "tls/cert.pem") == -1 ||
	    join(p->key, p->dir, "tls/key.pem") == -1)
		return -1;
	if (lstat(p->conf, &st) == 0) {
		fprintf(stderr, "sealpost init: %s already exists; refusing to "
		    "overwrite an existing instance\n", p->conf);
		return -1;
	}
	return 0;
}

static int
make_data(const struct init_paths *p)
{
	static const char *const dirs[] = { "spool", "queue", "mail" };
	static const char aliases[] =
	    "# address: target, target ...   (see docs/config.md)\n";
	unsigned char secret[SECRET_LEN];
	char path[PATH_MAX];
	int rc;

	if (make_dir(p->data, 0700) == -1)
		return -1;
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++)
		if (join(path, p->data, dirs[i]) == -1 ||
		    make_dir(path, 0700) == -1)
			return -1;
	if (join(path, p->data, "users") == -1 ||
	    write_new(path, 0600, "", 0, true) == -1)
		return -1;
	if (join(path, p->data, "aliases") == -1 ||
	    write_new(path, 0644, aliases, sizeof(aliases) - 1,
	    true) == -1)
		return -1;
	if (RAND_bytes(secret, sizeof(secret)) != 1) {
		fprintf(stderr, "sealpost init: RAND_bytes failed\n");
		return -1;
	}
	rc = join(path, p->data, "secret") == -1 ? -1 :
	    write_new(path, 0600, secret, sizeof(secret), true);
	explicit_bzero(secret, sizeof(secret));
	return rc;
}

/* Generates the key pair unless both files exist already. */
static int
make_tls(const struct init_paths *p, const char *hostname,
    char *fp, size_t fpsz)
{
	char dir[PATH_MAX], err[256];
	EVP_PKEY *key = NULL;
	X509 *cert = NULL;
	bool have_cert = access(p->cert, F_OK) == 0;
	bool have_key = access(p->key, F_OK) == 0;
	int rc = -1;

	snprintf(fp, fpsz, "(kept existing certificate)");
	if (join(dir, p->dir, "tls") == -1 ||
	    make_dir(dir, 0755) == -1)
		return -1;
	if (have_cert && have_key)
		return 0;
	if (have_cert != have_key) {
		fprintf(stderr, "sealpost init: only one of %s and %s exists; "
		    "remove it to generate a new pair\n", p->cert, p->key);
		return -1;
	}
	if (tls_cert_selfsigned(hostname, TLS_CERT_DAYS, &key, &cert, err,
	    sizeof(err)) == -1 ||
	    tls_cert_write_pem(key, cert, p->cert, p->key, err,
	    sizeof(err)) == -1)
		fprintf(stderr, "sealpost init: %s\n", err);
	else if (tls_cert_fingerprint(cert, fp, fpsz) == -1)
		snprintf(fp, fpsz, "(fingerprint unavailable)");
	else
		rc = 0;
	if (rc == -1 && cert != NULL && access(p->cert, F_OK) == 0)
		rc = 0;		/* written; only the fingerprint failed */
	X509_free(cert);
	EVP_PKEY_free(key);
	return rc;
}

/*
 * The daemon reaches data_dir as `nobody` after dropping root, so every
 * directory above DIR must let others through. Only a warning: the admin
 * may give nobody access by other means (ACLs, group).
 */
static void
warn_traversal(const char *dir)
{
	char path[PATH_MAX];
	struct stat st;
	char *slash;

	if (snprintf(path, sizeof(path), "%s", dir) >= (int)sizeof(path))
		return;
	while ((slash = strrchr(path, '/')) != NULL) {
		if (slash == path)
			slash[1] = '\0';
		else
			*slash = '\0';
		if (stat(path, &st) == 0 && (st.st_mode & S_IXOTH) == 0) {
			fprintf(stderr, "sealpost init: warning: %s is not "
			    "searchable by others; the daemon, running as "
			    "nobody, cannot reach %s/data\n", path, dir);
			return;
		}
		if (slash == path)
			return;
	}
}

/*
 * Started as root, the daemon drops to `nobody` (see the user key), which
 * must then own what it writes. The key stays root's: the master reads it
 * before dropping privileges.
 */
static int
chown_data(const struct init_paths *p)
{
	static const char *const names[] = { "", "spool", "queue", "mail",
	    "users", "aliases", "secret" };
	struct passwd *pw = getpwnam("nobody");
	struct group *gr = getgrnam("nogroup");
	char path[PATH_MAX];
	gid_t gid;

	if (pw == NULL) {
		fprintf(stderr, "sealpost init: no user \"nobody\"\n");
		return -1;
	}
	gid = gr != NULL ? gr->gr_gid : pw->pw_gid;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (names[i][0] == '\0') {
			if (snprintf(path, sizeof(path), "%s", p->data) < 0)
				return -1;
		} else if (join(path, p->data, names[i]) == -1)
			return -1;
		if (lchown(path, pw->pw_uid, gid) == -1) {
			fprintf(stderr, "sealpost init: chown(%s): %s\n", path,
			    strerror(errno));
			return -1;
		}
	}
	if (chmod(p->dir, 0755) == -1) {
		fprintf(stderr, "sealpost init: chmod(%s): %s\n", p->dir,
		    strerror(errno));
		return -1;
	}
	warn_traversal(p->dir);
	return 0;
}

/* conf_keys and conf_limits return 0, or -1 when b ran out of room. */
static int
conf_keys(struct buf *b, const struct init_opts *o,
    const struct init_paths *p, bool root)
{
	int bad;

	bad = buf_printf(b,
	    "# Name in the SMTP greeting, EHLO reply and Received headers.\n"
	    "hostname = %s\n"
	    "# Domains delivered here (accounts: sealpost user add).\n"
	    "domains = %s\n"
	    "# Mail, queue, accounts, aliases and the instance secret.\n"
	    "data_dir = %s\n"
	    "# Account to switch to when started as root (empty: stay the\n"
	    "# invoking user). Use a dedicated system account in production.\n"
	    "user =%s%s\n\n"
	    "# Listeners: addr:port or [v6]:port, comma-separated; an empty\n"
	    "# value disables the service. *:25 is every IPv4 and IPv6 address.\n",
	    o->hostname, o->domain, p->data, root ? " " : "",
	    root ? "nobody" : "");
	for (size_t i = 0; i < N_SERVICES; i++)
		bad |= buf_printf(b, "# %s\n%s = 127.0.0.1:%u\n",
		    services[i].what,
		    services[i].key, o->port_base + services[i].offset);
	bad |= buf_printf(b,
	    "\n# Certificate chain and key (PEM). Self-signed by sealpost init;\n"
	    "# clients can trust cert.pem directly.\n"
	    "tls_cert = %s\n"
	    "tls_key = %s\n\n", p->cert, p->key);
	return bad;
}

static int
conf_limits(struct buf *b)
{
	return buf_printf(b,
	    "# Largest message accepted (k, M, G: binary multiples).\n"
	    "max_message_size = 50M\n"
	    "# Recipients per message (RFC 5321 4.5.3.1.8: at least 100).\n"
	    "max_recipients = 100\n"
	    "# Failed commands in one session before it is closed.\n"
	    "max_errors = 10\n"
	    "# Mail loops (docs/outbound.md): Received fields allowed, messages\n"
	    "# per hour from one sender through one forwarding alias (0 = off),\n"
	    "# SRS for forwarded copies.\n"
	    "max_hops = 50\n"
	    "list_rate_limit = 100\n"
	    "srs = yes\n"
	    "# Concurrent sessions in all, and from one client address.\n"
	    "max_sessions = 10000\n"
	    "max_sessions_per_ip = 50\n"
	    "# Longest SMTP command line, CRLF included (at least 512).\n"
	    "max_line_length = 1000\n"
	    "# Failed AUTH attempts in one session before it is closed.\n"
	    "auth_max_failures = 3\n"
	    "# How long a verified password is remembered (skips yescrypt on\n"
	    "# the next login with it); 0 = off. See docs/performance.md.\n"
	    "auth_cache_ttl = 5m\n"
	    "# Worker processes; 0 = one per CPU core.\n"
	    "workers = 0\n\n"
	    "# Networks allowed to relay without AUTH (CIDR list). Empty: none.\n"
	    "trusted_networks =\n"
	    "# DNS servers (IP or IP:port). Default: /etc/resolv.conf.\n"
	    "# dns_servers = 127.0.0.1:53\n"
	    "# Seconds one DNS try waits, and retries after a timeout.\n"
	    "dns_timeout = 5\n"
	    "dns_retries = 2\n"
	    "# DNS answers kept per worker, for their TTL (at most 1h); 0 = off.\n"
	    "dns_cache_size = 1000\n"
	    "# Outsiders' MAIL FROM: the domain must exist (550 5.1.8);\n"
	    "# SPF fail is refused (550 5.7.23); permerror accepted.\n"
	    "sender_domain_check = yes\n"
	    "spf_reject_fail = yes\n"
	    "spf_reject_permerror = no\n"
	    "# DMARC's organizational domains; unreadable = DMARC off.\n"
	    "public_suffix_list = "
	    "/usr/share/publicsuffix/public_suffix_list.dat\n"
	    "# DKIM verification and DMARC for mail from outside; no to\n"
	    "# dmarc_enforce only records verdicts (docs/authenticity.md).\n"
	    "dkim_verify = yes\n"
	    "dmarc_enforce = yes\n"
	    "# Sign submitted mail with the keys of `sealpost dkim keygen`.\n"
	    "dkim_sign = yes\n"
	    "# Bare CR or LF in DATA: reject (smuggling defence) or normalize.\n"
	    "bare_newline = reject\n\n"
	    "# Timeouts: seconds, or with an s, m or h suffix.\n"
	    "# RFC 5321 4.5.3.2: command 5 minutes, data block 3 minutes.\n"
	    "timeout_command = 300\n"
	    "timeout_data_block = 180\n"
	    "timeout_tls_handshake = 10\n"
	    "# How long SIGTERM waits for sessions to finish.\n"
	    "timeout_shutdown = 30\n"
	    "# Idle POP3 sessions (RFC 1939 section 3: at least 10 minutes).\n"
	    "pop3_autologout = 600\n"
	    "# Offer APOP (needs a stored cleartext-equivalent secret).\n"
	    "pop3_apop = no\n\n"
    "# Refuse every POP3 login before STLS, challenge-response ones too.\n"
    "pop3_require_tls = yes\n\n"
	    "# error, warn, info or debug.\n"
	    "log_level = info\n\n"
	    "# Landlock and seccomp for workers and the queue runner\n"
	    "# (docs/security.md); no only for debugging.\n"
	    "sandbox = yes\n\n"
	    "# Outbound relay (docs/outbound.md). STARTTLS policy: may, encrypt\n"
	    "# or verify.\n"
	    "tls_outbound = may\n"
	    "# Per destination domain overrides, e.g. example.org=verify.\n"
	    "tls_policy =\n"
	    "# Smarthost for every remote domain, e.g. [192.0.2.25]:587.\n"
	    "relay_host =\n"
	    "# AUTH at the smarthost (only ever over TLS): the user, and a\n"
	    "# file only its owner can read with the password.\n"
	    "relay_auth_user =\n"
	    "relay_auth_password_file =\n"
	    "# Fixed next hops: domain=[address]:port, * for any domain.\n"
	    "transport =\n"
	    "# Waits between attempts (the last repeats); then bounce after\n"
	    "# the lifetime.\n"
	    "queue_retry_schedule = 5m,10m,20m,40m,1h\n"
	    "queue_max_lifetime = 120h\n"
	    "queue_scan_interval = 5\n"
	    "# One notice to the sender when a message still waits after this\n"
	    "# (0 = never).\n"
	    "queue_delay_notice = 4h\n"
	    "# Connections at once in all and per recipient domain; messages\n"
	    "# per minute per domain (0 = no limit).\n"
	    "relay_max_connections = 32\n"
	    "relay_max_per_domain = 20\n"
	    "relay_rate_per_domain = 0\n"
	    "# The port of MX hosts: 25 (other values are for tests).\n"
	    "relay_mx_port = 25\n"
	    "# RFC 5321 4.5.3.2 client timeouts: 220, MAIL, RCPT, DATA, data\n"
	    "# block, final dot.\n"
	    "timeout_relay_greeting = 5m\n"
	    "# TCP connect to a next hop (then the next MX address is tried).\n"
	    "timeout_relay_connect = 30s\n"
	    "timeout_relay_mail = 5m\n"
	    "timeout_relay_rcpt = 5m\n"
	    "timeout_relay_data = 2m\n"
	    "timeout_relay_data_block = 3m\n"
	    "timeout_relay_dot = 10m\n");
}

static int
write_conf(const struct init_opts *o, const struct init_paths *p, bool root)
{
	struct buf b;
	char date[32];
	time_t now = time(NULL);
	struct tm tm;
	int rc, bad;

	if (gmtime_r(&now, &tm) == NULL ||
	    strftime(date, sizeof(date), "%Y-%m-%d", &tm) == 0)
		date[0] = '\0';
	buf_init(&b, 64 * 1024);
	bad = buf_printf(&b,
	    "# sealpost configuration, written by `sealpost init` %s.\n"
	    "# Syntax: key = value; '#' starts a comment; lists are separated\n"
	    "# by commas and/or spaces. Every key is described in\n"
	    "# docs/config.md. Check with: sealpostd -c %s -t\n\n",
	    date, p->conf);
	bad |= conf_keys(&b, o, p, root);
	bad |= conf_limits(&b);
	/* Not kept if it exists: another init may have raced us since the
	 * check in make_paths, and its instance is not ours to replace. */
	if (bad != 0 || b.data == NULL) {
		fprintf(stderr, "sealpost init: configuration text too long\n");
		rc = -1;
	} else
		rc = write_new(p->conf, 0644, b.data, b.len, false);
	buf_cleanup(&b);
	return rc;
}

/* Reads the new file back with every file check: init must hand over an
 * instance that sealpostd -t accepts. */
static int
verify(const struct init_paths *p)
{
	struct config cfg;
	struct buf errs;
	int n;

	buf_init(&errs, 16 * 1024);
	config_defaults(&cfg);
	n = config_load(&cfg, p->conf, true, &errs);
	if (n > 0)
		fprintf(stderr, "sealpost init: the new configuration has "
		    "problems:\n%s", errs.data != NULL ? errs.data : "");
	config_free(&cfg);
	buf_cleanup(&errs);
	return n == 0 ? 0 : -1;
}

static void
summary(const struct init_opts *o, const struct init_paths *p,
    const char *fp)
{
	printf("Created a sealpost instance in %s\n\n", p->dir);
	printf("  configuration  %s\n", p->conf);
	printf("  data           %s\n", p->data);
	printf("  certificate    %s (self-signed for %s)\n", p->cert,
	    o->hostname);
	printf("  SHA-256        %s\n", fp);
	printf("  private key    %s\n\n", p->key);
	for (size_t i = 0; i < N_SERVICES; i++)
		printf("  127.0.0.1:%-5u  %s\n",
		    o->port_base + services[i].offset, services[i].what);
	printf("\nNext steps:\n"
	    "  sealpost -c %s user add you@%s\n"
	    "  sealpostd -c %s\n"
	    "  clients trust %s, e.g. curl --cacert %s\n",
	    p->conf, o->domain, p->conf, p->cert, p->cert);
}

int
cli_init(const struct config *cfg, int argc, char **argv)
{
	struct init_opts o;
	struct init_paths p;
	bool root = geteuid() == 0;
	char fp[128];

	(void)cfg;
	switch (parse_args(argc, argv, &o)) {
	case 1:
		return init_usage(stdout);
	case -1:
		return init_usage(stderr);
	default:
		break;
	}
	if (make_paths(&o, &p) == -1 || make_data(&p) == -1 ||
	    make_tls(&p, o.hostname, fp, sizeof(fp)) == -1 ||
	    (root && chown_data(&p) == -1) ||
	    write_conf(&o, &p, root) == -1)
		return CLI_EXIT_FAIL;
	if (verify(&p) == -1)
		return CLI_EXIT_FAIL;
	summary(&o, &p, fp);
	return CLI_EXIT_OK;
}
