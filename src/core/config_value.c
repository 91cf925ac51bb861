/*
 * The single-value parsers of the configuration: sizes, durations,
 * booleans, host names, listen and DNS addresses, networks, resolv.conf.
 * Bytes in, value out, no I/O; config.c applies them to keys and reports
 * the errors with their lines.
 */
#include "core/config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/config_private.h"
#include "core/str.h"

int
config_parse_size(const char *text, uint64_t *out)
{
	struct str_view cur = str_view_from(text);
	uint64_t n, mult = 1;

	if (str_parse_u64(&cur, &n, UINT64_MAX) == -1)
		return -1;
	if (cur.len == 1) {
		switch (cur.p[0]) {
		case 'k': case 'K': mult = 1ULL << 10; break;
		case 'm': case 'M': mult = 1ULL << 20; break;
		case 'g': case 'G': mult = 1ULL << 30; break;
		default: return -1;
		}
	} else if (cur.len != 0)
		return -1;
	if (n > UINT64_MAX / mult)
		return -1;
	*out = n * mult;
	return 0;
}

int
config_parse_duration(const char *text, unsigned *out)
{
	struct str_view cur = str_view_from(text);
	uint64_t n, mult = 1;

	if (str_parse_u64(&cur, &n, UINT32_MAX) == -1)
		return -1;
	if (cur.len == 1) {
		switch (cur.p[0]) {
		case 's': mult = 1; break;
		case 'm': mult = 60; break;
		case 'h': mult = 3600; break;
		default: return -1;
		}
	} else if (cur.len != 0)
		return -1;
	if (n > UINT32_MAX / mult)
		return -1;
	*out = (unsigned)(n * mult);
	return 0;
}

int
config_parse_bool(const char *text, bool *out)
{
	static const char *const yes[] = { "yes", "true", "on" };
	static const char *const no[] = { "no", "false", "off" };

	for (size_t i = 0; i < 3; i++) {
		if (strcasecmp(text, yes[i]) == 0) {
			*out = true;
			return 0;
		}
		if (strcasecmp(text, no[i]) == 0) {
			*out = false;
			return 0;
		}
	}
	return -1;
}

/* Host names and domains: LDH labels of 1-63 octets, at most 253 in all
 * (RFC 1035 2.3.1, RFC 5321 4.1.2). Internationalised names go in as
 * A-labels. A single trailing dot is tolerated and dropped by the caller. */
bool
config_domain_ok(struct str_view v)
{
	size_t label = 0;

	if (v.len == 0 || v.len > 253)
		return false;
	for (size_t i = 0; i < v.len; i++) {
		char c = v.p[i];

		if (c == '.') {
			if (label == 0 || v.p[i - 1] == '-')
				return false;
			label = 0;
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '-'))
			return false;
		if (c == '-' && label == 0)
			return false;
		if (++label > 63)
			return false;
	}
	return label > 0 && v.p[v.len - 1] != '-';
}

struct str_view
config_drop_trailing_dot(struct str_view v)
{
	if (v.len > 1 && v.p[v.len - 1] == '.')
		v.len--;
	return v;
}

/* Splits "addr:port" / "[v6]:port"; port_required false allows a bare
 * address (a bare IPv6 address then has several colons). */
static int
split_host_port(const char *text, char *host, size_t hostsz, uint64_t *port,
    bool port_required)
{
	struct str_view cur = str_view_from(text), h;

	if (str_take_char(&cur, '[')) {
		h = str_take_until(&cur, ']');
		if (!str_take_char(&cur, ']'))
			return -1;
	} else {
		const char *last = memrchr(cur.p, ':', cur.len);
		const char *first = memchr(cur.p, ':', cur.len);

		if (last != NULL && last != first && !port_required) {
			/* Bare IPv6 address, no port. */
			h = cur;
			cur.p += cur.len;
			cur.len = 0;
		} else {
			h = str_take_until(&cur, ':');
		}
	}
	if (h.len == 0 || str_copy(host, hostsz, h) == -1)
		return -1;
	if (cur.len == 0) {
		if (port_required)
			return -1;
		*port = 0;
		return 0;
	}
	if (!str_take_char(&cur, ':'))
		return -1;
	if (cur.len > 5 || str_to_u64(cur, port, 65535) == -1 || *port == 0)
		return -1;
	return 0;
}

static int
make_sockaddr(const char *host, uint64_t port, bool v6_only,
    struct config_listen *out)
{
	struct sockaddr_in sin;
	struct sockaddr_in6 sin6;

	memset(&out->addr, 0, sizeof(out->addr));
	memset(&sin, 0, sizeof(sin));
	if (!v6_only && inet_pton(AF_INET, host, &sin.sin_addr) == 1) {
		sin.sin_family = AF_INET;
		sin.sin_port = htons((uint16_t)port);
		memcpy(&out->addr, &sin, sizeof(sin));
		out->addrlen = sizeof(sin);
		return 0;
	}
	memset(&sin6, 0, sizeof(sin6));
	if (inet_pton(AF_INET6, host, &sin6.sin6_addr) != 1)
		return -1;
	sin6.sin6_family = AF_INET6;
	sin6.sin6_port = htons((uint16_t)port);
	memcpy(&out->addr, &sin6, sizeof(sin6));
	out->addrlen = sizeof(sin6);
	return 0;
}

int
config_parse_listen(const char *text, struct config_listen *out)
{
	char host[64];
	uint64_t port;
	bool v6 = text[0] == '[';

	if (str_copy(out->text, sizeof(out->text), str_view_from(text)) == -1)
		return -1;
	if (split_host_port(text, host, sizeof(host), &port, true) == -1)
		return -1;
	/* Alone, "*" is the IPv6 wildcard; in a listen_* list it also
	 * brings its IPv4 twin (listen_item). */
	if (!v6 && strcmp(host, "*") == 0)
		return make_sockaddr("::", port, true, out);
	return make_sockaddr(host, port, v6, out);
}

