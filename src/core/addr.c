/*
 * Address parsing; see addr.h. The grammar is RFC 5321 4.1.2 (Mailbox,
 * Local-part, Domain, address-literal) with the RFC 6531 3.3 extensions
 * (UTF-8 in atoms, quoted strings and domain labels) under a flag. Header
 * address lists (RFC 5322 3.4) are reduced to those same addr-specs after
 * comments and folding whitespace are dropped.
 */
#include "core/addr.h"

#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

size_t
addr_utf8_seq_len(const unsigned char *p, size_t n)
{
	unsigned char c, lo = 0x80, hi = 0xbf;
	size_t len;

	if (n == 0)
		return 0;
	c = p[0];
	if (c < 0x80)
		return 1;
	/* RFC 3629 section 4, UTF8-2 .. UTF8-4. */
	if (c >= 0xc2 && c <= 0xdf)
		len = 2;
	else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		if (c == 0xe0)
			lo = 0xa0;	/* overlong */
		else if (c == 0xed)
			hi = 0x9f;	/* surrogates */
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		if (c == 0xf0)
			lo = 0x90;	/* overlong */
		else if (c == 0xf4)
			hi = 0x8f;	/* past U+10FFFF */
	} else
		return 0;
	if (n < len)
		return 0;
	if (p[1] < lo || p[1] > hi)
		return 0;
	for (size_t i = 2; i < len; i++)
		if (p[i] < 0x80 || p[i] > 0xbf)
			return 0;
	return len;
}

