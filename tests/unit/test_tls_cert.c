/* Unit tests for net/tls_cert: the generated certificate must be exactly
 * what clients need to trust it directly, for the names we promise. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "net/tls_cert.h"

/* Verifies cert against itself as the only trust anchor, for host. */
static int
verify_as_ca(X509 *cert, const char *host, bool is_ip)
{
	X509_STORE *store = X509_STORE_new();
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	X509_VERIFY_PARAM *param;
	int ok;

	assert_non_null(store);
	assert_non_null(ctx);
	assert_int_equal(X509_STORE_add_cert(store, cert), 1);
	assert_int_equal(X509_STORE_CTX_init(ctx, store, cert, NULL), 1);
	param = X509_STORE_CTX_get0_param(ctx);
	X509_VERIFY_PARAM_set_flags(param, X509_V_FLAG_X509_STRICT);
	X509_VERIFY_PARAM_set_purpose(param, X509_PURPOSE_SSL_SERVER);
	if (is_ip)
		assert_int_equal(X509_VERIFY_PARAM_set1_ip_asc(param, host), 1);
	else
		assert_int_equal(X509_VERIFY_PARAM_set1_host(param, host, 0), 1);
	ok = X509_verify_cert(ctx);
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(store);
	return ok;
}

static void
test_tls_cert_selfsigned_properties(void **state)
{
	EVP_PKEY *key;
	X509 *cert;
	char err[256];
	BASIC_CONSTRAINTS *bc;
	const ASN1_INTEGER *serial;

	(void)state;
	assert_int_equal(tls_cert_selfsigned("mx.example.test", TLS_CERT_DAYS,
	    &key, &cert, err, sizeof(err)), 0);
	assert_int_equal(X509_get_version(cert), X509_VERSION_3);
	assert_int_equal(EVP_PKEY_get_base_id(key), EVP_PKEY_EC);
	assert_int_equal(EVP_PKEY_get_bits(key), 256);
	assert_int_equal(X509_get_signature_nid(cert), NID_ecdsa_with_SHA256);
	assert_int_equal(X509_check_private_key(cert, key), 1);
	assert_int_equal(X509_verify(cert, key), 1);
	bc = X509_get_ext_d2i(cert, NID_basic_constraints, NULL, NULL);
	assert_non_null(bc);
	assert_true(bc->ca);
	BASIC_CONSTRAINTS_free(bc);
	assert_true(X509_get_key_usage(cert) & KU_DIGITAL_SIGNATURE);
	assert_true(X509_get_key_usage(cert) & KU_KEY_CERT_SIGN);
	assert_true(X509_get_extended_key_usage(cert) & XKU_SSL_SERVER);
	serial = X509_get0_serialNumber(cert);
	assert_true(ASN1_STRING_length(serial) >= 16);
	/* ~825 days: more than 824 days from now, less than 826. */
	{
		int days = 0, secs = 0;

		assert_int_equal(ASN1_TIME_diff(&days, &secs, NULL,
		    X509_get0_notAfter(cert)), 1);
		assert_true(days >= 824 && days <= 825);
	}
	/* Each name in the SAN verifies, other names do not. */
	assert_int_equal(verify_as_ca(cert, "mx.example.test", false), 1);
	assert_int_equal(verify_as_ca(cert, "localhost", false), 1);
	assert_int_equal(verify_as_ca(cert, "127.0.0.1", true), 1);
	assert_int_equal(verify_as_ca(cert, "other.example.test", false), 0);
	assert_int_equal(verify_as_ca(cert, "127.0.0.2", true), 0);
	X509_free(cert);
	EVP_PKEY_free(key);
}

static void
test_tls_cert_serials_differ(void **state)
{
	EVP_PKEY *k1, *k2;
	X509 *c1, *c2;
	char err[256];

	(void)state;
	assert_int_equal(tls_cert_selfsigned("localhost", 1, &k1, &c1, err,
	    sizeof(err)), 0);
	assert_int_equal(tls_cert_selfsigned("localhost", 1, &k2, &c2, err,
	    sizeof(err)), 0);
	assert_int_not_equal(ASN1_INTEGER_cmp(X509_get0_serialNumber(c1),
	    X509_get0_serialNumber(c2)), 0);
	assert_int_equal(X509_check_private_key(c1, k2), 0);
	X509_free(c1);
	X509_free(c2);
	EVP_PKEY_free(k1);
	EVP_PKEY_free(k2);
}

static void
test_tls_cert_ip_hostname_and_bad_names(void **state)
{
	static const char *const bad[] = { "", "a,DNS:evil.example",
	    "a b", "host/x", "email:x@y" };
	EVP_PKEY *key = NULL;
	X509 *cert = NULL;
	char err[256];

	(void)state;
	assert_int_equal(tls_cert_selfsigned("192.0.2.25", 1, &key, &cert, err,
	    sizeof(err)), 0);
	assert_int_equal(verify_as_ca(cert, "192.0.2.25", true), 1);
	X509_free(cert);
	EVP_PKEY_free(key);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		key = NULL;
		cert = NULL;
		assert_int_equal(tls_cert_selfsigned(bad[i], 1, &key, &cert,
		    err, sizeof(err)), -1);
		assert_null(key);
		assert_null(cert);
	}
}

static void
test_tls_cert_write_pem_modes_and_no_overwrite(void **state)
{
	char dir[] = "/tmp/test_tls_cert.XXXXXX", cp[128], kp[128], err[256];
	char fp[96];
	EVP_PKEY *key, *rkey;
	X509 *cert, *rcert;
	struct stat st;
	FILE *f;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(cp, sizeof(cp), "%s/cert.pem", dir);
	snprintf(kp, sizeof(kp), "%s/key.pem", dir);
	assert_int_equal(tls_cert_selfsigned("localhost", 1, &key, &cert, err,
	    sizeof(err)), 0);
	assert_int_equal(tls_cert_write_pem(key, cert, cp, kp, err,
	    sizeof(err)), 0);
	assert_int_equal(stat(kp, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(stat(cp, &st), 0);
	assert_int_equal(st.st_mode & 0600, 0600);
	assert_int_equal(st.st_mode & 0022, 0);	/* public, never writable */
	/* Read back: the files hold the same pair. */
	assert_non_null(f = fopen(kp, "r"));
	assert_non_null(rkey = PEM_read_PrivateKey(f, NULL, NULL, NULL));
	fclose(f);
	assert_non_null(f = fopen(cp, "r"));
	assert_non_null(rcert = PEM_read_X509(f, NULL, NULL, NULL));
	fclose(f);
	assert_int_equal(X509_check_private_key(rcert, rkey), 1);
	assert_int_equal(X509_cmp(rcert, cert), 0);
	/* An existing file is never overwritten. */
	assert_int_equal(tls_cert_write_pem(key, cert, cp, kp, err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "key.pem"));
	assert_int_equal(tls_cert_fingerprint(cert, fp, sizeof(fp)), 0);
	assert_int_equal(strlen(fp), 95);
	assert_int_equal(fp[2], ':');
	assert_int_equal(tls_cert_fingerprint(cert, fp, 10), -1);
	X509_free(rcert);
	EVP_PKEY_free(rkey);
	X509_free(cert);
	EVP_PKEY_free(key);
	unlink(cp);
	unlink(kp);
	rmdir(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tls_cert_selfsigned_properties),
		cmocka_unit_test(test_tls_cert_serials_differ),
		cmocka_unit_test(test_tls_cert_ip_hostname_and_bad_names),
		cmocka_unit_test(test_tls_cert_write_pem_modes_and_no_overwrite),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
