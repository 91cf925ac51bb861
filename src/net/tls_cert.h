/*
 * Self-signed certificates for new instances (`sealpost init`) and tests:
 * an ECDSA P-256 key and an X.509 v3 certificate that is its own CA, so a
 * client can trust the certificate file directly (curl --cacert, python
 * ssl.create_default_context(cafile=...), openssl s_client -CAfile).
 * Loading certificates for serving is tls.c's business, not this module's.
 */
#ifndef SEALPOST_NET_TLS_CERT_H
#define SEALPOST_NET_TLS_CERT_H

#include <stddef.h>
#include <openssl/types.h>

#define TLS_CERT_DAYS	825	/* the longest validity browsers accepted */

/*
 * Makes a new P-256 key and a certificate for hostname valid for days days
 * (from five minutes ago, to absorb clock skew): random 159-bit serial,
 * CN=hostname, subjectAltName DNS:hostname (IP: when hostname is an IP
 * literal), DNS:localhost and IP:127.0.0.1, basicConstraints critical
 * CA:TRUE, keyUsage critical digitalSignature+keyCertSign, extendedKeyUsage
 * serverAuth, subject/authority key identifiers, SHA-256 signature.
 * Returns 0 with *keyp and *certp owned by the caller (EVP_PKEY_free,
 * X509_free), or -1 with a message in err (size errsz).
 */
int	tls_cert_selfsigned(const char *hostname, unsigned days,
	    EVP_PKEY **keyp, X509 **certp, char *err, size_t errsz);

/*
 * Writes cert (PEM, mode 0644) and key (unencrypted PKCS#8 PEM, mode 0600)
 * to new files: an existing file is an error, never overwritten. Each file
 * is fsynced. Returns 0, or -1 with a message in err (nothing left behind).
 */
int	tls_cert_write_pem(EVP_PKEY *key, X509 *cert, const char *cert_path,
	    const char *key_path, char *err, size_t errsz);

/*
 * Formats the SHA-256 fingerprint of cert as "AB:CD:..." (95 characters + NUL;
 * outsz must be at least 96). Returns 0 or -1.
 */
int	tls_cert_fingerprint(X509 *cert, char *out, size_t outsz);

#endif