static bool
is_alpha(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool
is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

/* RFC 5321 4.1.2 atext (= RFC 5322 3.2.3). */
static bool
is_atext(unsigned char c)
{
	return is_alpha(c) || is_digit(c) ||
	    (c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL);
}

/* RFC 5321 qtextSMTP: %d32-33 / %d35-91 / %d93-126. */
static bool
is_qtext(unsigned char c)
{
	return c >= 32 && c <= 126 && c != '"' && c != '\\';
}

/*
 * One non-ASCII character at p[i]: checks it is allowed and well-formed.
 * Returns its length, 0 on error (with *rc and *err set).
 */
static size_t
take_utf8(const unsigned char *p, size_t n, size_t i, unsigned flags,
    int *rc, const char **err)
{
	size_t l;

	if ((flags & ADDR_ALLOW_UTF8) == 0) {
		*rc = ADDR_ERR_UTF8;
		*err = "non-ASCII address without SMTPUTF8";
		return 0;
	}
	if ((l = addr_utf8_seq_len(p + i, n - i)) < 2) {
		*rc = ADDR_ERR_SYNTAX;
		*err = "malformed UTF-8 in address";
		return 0;
	}
	return l;
}

/*
 * Local-part = Dot-string / Quoted-string at p[0..n). Returns its length
 * (how much was consumed), or 0 with *rc and *err set.
 */
static size_t
parse_local(const unsigned char *p, size_t n, unsigned flags, bool *utf8,
    int *rc, const char **err)
{
	size_t i = 0, l;

	*rc = ADDR_ERR_SYNTAX;
	if (n > 0 && p[0] == '"') {
		for (i = 1; i < n && p[i] != '"'; i++) {
			if (p[i] == '\\') {
				/* quoted-pairSMTP = %d92 %d32-126 */
				if (i + 1 >= n || p[i + 1] < 32 ||
				    p[i + 1] > 126) {
					*err = "bad quoted-pair in local part";
					return 0;
				}
				i++;
			} else if (p[i] >= 0x80) {
				l = take_utf8(p, n, i, flags, rc, err);
				if (l == 0)
					return 0;
				*utf8 = true;
				i += l - 1;
			} else if (!is_qtext(p[i])) {
				*err = "bad character in quoted local part";
				return 0;
			}
		}
		if (i >= n) {
			*err = "unterminated quoted local part";
			return 0;
		}
		i++;
		if (i == 2) {
			/* RFC 5321 allows "" but nothing can deliver to it. */
			*err = "empty local part";
			return 0;
		}
	} else {
		bool atom_empty = true;

		for (; i < n; i++) {
			if (p[i] == '.') {
				if (atom_empty) {
					*err = "empty atom in local part";
					return 0;
				}
				atom_empty = true;
				continue;
			}
			if (p[i] >= 0x80) {
				l = take_utf8(p, n, i, flags, rc, err);
				if (l == 0)
					return 0;
				*utf8 = true;
				i += l - 1;
			} else if (!is_atext(p[i]))
				break;
			atom_empty = false;
		}
		if (i == 0) {
			*err = "missing local part";
			return 0;
		}
		if (atom_empty) {
			*err = "empty atom in local part";
			return 0;
		}
	}
	if (i > ADDR_LOCAL_MAX) {
		*err = "local part longer than 64 octets";
		return 0;
	}
	return i;
}

/* address-literal: "[" ... "]" at p[0..n) into out; returns length or 0. */
static size_t
parse_literal(const unsigned char *p, size_t n, char *out, const char **err)
{
	const unsigned char *end = memchr(p, ']', n < 64 ? n : 64);
	unsigned char bin[16];
	char text[64];
	size_t tlen;
	int rv;

	if (end == NULL) {
		*err = "unterminated address literal";
		return 0;
	}
	tlen = (size_t)(end - p) - 1;
	memcpy(text, p + 1, tlen);
	text[tlen] = '\0';
	if (memchr(text, '\0', tlen) != NULL) {
		*err = "bad address literal";
		return 0;
	}
	if (tlen > 5 && strncasecmp(text, "IPv6:", 5) == 0) {
		rv = inet_pton(AF_INET6, text + 5, bin);
		memcpy(text, "IPv6", 4);
	} else
		rv = inet_pton(AF_INET, text, bin);
	if (rv != 1) {
		*err = "bad address literal";
		return 0;
	}
	/* Lower-case the hex digits only; the tag keeps its usual spelling. */
	out[0] = '[';
	memcpy(out + 1, text, tlen);
	out[tlen + 1] = ']';
	out[tlen + 2] = '\0';
	str_lower(out + (out[1] == 'I' ? 5 : 1));
	return tlen + 2;
}

/*
 * Domain = sub-domain *("." sub-domain) or address-literal at p[0..n),
 * into out (ADDR_DOMAIN_MAX + 1 bytes, lower-cased). Returns the length
 * consumed, or 0 with *rc and *err set.
 */
static size_t
parse_domain(const unsigned char *p, size_t n, unsigned flags, char *out,
    bool *utf8, int *rc, const char **err)
{
	size_t i = 0, label = 0, l;
	bool label_ascii = true;

	*rc = ADDR_ERR_SYNTAX;
	if (n > 0 && p[0] == '[')
		return parse_literal(p, n, out, err);
	for (;; i++) {
		if (i < n && (is_alpha(p[i]) || is_digit(p[i]) ||
		    (p[i] == '-' && label > 0))) {
			label++;
			continue;
		}
		if (i < n && p[i] >= 0x80) {
			if ((l = take_utf8(p, n, i, flags, rc, err)) == 0)
				return 0;
			*utf8 = true;
			label_ascii = false;
			label += l;
			i += l - 1;
			continue;
		}
		/* End of a label: RFC 5321 sub-domain = Let-dig [Ldh-str]. */
		if (label == 0) {
			*err = i < n && p[i] == '-' ?
			    "domain label starts with a hyphen" :
			    "missing or empty domain label";
			return 0;
		}
		if (p[i - 1] == '-') {
			*err = "domain label ends with a hyphen";
			return 0;
		}
		/*
		 * RFC 1035 2.3.4. A U-label's limit applies to its A-label
		 * form, which we do not compute; the total bound still holds.
		 */
		if (label > 63 && label_ascii) {
			*err = "domain label longer than 63 octets";
			return 0;
		}
		if (i >= n || p[i] != '.')
			break;
		label = 0;
		label_ascii = true;
	}
	if (i > ADDR_DOMAIN_MAX) {
		*err = "domain longer than 255 octets";
		return 0;
	}
	memcpy(out, p, i);
	out[i] = '\0';
	str_lower(out);
	return i;
}

static bool
local_is_postmaster(const char *local)
{
	return strcasecmp(local, "postmaster") == 0;
}

/* local "@" domain at p[0..n); returns length consumed or 0. */
static size_t
parse_mailbox(const unsigned char *p, size_t n, unsigned flags,
    struct mailaddr *out, int *rc, const char **err)
{
	size_t i, l;

	if ((i = parse_local(p, n, flags, &out->is_utf8, rc, err)) == 0)
		return 0;
	memcpy(out->local, p, i);
	out->local[i] = '\0';
	out->is_postmaster = local_is_postmaster(out->local);
	if (i >= n || p[i] != '@') {
		*rc = ADDR_ERR_SYNTAX;
		*err = "address must have a domain";
		return 0;
	}
	i++;
	l = parse_domain(p + i, n - i, flags, out->domain, &out->is_utf8, rc,
	    err);
	if (l == 0)
		return 0;
	return i + l;
}

/* A-d-l ":" at p[0..n) (RFC 5321 4.1.2); returns length consumed or 0. */
static size_t
skip_source_route(const unsigned char *p, size_t n, unsigned flags,
    int *rc, const char **err)
{
	char scratch[ADDR_DOMAIN_MAX + 1];
	bool utf8 = false;
	size_t i = 0, l;

	for (;;) {
		if (i >= n || p[i] != '@') {
			*rc = ADDR_ERR_SYNTAX;
			*err = "bad source route";
			return 0;
		}
		i++;
		l = parse_domain(p + i, n - i, flags, scratch, &utf8, rc, err);
		if (l == 0)
			return 0;
		i += l;
		if (i < n && p[i] == ',') {
			i++;
			continue;
		}
		if (i < n && p[i] == ':')
			return i + 1;
		*rc = ADDR_ERR_SYNTAX;
		*err = "bad source route";
		return 0;
	}
}

int
addr_parse_path(struct str_view *cur, struct mailaddr *out, unsigned flags,
    const char **err)
{
	const unsigned char *p = (const unsigned char *)cur->p;
	size_t n = cur->len, i = 1, l;
	const char *dummy;
	int rc = ADDR_ERR_SYNTAX;

	if (err == NULL)
		err = &dummy;
	memset(out, 0, sizeof(*out));
	if (n == 0 || p[0] != '<') {
		*err = "address must be enclosed in <>";
		return ADDR_ERR_SYNTAX;
	}
	if (n > 1 && p[1] == '>') {
		if ((flags & ADDR_ALLOW_NULL) == 0) {
			*err = "null address not allowed here";
			return ADDR_ERR_SYNTAX;
		}
		out->is_null = true;
		cur->p += 2;
		cur->len -= 2;
		return ADDR_OK;
	}
	if (n > 1 && p[1] == '@') {
		if ((l = skip_source_route(p + 1, n - 1, flags, &rc, err)) == 0)
			return rc;
		i += l;
	}
	l = parse_local(p + i, n - i, flags, &out->is_utf8, &rc, err);
	if (l == 0)
		return rc;
	memcpy(out->local, p + i, l);
	out->local[l] = '\0';
	out->is_postmaster = local_is_postmaster(out->local);
	i += l;
	if (i < n && p[i] == '>' && out->is_postmaster &&
	    (flags & ADDR_ALLOW_POSTMASTER) != 0) {
		/* RFC 5321 4.1.1.3: "<Postmaster>" needs no domain. */
		cur->p += i + 1;
		cur->len -= i + 1;
		return ADDR_OK;
	}
	if (i >= n || p[i] != '@') {
		*err = "address must have a domain";
		return ADDR_ERR_SYNTAX;
	}
	i++;
	l = parse_domain(p + i, n - i, flags, out->domain, &out->is_utf8, &rc,
	    err);
	if (l == 0)
		return rc;
	i += l;
	if (i >= n || p[i] != '>') {
		*err = i >= n ? "missing closing >" :
		    "bad character in address";
		return ADDR_ERR_SYNTAX;
	}
	cur->p += i + 1;
	cur->len -= i + 1;
	return ADDR_OK;
}

int
addr_parse_plain(const char *s, struct mailaddr *out)
{
	size_t n = strlen(s), l;
	const char *err;
	int rc;

	memset(out, 0, sizeof(*out));
	l = parse_mailbox((const unsigned char *)s, n, ADDR_ALLOW_UTF8, out,
	    &rc, &err);
	if (l == 0 || l != n)
		return ADDR_ERR_SYNTAX;
	return ADDR_OK;
}

int
addr_format(const struct mailaddr *a, char *out, size_t outsz)
{
	int n;

	if (outsz == 0)
		return -1;
	if (a->is_null)
		n = snprintf(out, outsz, "%s", "");
	else if (a->domain[0] == '\0')
		n = snprintf(out, outsz, "%s", a->local);
	else
		n = snprintf(out, outsz, "%s@%s", a->local, a->domain);
	if (n < 0 || (size_t)n >= outsz) {
		out[0] = '\0';
		return -1;
	}
	return n;
}

bool
addr_equal(const struct mailaddr *a, const struct mailaddr *b)
{
	return a->is_null == b->is_null && strcmp(a->local, b->local) == 0 &&
	    strcmp(a->domain, b->domain) == 0;
}

/*
 * Header address lists. The value is reduced, member by member, to the
 * text of one addr-spec (comments and folding whitespace dropped, a
 * display name discarded once '<' shows it was one), which is then parsed
 * with the envelope grammar above. That is stricter than RFC 5322 in the
 * corners (obsolete local parts with spaces, domain literals that are not
 * IP addresses) and fails closed there.
 */
#define HDR_SPEC_MAX	(ADDR_LOCAL_MAX + 1 + ADDR_DOMAIN_MAX + 1)
#define HDR_COMMENT_DEPTH	16

struct hdr_list {
	const unsigned char	*p;
	size_t			 n, i;
	char			 spec[HDR_SPEC_MAX + 1];
	size_t			 len;
	bool			 in_angle, had_angle, in_group;
	bool			 last_word;	/* last kept token was a word */
	bool			 gap;		/* CFWS since the last token */
	bool			 phrase;	/* words with a gap: a name */
	bool			 overflow;	/* kept text did not fit */
	bool			 saw_at;	/* an unquoted '@' was kept */
	const char		*err;
};

static int
hdr_keep(struct hdr_list *h, const unsigned char *s, size_t len, bool word)
{
	if (h->had_angle && !h->in_angle) {
		h->err = "text after <address>";
		return -1;
	}
	if (word && h->last_word && h->gap)
		h->phrase = true;
	h->last_word = word;
	h->gap = false;
	if (len > HDR_SPEC_MAX - h->len) {
		/*
		 * Too long for an address, but it may be a display name
		 * (encoded-words are long); decide once we see a '<' or not.
		 */
		if (h->in_angle) {
			h->err = "address too long";
			return -1;
		}
		h->overflow = true;
		return 0;
	}
	memcpy(h->spec + h->len, s, len);
	h->len += len;
	return 0;
}

/* Skips a comment at h->i ('('), nested up to HDR_COMMENT_DEPTH. */
static int
hdr_skip_comment(struct hdr_list *h)
{
	unsigned depth = 0;

	for (; h->i < h->n; h->i++) {
		unsigned char c = h->p[h->i];

		if (c == '\\')
			h->i++;
		else if (c == '(') {
			if (++depth > HDR_COMMENT_DEPTH) {
				h->err = "comments nested too deep";
				return -1;
			}
		} else if (c == ')' && --depth == 0) {
			h->i++;
			h->gap = true;
			return 0;
		}
	}
	h->err = "unterminated comment";
	return -1;
}

/* Copies a quoted-string at h->i, folding (CR, LF) dropped. */
static int
hdr_take_quoted(struct hdr_list *h)
{
	unsigned char q[HDR_SPEC_MAX];
	size_t ql = 0;
	bool big = false;

	for (; h->i < h->n; h->i++) {
		unsigned char c = h->p[h->i];

		if (c == '\r' || c == '\n')
			continue;
		if (ql < sizeof(q))
			q[ql++] = c;
		else
			big = true;
		if (c == '\\' && h->i + 1 < h->n) {
			h->i++;
			if (ql < sizeof(q))
				q[ql++] = h->p[h->i];
			else
				big = true;
		} else if (c == '"' && ql > 1) {
			h->i++;
			/* Longer than any address: hdr_keep() knows. */
			return hdr_keep(h, q, big ? SIZE_MAX : ql, true);
		}
	}
	h->err = "unterminated quoted string";
	return -1;
}

/* Ends one list member: parses what was kept, if anything. */
static int
hdr_finish_member(struct hdr_list *h, struct mailaddr *out, size_t max,
    size_t *count)
{
	const unsigned char *s = (const unsigned char *)h->spec;
	size_t n = h->len, l;
	int rc;

	if (h->in_angle) {
		h->err = "missing closing >";
		return -1;
	}
	if (h->phrase && !h->had_angle) {
		h->err = "display name without <address>";
		return -1;
	}
	if (h->overflow && !h->had_angle) {
		h->err = "address too long";
		return -1;
	}
	if (n > 0 && s[0] == '@') {
		/* RFC 5322 4.4 obs-route inside the angle brackets. */
		const unsigned char *colon = memchr(s, ':', n);

		if (colon == NULL) {
			h->err = "bad route in address";
			return -1;
		}
		n -= (size_t)(colon + 1 - s);
		s = colon + 1;
	}
	if (n > 0) {
		if (*count >= max) {
			h->err = "too many addresses";
			return -1;
		}
		memset(&out[*count], 0, sizeof(out[*count]));
		l = parse_mailbox(s, n, ADDR_ALLOW_UTF8, &out[*count], &rc,
		    &h->err);
		if (l == 0)
			return -1;
		if (l != n) {
			h->err = "bad character in address";
			return -1;
		}
		(*count)++;
	}
	h->len = 0;
	h->in_angle = h->had_angle = h->last_word = h->gap = false;
	h->phrase = h->overflow = h->saw_at = false;
	return 0;
}

/* One byte (or token) at h->i outside comments and quotes. */
static int
hdr_step(struct hdr_list *h, struct mailaddr *out, size_t max, size_t *count)
{
	unsigned char c = h->p[h->i];
	size_t start;

	switch (c) {
	case ' ': case '\t': case '\r': case '\n':
		h->gap = true;
		h->i++;
		return 0;
	case '(':
		return hdr_skip_comment(h);
	case '"':
		return hdr_take_quoted(h);
	case '<':
		if (h->in_angle || h->had_angle) {
			h->err = "unexpected <";
			return -1;
		}
		/*
		 * "a@b <c@d>": which one is the sender is ambiguous, and
		 * checks of the From address must not guess.
		 */
		if (h->saw_at) {
			h->err = "address before <address>";
			return -1;
		}
		h->in_angle = h->had_angle = true;
		h->len = 0;
		h->overflow = false;
		h->last_word = h->gap = false;
		h->i++;
		return 0;
	case '>':
		if (!h->in_angle) {
			h->err = "unexpected >";
			return -1;
		}
		h->in_angle = false;
		h->i++;
		return 0;
	case ':':
		if (h->in_angle)
			break;
		/* group = display-name ":" [group-list] ";" */
		if (h->in_group || h->had_angle) {
			h->err = "unexpected :";
			return -1;
		}
		h->in_group = true;
		h->len = 0;
		h->overflow = h->saw_at = false;
		h->last_word = h->gap = h->phrase = false;
		h->i++;
		return 0;
	case ';':
		if (!h->in_group || h->in_angle) {
			h->err = "unexpected ;";
			return -1;
		}
		h->in_group = false;
		h->i++;
		return hdr_finish_member(h, out, max, count);
	case ',':
		if (h->in_angle)
			break;
		h->i++;
		return hdr_finish_member(h, out, max, count);
	case '[':
		start = h->i;
		while (h->i < h->n && h->p[h->i] != ']')
			h->i++;
		if (h->i >= h->n) {
			h->err = "unterminated domain literal";
			return -1;
		}
		h->i++;
		return hdr_keep(h, h->p + start, h->i - start, true);
	case ')': case ']': case '\\':
		h->err = "unexpected special character";
		return -1;
	default:
		if (c < 32 || c == 127) {
			h->err = "control character in header";
			return -1;
		}
		break;
	}
	if (c == '@')
		h->saw_at = true;
	if (c == '.' || c == '@' || c == ':' || c == ',')
		return hdr_keep(h, &h->p[h->i++], 1, false);
	start = h->i;
	while (h->i < h->n && h->p[h->i] > 32 && h->p[h->i] != 127 &&
	    strchr("()<>[]:;@\\,.\"", h->p[h->i]) == NULL)
		h->i++;
	return hdr_keep(h, h->p + start, h->i - start, true);
}

int
addr_parse_header_list(struct str_view value, struct mailaddr *out,
    size_t max, const char **err)
{
	struct hdr_list h;
	size_t count = 0;
	const char *dummy;

	if (err == NULL)
		err = &dummy;
	if (value.len > ADDR_HEADER_MAX) {
		*err = "header value too long";
		return -1;
	}
	memset(&h, 0, sizeof(h));
	h.p = (const unsigned char *)value.p;
	h.n = value.len;
	while (h.i < h.n) {
		if (hdr_step(&h, out, max, &count) == -1) {
			*err = h.err;
			return -1;
		}
	}
	if (h.in_group) {
		*err = "unterminated group";
		return -1;
	}
	if (hdr_finish_member(&h, out, max, &count) == -1) {
		*err = h.err;
		return -1;
	}
	return (int)count;
}
