/*
 * MX routing; see route.h. One lookup asks MX for the domain, then AAAA
 * and A for every MX host at once (at most ROUTE_MAX_MX hosts), and when
 * every answer is in builds the hop list: hosts in MX order, each with
 * its IPv6 addresses first, then IPv4 (RFC 6724's default preference).
 */
#include "daemon/route.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "core/log.h"
#include "core/xmalloc.h"

struct route_addr {
	int		 family;
	unsigned char	 addr[16];
};

struct route_host {
	char			*name;
	size_t			 n[2];		/* [0] AAAA, [1] A */
	struct route_addr	 a[2][ROUTE_MAX_PER_HOST];
	enum dns_status		 st[2];
};

struct route_lookup {
	struct resolver		*res;
	char			*domain;
	unsigned		 port;
	route_callback		 cb;
	void			*arg;
	bool			 implicit;	/* no MX: the domain itself */
	size_t			 n_host;
	struct route_host	 host[ROUTE_MAX_MX];
	struct dns_query	*mxq;
	struct dns_query	*q[ROUTE_MAX_MX][2];
	size_t			 pending;
};

/* --- ordering (pure) --- */

void
route_mx_order(struct route_mx *mx, size_t n, uint32_t (*rnd)(void *),
    void *arg)
{
	/* Insertion sort: n is at most DNS_MAX_RR, and it is stable. */
	for (size_t i = 1; i < n; i++) {
		struct route_mx t = mx[i];
		size_t j = i;

		for (; j > 0 && mx[j - 1].pref > t.pref; j--)
			mx[j] = mx[j - 1];
		mx[j] = t;
	}
	/* Fisher-Yates within each run of equal preference. */
	for (size_t s = 0, e; s < n; s = e) {
		for (e = s + 1; e < n && mx[e].pref == mx[s].pref; e++)
			;
		for (size_t i = e - 1; i > s; i--) {
			size_t k = s + rnd(arg) % (i - s + 1);
			struct route_mx t = mx[i];

			mx[i] = mx[k];
			mx[k] = t;
		}
	}
}

/* --- the lookup --- */

static uint32_t
route_rnd(void *arg)
{
	uint32_t v;

	(void)arg;
	if (getrandom(&v, sizeof(v), GRND_NONBLOCK) != (ssize_t)sizeof(v))
		v = (uint32_t)random();
	return v;
}

static void
route_lookup_free(struct route_lookup *l)
{
	dns_query_cancel(&l->mxq);
	for (size_t i = 0; i < l->n_host; i++) {
		dns_query_cancel(&l->q[i][0]);
		dns_query_cancel(&l->q[i][1]);
		free(l->host[i].name);
	}
	free(l->domain);
	free(l);
}

void
route_lookup_cancel(struct route_lookup **lp)
{
	if (*lp == NULL)
		return;
	route_lookup_free(*lp);
	*lp = NULL;
}

static void
route_fail(struct route_lookup *l, enum route_status st, const char *reply)
{
	struct route_result r = { .status = st, .reply = reply };

	l->cb(l->arg, &r);
	route_lookup_free(l);
}

static void
route_hop_fill(struct route_hop *h, const char *host,
    const struct route_addr *a, unsigned port)
{
	memset(h, 0, sizeof(*h));
	(void)snprintf(h->host, sizeof(h->host), "%s", host);
	if (a->family == AF_INET6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&h->addr;

		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		memcpy(&s6->sin6_addr, a->addr, 16);
		h->addrlen = sizeof(*s6);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&h->addr;

		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
		memcpy(&s4->sin_addr, a->addr, 4);
		h->addrlen = sizeof(*s4);
	}
	if (inet_ntop(a->family, a->addr, h->ip, sizeof(h->ip)) == NULL)
		h->ip[0] = '\0';
	(void)snprintf(h->text, sizeof(h->text), "%s[%s]:%u", host, h->ip,
	    port);
}

/* Every address answer is in: hand over the hops, or say why none. */
static void
route_finish(struct route_lookup *l)
{
	struct route_hop *hop = xcalloc(ROUTE_MAX_ADDRS, sizeof(*hop));
	struct route_result r = { .status = ROUTE_OK, .hop = hop };
	bool tempfail = false;
	char reply[DNS_NAME_MAX + 128];

	for (size_t i = 0; i < l->n_host; i++)
		for (int f = 0; f < 2; f++) {
			const struct route_host *h = &l->host[i];

			tempfail |= h->st[f] == DNS_TEMPFAIL;
			for (size_t k = 0; k < h->n[f] &&
			    r.n_hop < ROUTE_MAX_ADDRS; k++)
				route_hop_fill(&hop[r.n_hop++], h->name,
				    &h->a[f][k], l->port);
		}
	if (r.n_hop == 0) {
		/*
		 * Some host could not be looked up now: it may have
		 * addresses, so this is worth another try later.
		 */
		if (tempfail) {
			r.status = ROUTE_TEMPFAIL;
			(void)snprintf(reply, sizeof(reply), "451 4.4.3 address "
			    "look-up for the %s of %s failed temporarily",
			    l->implicit ? "domain" : "MX hosts", l->domain);
		} else {
			r.status = ROUTE_PERMFAIL;
			(void)snprintf(reply, sizeof(reply), "550 5.4.4 unable to "
			    "route: %s", l->implicit ? "no MX and no address "
			    "record for the domain" : "no MX host has an address");
		}
		r.reply = reply;
	}
	l->cb(l->arg, &r);
	free(hop);
	route_lookup_free(l);
}

