/*
 * Unit tests for dns/resolver: reverse names, and whole look-ups on a
 * libevent loop against a tiny DNS responder on a loopback UDP socket
 * inside the test (answers chosen by the first label of the name), so the
 * status mapping (OK / NXDOMAIN / NODATA / TEMPFAIL), TXT joining, the
 * null MX, cancellation, timeouts and the answer cache are exercised
 * through c-ares.
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
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>

#include "dns/resolver.h"
#include "dns_responder.h"

static void
test_resolver_reverse_names(void **state)
{
	unsigned char v4[4] = { 192, 0, 2, 3 }, v6[16];
	char out[128];

	(void)state;
	assert_int_equal(dns_reverse_name(AF_INET, v4, out, sizeof(out)), 0);
	assert_string_equal(out, "3.2.0.192.in-addr.arpa");
	assert_int_equal(inet_pton(AF_INET6, "2001:db8::cb01", v6), 1);
	assert_int_equal(dns_reverse_name(AF_INET6, v6, out, sizeof(out)), 0);
	assert_string_equal(out, "1.0.b.c.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0."
	    "0.0.8.b.d.0.1.0.0.2.ip6.arpa");
	assert_int_equal(dns_reverse_name(AF_INET6, v6, out, 20), -1);
	assert_int_equal(dns_reverse_name(AF_INET, v4, out, 10), -1);
}

/* --- a responder (dns_responder.h): the first label says how to answer --- */

static int
first_label_zone(void *arg, const char *name, unsigned qtype,
    struct dnsr_answer *a)
{
	char label[64];
	size_t n = strcspn(name, ".");

	(void)arg;
	if (n >= sizeof(label))
		n = sizeof(label) - 1;
	memcpy(label, name, n);
	label[n] = '\0';
	if (strcmp(label, "silent") == 0)
		return -1;
	if (strcmp(label, "nx") == 0)
		return 3;
	if (strcmp(label, "fail") == 0)
		return 2;
	if (strcmp(label, "nodata") == 0)
		return 0;
	if (strcmp(label, "nxsoa") == 0) {
		dnsr_put_soa(a, 300, 30);
		return 3;
	}
	if (strcmp(label, "nodatasoa") == 0) {
		dnsr_put_soa(a, 20, 600);
		return 0;
	}
	if (strcmp(label, "ttl0") == 0)
		a->ttl = 0;
	if (qtype == 1) {
		static const unsigned char ip[4] = { 192, 0, 2, 7 };

		dnsr_put_rr(a, 1, ip, 4);
		dnsr_put_rr(a, 1, ip, 4);
	} else if (qtype == 15 && strcmp(label, "nullmx") == 0) {
		static const unsigned char mx[3] = { 0, 0, 0 };

		dnsr_put_rr(a, 15, mx, 3);
	} else if (qtype == 15) {
		static const unsigned char mx[] = { 0, 10, 2, 'm', 'x', 7,
		    'e', 'x', 'a', 'm', 'p', 'l', 'e', 0 };

		dnsr_put_rr(a, 15, mx, sizeof(mx));
	} else if (qtype == 16) {
		static const unsigned char txt[] = { 6, 'v', '=', 's', 'p',
		    'f', '1', 5, ' ', '-', 'a', 'l', 'l' };

		dnsr_put_rr(a, 16, txt, sizeof(txt));
	}
	return 0;
}

struct fixture {
	struct event_base	*base;
	struct dns_responder	 resp;
	struct resolver		*res;
	struct dns_result	 last;
	char			 text[256];
	unsigned		 pref;
	int			 calls;
};

static int
setup(void **state)
{
	static struct fixture f;
	const char *err = NULL;
	char servers[64];

	memset(&f, 0, sizeof(f));
	f.base = event_base_new();
	if (dnsr_start(&f.resp, f.base, first_label_zone, NULL, servers,
	    sizeof(servers)) == -1)
		return -1;
	f.res = resolver_new_servers(f.base, servers, 300, 0, &err);
	if (f.res == NULL)
		return -1;
	*state = &f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	resolver_free(&f->res);
	assert_null(f->res);
	dnsr_stop(&f->resp);
	event_base_free(f->base);
	return 0;
}

static void
record_cb(void *arg, const struct dns_result *r)
{
	struct fixture *f = arg;

	f->calls++;
	f->last = *r;
	f->last.rr = NULL;
	f->text[0] = '\0';
	if (r->n > 0 && r->rr[0].text != NULL) {
		snprintf(f->text, sizeof(f->text), "%s", r->rr[0].text);
		f->pref = r->rr[0].pref;
	}
	event_base_loopbreak(f->base);
}

static void
run_query(struct fixture *f, const char *name, enum dns_type type)
{
	f->calls = 0;
	(void)resolver_query(f->res, name, type, record_cb, f);
	/* The callback never runs inside resolver_query(). */
	assert_int_equal(f->calls, 0);
	event_base_dispatch(f->base);
	assert_int_equal(f->calls, 1);
}

struct status_case {
	const char	*name;
	enum dns_type	 type;
	enum dns_status	 status;
	size_t		 n;
	const char	*text;
};

static const struct status_case status_cases[] = {
	{ "ok.example", DNS_A, DNS_OK, 2, NULL },
	{ "nx.example", DNS_A, DNS_NXDOMAIN, 0, NULL },
	{ "nodata.example", DNS_MX, DNS_NODATA, 0, NULL },
	{ "ok.example", DNS_AAAA, DNS_NODATA, 0, NULL },
	{ "fail.example", DNS_TXT, DNS_TEMPFAIL, 0, NULL },
	{ "silent.example", DNS_A, DNS_TEMPFAIL, 0, NULL },
	{ "ok.example", DNS_MX, DNS_OK, 1, "mx.example" },
	{ "nullmx.example", DNS_MX, DNS_OK, 1, "" },
	/* RFC 7208 3.3: the strings of one TXT record are joined. */
	{ "ok.example", DNS_TXT, DNS_OK, 1, "v=spf1 -all" },
	{ "", DNS_A, DNS_NXDOMAIN, 0, NULL },
};

