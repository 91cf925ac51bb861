/*
 * Unit tests for smtp/header: the streaming header-section scanner. Each
 * message is fed whole, one byte at a time and in random chunkings; the
 * results, and the split point reported while streaming, must agree.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "smtp/header.h"

struct hdr_case {
	const char	*name;
	const char	*msg;
	uint64_t	 end;		/* end_offset */
	bool		 split;		/* reported during feeding (vs finish) */
	bool		 has_section, malformed, unterminated;
	unsigned	 received, from;
	bool		 date, msgid;
	const char	*from_value;
};

#define NOFROM	""

static const struct hdr_case cases[] = {
	{ "simple", "From: a@b\r\nSubject: x\r\n\r\nbody\r\n", 23, true, true,
	    false, false, 0, 1, false, false, "a@b" },
	{ "folded from", "From: Alice\r\n <a@b>\r\nDate: x\r\n\r\nb\r\n", 30,
	    true, true, false, false, 0, 1, true, false, "Alice <a@b>" },
	{ "folded tab", "From: A\r\n\t\t<a@b> \r\n\r\n", 19, true, true,
	    false, false, 0, 1, false, false, "A\t\t<a@b>" },
	{ "received", "Received: a\r\nReceived: b\r\n\tfolded\r\nreceived: "
	    "c\r\nRECEIVED:d\r\n\r\n", 60, true, true, false, false, 4, 0,
	    false, false, NOFROM },
	{ "message-id", "Message-Id: <x@y>\r\n\r\n", 19, true, true, false,
	    false, 0, 0, false, true, NOFROM },
	{ "two from", "From: first@x\r\nfrom: second@y\r\n\r\n", 31, true,
	    true, false, false, 0, 2, false, false, "first@x" },
	{ "no empty line", "Subject: x\r\nFrom: y\r\n", 21, false, true, false,
	    false, 0, 1, false, false, "y" },
	{ "no header", "Hello world\r\n\r\nmore\r\n", 0, true, false, true,
	    false, 0, 0, false, false, NOFROM },
	{ "mbox From_ line", "From a@b Sat Jan  1\r\nFrom: x\r\n\r\n", 0, true,
	    false, true, false, 0, 0, false, false, NOFROM },
	{ "empty first", "\r\nFrom: not-a-header\r\n", 0, true, true, false,
	    false, 0, 0, false, false, NOFROM },
	{ "leading space", " x: y\r\n\r\n", 0, true, false, true, false, 0, 0,
	    false, false, NOFROM },
	{ "empty name", ":x\r\n\r\n", 0, true, false, true, false, 0, 0, false,
	    false, NOFROM },
	{ "non-field later", "A: b\r\nnot a header\r\n\r\n", 6, true, true,
	    true, false, 0, 0, false, false, NOFROM },
	{ "obs wsp before colon", "Subject  : x\r\nFrom\t: q@r\r\n\r\n", 26,
	    true, true, false, false, 0, 1, false, false, "q@r" },
	{ "empty message", "", 0, false, true, false, false, 0, 0, false,
	    false, NOFROM },
	{ "unterminated", "Subject: x", 10, false, true, false, true, 0, 0,
	    false, false, NOFROM },
	{ "unterminated name", "Subject: x\r\nFoo", 12, false, true, true,
	    true, 0, 0, false, false, NOFROM },
	{ "trim", "From:   a@b   \r\n\r\n", 16, true, true, false, false, 0,
	    1, false, false, "a@b" },
	{ "bare LF", "From: a\nSubject: b\n\nbody", 19, true, true, false,
	    true, 0, 1, false, false, "a" },
	{ "bad last line", "A: b\r\nnot a head", 6, true, true, true, true,
	    0, 0, false, false, NOFROM },
	{ "long names", "X-Very-Long-Header-Name-Here: v\r\nFrom-Not: x\r\n"
	    "Fromage: y\r\nDate-X: z\r\n\r\n", 69, true, true, false, false,
	    0, 0, false, false, NOFROM },
	{ "empty from folded", "From:\r\n a@b\r\n\r\n", 13, true, true, false,
	    false, 0, 1, false, false, "a@b" },
	{ "body not scanned", "Subject: s\r\n\r\nFrom: x\r\nReceived: y\r\n",
	    12, true, true, false, false, 0, 0, false, false, NOFROM },
	{ "CR in value", "From: a\rb\r\n\r\n", 11, true, true, false, false,
	    0, 1, false, false, "a\rb" },
	{ "date", "date: Sat, 1 Jan 2026 00:00:00 +0000\r\n\r\n", 38, true,
	    true, false, false, 0, 0, true, false, NOFROM },
};

