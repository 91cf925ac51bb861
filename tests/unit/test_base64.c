/* Unit tests for core/base64: RFC 4648 10 vectors and strict rejection. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "core/base64.h"
#include "core/buf.h"

static const struct {
	const char	*plain;
	const char	*encoded;
} vectors[] = {
	/* RFC 4648 section 10 */
	{ "", "" },
	{ "f", "Zg==" },
	{ "fo", "Zm8=" },
	{ "foo", "Zm9v" },
	{ "foob", "Zm9vYg==" },
	{ "fooba", "Zm9vYmE=" },
	{ "foobar", "Zm9vYmFy" },
	{ "n,,", "biws" },
};

static void
test_base64_rfc4648_vectors(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
		struct buf b;

		buf_init(&b, 64);
		assert_int_equal(base64_encode(&b, vectors[i].plain,
		    strlen(vectors[i].plain)), 0);
		assert_int_equal(b.len, strlen(vectors[i].encoded));
		if (b.len > 0)
			assert_string_equal(b.data, vectors[i].encoded);
		assert_int_equal(base64_encoded_len(strlen(vectors[i].plain)),
		    strlen(vectors[i].encoded));
		buf_reset(&b);
		assert_int_equal(base64_decode(&b, vectors[i].encoded,
		    strlen(vectors[i].encoded)), 0);
		assert_int_equal(b.len, strlen(vectors[i].plain));
		if (b.len > 0)
			assert_memory_equal(b.data, vectors[i].plain, b.len);
		buf_cleanup(&b);
	}
}

static void
test_base64_binary_roundtrip(void **state)
{
	unsigned char data[256];
	struct buf enc, dec;

	(void)state;
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (unsigned char)(255 - i);
	for (size_t n = 0; n <= sizeof(data); n += 7) {
		buf_init(&enc, 1024);
		buf_init(&dec, 1024);
		assert_int_equal(base64_encode(&enc, data, n), 0);
		assert_int_equal(base64_decode(&dec, enc.data == NULL ? "" :
		    enc.data, enc.len), 0);
		assert_int_equal(dec.len, n);
		if (n > 0)
			assert_memory_equal(dec.data, data, n);
		assert_true(dec.len <= base64_decoded_max(enc.len));
		buf_cleanup(&enc);
		buf_cleanup(&dec);
	}
}

static void
test_base64_rejects_malformed(void **state)
{
	static const char *const bad[] = {
		"Zg=",		/* not a multiple of 4 */
		"Zg",		/* missing padding */
		"Zh==",		/* non-zero trailing bits (RFC 4648 3.5) */
		"Zm9=",		/* non-zero trailing bits */
		"Zg==Zg==",	/* padding in the middle */
		"Z===",		/* too much padding */
		"====",
		"Zm9v\n",	/* line break */
		"Zm 9",		/* space */
		"Zm9-",		/* base64url alphabet */
		"Zm_v",
		"Z=9v",
		"Zm=v",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct buf b;

		buf_init(&b, 64);
		assert_int_equal(buf_append_str(&b, "keep"), 0);
		assert_int_equal(base64_decode(&b, bad[i], strlen(bad[i])), -1);
		/* A failed decode leaves the buffer as it was. */
		assert_int_equal(b.len, 4);
		assert_string_equal(b.data, "keep");
		buf_cleanup(&b);
	}
}

static void
test_base64_respects_max(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b, 5);
	assert_int_equal(base64_encode(&b, "foob", 4), -1);
	assert_int_equal(b.len, 0);
	assert_int_equal(base64_encode(&b, "f", 1), 0);
	assert_int_equal(b.len, 4);
	buf_cleanup(&b);
	buf_init(&b, 5);
	assert_int_equal(base64_decode(&b, "Zm9vYmFy", 8), -1);
	assert_int_equal(b.len, 0);
	assert_int_equal(base64_decode(&b, "Zm9vYg==", 8), 0);
	assert_string_equal(b.data, "foob");
	buf_cleanup(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_base64_rfc4648_vectors),
		cmocka_unit_test(test_base64_binary_roundtrip),
		cmocka_unit_test(test_base64_rejects_malformed),
		cmocka_unit_test(test_base64_respects_max),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
