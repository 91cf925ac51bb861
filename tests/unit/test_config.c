/* Unit tests for core/config: every key, every kind of error with its line,
 * the value syntaxes, trust checks and the file checks of config_load. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "core/buf.h"
#include "core/config.h"
#include "core/log.h"
#include "net/tls_cert.h"

/* Parses text as "t.conf" over the defaults; errs holds the messages. */
static int
parse(struct config *cfg, struct buf *errs, const char *text)
{
	config_defaults(cfg);
	buf_init(errs, 64 * 1024);
	return config_parse(cfg, "t.conf", text, strlen(text), errs);
}

static void
done(struct config *cfg, struct buf *errs)
{
	config_free(cfg);
	buf_cleanup(errs);
}

static const char *
errtext(const struct buf *errs)
{
	return errs->data != NULL ? errs->data : "";
}

static void
test_config_defaults(void **state)
{
	struct config c;

	(void)state;
	config_defaults(&c);
	assert_non_null(c.hostname);
	assert_string_equal(c.data_dir, "/var/lib/sealpost");
	assert_string_equal(c.user, "sealpost");
	assert_int_equal(c.n_domains, 0);
	/* "*" is both families: two sockets. */
	assert_int_equal(c.listen_smtp.n, 2);
	assert_string_equal(c.listen_smtp.item[0].text, "0.0.0.0:25");
	assert_int_equal(c.listen_smtp.item[0].addr.ss_family, AF_INET);
	assert_string_equal(c.listen_smtp.item[1].text, "[::]:25");
	assert_int_equal(c.listen_smtp.item[1].addr.ss_family, AF_INET6);
	assert_string_equal(c.listen_pop3s.item[1].text, "[::]:995");
	assert_null(c.tls_cert);
	assert_null(c.tls_key);
	assert_int_equal(c.max_message_size, 50 * 1024 * 1024);
	assert_int_equal(c.max_recipients, 100);
	assert_int_equal(c.max_errors, 10);
	assert_int_equal(c.max_hops, 50);
	assert_int_equal(c.list_rate_limit, 100);
	assert_true(c.srs);
	assert_int_equal(c.max_sessions, 10000);
	assert_int_equal(c.max_sessions_per_ip, 50);
	assert_int_equal(c.max_line_length, 1000);
	assert_int_equal(c.auth_max_failures, 3);
	assert_int_equal(c.auth_cache_ttl, 300);
	assert_int_equal(c.workers, 0);
	assert_int_equal(c.n_trusted, 0);
	assert_true(c.n_dns >= 1);
	assert_int_equal(c.bare_newline, BARE_NEWLINE_REJECT);
	assert_int_equal(c.timeout_command, 300);
	assert_int_equal(c.timeout_data_block, 180);
	assert_int_equal(c.timeout_tls_handshake, 10);
	assert_int_equal(c.timeout_shutdown, 30);
	assert_int_equal(c.pop3_autologout, 600);
	assert_false(c.pop3_apop);
	assert_true(c.pop3_require_tls);
	assert_int_equal(c.log_level, LOG_LVL_INFO);
	assert_true(c.sandbox);
	config_free(&c);
	assert_null(c.hostname);
	assert_null(c.data_dir);
}

static size_t
count_lines(const char *text)
{
	size_t n = 0;

	for (; *text != '\0'; text++)
		n += *text == '\n';
	return n;
}

static const char every_key[] =
    "hostname = MX.Example.ORG.\n"
    "domains = example.org, Example.NET example.com,example.org\n"
    "data_dir = /srv/mail\n"
    "user = _sealpost\n"
    "listen_smtp = 192.0.2.1:25, [2001:db8::1]:25\n"
    "listen_submission = *:587\n"
    "listen_submissions = 127.0.0.1:465\n"
    "listen_pop3 =\n"
    "listen_pop3s = [::1]:995\n"
    "tls_cert = /etc/ssl/c.pem\n"
    "tls_key = /etc/ssl/k.pem\n"
    "max_message_size = 10M\n"
    "max_recipients = 500\n"
    "max_errors = 5\n"
    "max_hops = 30\n"
    "list_rate_limit = 0\n"
    "srs = no\n"
    "max_sessions = 200\n"
    "max_sessions_per_ip = 7\n"
    "max_line_length = 2048\n"
    "auth_max_failures = 2\n"
    "auth_cache_ttl = 0\n"
    "workers = 4\n"
    "trusted_networks = 10.0.0.0/8 2001:db8::/32, 192.0.2.7\n"
    "dns_servers = 127.0.0.1:5353, [::1]:53 192.0.2.53\n"
    "bare_newline = normalize\n"
    "timeout_command = 5m\n"
    "timeout_data_block = 2m\n"
    "timeout_tls_handshake = 30s\n"
    "timeout_shutdown = 1h\n"
    "pop3_autologout = 900\n"
    "pop3_apop = yes\n"
    "pop3_require_tls = no\n"
    "log_level = debug\n"
    "tls_outbound = verify\n"
    "relay_host = [192.0.2.25]:587\n"
    "transport = example.net=[127.0.0.1]:2525, *=[::1]\n"
    "queue_retry_schedule = 1s 2s,1m\n"
    "queue_max_lifetime = 2h\n"
    "queue_scan_interval = 1\n"
    "timeout_relay_connect = 45s\n"
    "timeout_relay_greeting = 1m\n"
    "timeout_relay_mail = 2m\n"
    "timeout_relay_rcpt = 3m\n"
    "timeout_relay_data = 4m\n"
    "timeout_relay_data_block = 5m\n"
    "timeout_relay_dot = 6m\n"
    "dns_timeout = 3s\n"
    "dns_retries = 0\n"
    "dns_cache_size = 50\n"
    "sender_domain_check = no\n"
    "spf_reject_fail = off\n"
    "spf_reject_permerror = yes\n"
    "public_suffix_list = /srv/psl.dat\n"
    "dkim_verify = no\n"
    "dmarc_enforce = no\n"
    "dkim_sign = no\n"
    "tls_policy = Example.ORG.=encrypt, legacy.example=may\n"
    "relay_auth_user = relay@example.org\n"
    "relay_auth_password_file = /etc/sealpost/relay.secret\n"
    "sandbox = no\n"
    "relay_mx_port = 2525\n"
    "relay_max_connections = 7\n"
    "relay_max_per_domain = 3\n"
    "relay_rate_per_domain = 60\n"
    "queue_delay_notice = 30m\n";

