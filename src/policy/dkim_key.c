/*
 * DKIM key files and DNS records: generation with the OpenSSL EVP API,
 * PKCS#8 PEM files written atomically, the key record text (RFC 6376
 * 3.6.1, RFC 8463 4) and its zone-file form, and the per-domain key
 * directory <data_dir>/dkim/<domain>/<selector>.pem. The only file I/O of
 * the DKIM module lives here; it blocks, so it is for the CLI and for
 * start-up, not for the event loop.
 */
#include "policy/dkim.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "core/base64.h"
#include "core/buf.h"
#include "core/log.h"
#include "core/str.h"

EVP_PKEY *
dkim_key_generate(enum dkim_keytype type, const char **err)
{
	EVP_PKEY *key;

	if (type == DKIM_KEY_ED25519)
		key = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	else
		key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	if (key == NULL)
		*err = "key generation failed";
	return key;
}

int
dkim_key_save(const char *path, EVP_PKEY *pkey, const char **err)
{
	char tmp[4200];
	BIO *bio = NULL;
	int fd, saved;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp)) {
		errno = ENAMETOOLONG;
		*err = "path too long";
		return -1;
	}
	if (access(path, F_OK) == 0) {
		errno = EEXIST;
		*err = "key file exists";
		return -1;
	}
	(void)unlink(tmp);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
	    0600);
	if (fd == -1) {
		*err = "open";
		return -1;
	}
	if ((bio = BIO_new_fd(fd, BIO_NOCLOSE)) == NULL ||
	    PEM_write_bio_PrivateKey(bio, pkey, NULL, NULL, 0, NULL,
	    NULL) != 1 || BIO_flush(bio) != 1) {
		*err = "write";
		errno = EIO;
		goto fail;
	}
	if (fsync(fd) == -1) {
		*err = "fsync";
		goto fail;
	}
	BIO_free(bio);
	bio = NULL;
	if (close(fd) == -1) {
		fd = -1;
		*err = "close";
		goto fail;
	}
	fd = -1;
	/* link() refuses to replace a key that appeared meanwhile. */
	if (link(tmp, path) == -1) {
		*err = "link";
		goto fail;
	}
	(void)unlink(tmp);
	{
		char dir[4200];
		char *slash;
		int dfd;

		/* The directory entry is durable too. */
		if (snprintf(dir, sizeof(dir), "%s", path) < (int)sizeof(dir) &&
		    (slash = strrchr(dir, '/')) != NULL) {
			*slash = '\0';
			if ((dfd = open(dir[0] != '\0' ? dir : "/",
			    O_RDONLY | O_DIRECTORY | O_CLOEXEC)) != -1) {
				(void)fsync(dfd);
				close(dfd);
			}
		}
	}
	return 0;
fail:
	saved = errno;
	BIO_free(bio);
	if (fd != -1)
		close(fd);
	(void)unlink(tmp);
	errno = saved;
	return -1;
}

EVP_PKEY *
dkim_key_load(const char *path, enum dkim_keytype *type, const char **err)
{
	FILE *fp;
	EVP_PKEY *key;
	int id;

	if ((fp = fopen(path, "re")) == NULL) {
		*err = "cannot open key file";
		return NULL;
	}
	key = PEM_read_PrivateKey(fp, NULL, NULL, NULL);
	fclose(fp);
	if (key == NULL) {
		*err = "not a PEM private key";
		return NULL;
	}
	id = EVP_PKEY_get_base_id(key);
	if (id == EVP_PKEY_ED25519) {
		*type = DKIM_KEY_ED25519;
	} else if (id == EVP_PKEY_RSA &&
	    EVP_PKEY_get_bits(key) >= DKIM_RSA_MIN_BITS) {
		*type = DKIM_KEY_RSA;
	} else {
		EVP_PKEY_free(key);
		*err = "not an Ed25519 or RSA (>= 1024 bits) key";
		return NULL;
	}
	return key;
}

int
dkim_key_record_format(EVP_PKEY *pkey, struct buf *out)
{
	unsigned char raw[32], *der = NULL;
	size_t rlen = sizeof(raw), mark = out->len;
	int dlen, rc = -1;

	if (EVP_PKEY_get_base_id(pkey) == EVP_PKEY_ED25519) {
		/* RFC 8463 4.2: p= is the bare 32-octet public key. */
		if (EVP_PKEY_get_raw_public_key(pkey, raw, &rlen) != 1 ||
		    buf_append_str(out, "v=DKIM1; k=ed25519; p=") == -1 ||
		    base64_encode(out, raw, rlen) == -1)
			goto out;
	} else {
		/* 3.6.1: p= is the SubjectPublicKeyInfo, DER. */
		if ((dlen = i2d_PUBKEY(pkey, &der)) <= 0 ||
		    buf_append_str(out, "v=DKIM1; k=rsa; p=") == -1 ||
		    base64_encode(out, der, (size_t)dlen) == -1)
			goto out;
	}
	rc = 0;
out:
	OPENSSL_free(der);
	if (rc == -1) {
		out->len = mark;
		if (out->data != NULL)
			out->data[mark] = '\0';
	}
	return rc;
}

