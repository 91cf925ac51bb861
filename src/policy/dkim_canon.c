/*
 * DKIM canonicalization (RFC 6376 3.4) and the header section store the
 * verifier and the signer share: header fields one at a time, the body
 * as a stream of chunks hashed as it arrives. No I/O.
 */
#include "policy/dkim.h"

#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "core/base64.h"
#include "core/buf.h"
#include "core/xmalloc.h"
#include "policy/dkim_private.h"

static bool
is_wsp(char c)
{
	return c == ' ' || c == '\t';
}

const EVP_MD *
dkim_alg_md(enum dkim_alg a)
{
	return a == DKIM_ALG_RSA_SHA1 ? EVP_sha1() : EVP_sha256();
}

int
dkim_base64_decode(struct str_view v, struct buf *out)
{
	char tmp[8192];
	size_t n = 0;

	for (size_t k = 0; k < v.len; k++) {
		if (dkim_is_fws(v.p[k]))
			continue;
		if (n == sizeof(tmp))
			return -1;
		tmp[n++] = v.p[k];
	}
	return base64_decode(out, tmp, n);
}

/* --- headers (3.4.1, 3.4.2) --- */

/* Drops one final CRLF (or LF). */
static size_t
strip_crlf(const char *field, size_t len)
{
	if (len > 0 && field[len - 1] == '\n')
		len--;
	if (len > 0 && field[len - 1] == '\r')
		len--;
	return len;
}

static int
header_relaxed(const char *f, size_t len, struct buf *out)
{
	const char *colon = memchr(f, ':', len);
	size_t nlen, k, mark = out->len;
	bool wsp = false, any = false;

	if (colon == NULL)
		return -1;
	nlen = (size_t)(colon - f);
	while (nlen > 0 && is_wsp(f[nlen - 1]))
		nlen--;
	for (k = 0; k < nlen; k++) {
		char c = f[k];

		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (buf_append_char(out, c) == -1)
			goto full;
	}
	if (buf_append_char(out, ':') == -1)
		goto full;
	/* Unfold, WSP runs to one SP, none at the start or the end. */
	for (k = (size_t)(colon - f) + 1; k < len; k++) {
		char c = f[k];

		if (c == '\r' || c == '\n')
			continue;
		if (is_wsp(c)) {
			wsp = true;
			continue;
		}
		if (wsp && any && buf_append_char(out, ' ') == -1)
			goto full;
		wsp = false;
		any = true;
		if (buf_append_char(out, c) == -1)
			goto full;
	}
	if (buf_append(out, "\r\n", 2) == -1)
		goto full;
	return 0;
full:
	out->len = mark;
	if (out->data != NULL)
		out->data[mark] = '\0';
	return -1;
}

int
dkim_header_canon(enum dkim_canon canon, const char *field, size_t len,
    struct buf *out)
{
	size_t mark = out->len;

	len = strip_crlf(field, len);
	if (canon == DKIM_CANON_RELAXED)
		return header_relaxed(field, len, out);
	if (memchr(field, ':', len) == NULL)
		return -1;
	if (buf_append(out, field, len) == -1 ||
	    buf_append(out, "\r\n", 2) == -1) {
		out->len = mark;
		if (out->data != NULL)
			out->data[mark] = '\0';
		return -1;
	}
	return 0;
}

/* --- body (3.4.3, 3.4.4) --- */

int
dkim_body_init(struct dkim_body *b, enum dkim_canon canon, const EVP_MD *md,
    bool has_limit, uint64_t limit)
{
	memset(b, 0, sizeof(*b));
	b->canon = canon;
	b->has_limit = has_limit;
	b->limit = limit;
	b->md = EVP_MD_CTX_new();
	if (b->md == NULL || EVP_DigestInit_ex(b->md, md, NULL) != 1) {
		EVP_MD_CTX_free(b->md);
		b->md = NULL;
		return -1;
	}
	return 0;
}

void
dkim_body_set_output(struct dkim_body *b, dkim_body_out_fn *out, void *arg)
{
	b->out = out;
	b->out_arg = arg;
}

