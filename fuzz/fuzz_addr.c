/*
 * libFuzzer target for core/addr. The first byte picks the path flags;
 * the rest is a MAIL/RCPT path, a plain address and a header value.
 * Beyond not crashing: what parses must format and parse back to the
 * same address, within the RFC 5321 length limits.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/addr.h"
#include "fuzz_check.h"

static void
check_round_trip(const struct mailaddr *a, unsigned flags)
{
	char fmt[ADDR_FORMAT_MAX], path[ADDR_FORMAT_MAX + 2];
	struct mailaddr b;
	struct str_view cur;
	int n;

	CHECK(strlen(a->local) <= ADDR_LOCAL_MAX);
	CHECK(strlen(a->domain) <= ADDR_DOMAIN_MAX);
	n = addr_format(a, fmt, sizeof(fmt));
	CHECK(n >= 0);
	n = snprintf(path, sizeof(path), "<%s>", fmt);
	CHECK(n > 0 && (size_t)n < sizeof(path));
	cur = str_view_make(path, (size_t)n);
	if (addr_parse_path(&cur, &b, flags, NULL) != ADDR_OK)
		abort();
	CHECK(cur.len == 0);
	CHECK(addr_equal(a, &b));
	CHECK(a->is_utf8 == b.is_utf8);
	CHECK(a->is_postmaster == b.is_postmaster);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mailaddr a, list[8];
	struct str_view cur;
	const char *err = NULL;
	unsigned flags;
	char *s;
	int rc;

	if (size == 0)
		return 0;
	flags = data[0] & (ADDR_ALLOW_NULL | ADDR_ALLOW_POSTMASTER |
	    ADDR_ALLOW_UTF8);
	data++;
	size--;

	cur = str_view_make((const char *)data, size);
	rc = addr_parse_path(&cur, &a, flags, &err);
	if (rc == ADDR_OK) {
		CHECK(cur.p >= (const char *)data && cur.len < size);
		check_round_trip(&a, flags);
	} else {
		CHECK(rc == ADDR_ERR_SYNTAX || rc == ADDR_ERR_UTF8);
		CHECK(err != NULL && cur.p == (const char *)data);
	}

	if ((s = malloc(size + 1)) == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	if (addr_parse_plain(s, &a) == ADDR_OK)
		check_round_trip(&a, ADDR_ALLOW_UTF8);
	free(s);

	rc = addr_parse_header_list(str_view_make((const char *)data, size),
	    list, 8, &err);
	CHECK(rc >= -1 && rc <= 8);
	for (int i = 0; i < rc; i++)
		check_round_trip(&list[i], ADDR_ALLOW_UTF8);
	return 0;
}
