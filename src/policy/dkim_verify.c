/*
 * DKIM verification (RFC 6376 6): one verifier per message collects the
 * header section, parses up to DKIM_MAX_SIGS signatures when it ends,
 * hashes the body for each while it streams in, and decides each
 * signature once its body hash and its key (given by the caller, who asks
 * the DNS) are both there. No I/O.
 */
#include "policy/dkim.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/x509.h>

#include "core/buf.h"
#include "core/str.h"
#include "core/xmalloc.h"
#include "dns/resolver.h"
#include "policy/dkim_private.h"

struct dkim_vsig {
	size_t		 field;		/* index of its DKIM-Signature field */
	struct dkim_sig	 sig;		/* views into the field text */
	struct dkim_result res;
	bool		 is_decided;
	bool		 has_body;	/* body hash final */
	bool		 has_key;
	struct dkim_body body;
	bool		 body_live;
	unsigned char	 bh[EVP_MAX_MD_SIZE];
	unsigned	 bh_len;
	EVP_PKEY	*key;
};

struct dkim_verify {
	time_t		 now;
	struct dkim_msg	 msg;
	bool		 headers_ended;
	bool		 body_ended;
	size_t		 n_sigs;
	size_t		 n_ignored;
	struct dkim_vsig sigs[DKIM_MAX_SIGS];
};

static const struct str_view dkim_sig_name = STR_VIEW_LIT("DKIM-Signature");

struct dkim_verify *
dkim_verify_new(time_t now)
{
	struct dkim_verify *v = xcalloc(1, sizeof(*v));

	v->now = now;
	dkim_msg_init(&v->msg);
	return v;
}

void
dkim_verify_free(struct dkim_verify **vp)
{
	struct dkim_verify *v = *vp;

	if (v == NULL)
		return;
	for (size_t i = 0; i < v->n_sigs; i++) {
		if (v->sigs[i].body_live)
			dkim_body_cleanup(&v->sigs[i].body);
		EVP_PKEY_free(v->sigs[i].key);
	}
	dkim_msg_cleanup(&v->msg);
	free(v);
	*vp = NULL;
}

static void
decide(struct dkim_vsig *s, enum dkim_status st, const char *reason)
{
	if (s->is_decided)
		return;
	s->is_decided = true;
	s->res.status = st;
	s->res.reason = reason;
	if (s->body_live) {
		dkim_body_cleanup(&s->body);
		s->body_live = false;
	}
	EVP_PKEY_free(s->key);
	s->key = NULL;
}

static void
copy_view(char *dst, size_t dstsz, struct str_view v, bool lower)
{
	if (v.p == NULL || str_copy(dst, dstsz, v) == -1)
		dst[0] = '\0';
	else if (lower)
		str_lower(dst);
}

/* The result's identity fields, from whatever tags parsed. */
static void
fill_identity(struct dkim_vsig *s)
{
	struct dkim_result *r = &s->res;
	size_t k = 0;

	copy_view(r->domain, sizeof(r->domain), s->sig.d, true);
	copy_view(r->selector, sizeof(r->selector), s->sig.s, false);
	copy_view(r->auid, sizeof(r->auid), s->sig.i, false);
	r->alg = s->sig.alg;
	r->is_weak = s->sig.alg == DKIM_ALG_RSA_SHA1;
	r->has_l = s->sig.has_l;
	r->l = s->sig.l;
	for (size_t j = 0; j < s->sig.b.len && k + 1 < sizeof(r->b_prefix);
	    j++)
		if (!dkim_is_fws(s->sig.b.p[j]))
			r->b_prefix[k++] = s->sig.b.p[j];
	r->b_prefix[k] = '\0';
	if (r->domain[0] != '\0' && r->selector[0] != '\0' &&
	    snprintf(r->qname, sizeof(r->qname), "%s._domainkey.%s",
	    r->selector, r->domain) >= (int)sizeof(r->qname))
		r->qname[0] = '\0';
}

/* 6.1.1: the tags, then what can be checked without key or body. */
static void
sig_setup(struct dkim_verify *v, struct dkim_vsig *s)
{
	const struct dkim_field *f = &v->msg.fields[s->field];
	const char *text = dkim_field_text(&v->msg, s->field);
	const char *value = text + f->name_len;
	size_t vlen = f->len - f->name_len;
	const char *err = NULL;
	int rc;

	/* The value starts after the colon (name_len excludes WSP). */
	value = memchr(value, ':', vlen);
	vlen = f->len - (size_t)(value + 1 - text);
	value++;
	rc = dkim_sig_parse(value, vlen, &s->sig, &err);
	fill_identity(s);
	s->res.status = DKIM_TEMPERROR;
	s->res.reason = "not evaluated";
	if (rc == -1) {
		decide(s, DKIM_PERMERROR, err);
		return;
	}
	if (v->msg.overflow) {
		decide(s, DKIM_PERMERROR, "header section too large");
		return;
	}
	if (s->res.qname[0] == '\0') {
		decide(s, DKIM_PERMERROR, "key name too long");
		return;
	}
	if (s->sig.has_x && s->sig.x < (uint64_t)v->now) {
		decide(s, DKIM_PERMERROR, "signature expired");
		return;
	}
	if (dkim_body_init(&s->body, s->sig.bcanon, dkim_alg_md(s->sig.alg),
	    s->sig.has_l, s->sig.l) == -1) {
		decide(s, DKIM_TEMPERROR, "digest unavailable");
		return;
	}
	s->body_live = true;
}

