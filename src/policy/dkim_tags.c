/*
 * DKIM tag-lists (RFC 6376 3.2): the DKIM-Signature value (3.5) and the
 * key record (3.6.1). Bytes in, views out, bounded by DKIM_MAX_TAGS; no
 * I/O, no allocation.
 */
#include "policy/dkim.h"

#include <string.h>
#include <strings.h>

#include "policy/dkim_private.h"

const char *
dkim_alg_name(enum dkim_alg a)
{
	switch (a) {
	case DKIM_ALG_RSA_SHA256:
		return "rsa-sha256";
	case DKIM_ALG_ED25519_SHA256:
		return "ed25519-sha256";
	case DKIM_ALG_RSA_SHA1:
		return "rsa-sha1";
	}
	return "unknown";
}

const char *
dkim_canon_name(enum dkim_canon c)
{
	return c == DKIM_CANON_RELAXED ? "relaxed" : "simple";
}

const char *
dkim_keytype_name(enum dkim_keytype t)
{
	return t == DKIM_KEY_ED25519 ? "ed25519" : "rsa";
}

const char *
dkim_status_name(enum dkim_status s)
{
	static const char *const names[] = { "pass", "fail", "neutral",
	    "policy", "temperror", "permerror" };

	return (unsigned)s < sizeof(names) / sizeof(names[0]) ? names[s] :
	    "permerror";
}

