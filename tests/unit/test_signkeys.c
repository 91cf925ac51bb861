/*
 * Unit tests for smtp/signkeys: the worker's DKIM signing keys, loaded
 * per local domain from <data_dir>/dkim/<domain>/<selector>.pem (keys
 * made here with the dkim library, as `sealpost dkim keygen` does).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/config.h"
#include "policy/dkim.h"
#include "smtp/signkeys.h"
#include "test_tmpdir.h"

static void
make_key(const char *dir, const char *domain, const char *sel,
    enum dkim_keytype type)
{
	char path[512];
	const char *err = NULL;
	EVP_PKEY *k;

	snprintf(path, sizeof(path), "%s/dkim", dir);
	mkdir(path, 0700);
	snprintf(path, sizeof(path), "%s/dkim/%s", dir, domain);
	mkdir(path, 0700);
	snprintf(path, sizeof(path), "%s/dkim/%s/%s.pem", dir, domain, sel);
	k = dkim_key_generate(type, &err);
	assert_non_null(k);
	assert_int_equal(dkim_key_save(path, k, &err), 0);
	EVP_PKEY_free(k);
}

/*
 * Two local domains with keys (one with an rsa and an ed25519 key, one
 * with a single key next to a file that is no key), one without: each
 * domain finds its own keys, case-insensitively; others find none.
 */
static void
test_signkeys_load_per_domain(void **state)
{
	static const struct {
		const char	*domain;
		size_t		 n;
		const char	*first_selector;
	} cases[] = {
		{ "example.org", 2, "e1" },
		{ "EXAMPLE.ORG", 2, "e1" },
		{ "example.net", 1, "s1" },
		{ "example.com", 0, NULL },	/* local, no keys */
		{ "elsewhere.example", 0, NULL },	/* not local */
	};
	char dir[] = "/tmp/sealpost-signkeys-XXXXXX", path[512];
	struct smtp_signkeys *k;
	struct config cfg;
	FILE *f;

	(void)state;
	assert_non_null(mkdtemp(dir));
	make_key(dir, "example.org", "r1", DKIM_KEY_RSA);
	make_key(dir, "example.org", "e1", DKIM_KEY_ED25519);
	make_key(dir, "example.net", "s1", DKIM_KEY_ED25519);
	snprintf(path, sizeof(path), "%s/dkim/example.net/broken.pem", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("not a key\n", f);
	fclose(f);
	/* Keys of a domain that is not local are never loaded. */
	make_key(dir, "elsewhere.example", "x1", DKIM_KEY_ED25519);

	memset(&cfg, 0, sizeof(cfg));
	cfg.data_dir = dir;
	cfg.n_domains = 3;
	cfg.domains[0] = "example.org";
	cfg.domains[1] = "example.net";
	cfg.domains[2] = "example.com";
	k = smtp_signkeys_load(&cfg);
	assert_non_null(k);
	assert_int_equal(smtp_signkeys_count(k), 3);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t n = 99;
		const struct dkim_key *keys = smtp_signkeys_find(k,
		    cases[i].domain, &n);

		assert_int_equal(n, cases[i].n);
		if (cases[i].n == 0) {
			assert_null(keys);
			continue;
		}
		assert_non_null(keys);
		assert_string_equal(keys[0].selector, cases[i].first_selector);
		for (size_t j = 0; j < n; j++) {
			assert_non_null(keys[j].pkey);
			assert_string_equal(keys[j].domain,
			    cases[i].n == 2 ? "example.org" : "example.net");
		}
	}
	smtp_signkeys_free(&k);
	assert_null(k);
	smtp_signkeys_free(&k);
	test_tmpdir_remove(dir);
}

static void
test_signkeys_none_and_null(void **state)
{
	char dir[] = "/tmp/sealpost-signkeys-XXXXXX";
	struct smtp_signkeys *k;
	struct config cfg;
	size_t n = 7;

	(void)state;
	assert_non_null(mkdtemp(dir));
	memset(&cfg, 0, sizeof(cfg));
	cfg.data_dir = dir;
	cfg.n_domains = 1;
	cfg.domains[0] = "example.org";
	k = smtp_signkeys_load(&cfg);
	assert_int_equal(smtp_signkeys_count(k), 0);
	assert_null(smtp_signkeys_find(k, "example.org", &n));
	assert_int_equal(n, 0);
	smtp_signkeys_free(&k);
	n = 7;
	assert_null(smtp_signkeys_find(NULL, "example.org", &n));
	assert_int_equal(n, 0);
	assert_int_equal(smtp_signkeys_count(NULL), 0);
	rmdir(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_signkeys_load_per_domain),
		cmocka_unit_test(test_signkeys_none_and_null),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
