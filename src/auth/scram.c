/* SCRAM-SHA-256 stored secrets and primitives; see scram.h. */
#include "auth/scram.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <string.h>

#include "core/base64.h"
#include "core/buf.h"
#include "core/log.h"
#include "core/str.h"

#define SCRAM_PREFIX	"SCRAM-SHA-256$"

void
scram_sha256(const void *data, size_t len, unsigned char out[SCRAM_HASH_LEN])
{
	SHA256(data, len, out);
}

void
scram_hmac_sha256(const void *key, size_t keylen, const void *data,
    size_t len, unsigned char out[SCRAM_HASH_LEN])
{
	unsigned int outlen = SCRAM_HASH_LEN;

	/* HMAC() only fails on allocation or an unknown digest. */
	if (HMAC(EVP_sha256(), key, (int)keylen, data, len, out,
	    &outlen) == NULL)
		fatal("scram: HMAC-SHA-256 failed");
}

bool
scram_mem_equal(const void *a, const void *b, size_t n)
{
	return CRYPTO_memcmp(a, b, n) == 0;
}

int
scram_entry_derive(const char *password, size_t pwlen,
    const unsigned char *salt, size_t salt_len, unsigned iterations,
    struct scram_entry *out)
{
	unsigned char salted[SCRAM_HASH_LEN], client_key[SCRAM_HASH_LEN];

	if (salt_len == 0 || salt_len > SCRAM_SALT_MAX || iterations == 0 ||
	    iterations > SCRAM_ITER_MAX || pwlen > 1024 * 1024)
		return -1;
	if (PKCS5_PBKDF2_HMAC(password, (int)pwlen, salt, (int)salt_len,
	    (int)iterations, EVP_sha256(), sizeof(salted), salted) != 1)
		return -1;
	memset(out, 0, sizeof(*out));
	out->iterations = iterations;
	out->salt_len = salt_len;
	memcpy(out->salt, salt, salt_len);
	scram_hmac_sha256(salted, sizeof(salted), "Client Key", 10, client_key);
	scram_sha256(client_key, sizeof(client_key), out->stored_key);
	scram_hmac_sha256(salted, sizeof(salted), "Server Key", 10,
	    out->server_key);
	explicit_bzero(salted, sizeof(salted));
	explicit_bzero(client_key, sizeof(client_key));
	return 0;
}

int
scram_entry_new(const char *password, unsigned iterations,
    struct scram_entry *out)
{
	unsigned char salt[SCRAM_SALT_LEN];

	if (RAND_bytes(salt, sizeof(salt)) != 1)
		return -1;
	return scram_entry_derive(password, strlen(password), salt,
	    sizeof(salt), iterations, out);
}

int
scram_entry_format(const struct scram_entry *e, struct buf *out)
{
	size_t start = out->len;

	if (buf_printf(out, SCRAM_PREFIX "%u:", e->iterations) == -1 ||
	    base64_encode(out, e->salt, e->salt_len) == -1 ||
	    buf_append_char(out, '$') == -1 ||
	    base64_encode(out, e->stored_key, SCRAM_HASH_LEN) == -1 ||
	    buf_append_char(out, ':') == -1 ||
	    base64_encode(out, e->server_key, SCRAM_HASH_LEN) == -1) {
		out->len = start;
		if (out->data != NULL)
			out->data[start] = '\0';
		return -1;
	}
	return 0;
}

/* Decodes exactly want bytes (or 1..want when exact is false) from v. */
static int
decode_field(struct str_view v, unsigned char *dst, size_t want, bool exact,
    size_t *got)
{
	struct buf b;
	int rc = -1;

	buf_init(&b, want);
	if (base64_decode(&b, v.p, v.len) == 0 && b.len > 0 &&
	    (!exact || b.len == want)) {
		memcpy(dst, b.data, b.len);
		*got = b.len;
		rc = 0;
	}
	buf_cleanup(&b);
	return rc;
}

int
scram_entry_parse(const char *text, size_t len, struct scram_entry *out)
{
	struct str_view cur = str_view_make(text, len), f;
	uint64_t iter;
	size_t n;

	memset(out, 0, sizeof(*out));
	if (len > SCRAM_ENTRY_TEXT_MAX || !str_case_prefix(cur, SCRAM_PREFIX))
		return -1;
	cur.p += sizeof(SCRAM_PREFIX) - 1;
	cur.len -= sizeof(SCRAM_PREFIX) - 1;
	if (str_parse_u64(&cur, &iter, SCRAM_ITER_MAX) == -1 || iter == 0 ||
	    !str_take_char(&cur, ':'))
		return -1;
	out->iterations = (unsigned)iter;
	f = str_take_until(&cur, '$');
	if (!str_take_char(&cur, '$') ||
	    decode_field(f, out->salt, SCRAM_SALT_MAX, false,
	    &out->salt_len) == -1)
		return -1;
	f = str_take_until(&cur, ':');
	if (!str_take_char(&cur, ':') ||
	    decode_field(f, out->stored_key, SCRAM_HASH_LEN, true, &n) == -1 ||
	    decode_field(cur, out->server_key, SCRAM_HASH_LEN, true,
	    &n) == -1) {
		memset(out, 0, sizeof(*out));
		return -1;
	}
	return 0;
}