int
dkim_zone_strings(const char *txt, size_t len, struct buf *out)
{
	size_t mark = out->len;

	/* RFC 1035 3.3: a character-string holds at most 255 octets. */
	for (size_t off = 0; off < len || off == 0; off += 255) {
		size_t n = len - off < 255 ? len - off : 255;

		if ((off > 0 && buf_append_char(out, ' ') == -1) ||
		    buf_append_char(out, '"') == -1 ||
		    buf_append(out, txt + off, n) == -1 ||
		    buf_append_char(out, '"') == -1) {
			out->len = mark;
			if (out->data != NULL)
				out->data[mark] = '\0';
			return -1;
		}
		if (len == 0)
			break;
	}
	return 0;
}

int
dkim_selector_default(enum dkim_keytype type, time_t now, char *out,
    size_t outsz)
{
	struct tm tm;
	int n;

	if (gmtime_r(&now, &tm) == NULL)
		return -1;
	n = snprintf(out, outsz, "%s%04d%02d",
	    type == DKIM_KEY_ED25519 ? "ed" : "rsa", tm.tm_year + 1900,
	    tm.tm_mon + 1);
	return n < 0 || (size_t)n >= outsz ? -1 : 0;
}

bool
dkim_selector_is_valid(const char *s)
{
	size_t len = strlen(s), label = 0;

	if (len == 0 || len > DKIM_SELECTOR_MAX)
		return false;
	for (size_t k = 0; k < len; k++) {
		char c = s[k];

		if (c == '.') {
			if (label == 0)
				return false;
			label = 0;
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '-'))
			return false;
		label++;
	}
	return label > 0;
}

static int
key_cmp(const void *a, const void *b)
{
	return strcmp(((const struct dkim_key *)a)->selector,
	    ((const struct dkim_key *)b)->selector);
}

int
dkim_keys_load(const char *data_dir, const char *domain,
    struct dkim_key *keys, size_t max, size_t *n, const char **err)
{
	char dir[4096], dom[DKIM_DOMAIN_MAX + 1];
	struct dirent *de;
	DIR *d;

	*n = 0;
	if (str_copy(dom, sizeof(dom), str_view_from(domain)) == -1 ||
	    strchr(dom, '/') != NULL || dom[0] == '.') {
		*err = "bad domain";
		return -1;
	}
	str_lower(dom);
	if (snprintf(dir, sizeof(dir), "%s/%s/%s", data_dir, DKIM_KEY_DIR,
	    dom) >= (int)sizeof(dir)) {
		*err = "path too long";
		return -1;
	}
	if ((d = opendir(dir)) == NULL) {
		if (errno == ENOENT)
			return 0;
		*err = "cannot read the key directory";
		return -1;
	}
	while ((de = readdir(d)) != NULL && *n < max) {
		struct dkim_key *k = &keys[*n];
		size_t len = strlen(de->d_name);
		const char *why = NULL;
		char sel[DKIM_SELECTOR_MAX + 1];

		if (len <= 4 || strcmp(de->d_name + len - 4, ".pem") != 0 ||
		    len - 4 > DKIM_SELECTOR_MAX)
			continue;
		memcpy(sel, de->d_name, len - 4);
		sel[len - 4] = '\0';
		if (!dkim_selector_is_valid(sel))
			continue;
		memset(k, 0, sizeof(*k));
		if (snprintf(k->path, sizeof(k->path), "%s/%s", dir,
		    de->d_name) >= (int)sizeof(k->path))
			continue;
		k->pkey = dkim_key_load(k->path, &k->type, &why);
		if (k->pkey == NULL) {
			char esc[256];

			log_warn("dkim event=key-skipped path=\"%s\" "
			    "reason=\"%s\"", log_escape(esc, sizeof(esc),
			    k->path, strlen(k->path)), why);
			continue;
		}
		memcpy(k->domain, dom, strlen(dom) + 1);
		memcpy(k->selector, sel, strlen(sel) + 1);
		(*n)++;
	}
	closedir(d);
	qsort(keys, *n, sizeof(*keys), key_cmp);
	return 0;
}

void
dkim_keys_free(struct dkim_key *keys, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		EVP_PKEY_free(keys[i].pkey);
		memset(&keys[i], 0, sizeof(keys[i]));
	}
}
