/*
 * The one configuration file: flat `key = value` lines, `#` comments,
 * lists separated by commas and/or spaces. Every key is documented, with
 * its default, in docs/config.md. Loading never exits: it collects every
 * problem as "FILE:LINE: message" so `sealpostd -t` can print them all.
 */
#ifndef SEALPOST_CORE_CONFIG_H
#define SEALPOST_CORE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define CONFIG_MAX_LISTEN	16
#define CONFIG_MAX_DOMAINS	256
#define CONFIG_MAX_NETWORKS	64
#define CONFIG_MAX_DNS		8

struct config_listen {
	struct sockaddr_storage	addr;
	socklen_t		addrlen;
	char			text[64];	/* as written, e.g. "[::1]:25" */
};

struct config_listen_list {
	size_t			n;
	struct config_listen	item[CONFIG_MAX_LISTEN];
};

/* An address prefix, e.g. 192.0.2.0/24 or 2001:db8::/32. */
struct config_network {
	int		family;		/* AF_INET or AF_INET6 */
	unsigned char	addr[16];
	unsigned	prefix;
};

enum config_bare_newline { BARE_NEWLINE_REJECT, BARE_NEWLINE_NORMALIZE };

struct config {
	char	*path;			/* the file this was read from */
	char	*hostname;		/* default: gethostname() */
	size_t	 n_domains;
	char	*domains[CONFIG_MAX_DOMAINS];	/* lower-cased */
	char	*data_dir;		/* absolute; default /var/lib/sealpost */
	char	*user;			/* default "sealpost"; used only when root */

	struct config_listen_list	listen_smtp;		/* default [::]:25? see docs */
	struct config_listen_list	listen_submission;
	struct config_listen_list	listen_submissions;
	struct config_listen_list	listen_pop3;
	struct config_listen_list	listen_pop3s;

	char	*tls_cert;
	char	*tls_key;

	uint64_t	max_message_size;	/* bytes, default 50M */
	unsigned	max_recipients;		/* default 100 */
	unsigned	max_errors;		/* per session, default 10 */
	unsigned	max_sessions;		/* per worker process... see docs; default 10000 */
	unsigned	max_sessions_per_ip;	/* default 50 */
	unsigned	max_line_length;	/* SMTP command line, default 1000 */
	unsigned	auth_max_failures;	/* per session before close, default 3 */
	unsigned	workers;		/* 0 = one per core */

	size_t			n_trusted;
	struct config_network	trusted_networks[CONFIG_MAX_NETWORKS];

	size_t			n_dns;
	struct config_listen	dns_servers[CONFIG_MAX_DNS];	/* host:port */

	enum config_bare_newline	bare_newline;

	/* Timeouts in seconds (RFC 5321 4.5.3.2 server-side values by default). */
	unsigned	timeout_command;	/* 300 */
	unsigned	timeout_data_block;	/* 180 */
	unsigned	timeout_tls_handshake;	/* 10 */
	unsigned	timeout_shutdown;	/* 30: SIGTERM drain deadline */
	unsigned	pop3_autologout;	/* 600, never below 600 */

	bool		pop3_apop;		/* default false */
	int		log_level;		/* enum log_level */
};

/* Fills every field with its documented default. */
void	config_defaults(struct config *);
/*
 * Reads path over the defaults in cfg. Each problem is appended to errs as
 * a "FILE:LINE: message" line (errs may be NULL). Returns the number of
 * problems (0 = usable). check_files also verifies that tls_cert/tls_key
 * load as a matching pair and that data_dir is a readable directory.
 */
struct buf;
int	config_load(struct config *cfg, const char *path, bool check_files,
	    struct buf *errs);
void	config_free(struct config *);

/* True when domain (any case) is one of cfg->domains. */
bool	config_is_local_domain(const struct config *, const char *domain);
/* True when the address is inside one of trusted_networks. */
bool	config_is_trusted(const struct config *, const struct sockaddr *);
/* Parses "1.2.3.4:25", "[::1]:25", "*:25" (all IPv4+IPv6 is "[::]:25"). */
int	config_parse_listen(const char *text, struct config_listen *out);
/* Parses "50M", "10k", "1G", "1000" into bytes. */
int	config_parse_size(const char *text, uint64_t *out);

#endif