static uint64_t rng_state = 0x243f6a8885a308d3ULL;

static uint32_t
rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (uint32_t)(rng_state >> 16);
}

/*
 * Feeds msg in the given chunking (0 whole, 1 bytewise, else random up
 * to that); returns the absolute split reported, or UINT64_MAX.
 */
static uint64_t
run(const char *msg, size_t len, size_t chunking, struct smtp_header *h)
{
	uint64_t split = UINT64_MAX;
	size_t pos = 0;

	smtp_header_init(h);
	while (pos < len) {
		size_t n = chunking == 0 ? len - pos : chunking == 1 ? 1 :
		    1 + rng() % chunking;
		size_t k;

		if (n > len - pos)
			n = len - pos;
		k = smtp_header_feed(h, msg + pos, n);
		if (k != SMTP_HEADER_MORE) {
			assert_true(k <= n);
			/* Reported exactly once. */
			assert_true(split == UINT64_MAX);
			split = pos + k;
			assert_true(h->done);
		}
		pos += n;
	}
	assert_true(h->offset == len);
	smtp_header_finish(h);
	assert_true(h->done);
	return split;
}

static void
check(const struct hdr_case *c, const struct smtp_header *h, uint64_t split,
    size_t chunking)
{
	if (h->end_offset != c->end || h->has_header_section != c->has_section ||
	    h->malformed != c->malformed || h->unterminated != c->unterminated ||
	    h->received_count != c->received || h->from_count != c->from ||
	    h->has_date != c->date || h->has_message_id != c->msgid)
		fail_msg("header case \"%s\" chunking %zu: end %llu section %d "
		    "malformed %d unterm %d rcvd %u from %u date %d msgid %d",
		    c->name, chunking, (unsigned long long)h->end_offset,
		    h->has_header_section, h->malformed, h->unterminated,
		    h->received_count, h->from_count, h->has_date,
		    h->has_message_id);
	if (h->from_len != strlen(c->from_value) ||
	    memcmp(h->from, c->from_value, h->from_len) != 0)
		fail_msg("header case \"%s\": From \"%s\"", c->name, h->from);
	assert_int_equal(h->from[h->from_len], '\0');
	assert_false(h->from_truncated);
	if (!c->split) {
		assert_true(split == UINT64_MAX);
		return;
	}
	/* A non-field last line begun in an earlier chunk: no split. */
	if (split == UINT64_MAX && c->malformed && c->unterminated &&
	    chunking != 0)
		return;
	assert_true(split != UINT64_MAX);
	if (split == c->end)
		return;
	/*
	 * Only a non-field line that began in an earlier chunk may move
	 * the split, to the end of that line.
	 */
	assert_true(c->malformed);
	assert_true(chunking != 0);
	assert_true(split > c->end);
	assert_int_equal(c->msg[split - 1], '\n');
	assert_null(memchr(c->msg + c->end, '\n', split - 1 - c->end));
}

static void
test_header_table(void **state)
{
	static const size_t chunkings[] = { 0, 1, 2, 3, 5, 16 };

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		for (size_t c = 0; c < sizeof(chunkings) / sizeof(chunkings[0]);
		    c++) {
			for (int rep = 0; rep < (chunkings[c] > 1 ? 10 : 1);
			    rep++) {
				struct smtp_header h;
				uint64_t split;

				split = run(cases[i].msg, strlen(cases[i].msg),
				    chunkings[c], &h);
				check(&cases[i], &h, split, chunkings[c]);
			}
		}
	}
}

static void
test_header_whole_chunk_split_is_exact(void **state)
{
	/* With the whole message in one chunk the split is always end. */
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct smtp_header h;
		uint64_t split = run(cases[i].msg, strlen(cases[i].msg), 0, &h);

		if (cases[i].split)
			assert_true(split == cases[i].end);
	}
}

