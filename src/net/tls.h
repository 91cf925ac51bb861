/*
 * Server-side TLS policy in one place: TLS 1.2 minimum (RFC 8996), TLS 1.3
 * preferred, forward-secret AEAD ciphers only, no renegotiation, no
 * compression, session resumption on.
 */
#ifndef SEALPOST_NET_TLS_H
#define SEALPOST_NET_TLS_H

#include <stddef.h>
#include <openssl/ssl.h>

/* Returns a new context owning cert+key, or NULL with *errstr (static text
 * plus the OpenSSL reason in errbuf). */
SSL_CTX	*tls_server_ctx_new(const char *cert_file, const char *key_file,
	    char *errbuf, size_t errbufsz);
/* "TLSv1.3" and the cipher name of an established connection. */
const char	*tls_version(const SSL *);
const char	*tls_cipher(const SSL *);

#endif
