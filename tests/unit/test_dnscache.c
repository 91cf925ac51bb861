/*
 * Unit tests for dns/dnscache: the TTL read off an answer (smallest
 * record TTL, RFC 2181's top bit, RFC 2308's SOA rule for denials, caps,
 * and every way a hostile answer can be cut short), and the table
 * (case-insensitive names, expiry on a given clock, least recently used
 * eviction, replacement, limits).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dns/dnscache.h"

/* An answer under construction: header, one question, then records. */
struct wire {
	unsigned char	b[6000];
	size_t		len;
};

static void
put16(unsigned char *p, unsigned v)
{
	p[0] = (unsigned char)(v >> 8);
	p[1] = (unsigned char)v;
}

static void
put32(unsigned char *p, uint32_t v)
{
	put16(p, v >> 16);
	put16(p + 2, v & 0xffff);
}

/* "mail.example" as the question, type TXT. */
static void
wire_start(struct wire *w)
{
	static const unsigned char q[] = { 4, 'm', 'a', 'i', 'l', 7, 'e', 'x',
	    'a', 'm', 'p', 'l', 'e', 0, 0, 16, 0, 1 };

	memset(w, 0, sizeof(*w));
	w->b[2] = 0x84;
	put16(w->b + 4, 1);
	memcpy(w->b + 12, q, sizeof(q));
	w->len = 12 + sizeof(q);
}

/* Appends a record named by a pointer to the question; section 6 = an,
 * 8 = ns (the header count at that offset is bumped). */
static void
wire_rr(struct wire *w, int section, unsigned type, uint32_t ttl,
    const unsigned char *rd, size_t rdlen)
{
	unsigned char *p = w->b + w->len;

	p[0] = 0xc0;
	p[1] = 12;
	put16(p + 2, type);
	put16(p + 4, 1);
	put32(p + 6, ttl);
	put16(p + 10, (unsigned)rdlen);
	memcpy(p + 12, rd, rdlen);
	w->len += 12 + rdlen;
	put16(w->b + section, (unsigned)(w->b[section] << 8 |
	    w->b[section + 1]) + 1);
}

static void
wire_txt(struct wire *w, uint32_t ttl)
{
	static const unsigned char txt[] = { 3, 'a', 'b', 'c' };

	wire_rr(w, 6, 16, ttl, txt, sizeof(txt));
}

static void
wire_soa(struct wire *w, uint32_t ttl, uint32_t minimum)
{
	unsigned char rd[24] = { 0xc0, 12, 0xc0, 12 };

	put32(rd + 20, minimum);
	wire_rr(w, 8, 6, ttl, rd, sizeof(rd));
}

static void
test_dnscache_ttl_positive(void **state)
{
	struct wire w;

	(void)state;
	wire_start(&w);
	wire_txt(&w, 300);
	wire_txt(&w, 120);
	wire_txt(&w, 900);
	assert_int_equal(dns_answer_ttl(w.b, w.len, DNS_CACHE_POSITIVE), 120);
	/* Capped. */
	wire_start(&w);
	wire_txt(&w, 86400);
	assert_int_equal(dns_answer_ttl(w.b, w.len, DNS_CACHE_POSITIVE),
	    DNS_CACHE_MAX_TTL);
	/* RFC 2181 8: the top bit set means 0. */
	wire_start(&w);
	wire_txt(&w, 0x80000010u);
	wire_txt(&w, 300);
	assert_int_equal(dns_answer_ttl(w.b, w.len, DNS_CACHE_POSITIVE), 0);
	/* No records: nothing to keep as positive. */
	wire_start(&w);
	assert_int_equal(dns_answer_ttl(w.b, w.len, DNS_CACHE_POSITIVE), 0);
}

static void
test_dnscache_ttl_negative(void **state)
{
	struct wire w;

	(void)state;
	/* RFC 2308 5: min(SOA TTL, MINIMUM). */
	wire_start(&w);
	wire_soa(&w, 300, 60);
	assert_int_equal(dns_answer_ttl(w.b, w.len, DNS_CACHE_NEGATIVE), 60);
	wire_start(&w);
	wire_soa(&w, 45, 3600);
	assert_int_equal(dns_answer_ttl(w.b, w.len, DNS_CACHE_NEGATIVE), 45);
	wire_start(&w);
	wire_soa(&w, 86400, 86400);
	assert_int_equal(dns_answer_ttl(w.b, w.len, DNS_CACHE_NEGATIVE),
	    DNS_CACHE_MAX_NEG_TTL);
	/* Without an SOA a denial is not cached. */
	wire_start(&w);
	assert_int_equal(dns_answer_ttl(w.b, w.len, DNS_CACHE_NEGATIVE), 0);
	/* An SOA too short to hold its five numbers is ignored. */
	wire_start(&w);
	wire_rr(&w, 8, 6, 300, (const unsigned char *)"\xc0\x0c", 2);
	assert_int_equal(dns_answer_ttl(w.b, w.len, DNS_CACHE_NEGATIVE), 0);
}

