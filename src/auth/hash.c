/*
 * yescrypt password hashing via libcrypt (libxcrypt); see hash.h. The
 * struct crypt_data is large (~32 KB), so it lives on the heap rather than
 * on a pool thread's stack, and is wiped after use because it holds
 * intermediate state derived from the password.
 */
#include "auth/hash.h"

#include <crypt.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/xmalloc.h"

static char dummy_hash[HASH_MAX];
static pthread_once_t dummy_once = PTHREAD_ONCE_INIT;

bool
hash_is_supported(const char *s)
{
	return strncmp(s, "$y$", 3) == 0;
}

/*
 * libcrypt reports failure either with NULL or with a string starting
 * with '*' (e.g. "*0"), depending on build options; treat both as failure.
 */
static bool
crypt_failed(const char *r)
{
	return r == NULL || r[0] == '*' || r[0] == '\0';
}

int
hash_password(const char *password, char *out, size_t outsz)
{
	char salt[CRYPT_GENSALT_OUTPUT_SIZE];
	struct crypt_data *cd;
	const char *r;
	int rc = -1;

	if (outsz > 0)
		out[0] = '\0';
	/* count 0 = libcrypt's default cost; NULL rbytes = its own RNG. */
	if (crypt_failed(crypt_gensalt_rn("$y$", 0, NULL, 0, salt,
	    sizeof(salt))))
		return -1;
	cd = xcalloc(1, sizeof(*cd));
	r = crypt_r(password, salt, cd);
	if (!crypt_failed(r) && strlen(r) < outsz) {
		memcpy(out, r, strlen(r) + 1);
		rc = 0;
	}
	explicit_bzero(cd, sizeof(*cd));
	free(cd);
	return rc;
}

bool
hash_verify(const char *password, const char *hash)
{
	struct crypt_data *cd;
	const char *r;
	size_t hlen = strlen(hash);
	bool ok = false;

	if (!hash_is_supported(hash))
		return false;
	cd = xcalloc(1, sizeof(*cd));
	r = crypt_r(password, hash, cd);
	/*
	 * The lengths of two hashes with the same setting string only differ
	 * when the stored hash is corrupt, so checking them first leaks
	 * nothing about the password.
	 */
	if (!crypt_failed(r) && strlen(r) == hlen)
		ok = CRYPTO_memcmp(r, hash, hlen) == 0;
	explicit_bzero(cd, sizeof(*cd));
	free(cd);
	return ok;
}

static void
dummy_init(void)
{
	unsigned char raw[24];
	char pw[sizeof(raw) * 2 + 1];

	if (RAND_bytes(raw, sizeof(raw)) != 1)
		fatal("hash: RAND_bytes failed");
	for (size_t i = 0; i < sizeof(raw); i++) {
		pw[2 * i] = "0123456789abcdef"[raw[i] >> 4];
		pw[2 * i + 1] = "0123456789abcdef"[raw[i] & 15];
	}
	pw[sizeof(pw) - 1] = '\0';
	if (hash_password(pw, dummy_hash, sizeof(dummy_hash)) == -1)
		fatal("hash: cannot compute a yescrypt hash (libcrypt)");
	explicit_bzero(raw, sizeof(raw));
	explicit_bzero(pw, sizeof(pw));
}

const char *
hash_dummy(void)
{
	pthread_once(&dummy_once, dummy_init);
	return dummy_hash;
}
