/*
 * DKIM signing (RFC 6376 5): one signature per key, the header section
 * collected field by field, the body hashed as it streams in (one hash
 * per canonicalization/digest pair: all keys here use sha256, so one).
 * The signature field is folded before it is signed, so the signed text
 * is exactly what is written (simple header canonicalization sees the
 * folding). No I/O.
 */
#include "policy/dkim.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/base64.h"
#include "core/buf.h"
#include "core/xmalloc.h"
#include "policy/dkim_private.h"

#define FOLD_COLUMN	76	/* lines stay under 78 (RFC 5322 2.1.1) */

struct dkim_signer {
	size_t		 n_keys;
	struct dkim_key	 keys[DKIM_SIGN_MAX_KEYS];
	time_t		 now;
	enum dkim_canon	 hcanon, bcanon;
	struct dkim_msg	 msg;
	bool		 headers_ended;
	bool		 body_live;
	bool		 finished;
	struct dkim_body body;
};

static const char *const sign_headers[] = { DKIM_SIGN_HEADERS };

struct dkim_signer *
dkim_signer_new_canon(const struct dkim_key *keys, size_t n, time_t now,
    enum dkim_canon hcanon, enum dkim_canon bcanon)
{
	struct dkim_signer *s;

	if (n == 0 || n > DKIM_SIGN_MAX_KEYS)
		return NULL;
	for (size_t i = 0; i < n; i++)
		if (keys[i].pkey == NULL)
			return NULL;
	s = xcalloc(1, sizeof(*s));
	s->n_keys = n;
	for (size_t i = 0; i < n; i++) {
		s->keys[i] = keys[i];
		EVP_PKEY_up_ref(s->keys[i].pkey);
	}
	s->now = now;
	s->hcanon = hcanon;
	s->bcanon = bcanon;
	dkim_msg_init(&s->msg);
	if (dkim_body_init(&s->body, bcanon, EVP_sha256(), false, 0) == 0)
		s->body_live = true;
	return s;
}

struct dkim_signer *
dkim_signer_new(const struct dkim_key *keys, size_t n, time_t now)
{
	return dkim_signer_new_canon(keys, n, now, DKIM_CANON_RELAXED,
	    DKIM_CANON_RELAXED);
}

void
dkim_signer_free(struct dkim_signer **sp)
{
	struct dkim_signer *s = *sp;

	if (s == NULL)
		return;
	for (size_t i = 0; i < s->n_keys; i++)
		EVP_PKEY_free(s->keys[i].pkey);
	if (s->body_live)
		dkim_body_cleanup(&s->body);
	dkim_msg_cleanup(&s->msg);
	free(s);
	*sp = NULL;
}

void
dkim_signer_header(struct dkim_signer *s, const char *field, size_t len)
{
	if (!s->headers_ended)
		dkim_msg_add_field(&s->msg, field, len);
}

void
dkim_signer_headers_end(struct dkim_signer *s)
{
	s->headers_ended = true;
	dkim_msg_end_headers(&s->msg);
}

void
dkim_signer_body(struct dkim_signer *s, const char *p, size_t len)
{
	if (!s->headers_ended)
		dkim_signer_headers_end(s);
	if (s->body_live && !s->finished)
		dkim_body_feed(&s->body, p, len);
}

void
dkim_signer_feed(struct dkim_signer *s, const char *p, size_t len)
{
	size_t off;

	if (s->headers_ended) {
		dkim_signer_body(s, p, len);
		return;
	}
	off = dkim_msg_feed(&s->msg, p, len);
	if (off == SIZE_MAX)
		return;
	dkim_signer_headers_end(s);
	dkim_signer_body(s, p + off, len - off);
}

/* --- the folded field --- */

struct folder {
	struct buf	*out;
	size_t		 col;
	int		 rc;
};

/*
 * Appends piece; is_tag_start puts a space (or the fold) before it.
 * Breaking goes before a piece that would pass the column; a tag's later
 * pieces are glued on or folded (FWS is legal inside h=, b= and bh=).
 */