static void
test_config_every_key_parsed(void **state)
{
	struct config c;
	struct buf e;

	(void)state;
	assert_int_equal(parse(&c, &e, every_key), 0);
	assert_string_equal(c.path, "t.conf");
	assert_string_equal(c.hostname, "mx.example.org");
	assert_int_equal(c.n_domains, 3);
	assert_string_equal(c.domains[0], "example.org");
	assert_string_equal(c.domains[1], "example.net");
	assert_string_equal(c.domains[2], "example.com");
	assert_string_equal(c.data_dir, "/srv/mail");
	assert_string_equal(c.user, "_sealpost");
	assert_int_equal(c.listen_smtp.n, 2);
	assert_int_equal(c.listen_smtp.item[0].addr.ss_family, AF_INET);
	assert_int_equal(c.listen_smtp.item[1].addr.ss_family, AF_INET6);
	assert_string_equal(c.listen_smtp.item[1].text, "[2001:db8::1]:25");
	assert_int_equal(c.listen_submission.n, 2);	/* *:587 */
	assert_string_equal(c.listen_submission.item[0].text, "0.0.0.0:587");
	assert_int_equal(c.listen_submissions.n, 1);
	assert_int_equal(c.listen_pop3.n, 0);
	assert_int_equal(c.listen_pop3s.n, 1);
	assert_string_equal(c.tls_cert, "/etc/ssl/c.pem");
	assert_string_equal(c.tls_key, "/etc/ssl/k.pem");
	assert_int_equal(c.max_message_size, 10 * 1024 * 1024);
	assert_int_equal(c.max_recipients, 500);
	assert_int_equal(c.max_errors, 5);
	assert_int_equal(c.max_hops, 30);
	assert_int_equal(c.list_rate_limit, 0);
	assert_false(c.srs);
	assert_int_equal(c.max_sessions, 200);
	assert_int_equal(c.max_sessions_per_ip, 7);
	assert_int_equal(c.max_line_length, 2048);
	assert_int_equal(c.auth_max_failures, 2);
	assert_int_equal(c.auth_cache_ttl, 0);
	assert_int_equal(c.workers, 4);
	assert_int_equal(c.n_trusted, 3);
	assert_int_equal(c.trusted_networks[1].family, AF_INET6);
	assert_int_equal(c.trusted_networks[1].prefix, 32);
	assert_int_equal(c.trusted_networks[2].prefix, 32);
	assert_int_equal(c.n_dns, 3);
	assert_string_equal(c.dns_servers[0].text, "127.0.0.1:5353");
	assert_int_equal(ntohs(((struct sockaddr_in *)&c.dns_servers[0].addr)
	    ->sin_port), 5353);
	assert_int_equal(ntohs(((struct sockaddr_in *)&c.dns_servers[2].addr)
	    ->sin_port), 53);
	assert_int_equal(c.bare_newline, BARE_NEWLINE_NORMALIZE);
	assert_int_equal(c.timeout_command, 300);
	assert_int_equal(c.timeout_data_block, 120);
	assert_int_equal(c.timeout_tls_handshake, 30);
	assert_int_equal(c.timeout_shutdown, 3600);
	assert_int_equal(c.pop3_autologout, 900);
	assert_true(c.pop3_apop);
	assert_false(c.pop3_require_tls);
	assert_int_equal(c.log_level, LOG_LVL_DEBUG);
	assert_int_equal(c.dns_timeout, 3);
	assert_int_equal(c.dns_retries, 0);
	assert_int_equal(c.dns_cache_size, 50);
	assert_false(c.sender_domain_check);
	assert_false(c.spf_reject_fail);
	assert_true(c.spf_reject_permerror);
	assert_string_equal(c.public_suffix_list, "/srv/psl.dat");
	assert_false(c.dkim_verify);
	assert_false(c.dmarc_enforce);
	assert_false(c.dkim_sign);
	assert_false(c.sandbox);
	/* every_key sets each key once, on the line of its table index. */
	assert_int_equal(c.tls_outbound, TLS_OUTBOUND_VERIFY);
	assert_true(c.has_relay_host);
	assert_string_equal(c.relay_host.hop.text, "[192.0.2.25]:587");
	assert_int_equal(c.relay_host.hop.addr.ss_family, AF_INET);
	assert_int_equal(c.n_transport, 2);
	assert_string_equal(c.transport[0].domain, "example.net");
	assert_int_equal(ntohs(((struct sockaddr_in *)&c.transport[0].hop.addr)
	    ->sin_port), 2525);
	assert_int_equal(c.transport[1].hop.addr.ss_family, AF_INET6);
	assert_int_equal(ntohs(((struct sockaddr_in6 *)&c.transport[1].hop.addr)
	    ->sin6_port), 25);
	assert_ptr_equal(config_route_find(&c, "EXAMPLE.net"), &c.transport[0]);
	assert_ptr_equal(config_route_find(&c, "other.org"), &c.transport[1]);
	assert_int_equal(c.n_retry, 3);
	assert_int_equal(c.queue_retry[0], 1);
	assert_int_equal(c.queue_retry[2], 60);
	assert_int_equal(c.queue_max_lifetime, 7200);
	assert_int_equal(c.queue_scan_interval, 1);
	assert_int_equal(c.timeout_relay_connect, 45);
	assert_int_equal(c.timeout_relay_greeting, 60);
	assert_int_equal(c.timeout_relay_mail, 120);
	assert_int_equal(c.timeout_relay_rcpt, 180);
	assert_int_equal(c.timeout_relay_data, 240);
	assert_int_equal(c.timeout_relay_data_block, 300);
	assert_int_equal(c.timeout_relay_dot, 360);
	assert_int_equal(c.n_tls_policy, 2);
	assert_string_equal(c.tls_policy[0].domain, "example.org");
	assert_int_equal(*config_tls_policy_find(&c, "EXAMPLE.org."),
	    TLS_OUTBOUND_ENCRYPT);
	assert_int_equal(*config_tls_policy_find(&c, "legacy.example"),
	    TLS_OUTBOUND_MAY);
	assert_ptr_equal(config_tls_policy_find(&c, "sub.example.org"),
	    &c.tls_outbound);
	assert_string_equal(c.relay_auth_user, "relay@example.org");
	assert_string_equal(c.relay_auth_password_file,
	    "/etc/sealpost/relay.secret");
	assert_int_equal(c.relay_mx_port, 2525);
	assert_int_equal(c.relay_max_connections, 7);
	assert_int_equal(c.relay_max_per_domain, 3);
	assert_int_equal(c.relay_rate_per_domain, 60);
	assert_int_equal(c.queue_delay_notice, 1800);
	/* every_key sets each key once, one per line, in table order */
	assert_int_equal(config_key_count(), count_lines(every_key));
	for (size_t i = 0; i < config_key_count(); i++)
		assert_int_equal(c.key_line[i], i + 1);
	assert_null(config_key_name(config_key_count()));
	done(&c, &e);
}

