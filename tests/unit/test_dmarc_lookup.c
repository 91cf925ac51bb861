/*
 * Unit tests for DMARC policy discovery (RFC 7489 6.6.3) through the real
 * resolver against a tiny DNS responder on a loopback UDP socket inside
 * the test, which answers TXT queries from a table: the From domain's
 * record, the fallback to the Organizational Domain, several records,
 * non-DMARC TXT, SERVFAIL, an invalid record, and cancellation.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>

#include "dns/resolver.h"
#include "policy/dmarc.h"
#include "policy/psl.h"
#include "dns_responder.h"

struct zone {
	const char	*name;
	unsigned	 rcode;		/* 0, 2 (SERVFAIL) or 3 (NXDOMAIN) */
	const char	*txt[3];	/* records; none and rcode 0 = NODATA */
};

static const struct zone zones[] = {
	{ "_dmarc.example.com", 0, { "v=DMARC1; p=reject; sp=quarantine" } },
	{ "_dmarc.own.example.com", 0, { "v=DMARC1; p=none" } },
	{ "_dmarc.spf.example.com", 0, { "v=spf1 -all" } },
	{ "_dmarc.nodata.example.com", 0, { NULL } },
	{ "_dmarc.two.example.com", 0, { "v=DMARC1; p=none",
	    "v=DMARC1; p=reject" } },
	{ "_dmarc.mixed.example.com", 0, { "hello", "v=DMARC1; p=quarantine",
	    "v=spf1" } },
	{ "_dmarc.broken.example.com", 0, { "v=DMARC1; p=reject; pct=500" } },
	{ "_dmarc.down.example.com", 2, { NULL } },
	{ "_dmarc.down.example", 2, { NULL } },
	{ "_dmarc.co.uk", 0, { "v=DMARC1; p=reject" } },
};

struct fixture {
	struct event_base	*base;
	struct dns_responder	 dns;		/* dns.queries: questions seen */
	struct resolver		*res;
	struct psl		*psl;
	struct dmarc_policy_found last;
	int			 calls;
};

static const struct zone *
zone_find(const char *name)
{
	for (size_t i = 0; i < sizeof(zones) / sizeof(zones[0]); i++)
		if (strcasecmp(zones[i].name, name) == 0)
			return &zones[i];
	return NULL;
}

/* The zones above, for the loopback responder (dns_responder.h). */
static int
dmarc_zone(void *arg, const char *name, unsigned qtype, struct dnsr_answer *a)
{
	const struct zone *z = zone_find(name);

	(void)arg;
	(void)qtype;
	if (z == NULL)
		return 3;
	for (size_t i = 0; z->rcode == 0 && i < 3 && z->txt[i] != NULL; i++) {
		unsigned char rd[256];
		size_t len = strlen(z->txt[i]);

		rd[0] = (unsigned char)len;
		memcpy(rd + 1, z->txt[i], len);
		dnsr_put_rr(a, 16, rd, len + 1);	/* TXT */
	}
	return (int)z->rcode;
}

static int
setup(void **state)
{
	static struct fixture f;
	static const char list[] = "com\nuk\nco.uk\n";
	const char *err = NULL;
	char servers[64];

	memset(&f, 0, sizeof(f));
	f.base = event_base_new();
	if (dnsr_start(&f.dns, f.base, dmarc_zone, &f, servers,
	    sizeof(servers)) == -1)
		return -1;
	f.res = resolver_new_servers(f.base, servers, 300, 0, &err);
	f.psl = psl_parse(list, sizeof(list) - 1, NULL, &err);
	if (f.res == NULL || f.psl == NULL)
		return -1;
	*state = &f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	resolver_free(&f->res);
	psl_free(&f->psl);
	dnsr_stop(&f->dns);
	event_base_free(f->base);
	return 0;
}

static void
found_cb(void *arg, const struct dmarc_policy_found *found)
{
	struct fixture *f = arg;

	f->calls++;
	f->last = *found;
	event_base_loopbreak(f->base);
}

struct lookup_case {
	const char			*from;
	enum dmarc_lookup_status	 st;
	bool				 is_org;
	const char			*domain;
	const char			*org;
	int				 p;	/* FOUND: rec.p */
	unsigned			 queries;
};

