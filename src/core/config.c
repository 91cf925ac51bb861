/*
 * Configuration: defaults, the `key = value` parser and the lookups the
 * servers make per connection (local domain? trusted network?). The parser
 * does no I/O (config_parse works on bytes) and is bounded: lines longer
 * than CONFIG_MAX_LINE, files over CONFIG_MAX_FILE and lists over the
 * CONFIG_MAX_* caps are errors, not growth. Every problem is reported as
 * "FILE:LINE: message" and parsing goes on, so one run of `sealpostd -t`
 * shows them all. The single-value parsers are in config_value.c. What the
 * values mean is the business of the modules that use them; docs/config.md
 * is the reference.
 */
#include "core/config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/config_private.h"
#include "core/log.h"
#include "core/str.h"
#include "core/xmalloc.h"

#define ITEM_MAX	255	/* one list item or scalar value */

enum key_kind {
	K_HOSTNAME, K_DOMAINS, K_PATH, K_USER, K_LISTEN, K_SIZE, K_UINT,
	K_DURATION, K_BOOL, K_NETWORKS, K_DNS, K_BARE_NEWLINE, K_LOG_LEVEL,
	K_TLS_OUTBOUND, K_ROUTE, K_TRANSPORT, K_SCHEDULE, K_TLS_POLICY,
	K_AUTH_USER
};

struct key_def {
	const char	*name;
	enum key_kind	 kind;
	size_t		 off;		/* of the field in struct config */
	uint64_t	 min, max;	/* numbers and durations */
};

#define F(field)	offsetof(struct config, field)

/*
 * Every key. The order is the index into cfg->key_line, so add new keys at
 * the end. Limits: max_line_length >= 512 because RFC 5321 4.5.3.1.4 says a
 * command line may be 512 octets; pop3_autologout >= 600 because RFC 1939
 * section 3 requires an autologout timer of at least 10 minutes.
 */
static const struct key_def keys[] = {
	{ "hostname",		K_HOSTNAME,	F(hostname), 0, 0 },
	{ "domains",		K_DOMAINS,	F(domains), 0, 0 },
	{ "data_dir",		K_PATH,		F(data_dir), 0, 0 },
	{ "user",		K_USER,		F(user), 0, 0 },
	{ "listen_smtp",	K_LISTEN,	F(listen_smtp), 0, 0 },
	{ "listen_submission",	K_LISTEN,	F(listen_submission), 0, 0 },
	{ "listen_submissions",	K_LISTEN,	F(listen_submissions), 0, 0 },
	{ "listen_pop3",	K_LISTEN,	F(listen_pop3), 0, 0 },
	{ "listen_pop3s",	K_LISTEN,	F(listen_pop3s), 0, 0 },
	{ "tls_cert",		K_PATH,		F(tls_cert), 0, 0 },
	{ "tls_key",		K_PATH,		F(tls_key), 0, 0 },
	{ "max_message_size",	K_SIZE,		F(max_message_size), 1,
	    1ULL << 40 },
	{ "max_recipients",	K_UINT,		F(max_recipients), 1, 100000 },
	{ "max_errors",		K_UINT,		F(max_errors), 1, 1000 },
	{ "max_hops",		K_UINT,		F(max_hops), 1, 1000 },
	{ "list_rate_limit",	K_UINT,		F(list_rate_limit), 0, 1000000 },
	{ "srs",		K_BOOL,		F(srs), 0, 0 },
	{ "max_sessions",	K_UINT,		F(max_sessions), 1, 1000000 },
	{ "max_sessions_per_ip", K_UINT,	F(max_sessions_per_ip), 1, 1000000 },
	{ "max_line_length",	K_UINT,		F(max_line_length), 512, 65536 },
	{ "auth_max_failures",	K_UINT,		F(auth_max_failures), 1, 100 },
	{ "auth_cache_ttl",	K_DURATION,	F(auth_cache_ttl), 0, 86400 },
	{ "workers",		K_UINT,		F(workers), 0, 1024 },
	{ "trusted_networks",	K_NETWORKS,	F(trusted_networks), 0, 0 },
	{ "dns_servers",	K_DNS,		F(dns_servers), 0, 0 },
	{ "bare_newline",	K_BARE_NEWLINE,	F(bare_newline), 0, 0 },
	{ "timeout_command",	K_DURATION,	F(timeout_command), 1, 86400 },
	{ "timeout_data_block",	K_DURATION,	F(timeout_data_block), 1, 86400 },
	{ "timeout_tls_handshake", K_DURATION,	F(timeout_tls_handshake), 1,
	    3600 },
	{ "timeout_shutdown",	K_DURATION,	F(timeout_shutdown), 0, 86400 },
	{ "pop3_autologout",	K_DURATION,	F(pop3_autologout), 600, 86400 },
	{ "pop3_apop",		K_BOOL,		F(pop3_apop), 0, 0 },
	{ "pop3_require_tls",	K_BOOL,		F(pop3_require_tls), 0, 0 },
	{ "log_level",		K_LOG_LEVEL,	F(log_level), 0, 0 },
	{ "tls_outbound",	K_TLS_OUTBOUND,	F(tls_outbound), 0, 0 },
	{ "relay_host",		K_ROUTE,	F(relay_host), 0, 0 },
	{ "transport",		K_TRANSPORT,	F(transport), 0, 0 },
	{ "queue_retry_schedule", K_SCHEDULE,	F(queue_retry), 0, 0 },
	{ "queue_max_lifetime",	K_DURATION,	F(queue_max_lifetime), 60,
	    365 * 86400 },
	{ "queue_scan_interval", K_DURATION,	F(queue_scan_interval), 1, 3600 },
	{ "timeout_relay_connect", K_DURATION,	F(timeout_relay_connect), 1,
	    86400 },
	{ "timeout_relay_greeting", K_DURATION,	F(timeout_relay_greeting), 1,
	    86400 },
	{ "timeout_relay_mail",	K_DURATION,	F(timeout_relay_mail), 1, 86400 },
	{ "timeout_relay_rcpt",	K_DURATION,	F(timeout_relay_rcpt), 1, 86400 },
	{ "timeout_relay_data",	K_DURATION,	F(timeout_relay_data), 1, 86400 },
	{ "timeout_relay_data_block", K_DURATION, F(timeout_relay_data_block), 1,
	    86400 },
	{ "timeout_relay_dot",	K_DURATION,	F(timeout_relay_dot), 1, 86400 },
	{ "dns_timeout",	K_DURATION,	F(dns_timeout), 1, 300 },
	{ "dns_retries",	K_UINT,		F(dns_retries), 0, 10 },
	{ "dns_cache_size",	K_UINT,		F(dns_cache_size), 0, 1000000 },
	{ "sender_domain_check", K_BOOL,	F(sender_domain_check), 0, 0 },
	{ "spf_reject_fail",	K_BOOL,		F(spf_reject_fail), 0, 0 },
	{ "spf_reject_permerror", K_BOOL,	F(spf_reject_permerror), 0, 0 },
	{ "public_suffix_list",	K_PATH,		F(public_suffix_list), 0, 0 },
	{ "dkim_verify",	K_BOOL,		F(dkim_verify), 0, 0 },
	{ "dmarc_enforce",	K_BOOL,		F(dmarc_enforce), 0, 0 },
	{ "dkim_sign",		K_BOOL,		F(dkim_sign), 0, 0 },
	{ "tls_policy",		K_TLS_POLICY,	F(tls_policy), 0, 0 },
	{ "relay_auth_user",	K_AUTH_USER,	F(relay_auth_user), 0, 0 },
	{ "relay_auth_password_file", K_PATH,	F(relay_auth_password_file), 0,
	    0 },
	{ "sandbox",		K_BOOL,		F(sandbox), 0, 0 },
	{ "relay_mx_port",	K_UINT,		F(relay_mx_port), 1, 65535 },
	{ "relay_max_connections", K_UINT,	F(relay_max_connections), 1, 10000 },
	{ "relay_max_per_domain", K_UINT,	F(relay_max_per_domain), 1, 10000 },
	{ "relay_rate_per_domain", K_UINT,	F(relay_rate_per_domain), 0,
	    1000000 },
	{ "queue_delay_notice",	K_DURATION,	F(queue_delay_notice), 0,
	    365 * 86400 },
};