/* One bad line each: the message must carry the line and mention this. */
static const struct {
	const char	*text;
	const char	*want;
} bad_cases[] = {
	{ "\n\nnosuchkey = 1\n", "t.conf:3: unknown key \"nosuchkey\"" },
	{ "workers = 1\nworkers = 2\n",
	    "t.conf:2: workers: duplicate key (first set on line 1)" },
	{ "# c\njust words\n", "t.conf:2: expected \"key = value\"" },
	{ "= 5\n", "t.conf:1: expected \"key = value\"" },
	{ "max_recipients = many\n", "t.conf:1: max_recipients: \"many\" is not" },
	{ "max_recipients = -1\n", "t.conf:1: max_recipients:" },
	{ "max_recipients =\n", "t.conf:1: max_recipients: needs a value" },
	{ "workers = 99999999999999999999\n", "t.conf:1: workers:" },
	{ "max_line_length = 511\n", "t.conf:1: max_line_length: 511 is out "
	    "of range" },
	{ "pop3_autologout = 599\n", "RFC 1939 section 3" },
	{ "pop3_autologout = 9m\n", "t.conf:1: pop3_autologout" },
	{ "max_message_size = 50X\n", "t.conf:1: max_message_size: \"50X\"" },
	{ "max_message_size = 0\n", "out of range" },
	{ "timeout_command = 5d\n", "t.conf:1: timeout_command: \"5d\"" },
	{ "timeout_command = 0\n", "timeout_command: 0 is out of range" },
	{ "dns_cache_size = 1000001\n", "dns_cache_size: 1000001 is out of range" },
	{ "dns_cache_size = -1\n", "t.conf:1: dns_cache_size:" },
	{ "pop3_apop = maybe\n", "t.conf:1: pop3_apop: \"maybe\" is not one" },
	{ "bare_newline = fix\n", "t.conf:1: bare_newline:" },
	{ "log_level = loud\n", "t.conf:1: log_level:" },
	{ "hostname = -bad-.example\n", "t.conf:1: hostname:" },
	{ "hostname =\n", "t.conf:1: hostname:" },
	{ "domains = ok.example, bad_domain.example\n",
	    "t.conf:1: domains: \"bad_domain.example\"" },
	{ "data_dir = relative/path\n", "t.conf:1: data_dir: " },
	{ "user = -root\n", "t.conf:1: user:" },
	{ "listen_smtp = 127.0.0.1:0\n", "t.conf:1: listen_smtp: bad address" },
	{ "listen_smtp = 127.0.0.1:65536\n", "listen_smtp: bad address" },
	{ "listen_smtp = 127.0.0.1\n", "listen_smtp: bad address" },
	{ "listen_smtp = ::1:25\n", "listen_smtp: bad address" },
	{ "listen_smtp = mail.example:25\n", "listen_smtp: bad address" },
	{ "listen_smtp = [::1:25\n", "listen_smtp: bad address" },
	{ "listen_smtp = *:1 *:2 *:3 *:4 *:5 *:6 *:7 *:8 *:9\n",
	    "t.conf:1: listen_smtp: more than 16 addresses" },
	{ "listen_smtp = *:0\n", "t.conf:1: listen_smtp: bad address \"*:0\"" },
	{ "trusted_networks = 10.0.0.1/8\n", "t.conf:1: trusted_networks: bad "
	    "network \"10.0.0.1/8\"" },
	{ "trusted_networks = 10.0.0.0/33\n", "trusted_networks: bad network" },
	{ "trusted_networks = 2001:db8::/129\n", "bad network" },
	{ "dns_servers = \n", "t.conf:1: dns_servers: needs at least one" },
	{ "dns_servers = ns.example\n", "t.conf:1: dns_servers: bad address" },
	{ "tls_outbound = always\n", "t.conf:1: tls_outbound: \"always\"" },
	{ "relay_host = smtp.example:587\n", "relay_host: \"smtp.example:587\"" },
	{ "tls_outbound =\n", "t.conf:1: tls_outbound: needs a value" },
	{ "transport = example.net\n", "transport: \"example.net\" is not" },
	{ "transport = bad_d=[127.0.0.1]:25\n", "transport: \"bad_d\"" },
	{ "transport = a.example=[127.0.0.1]:0\n", "is not a numeric" },
	{ "queue_retry_schedule = 5m,soon\n", "queue_retry_schedule:" },
	{ "queue_retry_schedule = 0\n", "queue_retry_schedule:" },
	{ "queue_retry_schedule = 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17\n",
	    "queue_retry_schedule:" },
	{ "queue_max_lifetime = 59\n", "queue_max_lifetime: 59 is out" },
	{ "timeout_relay_dot = 0\n", "timeout_relay_dot: 0 is out" },
	{ "tls_policy = example.org\n", "tls_policy: \"example.org\" is not "
	    "domain=" },
	{ "tls_policy = example.org=always\n", "tls_policy: \"always\" is not "
	    "one of may, encrypt, verify" },
	{ "tls_policy = bad_d=verify\n", "tls_policy: \"bad_d\" is not a "
	    "domain" },
	{ "relay_auth_user = a b\n", "t.conf:1: relay_auth_user: \"a b\"" },
	{ "relay_auth_password_file = secret\n",
	    "relay_auth_password_file: \"secret\" is not an absolute path" },
};