static void
test_header_from_truncated(void **state)
{
	static char msg[4000];
	struct smtp_header h;
	size_t n = 0;

	(void)state;
	memcpy(msg, "From: ", 6);
	n = 6;
	for (int i = 0; i < 3000; i++)
		msg[n++] = (char)('a' + i % 26);
	memcpy(msg + n, "\r\n\r\n", 4);
	n += 4;
	for (size_t chunking = 0; chunking < 3; chunking++) {
		assert_true(run(msg, n, chunking, &h) == n - 2);
		assert_true(h.from_truncated);
		assert_int_equal(h.from_len, SMTP_HEADER_FROM_MAX);
		assert_memory_equal(h.from, msg + 6, SMTP_HEADER_FROM_MAX);
		assert_int_equal(h.from_count, 1);
	}
}

static void
test_header_split_inserts_correctly(void **state)
{
	/*
	 * What the session does: write the chunk up to the split, then its
	 * fields, then the rest. The result has the field in the header.
	 */
	static const char msg[] = "Subject: hi\r\nFrom: a@b\r\n\r\nbody\r\n";
	static const char want[] = "Subject: hi\r\nFrom: a@b\r\n"
	    "Message-ID: <1@x>\r\n\r\nbody\r\n";
	char out[256];

	(void)state;
	for (size_t cut = 0; cut <= sizeof(msg) - 1; cut++) {
		struct smtp_header h;
		size_t n = 0, k;
		const char *parts[2] = { msg, msg + cut };
		size_t lens[2] = { cut, sizeof(msg) - 1 - cut };

		smtp_header_init(&h);
		for (int p = 0; p < 2; p++) {
			k = smtp_header_feed(&h, parts[p], lens[p]);
			if (k == SMTP_HEADER_MORE) {
				memcpy(out + n, parts[p], lens[p]);
				n += lens[p];
				continue;
			}
			memcpy(out + n, parts[p], k);
			n += k;
			memcpy(out + n, "Message-ID: <1@x>\r\n", 19);
			n += 19;
			memcpy(out + n, parts[p] + k, lens[p] - k);
			n += lens[p] - k;
		}
		smtp_header_finish(&h);
		assert_false(h.has_message_id);
		assert_int_equal(n, sizeof(want) - 1);
		assert_memory_equal(out, want, n);
	}
}

static void
test_header_counts_saturate_and_done_is_final(void **state)
{
	struct smtp_header h;

	(void)state;
	smtp_header_init(&h);
	h.received_count = ~0u;
	assert_true(smtp_header_feed(&h, "Received: x\r\n", 13) ==
	    SMTP_HEADER_MORE);
	assert_int_equal(h.received_count, ~0u);
	assert_int_equal(smtp_header_feed(&h, "\r\n", 2), 0);
	assert_true(smtp_header_feed(&h, "Received: y\r\n\r\n", 15) ==
	    SMTP_HEADER_MORE);
	assert_true(h.offset == 30);
	smtp_header_finish(&h);
	assert_true(h.end_offset == 13);
}

struct loop_case {
	const char	*name;
	const char	*msg;
	unsigned	 dt_count;
	const char	*dt[3];		/* first values expected */
	bool		 has_auto;
	const char	*auto_value;
};

static const struct loop_case loop_cases[] = {
	{ "none", "From: a@b\r\n\r\nDelivered-To: body@x\r\n", 0,
	    { NULL }, false, "" },
	{ "two delivered-to", "Delivered-To: list-a@one.test\r\n"
	    "Received: x\r\ndelivered-to:  <B@Two.Test> \r\n\r\n", 2,
	    { "list-a@one.test", "<B@Two.Test>" }, false, "" },
	{ "folded value", "Delivered-To:\r\n a@b\r\n\r\n", 1, { "a@b" },
	    false, "" },
	{ "too long is empty", "Delivered-To: "
	    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	    "@b\r\nDelivered-To: c@d\r\n\r\n", 2, { "", "c@d" }, false, "" },
	{ "auto-replied", "Auto-Submitted: auto-replied (vacation)\r\n\r\n",
	    0, { NULL }, true, "auto-replied (vacation)" },
	{ "auto no, first wins", "auto-submitted: no\r\n"
	    "Auto-Submitted: auto-generated\r\n\r\n", 0, { NULL }, true,
	    "no" },
	{ "auto long keeps start", "Auto-Submitted: auto-generated; "
	    "a-very-long-parameter-list=yes\r\n\r\n", 0, { NULL }, true,
	    "auto-generated; a-very-long-par" },
};