static void
body_flush(struct dkim_body *b)
{
	if (b->olen == 0)
		return;
	if (b->md != NULL)
		(void)EVP_DigestUpdate(b->md, b->obuf, b->olen);
	if (b->out != NULL)
		b->out(b->out_arg, b->obuf, b->olen);
	b->olen = 0;
}

/* One canonical octet: counted always, hashed up to the l= limit. */
static inline void
body_emit(struct dkim_body *b, char c)
{
	b->length++;
	if (b->has_limit && b->hashed >= b->limit)
		return;
	b->hashed++;
	b->obuf[b->olen++] = c;
	if (b->olen == sizeof(b->obuf))
		body_flush(b);
}

/* Content follows: the held-back line ends and WSP were not trailing. */
static void
body_content(struct dkim_body *b, char c)
{
	for (; b->crlf_pending > 0; b->crlf_pending--) {
		body_emit(b, '\r');
		body_emit(b, '\n');
	}
	if (b->wsp_pending) {
		body_emit(b, ' ');
		b->wsp_pending = false;
	}
	body_emit(b, c);
	b->any = true;
}

/*
 * Every line end is held back (crlf_pending) until content shows it was
 * not part of the trailing empty lines that 3.4.3/3.4.4 remove; relaxed
 * also holds a WSP run until it is known not to end a line. A CR waits
 * for its LF; a CR not followed by LF is content.
 */
void
dkim_body_feed(struct dkim_body *b, const char *p, size_t len)
{
	bool relaxed = b->canon == DKIM_CANON_RELAXED;

	for (size_t k = 0; k < len; k++) {
		char c = p[k];

		if (b->cr_held) {
			b->cr_held = false;
			if (c == '\n') {
				b->wsp_pending = false;
				b->crlf_pending++;
				continue;
			}
			body_content(b, '\r');
		}
		if (c == '\r') {
			b->cr_held = true;
		} else if (relaxed && is_wsp(c)) {
			b->wsp_pending = true;
		} else {
			body_content(b, c);
		}
	}
	body_flush(b);
}

int
dkim_body_final(struct dkim_body *b, unsigned char *digest, unsigned *dlen)
{
	if (b->cr_held) {
		b->cr_held = false;
		body_content(b, '\r');
	}
	/*
	 * simple: a body of nothing or only empty lines is one CRLF, and a
	 * last line without CRLF gets one (3.4.3). relaxed: an empty body
	 * stays empty (3.4.4, as corrected by erratum 1384).
	 */
	if (b->canon == DKIM_CANON_SIMPLE || b->any) {
		body_emit(b, '\r');
		body_emit(b, '\n');
	}
	b->wsp_pending = false;
	b->crlf_pending = 0;
	body_flush(b);
	if (b->md == NULL || EVP_DigestFinal_ex(b->md, digest, dlen) != 1)
		return -1;
	return 0;
}

void
dkim_body_cleanup(struct dkim_body *b)
{
	EVP_MD_CTX_free(b->md);
	b->md = NULL;
}

/* --- the header section store --- */

void
dkim_msg_init(struct dkim_msg *m)
{
	memset(m, 0, sizeof(*m));
	buf_init(&m->hdr, DKIM_HEADERS_MAX);
	buf_init(&m->cur, DKIM_FIELD_MAX);
	m->fields = xcalloc(DKIM_MAX_FIELDS, sizeof(*m->fields));
	m->at_bol = true;
}

void
dkim_msg_cleanup(struct dkim_msg *m)
{
	buf_cleanup(&m->hdr);
	buf_cleanup(&m->cur);
	free(m->fields);
	m->fields = NULL;
}

void
dkim_msg_add_field(struct dkim_msg *m, const char *field, size_t len)
{
	struct dkim_field *f;
	const char *colon;

	len = strip_crlf(field, len);
	if (m->n_fields == DKIM_MAX_FIELDS || len > DKIM_FIELD_MAX) {
		m->overflow = true;
		return;
	}
	f = &m->fields[m->n_fields];
	f->off = m->hdr.len;
	f->len = len;
	if (buf_append(&m->hdr, field, len) == -1) {
		m->overflow = true;
		return;
	}
	colon = memchr(field, ':', len);
	f->has_colon = colon != NULL;
	f->name_len = colon != NULL ? (size_t)(colon - field) : 0;
	while (f->name_len > 0 && is_wsp(field[f->name_len - 1]))
		f->name_len--;
	m->n_fields++;
}

