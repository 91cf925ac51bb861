/*
 * `sealpost dkim keygen DOMAIN [--selector S] [--algorithm ed25519|rsa2048]`
 * and `sealpost dkim list [DOMAIN]`: the DKIM signing keys of the local
 * domains. A key is <data_dir>/dkim/<domain>/<selector>.pem (see
 * policy/dkim.h); whatever is there is what submission signs with, so
 * rotating a key is generating one under a new selector, publishing it,
 * and removing the old file once the new record is visible. Also the
 * TXT record lines `sealpost dns` prints.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli/commands.h"
#include "core/buf.h"
#include "core/config.h"
#include "core/str.h"
#include "policy/dkim.h"

#define CLI_DKIM_MAX_KEYS	32	/* per domain, listed or printed */

static int
dkim_usage(void)
{
	fprintf(stderr,
	    "usage: sealpost dkim keygen DOMAIN [--selector S] "
	    "[--algorithm ed25519|rsa2048]\n"
	    "       sealpost dkim list [DOMAIN]\n");
	return CLI_EXIT_USAGE;
}

/*
 * Prints the zone-file TXT record of one key. Returns 0 or -1.
 */
static int
print_record(const struct dkim_key *k)
{
	struct buf txt, zone;
	int rc = -1;

	buf_init(&txt, 4096);
	buf_init(&zone, 8192);
	if (dkim_key_record_format(k->pkey, &txt) == 0 &&
	    dkim_zone_strings(txt.data, txt.len, &zone) == 0) {
		printf("%s._domainkey.%s.\tIN TXT\t( %s )\n", k->selector,
		    k->domain, zone.data);
		rc = 0;
	}
	buf_cleanup(&txt);
	buf_cleanup(&zone);
	return rc;
}

int
cli_dkim_print_records(const struct config *cfg, const char *domain)
{
	struct dkim_key keys[CLI_DKIM_MAX_KEYS];
	const char *err = NULL;
	size_t n = 0;

	if (dkim_keys_load(cfg->data_dir, domain, keys, CLI_DKIM_MAX_KEYS, &n,
	    &err) == -1) {
		printf("; DKIM: the keys of %s cannot be read (%s)\n", domain,
		    err);
		return -1;
	}
	if (n == 0) {
		printf("; DKIM: %s has no signing key yet; create one with\n"
		    ";   sealpost dkim keygen %s --algorithm rsa2048\n"
		    ";   sealpost dkim keygen %s --algorithm ed25519\n",
		    domain, domain, domain);
		return 0;
	}
	printf("; DKIM (RFC 6376, RFC 8463): one record per signing key.\n");
	for (size_t i = 0; i < n; i++) {
		printf("; %s key %s, bits %d\n", dkim_keytype_name(keys[i].type),
		    keys[i].path, EVP_PKEY_get_bits(keys[i].pkey));
		(void)print_record(&keys[i]);
	}
	dkim_keys_free(keys, n);
	return (int)n;
}

/* mkdir that tolerates an existing directory; root hands it to owner. */
static int
make_dir(const char *path, const struct stat *owner)
{
	if (mkdir(path, 0700) == -1 && errno != EEXIST) {
		fprintf(stderr, "sealpost dkim: mkdir(%s): %s\n", path,
		    strerror(errno));
		return -1;
	}
	if (geteuid() == 0 && chown(path, owner->st_uid, owner->st_gid) == -1) {
		fprintf(stderr, "sealpost dkim: chown(%s): %s\n", path,
		    strerror(errno));
		return -1;
	}
	return 0;
}

static int
keygen_args(int argc, char **argv, const char **sel, enum dkim_keytype *t)
{
	for (int i = 3; i < argc; i++) {
		if (strcmp(argv[i], "--selector") == 0 && i + 1 < argc) {
			*sel = argv[++i];
		} else if (strcmp(argv[i], "--algorithm") == 0 &&
		    i + 1 < argc) {
			i++;
			if (strcmp(argv[i], "ed25519") == 0)
				*t = DKIM_KEY_ED25519;
			else if (strcmp(argv[i], "rsa2048") == 0 ||
			    strcmp(argv[i], "rsa") == 0)
				*t = DKIM_KEY_RSA;
			else
				return -1;
		} else {
			return -1;
		}
	}
	return 0;
}