static void
test_config_errors_with_line_numbers(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		struct config c;
		struct buf e;
		int n = parse(&c, &e, bad_cases[i].text);

		if (n != 1 || strstr(errtext(&e), bad_cases[i].want) == NULL)
			fail_msg("case %zu: %d errors, got \"%s\", want \"%s\"",
			    i, n, errtext(&e), bad_cases[i].want);
		done(&c, &e);
	}
}

static void
test_config_bad_value_keeps_default(void **state)
{
	struct config c;
	struct buf e;

	(void)state;
	assert_int_equal(parse(&c, &e, "max_recipients = x\n"
	    "listen_smtp = 127.0.0.1:25, nope\n"
	    "trusted_networks = 10.0.0.0/8 bad\n"), 3);
	assert_int_equal(c.max_recipients, 100);
	assert_string_equal(c.listen_smtp.item[1].text, "[::]:25");
	assert_int_equal(c.n_trusted, 0);
	done(&c, &e);
}

static void
test_config_several_errors_all_reported(void **state)
{
	struct config c;
	struct buf e;
	static const char text[] =
	    "# a file with four problems\n"
	    "hostname = mail.example\n"
	    "bogus = 1\n"
	    "max_errors = ten\n"
	    "\n"
	    "hostname = again.example\n"
	    "listen_pop3 = 1.2.3.4:99999, 5.6.7.8:0\n";

	(void)state;
	assert_int_equal(parse(&c, &e, text), 5);
	assert_non_null(strstr(errtext(&e), "t.conf:3: unknown key"));
	assert_non_null(strstr(errtext(&e), "t.conf:4: max_errors"));
	assert_non_null(strstr(errtext(&e), "t.conf:6: hostname: duplicate"));
	assert_non_null(strstr(errtext(&e), "t.conf:7: listen_pop3: bad "
	    "address \"1.2.3.4:99999\""));
	assert_non_null(strstr(errtext(&e), "t.conf:7: listen_pop3: bad "
	    "address \"5.6.7.8:0\""));
	/* The good lines still took effect. */
	assert_string_equal(c.hostname, "mail.example");
	done(&c, &e);
}

static void
test_config_errs_may_be_null(void **state)
{
	struct config c;

	(void)state;
	config_defaults(&c);
	assert_int_equal(config_parse(&c, "x", "a = 1\nb = 2\n", 12, NULL), 2);
	config_free(&c);
}

static void
test_config_comments_and_blanks(void **state)
{
	struct config c;
	struct buf e;
	static const char text[] =
	    "# whole-line comment\n"
	    "   # indented comment\n"
	    "\t\n"
	    "hostname = mx.example # trailing comment\n"
	    "data_dir = /srv/a#b\n"
	    "user=mail\t# tab before the hash\r\n"
	    "domains = a.example#not-a-comment-but-bad\n"
	    "workers = 2";		/* no final newline */
	struct config c2;
	struct buf e2;

	(void)state;
	assert_int_equal(parse(&c, &e, text), 1);
	assert_non_null(strstr(errtext(&e), "t.conf:7: domains:"));
	assert_string_equal(c.hostname, "mx.example");
	assert_string_equal(c.data_dir, "/srv/a#b");
	assert_string_equal(c.user, "mail");
	assert_int_equal(c.workers, 2);
	done(&c, &e);
	/* A UTF-8 byte order mark before the first key is skipped. */
	assert_int_equal(parse(&c2, &e2, "\xef\xbb\xbfworkers = 3\n"), 0);
	assert_int_equal(c2.workers, 3);
	done(&c2, &e2);
}

static void
test_config_empty_values(void **state)
{
	struct config c;
	struct buf e;

	(void)state;
	assert_int_equal(parse(&c, &e, "user =\ntls_cert =\n"
	    "listen_smtp =\nlisten_submission = , ,\ndomains =\n"
	    "trusted_networks =\n"), 0);
	assert_string_equal(c.user, "");
	assert_null(c.tls_cert);
	assert_int_equal(c.listen_smtp.n, 0);
	assert_int_equal(c.listen_submission.n, 0);
	assert_int_equal(c.n_domains, 0);
	done(&c, &e);
}