size_t
dkim_verify_headers_end(struct dkim_verify *v)
{
	if (v->headers_ended)
		return v->n_sigs;
	v->headers_ended = true;
	dkim_msg_end_headers(&v->msg);
	for (size_t i = 0; i < v->msg.n_fields; i++) {
		if (!dkim_field_is(&v->msg, i, dkim_sig_name))
			continue;
		if (v->n_sigs == DKIM_MAX_SIGS) {
			v->n_ignored++;
			continue;
		}
		v->sigs[v->n_sigs].field = i;
		sig_setup(v, &v->sigs[v->n_sigs]);
		v->n_sigs++;
	}
	return v->n_sigs;
}

void
dkim_verify_header(struct dkim_verify *v, const char *field, size_t len)
{
	if (!v->headers_ended)
		dkim_msg_add_field(&v->msg, field, len);
}

void
dkim_verify_body(struct dkim_verify *v, const char *p, size_t len)
{
	if (!v->headers_ended)
		(void)dkim_verify_headers_end(v);
	if (v->body_ended)
		return;
	for (size_t i = 0; i < v->n_sigs; i++)
		if (v->sigs[i].body_live)
			dkim_body_feed(&v->sigs[i].body, p, len);
}

int
dkim_verify_feed(struct dkim_verify *v, const char *p, size_t len)
{
	size_t off;

	if (v->headers_ended) {
		dkim_verify_body(v, p, len);
		return 0;
	}
	off = dkim_msg_feed(&v->msg, p, len);
	if (off == SIZE_MAX)
		return 0;
	(void)dkim_verify_headers_end(v);
	dkim_verify_body(v, p + off, len - off);
	return 1;
}

size_t
dkim_verify_count(const struct dkim_verify *v)
{
	return v->n_sigs;
}

size_t
dkim_verify_ignored(const struct dkim_verify *v)
{
	return v->n_ignored;
}

const char *
dkim_verify_qname(const struct dkim_verify *v, size_t i)
{
	if (i >= v->n_sigs || v->sigs[i].is_decided)
		return NULL;
	return v->sigs[i].res.qname;
}

/* The header hash check of 6.1.3, with s's key. */
static int
check_signature(struct dkim_verify *v, struct dkim_vsig *s,
    const char **why)
{
	const struct dkim_field *f = &v->msg.fields[s->field];
	const char *text = dkim_field_text(&v->msg, s->field);
	const char *value = (const char *)memchr(text, ':', f->len) + 1;
	size_t voff = (size_t)(value - text);
	struct buf sigtext, input, b;
	unsigned char hash[EVP_MAX_MD_SIZE];
	unsigned hlen;
	EVP_MD_CTX *ctx = NULL;
	int rc = -1;

	buf_init(&sigtext, DKIM_FIELD_MAX);
	buf_init(&input, DKIM_HEADERS_MAX + DKIM_FIELD_MAX);
	buf_init(&b, 1024);
	*why = "signature did not verify";
	/* 3.7: the field as it is, with the b= value emptied. */
	if (buf_append(&sigtext, text, voff + s->sig.b_start) == -1 ||
	    buf_append(&sigtext, text + voff + s->sig.b_end,
	    f->len - voff - s->sig.b_end) == -1 ||
	    dkim_header_input(&v->msg, s->sig.hcanon, s->sig.h, s->sig.n_h,
	    sigtext.data, sigtext.len, &input) == -1) {
		*why = "header section too large";
		goto out;
	}
	if (dkim_base64_decode(s->sig.b, &b) == -1 || b.len == 0) {
		*why = "bad b=";
		goto out;
	}
	if ((ctx = EVP_MD_CTX_new()) == NULL)
		goto out;
	if (s->sig.alg == DKIM_ALG_ED25519_SHA256) {
		/* RFC 8463 3: Ed25519 over the SHA-256 of the input. */
		if (EVP_Digest(input.data, input.len, hash, &hlen, EVP_sha256(),
		    NULL) != 1 ||
		    EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, s->key) != 1)
			goto out;
		rc = EVP_DigestVerify(ctx, (unsigned char *)b.data, b.len,
		    hash, hlen) == 1 ? 0 : -1;
	} else {
		if (EVP_DigestVerifyInit(ctx, NULL, dkim_alg_md(s->sig.alg),
		    NULL, s->key) != 1)
			goto out;
		rc = EVP_DigestVerify(ctx, (unsigned char *)b.data, b.len,
		    (unsigned char *)input.data, input.len) == 1 ? 0 : -1;
	}
