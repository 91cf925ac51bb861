/*
 * Unit tests for daemon/route: MX ordering (RFC 5321 5.1): ascending
 * preference, equal preferences shuffled by the random source, every
 * order of an equal run reachable, nothing lost or duplicated; and whole
 * look-ups through c-ares against a tiny loopback responder that serves
 * a table of records: hop order (preference, then IPv6 before IPv4),
 * implicit MX, null MX, NXDOMAIN, SERVFAIL, cancellation.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>

#include "daemon/route.h"
#include "dns_responder.h"
#include "dns/resolver.h"

/* A deterministic "random" source: returns the values of a script. */
struct script {
	const uint32_t	*v;
	size_t		 n, i;
};

static uint32_t
scripted(void *arg)
{
	struct script *s = arg;

	return s->n == 0 ? 0 : s->v[s->i++ % s->n];
}

static const struct {
	const char	*name;
	unsigned	 pref[8];
	size_t		 n;
	uint32_t	 rnd[4];
	size_t		 n_rnd;
	const char	*want;		/* hosts in order, "," separated */
} order_cases[] = {
	{ "one", { 10 }, 1, { 0 }, 0, "a" },
	{ "sorted", { 10, 20, 30 }, 3, { 0 }, 0, "a,b,c" },
	{ "reversed", { 30, 20, 10 }, 3, { 0 }, 0, "c,b,a" },
	{ "zero first", { 5, 0 }, 2, { 0 }, 0, "b,a" },
	/* equal run a,b: i=1 swaps with s + rnd % 2 */
	{ "equal kept", { 10, 10 }, 2, { 1 }, 1, "a,b" },
	{ "equal swapped", { 10, 10 }, 2, { 0 }, 1, "b,a" },
	/* run c,d after a (5): the low host never moves */
	{ "run after low", { 5, 20, 20 }, 3, { 0 }, 1, "a,c,b" },
	{ "two runs", { 20, 10, 20, 10 }, 4, { 0, 0 }, 2, "d,b,c,a" },
};

static void
hosts_of(const struct route_mx *mx, size_t n, char *out, size_t outsz)
{
	size_t o = 0;

	out[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		int w = snprintf(out + o, outsz - o, "%s%s", i > 0 ? "," : "",
		    mx[i].host);

		assert_true(w > 0 && (size_t)w < outsz - o);
		o += (size_t)w;
	}
}

static void
test_route_mx_order_table(void **state)
{
	static const char *const names[] = { "a", "b", "c", "d", "e", "f",
	    "g", "h" };

	(void)state;
	for (size_t t = 0; t < sizeof(order_cases) / sizeof(order_cases[0]);
	    t++) {
		struct route_mx mx[8];
		struct script s = { order_cases[t].rnd, order_cases[t].n_rnd, 0 };
		char got[64];

		for (size_t i = 0; i < order_cases[t].n; i++) {
			mx[i].pref = order_cases[t].pref[i];
			mx[i].host = names[i];
		}
		route_mx_order(mx, order_cases[t].n, scripted, &s);
		hosts_of(mx, order_cases[t].n, got, sizeof(got));
		if (strcmp(got, order_cases[t].want) != 0)
			fail_msg("%s: got %s, want %s", order_cases[t].name, got,
			    order_cases[t].want);
	}
}

/* Every order of three equal hosts comes out for some random input. */
static void
test_route_mx_order_every_permutation(void **state)
{
	static const char *const names[] = { "a", "b", "c" };
	char seen[6][8];
	size_t n_seen = 0;

	(void)state;
	for (uint32_t x = 0; x < 3; x++)
		for (uint32_t y = 0; y < 2; y++) {
			uint32_t v[2] = { x, y };
			struct script s = { v, 2, 0 };
			struct route_mx mx[3];
			char got[8];
			bool dup = false;

			for (size_t i = 0; i < 3; i++) {
				mx[i].pref = 7;
				mx[i].host = names[i];
			}
			route_mx_order(mx, 3, scripted, &s);
			hosts_of(mx, 3, got, sizeof(got));
			for (size_t k = 0; k < n_seen; k++)
				dup |= strcmp(seen[k], got) == 0;
			if (!dup)
				memcpy(seen[n_seen++], got, sizeof(got));
		}
	assert_int_equal(n_seen, 6);
}

/* --- whole look-ups against a loopback responder --- */

#define T_A	1
#define T_MX	15
#define T_AAAA	28

/* rcode 3 = NXDOMAIN, 2 = SERVFAIL; a name with no row for the type
 * but some row at all is NODATA; an unknown name is NXDOMAIN. */
static const struct zone_rr {
	const char	*name;
	unsigned	 type;
	const char	*value;		/* address, or "pref host" for MX */
	unsigned	 rcode;
} zone[] = {
	{ "two.test", T_MX, "20 mx1.two.test", 0 },
	{ "two.test", T_MX, "10 mx2.two.test", 0 },
	{ "mx1.two.test", T_A, "192.0.2.1", 0 },
	{ "mx2.two.test", T_A, "192.0.2.2", 0 },
	{ "mx2.two.test", T_AAAA, "2001:db8::2", 0 },
	{ "plain.test", T_A, "192.0.2.9", 0 },
	{ "null.test", T_MX, "0 .", 0 },
	{ "broken.test", 0, NULL, 2 },
	{ "halfdown.test", T_MX, "10 broken.test", 0 },
	{ "halfdown.test", T_MX, "20 mx1.two.test", 0 },
};