static void
test_config_bounds(void **state)
{
	struct config c;
	struct buf e, text;

	(void)state;
	buf_init(&text, 2 * CONFIG_MAX_FILE);
	/* A line over CONFIG_MAX_LINE is refused whole. */
	assert_int_equal(buf_append_str(&text, "hostname = "), 0);
	for (int i = 0; i < CONFIG_MAX_LINE; i++)
		assert_int_equal(buf_append_char(&text, 'a'), 0);
	assert_int_equal(buf_append_str(&text, "\nlisten_smtp ="), 0);
	for (int i = 0; i <= CONFIG_MAX_LISTEN; i++)
		assert_int_equal(buf_printf(&text, " 127.0.0.1:%d", 1000 + i),
		    0);
	assert_int_equal(buf_append_str(&text, "\ntrusted_networks ="), 0);
	for (int i = 0; i <= CONFIG_MAX_NETWORKS; i++)
		assert_int_equal(buf_printf(&text, " 10.0.%d.0/24", i), 0);
	assert_int_equal(buf_append_str(&text, "\n"), 0);
	assert_int_equal(parse(&c, &e, text.data), 3);
	assert_non_null(strstr(errtext(&e), "t.conf:1: line longer than"));
	assert_non_null(strstr(errtext(&e), "t.conf:2: listen_smtp: more than"));
	assert_non_null(strstr(errtext(&e), "t.conf:3: trusted_networks: more"));
	done(&c, &e);
	/* An oversized file is refused before any parsing. */
	while (text.len <= CONFIG_MAX_FILE)
		assert_int_equal(buf_append_str(&text, "# padding\n"), 0);
	config_defaults(&c);
	buf_init(&e, 1024);
	assert_int_equal(config_parse(&c, "big", text.data, text.len, &e), 1);
	assert_non_null(strstr(errtext(&e), "big:0: file is larger"));
	done(&c, &e);
	buf_cleanup(&text);
	/* NUL bytes inside a value. */
	config_defaults(&c);
	buf_init(&e, 1024);
	assert_int_equal(config_parse(&c, "n", "data_dir = /a\0b\n", 16, &e),
	    1);
	done(&c, &e);
}

static const struct {
	const char	*text;
	int		 rc;
	uint64_t	 bytes;
} size_cases[] = {
	{ "1000", 0, 1000 }, { "512k", 0, 512 * 1024 }, { "512K", 0, 512 * 1024 },
	{ "50M", 0, 50ULL << 20 }, { "50m", 0, 50ULL << 20 },
	{ "1G", 0, 1ULL << 30 }, { "0", 0, 0 }, { "", -1, 0 }, { "M", -1, 0 },
	{ "5MB", -1, 0 }, { "5T", -1, 0 }, { "-5", -1, 0 }, { " 5", -1, 0 },
	{ "99999999999G", -1, 0 }, { "18446744073709551615", -1, 0 },
};

static void
test_config_sizes(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(size_cases) / sizeof(size_cases[0]);
	    i++) {
		uint64_t v = 0;

		assert_int_equal(config_parse_size(size_cases[i].text, &v),
		    size_cases[i].rc);
		if (size_cases[i].rc == 0)
			assert_int_equal(v, size_cases[i].bytes);
	}
}

static const struct {
	const char	*text;
	int		 rc;
	unsigned	 secs;
} duration_cases[] = {
	{ "90", 0, 90 }, { "90s", 0, 90 }, { "5m", 0, 300 }, { "2h", 0, 7200 },
	{ "0", 0, 0 }, { "", -1, 0 }, { "5d", -1, 0 }, { "5M", -1, 0 },
	{ "1m30s", -1, 0 }, { "h", -1, 0 }, { "4294967295", 0, 4294967295U },
	{ "4294967296", -1, 0 }, { "1193047h", -1, 0 },
};

static void
test_config_durations(void **state)
{
	(void)state;
	for (size_t i = 0;
	    i < sizeof(duration_cases) / sizeof(duration_cases[0]); i++) {
		unsigned v = 0;

		assert_int_equal(config_parse_duration(duration_cases[i].text,
		    &v), duration_cases[i].rc);
		if (duration_cases[i].rc == 0)
			assert_int_equal(v, duration_cases[i].secs);
	}
}

static void
test_config_booleans(void **state)
{
	static const char *const yes[] = { "yes", "YES", "true", "On" };
	static const char *const no[] = { "no", "False", "off", "OFF" };
	static const char *const bad[] = { "", "1", "0", "y", "enable" };
	bool b;

	(void)state;
	for (size_t i = 0; i < 4; i++) {
		b = false;
		assert_int_equal(config_parse_bool(yes[i], &b), 0);
		assert_true(b);
		assert_int_equal(config_parse_bool(no[i], &b), 0);
		assert_false(b);
	}
	for (size_t i = 0; i < 5; i++)
		assert_int_equal(config_parse_bool(bad[i], &b), -1);
}

static const struct {
	const char	*text;
	int		 rc;
	int		 family;
	unsigned	 port;
} listen_cases[] = {
	{ "127.0.0.1:25", 0, AF_INET, 25 },
	{ "0.0.0.0:587", 0, AF_INET, 587 },
	{ "[::1]:25", 0, AF_INET6, 25 },
	{ "[::]:465", 0, AF_INET6, 465 },
	{ "[2001:db8::25]:65535", 0, AF_INET6, 65535 },
	{ "*:110", 0, AF_INET6, 110 },
	{ "127.0.0.1:0", -1, 0, 0 },
	{ "127.0.0.1:65536", -1, 0, 0 },
	{ "127.0.0.1:025x", -1, 0, 0 },
	{ "127.0.0.1:", -1, 0, 0 },
	{ "127.0.0.1", -1, 0, 0 },
	{ ":25", -1, 0, 0 },
	{ "::1:25", -1, 0, 0 },
	{ "[::1]", -1, 0, 0 },
	{ "[::1]25", -1, 0, 0 },
	{ "[127.0.0.1]:25", -1, 0, 0 },
	{ "localhost:25", -1, 0, 0 },
	{ "256.0.0.1:25", -1, 0, 0 },
	{ "[::1]:000000025", -1, 0, 0 },
	{ "", -1, 0, 0 },
};