#define N_KEYS	(sizeof(keys) / sizeof(keys[0]))
_Static_assert(N_KEYS <= CONFIG_MAX_KEYS, "raise CONFIG_MAX_KEYS");

enum { KI_DATA_DIR = 2, KI_TLS_CERT = 9, KI_TLS_KEY = 10 };

struct parse_ctx {
	struct config	*cfg;
	const char	*name;
	struct buf	*errs;
	int		 nerr;
};

static void perr(struct parse_ctx *, unsigned, const char *, ...)
    __attribute__((format(printf, 3, 4)));

static void
perr(struct parse_ctx *pc, unsigned line, const char *fmt, ...)
{
	va_list ap;

	pc->nerr++;
	if (pc->errs == NULL)
		return;
	/* A full errs buffer drops messages, never the count. */
	if (buf_printf(pc->errs, "%s:%u: ", pc->name, line) == -1)
		return;
	va_start(ap, fmt);
	(void)buf_vprintf(pc->errs, fmt, ap);
	va_end(ap);
	(void)buf_append_char(pc->errs, '\n');
}

static void *
field(struct config *cfg, const struct key_def *k)
{
	return (char *)cfg + k->off;
}

/* Escaped copy of a value for a message; the file is the operator's, but
 * a stray control byte should not garble a terminal. */
static const char *
esc(char *out, size_t outsz, struct str_view v)
{
	return log_escape(out, outsz, v.p, v.len);
}

/* --- defaults ------------------------------------------------------- */

/*
 * One listener item; "*:PORT" is two sockets, 0.0.0.0:PORT and [::]:PORT,
 * because the master binds IPv6 sockets IPV6_V6ONLY (one family per socket
 * behaves alike everywhere, whatever net.ipv6.bindv6only says). Returns
 * how many entries of out were filled, or -1.
 */
static int
listen_item(const char *text, struct config_listen out[2])
{
	char v4[80], v6[80];

	if (text[0] != '*' || text[1] != ':')
		return config_parse_listen(text, &out[0]) == 0 ? 1 : -1;
	if ((size_t)snprintf(v4, sizeof(v4), "0.0.0.0:%s", text + 2) >=
	    sizeof(v4) ||
	    (size_t)snprintf(v6, sizeof(v6), "[::]:%s", text + 2) >= sizeof(v6))
		return -1;
	if (config_parse_listen(v4, &out[0]) == -1 ||
	    config_parse_listen(v6, &out[1]) == -1)
		return -1;
	return 2;
}

static void
defaults_listen(struct config_listen_list *l, const char *text)
{
	int n = listen_item(text, l->item);

	l->n = n > 0 ? (size_t)n : 0;
}

static void
defaults_dns(struct config *cfg)
{
	char text[8192];
	ssize_t n = -1;
	int fd = open("/etc/resolv.conf", O_RDONLY | O_CLOEXEC);

	if (fd != -1) {
		n = read(fd, text, sizeof(text));
		close(fd);
	}
	cfg->n_dns = n > 0 ? config_resolv_conf_parse(text, (size_t)n,
	    cfg->dns_servers, CONFIG_MAX_DNS) : 0;
	/* resolv.conf(5): with no nameserver line, the local one is used. */
	if (cfg->n_dns == 0 &&
	    config_parse_dns_server("127.0.0.1:53", &cfg->dns_servers[0]) == 0)
		cfg->n_dns = 1;
}

