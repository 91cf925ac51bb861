/* Unit tests for auth/hash (yescrypt) and auth/scram (RFC 5803 entries). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "auth/hash.h"
#include "auth/scram.h"
#include "core/base64.h"
#include "core/buf.h"

static void
test_hash_roundtrip(void **state)
{
	char h1[HASH_MAX], h2[HASH_MAX];

	(void)state;
	assert_int_equal(hash_password("correct horse", h1, sizeof(h1)), 0);
	assert_int_equal(strncmp(h1, "$y$", 3), 0);
	assert_true(hash_verify("correct horse", h1));
	assert_false(hash_verify("correct hors", h1));
	assert_false(hash_verify("", h1));
	/* A fresh salt each time. */
	assert_int_equal(hash_password("correct horse", h2, sizeof(h2)), 0);
	assert_string_not_equal(h1, h2);
}

static void
test_hash_rejects_bad_hashes(void **state)
{
	static const char *const bad[] = {
		"", "*", "*0", "!", "$1$abc$def", "$y$", "$y$j9T$",
		"plaintext", "$6$salt$xyz",
	};
	char small[8];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_false(hash_verify("plaintext", bad[i]));
	assert_int_equal(hash_password("pw", small, sizeof(small)), -1);
	assert_string_equal(small, "");
}

static void
test_hash_dummy_is_stable_and_valid(void **state)
{
	const char *d = hash_dummy();

	(void)state;
	assert_non_null(d);
	assert_true(hash_is_supported(d));
	assert_ptr_equal(d, hash_dummy());
	assert_false(hash_verify("", d));
	assert_false(hash_verify("password", d));
}

/* RFC 7677 3: user "user", password "pencil", this salt and 4096 rounds. */
static void
test_scram_entry_rfc7677_keys(void **state)
{
	struct scram_entry e, p;
	struct buf salt, text;

	(void)state;
	buf_init(&salt, 64);
	buf_init(&text, SCRAM_ENTRY_TEXT_MAX);
	assert_int_equal(base64_decode(&salt, "W22ZaJ0SNY7soEsUEjb6gQ==", 24), 0);
	assert_int_equal(scram_entry_derive("pencil", 6,
	    (unsigned char *)salt.data, salt.len, 4096, &e), 0);
	assert_int_equal(scram_entry_format(&e, &text), 0);
	/* Parse back and compare. */
	assert_int_equal(scram_entry_parse(text.data, text.len, &p), 0);
	assert_int_equal(p.iterations, 4096);
	assert_int_equal(p.salt_len, 16);
	assert_memory_equal(p.salt, salt.data, 16);
	assert_memory_equal(p.stored_key, e.stored_key, SCRAM_HASH_LEN);
	assert_memory_equal(p.server_key, e.server_key, SCRAM_HASH_LEN);
	assert_int_equal(strncmp(text.data,
	    "SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$", 44), 0);
	buf_cleanup(&salt);
	buf_cleanup(&text);
}

static void
test_scram_entry_new_random_salt(void **state)
{
	struct scram_entry a, b;

	(void)state;
	assert_int_equal(scram_entry_new("pw", 4096, &a), 0);
	assert_int_equal(scram_entry_new("pw", 4096, &b), 0);
	assert_int_equal(a.salt_len, SCRAM_SALT_LEN);
	assert_memory_not_equal(a.salt, b.salt, SCRAM_SALT_LEN);
	assert_memory_not_equal(a.stored_key, b.stored_key, SCRAM_HASH_LEN);
}

static void
test_scram_entry_parse_rejects(void **state)
{
	static const char *const bad[] = {
		"",
		"SCRAM-SHA-1$4096:W22ZaJ0SNY7soEsUEjb6gQ==$"
		    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=:"
		    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
		"SCRAM-SHA-256$0:W22ZaJ0SNY7soEsUEjb6gQ==$"
		    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=:"
		    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
		"SCRAM-SHA-256$4096:$"
		    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=:"
		    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
		"SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$"
		    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA:"
		    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
		"SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$"
		    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
		"SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$"
		    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=:"
		    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA= ",
		"SCRAM-SHA-256$99999999999:W22ZaJ0SNY7soEsUEjb6gQ==$"
		    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=:"
		    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
	};
	static const char good[] = "SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$"
	    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=:"
	    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
	struct scram_entry e;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(scram_entry_parse(bad[i], strlen(bad[i]), &e),
		    -1);
	assert_int_equal(scram_entry_parse(good, strlen(good), &e), 0);
}

/* RFC 4231 test case 2 for HMAC-SHA-256. */
static void
test_scram_hmac_rfc4231(void **state)
{
	static const unsigned char want[32] = {
		0x5b, 0xdc, 0xc1, 0x46, 0xbf, 0x60, 0x75, 0x4e, 0x6a, 0x04, 0x24,
		0x26, 0x08, 0x95, 0x75, 0xc7, 0x5a, 0x00, 0x3f, 0x08, 0x9d, 0x27,
		0x39, 0x83, 0x9d, 0xec, 0x58, 0xb9, 0x64, 0xec, 0x38, 0x43,
	};
	unsigned char out[32];

	(void)state;
	scram_hmac_sha256("Jefe", 4, "what do ya want for nothing?", 28, out);
	assert_memory_equal(out, want, 32);
	assert_true(scram_mem_equal(out, want, 32));
	out[31] ^= 1;
	assert_false(scram_mem_equal(out, want, 32));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hash_roundtrip),
		cmocka_unit_test(test_hash_rejects_bad_hashes),
		cmocka_unit_test(test_hash_dummy_is_stable_and_valid),
		cmocka_unit_test(test_scram_entry_rfc7677_keys),
		cmocka_unit_test(test_scram_entry_new_random_salt),
		cmocka_unit_test(test_scram_entry_parse_rejects),
		cmocka_unit_test(test_scram_hmac_rfc4231),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