static void
test_config_listen_syntax(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(listen_cases) / sizeof(listen_cases[0]);
	    i++) {
		struct config_listen l;
		int rc = config_parse_listen(listen_cases[i].text, &l);

		if (rc != listen_cases[i].rc)
			fail_msg("case %zu (%s): rc %d", i,
			    listen_cases[i].text, rc);
		if (rc != 0)
			continue;
		assert_string_equal(l.text, listen_cases[i].text);
		assert_int_equal(l.addr.ss_family, listen_cases[i].family);
		if (l.addr.ss_family == AF_INET) {
			assert_int_equal(l.addrlen, sizeof(struct sockaddr_in));
			assert_int_equal(ntohs(((struct sockaddr_in *)&l.addr)
			    ->sin_port), listen_cases[i].port);
		} else {
			assert_int_equal(l.addrlen, sizeof(struct sockaddr_in6));
			assert_int_equal(ntohs(((struct sockaddr_in6 *)&l.addr)
			    ->sin6_port), listen_cases[i].port);
		}
	}
}

static void
test_config_dns_server_syntax(void **state)
{
	static const struct {
		const char	*text;
		int		 rc;
		unsigned	 port;
	} cases[] = {
		{ "192.0.2.1", 0, 53 }, { "192.0.2.1:5353", 0, 5353 },
		{ "[::1]:53", 0, 53 }, { "[::1]", 0, 53 }, { "2001:db8::1", 0, 53 },
		{ "ns.example", -1, 0 }, { "192.0.2.1:0", -1, 0 },
		{ "192.0.2.1:x", -1, 0 },
	};
	struct config_listen l;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc = config_parse_dns_server(cases[i].text, &l);

		if (rc != cases[i].rc)
			fail_msg("case %zu (%s): rc %d", i, cases[i].text, rc);
		if (rc == 0)
			assert_int_equal(ntohs(((struct sockaddr_in *)&l.addr)
			    ->sin_port), cases[i].port);
	}
}

static void
test_config_resolv_conf(void **state)
{
	static const char text[] =
	    "# generated\n"
	    "search example\n"
	    "nameserver 192.0.2.53\n"
	    "  nameserver\t2001:db8::53  \n"
	    "nameserver fe80::1%eth0\n"
	    "nameserver not-an-ip\n"
	    "nameserver 198.51.100.1\n"
	    "nameserver 198.51.100.2\n";
	struct config_listen out[2];

	(void)state;
	assert_int_equal(config_resolv_conf_parse(text, sizeof(text) - 1, out,
	    2), 2);
	assert_string_equal(out[0].text, "192.0.2.53:53");
	assert_string_equal(out[1].text, "[2001:db8::53]:53");
	assert_int_equal(out[1].addr.ss_family, AF_INET6);
	assert_int_equal(config_resolv_conf_parse("", 0, out, 2), 0);
}

static void
test_config_networks(void **state)
{
	static const struct {
		const char	*text;
		int		 rc;
		int		 family;
		unsigned	 prefix;
	} cases[] = {
		{ "10.0.0.0/8", 0, AF_INET, 8 }, { "192.0.2.7", 0, AF_INET, 32 },
		{ "0.0.0.0/0", 0, AF_INET, 0 }, { "2001:db8::/32", 0, AF_INET6, 32 },
		{ "::1", 0, AF_INET6, 128 }, { "::/0", 0, AF_INET6, 0 },
		{ "10.0.0.1/8", -1, 0, 0 }, { "10.0.0.0/", -1, 0, 0 },
		{ "10.0.0.0/33", -1, 0, 0 }, { "10.0.0.0/8x", -1, 0, 0 },
		{ "/8", -1, 0, 0 }, { "2001:db8::1/64", -1, 0, 0 },
		{ "10.0.0.0/0008", -1, 0, 0 }, { "host.example/24", -1, 0, 0 },
	};
	struct config_network n;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc = config_parse_network(cases[i].text, &n);

		if (rc != cases[i].rc)
			fail_msg("case %zu (%s): rc %d", i, cases[i].text, rc);
		if (rc != 0)
			continue;
		assert_int_equal(n.family, cases[i].family);
		assert_int_equal(n.prefix, cases[i].prefix);
	}
}

static struct sockaddr_storage
sa(const char *ip)
{
	struct sockaddr_storage ss;

	memset(&ss, 0, sizeof(ss));
	if (strchr(ip, ':') != NULL) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

		s6->sin6_family = AF_INET6;
		assert_int_equal(inet_pton(AF_INET6, ip, &s6->sin6_addr), 1);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

		s4->sin_family = AF_INET;
		assert_int_equal(inet_pton(AF_INET, ip, &s4->sin_addr), 1);
	}
	return ss;
}

static void
test_config_is_trusted(void **state)
{
	static const struct {
		const char	*ip;
		bool		 trusted;
	} cases[] = {
		{ "10.1.2.3", true }, { "11.0.0.1", false },
		{ "192.168.1.130", true }, { "192.168.1.127", false },
		{ "192.0.2.7", true }, { "192.0.2.8", false },
		{ "::ffff:10.9.9.9", true }, { "::ffff:11.9.9.9", false },
		{ "::ffff:192.168.1.200", true },
		{ "2001:db8:1::5", true }, { "2001:db9::5", false },
		{ "::1", false }, { "fe80::1", false },
	};
	struct config c;
	struct buf e;

	(void)state;
	assert_int_equal(parse(&c, &e, "trusted_networks = 10.0.0.0/8, "
	    "192.168.1.128/25 192.0.2.7 2001:db8::/32\n"), 0);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct sockaddr_storage ss = sa(cases[i].ip);

		if (config_is_trusted(&c, (struct sockaddr *)&ss) !=
		    cases[i].trusted)
			fail_msg("case %zu (%s)", i, cases[i].ip);
	}
	done(&c, &e);
	/* Secure by default: nothing is trusted, not even loopback. */
	config_defaults(&c);
	{
		struct sockaddr_storage ss = sa("127.0.0.1");

		assert_false(config_is_trusted(&c, (struct sockaddr *)&ss));
	}
	config_free(&c);
}