void
config_defaults(struct config *cfg)
{
	char host[256];

	memset(cfg, 0, sizeof(*cfg));
	if (gethostname(host, sizeof(host)) == -1 ||
	    memchr(host, '\0', sizeof(host)) == NULL || host[0] == '\0')
		(void)snprintf(host, sizeof(host), "localhost");
	cfg->hostname = xstrdup(host);
	str_lower(cfg->hostname);
	cfg->data_dir = xstrdup("/var/lib/sealpost");
	cfg->user = xstrdup("sealpost");
	defaults_listen(&cfg->listen_smtp, "*:25");
	defaults_listen(&cfg->listen_submission, "*:587");
	defaults_listen(&cfg->listen_submissions, "*:465");
	defaults_listen(&cfg->listen_pop3, "*:110");
	defaults_listen(&cfg->listen_pop3s, "*:995");
	cfg->max_message_size = 50ULL << 20;
	cfg->max_recipients = 100;
	cfg->max_errors = 10;
	/* RFC 5321 6.3 suggests refusing past about 100 Received fields;
	 * half that still passes any sane chain of relays. */
	cfg->max_hops = 50;
	cfg->list_rate_limit = 100;
	cfg->srs = true;
	cfg->max_sessions = 10000;
	cfg->max_sessions_per_ip = 50;
	cfg->max_line_length = 1000;
	cfg->auth_max_failures = 3;
	cfg->auth_cache_ttl = 300;
	cfg->workers = 0;
	defaults_dns(cfg);
	cfg->dns_timeout = 5;
	cfg->dns_retries = 2;
	cfg->dns_cache_size = 1000;
	cfg->sender_domain_check = true;
	cfg->spf_reject_fail = true;
	cfg->spf_reject_permerror = false;
	/* Debian's publicsuffix package; a missing file disables DMARC
	 * (policy/psl.h), it does not stop the server. */
	cfg->public_suffix_list =
	    xstrdup("/usr/share/publicsuffix/public_suffix_list.dat");
	cfg->dkim_verify = true;
	cfg->dmarc_enforce = true;
	cfg->dkim_sign = true;
	cfg->bare_newline = BARE_NEWLINE_REJECT;
	/* RFC 5321 4.5.3.2.7 (server timeout: 5 minutes) and 4.5.3.2.5
	 * (data block: 3 minutes). */
	cfg->timeout_command = 300;
	cfg->timeout_data_block = 180;
	cfg->timeout_tls_handshake = 10;
	cfg->timeout_shutdown = 30;
	cfg->pop3_autologout = 600;
	cfg->pop3_apop = false;
	cfg->pop3_require_tls = true;
	cfg->log_level = LOG_LVL_INFO;
	cfg->sandbox = true;
	cfg->tls_outbound = TLS_OUTBOUND_MAY;
	/* Roughly doubling, then hourly (issue 5); 5 days as is customary. */
	cfg->n_retry = (size_t)config_parse_schedule("5m,10m,20m,40m,1h",
	    cfg->queue_retry, CONFIG_MAX_RETRY);
	cfg->queue_max_lifetime = 5 * 86400;
	cfg->queue_scan_interval = 5;
	/*
	 * RFC 5321 4.5.3.2.1-6. The RFC sets no TCP connect timeout; a
	 * black-holed MX address must not cost the 5-minute greeting wait
	 * before the next address is tried (Postfix uses 30 s too).
	 */
	cfg->timeout_relay_connect = 30;
	cfg->timeout_relay_greeting = 300;
	cfg->timeout_relay_mail = 300;
	cfg->timeout_relay_rcpt = 300;
	cfg->timeout_relay_data = 120;
	cfg->timeout_relay_data_block = 180;
	cfg->timeout_relay_dot = 600;
	/* RFC 5321 5.1: MX hosts are reached on the SMTP port. */
	cfg->relay_mx_port = 25;
	cfg->relay_max_connections = 32;
	cfg->relay_max_per_domain = 20;
	cfg->relay_rate_per_domain = 0;
	cfg->queue_delay_notice = 4 * 3600;
}

void
config_free(struct config *cfg)
{
	char **strs[] = { &cfg->path, &cfg->hostname, &cfg->data_dir,
	    &cfg->user, &cfg->tls_cert, &cfg->tls_key,
	    &cfg->public_suffix_list, &cfg->relay_auth_user,
	    &cfg->relay_auth_password_file };

	for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++) {
		free(*strs[i]);
		*strs[i] = NULL;
	}
	for (size_t i = 0; i < cfg->n_domains; i++) {
		free(cfg->domains[i]);
		cfg->domains[i] = NULL;
	}
	cfg->n_domains = 0;
}

size_t
config_key_count(void)
{
	return N_KEYS;
}

const char *
config_key_name(size_t i)
{
	return i < N_KEYS ? keys[i].name : NULL;
}

/* --- one key -------------------------------------------------------- */

/*
 * Calls fn on each item of a list value (items separated by commas and/or
 * blanks). Returns the number of items that failed; fn reports them.
 */
typedef int (*item_fn)(struct parse_ctx *, unsigned, const struct key_def *,
    const char *, void *);

static int
each_item(struct parse_ctx *pc, unsigned line, const struct key_def *k,
    struct str_view v, item_fn fn, void *arg)
{
	int bad = 0;

	while (v.len > 0) {
		size_t n = 0;
		char item[ITEM_MAX + 1], e[80];

		while (v.len > 0 && (v.p[0] == ',' || v.p[0] == ' ' ||
		    v.p[0] == '\t')) {
			v.p++;
			v.len--;
		}
		while (n < v.len && v.p[n] != ',' && v.p[n] != ' ' &&
		    v.p[n] != '\t')
			n++;
		if (n == 0)
			break;
		if (str_copy(item, sizeof(item), str_view_make(v.p, n)) == -1) {
			perr(pc, line, "%s: item \"%s\" is too long or has a "
			    "NUL byte", k->name, esc(e, sizeof(e),
			    str_view_make(v.p, n)));
			bad++;
		} else if (fn(pc, line, k, item, arg) == -1)
			bad++;
		v.p += n;
		v.len -= n;
	}
	return bad;
}

