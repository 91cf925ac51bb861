/* Server TLS contexts; see tls.h. */
#include "net/tls.h"

#include <stdio.h>
#include <openssl/err.h>

static void
tls_error(char *errbuf, size_t errbufsz, const char *what, const char *file)
{
	unsigned long e = ERR_get_error();
	char reason[256];

	ERR_error_string_n(e, reason, sizeof(reason));
	snprintf(errbuf, errbufsz, "%s %s: %s", what, file, reason);
	ERR_clear_error();
}

SSL_CTX *
tls_server_ctx_new(const char *cert_file, const char *key_file, char *errbuf,
    size_t errbufsz)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

	if (ctx == NULL) {
		tls_error(errbuf, errbufsz, "SSL_CTX_new", "");
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	/*
	 * Renegotiation is a DoS lever and a source of past bugs; compression
	 * leaks plaintext (CRIME). Neither has a use in mail.
	 */
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION |
	    SSL_OP_CIPHER_SERVER_PREFERENCE);
	if (SSL_CTX_set_cipher_list(ctx,
	    "ECDHE+AESGCM:ECDHE+CHACHA20:DHE+AESGCM:DHE+CHACHA20") != 1) {
		tls_error(errbuf, errbufsz, "cipher list", "");
		SSL_CTX_free(ctx);
		return NULL;
	}
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
	SSL_CTX_set_session_id_context(ctx, (const unsigned char *)"sealpost", 8);
	/* Partial writes let libevent hand over whatever fits. */
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
	    SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS);
	if (SSL_CTX_use_certificate_chain_file(ctx, cert_file) != 1) {
		tls_error(errbuf, errbufsz, "loading certificate", cert_file);
		SSL_CTX_free(ctx);
		return NULL;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, key_file, SSL_FILETYPE_PEM) != 1) {
		tls_error(errbuf, errbufsz, "loading key", key_file);
		SSL_CTX_free(ctx);
		return NULL;
	}
	if (SSL_CTX_check_private_key(ctx) != 1) {
		tls_error(errbuf, errbufsz, "key does not match certificate",
		    cert_file);
		SSL_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

const char *
tls_version(const SSL *ssl)
{
	return SSL_get_version(ssl);
}

const char *
tls_cipher(const SSL *ssl)
{
	return SSL_get_cipher_name(ssl);
}
