/*
 * Unit tests for dns/resolver: reverse names, and whole look-ups on a
 * libevent loop against a tiny DNS responder on a loopback UDP socket
 * inside the test (answers chosen by the first label of the name), so the
 * status mapping (OK / NXDOMAIN / NODATA / TEMPFAIL), TXT joining, the
 * null MX, cancellation and timeouts are exercised through c-ares.
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

/* --- a responder: the first label says how to answer --- */

struct responder {
	int		 fd;
	struct event	*ev;
	unsigned	 queries;
};

static size_t
put_rr(unsigned char *p, uint16_t type, const unsigned char *rd, size_t rdlen)
{
	p[0] = 0xc0;		/* name: pointer to the question */
	p[1] = 12;
	p[2] = (unsigned char)(type >> 8);
	p[3] = (unsigned char)type;
	p[4] = 0;
	p[5] = 1;		/* IN */
	memset(p + 6, 0, 3);
	p[9] = 60;		/* TTL */
	p[10] = (unsigned char)(rdlen >> 8);
	p[11] = (unsigned char)rdlen;
	memcpy(p + 12, rd, rdlen);
	return 12 + rdlen;
}

static void
responder_cb(evutil_socket_t fd, short what, void *arg)
{
	struct responder *r = arg;
	unsigned char q[512], a[1024];
	struct sockaddr_storage from;
	socklen_t fromlen = sizeof(from);
	ssize_t n;
	size_t qend, o;
	char label[64];
	uint16_t qtype;
	unsigned ancount = 0, rcode = 0;

	(void)what;
	n = recvfrom(fd, q, sizeof(q), 0, (struct sockaddr *)&from, &fromlen);
	if (n < 17)
		return;
	r->queries++;
	memcpy(label, q + 13, q[12] < 63 ? q[12] : 63);
	label[q[12] < 63 ? q[12] : 63] = '\0';
	for (qend = 12; qend < (size_t)n && q[qend] != 0; qend += q[qend] + 1u)
		;
	qend += 5;
	if (qend > (size_t)n)
		return;
	qtype = (uint16_t)(q[qend - 4] << 8 | q[qend - 3]);
	if (strcmp(label, "silent") == 0)
		return;
	memcpy(a, q, qend);
	o = qend;
	if (strcmp(label, "nx") == 0) {
		rcode = 3;
	} else if (strcmp(label, "fail") == 0) {
		rcode = 2;
	} else if (strcmp(label, "nodata") == 0) {
		rcode = 0;
	} else if (qtype == 1) {
		static const unsigned char ip[4] = { 192, 0, 2, 7 };

		o += put_rr(a + o, 1, ip, 4);
		o += put_rr(a + o, 1, ip, 4);
		ancount = 2;
	} else if (qtype == 15 && strcmp(label, "nullmx") == 0) {
		static const unsigned char mx[3] = { 0, 0, 0 };

		o += put_rr(a + o, 15, mx, 3);
		ancount = 1;
	} else if (qtype == 15) {
		static const unsigned char mx[] = { 0, 10, 2, 'm', 'x', 7,
		    'e', 'x', 'a', 'm', 'p', 'l', 'e', 0 };

		o += put_rr(a + o, 15, mx, sizeof(mx));
		ancount = 1;
	} else if (qtype == 16) {
		static const unsigned char txt[] = { 6, 'v', '=', 's', 'p',
		    'f', '1', 5, ' ', '-', 'a', 'l', 'l' };

		o += put_rr(a + o, 16, txt, sizeof(txt));
		ancount = 1;
	}
	a[2] = 0x84 | (q[2] & 1);	/* QR AA RD */
	a[3] = (unsigned char)rcode;
	a[6] = 0;
	a[7] = (unsigned char)ancount;
	sendto(fd, a, o, 0, (struct sockaddr *)&from, fromlen);
}

struct fixture {
	struct event_base	*base;
	struct responder	 resp;
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
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	const char *err = NULL;
	char servers[64];

	memset(&f, 0, sizeof(f));
	f.base = event_base_new();
	f.resp.fd = socket(AF_INET, SOCK_DGRAM, 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(f.resp.fd, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    getsockname(f.resp.fd, (struct sockaddr *)&sin, &len) == -1)
		return -1;
	f.resp.ev = event_new(f.base, f.resp.fd, EV_READ | EV_PERSIST,
	    responder_cb, &f.resp);
	event_add(f.resp.ev, NULL);
	snprintf(servers, sizeof(servers), "127.0.0.1:%u",
	    (unsigned)ntohs(sin.sin_port));
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
	event_free(f->resp.ev);
	close(f->resp.fd);
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

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_resolver_reverse_names),
		cmocka_unit_test_setup_teardown(test_resolver_status_table,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_resolver_cancel, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