struct domain_acc {
	size_t	 n;
	char	*d[CONFIG_MAX_DOMAINS];
};

static int
item_domain(struct parse_ctx *pc, unsigned line, const struct key_def *k,
    const char *item, void *arg)
{
	struct domain_acc *acc = arg;
	struct str_view v = config_drop_trailing_dot(str_view_from(item));
	char e[80];

	if (!config_domain_ok(v)) {
		perr(pc, line, "%s: \"%s\" is not a domain name", k->name,
		    esc(e, sizeof(e), v));
		return -1;
	}
	for (size_t i = 0; i < acc->n; i++)
		if (strncasecmp(acc->d[i], v.p, v.len) == 0 &&
		    acc->d[i][v.len] == '\0')
			return 0;	/* listed twice: harmless */
	if (acc->n == CONFIG_MAX_DOMAINS) {
		perr(pc, line, "%s: more than %d domains", k->name,
		    CONFIG_MAX_DOMAINS);
		return -1;
	}
	acc->d[acc->n] = xstrndup(v.p, v.len);
	str_lower(acc->d[acc->n++]);
	return 0;
}

static int
set_domains(struct parse_ctx *pc, unsigned line, const struct key_def *k,
    struct str_view v)
{
	struct domain_acc acc = { 0, { NULL } };
	struct config *cfg = pc->cfg;

	if (each_item(pc, line, k, v, item_domain, &acc) > 0) {
		for (size_t i = 0; i < acc.n; i++)
			free(acc.d[i]);
		return -1;
	}
	for (size_t i = 0; i < cfg->n_domains; i++)
		free(cfg->domains[i]);
	memcpy(cfg->domains, acc.d, acc.n * sizeof(acc.d[0]));
	cfg->n_domains = acc.n;
	return 0;
}

struct listen_acc {
	size_t			 n, max;
	struct config_listen	*item;
	bool			 is_dns;
};

static int
item_listen(struct parse_ctx *pc, unsigned line, const struct key_def *k,
    const char *item, void *arg)
{
	struct listen_acc *acc = arg;
	struct config_listen l[2];
	char e[80];
	int n;

	if (acc->is_dns)
		n = config_parse_dns_server(item, &l[0]) == 0 ? 1 : -1;
	else
		n = listen_item(item, l);
	if (n == -1) {
		perr(pc, line, "%s: bad address \"%s\" (expected %s)",
		    k->name, esc(e, sizeof(e), str_view_from(item)),
		    acc->is_dns ? "IP, IP:port or [IPv6]:port" :
		    "IPv4:port, [IPv6]:port or *:port, port 1-65535");
		return -1;
	}
	if (acc->n + (size_t)n > acc->max) {
		perr(pc, line, "%s: more than %zu addresses", k->name,
		    acc->max);
		return -1;
	}
	for (int i = 0; i < n; i++)
		acc->item[acc->n++] = l[i];
	return 0;
}

static int
set_listen(struct parse_ctx *pc, unsigned line, const struct key_def *k,
    struct str_view v)
{
	struct config_listen_list tmp, *dst = field(pc->cfg, k);
	struct listen_acc acc = { 0, CONFIG_MAX_LISTEN, tmp.item, false };

	if (each_item(pc, line, k, v, item_listen, &acc) > 0)
		return -1;
	tmp.n = acc.n;
	*dst = tmp;
	return 0;
}

static int
set_dns(struct parse_ctx *pc, unsigned line, const struct key_def *k,
    struct str_view v)
{
	struct config_listen tmp[CONFIG_MAX_DNS];
	struct listen_acc acc = { 0, CONFIG_MAX_DNS, tmp, true };

	if (each_item(pc, line, k, v, item_listen, &acc) > 0)
		return -1;
	if (acc.n == 0) {
		perr(pc, line, "%s: needs at least one server (leave the key "
		    "out to use /etc/resolv.conf)", k->name);
		return -1;
	}
	memcpy(pc->cfg->dns_servers, tmp, acc.n * sizeof(tmp[0]));
	pc->cfg->n_dns = acc.n;
	return 0;
}

struct net_acc {
	size_t			n;
	struct config_network	net[CONFIG_MAX_NETWORKS];
};

static int
item_network(struct parse_ctx *pc, unsigned line, const struct key_def *k,
    const char *item, void *arg)
{
	struct net_acc *acc = arg;
	char e[80];

	if (acc->n == CONFIG_MAX_NETWORKS) {
		perr(pc, line, "%s: more than %d networks", k->name,
		    CONFIG_MAX_NETWORKS);
		return -1;
	}
	if (config_parse_network(item, &acc->net[acc->n]) == -1) {
		perr(pc, line, "%s: bad network \"%s\" (expected ADDRESS/PREFIX "
		    "with no bits set past the prefix, e.g. 192.0.2.0/24)",
		    k->name, esc(e, sizeof(e), str_view_from(item)));
		return -1;
	}
	acc->n++;
	return 0;
}

static int
set_networks(struct parse_ctx *pc, unsigned line, const struct key_def *k,
    struct str_view v)
{
	static struct net_acc zero;
	struct net_acc acc = zero;

	if (each_item(pc, line, k, v, item_network, &acc) > 0)
		return -1;
	memcpy(pc->cfg->trusted_networks, acc.net, acc.n * sizeof(acc.net[0]));
	pc->cfg->n_trusted = acc.n;
	return 0;
}

static int
set_string(struct parse_ctx *pc, unsigned line, const struct key_def *k,
    struct str_view v)
{
	char **dst = field(pc->cfg, k), e[80];

