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
#define CONFIG_MAX_LINE		4096	/* bytes per line, newline excluded */
#define CONFIG_MAX_FILE		(1024 * 1024)
#define CONFIG_MAX_KEYS	128	/* room for every key's line number */
#define CONFIG_MAX_TRANSPORT	64	/* transport map entries */
#define CONFIG_MAX_RETRY	16	/* queue_retry_schedule steps */
#define CONFIG_MAX_TLS_POLICY	64	/* tls_policy map entries */

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

/* Outbound STARTTLS policy (docs/outbound.md). */
enum config_tls_outbound {
	TLS_OUTBOUND_MAY,	/* STARTTLS when offered, any certificate */
	TLS_OUTBOUND_ENCRYPT,	/* STARTTLS required, any certificate */
	TLS_OUTBOUND_VERIFY	/* STARTTLS required, CA-verified, name checked */
};

/* A tls_policy entry: the STARTTLS policy for one destination domain. */
struct config_tls_policy {
	char				domain[256];	/* lower-cased */
	enum config_tls_outbound	mode;
};

/* One outbound route: a fixed next hop for a domain ("*" = any). */
struct config_route {
	char			domain[256];	/* lower-cased; "" for relay_host */
	struct config_listen	hop;		/* numeric address and port */
};

struct config {
	char	*path;			/* the file this was read from */
	char	*hostname;		/* default: gethostname() */
	size_t	 n_domains;
	char	*domains[CONFIG_MAX_DOMAINS];	/* lower-cased */
	char	*data_dir;		/* absolute; default /var/lib/sealpost */
	char	*user;			/* default "sealpost"; used only when root;
					   "" = keep the invoking user */

	struct config_listen_list	listen_smtp;		/* default *:25 = 0.0.0.0:25 + [::]:25 */
	struct config_listen_list	listen_submission;
	struct config_listen_list	listen_submissions;
	struct config_listen_list	listen_pop3;
	struct config_listen_list	listen_pop3s;

	char	*tls_cert;			/* NULL = none configured */
	char	*tls_key;

	uint64_t	max_message_size;	/* bytes, default 50M */
	unsigned	max_recipients;		/* default 100 */
	unsigned	max_errors;		/* per session, default 10 */
	unsigned	max_hops;		/* Received fields, default 50 */
	unsigned	list_rate_limit;	/* per (sender, alias) per hour;
						   default 100, 0 = off */
	bool		srs;			/* SRS for forwards, default on */
	unsigned	max_sessions;		/* all workers together; default 10000 */
	unsigned	max_sessions_per_ip;	/* default 50 */
	unsigned	max_line_length;	/* SMTP command line, default 1000 */
	unsigned	auth_max_failures;	/* per session before close, default 3 */
	unsigned	auth_cache_ttl;		/* seconds, 0 = off; default 300 */
	unsigned	workers;		/* 0 = one per core */

	size_t			n_trusted;
	struct config_network	trusted_networks[CONFIG_MAX_NETWORKS];

	size_t			n_dns;
	struct config_listen	dns_servers[CONFIG_MAX_DNS];	/* host:port */
	unsigned		dns_timeout;	/* seconds per try, default 5 */
	unsigned		dns_retries;	/* tries after the first, default 2 */
	unsigned		dns_cache_size;	/* answers per process, 0 = off */
	bool			sender_domain_check;	/* default true */
	bool			spf_reject_fail;	/* default true: 550 5.7.23 */
	bool			spf_reject_permerror;	/* default false */
	/* The Public Suffix List file for DMARC (default Debian's
	 * publicsuffix path); NULL = DMARC off. */
	char			*public_suffix_list;
	bool			dkim_verify;	/* default true */
	bool			dmarc_enforce;	/* default true: p= acted on */
	bool			dkim_sign;	/* default true: submission */

	enum config_bare_newline	bare_newline;

	/* Timeouts in seconds (RFC 5321 4.5.3.2 server-side values by default). */
	unsigned	timeout_command;	/* 300 */
	unsigned	timeout_data_block;	/* 180 */
	unsigned	timeout_tls_handshake;	/* 10 */
	unsigned	timeout_shutdown;	/* 30: SIGTERM drain deadline */
	unsigned	pop3_autologout;	/* 600, never below 600 */

	/* Outbound relay (docs/outbound.md). */
	enum config_tls_outbound	tls_outbound;	/* default may */
	bool			has_relay_host;
	struct config_route	relay_host;		/* smarthost, if set */
	size_t			n_transport;
	struct config_route	transport[CONFIG_MAX_TRANSPORT];
	size_t			n_tls_policy;
	struct config_tls_policy	tls_policy[CONFIG_MAX_TLS_POLICY];
	char			*relay_auth_user;	/* NULL = no AUTH */
	char			*relay_auth_password_file;	/* NULL = none */
	size_t			n_retry;		/* >= 1 */
	unsigned		queue_retry[CONFIG_MAX_RETRY];	/* seconds */
	unsigned		queue_max_lifetime;	/* 5 days */
	unsigned		queue_scan_interval;	/* 5 s */
	/* RFC 5321 4.5.3.2 client timeouts, seconds. */
	unsigned		timeout_relay_connect;	/* 30: TCP connect */
	unsigned		timeout_relay_greeting;	/* 300 */
	unsigned		timeout_relay_mail;	/* 300 (also EHLO, STARTTLS) */
	unsigned		timeout_relay_rcpt;	/* 300 */
	unsigned		timeout_relay_data;	/* 120: DATA initiation */
	unsigned		timeout_relay_data_block;	/* 180 */
	unsigned		timeout_relay_dot;	/* 600: final reply */
	unsigned		relay_mx_port;		/* 25: port of MX hosts */
	unsigned		relay_max_connections;	/* 32 at once */
	unsigned		relay_max_per_domain;	/* 20 per domain */
	unsigned		relay_rate_per_domain;	/* msgs/min, 0 = any */
	unsigned		queue_delay_notice;	/* 4h; 0 = none */