static void
test_config_is_local_domain(void **state)
{
	struct config c;
	struct buf e;

	(void)state;
	assert_int_equal(parse(&c, &e, "domains = example.org Example.NET\n"),
	    0);
	assert_true(config_is_local_domain(&c, "example.org"));
	assert_true(config_is_local_domain(&c, "EXAMPLE.ORG"));
	assert_true(config_is_local_domain(&c, "example.net."));
	assert_false(config_is_local_domain(&c, "sub.example.org"));
	assert_false(config_is_local_domain(&c, "example.or"));
	assert_false(config_is_local_domain(&c, ""));
	done(&c, &e);
}

static void
test_config_domain_names(void **state)
{
	static const char *const good[] = { "localhost", "a.example",
	    "xn--bcher-kva.example", "a-b.c1", "example.org.", "1.example" };
	static const char *const bad[] = { "", ".", "-a.example", "a-.example",
	    "a..example", "a_b.example", "a b", "exa\xc3\xa9mple.org",
	    ".example" };

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		if (!config_is_domain_name(good[i]))
			fail_msg("%s should be accepted", good[i]);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (config_is_domain_name(bad[i]))
			fail_msg("%s should be refused", bad[i]);
}

/* --- config_load with files --------------------------------------- */


static void
write_file(const char *dir, const char *name, const char *text)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void
make_pair(const char *dir, const char *cert, const char *key)
{
	char cp[256], kp[256], err[256];
	EVP_PKEY *k;
	X509 *x;

	snprintf(cp, sizeof(cp), "%s/%s", dir, cert);
	snprintf(kp, sizeof(kp), "%s/%s", dir, key);
	assert_int_equal(tls_cert_selfsigned("mx.example", 1, &k, &x, err,
	    sizeof(err)), 0);
	assert_int_equal(tls_cert_write_pem(k, x, cp, kp, err, sizeof(err)), 0);
	X509_free(x);
	EVP_PKEY_free(k);
}

static int
load(const char *dir, const char *conf, bool check, struct buf *e)
{
	struct config c;
	char path[256];
	int n;

	snprintf(path, sizeof(path), "%s/%s", dir, conf);
	config_defaults(&c);
	buf_init(e, 16 * 1024);
	n = config_load(&c, path, check, e);
	config_free(&c);
	return n;
}

static void
test_config_load_checks_files(void **state)
{
	char dir[] = "/tmp/test_config.XXXXXX", text[1024];
	struct buf e;

	(void)state;
	assert_non_null(mkdtemp(dir));
	make_pair(dir, "a.crt", "a.key");
	make_pair(dir, "b.crt", "b.key");
	snprintf(text, sizeof(text), "data_dir = %s\ntls_cert = %s/a.crt\n"
	    "tls_key = %s/a.key\n", dir, dir, dir);
	write_file(dir, "good.conf", text);
	assert_int_equal(load(dir, "good.conf", true, &e), 0);
	buf_cleanup(&e);

	/* Key of another pair: reported on the tls_key line. */
	snprintf(text, sizeof(text), "data_dir = %s\ntls_cert = %s/a.crt\n"
	    "tls_key = %s/b.key\n", dir, dir, dir);
	write_file(dir, "mismatch.conf", text);
	assert_int_equal(load(dir, "mismatch.conf", false, &e), 0);
	buf_cleanup(&e);
	assert_int_equal(load(dir, "mismatch.conf", true, &e), 1);
	assert_non_null(strstr(errtext(&e), "mismatch.conf:3: tls_key:"));
	assert_non_null(strstr(errtext(&e), "mismatch"));
	buf_cleanup(&e);

	/* Missing cert file, data_dir a file, and a lone tls_key. */
	snprintf(text, sizeof(text), "data_dir = %s/a.crt\n"
	    "tls_cert = %s/none.crt\ntls_key = %s/a.key\n", dir, dir, dir);
	write_file(dir, "missing.conf", text);
	assert_int_equal(load(dir, "missing.conf", true, &e), 2);
	assert_non_null(strstr(errtext(&e), "missing.conf:1: data_dir: "));
	assert_non_null(strstr(errtext(&e), "not a directory"));
	assert_non_null(strstr(errtext(&e), "missing.conf:2: tls_cert: "));
	buf_cleanup(&e);
	snprintf(text, sizeof(text), "data_dir = %s\ntls_key = %s/a.key\n",
	    dir, dir);
	write_file(dir, "lone.conf", text);
	assert_int_equal(load(dir, "lone.conf", true, &e), 1);
	assert_non_null(strstr(errtext(&e), "lone.conf:2: tls_cert and "
	    "tls_key must be set together"));
	buf_cleanup(&e);

	/* A default data_dir that does not exist is reported on line 0;
	 * so are implicit-TLS listeners without a certificate. */
	write_file(dir, "defaults.conf", "# nothing\n");
	assert_int_equal(load(dir, "defaults.conf", true, &e), 2);
	assert_non_null(strstr(errtext(&e), "defaults.conf:0: data_dir: "));
	assert_non_null(strstr(errtext(&e), "defaults.conf:0: tls_cert and "
	    "tls_key are needed"));
	buf_cleanup(&e);

	/* Smarthost credentials: a secret file others can read, a lone
	 * user, and no relay_host. */
	snprintf(text, sizeof(text), "data_dir = %s\nrelay_host = "
	    "[127.0.0.1]:587\nrelay_auth_user = u\nrelay_auth_password_file = "
	    "%s/b.key\ntls_cert = %s/a.crt\ntls_key = %s/a.key\n", dir, dir,
	    dir, dir);
	write_file(dir, "auth.conf", text);
	snprintf(text, sizeof(text), "%s/b.key", dir);
	assert_int_equal(chmod(text, 0600), 0);
	assert_int_equal(load(dir, "auth.conf", true, &e), 0);
	buf_cleanup(&e);
	assert_int_equal(chmod(text, 0640), 0);
	assert_int_equal(load(dir, "auth.conf", true, &e), 1);
	assert_non_null(strstr(errtext(&e), "auth.conf:4: "
	    "relay_auth_password_file: "));
	assert_non_null(strstr(errtext(&e), "mode 0640"));
	buf_cleanup(&e);
	assert_int_equal(chmod(text, 0600), 0);
	snprintf(text, sizeof(text), "data_dir = %s\nrelay_auth_user = u\n"
	    "tls_cert = %s/a.crt\ntls_key = %s/a.key\n", dir, dir, dir);
	write_file(dir, "authlone.conf", text);
	assert_int_equal(load(dir, "authlone.conf", true, &e), 1);
	assert_non_null(strstr(errtext(&e), "authlone.conf:2: relay_auth_user "
	    "and relay_auth_password_file must be set together"));
	buf_cleanup(&e);
	snprintf(text, sizeof(text), "data_dir = %s\nrelay_auth_user = u\n"
	    "relay_auth_password_file = %s/b.key\ntls_cert = %s/a.crt\n"
	    "tls_key = %s/a.key\n", dir, dir, dir, dir);
	write_file(dir, "authnohost.conf", text);
	assert_int_equal(load(dir, "authnohost.conf", true, &e), 1);
	assert_non_null(strstr(errtext(&e), "authnohost.conf:2: relay_auth_user:"
	    " needs relay_host"));
	buf_cleanup(&e);

	/* A file that cannot be read. */
	assert_int_equal(load(dir, "absent.conf", false, &e), 1);
	assert_non_null(strstr(errtext(&e), "absent.conf:0: No such file"));
	buf_cleanup(&e);

	{
		static const char *const names[] = { "a.crt", "a.key", "b.crt",
		    "b.key", "good.conf", "mismatch.conf", "missing.conf",
		    "lone.conf", "defaults.conf", "auth.conf", "authlone.conf",
		    "authnohost.conf" };
		char p[256];

		for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
			snprintf(p, sizeof(p), "%s/%s", dir, names[i]);
			unlink(p);
		}
		rmdir(dir);
	}
}