	if (memchr(v.p, '\0', v.len) != NULL) {
		perr(pc, line, "%s: value has a NUL byte", k->name);
		return -1;
	}
	switch (k->kind) {
	case K_HOSTNAME:
		v = config_drop_trailing_dot(v);
		if (!config_domain_ok(v)) {
			perr(pc, line, "%s: \"%s\" is not a host name", k->name,
			    esc(e, sizeof(e), v));
			return -1;
		}
		break;
	case K_PATH:
		if (v.len > PATH_MAX || (v.len > 0 && v.p[0] != '/')) {
			perr(pc, line, "%s: \"%s\" is not an absolute path",
			    k->name, esc(e, sizeof(e), v));
			return -1;
		}
		break;
	case K_AUTH_USER:
		/* Sent inside AUTH PLAIN/LOGIN: printable, no blanks, and
		 * RFC 4616 allows at most 255 octets. */
		for (size_t i = 0; i < v.len; i++)
			if ((unsigned char)v.p[i] <= 0x20 || v.p[i] == 0x7f ||
			    v.len > 255) {
				perr(pc, line, "%s: \"%s\" is not a user name "
				    "(1-255 bytes, no blanks or control bytes)",
				    k->name, esc(e, sizeof(e), v));
				return -1;
			}
		break;
	case K_USER:
		for (size_t i = 0; i < v.len; i++) {
			char c = v.p[i];

			if (v.len > 32 || (i == 0 && c == '-') ||
			    !((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
			    || (c >= '0' && c <= '9') || c == '_' || c == '-'
			    || c == '.')) {
				perr(pc, line, "%s: \"%s\" is not a user name",
				    k->name, esc(e, sizeof(e), v));
				return -1;
			}
		}
		break;
	default:
		break;
	}
	free(*dst);
	/* An empty path means "not configured"; an empty user means "do
	 * not switch users". */
	if (v.len == 0 && (k->kind == K_PATH || k->kind == K_AUTH_USER))
		*dst = NULL;
	else
		*dst = xstrndup(v.p, v.len);
	if (k->kind == K_HOSTNAME)
		str_lower(*dst);
	return 0;
}

static int
set_number(struct parse_ctx *pc, unsigned line, const struct key_def *k,
    const char *text)
{
	uint64_t n = 0;
	unsigned u = 0;
	char e[80];
	const char *what = "a number";

	switch (k->kind) {
	case K_SIZE:
		what = "a size such as 50M, 512k, 1G or 1000";
		if (config_parse_size(text, &n) == -1)
			goto bad;
		break;
	case K_DURATION:
		what = "seconds, or a number with an s, m or h suffix";
		if (config_parse_duration(text, &u) == -1)
			goto bad;
		n = u;
		break;
	default:
		if (str_to_u64(str_view_from(text), &n, UINT32_MAX) == -1)
			goto bad;
		break;
	}
	if (n < k->min || n > k->max) {
		perr(pc, line, "%s: %s is out of range (%llu to %llu)%s",
		    k->name, esc(e, sizeof(e), str_view_from(text)),
		    (unsigned long long)k->min, (unsigned long long)k->max,
		    strcmp(k->name, "pop3_autologout") == 0 ?
		    "; RFC 1939 section 3 requires at least 10 minutes" :
		    strcmp(k->name, "max_line_length") == 0 ?
		    "; RFC 5321 4.5.3.1.4 allows 512-octet command lines" : "");
		return -1;
	}
	if (k->kind == K_SIZE)
		*(uint64_t *)field(pc->cfg, k) = n;
	else
		*(unsigned *)field(pc->cfg, k) = (unsigned)n;
	return 0;
bad:
	perr(pc, line, "%s: \"%s\" is not %s", k->name,
	    esc(e, sizeof(e), str_view_from(text)), what);
	return -1;
}

static int
set_enum(struct parse_ctx *pc, unsigned line, const struct key_def *k,
    const char *text)
{
	struct config *cfg = pc->cfg;
	enum log_level lvl;
	bool b;
	char e[80];

	switch (k->kind) {
	case K_BOOL:
		if (config_parse_bool(text, &b) == -1)
			break;
		*(bool *)field(cfg, k) = b;
		return 0;
	case K_BARE_NEWLINE:
		if (strcmp(text, "reject") == 0)
			cfg->bare_newline = BARE_NEWLINE_REJECT;
		else if (strcmp(text, "normalize") == 0)
			cfg->bare_newline = BARE_NEWLINE_NORMALIZE;
		else
			break;
		return 0;
	default:
		if (log_level_parse(text, &lvl) == -1)
			break;
		cfg->log_level = (int)lvl;
		return 0;
	}
	perr(pc, line, "%s: \"%s\" is not one of %s", k->name,
	    esc(e, sizeof(e), str_view_from(text)),
	    k->kind == K_BOOL ? "yes, no, true, false, on, off" :
	    k->kind == K_BARE_NEWLINE ? "reject, normalize" :
	    "error, warn, info, debug");
	return -1;
}

/*
 * The "domain=" half of a domain map item (transport, tls_policy): sets *d
 * to the lower-case-able domain without a trailing dot and returns what
 * follows the '=', or logs the error (shape names the value's form) and
 * returns NULL. allow_any admits "*" for every domain.
 */
static const char *
map_item_domain(struct parse_ctx *pc, unsigned line, const struct key_def *k,
    const char *item, const char *shape, bool allow_any, struct str_view *d)
{
	const char *eq = strchr(item, '=');
	char e[80];

	if (eq == NULL) {
		perr(pc, line, "%s: \"%s\" is not domain=%s", k->name,
		    esc(e, sizeof(e), str_view_from(item)), shape);
		return NULL;
	}
	*d = config_drop_trailing_dot(str_view_make(item, (size_t)(eq - item)));
	if (!(allow_any && d->len == 1 && d->p[0] == '*') &&
	    !config_domain_ok(*d)) {
		perr(pc, line, "%s: \"%s\" is not a domain name", k->name,
		    esc(e, sizeof(e), *d));
		return NULL;
	}
	return eq + 1;
}

static int
item_transport(struct parse_ctx *pc, unsigned line, const struct key_def *k,
    const char *item, void *arg)
{
	struct config *cfg = pc->cfg;
	struct config_route *r;
	const char *eq;
	struct str_view d;
	char e[80];

	(void)arg;
	if ((eq = map_item_domain(pc, line, k, item, "[address]:port", true,
	    &d)) == NULL)
		return -1;
	if (cfg->n_transport == CONFIG_MAX_TRANSPORT) {
		perr(pc, line, "%s: more than %d entries", k->name,
		    CONFIG_MAX_TRANSPORT);
		return -1;
	}
	r = &cfg->transport[cfg->n_transport];
	if (config_parse_route(eq, &r->hop) == -1) {
		perr(pc, line, "%s: \"%s\" is not a numeric [address]:port "
		    "(host names need the DNS resolver)", k->name,
		    esc(e, sizeof(e), str_view_from(eq)));
		return -1;
	}
	(void)str_copy(r->domain, sizeof(r->domain), d);
	str_lower(r->domain);
	cfg->n_transport++;
	return 0;
}

static int
tls_mode_parse(const char *text, enum config_tls_outbound *out)
{
	if (strcmp(text, "may") == 0)
		*out = TLS_OUTBOUND_MAY;
	else if (strcmp(text, "encrypt") == 0)
		*out = TLS_OUTBOUND_ENCRYPT;
	else if (strcmp(text, "verify") == 0)
		*out = TLS_OUTBOUND_VERIFY;
	else
		return -1;
	return 0;
}

static int
item_tls_policy(struct parse_ctx *pc, unsigned line, const struct key_def *k,
    const char *item, void *arg)
{
	struct config *cfg = pc->cfg;
	struct config_tls_policy *tp;
	const char *eq;
	struct str_view d;
	char e[80];

	(void)arg;
	if ((eq = map_item_domain(pc, line, k, item, "may|encrypt|verify",
	    false, &d)) == NULL)
		return -1;
	if (cfg->n_tls_policy == CONFIG_MAX_TLS_POLICY) {
		perr(pc, line, "%s: more than %d entries", k->name,
		    CONFIG_MAX_TLS_POLICY);
		return -1;
	}
	tp = &cfg->tls_policy[cfg->n_tls_policy];
	if (tls_mode_parse(eq, &tp->mode) == -1) {
		perr(pc, line, "%s: \"%s\" is not one of may, encrypt, verify",
		    k->name, esc(e, sizeof(e), str_view_from(eq)));
		return -1;
	}
	(void)str_copy(tp->domain, sizeof(tp->domain), d);
	str_lower(tp->domain);
	cfg->n_tls_policy++;
	return 0;
}

/* The outbound keys: tls_outbound, relay_host, transport, the schedule,
 * tls_policy. */
static int
set_relay(struct parse_ctx *pc, unsigned line, const struct key_def *k,
    struct str_view v)
{
	struct config *cfg = pc->cfg;
	char text[ITEM_MAX + 1], e[80];
	int n;

