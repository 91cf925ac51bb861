/*
 * Password hashes: yescrypt through libcrypt, in the "$y$..." crypt(3)
 * format, the way /etc/shadow stores them. Hashing and verifying are slow
 * on purpose (tens of milliseconds): call them from a thread-pool job,
 * never on an event loop.
 */
#ifndef SEALPOST_AUTH_HASH_H
#define SEALPOST_AUTH_HASH_H

#include <stdbool.h>
#include <stddef.h>

/* Room for any yescrypt hash libcrypt produces (CRYPT_OUTPUT_SIZE). */
#define HASH_MAX	384

/*
 * Hashes password with a fresh random salt and the default yescrypt cost
 * into out (size outsz, NUL-terminated). Returns 0, or -1 (out empty) when
 * libcrypt fails or the result does not fit. Thread-safe.
 */
int	hash_password(const char *password, char *out, size_t outsz);
/*
 * True when password hashes to hash. Any malformed or unsupported hash
 * (including libcrypt's "*" failure tokens) gives false. The final compare
 * is constant-time. Thread-safe.
 */
bool	hash_verify(const char *password, const char *hash);
/*
 * A valid yescrypt hash of a random password nobody knows, computed once
 * per process (the first call is slow; later calls return the same
 * static string). Verifying against it takes as long as against a real
 * hash, so an unknown user fails as slowly as a wrong password.
 * Thread-safe; never NULL (a libcrypt failure here is fatal).
 */
const char	*hash_dummy(void);
/* True when s looks like a hash this module can verify ("$y$" prefix). */
bool	hash_is_supported(const char *s);

#endif