out:
	EVP_MD_CTX_free(ctx);
	buf_cleanup(&sigtext);
	buf_cleanup(&input);
	buf_cleanup(&b);
	return rc;
}

/* Both halves are there: body hash first (6.1.3), then the signature. */
static void
try_decide(struct dkim_verify *v, struct dkim_vsig *s)
{
	struct buf bh;
	const char *why;
	bool same;

	if (s->is_decided || !s->has_body || !s->has_key)
		return;
	if (s->sig.has_l && s->res.body_length < s->sig.l) {
		decide(s, DKIM_FAIL, "l= is longer than the body");
		return;
	}
	buf_init(&bh, 256);
	same = dkim_base64_decode(s->sig.bh, &bh) == 0 &&
	    bh.len == s->bh_len &&
	    CRYPTO_memcmp(bh.data, s->bh, s->bh_len) == 0;
	buf_cleanup(&bh);
	if (!same) {
		decide(s, DKIM_FAIL, "body hash mismatch");
		return;
	}
	if (check_signature(v, s, &why) == -1) {
		decide(s, DKIM_FAIL, why);
		return;
	}
	decide(s, DKIM_PASS, s->res.is_weak ? "weak algorithm rsa-sha1" :
	    "signature verified");
}

void
dkim_verify_body_end(struct dkim_verify *v)
{
	if (v->body_ended)
		return;
	if (!v->headers_ended)
		(void)dkim_verify_headers_end(v);
	v->body_ended = true;
	for (size_t i = 0; i < v->n_sigs; i++) {
		struct dkim_vsig *s = &v->sigs[i];

		if (!s->body_live)
			continue;
		if (dkim_body_final(&s->body, s->bh, &s->bh_len) == -1) {
			decide(s, DKIM_TEMPERROR, "digest failed");
			continue;
		}
		s->res.body_length = s->body.length;
		dkim_body_cleanup(&s->body);
		s->body_live = false;
		s->has_body = true;
		try_decide(v, s);
	}
}

/* The public key from p= (3.6.1): SubjectPublicKeyInfo or raw Ed25519. */
static EVP_PKEY *
key_from_record(const struct dkim_key_record *kr, const char **why)
{
	struct buf der;
	const unsigned char *p;
	EVP_PKEY *key = NULL;

	buf_init(&der, 8192);
	if (dkim_base64_decode(kr->p, &der) == -1) {
		*why = "bad key p=";
		goto out;
	}
	p = (const unsigned char *)der.data;
	if (kr->k == DKIM_KEY_ED25519) {
		if (der.len == 32)
			key = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519,
			    NULL, p, 32);
	} else if (der.len > 0) {
		key = d2i_PUBKEY(NULL, &p, (long)der.len);
		if (key == NULL) {
			/* Some publish the bare RSAPublicKey (PKCS#1). */
			p = (const unsigned char *)der.data;
			key = d2i_PublicKey(EVP_PKEY_RSA, NULL, &p,
			    (long)der.len);
		}
		if (key != NULL && EVP_PKEY_get_base_id(key) != EVP_PKEY_RSA) {
			EVP_PKEY_free(key);
			key = NULL;
		}
	}
	if (key == NULL)
		*why = "bad key p=";
out:
	buf_cleanup(&der);
	return key;
}