	if (k->kind == K_TLS_POLICY) {
		cfg->n_tls_policy = 0;
		return each_item(pc, line, k, v, item_tls_policy, NULL) > 0 ?
		    -1 : 0;
	}
	if (k->kind == K_TRANSPORT) {
		cfg->n_transport = 0;
		return each_item(pc, line, k, v, item_transport, NULL) > 0 ?
		    -1 : 0;
	}
	if (k->kind == K_ROUTE && v.len == 0) {
		cfg->has_relay_host = false;	/* empty: no smarthost */
		return 0;
	}
	if (str_copy(text, sizeof(text), v) == -1 || v.len == 0) {
		perr(pc, line, "%s: needs a value", k->name);
		return -1;
	}
	switch (k->kind) {
	case K_TLS_OUTBOUND:
		if (tls_mode_parse(text, &cfg->tls_outbound) == -1) {
			perr(pc, line, "%s: \"%s\" is not one of may, encrypt, "
			    "verify", k->name, esc(e, sizeof(e), v));
			return -1;
		}
		return 0;
	case K_ROUTE:
		if (config_parse_route(text, &cfg->relay_host.hop) == -1) {
			perr(pc, line, "%s: \"%s\" is not a numeric "
			    "[address]:port (host names need the DNS resolver)",
			    k->name, esc(e, sizeof(e), v));
			return -1;
		}
		cfg->relay_host.domain[0] = '\0';
		cfg->has_relay_host = true;
		return 0;
	default:
		if ((n = config_parse_schedule(text, cfg->queue_retry,
		    CONFIG_MAX_RETRY)) == -1) {
			perr(pc, line, "%s: \"%s\" is not a list of 1 to %d "
			    "non-zero durations", k->name, esc(e, sizeof(e), v),
			    CONFIG_MAX_RETRY);
			return -1;
		}
		cfg->n_retry = (size_t)n;
		return 0;
	}
}

static int
set_value(struct parse_ctx *pc, unsigned line, const struct key_def *k,
    struct str_view v)
{
	char text[ITEM_MAX + 1], e[80];

