/*
 * libFuzzer target for smtp/header: a stored message fed whole, byte by
 * byte and in seeded random chunks. All must agree on everything but
 * the split of a malformed section; the split is inside the input and
 * reported once; the From value stays within its bound.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smtp/header.h"
#include "fuzz_check.h"

static uint64_t
run(const uint8_t *data, size_t size, int chunking, struct smtp_header *h)
{
	uint64_t split = UINT64_MAX;
	unsigned seed = size;
	size_t pos = 0;

	smtp_header_init(h);
	while (pos < size) {
		size_t n = chunking == 0 ? size - pos : chunking == 1 ? 1 :
		    1 + (seed = seed * 1103515245u + 12345u) % 13;
		size_t k;

		if (n > size - pos)
			n = size - pos;
		k = smtp_header_feed(h, (const char *)data + pos, n);
		if (k != SMTP_HEADER_MORE) {
			CHECK(k <= n && split == UINT64_MAX && h->done);
			split = pos + k;
		}
		pos += n;
	}
	smtp_header_finish(h);
	CHECK(h->done && h->offset == size && h->end_offset <= size);
	CHECK(h->from_len <= SMTP_HEADER_FROM_MAX);
	CHECK(h->from[h->from_len] == '\0');
	if (split != UINT64_MAX && !h->malformed)
		CHECK(split == h->end_offset);
	if (split != UINT64_MAX)
		CHECK(split >= h->end_offset);
	return split;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct smtp_header h[3];
	uint64_t split[3];

	for (int c = 0; c < 3; c++)
		split[c] = run(data, size, c, &h[c]);
	/* One chunk: the split is always exact. */
	CHECK(split[0] == UINT64_MAX || split[0] == h[0].end_offset);
	for (int c = 1; c < 3; c++) {
		CHECK(h[c].end_offset == h[0].end_offset);
		CHECK(h[c].has_header_section == h[0].has_header_section);
		CHECK(h[c].malformed == h[0].malformed);
		CHECK(h[c].unterminated == h[0].unterminated);
		CHECK(h[c].received_count == h[0].received_count);
		CHECK(h[c].from_count == h[0].from_count);
		CHECK(h[c].has_date == h[0].has_date);
		CHECK(h[c].has_message_id == h[0].has_message_id);
		CHECK(h[c].from_len == h[0].from_len);
		CHECK(h[c].from_truncated == h[0].from_truncated);
		CHECK(memcmp(h[c].from, h[0].from, h[0].from_len) == 0);
		CHECK((split[c] == UINT64_MAX) == (split[0] == UINT64_MAX) ||
		    (h[0].malformed && h[0].unterminated));
	}
	return 0;
}