/* A key record for s: every check of 6.1.2 that needs no body. */
static int
key_accept(struct dkim_vsig *s, const char *txt, size_t len,
    const char **why)
{
	struct dkim_key_record kr;
	EVP_PKEY *key;
	bool want_ed = s->sig.alg == DKIM_ALG_ED25519_SHA256;

	if (dkim_key_record_parse(txt, len, &kr, why) == -1)
		return -1;
	if (kr.is_revoked)
		return *why = "key revoked", -1;
	if ((kr.k == DKIM_KEY_ED25519) != want_ed)
		return *why = "key type does not match a=", -1;
	if (s->sig.alg == DKIM_ALG_RSA_SHA1 ? !kr.allows_sha1 :
	    !kr.allows_sha256)
		return *why = "hash not allowed by key h=", -1;
	if (!kr.allows_email)
		return *why = "key not for email, s=", -1;
	if (kr.is_strict && s->sig.i.p != NULL) {
		const char *at = memchr(s->sig.i.p, '@', s->sig.i.len);
		size_t dl = s->sig.i.len - (size_t)(at + 1 - s->sig.i.p);

		/* t=s: the i= domain must be d= itself, no subdomain. */
		if (dl != s->sig.d.len ||
		    strncasecmp(at + 1, s->sig.d.p, dl) != 0)
			return *why = "i= subdomain with t=s key", -1;
	}
	if ((key = key_from_record(&kr, why)) == NULL)
		return -1;
	s->res.key_bits = (unsigned)EVP_PKEY_get_bits(key);
	if (!want_ed && s->res.key_bits < DKIM_RSA_MIN_BITS) {
		/* RFC 8301 3.2: keys under 1024 bits are not valid. */
		EVP_PKEY_free(key);
		return *why = "rsa key shorter than 1024 bits", -1;
	}
	s->res.is_testing = kr.is_testing;
	s->key = key;
	return 0;
}

void
dkim_verify_key_txt(struct dkim_verify *v, size_t i, const char *const *txt,
    const size_t *txt_len, size_t n)
{
	struct dkim_vsig *s;
	const char *why = "no key record";

	if (i >= v->n_sigs || v->sigs[i].is_decided || v->sigs[i].has_key)
		return;
	s = &v->sigs[i];
	for (size_t k = 0; k < n; k++) {
		const char *w = NULL;

		if (key_accept(s, txt[k], txt_len[k], &w) == 0) {
			s->has_key = true;
			try_decide(v, s);
			return;
		}
		/* The first record's reason is the telling one. */
		if (k == 0)
			why = w;
	}
	decide(s, DKIM_PERMERROR, why);
}

void
dkim_verify_key_status(struct dkim_verify *v, size_t i, enum dkim_dns st)
{
	if (i >= v->n_sigs)
		return;
	if (st == DKIM_DNS_TEMPFAIL)
		decide(&v->sigs[i], DKIM_TEMPERROR, "key lookup failed");
	else
		decide(&v->sigs[i], DKIM_PERMERROR, "no key record");
}

void
dkim_verify_key_result(struct dkim_verify *v, size_t i,
    const struct dns_result *r)
{
	const char *txt[DNS_MAX_RR];
	size_t len[DNS_MAX_RR], n = 0;

	switch (r->status) {
	case DNS_OK:
		for (size_t k = 0; k < r->n && n < DNS_MAX_RR; k++) {
			txt[n] = r->rr[k].text;
			len[n++] = r->rr[k].text_len;
		}
		if (n > 0) {
			dkim_verify_key_txt(v, i, txt, len, n);
			return;
		}
		dkim_verify_key_status(v, i, DKIM_DNS_NODATA);
		return;
	case DNS_NXDOMAIN:
		dkim_verify_key_status(v, i, DKIM_DNS_NXDOMAIN);
		return;
	case DNS_NODATA:
		dkim_verify_key_status(v, i, DKIM_DNS_NODATA);
		return;
	case DNS_TEMPFAIL:
		break;
	}
	dkim_verify_key_status(v, i, DKIM_DNS_TEMPFAIL);
}

bool
dkim_verify_is_done(const struct dkim_verify *v)
{
	if (!v->body_ended)
		return false;
	for (size_t i = 0; i < v->n_sigs; i++)
		if (!v->sigs[i].is_decided)
			return false;
	return true;
}

const struct dkim_result *
dkim_verify_result(const struct dkim_verify *v, size_t i)
{
	return i < v->n_sigs ? &v->sigs[i].res : NULL;
}

int
dkim_result_authres(const struct dkim_result *r, struct buf *out)
{
	size_t mark = out->len;
	bool quote = strpbrk(r->b_prefix, "/=+") != NULL;
	int rc;

	rc = buf_printf(out, "dkim=%s (%s%s%s)", dkim_status_name(r->status),
	    r->reason, r->is_weak ? ", weak algorithm" : "",
	    r->has_l ? ", l= used" : "");
	if (rc == 0 && r->domain[0] != '\0')
		rc = buf_printf(out, " header.d=%s", r->domain);
	if (rc == 0 && r->selector[0] != '\0')
		rc = buf_printf(out, " header.s=%s", r->selector);
	if (rc == 0 && r->domain[0] != '\0')
		rc = buf_printf(out, " header.a=%s", dkim_alg_name(r->alg));
	if (rc == 0 && r->b_prefix[0] != '\0')
		rc = buf_printf(out, quote ? " header.b=\"%s\"" :
		    " header.b=%s", r->b_prefix);
	if (rc == -1) {
		out->len = mark;
		if (out->data != NULL)
			out->data[mark] = '\0';
	}
	return rc;
}