/* Loading twice over one struct must not leak or keep stale lists. */
static void
test_config_reparse_replaces(void **state)
{
	struct config c;
	struct buf e;

	(void)state;
	assert_int_equal(parse(&c, &e, "domains = a.example b.example\n"
	    "tls_cert = /x\n"), 0);
	assert_int_equal(config_parse(&c, "u.conf", "domains = c.example\n",
	    20, &e), 0);
	assert_int_equal(c.n_domains, 1);
	assert_string_equal(c.domains[0], "c.example");
	assert_string_equal(c.path, "u.conf");
	assert_int_equal(c.key_line[0], 0);
	done(&c, &e);
}

/* docs/config.md must describe every key the parser knows. */
static void
test_config_every_key_documented(void **state)
{
	const char *data = getenv("SEALPOST_TEST_DATA");
	char path[4096], *text;
	size_t rootlen = 0;
	FILE *f;
	long n;

	(void)state;
	/* SEALPOST_TEST_DATA is SOURCE/tests/data, which need not exist, so
	 * the source root is found by text, not by "..". */
	if (data == NULL || (rootlen = strlen(data)) < 11 ||
	    strcmp(data + rootlen - 11, "/tests/data") != 0)
		skip();
	snprintf(path, sizeof(path), "%.*s/docs/config.md",
	    (int)(rootlen - 11), data);
	if ((f = fopen(path, "r")) == NULL)
		fail_msg("%s: cannot open", path);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	assert_true(n > 0);
	rewind(f);
	text = calloc(1, (size_t)n + 1);
	assert_non_null(text);
	assert_int_equal(fread(text, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	for (size_t i = 0; i < config_key_count(); i++) {
		char needle[80];

		snprintf(needle, sizeof(needle), "`%s`", config_key_name(i));
		if (strstr(text, needle) == NULL)
			fail_msg("%s is not in docs/config.md", needle);
	}
	free(text);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_config_defaults),
		cmocka_unit_test(test_config_every_key_parsed),
		cmocka_unit_test(test_config_errors_with_line_numbers),
		cmocka_unit_test(test_config_bad_value_keeps_default),
		cmocka_unit_test(test_config_several_errors_all_reported),
		cmocka_unit_test(test_config_errs_may_be_null),
		cmocka_unit_test(test_config_comments_and_blanks),
		cmocka_unit_test(test_config_empty_values),
		cmocka_unit_test(test_config_bounds),
		cmocka_unit_test(test_config_sizes),
		cmocka_unit_test(test_config_durations),
		cmocka_unit_test(test_config_booleans),
		cmocka_unit_test(test_config_listen_syntax),
		cmocka_unit_test(test_config_dns_server_syntax),
		cmocka_unit_test(test_config_resolv_conf),
		cmocka_unit_test(test_config_networks),
		cmocka_unit_test(test_config_is_trusted),
		cmocka_unit_test(test_config_is_local_domain),
		cmocka_unit_test(test_config_domain_names),
		cmocka_unit_test(test_config_load_checks_files),
		cmocka_unit_test(test_config_reparse_replaces),
		cmocka_unit_test(test_config_every_key_documented),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