static void
msg_field_done(struct dkim_msg *m)
{
	if (m->cur_active) {
		if (m->cur_overflow)
			m->overflow = true;
		else
			dkim_msg_add_field(m, m->cur.data, m->cur.len);
	}
	buf_reset(&m->cur);
	m->cur_active = false;
	m->cur_overflow = false;
}

static void
msg_cur_append(struct dkim_msg *m, const char *p, size_t len)
{
	if (!m->cur_overflow && buf_append(&m->cur, p, len) == -1)
		m->cur_overflow = true;
}

void
dkim_msg_end_headers(struct dkim_msg *m)
{
	if (m->in_body)
		return;
	if (m->bol_cr) {
		/* A lone CR at the very end: part of the last field. */
		msg_cur_append(m, "\r", 1);
		m->bol_cr = false;
	}
	msg_field_done(m);
	m->in_body = true;
}

/*
 * A field ends where a line starts with something other than WSP; the
 * header section ends at an empty line (RFC 5322 2.2.3, 2.1).
 */
size_t
dkim_msg_feed(struct dkim_msg *m, const char *p, size_t len)
{
	size_t k = 0;

	if (m->in_body)
		return 0;
	while (k < len) {
		char c = p[k];

		if (m->bol_cr) {
			m->bol_cr = false;
			if (c == '\n') {
				msg_field_done(m);
				m->in_body = true;
				return k + 1;
			}
			/* CR then not LF: a (broken) line of its own. */
			msg_field_done(m);
			m->cur_active = true;
			m->at_bol = false;
			msg_cur_append(m, "\r", 1);
			continue;
		}
		if (m->at_bol) {
			if (c == '\r') {
				m->bol_cr = true;
				k++;
				continue;
			}
			if (c == '\n') {
				msg_field_done(m);
				m->in_body = true;
				return k + 1;
			}
			if (!is_wsp(c) || !m->cur_active) {
				msg_field_done(m);
				m->cur_active = true;
			}
			m->at_bol = false;
		}
		{
			const char *nl = memchr(p + k, '\n', len - k);
			size_t end = nl != NULL ? (size_t)(nl - p) + 1 : len;

			msg_cur_append(m, p + k, end - k);
			if (nl != NULL)
				m->at_bol = true;
			k = end;
		}
	}
	return SIZE_MAX;
}

bool
dkim_field_is(const struct dkim_msg *m, size_t i, struct str_view name)
{
	const struct dkim_field *f = &m->fields[i];

	return f->has_colon && f->name_len == name.len &&
	    strncasecmp(dkim_field_text(m, i), name.p, name.len) == 0;
}

int
dkim_header_input(const struct dkim_msg *m, enum dkim_canon canon,
    const struct str_view *h, size_t n_h, const char *sig_text,
    size_t sig_len, struct buf *out)
{
	for (size_t j = 0; j < n_h; j++) {
		size_t skip = 0;

		/* 5.4.2: repeated names take instances from the bottom up. */
		for (size_t k = 0; k < j; k++)
			if (h[k].len == h[j].len &&
			    strncasecmp(h[k].p, h[j].p, h[j].len) == 0)
				skip++;
		for (size_t i = m->n_fields; i-- > 0;) {
			if (!dkim_field_is(m, i, h[j]))
				continue;
			if (skip > 0) {
				skip--;
				continue;
			}
			if (dkim_header_canon(canon, dkim_field_text(m, i),
			    m->fields[i].len, out) == -1)
				return -1;
			break;
		}
	}
	if (dkim_header_canon(canon, sig_text, sig_len, out) == -1)
		return -1;
	/* 3.7: the signature field is hashed without its final CRLF. */
	out->len -= 2;
	out->data[out->len] = '\0';
	return 0;
}