/* Delivered-To and Auto-Submitted values, in every chunking. */
static void
test_header_loop_fields(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(loop_cases) / sizeof(loop_cases[0]);
	    i++) {
		const struct loop_case *c = &loop_cases[i];

		for (size_t chunking = 0; chunking < 8; chunking++) {
			struct smtp_header h;

			(void)run(c->msg, strlen(c->msg), chunking, &h);
			if (h.delivered_to_count != c->dt_count ||
			    h.has_auto_submitted != c->has_auto ||
			    strcmp(h.auto_submitted, c->auto_value) != 0)
				fail_msg("loop case \"%s\" chunking %zu: dt %u "
				    "auto %d \"%s\"", c->name, chunking,
				    h.delivered_to_count, h.has_auto_submitted,
				    h.auto_submitted);
			for (size_t j = 0; j < c->dt_count && j < 3; j++)
				if (strcmp(h.delivered_to[j], c->dt[j]) != 0)
					fail_msg("loop case \"%s\" chunking %zu: "
					    "dt[%zu] \"%s\"", c->name, chunking,
					    j, h.delivered_to[j]);
		}
	}
}

/* More Delivered-To fields than kept: counted, the first ones kept. */
static void
test_header_delivered_to_overflow(void **state)
{
	char msg[4096];
	size_t len = 0;
	struct smtp_header h;

	(void)state;
	for (int i = 0; i < SMTP_HEADER_DT_MAX + 5; i++)
		len += (size_t)snprintf(msg + len, sizeof(msg) - len,
		    "Delivered-To: l%d@x\r\n", i);
	len += (size_t)snprintf(msg + len, sizeof(msg) - len, "\r\n");
	(void)run(msg, len, 1, &h);
	assert_int_equal(h.delivered_to_count, SMTP_HEADER_DT_MAX + 5);
	assert_string_equal(h.delivered_to[0], "l0@x");
	assert_string_equal(h.delivered_to[SMTP_HEADER_DT_MAX - 1], "l15@x");
}

/*
 * smtp_header_from_done: true from the first octet of the line after the
 * first From field (a folded continuation does not end it), or at the
 * section's end; fed one byte at a time, the first offset where it holds
 * is checked, and the value is then complete.
 */
static void
test_header_from_done_point(void **state)
{
	static const struct {
		const char	*msg;
		long		 at;	/* first offset (octets fed) it is true; -1 never */
		const char	*from;
	} fd_cases[] = {
		{ "From: a@b\r\nTo: c@d\r\n\r\nbody", 12, "a@b" },
		{ "Subject: x\r\nFrom: a@b\r\n\tc\r\nTo: y\r\n\r\n", 28,
		    "a@b\tc" },
		{ "From: a@b\r\n\r\n", 12, "a@b" },
		{ "To: c@d\r\n\r\nFrom: not@header\r\n", -1, "" },
		{ "From: a@b", -1, "a@b" },	/* only finish ends it */
	};

	(void)state;
	for (size_t c = 0; c < sizeof(fd_cases) / sizeof(fd_cases[0]); c++) {
		const char *m = fd_cases[c].msg;
		size_t len = strlen(m);
		struct smtp_header h;
		long first = -1;

		smtp_header_init(&h);
		for (size_t i = 0; i < len; i++) {
			(void)smtp_header_feed(&h, m + i, 1);
			if (first == -1 && smtp_header_from_done(&h)) {
				first = (long)i + 1;
				assert_string_equal(h.from, fd_cases[c].from);
			}
		}
		assert_int_equal(first, fd_cases[c].at);
		smtp_header_finish(&h);
		assert_int_equal(smtp_header_from_done(&h), h.from_count > 0);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_header_table),
		cmocka_unit_test(test_header_whole_chunk_split_is_exact),
		cmocka_unit_test(test_header_from_truncated),
		cmocka_unit_test(test_header_split_inserts_correctly),
		cmocka_unit_test(test_header_counts_saturate_and_done_is_final),
		cmocka_unit_test(test_header_loop_fields),
		cmocka_unit_test(test_header_delivered_to_overflow),
		cmocka_unit_test(test_header_from_done_point),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