static int
dkim_keygen(const struct config *cfg, int argc, char **argv)
{
	enum dkim_keytype type = DKIM_KEY_RSA;
	const char *sel = NULL, *err = NULL;
	char domain[DKIM_DOMAIN_MAX + 1], defsel[32], dir[4096], path[4200];
	struct dkim_key key;
	struct stat owner;

	if (argc < 3 || keygen_args(argc, argv, &sel, &type) == -1)
		return dkim_usage();
	if (str_copy(domain, sizeof(domain), str_view_from(argv[2])) == -1 ||
	    !config_is_local_domain(cfg, domain)) {
		fprintf(stderr, "sealpost dkim: %s is not one of the "
		    "configured domains\n", argv[2]);
		return CLI_EXIT_FAIL;
	}
	str_lower(domain);
	if (sel == NULL) {
		if (dkim_selector_default(type, time(NULL), defsel,
		    sizeof(defsel)) == -1)
			return CLI_EXIT_FAIL;
		sel = defsel;
	}
	if (!dkim_selector_is_valid(sel)) {
		fprintf(stderr, "sealpost dkim: bad selector \"%s\" (letters, "
		    "digits, '-', dot-separated)\n", sel);
		return CLI_EXIT_USAGE;
	}
	if (stat(cfg->data_dir, &owner) == -1) {
		fprintf(stderr, "sealpost dkim: stat(%s): %s\n", cfg->data_dir,
		    strerror(errno));
		return CLI_EXIT_FAIL;
	}
	if (snprintf(dir, sizeof(dir), "%s/%s", cfg->data_dir,
	    DKIM_KEY_DIR) >= (int)sizeof(dir) || make_dir(dir, &owner) == -1)
		return CLI_EXIT_FAIL;
	if (snprintf(dir, sizeof(dir), "%s/%s/%s", cfg->data_dir,
	    DKIM_KEY_DIR, domain) >= (int)sizeof(dir) ||
	    make_dir(dir, &owner) == -1)
		return CLI_EXIT_FAIL;
	if (snprintf(path, sizeof(path), "%s/%s.pem", dir, sel) >=
	    (int)sizeof(path))
		return CLI_EXIT_FAIL;

	memset(&key, 0, sizeof(key));
	key.type = type;
	if ((key.pkey = dkim_key_generate(type, &err)) == NULL) {
		fprintf(stderr, "sealpost dkim: %s\n", err);
		return CLI_EXIT_FAIL;
	}
	if (dkim_key_save(path, key.pkey, &err) == -1) {
		if (errno == EEXIST)
			fprintf(stderr, "sealpost dkim: %s exists; choose "
			    "another --selector\n", path);
		else
			fprintf(stderr, "sealpost dkim: %s(%s): %s\n", err,
			    path, strerror(errno));
		dkim_keys_free(&key, 1);
		return CLI_EXIT_FAIL;
	}
	if (geteuid() == 0 && chown(path, owner.st_uid, owner.st_gid) == -1)
		fprintf(stderr, "sealpost dkim: chown(%s): %s\n", path,
		    strerror(errno));
	snprintf(key.domain, sizeof(key.domain), "%s", domain);
	snprintf(key.selector, sizeof(key.selector), "%s", sel);
	printf("; created %s (%s)\n", path, dkim_keytype_name(type));
	printf("; publish this record, then reload sealpostd (SIGHUP) so "
	    "its workers load the key and sign with it:\n");
	(void)print_record(&key);
	dkim_keys_free(&key, 1);
	return CLI_EXIT_OK;
}

static int
dkim_list(const struct config *cfg, int argc, char **argv)
{
	bool found = false;

	if (argc > 3)
		return dkim_usage();
	for (size_t i = 0; i < cfg->n_domains; i++) {
		if (argc == 3 && strcasecmp(argv[2], cfg->domains[i]) != 0)
			continue;
		found = true;
		printf("; --- %s ---\n", cfg->domains[i]);
		if (cli_dkim_print_records(cfg, cfg->domains[i]) == -1)
			return CLI_EXIT_FAIL;
	}
	if (argc == 3 && !found) {
		fprintf(stderr, "sealpost dkim: %s is not one of the "
		    "configured domains\n", argv[2]);
		return CLI_EXIT_FAIL;
	}
	return CLI_EXIT_OK;
}

int
cli_dkim(const struct config *cfg, int argc, char **argv)
{
	if (argc < 2)
		return dkim_usage();
	if (strcmp(argv[1], "keygen") == 0)
		return dkim_keygen(cfg, argc, argv);
	if (strcmp(argv[1], "list") == 0)
		return dkim_list(cfg, argc, argv);
	return dkim_usage();
}
