/*
 * libFuzzer target for the configuration parser: the whole input as a
 * config file, then the lookups over whatever it produced, then the input's
 * first bytes through each single-value parser. Nothing may crash, leak or
 * read out of bounds, whatever the bytes.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/config.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
lookups(const struct config *cfg)
{
	struct sockaddr_in sin;
	struct sockaddr_in6 sin6;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(0x0a000001);
	(void)config_is_trusted(cfg, (struct sockaddr *)&sin);
	memset(&sin6, 0, sizeof(sin6));
	sin6.sin6_family = AF_INET6;
	(void)inet_pton(AF_INET6, "::ffff:10.0.0.1", &sin6.sin6_addr);
	(void)config_is_trusted(cfg, (struct sockaddr *)&sin6);
	(void)config_is_local_domain(cfg, "example.org");
}

static void
single_values(const uint8_t *data, size_t size)
{
	char text[300];
	struct config_listen l;
	struct config_network n;
	uint64_t u64;
	unsigned u;
	bool b;

	if (size >= sizeof(text))
		size = sizeof(text) - 1;
	memcpy(text, data, size);
	text[size] = '\0';
	(void)config_parse_listen(text, &l);
	(void)config_parse_dns_server(text, &l);
	(void)config_parse_network(text, &n);
	(void)config_parse_size(text, &u64);
	(void)config_parse_duration(text, &u);
	(void)config_parse_bool(text, &b);
	(void)config_is_domain_name(text);
	{
		struct config_listen out[CONFIG_MAX_DNS];

		(void)config_resolv_conf_parse((const char *)data, size, out,
		    CONFIG_MAX_DNS);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config cfg;
	struct buf errs;

	config_defaults(&cfg);
	buf_init(&errs, 4096);
	(void)config_parse(&cfg, "fuzz.conf", (const char *)data, size, &errs);
	lookups(&cfg);
	config_free(&cfg);
	buf_cleanup(&errs);
	single_values(data, size);
	return 0;
}