	switch (k->kind) {
	case K_DOMAINS:
		return set_domains(pc, line, k, v);
	case K_LISTEN:
		return set_listen(pc, line, k, v);
	case K_DNS:
		return set_dns(pc, line, k, v);
	case K_NETWORKS:
		return set_networks(pc, line, k, v);
	case K_HOSTNAME: case K_PATH: case K_USER: case K_AUTH_USER:
		return set_string(pc, line, k, v);
	case K_TLS_OUTBOUND: case K_ROUTE: case K_TRANSPORT: case K_SCHEDULE:
	case K_TLS_POLICY:
		return set_relay(pc, line, k, v);
	default:
		break;
	}
	if (v.len == 0) {
		perr(pc, line, "%s: needs a value", k->name);
		return -1;
	}
	if (str_copy(text, sizeof(text), v) == -1) {
		perr(pc, line, "%s: \"%s\" is not a valid value", k->name,
		    esc(e, sizeof(e), v));
		return -1;
	}
	if (k->kind == K_SIZE || k->kind == K_UINT || k->kind == K_DURATION)
		return set_number(pc, line, k, text);
	return set_enum(pc, line, k, text);
}

/* --- lines ---------------------------------------------------------- */

/* Cuts a trailing comment: '#' at the start or after a blank. */
static struct str_view
strip_comment(struct str_view v)
{
	for (size_t i = 0; i < v.len; i++)
		if (v.p[i] == '#' && (i == 0 || v.p[i - 1] == ' ' ||
		    v.p[i - 1] == '\t')) {
			v.len = i;
			break;
		}
	return str_trim(v);
}

static void
parse_line(struct parse_ctx *pc, unsigned line, struct str_view v)
{
	struct str_view key;
	char e[80];
	size_t i;

	if (v.len > 0 && v.p[v.len - 1] == '\r')
		v.len--;
	v = strip_comment(v);
	if (v.len == 0)
		return;
	key = str_trim(str_take_until(&v, '='));
	if (!str_take_char(&v, '=') || key.len == 0) {
		perr(pc, line, "expected \"key = value\", got \"%s\"",
		    esc(e, sizeof(e), key.len > 0 ? key : v));
		return;
	}
	for (i = 0; i < N_KEYS; i++)
		if (str_eq(key, keys[i].name))
			break;
	if (i == N_KEYS) {
		perr(pc, line, "unknown key \"%s\"", esc(e, sizeof(e), key));
		return;
	}
	if (pc->cfg->key_line[i] != 0) {
		perr(pc, line, "%s: duplicate key (first set on line %u)",
		    keys[i].name, pc->cfg->key_line[i]);
		return;
	}
	pc->cfg->key_line[i] = line;
	(void)set_value(pc, line, &keys[i], str_trim(v));
}

int
config_parse(struct config *cfg, const char *name, const char *text,
    size_t len, struct buf *errs)
{
	struct parse_ctx pc = { cfg, name, errs, 0 };
	struct str_view cur = str_view_make(text, len);
	unsigned line = 0;

	free(cfg->path);
	cfg->path = xstrdup(name);
	memset(cfg->key_line, 0, sizeof(cfg->key_line));
	if (len > CONFIG_MAX_FILE) {
		perr(&pc, 0, "file is larger than %d bytes", CONFIG_MAX_FILE);
		return pc.nerr;
	}
	/* Editors on some systems start UTF-8 files with a byte order mark;
	 * it is not part of the first key. */
	if (cur.len >= 3 && memcmp(cur.p, "\xef\xbb\xbf", 3) == 0) {
		cur.p += 3;
		cur.len -= 3;
	}
	while (cur.len > 0) {
		struct str_view l = str_take_until(&cur, '\n');

		(void)str_take_char(&cur, '\n');
		line++;
		if (l.len > CONFIG_MAX_LINE) {
			perr(&pc, line, "line longer than %d bytes",
			    CONFIG_MAX_LINE);
			continue;
		}
		parse_line(&pc, line, l);
	}
	return pc.nerr;
}

/* --- files ---------------------------------------------------------- */

static void
check_data_dir(struct parse_ctx *pc)
{
	struct config *cfg = pc->cfg;
	unsigned line = cfg->key_line[KI_DATA_DIR];
	struct stat st;

	if (cfg->data_dir == NULL) {
		perr(pc, line, "data_dir: not set");
		return;
	}
	if (stat(cfg->data_dir, &st) == -1)
		perr(pc, line, "data_dir: stat(%s): %s", cfg->data_dir,
		    strerror(errno));
	else if (!S_ISDIR(st.st_mode))
		perr(pc, line, "data_dir: %s is not a directory", cfg->data_dir);
	else if (access(cfg->data_dir, R_OK | X_OK) == -1)
		perr(pc, line, "data_dir: %s: %s", cfg->data_dir,
		    strerror(errno));
}

static void
ssl_err(char *out, size_t outsz)
{
	unsigned long e = ERR_get_error();

	if (e == 0)
		(void)snprintf(out, outsz, "unknown OpenSSL error");
	else
		ERR_error_string_n(e, out, outsz);
	ERR_clear_error();
}

static void
check_tls(struct parse_ctx *pc)
{
	struct config *cfg = pc->cfg;
	unsigned lc = cfg->key_line[KI_TLS_CERT], lk = cfg->key_line[KI_TLS_KEY];
	char e[256];
	SSL_CTX *ctx;

	if (cfg->tls_cert == NULL && cfg->tls_key == NULL) {
		if (cfg->listen_submissions.n > 0 || cfg->listen_pop3s.n > 0)
			perr(pc, 0, "tls_cert and tls_key are needed for "
			    "listen_submissions and listen_pop3s");
		return;
	}
	if (cfg->tls_cert == NULL || cfg->tls_key == NULL) {
		perr(pc, cfg->tls_cert == NULL ? lk : lc,
		    "tls_cert and tls_key must be set together");
		return;
	}
	if (access(cfg->tls_cert, R_OK) == -1) {
		perr(pc, lc, "tls_cert: %s: %s", cfg->tls_cert, strerror(errno));
		return;
	}
	if (access(cfg->tls_key, R_OK) == -1) {
		perr(pc, lk, "tls_key: %s: %s", cfg->tls_key, strerror(errno));
		return;
	}
	if ((ctx = SSL_CTX_new(TLS_server_method())) == NULL) {
		ssl_err(e, sizeof(e));
		perr(pc, lc, "SSL_CTX_new: %s", e);
		return;
	}
	if (SSL_CTX_use_certificate_chain_file(ctx, cfg->tls_cert) != 1) {
		ssl_err(e, sizeof(e));
		perr(pc, lc, "tls_cert: %s: %s", cfg->tls_cert, e);
	} else if (SSL_CTX_use_PrivateKey_file(ctx, cfg->tls_key,
	    SSL_FILETYPE_PEM) != 1) {
		ssl_err(e, sizeof(e));
		perr(pc, lk, "tls_key: %s: %s", cfg->tls_key, e);
	} else if (SSL_CTX_check_private_key(ctx) != 1) {
		ssl_err(e, sizeof(e));
		perr(pc, lk, "tls_key: %s does not match tls_cert %s: %s",
		    cfg->tls_key, cfg->tls_cert, e);
	}
	SSL_CTX_free(ctx);
}

/* The line a key was set on, found by name (keys added later than the
 * fixed KI_ indices). */
static unsigned
key_line_of(const struct config *cfg, const char *name)
{
	for (size_t i = 0; i < N_KEYS; i++)
		if (strcmp(keys[i].name, name) == 0)
			return cfg->key_line[i];
	return 0;
}

/*
 * Smarthost credentials: both keys or neither, and the secret file must be
 * a regular file nobody but its owner can read (the runner reads it again,
 * with the same check, at each AUTH).
 */
static void
check_relay_auth(struct parse_ctx *pc)
{
	struct config *cfg = pc->cfg;
	unsigned lu = key_line_of(cfg, "relay_auth_user");
	unsigned lp = key_line_of(cfg, "relay_auth_password_file");
	struct stat st;

	if (cfg->relay_auth_user == NULL && cfg->relay_auth_password_file ==
	    NULL)
		return;
	if (cfg->relay_auth_user == NULL || cfg->relay_auth_password_file ==
	    NULL) {
		perr(pc, cfg->relay_auth_user == NULL ? lp : lu,
		    "relay_auth_user and relay_auth_password_file must be set "
		    "together");
		return;
	}
	if (!cfg->has_relay_host)
		perr(pc, lu, "relay_auth_user: needs relay_host (credentials "
		    "are only ever sent to the smarthost)");
	if (stat(cfg->relay_auth_password_file, &st) == -1)
		perr(pc, lp, "relay_auth_password_file: stat(%s): %s",
		    cfg->relay_auth_password_file, strerror(errno));
	else if (!S_ISREG(st.st_mode))
		perr(pc, lp, "relay_auth_password_file: %s is not a regular "
		    "file", cfg->relay_auth_password_file);
	else if ((st.st_mode & 077) != 0)
		perr(pc, lp, "relay_auth_password_file: %s is readable or "
		    "writable by group or others (mode %04o; chmod 600)",
		    cfg->relay_auth_password_file,
		    (unsigned)(st.st_mode & 07777));
}

/* Reads at most CONFIG_MAX_FILE + 1 bytes so an oversized file is seen
 * as such without reading all of it. */
static char *
read_file(const char *path, size_t *lenp, int *errnop)
{
	char *text = xmalloc(CONFIG_MAX_FILE + 2);
	size_t len = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd == -1) {
		*errnop = errno;
		free(text);
		return NULL;
	}
	while (len < CONFIG_MAX_FILE + 1) {
		ssize_t n = read(fd, text + len, CONFIG_MAX_FILE + 1 - len);

		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			*errnop = errno;
			close(fd);
			free(text);
			return NULL;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	text[len] = '\0';
	*lenp = len;
	return text;
}

int
config_load(struct config *cfg, const char *path, bool check_files,
    struct buf *errs)
{
	struct parse_ctx pc = { cfg, path, errs, 0 };
	size_t len;
	int err = 0;
	char *text = read_file(path, &len, &err);