/* The zone above, for the loopback responder (dns_responder.h). */
static int
route_zone(void *arg, const char *name, unsigned qtype, struct dnsr_answer *a)
{
	int rcode = 3;

	(void)arg;
	for (size_t i = 0; i < sizeof(zone) / sizeof(zone[0]); i++) {
		const struct zone_rr *z = &zone[i];
		unsigned char rd[300];
		size_t rdlen;

		if (strcmp(z->name, name) != 0)
			continue;
		if (z->rcode != 0)
			return (int)z->rcode;
		rcode = 0;
		if (z->type != qtype)
			continue;
		if (z->type == T_A) {
			inet_pton(AF_INET, z->value, rd);
			rdlen = 4;
		} else if (z->type == T_AAAA) {
			inet_pton(AF_INET6, z->value, rd);
			rdlen = 16;
		} else {
			unsigned pref = 0;
			const char *sp = strchr(z->value, ' ');

			for (const char *c = z->value; c < sp; c++)
				pref = pref * 10 + (unsigned)(*c - '0');
			rd[0] = (unsigned char)(pref >> 8);
			rd[1] = (unsigned char)pref;
			rdlen = 2 + dnsr_put_name(rd + 2,
			    strcmp(sp + 1, ".") == 0 ? "" : sp + 1);
		}
		dnsr_put_rr(a, z->type, rd, rdlen);
	}
	return rcode;
}

struct lfix {
	struct event_base	*base;
	struct dns_responder	 dns;
	struct resolver		*res;
	int			 calls;
	enum route_status	 status;
	char			 reply[256];
	char			 hops[512];	/* texts, "," separated */
};

static int
lsetup(void **state)
{
	static struct lfix f;
	const char *err = NULL;
	char servers[64];

	memset(&f, 0, sizeof(f));
	f.base = event_base_new();
	if (dnsr_start(&f.dns, f.base, route_zone, NULL, servers,
	    sizeof(servers)) == -1)
		return -1;
	if ((f.res = resolver_new_servers(f.base, servers, 500, 0, &err)) ==
	    NULL)
		return -1;
	*state = &f;
	return 0;
}

static int
lteardown(void **state)
{
	struct lfix *f = *state;

	resolver_free(&f->res);
	dnsr_stop(&f->dns);
	event_base_free(f->base);
	return 0;
}

static void
lookup_cb(void *arg, const struct route_result *r)
{
	struct lfix *f = arg;
	size_t o = 0;

	f->calls++;
	f->status = r->status;
	snprintf(f->reply, sizeof(f->reply), "%s", r->reply != NULL ?
	    r->reply : "");
	f->hops[0] = '\0';
	for (size_t i = 0; i < r->n_hop; i++) {
		int w = snprintf(f->hops + o, sizeof(f->hops) - o, "%s%s",
		    i > 0 ? "," : "", r->hop[i].text);

		assert_true(w > 0 && (size_t)w < sizeof(f->hops) - o);
		o += (size_t)w;
	}
	event_base_loopbreak(f->base);
}

static const struct {
	const char		*domain;
	enum route_status	 status;
	const char		*want;	/* hops, or the start of the reply */
} lookup_cases[] = {
	{ "two.test", ROUTE_OK, "mx2.two.test[2001:db8::2]:2525,"
	    "mx2.two.test[192.0.2.2]:2525,mx1.two.test[192.0.2.1]:2525" },
	{ "plain.test", ROUTE_OK, "plain.test[192.0.2.9]:2525" },
	{ "null.test", ROUTE_PERMFAIL, "556 5.1.10 domain null.test accepts "
	    "no mail" },
	{ "nosuch.test", ROUTE_PERMFAIL, "550 5.1.2 domain nosuch.test does "
	    "not exist" },
	{ "broken.test", ROUTE_TEMPFAIL, "451 4.4.3 MX look-up for "
	    "broken.test failed" },
	/* one MX host fails to resolve: the other is still used */
	{ "halfdown.test", ROUTE_OK, "mx1.two.test[192.0.2.1]:2525" },
};

static void
test_route_lookup_table(void **state)
{
	struct lfix *f = *state;

	for (size_t i = 0; i < sizeof(lookup_cases) / sizeof(lookup_cases[0]);
	    i++) {
		f->calls = 0;
		(void)route_lookup_start(f->res, lookup_cases[i].domain, 2525,
		    lookup_cb, f);
		event_base_dispatch(f->base);
		assert_int_equal(f->calls, 1);
		if (f->status != lookup_cases[i].status)
			fail_msg("%s: status %d", lookup_cases[i].domain,
			    (int)f->status);
		if (f->status == ROUTE_OK ? strcmp(f->hops,
		    lookup_cases[i].want) != 0 : strncmp(f->reply,
		    lookup_cases[i].want, strlen(lookup_cases[i].want)) != 0)
			fail_msg("%s: got \"%s\" / \"%s\"",
			    lookup_cases[i].domain, f->hops, f->reply);
	}
}

/* A cancelled lookup never calls back (and leaks nothing under ASan). */
static void
test_route_lookup_cancel(void **state)
{
	struct lfix *f = *state;
	struct route_lookup *l;
	struct timeval tv = { 0, 300000 };

	f->calls = 0;
	l = route_lookup_start(f->res, "two.test", 25, lookup_cb, f);
	route_lookup_cancel(&l);
	assert_null(l);
	route_lookup_cancel(&l);	/* NULL is fine */
	event_base_loopexit(f->base, &tv);
	event_base_dispatch(f->base);
	assert_int_equal(f->calls, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_route_mx_order_table),
		cmocka_unit_test(test_route_mx_order_every_permutation),
		cmocka_unit_test_setup_teardown(test_route_lookup_table,
		    lsetup, lteardown),
		cmocka_unit_test_setup_teardown(test_route_lookup_cancel,
		    lsetup, lteardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
