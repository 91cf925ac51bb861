/*
 * Unit tests for smtp/data: the DATA and BDAT readers. Every case runs
 * whole, one byte at a time and in random chunkings, which must all give
 * the same result; the smuggling variants are checked one by one and
 * against a reference end search over random input.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smtp/data.h"

#define OUT_MAX	(64 * 1024)

struct sink {
	char	data[OUT_MAX];
	size_t	len;
	size_t	calls;
};

static void
sink_write(void *arg, const char *p, size_t len)
{
	struct sink *s = arg;

	assert_true(len > 0);
	assert_true(len <= OUT_MAX - s->len);
	memcpy(s->data + s->len, p, len);
	s->len += len;
	s->calls++;
}

struct result {
	struct sink	out;
	size_t		consumed;
	bool		done, bare, too_big;
	uint64_t	size;
};

/* Deterministic PRNG so failures reproduce. */
static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint32_t
rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (uint32_t)(rng_state >> 16);
}

/*
 * chunking: 0 = whole, 1 = one byte at a time, else random chunk sizes
 * (1..chunking).
 */
static void
run_data(const char *in, size_t len, enum smtp_data_mode mode, uint64_t max,
    size_t chunking, struct result *r)
{
	struct smtp_data d;
	size_t pos = 0;

	memset(r, 0, sizeof(*r));
	smtp_data_init(&d, mode, max, sink_write, &r->out);
	while (pos < len && !d.done) {
		size_t n = chunking == 0 ? len - pos : chunking == 1 ? 1 :
		    1 + rng() % chunking;
		size_t used;

		if (n > len - pos)
			n = len - pos;
		used = smtp_data_feed(&d, in + pos, n);
		assert_true(used <= n);
		if (!d.done)
			assert_int_equal(used, n);
		pos += used;
	}
	/* Done means no more input is taken. */
	if (d.done && pos < len)
		assert_int_equal(smtp_data_feed(&d, in + pos, len - pos), 0);
	r->consumed = pos;
	r->done = d.done;
	r->bare = d.has_bare_newline;
	r->too_big = d.too_big;
	r->size = d.size;
	assert_int_equal(d.raw, pos);
}

/* Runs every chunking and checks they agree; returns the whole-run result. */
static void
run_data_all(const char *in, size_t len, enum smtp_data_mode mode,
    uint64_t max, struct result *r)
{
	static struct result other;
	static const size_t chunkings[] = { 1, 2, 3, 7, 64 };

	run_data(in, len, mode, max, 0, r);
	for (size_t c = 0; c < sizeof(chunkings) / sizeof(chunkings[0]); c++) {
		for (int rep = 0; rep < (chunkings[c] == 1 ? 1 : 8); rep++) {
			run_data(in, len, mode, max, chunkings[c], &other);
			assert_int_equal(other.consumed, r->consumed);
			assert_int_equal(other.done, r->done);
			assert_int_equal(other.bare, r->bare);
			assert_int_equal(other.too_big, r->too_big);
			assert_true(other.size == r->size);
			assert_int_equal(other.out.len, r->out.len);
			assert_memory_equal(other.out.data, r->out.data,
			    r->out.len);
		}
	}
}

struct data_case {
	const char	*name;
	const char	*in;
	bool		 done;
	const char	*rest;		/* unconsumed input */
	bool		 bare;
	const char	*normalized;	/* stored in NORMALIZE mode */
};

