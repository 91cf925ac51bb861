/*
 * The author domain of a message (RFC 7489 3.1: the RFC5322.From domain)
 * from the raw body of its From field. The field is an address-list
 * (RFC 5322 3.4; 3.6.2 makes it a mailbox-list, but groups and the
 * obsolete forms of 4.4 are seen in the wild, so they are parsed rather
 * than called garbage). A small tokenizer skips CFWS and yields atoms,
 * quoted strings, domain literals and specials as views into the input;
 * a recursive-descent parser on top counts the mailboxes and keeps the
 * first one's domain. Fixed state, no allocation, everything bounded by
 * the input length.
 */
#include "policy/dmarc.h"

#include <string.h>

#include "policy/psl.h"

#define COMMENT_DEPTH_MAX	32
#define LABEL_MAX		63
#define DOMAIN_MAX		253

enum tok_type { T_EOF, T_ATOM, T_QSTR, T_DLIT, T_SPECIAL, T_BAD };

struct tok {
	enum tok_type	 type;
	const char	*p;		/* atom text; the special char at p[0] */
	size_t		 len;
};

struct fparse {
	const char	*p;
	size_t		 len, pos;
	struct tok	 peeked;
	bool		 has_peek;
	bool		 bad;		/* a syntax error anywhere */
	unsigned	 count;		/* mailboxes seen */
	bool		 first_ok;	/* the first mailbox's domain is usable */
	char		 first[DMARC_DOMAIN_MAX];
};

/* RFC 5322 3.2.3 atext, plus UTF-8 (RFC 6532 3.2). */
static bool
is_atext(unsigned char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c >= 0x80)
		return true;
	return c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL;
}

static bool
is_fws(char c)
{
	/* Folding CRLFs may still be in the value; treat them as FWS. */
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Skips a comment at fp->pos ("("); false when it never ends. */
static bool
skip_comment(struct fparse *fp)
{
	unsigned depth = 0;

	while (fp->pos < fp->len) {
		char c = fp->p[fp->pos++];

		if (c == '\\') {
			if (fp->pos == fp->len)
				return false;
			fp->pos++;
		} else if (c == '(') {
			if (++depth > COMMENT_DEPTH_MAX)
				return false;
		} else if (c == ')') {
			if (--depth == 0)
				return true;
		}
	}
	return false;
}

/* Skips to the closing delimiter, honouring quoted-pairs. */
static bool
skip_quoted(struct fparse *fp, char close)
{
	while (fp->pos < fp->len) {
		char c = fp->p[fp->pos++];

		if (c == '\\') {
			if (fp->pos == fp->len)
				return false;
			fp->pos++;
		} else if (c == close) {
			return true;
		} else if (close == ']' && c == '[') {
			return false;
		}
	}
	return false;
}

static struct tok
lex(struct fparse *fp)
{
	struct tok t = { T_EOF, NULL, 0 };
	size_t start;
	char c;

	for (;;) {
		while (fp->pos < fp->len && is_fws(fp->p[fp->pos]))
			fp->pos++;
		if (fp->pos == fp->len)
			return t;
		if (fp->p[fp->pos] != '(')
			break;
		if (!skip_comment(fp)) {
			t.type = T_BAD;
			return t;
		}
	}
	start = fp->pos;
	c = fp->p[start];
	t.p = fp->p + start;
	if (is_atext((unsigned char)c)) {
		while (fp->pos < fp->len && is_atext((unsigned char)fp->p[fp->pos]))
			fp->pos++;
		t.type = T_ATOM;
	} else if (c == '"' || c == '[') {
		fp->pos++;
		if (!skip_quoted(fp, c == '"' ? '"' : ']')) {
			t.type = T_BAD;
			return t;
		}
		t.type = c == '"' ? T_QSTR : T_DLIT;
	} else if (strchr("<>@,:;.", c) != NULL && c != '\0') {
		fp->pos++;
		t.type = T_SPECIAL;
	} else {
		t.type = T_BAD;
		return t;
	}
	t.len = fp->pos - start;
	return t;
}

static struct tok
peek(struct fparse *fp)
{
	if (!fp->has_peek) {
		fp->peeked = lex(fp);
		fp->has_peek = true;
	}
	return fp->peeked;
}

static struct tok
next(struct fparse *fp)
{
	struct tok t = peek(fp);

	fp->has_peek = false;
	return t;
}

static bool
is_special(struct tok t, char c)
{
	return t.type == T_SPECIAL && t.p[0] == c;
}

static bool
take_special(struct fparse *fp, char c)
{
	if (!is_special(peek(fp), c))
		return false;
	(void)next(fp);
	return true;
}

/* A label character we are willing to look up in DNS. */
static bool
is_label_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '-' || c == '_' || c >= 0x80;
}

/*
 * domain = dot-atom / domain-literal / obs-domain: atoms separated by
 * dots (CFWS between them is skipped by the lexer). Writes the
 * lower-cased name into dom; *usable says whether it is a DNS name.
 * Returns false on a syntax error.
 */