static void
test_resolver_status_table(void **state)
{
	struct fixture *f = *state;

	for (size_t i = 0; i < sizeof(status_cases) / sizeof(status_cases[0]);
	    i++) {
		const struct status_case *c = &status_cases[i];

		run_query(f, c->name, c->type);
		if (f->last.status != c->status || f->last.n != c->n)
			fail_msg("%s %s: %s n=%zu, want %s n=%zu", c->name,
			    dns_type_name(c->type),
			    dns_status_name(f->last.status), f->last.n,
			    dns_status_name(c->status), c->n);
		if (c->status == DNS_TEMPFAIL)
			assert_non_null(f->last.error);
		if (c->text != NULL)
			assert_string_equal(f->text, c->text);
	}
}

static void
never_cb(void *arg, const struct dns_result *r)
{
	(void)arg;
	(void)r;
	fail_msg("a cancelled query's callback ran");
}

static void
test_resolver_cancel(void **state)
{
	struct fixture *f = *state;
	struct dns_query *q1, *q2;

	/* One answered quickly, one never: neither may call back. */
	q1 = resolver_query(f->res, "ok.example", DNS_A, never_cb, NULL);
	q2 = resolver_query(f->res, "silent.example", DNS_A, never_cb, NULL);
	dns_query_cancel(&q1);
	dns_query_cancel(&q2);
	assert_null(q1);
	assert_null(q2);
	dns_query_cancel(&q1);		/* NULL is fine */
	run_query(f, "ok.example", DNS_MX);
	assert_string_equal(f->text, "mx.example");
	assert_int_equal(f->pref, 10);
	/* The silent one is still out there: freeing the resolver ends it. */
}

/* How many questions reached the responder while name/type was asked. */
static unsigned
asked(struct fixture *f, const char *name, enum dns_type type,
    enum dns_status want)
{
	unsigned before = f->resp.queries;

	run_query(f, name, type);
	if (f->last.status != want)
		fail_msg("%s %s: %s, want %s", name, dns_type_name(type),
		    dns_status_name(f->last.status), dns_status_name(want));
	return f->resp.queries - before;
}

static void
test_resolver_cache(void **state)
{
	struct fixture *f = *state;
	struct dns_query *q;

	/* Off by default for resolver_new_servers(): every look-up asks. */
	assert_int_equal(asked(f, "ok.example", DNS_A, DNS_OK), 1);
	assert_int_equal(asked(f, "ok.example", DNS_A, DNS_OK), 1);
	resolver_set_cache(f->res, 16);
	assert_int_equal(asked(f, "ok.example", DNS_A, DNS_OK), 1);
	/* Answered from the cache, still from the loop (run_query checks). */
	assert_int_equal(asked(f, "ok.example", DNS_A, DNS_OK), 0);
	assert_int_equal(f->last.n, 2);
	assert_int_equal(asked(f, "OK.Example", DNS_A, DNS_OK), 0);
	/* Another type is another question. */
	assert_int_equal(asked(f, "ok.example", DNS_TXT, DNS_OK), 1);
	assert_int_equal(asked(f, "ok.example", DNS_TXT, DNS_OK), 0);
	assert_string_equal(f->text, "v=spf1 -all");
	/* TTL 0, failures, and denials without an SOA are never kept. */
	assert_int_equal(asked(f, "ttl0.example", DNS_A, DNS_OK), 1);
	assert_int_equal(asked(f, "ttl0.example", DNS_A, DNS_OK), 1);
	assert_int_equal(asked(f, "fail.example", DNS_A, DNS_TEMPFAIL), 1);
	assert_int_equal(asked(f, "fail.example", DNS_A, DNS_TEMPFAIL), 1);
	assert_int_equal(asked(f, "nx.example", DNS_A, DNS_NXDOMAIN), 1);
	assert_int_equal(asked(f, "nx.example", DNS_A, DNS_NXDOMAIN), 1);
	assert_int_equal(asked(f, "nodata.example", DNS_MX, DNS_NODATA), 1);
	assert_int_equal(asked(f, "nodata.example", DNS_MX, DNS_NODATA), 1);
	/* Denials with an SOA are kept (RFC 2308), status and all. */
	assert_int_equal(asked(f, "nxsoa.example", DNS_TXT, DNS_NXDOMAIN), 1);
	assert_int_equal(asked(f, "nxsoa.example", DNS_TXT, DNS_NXDOMAIN), 0);
	assert_int_equal(asked(f, "nodatasoa.example", DNS_MX, DNS_NODATA),
	    1);
	assert_int_equal(asked(f, "nodatasoa.example", DNS_MX, DNS_NODATA),
	    0);
	assert_int_equal(resolver_cache_count(f->res), 4);
	/* A cancelled cache hit does not call back either. */
	q = resolver_query(f->res, "ok.example", DNS_A, never_cb, NULL);
	dns_query_cancel(&q);
	run_query(f, "ok.example", DNS_MX);
	/* Turning it off forgets everything. */
	resolver_set_cache(f->res, 0);
	assert_int_equal(resolver_cache_count(f->res), 0);
	assert_int_equal(asked(f, "ok.example", DNS_A, DNS_OK), 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_resolver_reverse_names),
		cmocka_unit_test_setup_teardown(test_resolver_status_table,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_resolver_cancel, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_resolver_cache, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
