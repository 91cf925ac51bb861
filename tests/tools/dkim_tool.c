/*
 * A test driver for the DKIM library, for interop tests against other
 * implementations (tests/interop/test_dkim_dkimpy.py). No DNS: keys are
 * files, key records are arguments.
 *
 *   dkim_tool keygen ed25519|rsa FILE     writes FILE, prints the record
 *   dkim_tool sign FILE DOMAIN SELECTOR [HCANON/BCANON] [TIME] < msg
 *       prints the message with the DKIM-Signature field(s) prepended;
 *       FILE may be "a.pem,b.pem" (same domain, selectors "SEL1,SEL2")
 *   dkim_tool verify [QNAME=RECORD ...] < msg
 *       prints one line per signature: "status d=.. s=.. a=.. reason";
 *       exit 0 when there is at least one and all pass
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/buf.h"
#include "policy/dkim.h"

static int
read_all(struct buf *b)
{
	char chunk[4096];
	ssize_t n;

	while ((n = read(0, chunk, sizeof(chunk))) > 0)
		if (buf_append(b, chunk, (size_t)n) == -1)
			return -1;
	return n < 0 ? -1 : 0;
}

static int
tool_keygen(const char *alg, const char *path)
{
	enum dkim_keytype t = strcmp(alg, "rsa") == 0 ? DKIM_KEY_RSA :
	    DKIM_KEY_ED25519;
	const char *err = NULL;
	EVP_PKEY *k = dkim_key_generate(t, &err);
	struct buf rec;

	if (k == NULL || dkim_key_save(path, k, &err) == -1) {
		fprintf(stderr, "keygen: %s\n", err);
		return 1;
	}
	buf_init(&rec, 4096);
	if (dkim_key_record_format(k, &rec) == -1)
		return 1;
	printf("%s\n", rec.data);
	buf_cleanup(&rec);
	EVP_PKEY_free(k);
	return 0;
}

static int
parse_canon(const char *s, enum dkim_canon *h, enum dkim_canon *b)
{
	*h = strncmp(s, "simple", 6) == 0 ? DKIM_CANON_SIMPLE :
	    DKIM_CANON_RELAXED;
	s = strchr(s, '/');
	*b = s != NULL && strcmp(s + 1, "simple") == 0 ? DKIM_CANON_SIMPLE :
	    DKIM_CANON_RELAXED;
	return 0;
}

static int
tool_sign(int argc, char **argv)
{
	struct dkim_key keys[DKIM_SIGN_MAX_KEYS];
	enum dkim_canon hc = DKIM_CANON_RELAXED, bc = DKIM_CANON_RELAXED;
	char files[4096], sels[1024], *fsave = NULL, *ssave = NULL, *f, *s;
	struct buf msg, out;
	struct dkim_signer *sg;
	const char *err = NULL;
	time_t now = time(NULL);
	size_t n = 0;

	if (argc > 5)
		parse_canon(argv[5], &hc, &bc);
	if (argc > 6)
		now = (time_t)strtoll(argv[6], NULL, 10);
	snprintf(files, sizeof(files), "%s", argv[2]);
	snprintf(sels, sizeof(sels), "%s", argv[4]);
	for (f = strtok_r(files, ",", &fsave), s = strtok_r(sels, ",", &ssave);
	    f != NULL && s != NULL && n < DKIM_SIGN_MAX_KEYS;
	    f = strtok_r(NULL, ",", &fsave), s = strtok_r(NULL, ",", &ssave)) {
		memset(&keys[n], 0, sizeof(keys[n]));
		keys[n].pkey = dkim_key_load(f, &keys[n].type, &err);
		if (keys[n].pkey == NULL) {
			fprintf(stderr, "sign: %s: %s\n", f, err);
			return 1;
		}
		snprintf(keys[n].domain, sizeof(keys[n].domain), "%s", argv[3]);
		snprintf(keys[n].selector, sizeof(keys[n].selector), "%s", s);
		n++;
	}
	buf_init(&msg, 64 * 1024 * 1024);
	buf_init(&out, 64 * 1024);
	if (read_all(&msg) == -1)
		return 1;
	sg = dkim_signer_new_canon(keys, n, now, hc, bc);
	dkim_keys_free(keys, n);
	if (sg == NULL)
		return 1;
	dkim_signer_feed(sg, msg.data, msg.len);
	if (dkim_signer_finish(sg, &out, &err) == -1) {
		fprintf(stderr, "sign: %s\n", err);
		return 1;
	}
	fwrite(out.data, 1, out.len, stdout);
	fwrite(msg.data, 1, msg.len, stdout);
	dkim_signer_free(&sg);
	buf_cleanup(&msg);
	buf_cleanup(&out);
	return 0;
}

static int
tool_verify(int argc, char **argv)
{
	struct dkim_verify *v = dkim_verify_new(time(NULL));
	struct buf msg;
	size_t n;
	int rc = 0;

	buf_init(&msg, 64 * 1024 * 1024);
	if (read_all(&msg) == -1)
		return 1;
	dkim_verify_feed(v, msg.data, msg.len);
	dkim_verify_body_end(v);
	n = dkim_verify_count(v);
	for (size_t i = 0; i < n; i++) {
		const char *q = dkim_verify_qname(v, i);
		bool found = false;

		for (int a = 2; q != NULL && a < argc; a++) {
			const char *eq = strchr(argv[a], '=');
			size_t len;

			if (eq == NULL || (size_t)(eq - argv[a]) != strlen(q) ||
			    strncmp(argv[a], q, strlen(q)) != 0)
				continue;
			len = strlen(eq + 1);
			eq++;
			dkim_verify_key_txt(v, i, &eq, &len, 1);
			found = true;
			break;
		}
		if (q != NULL && !found)
			dkim_verify_key_status(v, i, DKIM_DNS_NXDOMAIN);
	}
	for (size_t i = 0; i < n; i++) {
		const struct dkim_result *r = dkim_verify_result(v, i);

		printf("%s d=%s s=%s a=%s b=%s bits=%u%s%s reason=%s\n",
		    dkim_status_name(r->status), r->domain, r->selector,
		    dkim_alg_name(r->alg), r->b_prefix, r->key_bits,
		    r->is_weak ? " weak" : "", r->has_l ? " l" : "", r->reason);
		if (r->status != DKIM_PASS)
			rc = 1;
	}
	if (n == 0) {
		printf("none\n");
		rc = 1;
	}
	dkim_verify_free(&v);
	buf_cleanup(&msg);
	return rc;
}

int
main(int argc, char **argv)
{
	if (argc == 4 && strcmp(argv[1], "keygen") == 0)
		return tool_keygen(argv[2], argv[3]);
	if (argc >= 5 && strcmp(argv[1], "sign") == 0)
		return tool_sign(argc, argv);
	if (argc >= 2 && strcmp(argv[1], "verify") == 0)
		return tool_verify(argc, argv);
	fprintf(stderr, "usage: dkim_tool keygen ed25519|rsa FILE | sign FILE "
	    "DOMAIN SELECTOR [C] [TIME] | verify [QNAME=RECORD ...]\n");
	return 2;
}