static const struct data_case data_cases[] = {
	{ "simple", "Hello\r\n.\r\n", true, "", false, "Hello\r\n" },
	{ "empty at once", ".\r\n", true, "", false, "" },
	{ "empty line", "\r\n.\r\n", true, "", false, "\r\n" },
	{ "stuffed dot", "..leading\r\n.\r\n", true, "", false,
	    ".leading\r\n" },
	{ "dot text", ".x\r\n.\r\n", true, "", false, "x\r\n" },
	{ "dot line", "a\r\n..\r\n.\r\n", true, "", false, "a\r\n.\r\n" },
	{ "two dots line", "...\r\n.\r\n", true, "", false, "..\r\n" },
	{ "dot mid-line", "a.b\r\n a .\r\n.\r\n", true, "", false,
	    "a.b\r\n a .\r\n" },
	{ "pipelined", "a\r\n.\r\nMAIL FROM:<x@y>\r\n", true,
	    "MAIL FROM:<x@y>\r\n", false, "a\r\n" },
	{ "pipelined quit", ".\r\nQUIT\r\n", true, "QUIT\r\n", false, "" },
	{ "unterminated", "a\r\n.\r", false, "", false, "a\r\n" },
	{ "unterminated text", "abc", false, "", false, "abc" },
	{ "space dot", "a\r\n .\r\n.\r\n", true, "", false, "a\r\n .\r\n" },
	{ "dot space", "a\r\n. \r\n.\r\n", true, "", false, "a\r\n \r\n" },
	/* SMTP smuggling: none of these ends the message. */
	{ "LF.LF", "a\n.\nMAIL FROM:<evil@x>\r\n.\r\n", true, "", true,
	    "a\r\n.\r\nMAIL FROM:<evil@x>\r\n" },
	{ "LF.CRLF", "a\n.\r\nRCPT TO:<v@x>\r\n.\r\n", true, "", true,
	    "a\r\n.\r\nRCPT TO:<v@x>\r\n" },
	{ "CRLF.LF", "a\r\n.\nb\r\n.\r\n", true, "", true, "a\r\n\r\nb\r\n" },
	{ "CR.CR", "a\r.\rb\r\n.\r\n", true, "", true, "a\r\n.\r\nb\r\n" },
	{ "CRLF.CR", "a\r\n.\rb\r\n.\r\n", true, "", true,
	    "a\r\n\r\nb\r\n" },
	{ "CR.CRLF", "a\r.\r\nb\r\n.\r\n", true, "", true,
	    "a\r\n.\r\nb\r\n" },
	{ "CRLF.CRCR", "a\r\n.\r\rLF\r\n.\r\n", true, "", true,
	    "a\r\n\r\n\r\nLF\r\n" },
	{ "CRLF.CRCRLF", "a\r\n.\r\r\n.\r\n", true, "", true,
	    "a\r\n\r\n\r\n" },
	{ "LF.CRLF at start", ".\n.\r\n", false, "", true, "\r\n.\r\n" },
	{ "CRCRLF.CRLF", "a\r\r\n.\r\n", true, "", true, "a\r\n\r\n" },
	{ "bare LF text", "a\nb\r\n.\r\n", true, "", true, "a\r\nb\r\n" },
	{ "bare CR text", "a\rb\r\n.\r\n", true, "", true, "a\r\nb\r\n" },
	{ "LFCR", "a\n\rb\r\n.\r\n", true, "", true, "a\r\n\r\nb\r\n" },
	{ "only smuggling", "a\n.\n", false, "", true, "a\r\n.\r\n" },
	{ "CR.CR only", "x\r.\r", false, "", true, "x\r\n." },
};

static void
test_data_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(data_cases) / sizeof(data_cases[0]); i++) {
		const struct data_case *c = &data_cases[i];
		size_t len = strlen(c->in), rest = strlen(c->rest);
		struct result r;

		run_data_all(c->in, len, DATA_BARE_NORMALIZE, 1 << 20, &r);
		if (r.done != c->done || r.bare != c->bare ||
		    r.consumed != len - rest)
			fail_msg("data case \"%s\": done %d bare %d consumed %zu",
			    c->name, r.done, r.bare, r.consumed);
		assert_memory_equal(c->in + r.consumed, c->rest, rest);
		if (r.out.len != strlen(c->normalized) ||
		    memcmp(r.out.data, c->normalized, r.out.len) != 0)
			fail_msg("data case \"%s\": stored \"%.*s\"", c->name,
			    (int)r.out.len, r.out.data);
		assert_false(r.too_big);
		assert_true(r.size == r.out.len);

		/* REJECT mode: same end and flag; nothing after a bare one. */
		run_data_all(c->in, len, DATA_BARE_REJECT, 1 << 20, &r);
		assert_int_equal(r.done, c->done);
		assert_int_equal(r.bare, c->bare);
		assert_int_equal(r.consumed, len - rest);
		if (!c->bare) {
			assert_int_equal(r.out.len, strlen(c->normalized));
			assert_memory_equal(r.out.data, c->normalized, r.out.len);
		} else
			assert_true(r.out.len < strlen(c->normalized));
	}
}

static void
test_data_size_limit(void **state)
{
	static const char in[] = "123456789\r\nabcdef\r\n.\r\nNOOP\r\n";
	struct result r;

	(void)state;
	for (uint64_t max = 0; max < 20; max++) {
		run_data_all(in, sizeof(in) - 1, DATA_BARE_NORMALIZE, max, &r);
		assert_true(r.done);
		assert_int_equal(r.consumed, sizeof(in) - 1 - 6);
		assert_int_equal(r.too_big, max < 19);
		assert_true(r.size == 19);
		assert_int_equal(r.out.len, max < 19 ? max : 19);
		assert_memory_equal(r.out.data, in, r.out.len);
	}
}

