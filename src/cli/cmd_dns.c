/*
 * `sealpost dns [DOMAIN]`: the DNS records an admin publishes for each
 * local domain (or the one given), as zone-file lines: MX, SPF, a safe
 * first DMARC policy, a DKIM record for each signing key in
 * <data_dir>/dkim/<domain>/ and the client SRV records of RFC 6186 /
 * RFC 8314 for submission and POP3. Nothing is looked up; the text is
 * derived from the configuration (hostname, domains, listeners) and the
 * key files.
 */
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "cli/commands.h"
#include "core/config.h"

/* The port of a service's first listener, or 0 when it has none. */
static unsigned
cli_dns_port(const struct config_listen_list *l)
{
	const struct sockaddr *sa;

	if (l->n == 0)
		return 0;
	sa = (const struct sockaddr *)&l->item[0].addr;
	if (sa->sa_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)(const void *)sa)->
		    sin_port);
	return ntohs(((const struct sockaddr_in6 *)(const void *)sa)->
	    sin6_port);
}

/* RFC 6186 3.4: target "." says the service is not offered. */
static void
cli_dns_srv(const char *service, const char *domain, unsigned port,
    const char *host)
{
	if (port == 0)
		printf("_%s._tcp.%s.\tIN SRV\t0 0 0 .\n", service, domain);
	else
		printf("_%s._tcp.%s.\tIN SRV\t0 1 %u %s.\n", service, domain,
		    port, host);
}

static void
cli_dns_domain(const struct config *cfg, const char *d)
{
	const char *h = cfg->hostname;

	printf("; --- %s ---\n", d);
	printf("; Mail for %s goes to this server (RFC 5321 5.1).\n", d);
	printf("%s.\tIN MX\t10 %s.\n", d, h);
	printf("; Only the MX hosts send mail as %s; everyone else fails SPF "
	    "(RFC 7208).\n", d);
	printf("%s.\tIN TXT\t\"v=spf1 mx -all\"\n", d);
	printf("; DMARC (RFC 7489): start with p=none and read the reports, "
	    "then\n; move to p=quarantine and p=reject.\n");
	printf("_dmarc.%s.\tIN TXT\t\"v=DMARC1; p=none; "
	    "rua=mailto:postmaster@%s\"\n", d, d);
	(void)cli_dkim_print_records(cfg, d);
	printf("; Mail clients find the server (RFC 6186, RFC 8314).\n");
	cli_dns_srv("submission", d, cli_dns_port(&cfg->listen_submission), h);
	cli_dns_srv("submissions", d, cli_dns_port(&cfg->listen_submissions),
	    h);
	cli_dns_srv("pop3", d, cli_dns_port(&cfg->listen_pop3), h);
	cli_dns_srv("pop3s", d, cli_dns_port(&cfg->listen_pop3s), h);
}

int
cli_dns(const struct config *cfg, int argc, char **argv)
{
	bool found = false;

	if (argc > 2) {
		fprintf(stderr, "usage: sealpost [-c FILE] dns [DOMAIN]\n");
		return CLI_EXIT_USAGE;
	}
	if (cfg->n_domains == 0) {
		fprintf(stderr, "sealpost dns: no domains configured\n");
		return CLI_EXIT_FAIL;
	}
	for (size_t i = 0; argc == 2 && i < cfg->n_domains; i++)
		if (strcasecmp(argv[1], cfg->domains[i]) == 0)
			found = true;
	if (argc == 2 && !found) {
		fprintf(stderr, "sealpost dns: %s is not one of the configured "
		    "domains\n", argv[1]);
		return CLI_EXIT_FAIL;
	}
	printf("; DNS records to publish for sealpost on %s\n", cfg->hostname);
	printf("; %s itself needs A/AAAA records with its public addresses, "
	    "and\n; those addresses a PTR record naming it.\n", cfg->hostname);
	for (size_t i = 0; i < cfg->n_domains; i++)
		if (argc < 2 || strcasecmp(argv[1], cfg->domains[i]) == 0)
			cli_dns_domain(cfg, cfg->domains[i]);
	return CLI_EXIT_OK;
}