static bool
parse_domain(struct fparse *fp, char *dom, bool *usable)
{
	size_t o = 0;
	struct tok t = next(fp);

	*usable = false;
	dom[0] = '\0';
	if (t.type == T_DLIT)
		return true;	/* syntactically fine, names no DNS domain */
	if (t.type != T_ATOM)
		return false;
	*usable = true;
	for (;;) {
		if (t.len > LABEL_MAX || o + t.len + 1 > DOMAIN_MAX + 1)
			*usable = false;
		for (size_t i = 0; i < t.len && *usable; i++) {
			unsigned char c = (unsigned char)t.p[i];

			if (!is_label_char(c))
				*usable = false;
			dom[o++] = (char)(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
		}
		if (!take_special(fp, '.'))
			break;
		if (peek(fp).type != T_ATOM)
			break;	/* a trailing dot, tolerated and dropped */
		t = next(fp);
		if (*usable)
			dom[o++] = '.';
	}
	if (*usable)
		dom[o] = '\0';
	else
		dom[0] = '\0';
	return true;
}

/* local-part "@" domain, the local-part already consumed; counts it. */
static bool
finish_mailbox(struct fparse *fp)
{
	char dom[DMARC_DOMAIN_MAX];
	bool usable;

	if (!take_special(fp, '@') || !parse_domain(fp, dom, &usable))
		return false;
	if (fp->count++ == 0) {
		fp->first_ok = usable;
		memcpy(fp->first, dom, sizeof(dom));
	}
	return true;
}

/* local-part = word *("." word), dot-atom and obs-local-part alike. */
static bool
parse_local(struct fparse *fp)
{
	for (;;) {
		struct tok t = next(fp);

		if (t.type != T_ATOM && t.type != T_QSTR)
			return false;
		if (!take_special(fp, '.'))
			return true;
	}
}

/*
 * angle-addr after its "<": an optional obs-route ("@a,@b:") and the
 * addr-spec, then ">".
 */
static bool
parse_angle(struct fparse *fp)
{
	if (is_special(peek(fp), '@') || is_special(peek(fp), ',')) {
		/* obs-route = obs-domain-list ":" */
		for (;;) {
			char dom[DMARC_DOMAIN_MAX];
			bool usable;

			while (take_special(fp, ','))
				;
			if (take_special(fp, ':'))
				break;
			if (!take_special(fp, '@') ||
			    !parse_domain(fp, dom, &usable))
				return false;
		}
	}
	if (!parse_local(fp) || !finish_mailbox(fp))
		return false;
	return take_special(fp, '>');
}

/*
 * A mailbox (name-addr or addr-spec), or with groups_ok a group. The
 * words of a display name or local-part are scanned first; what follows
 * them says which it was.
 */
static bool
parse_address(struct fparse *fp, bool groups_ok)
{
	size_t save_pos = fp->pos;
	struct tok save_peek = fp->peeked;
	bool save_has = fp->has_peek;
	unsigned words = 0;
	struct tok t;

	for (;;) {
		t = peek(fp);
		if (t.type == T_ATOM || t.type == T_QSTR || is_special(t, '.')) {
			(void)next(fp);
			words++;
			continue;
		}
		break;
	}
	if (is_special(t, '<')) {
		(void)next(fp);
		return parse_angle(fp);
	}
	if (is_special(t, ':') && words > 0 && groups_ok) {
		(void)next(fp);
		/* group-list: mailboxes, empty elements allowed, then ";" */
		for (;;) {
			while (take_special(fp, ','))
				;
			if (take_special(fp, ';'))
				return true;
			if (peek(fp).type == T_EOF)
				return true;	/* a missing ";" is forgiven */
			if (!parse_address(fp, false))
				return false;
			if (!is_special(peek(fp), ',') &&
			    !is_special(peek(fp), ';') && peek(fp).type != T_EOF)
				return false;
		}
	}
	if (is_special(t, '@') && words > 0) {
		/* It was a local-part: parse it again by its own rule. */
		fp->pos = save_pos;
		fp->peeked = save_peek;
		fp->has_peek = save_has;
		return parse_local(fp) && finish_mailbox(fp);
	}
	return false;
}

enum dmarc_from_status
dmarc_from_domain(const char *value, size_t len, char *out, size_t outsz)
{
	struct fparse fp;

	if (outsz > 0)
		out[0] = '\0';
	if (len > DMARC_FROM_MAX)
		return DMARC_FROM_INVALID;
	memset(&fp, 0, sizeof(fp));
	fp.p = value;
	fp.len = len;
	for (;;) {
		/* obs-addr-list: empty elements between commas */
		while (take_special(&fp, ','))
			;
		if (peek(&fp).type == T_EOF)
			break;
		if (!parse_address(&fp, true)) {
			fp.bad = true;
			break;
		}
		if (peek(&fp).type == T_EOF)
			break;
		if (!is_special(peek(&fp), ',')) {
			fp.bad = true;
			break;
		}
	}
	if (fp.bad)
		return DMARC_FROM_INVALID;
	if (fp.count == 0)
		return DMARC_FROM_NONE;
	if (fp.count > 1)
		return DMARC_FROM_MULTIPLE;
	if (!fp.first_ok)
		return DMARC_FROM_INVALID;
	/* U-labels (RFC 6532) become A-labels: DNS and A-R want those. */
	if (psl_domain_to_ascii(fp.first, out, outsz) == -1)
		return DMARC_FROM_INVALID;
	return DMARC_FROM_OK;
}

const char *
dmarc_from_status_name(enum dmarc_from_status s)
{
	switch (s) {
	case DMARC_FROM_OK:
		return "ok";
	case DMARC_FROM_NONE:
		return "none";
	case DMARC_FROM_MULTIPLE:
		return "multiple";
	case DMARC_FROM_INVALID:
		break;
	}
	return "invalid";
}