static void
test_data_long_lines_intact(void **state)
{
	static char in[20000];
	struct result r;
	size_t n = 0;

	(void)state;
	for (int i = 0; i < 5000; i++)
		in[n++] = (char)('a' + i % 26);
	memcpy(in + n, "\r\n", 2);
	n += 2;
	in[n++] = '.';
	for (int i = 0; i < 3000; i++)
		in[n++] = '.';
	memcpy(in + n, "\r\n.\r\n", 5);
	n += 5;
	run_data_all(in, n, DATA_BARE_REJECT, 1 << 20, &r);
	assert_true(r.done);
	assert_false(r.bare);
	assert_int_equal(r.out.len, n - 1 - 3);
	assert_memory_equal(r.out.data, in, 5002);
	assert_memory_equal(r.out.data + 5002, in + 5003, 3002);
	/* Whole input in one chunk: one sink call per run, not per line. */
	run_data(in, n, DATA_BARE_REJECT, 1 << 20, 0, &r);
	assert_true(r.out.calls <= 3);
}

/* Dot-stuffs msg (which ends in CRLF or is empty) and appends ".\r\n". */
static size_t
stuff(const char *msg, size_t len, char *out)
{
	size_t n = 0;
	bool bol = true;

	for (size_t i = 0; i < len; i++) {
		if (bol && msg[i] == '.')
			out[n++] = '.';
		out[n++] = msg[i];
		bol = msg[i] == '\n';
	}
	memcpy(out + n, ".\r\n", 3);
	return n + 3;
}

static void
test_data_stuffing_round_trip(void **state)
{
	static const char *atoms[] = { ".", "..", "a", " ", "\r\n", "x.y",
	    "\r\n.", "\r\n..\r\n", "From ", "\t" };
	static char msg[4096], wire[8192];
	struct result r;

	(void)state;
	for (int iter = 0; iter < 300; iter++) {
		size_t len = 0, wlen, parts = rng() % 40;

		for (size_t k = 0; k < parts; k++) {
			const char *a = atoms[rng() % 10];

			memcpy(msg + len, a, strlen(a));
			len += strlen(a);
		}
		if (len > 0 && (len < 2 || memcmp(msg + len - 2, "\r\n", 2) != 0)) {
			memcpy(msg + len, "\r\n", 2);
			len += 2;
		}
		wlen = stuff(msg, len, wire);
		memcpy(wire + wlen, "RSET\r\n", 6);
		run_data_all(wire, wlen + 6, DATA_BARE_REJECT, 1 << 20, &r);
		assert_true(r.done);
		assert_false(r.bare);
		assert_int_equal(r.consumed, wlen);
		assert_int_equal(r.out.len, len);
		assert_memory_equal(r.out.data, msg, len);
	}
}

/* Where a strict reader ends: after the first CRLF "." CRLF, counting the
 * CRLF of the DATA command. SIZE_MAX when it does not end. */
static size_t
reference_end(const char *in, size_t len)
{
	static char buf[8192];

	memcpy(buf, "\r\n", 2);
	memcpy(buf + 2, in, len);
	for (size_t i = 0; i + 5 <= len + 2; i++)
		if (memcmp(buf + i, "\r\n.\r\n", 5) == 0)
			return i + 5 - 2;
	return SIZE_MAX;
}

static void
test_data_random_matches_reference(void **state)
{
	static const char alphabet[] = "\r\n.\r\n.a\r\n";
	static char in[2048];
	struct result r;

	(void)state;
	for (int iter = 0; iter < 2000; iter++) {
		size_t len = 1 + rng() % 64, end;

		for (size_t i = 0; i < len; i++)
			in[i] = alphabet[rng() % (sizeof(alphabet) - 1)];
		end = reference_end(in, len);
		run_data_all(in, len, DATA_BARE_NORMALIZE, 1 << 20, &r);
		assert_int_equal(r.done, end != SIZE_MAX);
		assert_int_equal(r.consumed, end != SIZE_MAX ? end : len);
		/* What is stored has CRLF line ends only. */
		for (size_t i = 0; i < r.out.len; i++) {
			if (r.out.data[i] == '\r')
				assert_true(i + 1 < r.out.len &&
				    r.out.data[i + 1] == '\n');
			if (r.out.data[i] == '\n')
				assert_true(i > 0 && r.out.data[i - 1] == '\r');
		}
		/*
		 * Flagged exactly when the consumed input has a bare CR or
		 * LF; a CR ending undone input is still undecided.
		 */
		{
			bool bare = false;

			for (size_t i = 0; i < r.consumed; i++) {
				if (in[i] == '\r' && i + 1 < r.consumed &&
				    in[i + 1] != '\n')
					bare = true;
				if (in[i] == '\n' && (i == 0 || in[i - 1] != '\r'))
					bare = true;
			}
			assert_int_equal(r.bare, bare);
		}
	}
}

