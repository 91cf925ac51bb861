/*
 * Self-signed certificate generation with the OpenSSL 3 API; see tls_cert.h.
 * The certificate doubles as its own trust anchor, which is why it carries
 * CA:TRUE and keyCertSign next to the server-auth usage: with that, the one
 * file is both what the server presents and what a client is told to trust.
 */
#include "net/tls_cert.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

static int
fail(char *err, size_t errsz, const char *what)
{
	unsigned long e = ERR_get_error();
	char detail[200];

	if (e != 0)
		ERR_error_string_n(e, detail, sizeof(detail));
	else
		(void)snprintf(detail, sizeof(detail), "failed");
	ERR_clear_error();
	(void)snprintf(err, errsz, "%s: %s", what, detail);
	return -1;
}

static bool
is_ip_literal(const char *s)
{
	unsigned char a[16];

	return inet_pton(AF_INET, s, a) == 1 || inet_pton(AF_INET6, s, a) == 1;
}

static int
add_ext(X509 *cert, X509V3_CTX *ctx, int nid, const char *value)
{
	X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, ctx, nid, value);
	int rc;

	if (ext == NULL)
		return -1;
	rc = X509_add_ext(cert, ext, -1) == 1 ? 0 : -1;
	X509_EXTENSION_free(ext);
	return rc;
}

static int
set_serial(X509 *cert)
{
	BIGNUM *bn = BN_new();
	int rc = -1;

	/* RFC 5280 4.1.2.2: positive, at most 20 octets; 159 random bits
	 * stay positive in DER and leave no guessable pattern. */
	if (bn != NULL && BN_rand(bn, 159, BN_RAND_TOP_ANY,
	    BN_RAND_BOTTOM_ANY) == 1 &&
	    BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert)) != NULL)
		rc = 0;
	BN_free(bn);
	return rc;
}

static int
set_names(X509 *cert, const char *hostname)
{
	X509_NAME *name = X509_get_subject_name(cert);

	if (X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
	    (const unsigned char *)"sealpost self-signed", -1, -1, 0) != 1 ||
	    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
	    (const unsigned char *)hostname, -1, -1, 0) != 1)
		return -1;
	return X509_set_issuer_name(cert, name) == 1 ? 0 : -1;
}

static int
set_extensions(X509 *cert, const char *hostname)
{
	X509V3_CTX ctx;
	char san[600];
	int n;

	if (is_ip_literal(hostname))
		n = snprintf(san, sizeof(san), "IP:%s", hostname);
	else
		n = snprintf(san, sizeof(san), "DNS:%s", hostname);
	if (n < 0 || (size_t)n >= sizeof(san))
		return -1;
	if (strcasecmp(hostname, "localhost") != 0) {
		size_t len = (size_t)n;

		n = snprintf(san + len, sizeof(san) - len, ",DNS:localhost");
		if (n < 0 || (size_t)n >= sizeof(san) - len)
			return -1;
	}
	if (strcmp(hostname, "127.0.0.1") != 0) {
		size_t len = strlen(san);

		n = snprintf(san + len, sizeof(san) - len, ",IP:127.0.0.1");
		if (n < 0 || (size_t)n >= sizeof(san) - len)
			return -1;
	}
	X509V3_set_ctx(&ctx, cert, cert, NULL, NULL, 0);
	/* Python's X509_STRICT checks want the CA constraints critical and
	 * both key identifiers present, so they are. */
	if (add_ext(cert, &ctx, NID_subject_alt_name, san) == -1 ||
	    add_ext(cert, &ctx, NID_basic_constraints, "critical,CA:TRUE") == -1 ||
	    add_ext(cert, &ctx, NID_key_usage,
	    "critical,digitalSignature,keyCertSign") == -1 ||
	    add_ext(cert, &ctx, NID_ext_key_usage, "serverAuth") == -1 ||
	    add_ext(cert, &ctx, NID_subject_key_identifier, "hash") == -1 ||
	    add_ext(cert, &ctx, NID_authority_key_identifier,
	    "keyid:always") == -1)
		return -1;
	return 0;
}

