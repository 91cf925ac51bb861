/*
 * libFuzzer target for dns/dnscache: the input is a DNS answer as a
 * server (or anyone who can reach our UDP port first) sends it. Beyond
 * not reading past it: the TTL read from it never exceeds the caps, and
 * what the cache keeps comes back byte for byte, under any case of the
 * name, until it expires.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dns/dnscache.h"
#include "fuzz_check.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint32_t pos = dns_answer_ttl(data, size, DNS_CACHE_POSITIVE);
	uint32_t neg = dns_answer_ttl(data, size, DNS_CACHE_NEGATIVE);
	struct dns_cache *c = dns_cache_new(2);
	unsigned char *got = NULL;
	size_t len = 0;
	int status = 0;

	CHECK(pos <= DNS_CACHE_MAX_TTL);
	CHECK(neg <= DNS_CACHE_MAX_NEG_TTL);
	dns_cache_put(c, "Fuzz.Example", 16, 1, data, size, pos, 100);
	if (pos > 0 && size > 0 && size <= DNS_CACHE_MAX_ANSWER) {
		CHECK(dns_cache_get(c, "fuzz.example", 16, 100 + pos - 1,
		    &status, &got, &len));
		CHECK(status == 1 && len == size && memcmp(got, data, size) == 0);
		free(got);
		CHECK(!dns_cache_get(c, "FUZZ.EXAMPLE", 16, 100 + pos, &status,
		    &got, &len));
	}
	CHECK(dns_cache_count(c) == 0);
	dns_cache_free(&c);
	return 0;
}