static void
route_addr_cb(void *arg, const struct dns_result *res)
{
	struct route_lookup *l = arg;
	int f = res->type == DNS_AAAA ? 0 : 1;
	struct route_host *h = NULL;

	for (size_t i = 0; i < l->n_host && h == NULL; i++)
		if (strcmp(l->host[i].name, res->name) == 0 &&
		    l->q[i][f] != NULL) {
			h = &l->host[i];
			l->q[i][f] = NULL;	/* invalid once called */
		}
	if (h == NULL)
		return;		/* cannot happen: every query is ours */
	h->st[f] = res->status;
	for (size_t k = 0; k < res->n && h->n[f] < ROUTE_MAX_PER_HOST; k++) {
		struct route_addr *a = &h->a[f][h->n[f]];
		int want = f == 0 ? AF_INET6 : AF_INET;

		if (res->rr[k].family != want)
			continue;
		a->family = want;
		memcpy(a->addr, res->rr[k].addr, want == AF_INET6 ? 16 : 4);
		h->n[f]++;
	}
	if (--l->pending == 0)
		route_finish(l);
}

static void
route_ask_addrs(struct route_lookup *l)
{
	/* Count first: a query never calls back from inside its start. */
	l->pending = 2 * l->n_host;
	for (size_t i = 0; i < l->n_host; i++) {
		l->q[i][0] = resolver_query(l->res, l->host[i].name, DNS_AAAA,
		    route_addr_cb, l);
		l->q[i][1] = resolver_query(l->res, l->host[i].name, DNS_A,
		    route_addr_cb, l);
	}
}

static void
route_mx_cb(void *arg, const struct dns_result *res)
{
	struct route_lookup *l = arg;
	struct route_mx mx[DNS_MAX_RR];
	char reply[DNS_NAME_MAX + 128];
	size_t n = 0, n_null = 0;

	l->mxq = NULL;
	switch (res->status) {
	case DNS_TEMPFAIL:
		(void)snprintf(reply, sizeof(reply), "451 4.4.3 MX look-up for "
		    "%s failed: %s", l->domain, res->error != NULL ? res->error :
		    "temporary DNS failure");
		route_fail(l, ROUTE_TEMPFAIL, reply);
		return;
	case DNS_NXDOMAIN:
		(void)snprintf(reply, sizeof(reply), "550 5.1.2 domain %s does "
		    "not exist (DNS NXDOMAIN)", l->domain);
		route_fail(l, ROUTE_PERMFAIL, reply);
		return;
	case DNS_NODATA:
		/* RFC 5321 5.1: no MX, the domain is its own MX of
		 * preference 0. */
		l->implicit = true;
		l->host[0].name = xstrdup(l->domain);
		l->n_host = 1;
		route_ask_addrs(l);
		return;
	case DNS_OK:
		break;
	}
	for (size_t i = 0; i < res->n && n < DNS_MAX_RR; i++) {
		if (res->rr[i].text == NULL || res->rr[i].text[0] == '\0') {
			n_null++;
			continue;
		}
		mx[n].pref = res->rr[i].pref;
		mx[n++].host = res->rr[i].text;
	}
	/*
	 * RFC 7505 3: a domain with a null MX accepts no mail. A null MX
	 * next to real ones breaks the RFC's "MUST NOT"; the real ones are
	 * then used, as they show somebody meant to receive mail.
	 */
	if (n == 0) {
		(void)snprintf(reply, sizeof(reply), "556 5.1.10 domain %s "
		    "accepts no mail (null MX, RFC 7505)", l->domain);
		route_fail(l, ROUTE_PERMFAIL, reply);
		return;
	}
	if (n_null > 0)
		log_warn("relay event=null-mx-ignored domain=%s mx=%zu",
		    l->domain, n);
	route_mx_order(mx, n, route_rnd, NULL);
	for (size_t i = 0; i < n && l->n_host < ROUTE_MAX_MX; i++)
		l->host[l->n_host++].name = xstrdup(mx[i].host);
	route_ask_addrs(l);
}

struct route_lookup *
route_lookup_start(struct resolver *res, const char *domain, unsigned port,
    route_callback cb, void *arg)
{
	struct route_lookup *l = xcalloc(1, sizeof(*l));

	l->res = res;
	l->domain = xstrdup(domain);
	l->port = port;
	l->cb = cb;
	l->arg = arg;
	l->mxq = resolver_query(res, domain, DNS_MX, route_mx_cb, l);
	return l;
}
