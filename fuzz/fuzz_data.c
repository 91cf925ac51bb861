/*
 * libFuzzer target for smtp/data. The first byte picks the mode, the
 * size limit and a chunking seed; the rest is what a client sends after
 * DATA. Checked beyond memory safety:
 *   - the end is exactly the first <CRLF>.<CRLF> (counting the DATA
 *     command's CRLF) and nothing else: no smuggling;
 *   - byte-at-a-time, seeded random chunks and one chunk all agree;
 *   - in NORMALIZE mode what is stored has no bare CR or LF;
 *   - never more than max_size octets are stored.
 * The same bytes then go through the BDAT reader in two chunkings.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smtp/data.h"
#include "fuzz_check.h"

struct out {
	char	*buf;
	size_t	 len, cap;
};

static void
out_write(void *arg, const char *p, size_t len)
{
	struct out *o = arg;

	CHECK(len > 0 && len <= o->cap - o->len);
	memcpy(o->buf + o->len, p, len);
	o->len += len;
}

struct run {
	struct out	out;
	size_t		consumed;
	bool		done, bare, too_big;
};

static void
run_data(const uint8_t *in, size_t len, enum smtp_data_mode mode,
    uint64_t max, unsigned seed, int chunking, struct run *r)
{
	struct smtp_data d;
	size_t pos = 0;

	smtp_data_init(&d, mode, max, out_write, &r->out);
	while (pos < len && !d.done) {
		size_t n = chunking == 0 ? len - pos : chunking == 1 ? 1 :
		    1 + (seed = seed * 1103515245u + 12345u) % 17;

		if (n > len - pos)
			n = len - pos;
		pos += smtp_data_feed(&d, (const char *)in + pos, n);
	}
	r->consumed = pos;
	r->done = d.done;
	r->bare = d.has_bare_newline;
	r->too_big = d.too_big;
	CHECK(d.raw == pos);
	CHECK(r->out.len <= max);
}

static size_t
reference_end(const uint8_t *in, size_t len)
{
	/* CRLF "." CRLF where the first CRLF may be the DATA command's. */
	if (len >= 3 && memcmp(in, ".\r\n", 3) == 0)
		return 3;
	for (size_t i = 0; i + 5 <= len; i++)
		if (memcmp(in + i, "\r\n.\r\n", 5) == 0)
			return i + 5;
	return SIZE_MAX;
}

/* truncated: cut at max_size, maybe between a CR and its LF. */
static void
check_no_bare(const struct out *o, bool truncated)
{
	for (size_t i = 0; i < o->len; i++) {
		if (o->buf[i] == '\r' && i + 1 == o->len && truncated)
			continue;
		if (o->buf[i] == '\r')
			CHECK(i + 1 < o->len && o->buf[i + 1] == '\n');
		if (o->buf[i] == '\n')
			CHECK(i > 0 && o->buf[i - 1] == '\r');
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct run r[3];
	enum smtp_data_mode mode;
	uint64_t max;
	size_t end;

	if (size == 0)
		return 0;
	mode = (data[0] & 1) ? DATA_BARE_NORMALIZE : DATA_BARE_REJECT;
	max = (data[0] & 2) ? (uint64_t)(data[0] >> 2) : UINT64_MAX;
	data++;
	size--;

	memset(r, 0, sizeof(r));
	for (int c = 0; c < 3; c++) {
		r[c].out.cap = 2 * size + 2;
		if ((r[c].out.buf = malloc(r[c].out.cap)) == NULL)
			abort();
		run_data(data, size, mode, max, size > 0 ? data[0] : 0, c,
		    &r[c]);
	}
	end = reference_end(data, size);
	CHECK(r[0].done == (end != SIZE_MAX));
	CHECK(r[0].consumed == (end != SIZE_MAX ? end : size));
	for (int c = 1; c < 3; c++) {
		CHECK(r[c].consumed == r[0].consumed);
		CHECK(r[c].done == r[0].done && r[c].bare == r[0].bare);
		CHECK(r[c].too_big == r[0].too_big);
		CHECK(r[c].out.len == r[0].out.len);
		CHECK(memcmp(r[c].out.buf, r[0].out.buf, r[0].out.len) == 0);
	}
	if (mode == DATA_BARE_NORMALIZE)
		check_no_bare(&r[0].out, r[0].too_big);

	/* BDAT: all bytes, split in two at a data-chosen point. */
	{
		struct smtp_data d1, d2;
		size_t cut = size > 0 ? data[0] % (size + 1) : 0;

		r[1].out.len = r[2].out.len = 0;
		smtp_data_init(&d1, mode, max, out_write, &r[1].out);
		smtp_bdat_feed(&d1, (const char *)data, size);
		smtp_bdat_finish(&d1);
		smtp_data_init(&d2, mode, max, out_write, &r[2].out);
		smtp_bdat_feed(&d2, (const char *)data, cut);
		smtp_bdat_feed(&d2, (const char *)data + cut, size - cut);
		smtp_bdat_finish(&d2);
		CHECK(d1.done && d2.done);
		CHECK(d1.has_bare_newline == d2.has_bare_newline);
		CHECK(d1.size == d2.size && d1.too_big == d2.too_big);
		CHECK(r[1].out.len == r[2].out.len &&
		    memcmp(r[1].out.buf, r[2].out.buf, r[1].out.len) == 0);
		if (mode == DATA_BARE_NORMALIZE)
			check_no_bare(&r[1].out, d1.too_big);
		if (!d1.has_bare_newline && !d1.too_big)
			CHECK(r[1].out.len == size &&
			    memcmp(r[1].out.buf, data, size) == 0);
	}
	for (int c = 0; c < 3; c++)
		free(r[c].out.buf);
	return 0;
}
