/*
 * SCRAM-SHA-256 stored secrets (RFC 5802 section 3, RFC 7677) in the
 * RFC 5803 text form
 *	SCRAM-SHA-256$<iterations>:<b64 salt>$<b64 StoredKey>:<b64 ServerKey>
 * and the primitives the exchange needs. The server keeps only StoredKey
 * and ServerKey: enough to verify a client proof and to prove itself, not
 * enough to log in as the user.
 *
 * Passwords are used as the UTF-8 bytes given; SASLprep (RFC 4013) is not
 * applied, which matches every client for ASCII passwords.
 */
#ifndef SEALPOST_AUTH_SCRAM_H
#define SEALPOST_AUTH_SCRAM_H

#include <stdbool.h>
#include <stddef.h>

struct buf;

#define SCRAM_HASH_LEN		32	/* SHA-256 output */
#define SCRAM_SALT_LEN		16	/* what scram_entry_new() generates */
#define SCRAM_SALT_MAX		64	/* longest salt accepted when parsing */
#define SCRAM_ITER_DEFAULT	4096	/* RFC 7677 section 4 minimum */
#define SCRAM_ITER_MAX		10000000
/* Longest RFC 5803 text this module writes or parses. */
#define SCRAM_ENTRY_TEXT_MAX	256

struct scram_entry {
	unsigned	iterations;
	size_t		salt_len;
	unsigned char	salt[SCRAM_SALT_MAX];
	unsigned char	stored_key[SCRAM_HASH_LEN];
	unsigned char	server_key[SCRAM_HASH_LEN];
};

/*
 * Derives an entry from password (pwlen bytes), salt and iterations:
 * SaltedPassword = PBKDF2-HMAC-SHA-256, ClientKey = HMAC(SP, "Client Key"),
 * StoredKey = H(ClientKey), ServerKey = HMAC(SP, "Server Key").
 * Returns 0, or -1 for out-of-range arguments or a crypto failure.
 */
int	scram_entry_derive(const char *password, size_t pwlen,
	    const unsigned char *salt, size_t salt_len, unsigned iterations,
	    struct scram_entry *out);
/* As scram_entry_derive() with a fresh random SCRAM_SALT_LEN-byte salt. */
int	scram_entry_new(const char *password, unsigned iterations,
	    struct scram_entry *out);
/* Appends the RFC 5803 text of e to out. Returns 0, or -1 when out is full. */
int	scram_entry_format(const struct scram_entry *e, struct buf *out);
/*
 * Parses len bytes of RFC 5803 text (nothing before or after it). Returns
 * 0, or -1 when malformed (wrong prefix, bad base64, key lengths other
 * than 32, iterations outside 1..SCRAM_ITER_MAX, empty or long salt).
 */
int	scram_entry_parse(const char *text, size_t len,
	    struct scram_entry *out);

/* out = SHA-256(data). */
void	scram_sha256(const void *data, size_t len,
	    unsigned char out[SCRAM_HASH_LEN]);
/* out = HMAC-SHA-256(key, data). */
void	scram_hmac_sha256(const void *key, size_t keylen, const void *data,
	    size_t len, unsigned char out[SCRAM_HASH_LEN]);
/* Constant-time equality of n bytes (CRYPTO_memcmp). */
bool	scram_mem_equal(const void *a, const void *b, size_t n);

#endif