	bool		pop3_apop;		/* default false */
	bool		pop3_require_tls;	/* default true: no login before STLS */
	int		log_level;		/* enum log_level */
	/* Landlock + seccomp in workers and the queue runner; default true. */
	bool		sandbox;

	/* Line where each key was set (0 = default), indexed like the key table. */
	unsigned	key_line[CONFIG_MAX_KEYS];
};

/*
 * Fills every field with its documented default (reads /etc/resolv.conf for
 * dns_servers and gethostname() for hostname). Strings are allocated:
 * config_free() releases them.
 */
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
/*
 * The parser behind config_load, without I/O: parses len bytes of text as
 * the file called name (used in messages). Same contract as config_load
 * with check_files false.
 */
int	config_parse(struct config *cfg, const char *name, const char *text,
	    size_t len, struct buf *errs);
/*
 * The keys, in the order of cfg->key_line: config_key_name(i) for i below
 * config_key_count() is a static string; NULL past the end.
 */
size_t	config_key_count(void);
const char	*config_key_name(size_t i);
/* Frees every string of cfg and NULLs it; the struct itself is the caller's. */
void	config_free(struct config *);

/*
 * True when name is a host or domain name the config accepts: LDH labels of
 * 1-63 octets, 253 in all, one trailing dot tolerated (RFC 1035 2.3.1).
 */
bool	config_is_domain_name(const char *name);
/* True when domain (any case) is one of cfg->domains. */
bool	config_is_local_domain(const struct config *, const char *domain);
/* True when the address is inside one of trusted_networks. */
bool	config_is_trusted(const struct config *, const struct sockaddr *);
/*
 * Parses "1.2.3.4:25", "[::1]:25" or "*:25" (here the same as "[::]:25";
 * in a listen_* key "*:25" becomes two entries, "0.0.0.0:25" and
 * "[::]:25", as IPv6 listeners are bound IPV6_V6ONLY). Numeric addresses
 * only; port 1-65535. Returns 0, or -1 (out unspecified).
 */
int	config_parse_listen(const char *text, struct config_listen *out);
/*
 * Parses "50M", "10k", "1G", "1000" into bytes: binary multiples (k = 1024),
 * suffix case-insensitive. Returns 0, or -1 for bad syntax or overflow.
 */
int	config_parse_size(const char *text, uint64_t *out);
/* Parses "90", "90s", "5m", "2h" into seconds (at most 2^32-1). 0 or -1. */
int	config_parse_duration(const char *text, unsigned *out);
/* Parses yes/no/true/false/on/off (any case). 0 or -1. */
int	config_parse_bool(const char *text, bool *out);
/*
 * Parses "192.0.2.0/24", "2001:db8::/32" or a bare address (a /32 or /128).
 * Bits set past the prefix are an error (a typo more often than not).
 * Returns 0, or -1 (out unspecified).
 */
int	config_parse_network(const char *text, struct config_network *out);
/*
 * Parses a DNS server "192.0.2.1", "192.0.2.1:5353", "[2001:db8::1]:53" or
 * "2001:db8::1"; the port defaults to 53. 0 or -1.
 */
int	config_parse_dns_server(const char *text, struct config_listen *out);
/*
 * Parses a next hop "[192.0.2.1]:2525", "192.0.2.1:2525", "[::1]:25" or
 * "[192.0.2.1]" (port 25). Numeric addresses only (the brackets mean: no
 * MX lookup, RFC 5321 4.1.3). 0 or -1 (out unspecified).
 */
int	config_parse_route(const char *text, struct config_listen *out);
/*
 * Parses a retry schedule "5m,10m,20m,40m,1h" (commas and/or blanks) into
 * at most max durations; the last one repeats. Returns the count (>= 1),
 * or -1 for a bad item, too many, or none.
 */
int	config_parse_schedule(const char *text, unsigned *out, size_t max);
/*
 * The route for a recipient domain: an exact transport entry, else the
 * transport entry "*", else relay_host; NULL when there is none.
 */
const struct config_route	*config_route_find(const struct config *,
				    const char *domain);

/*
 * The STARTTLS policy for a destination domain (any case, one trailing dot
 * ignored): its tls_policy entry, else tls_outbound. Never NULL; points
 * into cfg (valid while cfg is).
 */
const enum config_tls_outbound	*config_tls_policy_find(
				    const struct config *, const char *domain);

/*
 * Collects up to max "nameserver" addresses (port 53) from the text of a
 * resolv.conf(5) file; no I/O. Returns how many were stored.
 */
size_t	config_resolv_conf_parse(const char *text, size_t len,
	    struct config_listen *out, size_t max);

#endif