static const struct lookup_case lookup_cases[] = {
	{ "example.com", DMARC_LOOKUP_FOUND, false, "example.com",
	    "example.com", DMARC_POLICY_REJECT, 1 },
	{ "Example.COM.", DMARC_LOOKUP_FOUND, false, "example.com",
	    "example.com", DMARC_POLICY_REJECT, 1 },
	/* NXDOMAIN at the From domain: the org domain's record */
	{ "mail.example.com", DMARC_LOOKUP_FOUND, true, "example.com",
	    "example.com", DMARC_POLICY_REJECT, 2 },
	{ "a.b.example.com", DMARC_LOOKUP_FOUND, true, "example.com",
	    "example.com", DMARC_POLICY_REJECT, 2 },
	/* its own record wins over the org's */
	{ "own.example.com", DMARC_LOOKUP_FOUND, false, "own.example.com",
	    "example.com", DMARC_POLICY_NONE, 1 },
	/* only non-DMARC TXT, or NODATA: fall back */
	{ "spf.example.com", DMARC_LOOKUP_FOUND, true, "example.com",
	    "example.com", DMARC_POLICY_REJECT, 2 },
	{ "nodata.example.com", DMARC_LOOKUP_FOUND, true, "example.com",
	    "example.com", DMARC_POLICY_REJECT, 2 },
	/* non-DMARC records beside one DMARC record are discarded */
	{ "mixed.example.com", DMARC_LOOKUP_FOUND, false, "mixed.example.com",
	    "example.com", DMARC_POLICY_QUARANTINE, 1 },
	/* two DMARC records: no policy, and no fallback (step 5) */
	{ "two.example.com", DMARC_LOOKUP_NONE, false, "two.example.com",
	    "example.com", -1, 1 },
	{ "broken.example.com", DMARC_LOOKUP_PERMERROR, false,
	    "broken.example.com", "example.com", -1, 1 },
	/* SERVFAIL at the From domain, or at the org after NXDOMAIN */
	{ "down.example.com", DMARC_LOOKUP_TEMPERROR, false, NULL,
	    "example.com", -1, 1 },
	{ "x.down.example", DMARC_LOOKUP_TEMPERROR, true, NULL,
	    "down.example", -1, 2 },
	/* nothing anywhere */
	{ "example.net", DMARC_LOOKUP_NONE, false, "example.net",
	    "example.net", -1, 1 },
	{ "www.example.net", DMARC_LOOKUP_NONE, false, "www.example.net",
	    "example.net", -1, 2 },
	/* a public suffix has no org domain: its own name only */
	{ "co.uk", DMARC_LOOKUP_FOUND, false, "co.uk", "", DMARC_POLICY_REJECT,
	    1 },
	/* not a name: no query at all */
	{ "a..example.com", DMARC_LOOKUP_NONE, false, NULL, "", -1, 0 },
	{ "", DMARC_LOOKUP_NONE, false, NULL, "", -1, 0 },
};

static void
test_dmarc_lookup_table(void **state)
{
	struct fixture *f = *state;

	for (size_t i = 0; i < sizeof(lookup_cases) / sizeof(lookup_cases[0]);
	    i++) {
		const struct lookup_case *c = &lookup_cases[i];
		struct dmarc_lookup *l;

		f->calls = 0;
		f->dns.queries = 0;
		l = dmarc_lookup_start(f->res, f->psl, c->from, found_cb, f);
		assert_non_null(l);
		/* Never from inside the start call. */
		assert_int_equal(f->calls, 0);
		event_base_dispatch(f->base);
		assert_int_equal(f->calls, 1);
		if (f->last.status != c->st || f->dns.queries != c->queries)
			fail_msg("case %zu (%s): status %d queries %u (%s)", i,
			    c->from, f->last.status, f->dns.queries,
			    f->last.reason);
		assert_non_null(f->last.reason);
		if (c->st == DMARC_LOOKUP_FOUND ||
		    c->st == DMARC_LOOKUP_TEMPERROR)
			assert_int_equal(f->last.is_org, c->is_org);
		if (c->domain != NULL)
			assert_string_equal(f->last.domain, c->domain);
		assert_string_equal(f->last.org_domain, c->org);
		if (c->p != -1)
			assert_int_equal(f->last.rec.p, c->p);
	}
}

static void
never_cb(void *arg, const struct dmarc_policy_found *found)
{
	(void)arg;
	(void)found;
	fail_msg("a cancelled lookup called back");
}

static void
stop_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	event_base_loopbreak(arg);
}

static void
test_dmarc_lookup_cancel(void **state)
{
	struct fixture *f = *state;
	struct dmarc_lookup *l, *l2;
	struct timeval tv = { 0, 200000 };
	struct event *stop = evtimer_new(f->base, stop_cb, f->base);

	l = dmarc_lookup_start(f->res, f->psl, "mail.example.com", never_cb,
	    NULL);
	l2 = dmarc_lookup_start(f->res, f->psl, "..", never_cb, NULL);
	dmarc_lookup_cancel(&l);
	dmarc_lookup_cancel(&l2);
	assert_null(l);
	assert_null(l2);
	dmarc_lookup_cancel(&l);	/* NULL is fine */
	evtimer_add(stop, &tv);
	event_base_dispatch(f->base);
	event_free(stop);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_dmarc_lookup_table, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_dmarc_lookup_cancel, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