static void
fold_piece(struct folder *f, const char *piece, size_t len, bool is_tag_start)
{
	size_t add = len + (is_tag_start ? 1 : 0);

	if (f->col + add > FOLD_COLUMN) {
		if (buf_append(f->out, "\r\n\t", 3) == -1)
			f->rc = -1;
		f->col = 8;
	} else if (is_tag_start) {
		if (buf_append_char(f->out, ' ') == -1)
			f->rc = -1;
		f->col++;
	}
	if (buf_append(f->out, piece, len) == -1)
		f->rc = -1;
	f->col += len;
}

/* A tag whose value may be cut every `step` characters (0: never). */
static void
fold_tag(struct folder *f, const char *tag, const char *value, size_t step,
    bool last)
{
	char first[320];
	size_t vlen = strlen(value), tl = strlen(tag), k;
	size_t take = step == 0 ? vlen : (vlen < step ? vlen : step);

	/* The tag name travels with the start of its value. */
	if (tl + 1 + take + 1 > sizeof(first))
		take = sizeof(first) - tl - 2;
	if (step == 0 && take < vlen) {
		f->rc = -1;
		return;
	}
	memcpy(first, tag, tl);
	first[tl] = '=';
	memcpy(first + tl + 1, value, take);
	k = tl + 1 + take;
	if (take == vlen && !last)
		first[k++] = ';';
	fold_piece(f, first, k, true);
	while (take < vlen) {
		size_t n = vlen - take < step ? vlen - take : step;
		char piece[128];

		memcpy(piece, value + take, n);
		take += n;
		if (take == vlen && !last)
			piece[n++] = ';';
		fold_piece(f, piece, n, false);
	}
}

/* The h= list, cut after any colon. */
static void
fold_h(struct folder *f, const char *h)
{
	const char *p = h;
	bool first = true;

	while (*p != '\0') {
		const char *c = strchr(p, ':');
		size_t n = c != NULL ? (size_t)(c - p) + 1 : strlen(p);
		char piece[128];
		size_t k = 0;

		if (first) {
			memcpy(piece, "h=", 2);
			k = 2;
		}
		if (n + k + 1 >= sizeof(piece)) {
			f->rc = -1;
			return;
		}
		memcpy(piece + k, p, n);
		k += n;
		if (c == NULL)
			piece[k++] = ';';
		fold_piece(f, piece, k, first);
		first = false;
		p += n;
	}
}

/* h=: every listed field as often as it occurs; From once more (8.15). */
static int
build_h(const struct dkim_signer *s, struct buf *h)
{
	for (size_t j = 0; j < sizeof(sign_headers) / sizeof(sign_headers[0]);
	    j++) {
		struct str_view name = str_view_from(sign_headers[j]);
		size_t count = 0;

		for (size_t i = 0; i < s->msg.n_fields; i++)
			if (dkim_field_is(&s->msg, i, name))
				count++;
		/* Bounded so h= stays within DKIM_MAX_H; instances past
		 * the cap, counted from the bottom, go unsigned. */
		if (count > 5)
			count = 5;
		if (j == 0)
			count++;	/* From */
		for (; count > 0; count--)
			if ((h->len > 0 && buf_append_char(h, ':') == -1) ||
			    buf_append_str(h, sign_headers[j]) == -1)
				return -1;
	}
	return 0;
}

static int
sign_input(EVP_PKEY *pkey, enum dkim_keytype type, const struct buf *input,
    struct buf *sig)
{
	unsigned char hash[EVP_MAX_MD_SIZE], raw[1024];
	unsigned hlen;
	size_t rlen = sizeof(raw);
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int rc = -1;

	if (ctx == NULL)
		return -1;
	if (type == DKIM_KEY_ED25519) {
		/* RFC 8463 3: PureEd25519 over SHA-256 of the input. */
		if (EVP_Digest(input->data, input->len, hash, &hlen,
		    EVP_sha256(), NULL) != 1 ||
		    EVP_DigestSignInit(ctx, NULL, NULL, NULL, pkey) != 1 ||
		    EVP_DigestSign(ctx, raw, &rlen, hash, hlen) != 1)
			goto out;
	} else {
		if (EVP_PKEY_get_size(pkey) > (int)sizeof(raw) ||
		    EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL,
		    pkey) != 1 ||
		    EVP_DigestSign(ctx, raw, &rlen,
		    (const unsigned char *)input->data, input->len) != 1)
			goto out;
	}
	rc = base64_encode(sig, raw, rlen);
