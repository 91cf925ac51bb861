/*
 * `sealpost spf [--dns LIST] IP SENDER [HELO]`: runs the same check_host()
 * as the SMTP server, on the configured (or given) DNS servers, and prints
 * the result with its reasoning, like spfquery. For admins debugging their
 * records, and for the RFC 7208 test suite (tests/protocol/test_spf_suite.py).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include <event2/event.h>

#include "cli/commands.h"
#include "core/config.h"
#include "dns/resolver.h"
#include "policy/spf.h"

struct cli_spf {
	struct event_base	*base;
	bool			 done;
	enum spf_result		 result;
};

/* Control octets and 8-bit from DNS data as \xNN, the rest as is. */
static const char *
cli_spf_clean(char *out, size_t outsz, const char *in)
{
	size_t o = 0;

	for (; *in != '\0' && o + 5 < outsz; in++) {
		unsigned char c = (unsigned char)*in;

		if (c >= 0x20 && c < 0x7f)
			out[o++] = (char)c;
		else
			o += (size_t)snprintf(out + o, outsz - o, "\\x%02x", c);
	}
	out[o] = '\0';
	return out;
}

static void
cli_spf_done(void *arg, const struct spf_verdict *v)
{
	struct cli_spf *st = arg;
	char text[4096];

	st->done = true;
	st->result = v->result;
	/* What DNS records say is escaped before it reaches a terminal. */
	printf("%s\n", spf_result_name(v->result));
	printf("mechanism: %s\n", cli_spf_clean(text, sizeof(text),
	    v->mechanism));
	if (v->explanation != NULL)
		printf("explanation: %s\n", cli_spf_clean(text, sizeof(text),
		    v->explanation));
	printf("reason: %s\n", cli_spf_clean(text, sizeof(text), v->reason));
	event_base_loopbreak(st->base);
}

static int
cli_spf_usage(void)
{
	fprintf(stderr, "usage: sealpost [-c FILE] spf [--dns IP[:PORT],...] "
	    "IP SENDER [HELO]\n");
	return CLI_EXIT_USAGE;
}

int
cli_spf(const struct config *cfg, int argc, char **argv)
{
	const char *dns = NULL, *err = NULL, *helo = "";
	unsigned char ip[16];
	struct resolver *res;
	struct cli_spf st;
	struct spf_check *check;
	int family, i = 1;

	memset(&st, 0, sizeof(st));
	if (i + 1 < argc && strcmp(argv[i], "--dns") == 0) {
		dns = argv[i + 1];
		i += 2;
	}
	if (argc - i < 2 || argc - i > 3)
		return cli_spf_usage();
	if (inet_pton(AF_INET, argv[i], ip) == 1)
		family = AF_INET;
	else if (inet_pton(AF_INET6, argv[i], ip) == 1)
		family = AF_INET6;
	else {
		fprintf(stderr, "sealpost spf: %s is not an IP address\n",
		    argv[i]);
		return CLI_EXIT_USAGE;
	}
	if (argc - i == 3)
		helo = argv[i + 2];
	st.base = event_base_new();
	if (st.base == NULL)
		return CLI_EXIT_FAIL;
	res = dns != NULL ? resolver_new_servers(st.base, dns,
	    cfg->dns_timeout * 1000, cfg->dns_retries, &err) :
	    resolver_new(st.base, cfg, &err);
	if (res == NULL) {
		fprintf(stderr, "sealpost spf: DNS: %s\n", err);
		event_base_free(st.base);
		return CLI_EXIT_FAIL;
	}
	/* RFC 7208 2.3: the null path is checked as postmaster@HELO. */
	if (argv[i + 1][0] == '\0') {
		char sender[300];

		snprintf(sender, sizeof(sender), "postmaster@%s", helo);
		check = spf_check_start(res, family, ip, sender, helo,
		    cfg->hostname, cli_spf_done, &st);
	} else {
		check = spf_check_start(res, family, ip, argv[i + 1], helo,
		    cfg->hostname, cli_spf_done, &st);
	}
	(void)check;
	while (!st.done)
		if (event_base_dispatch(st.base) == -1)
			break;
	resolver_free(&res);
	event_base_free(st.base);
	return st.done ? CLI_EXIT_OK : CLI_EXIT_FAIL;
}