/* BDAT: chunks as the client sends them. */
static void
run_bdat(const char *const *chunks, size_t n, enum smtp_data_mode mode,
    uint64_t max, bool bytewise, struct result *r)
{
	struct smtp_data d;

	memset(r, 0, sizeof(*r));
	smtp_data_init(&d, mode, max, sink_write, &r->out);
	for (size_t i = 0; i < n; i++) {
		size_t len = strlen(chunks[i]);

		if (bytewise)
			for (size_t k = 0; k < len; k++)
				smtp_bdat_feed(&d, chunks[i] + k, 1);
		else
			smtp_bdat_feed(&d, chunks[i], len);
		assert_false(d.done);
	}
	smtp_bdat_finish(&d);
	assert_true(d.done);
	r->bare = d.has_bare_newline;
	r->too_big = d.too_big;
	r->size = d.size;
}

static void
test_data_bdat_table(void **state)
{
	static const struct {
		const char	*name;
		const char	*chunks[4];
		size_t		 n;
		bool		 bare;
		const char	*normalized;
	} cases[] = {
		{ "one chunk", { "Subject: x\r\n\r\nhi\r\n" }, 1, false,
		    "Subject: x\r\n\r\nhi\r\n" },
		{ "CR|LF across chunks", { "abc\r", "\ndef\r\n" }, 2, false,
		    "abc\r\ndef\r\n" },
		{ "CR|empty|LF", { "abc\r", "", "\nx" }, 3, false, "abc\r\nx" },
		{ "CR|x", { "abc\r", "x" }, 2, true, "abc\r\nx" },
		{ "CR|CR|LF", { "a\r", "\r", "\n" }, 3, true, "a\r\n\r\n" },
		{ "trailing CR", { "abc\r" }, 1, true, "abc\r\n" },
		{ "bare LF", { "a\nb" }, 1, true, "a\r\nb" },
		{ "LF at chunk start", { "a", "\nb" }, 2, true, "a\r\nb" },
		{ "no stuffing", { "..x\r\n.\r\n", ".\r\n" }, 2, false,
		    "..x\r\n.\r\n.\r\n" },
		{ "no final CRLF", { "abc" }, 1, false, "abc" },
		{ "empty", { "" }, 1, false, "" },
	};
	struct result r;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		for (int bytewise = 0; bytewise < 2; bytewise++) {
			run_bdat(cases[i].chunks, cases[i].n,
			    DATA_BARE_NORMALIZE, 1 << 20, bytewise, &r);
			if (r.bare != cases[i].bare ||
			    r.out.len != strlen(cases[i].normalized) ||
			    memcmp(r.out.data, cases[i].normalized,
			    r.out.len) != 0)
				fail_msg("bdat case \"%s\" bytewise %d",
				    cases[i].name, bytewise);
			run_bdat(cases[i].chunks, cases[i].n, DATA_BARE_REJECT,
			    1 << 20, bytewise, &r);
			assert_int_equal(r.bare, cases[i].bare);
		}
	}
}

static void
test_data_bdat_size_limit(void **state)
{
	static const char *const chunks[] = { "0123456789", "abcdefghij" };
	struct result r;

	(void)state;
	run_bdat(chunks, 2, DATA_BARE_REJECT, 15, false, &r);
	assert_true(r.too_big);
	assert_true(r.size == 20);
	assert_int_equal(r.out.len, 15);
	assert_memory_equal(r.out.data, "0123456789abcde", 15);
	run_bdat(chunks, 2, DATA_BARE_REJECT, 20, true, &r);
	assert_false(r.too_big);
	assert_int_equal(r.out.len, 20);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_data_table),
		cmocka_unit_test(test_data_size_limit),
		cmocka_unit_test(test_data_long_lines_intact),
		cmocka_unit_test(test_data_stuffing_round_trip),
		cmocka_unit_test(test_data_random_matches_reference),
		cmocka_unit_test(test_data_bdat_table),
		cmocka_unit_test(test_data_bdat_size_limit),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