out:
	EVP_MD_CTX_free(ctx);
	return rc;
}

/* One complete DKIM-Signature field for key k, appended to out. */
static int
sign_one(struct dkim_signer *s, const struct dkim_key *k, const char *bh,
    const char *h, struct buf *out)
{
	struct buf field, input, sig;
	struct folder f;
	struct str_view hv[DKIM_MAX_H + 1];
	size_t n_h = 0, mark = out->len;
	char t[32], c[32];
	const char *p = h;
	int rc = -1;

	buf_init(&field, DKIM_FIELD_MAX);
	buf_init(&input, DKIM_HEADERS_MAX + DKIM_FIELD_MAX);
	buf_init(&sig, 2048);
	f.out = &field;
	f.col = 15;
	f.rc = buf_append_str(&field, "DKIM-Signature:");
	fold_tag(&f, "v", "1", 0, false);
	fold_tag(&f, "a", k->type == DKIM_KEY_ED25519 ? "ed25519-sha256" :
	    "rsa-sha256", 0, false);
	snprintf(c, sizeof(c), "%s/%s", dkim_canon_name(s->hcanon),
	    dkim_canon_name(s->bcanon));
	fold_tag(&f, "c", c, 0, false);
	fold_tag(&f, "d", k->domain, 0, false);
	fold_tag(&f, "s", k->selector, 0, false);
	snprintf(t, sizeof(t), "%lld", (long long)s->now);
	fold_tag(&f, "t", t, 0, false);
	fold_h(&f, h);
	fold_tag(&f, "bh", bh, 0, false);
	fold_piece(&f, "b=", 2, true);
	if (f.rc == -1)
		goto out;
	/* The h= names as views, for the header hash input. */
	while (*p != '\0' && n_h <= DKIM_MAX_H) {
		const char *e = strchr(p, ':');
		size_t n = e != NULL ? (size_t)(e - p) : strlen(p);

		hv[n_h++] = str_view_make(p, n);
		p += n + (e != NULL ? 1 : 0);
	}
	if (n_h > DKIM_MAX_H ||
	    dkim_header_input(&s->msg, s->hcanon, hv, n_h, field.data,
	    field.len, &input) == -1 ||
	    sign_input(k->pkey, k->type, &input, &sig) == -1)
		goto out;
	/* b= goes last, cut in 64-character pieces, so it can be emptied. */
	for (size_t off = 0; off < sig.len; off += 64) {
		size_t n = sig.len - off < 64 ? sig.len - off : 64;

		fold_piece(&f, sig.data + off, n, false);
	}
	if (f.rc == -1 || buf_append(&field, "\r\n", 2) == -1 ||
	    buf_append(out, field.data, field.len) == -1)
		goto out;
	rc = 0;
out:
	if (rc == -1) {
		out->len = mark;
		if (out->data != NULL)
			out->data[mark] = '\0';
	}
	buf_cleanup(&field);
	buf_cleanup(&input);
	buf_cleanup(&sig);
	return rc;
}

int
dkim_signer_finish(struct dkim_signer *s, struct buf *out, const char **err)
{
	unsigned char digest[EVP_MAX_MD_SIZE];
	unsigned dlen;
	struct buf bh, h;
	size_t mark = out->len;
	int rc = -1;

	if (s->finished) {
		*err = "signer already finished";
		return -1;
	}
	if (!s->headers_ended)
		dkim_signer_headers_end(s);
	s->finished = true;
	if (s->msg.overflow) {
		*err = "header section too large to sign";
		return -1;
	}
	if (!s->body_live || dkim_body_final(&s->body, digest, &dlen) == -1) {
		*err = "body hash failed";
		return -1;
	}
	buf_init(&bh, 128);
	buf_init(&h, 2048);
	*err = "signing failed";
	if (base64_encode(&bh, digest, dlen) == -1 || build_h(s, &h) == -1)
		goto out;
	for (size_t i = 0; i < s->n_keys; i++)
		if (sign_one(s, &s->keys[i], bh.data, h.data, out) == -1) {
			out->len = mark;
			if (out->data != NULL)
				out->data[mark] = '\0';
			goto out;
		}
	rc = 0;
out:
	buf_cleanup(&bh);
	buf_cleanup(&h);
	return rc;
}