int
config_parse_dns_server(const char *text, struct config_listen *out)
{
	char host[64];
	uint64_t port;
	bool v6 = text[0] == '[';

	if (str_copy(out->text, sizeof(out->text), str_view_from(text)) == -1)
		return -1;
	if (split_host_port(text, host, sizeof(host), &port, false) == -1)
		return -1;
	if (port == 0)
		port = 53;
	if (!v6 && strchr(host, ':') != NULL)
		v6 = true;
	return make_sockaddr(host, port, v6, out);
}

int
config_parse_network(const char *text, struct config_network *out)
{
	struct str_view cur = str_view_from(text), a;
	char host[64];
	uint64_t prefix;
	unsigned maxbits;

	a = str_take_until(&cur, '/');
	if (a.len == 0 || str_copy(host, sizeof(host), a) == -1)
		return -1;
	memset(out, 0, sizeof(*out));
	if (inet_pton(AF_INET, host, out->addr) == 1) {
		out->family = AF_INET;
		maxbits = 32;
	} else if (inet_pton(AF_INET6, host, out->addr) == 1) {
		out->family = AF_INET6;
		maxbits = 128;
	} else
		return -1;
	if (str_take_char(&cur, '/')) {
		if (cur.len > 3 || str_to_u64(cur, &prefix, maxbits) == -1)
			return -1;
	} else if (cur.len == 0)
		prefix = maxbits;
	else
		return -1;
	out->prefix = (unsigned)prefix;
	for (unsigned bit = out->prefix; bit < maxbits; bit++)
		if (out->addr[bit / 8] & (0x80 >> (bit % 8)))
			return -1;
	return 0;
}

size_t
config_resolv_conf_parse(const char *text, size_t len,
    struct config_listen *out, size_t max)
{
	struct str_view cur = str_view_make(text, len);
	size_t n = 0;

	while (cur.len > 0 && n < max) {
		struct str_view line = str_take_until(&cur, '\n'), w;
		char host[64];

		(void)str_take_char(&cur, '\n');
		str_skip_space(&line);
		if (str_take_word(&line, &w, 64) == -1 ||
		    !str_eq(w, "nameserver"))
			continue;
		str_skip_space(&line);
		/* Link-local servers with a %scope are skipped: the config
		 * syntax has no place for the interface. */
		if (str_take_word(&line, &w, 63) == -1 ||
		    str_copy(host, sizeof(host), w) == -1 ||
		    strchr(host, '%') != NULL)
			continue;
		if (make_sockaddr(host, 53, strchr(host, ':') != NULL,
		    &out[n]) == -1)
			continue;
		if (strchr(host, ':') != NULL) {
			if ((size_t)snprintf(out[n].text, sizeof(out[n].text),
			    "[%s]:53", host) >= sizeof(out[n].text))
				continue;
		} else if ((size_t)snprintf(out[n].text, sizeof(out[n].text),
		    "%s:53", host) >= sizeof(out[n].text))
			continue;
		n++;
	}
	return n;
}

bool
config_is_domain_name(const char *name)
{
	return config_domain_ok(config_drop_trailing_dot(str_view_from(name)));
}

int
config_parse_route(const char *text, struct config_listen *out)
{
	char host[64];
	uint64_t port;

	if (str_copy(out->text, sizeof(out->text), str_view_from(text)) == -1)
		return -1;
	if (split_host_port(text, host, sizeof(host), &port, false) == -1)
		return -1;
	if (port == 0)
		port = 25;
	return make_sockaddr(host, port, strchr(host, ':') != NULL, out);
}

int
config_parse_schedule(const char *text, unsigned *out, size_t max)
{
	struct str_view cur = str_view_from(text);
	size_t n = 0;

	for (;;) {
		char item[32];
		size_t len = 0;

		while (cur.len > 0 && (cur.p[0] == ',' || cur.p[0] == ' ' ||
		    cur.p[0] == '\t')) {
			cur.p++;
			cur.len--;
		}
		if (cur.len == 0)
			break;
		while (len < cur.len && cur.p[len] != ',' && cur.p[len] != ' ' &&
		    cur.p[len] != '\t')
			len++;
		if (n == max || str_copy(item, sizeof(item),
		    str_view_make(cur.p, len)) == -1 ||
		    config_parse_duration(item, &out[n]) == -1 || out[n] == 0)
			return -1;
		n++;
		cur.p += len;
		cur.len -= len;
	}
	return n == 0 ? -1 : (int)n;
}

const struct config_route *
config_route_find(const struct config *cfg, const char *domain)
{
	const struct config_route *any = NULL;

	for (size_t i = 0; i < cfg->n_transport; i++) {
		if (strcasecmp(cfg->transport[i].domain, domain) == 0)
			return &cfg->transport[i];
		if (strcmp(cfg->transport[i].domain, "*") == 0 && any == NULL)
			any = &cfg->transport[i];
	}
	if (any != NULL)
		return any;
	return cfg->has_relay_host ? &cfg->relay_host : NULL;
}

const enum config_tls_outbound *
config_tls_policy_find(const struct config *cfg, const char *domain)
{
	struct str_view d = config_drop_trailing_dot(str_view_from(domain));

	for (size_t i = 0; i < cfg->n_tls_policy; i++)
		if (str_case_eq(d, cfg->tls_policy[i].domain))
			return &cfg->tls_policy[i].mode;
	return &cfg->tls_outbound;
}