	if (text == NULL) {
		free(cfg->path);
		cfg->path = xstrdup(path);
		perr(&pc, 0, "%s", strerror(err));
		return pc.nerr;
	}
	pc.nerr = config_parse(cfg, path, text, len, errs);
	free(text);
	if (check_files) {
		check_data_dir(&pc);
		check_tls(&pc);
		check_relay_auth(&pc);
	}
	return pc.nerr;
}

/* --- lookups -------------------------------------------------------- */

bool
config_is_local_domain(const struct config *cfg, const char *domain)
{
	struct str_view d = config_drop_trailing_dot(str_view_from(domain));

	for (size_t i = 0; i < cfg->n_domains; i++)
		if (str_case_eq(d, cfg->domains[i]))
			return true;
	return false;
}

static bool
prefix_match(const unsigned char *a, const unsigned char *net, unsigned bits)
{
	unsigned whole = bits / 8, rest = bits % 8;

	if (memcmp(a, net, whole) != 0)
		return false;
	if (rest == 0)
		return true;
	return ((a[whole] ^ net[whole]) & (0xff << (8 - rest))) == 0;
}

bool
config_is_trusted(const struct config *cfg, const struct sockaddr *sa)
{
	static const unsigned char mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	    0xff, 0xff };
	unsigned char v4[4], v6[16];
	bool has_v4 = false, has_v6 = false;

	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;

		memcpy(v4, &sin->sin_addr, 4);
		memcpy(v6, mapped, 12);
		memcpy(v6 + 12, v4, 4);
		has_v4 = has_v6 = true;
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 =
		    (const struct sockaddr_in6 *)sa;

		memcpy(v6, &sin6->sin6_addr, 16);
		has_v6 = true;
		/* A dual-stack listener sees IPv4 peers as ::ffff:a.b.c.d;
		 * they must match the IPv4 networks they came from. */
		if (memcmp(v6, mapped, 12) == 0) {
			memcpy(v4, v6 + 12, 4);
			has_v4 = true;
		}
	}
	for (size_t i = 0; i < cfg->n_trusted; i++) {
		const struct config_network *n = &cfg->trusted_networks[i];

		if (n->family == AF_INET && has_v4 &&
		    prefix_match(v4, n->addr, n->prefix))
			return true;
		if (n->family == AF_INET6 && has_v6 &&
		    prefix_match(v6, n->addr, n->prefix))
			return true;
	}
	return false;
}