bool
dkim_is_fws(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static bool
is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* VALCHAR = %x21-3A / %x3C-7E (3.2): printable except ';'. */
static bool
is_valchar(char c)
{
	return c >= 0x21 && c <= 0x7e && c != ';';
}

/*
 * Splits a tag-list into tags. Views point into text; vstart/vend are
 * the value's offsets with the surrounding FWS removed. allow_empty
 * accepts empty tag-specs anywhere (key records are typed by hand);
 * otherwise only a trailing ';' is allowed. Returns the tag count or -1.
 */
int
dkim_tags_split(const char *text, size_t len, struct dkim_tag *tags,
    size_t max, bool allow_empty, const char **err)
{
	size_t pos = 0, n = 0;

	while (pos < len) {
		size_t nend, vs, ve;

		while (pos < len && dkim_is_fws(text[pos]))
			pos++;
		if (pos == len || text[pos] == ';') {
			/* An empty spec: fine only as the trailing one. */
			if (pos < len && !allow_empty) {
				*err = "empty tag";
				return -1;
			}
			if (pos < len)
				pos++;
			continue;
		}
		if (!is_alpha(text[pos])) {
			*err = "bad tag name";
			return -1;
		}
		nend = pos;
		while (nend < len && (is_alpha(text[nend]) ||
		    is_digit(text[nend]) || text[nend] == '_'))
			nend++;
		if (n == max) {
			*err = "too many tags";
			return -1;
		}
		tags[n].name = str_view_make(text + pos, nend - pos);
		pos = nend;
		while (pos < len && dkim_is_fws(text[pos]))
			pos++;
		if (pos == len || text[pos] != '=') {
			*err = "tag without '='";
			return -1;
		}
		pos++;
		tags[n].eq = pos;
		while (pos < len && dkim_is_fws(text[pos]))
			pos++;
		vs = ve = pos;
		while (pos < len && text[pos] != ';') {
			if (!dkim_is_fws(text[pos])) {
				if (!is_valchar(text[pos])) {
					*err = "bad character in tag value";
					return -1;
				}
				ve = pos + 1;
			}
			pos++;
		}
		tags[n].value = str_view_make(text + vs, ve - vs);
		tags[n].vstart = vs;
		tags[n].vend = ve;
		for (size_t k = 0; k < n; k++)
			if (tags[k].name.len == tags[n].name.len &&
			    memcmp(tags[k].name.p, tags[n].name.p,
			    tags[n].name.len) == 0) {
				*err = "duplicate tag";
				return -1;
			}
		n++;
		if (pos < len)
			pos++;		/* the ';' */
	}
	return (int)n;
}

/* base64 with FWS between the characters (3.5 b=, bh=; 3.6.1 p=). */
static bool
is_base64_fws(struct str_view v)
{
	for (size_t k = 0; k < v.len; k++) {
		char c = v.p[k];

		if (!is_alpha(c) && !is_digit(c) && c != '+' && c != '/' &&
		    c != '=' && !dkim_is_fws(c))
			return false;
	}
	return true;
}

/* A domain name: LDH labels, '_' tolerated, no empty label. */
bool
dkim_is_domain(struct str_view v, size_t max)
{
	bool label_start = true;

	if (v.len == 0 || v.len > max)
		return false;
	for (size_t k = 0; k < v.len; k++) {
		char c = v.p[k];

		if (c == '.') {
			if (label_start)
				return false;
			label_start = true;
			continue;
		}
		if (!is_alpha(c) && !is_digit(c) && c != '-' && c != '_')
			return false;
		label_start = false;
	}
	return !label_start;
}

/* Takes the next element of a ':'-separated list, FWS around trimmed. */
static bool
list_next(struct str_view *cur, struct str_view *item)
{
	size_t k = 0, s, e;

	if (cur->p == NULL)
		return false;
	while (k < cur->len && cur->p[k] != ':')
		k++;
	s = 0;
	e = k;
	while (s < e && dkim_is_fws(cur->p[s]))
		s++;
	while (e > s && dkim_is_fws(cur->p[e - 1]))
		e--;
	*item = str_view_make(cur->p + s, e - s);
	if (k < cur->len) {
		cur->p += k + 1;
		cur->len -= k + 1;
	} else {
		cur->p = NULL;
		cur->len = 0;
	}
	return true;
}

static int
parse_canon(struct str_view v, enum dkim_canon *out)
{
	if (str_eq(v, "simple"))
		*out = DKIM_CANON_SIMPLE;
	else if (str_eq(v, "relaxed"))
		*out = DKIM_CANON_RELAXED;
	else
		return -1;
	return 0;
}

static int
sig_alg(struct str_view v, struct dkim_sig *out)
{
	if (str_case_eq(v, "rsa-sha256"))
		out->alg = DKIM_ALG_RSA_SHA256;
	else if (str_case_eq(v, "ed25519-sha256"))
		out->alg = DKIM_ALG_ED25519_SHA256;
	else if (str_case_eq(v, "rsa-sha1"))
		out->alg = DKIM_ALG_RSA_SHA1;
	else
		return -1;
	return 0;
}

static int
sig_c(struct str_view v, struct dkim_sig *out)
{
	struct str_view cur = v, h;

	h = str_take_until(&cur, '/');
	if (parse_canon(h, &out->hcanon) == -1)
		return -1;
	if (cur.len == 0)
		return 0;		/* "c=relaxed": body stays simple */
	cur.p++;
	cur.len--;
	return parse_canon(cur, &out->bcanon);
}

static int
sig_h(struct str_view v, struct dkim_sig *out, const char **err)
{
	struct str_view cur = v, item;
	bool has_from = false;

	while (list_next(&cur, &item)) {
		if (item.len == 0) {
			*err = "empty name in h=";
			return -1;
		}
		for (size_t k = 0; k < item.len; k++)
			if (item.p[k] <= 0x20 || item.p[k] >= 0x7f ||
			    item.p[k] == ':') {
				*err = "bad name in h=";
				return -1;
			}
		if (out->n_h == DKIM_MAX_H) {
			*err = "too many names in h=";
			return -1;
		}
		if (str_case_eq(item, "from"))
			has_from = true;
		out->h[out->n_h++] = item;
	}
	if (!has_from) {
		/* 5.4: From MUST be signed; 6.1.1 lets verifiers insist. */
		*err = "h= does not sign From";
		return -1;
	}
	return 0;
}

static int
sig_number(struct str_view v, bool *has, uint64_t *out)
{
	/* 3.5: l, t and x are at most 76 / 12 digits; u64 bounds them. */
	if (str_to_u64(v, out, UINT64_MAX) == -1)
		return -1;
	*has = true;
	return 0;
}

/* 3.5 i=: the domain part must be d= or a subdomain of it. */
static bool
auid_in_domain(struct str_view i, struct str_view d)
{
	const char *at = memchr(i.p, '@', i.len);
	struct str_view dom;

	if (at == NULL)
		return false;
	dom = str_view_make(at + 1, i.len - (size_t)(at + 1 - i.p));
	if (dom.len < d.len)
		return false;
	if (strncasecmp(dom.p + dom.len - d.len, d.p, d.len) != 0)
		return false;
	return dom.len == d.len || dom.p[dom.len - d.len - 1] == '.';
}

static int
sig_tag(const struct dkim_tag *t, struct dkim_sig *out, unsigned *seen,
    const char **err)
{
	struct str_view n = t->name, v = t->value;

	if (str_eq(n, "v")) {
		*seen |= 1u << 0;
		if (!str_eq(v, "1"))
			return *err = "unsupported v=", -1;
	} else if (str_eq(n, "a")) {
		*seen |= 1u << 1;
		if (sig_alg(v, out) == -1)
			return *err = "unknown algorithm", -1;
	} else if (str_eq(n, "b")) {
		*seen |= 1u << 2;
		if (v.len == 0 || !is_base64_fws(v))
			return *err = "bad b=", -1;
		out->b = v;
		out->b_start = t->eq;
		out->b_end = t->vend;
	} else if (str_eq(n, "bh")) {
		*seen |= 1u << 3;
		if (v.len == 0 || !is_base64_fws(v))
			return *err = "bad bh=", -1;
		out->bh = v;
	} else if (str_eq(n, "d")) {
		*seen |= 1u << 4;
		if (!dkim_is_domain(v, DKIM_DOMAIN_MAX))
			return *err = "bad d=", -1;
		out->d = v;
	} else if (str_eq(n, "h")) {
		*seen |= 1u << 5;
		if (sig_h(v, out, err) == -1)
			return -1;
	} else if (str_eq(n, "s")) {
		*seen |= 1u << 6;
		if (!dkim_is_domain(v, DKIM_SELECTOR_MAX))
			return *err = "bad s=", -1;
		out->s = v;
	} else if (str_eq(n, "c")) {
		if (sig_c(v, out) == -1)
			return *err = "unknown canonicalization", -1;
	} else if (str_eq(n, "i")) {
		if (v.len == 0 || v.len > DKIM_DOMAIN_MAX + 65 ||
		    memchr(v.p, '@', v.len) == NULL)
			return *err = "bad i=", -1;
		out->i = v;
	} else if (str_eq(n, "l")) {
		if (sig_number(v, &out->has_l, &out->l) == -1)
			return *err = "bad l=", -1;
	} else if (str_eq(n, "t")) {
		if (sig_number(v, &out->has_t, &out->t) == -1)
			return *err = "bad t=", -1;
	} else if (str_eq(n, "x")) {
		if (sig_number(v, &out->has_x, &out->x) == -1)
			return *err = "bad x=", -1;
	} else if (str_eq(n, "q")) {
		struct str_view cur = v, item;
		bool dns = false;

		while (list_next(&cur, &item))
			if (str_case_eq(item, "dns/txt"))
				dns = true;
		if (!dns)
			return *err = "q= without dns/txt", -1;
		out->q = v;
	}
	/* z= (copied headers) and unknown tags are ignored (3.2). */
	return 0;
}

int
dkim_sig_parse(const char *value, size_t len, struct dkim_sig *out,
    const char **err)
{
	struct dkim_tag tags[DKIM_MAX_TAGS];
	unsigned seen = 0;
	int n;

	memset(out, 0, sizeof(*out));
	out->hcanon = out->bcanon = DKIM_CANON_SIMPLE;
	n = dkim_tags_split(value, len, tags, DKIM_MAX_TAGS, false, err);
	if (n == -1)
		return -1;
	for (int k = 0; k < n; k++)
		if (sig_tag(&tags[k], out, &seen, err) == -1)
			return -1;
	if ((seen & 0x7f) != 0x7f) {
		static const char *const missing[] = { "missing v=",
		    "missing a=", "missing b=", "missing bh=", "missing d=",
		    "missing h=", "missing s=" };

		for (unsigned k = 0; k < 7; k++)
			if ((seen & (1u << k)) == 0) {
				*err = missing[k];
				return -1;
			}
	}
	if (out->i.p != NULL && !auid_in_domain(out->i, out->d)) {
		*err = "i= not within d=";
		return -1;
	}
	if (out->has_t && out->has_x && out->x < out->t) {
		*err = "x= before t=";
		return -1;
	}
	return 0;
}

/* --- key records --- */

static int
key_tag(const struct dkim_tag *t, int idx, struct dkim_key_record *out,
    bool *has_p, const char **err)
{
	struct str_view n = t->name, v = t->value, cur = v, item;

	if (str_eq(n, "v")) {
		/* 3.6.1: if present, v= MUST be first and DKIM1. */
		if (idx != 0 || !str_eq(v, "DKIM1"))
			return *err = "bad v=", -1;
	} else if (str_eq(n, "k")) {
		if (str_case_eq(v, "rsa"))
			out->k = DKIM_KEY_RSA;
		else if (str_case_eq(v, "ed25519"))
			out->k = DKIM_KEY_ED25519;
		else
			return *err = "unknown key type", -1;
	} else if (str_eq(n, "p")) {
		if (!is_base64_fws(v))
			return *err = "bad p=", -1;
		out->p = v;
		out->is_revoked = v.len == 0;
		*has_p = true;
	} else if (str_eq(n, "h")) {
		out->allows_sha1 = out->allows_sha256 = false;
		while (list_next(&cur, &item)) {
			if (str_case_eq(item, "sha1"))
				out->allows_sha1 = true;
			else if (str_case_eq(item, "sha256"))
				out->allows_sha256 = true;
		}
	} else if (str_eq(n, "s")) {
		out->allows_email = false;
		while (list_next(&cur, &item))
			if (str_eq(item, "*") || str_case_eq(item, "email"))
				out->allows_email = true;
	} else if (str_eq(n, "t")) {
		while (list_next(&cur, &item)) {
			if (str_eq(item, "y"))
				out->is_testing = true;
			else if (str_eq(item, "s"))
				out->is_strict = true;
		}
	}
	return 0;
}

int
dkim_key_record_parse(const char *text, size_t len,
    struct dkim_key_record *out, const char **err)
{
	struct dkim_tag tags[DKIM_MAX_TAGS];
	bool has_p = false;
	int n;

	memset(out, 0, sizeof(*out));
	out->k = DKIM_KEY_RSA;
	out->allows_sha1 = out->allows_sha256 = out->allows_email = true;
	n = dkim_tags_split(text, len, tags, DKIM_MAX_TAGS, true, err);
	if (n == -1)
		return -1;
	for (int k = 0; k < n; k++)
		if (key_tag(&tags[k], k, out, &has_p, err) == -1)
			return -1;
	if (!has_p) {
		*err = "missing p=";
		return -1;
	}
	return 0;
}