static void
test_dnscache_ttl_truncated(void **state)
{
	struct wire w;
	size_t answers_end;

	(void)state;
	wire_start(&w);
	wire_txt(&w, 300);
	answers_end = w.len;
	wire_soa(&w, 200, 60);
	assert_int_equal(dns_answer_ttl(w.b, w.len, DNS_CACHE_POSITIVE), 300);
	assert_int_equal(dns_answer_ttl(w.b, w.len, DNS_CACHE_NEGATIVE), 60);
	/* Every cut inside a section that is read makes it unusable. */
	for (size_t cut = 0; cut < w.len; cut++) {
		if (cut < answers_end)
			assert_int_equal(dns_answer_ttl(w.b, cut,
			    DNS_CACHE_POSITIVE), 0);
		assert_int_equal(dns_answer_ttl(w.b, cut, DNS_CACHE_NEGATIVE),
		    0);
	}
	assert_int_equal(dns_answer_ttl(NULL, 0, DNS_CACHE_POSITIVE), 0);
	/* A label type other than plain or pointer (RFC 6891). */
	wire_start(&w);
	w.b[12] = 0x41;
	wire_txt(&w, 300);
	assert_int_equal(dns_answer_ttl(w.b, w.len, DNS_CACHE_POSITIVE), 0);
	/* A counts field claiming more records than there are. */
	wire_start(&w);
	wire_txt(&w, 300);
	put16(w.b + 6, 200);
	assert_int_equal(dns_answer_ttl(w.b, w.len, DNS_CACHE_POSITIVE), 0);
}

static void
test_dnscache_table(void **state)
{
	struct dns_cache *c = dns_cache_new(4);
	unsigned char *a = NULL;
	size_t alen = 0;
	int st = -1;

	(void)state;
	assert_null(dns_cache_new(0));
	assert_false(dns_cache_get(NULL, "x", 1, 0, &st, &a, &alen));
	dns_cache_put(NULL, "x", 1, 0, (const unsigned char *)"x", 1, 5, 0);
	assert_int_equal(dns_cache_count(NULL), 0);

	dns_cache_put(c, "Mail.Example", 16, 7, (const unsigned char *)"abc",
	    3, 10, 1000);
	assert_true(dns_cache_get(c, "mail.EXAMPLE", 16, 1009, &st, &a,
	    &alen));
	assert_int_equal(st, 7);
	assert_int_equal(alen, 3);
	assert_memory_equal(a, "abc", 3);
	free(a);
	/* Another type, another name: misses. */
	assert_false(dns_cache_get(c, "mail.example", 15, 1000, &st, &a,
	    &alen));
	assert_false(dns_cache_get(c, "mail.example.", 16, 1000, &st, &a,
	    &alen));
	/* Expired at now + ttl, and dropped. */
	assert_false(dns_cache_get(c, "mail.example", 16, 1010, &st, &a,
	    &alen));
	assert_int_equal(dns_cache_count(c), 0);
	/* TTL 0 and oversized answers are not kept. */
	dns_cache_put(c, "a", 1, 0, (const unsigned char *)"a", 1, 0, 0);
	{
		unsigned char *big = calloc(1, DNS_CACHE_MAX_ANSWER + 1);

		dns_cache_put(c, "b", 1, 0, big, DNS_CACHE_MAX_ANSWER + 1, 60,
		    0);
		dns_cache_put(c, "c", 1, 0, big, DNS_CACHE_MAX_ANSWER, 60, 0);
		free(big);
	}
	assert_int_equal(dns_cache_count(c), 1);
	/* Replacing keeps one entry with the new answer. */
	dns_cache_put(c, "c", 1, 3, (const unsigned char *)"new", 3, 60, 0);
	assert_int_equal(dns_cache_count(c), 1);
	assert_true(dns_cache_get(c, "C", 1, 1, &st, &a, &alen));
	assert_int_equal(st, 3);
	assert_memory_equal(a, "new", 3);
	free(a);
	dns_cache_free(&c);
	assert_null(c);
}

static void
test_dnscache_lru(void **state)
{
	struct dns_cache *c = dns_cache_new(3);
	const unsigned char *x = (const unsigned char *)"x";
	unsigned char *a;
	size_t alen;
	int st;

	(void)state;
	dns_cache_put(c, "one", 1, 0, x, 1, 60, 0);
	dns_cache_put(c, "two", 1, 0, x, 1, 60, 0);
	dns_cache_put(c, "three", 1, 0, x, 1, 60, 0);
	/* Using "one" makes "two" the least recently used. */
	assert_true(dns_cache_get(c, "one", 1, 1, &st, &a, &alen));
	free(a);
	dns_cache_put(c, "four", 1, 0, x, 1, 60, 0);
	assert_int_equal(dns_cache_count(c), 3);
	assert_false(dns_cache_get(c, "two", 1, 1, &st, &a, &alen));
	assert_true(dns_cache_get(c, "one", 1, 1, &st, &a, &alen));
	free(a);
	assert_true(dns_cache_get(c, "three", 1, 1, &st, &a, &alen));
	free(a);
	assert_true(dns_cache_get(c, "four", 1, 1, &st, &a, &alen));
	free(a);
	/* Many more names than room: the count stays at the limit. */
	for (int i = 0; i < 1000; i++) {
		char name[32];

		snprintf(name, sizeof(name), "n%d.example", i);
		dns_cache_put(c, name, 16, 0, x, 1, 60, 0);
	}
	assert_int_equal(dns_cache_count(c), 3);
	assert_true(dns_cache_get(c, "n999.example", 16, 1, &st, &a, &alen));
	free(a);
	dns_cache_free(&c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dnscache_ttl_positive),
		cmocka_unit_test(test_dnscache_ttl_negative),
		cmocka_unit_test(test_dnscache_ttl_truncated),
		cmocka_unit_test(test_dnscache_table),
		cmocka_unit_test(test_dnscache_lru),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