int
tls_cert_selfsigned(const char *hostname, unsigned days, EVP_PKEY **keyp,
    X509 **certp, char *err, size_t errsz)
{
	EVP_PKEY *key;
	X509 *cert;

	/* The name goes into an X509V3 config string, where a comma would
	 * start another subjectAltName entry: letters, digits, '-' and '.'
	 * (or an IP literal) only. */
	if (hostname == NULL || hostname[0] == '\0' || strlen(hostname) > 253 ||
	    (!is_ip_literal(hostname) && strspn(hostname,
	    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-")
	    != strlen(hostname))) {
		(void)snprintf(err, errsz, "bad host name");
		return -1;
	}
	if ((key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256")) == NULL)
		return fail(err, errsz, "EVP_PKEY_Q_keygen(EC, P-256)");
	if ((cert = X509_new()) == NULL) {
		EVP_PKEY_free(key);
		return fail(err, errsz, "X509_new");
	}
	if (X509_set_version(cert, X509_VERSION_3) != 1 ||
	    set_serial(cert) == -1 ||
	    X509_gmtime_adj(X509_getm_notBefore(cert), -300) == NULL ||
	    X509_time_adj_ex(X509_getm_notAfter(cert), (int)days, 0,
	    NULL) == NULL ||
	    X509_set_pubkey(cert, key) != 1 ||
	    set_names(cert, hostname) == -1 ||
	    set_extensions(cert, hostname) == -1 ||
	    X509_sign(cert, key, EVP_sha256()) <= 0) {
		X509_free(cert);
		EVP_PKEY_free(key);
		return fail(err, errsz, "building the certificate");
	}
	*keyp = key;
	*certp = cert;
	return 0;
}

/* Writes one PEM object to a new file with mode; -1 leaves no file. */
static int
write_pem(const char *path, mode_t mode, EVP_PKEY *key, X509 *cert,
    char *err, size_t errsz)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
	FILE *f;
	int ok;

	if (fd == -1) {
		(void)snprintf(err, errsz, "open(%s): %s", path,
		    strerror(errno));
		return -1;
	}
	if ((f = fdopen(fd, "w")) == NULL) {
		(void)snprintf(err, errsz, "fdopen(%s): %s", path,
		    strerror(errno));
		close(fd);
		unlink(path);
		return -1;
	}
	if (key != NULL)
		ok = PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL);
	else
		ok = PEM_write_X509(f, cert);
	if (ok != 1) {
		fclose(f);
		unlink(path);
		return fail(err, errsz, path);
	}
	if (fflush(f) != 0 || fsync(fileno(f)) == -1) {
		(void)snprintf(err, errsz, "write(%s): %s", path,
		    strerror(errno));
		fclose(f);
		unlink(path);
		return -1;
	}
	if (fclose(f) != 0) {
		(void)snprintf(err, errsz, "close(%s): %s", path,
		    strerror(errno));
		unlink(path);
		return -1;
	}
	return 0;
}

int
tls_cert_write_pem(EVP_PKEY *key, X509 *cert, const char *cert_path,
    const char *key_path, char *err, size_t errsz)
{
	/* The key first: if it cannot be written, no orphan cert remains. */
	if (write_pem(key_path, 0600, key, NULL, err, errsz) == -1)
		return -1;
	if (write_pem(cert_path, 0644, NULL, cert, err, errsz) == -1) {
		unlink(key_path);
		return -1;
	}
	return 0;
}

int
tls_cert_fingerprint(X509 *cert, char *out, size_t outsz)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	static const char hex[] = "0123456789ABCDEF";

	if (X509_digest(cert, EVP_sha256(), md, &n) != 1 || n != 32 ||
	    outsz < 3 * 32)
		return -1;
	for (unsigned i = 0; i < n; i++) {
		out[3 * i] = hex[md[i] >> 4];
		out[3 * i + 1] = hex[md[i] & 0xf];
		out[3 * i + 2] = i + 1 < n ? ':' : '\0';
	}
	return 0;
}
