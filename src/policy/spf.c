/*
 * SPF record parsing and macro expansion (RFC 7208 sections 4.6, 5, 6, 7
 * and the ABNF of section 12). No I/O: check_host() itself, which asks
 * the DNS, is in spf_check.c.
 */
#include "policy/spf.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

const char *
spf_result_name(enum spf_result r)
{
	static const char *const names[] = { "none", "neutral", "pass",
	    "fail", "softfail", "temperror", "permerror" };

	return (unsigned)r < sizeof(names) / sizeof(names[0]) ? names[r] :
	    "permerror";
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

static bool
is_alnum(char c)
{
	return is_alpha(c) || is_digit(c);
}

bool
spf_is_record(const char *text, size_t len)
{
	return len >= 6 && strncasecmp(text, "v=spf1", 6) == 0 &&
	    (len == 6 || text[6] == ' ');
}

/* --- macro strings (7.1) --- */

static bool
is_macro_letter(char c, bool is_exp)
{
	switch (c | 0x20) {
	case 's': case 'l': case 'o': case 'd': case 'i': case 'p': case 'h':
	case 'v':
		return true;
	case 'c': case 'r': case 't':
		return is_exp;
	default:
		return false;
	}
}

static bool
is_delimiter(char c)
{
	return c != '\0' && strchr(".-+,/_=", c) != NULL;
}

/*
 * Parses one "%{...}" starting at p[0] == '%', p[1] == '{'. Fills letter,
 * digits (0 = none), reverse and the delimiter set; returns the length
 * consumed, or 0 for a syntax error.
 */
static size_t
macro_parse_expand(const char *p, size_t len, bool is_exp, char *letter,
    unsigned *digits, bool *reverse, char *delims, size_t delimsz)
{
	size_t i = 2, nd = 0;
	bool have_digits = false;

	if (len < 4 || !is_macro_letter(p[2], is_exp))
		return 0;
	*letter = p[i++];
	*digits = 0;
	*reverse = false;
	while (i < len && is_digit(p[i])) {
		if (*digits > 1000)
			return 0;
		*digits = *digits * 10 + (unsigned)(p[i++] - '0');
		have_digits = true;
	}
	/* 7.1: the number of parts must be nonzero. */
	if (have_digits && *digits == 0)
		return 0;
	if (i < len && (p[i] == 'r' || p[i] == 'R')) {
		*reverse = true;
		i++;
	}
	while (i < len && is_delimiter(p[i])) {
		if (nd + 1 < delimsz && strchr(delims, p[i]) == NULL) {
			delims[nd++] = p[i];
			delims[nd] = '\0';
		}
		i++;
	}
	if (i >= len || p[i] != '}')
		return 0;
	return i + 1;
}

struct out_cursor {
	char	*p;
	size_t	 len, cap;
	bool	 overflow;
};

static void
out_add(struct out_cursor *o, const char *s, size_t n)
{
	if (o->overflow || n >= o->cap - o->len) {
		o->overflow = true;
		return;
	}
	memcpy(o->p + o->len, s, n);
	o->len += n;
	o->p[o->len] = '\0';
}

/* RFC 3986 unreserved characters stay; others become %XX (7.3). */
static void
out_add_escaped(struct out_cursor *o, const char *s, size_t n)
{
	char hex[4];

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (is_alnum((char)c) || c == '-' || c == '.' || c == '_' ||
		    c == '~') {
			out_add(o, s + i, 1);
			continue;
		}
		snprintf(hex, sizeof(hex), "%%%02X", c);
		out_add(o, hex, 3);
	}
}

static void
macro_value(const struct spf_macro_ctx *m, char letter, char *v, size_t vsz)
{
	const unsigned char *a = m->ip;

	v[0] = '\0';
	switch (letter | 0x20) {
	case 's':
		snprintf(v, vsz, "%s", m->sender);
		break;
	case 'l':
		snprintf(v, vsz, "%s", m->local);
		break;
	case 'o':
		snprintf(v, vsz, "%s", m->sender_domain);
		break;
	case 'd':
		snprintf(v, vsz, "%s", m->domain);
		break;
	case 'h':
		snprintf(v, vsz, "%s", m->helo != NULL ? m->helo : "");
		break;
	case 'p':
		snprintf(v, vsz, "%s", m->ptr_name != NULL ? m->ptr_name :
		    "unknown");
		break;
	case 'r':
		snprintf(v, vsz, "%s", m->receiver != NULL ? m->receiver :
		    "unknown");
		break;
	case 't':
		snprintf(v, vsz, "%lld", (long long)time(NULL));
		break;
	case 'v':
		snprintf(v, vsz, "%s", m->family == AF_INET6 ? "ip6" :
		    "in-addr");
		break;
	case 'c':
		if (inet_ntop(m->family, a, v, (socklen_t)vsz) == NULL)
			v[0] = '\0';
		break;
	case 'i':
		if (m->family == AF_INET) {
			snprintf(v, vsz, "%u.%u.%u.%u", a[0], a[1], a[2], a[3]);
		} else if (vsz >= 64) {
			/* 7.3: IPv6 as dot-separated nibbles. */
			/* Upper case, as in the example of RFC 7208 7.4. */
			static const char hex[] = "0123456789ABCDEF";
			size_t o = 0;

			for (int i = 0; i < 16; i++) {
				v[o++] = hex[a[i] >> 4];
				v[o++] = '.';
				v[o++] = hex[a[i] & 0xf];
				v[o++] = i < 15 ? '.' : '\0';
			}
		}
		break;
	}
}

/* Applies the transformers of 7.3 to value and appends the result. */
static void
macro_transform(struct out_cursor *o, const char *value, unsigned digits,
    bool reverse, const char *delims, bool escape)
{
	struct str_view parts[128];
	size_t n = 0, first, start = 0, len = strlen(value);
	char joined[1024];
	struct out_cursor j = { joined, 0, sizeof(joined), false };

	joined[0] = '\0';
	for (size_t i = 0; i <= len && n < 128; i++) {
		if (i == len || strchr(delims, value[i]) != NULL) {
			parts[n++] = str_view_make(value + start, i - start);
			start = i + 1;
		}
	}
	if (reverse)
		for (size_t i = 0; i < n / 2; i++) {
			struct str_view t = parts[i];

			parts[i] = parts[n - 1 - i];
			parts[n - 1 - i] = t;
		}
	first = digits > 0 && digits < n ? n - digits : 0;
	for (size_t i = first; i < n; i++) {
		if (i > first)
			out_add(&j, ".", 1);
		out_add(&j, parts[i].p, parts[i].len);
	}
	if (j.overflow) {
		o->overflow = true;
		return;
	}
	if (escape)
		out_add_escaped(o, joined, j.len);
	else
		out_add(o, joined, j.len);
}

/* 7.3: over 253 octets, labels are removed from the left. */
static void
domain_truncate(char *d)
{
	size_t len = strlen(d);

	while (len > 253) {
		char *dot = strchr(d, '.');

		if (dot == NULL)
			break;
		len -= (size_t)(dot + 1 - d);
		memmove(d, dot + 1, len + 1);
	}
}

int
spf_macro_expand(const struct spf_macro_ctx *m, struct str_view spec,
    bool is_exp, bool for_domain, char *out, size_t outsz)
{
	struct out_cursor o = { out, 0, outsz, false };
	char value[1024];

	if (outsz == 0)
		return -1;
	out[0] = '\0';
	for (size_t i = 0; i < spec.len; i++) {
		const char *p = spec.p + i;
		char letter, delims[8] = "";
		unsigned digits;
		bool reverse;
		size_t used;

		if (*p != '%') {
			unsigned char c = (unsigned char)*p;

			/* macro-literal = %x21-24 / %x26-7E; exp text may have SP. */
			if (c < 0x21 || c > 0x7e) {
				if (!(is_exp && c == ' '))
					return -1;
			}
			out_add(&o, p, 1);
			continue;
		}
		if (i + 1 >= spec.len)
			return -1;
		switch (p[1]) {
		case '%':
			out_add(&o, "%", 1);
			i++;
			continue;
		case '_':
			out_add(&o, " ", 1);
			i++;
			continue;
		case '-':
			out_add(&o, "%20", 3);
			i++;
			continue;
		case '{':
			break;
		default:
			return -1;
		}
		used = macro_parse_expand(p, spec.len - i, is_exp, &letter,
		    &digits, &reverse, delims, sizeof(delims));
		if (used == 0)
			return -1;
		if (delims[0] == '\0')
			memcpy(delims, ".", 2);
		macro_value(m, letter, value, sizeof(value));
		macro_transform(&o, value, digits, reverse, delims,
		    letter >= 'A' && letter <= 'Z');
		i += used - 1;
	}
	if (o.overflow)
		return -1;
	if (for_domain)
		domain_truncate(out);
	return 0;
}

/* --- the record (section 12) --- */

/*
 * toplabel = ( *alphanum ALPHA *alphanum ) /
 *            ( 1*alphanum "-" *( alphanum / "-" ) alphanum )
 */
static bool
is_toplabel(const char *p, size_t len)
{
	bool alpha = false, dash = false;

	if (len == 0 || len > 63)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (p[i] == '-')
			dash = true;
		else if (is_alpha(p[i]))
			alpha = true;
		else if (!is_digit(p[i]))
			return false;
	}
	if (dash)
		return is_alnum(p[0]) && is_alnum(p[len - 1]);
	return alpha;
}

/*
 * domain-spec = macro-string domain-end
 * domain-end  = ( "." toplabel [ "." ] ) / macro-expand
 */
static bool
domain_spec_valid(struct str_view d)
{
	static const struct spf_macro_ctx dummy = { "a@b.c", "a", "b.c",
	    "b.c", AF_INET, { 0 }, "h.c", "r.c", NULL };
	char tmp[2048];
	size_t end = d.len, start;

	if (d.len == 0 || spf_macro_expand(&dummy, d, false, false, tmp,
	    sizeof(tmp)) == -1)
		return false;
	if (d.p[end - 1] == '}')
		return true;
	/* "%%", "%_", "%-" are macro-expands too. */
	if (end >= 2 && d.p[end - 2] == '%' &&
	    (d.p[end - 1] == '%' || d.p[end - 1] == '_' || d.p[end - 1] == '-')) {
		size_t pct = 0;

		/* Count the run of '%' to know that the last one is not literal. */
		for (size_t i = end - 1; i > 0 && d.p[i - 1] == '%'; i--)
			pct++;
		if (pct % 2 == 1)
			return true;
	}
	if (d.p[end - 1] == '.')
		end--;
	start = end;
	while (start > 0 && d.p[start - 1] != '.')
		start--;
	if (start == 0)
		return false;	/* needs "." toplabel */
	return is_toplabel(d.p + start, end - start);
}

/* A prefix length without leading zeros: "0" or [1-9][0-9]*, <= max. */
static int
parse_cidr(const char *p, size_t len, unsigned max, unsigned *out)
{
	unsigned v = 0;

	if (len == 0 || len > 3 || (p[0] == '0' && len > 1))
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (!is_digit(p[i]))
			return -1;
		v = v * 10 + (unsigned)(p[i] - '0');
	}
	if (v > max)
		return -1;
	*out = v;
	return 0;
}

/*
 * Splits a trailing dual-cidr-length ("/24", "//64", "/24//64") off v for
 * a and mx; with ip6_only, a single "/n" is an IPv6 length (ip6:).
 */
static int
take_cidr(struct str_view *v, struct spf_term *t, bool dual, bool ip6_only)
{
	const char *p = v->p;
	size_t len = v->len, s1, s2;

	/* The rightmost "/": a run of digits after it. */
	s1 = len;
	while (s1 > 0 && is_digit(p[s1 - 1]))
		s1--;
	if (s1 == 0 || p[s1 - 1] != '/' || s1 == len)
		return 0;
	if (ip6_only) {
		if (parse_cidr(p + s1, len - s1, 128, &t->cidr6) == -1)
			return -1;
		v->len = s1 - 1;
		return 0;
	}
	if (!dual) {
		if (parse_cidr(p + s1, len - s1, 32, &t->cidr4) == -1)
			return -1;
		v->len = s1 - 1;
		return 0;
	}
	if (s1 >= 2 && p[s1 - 2] == '/') {
		/* "//n": the IPv6 length, maybe after an IPv4 one. */
		if (parse_cidr(p + s1, len - s1, 128, &t->cidr6) == -1)
			return -1;
		len = s1 - 2;
		s2 = len;
		while (s2 > 0 && is_digit(p[s2 - 1]))
			s2--;
		if (s2 > 0 && p[s2 - 1] == '/' && s2 < len) {
			if (parse_cidr(p + s2, len - s2, 32, &t->cidr4) == -1)
				return -1;
			len = s2 - 1;
		}
		v->len = len;
		return 0;
	}
	if (parse_cidr(p + s1, len - s1, 32, &t->cidr4) == -1)
		return -1;
	v->len = s1 - 1;
	return 0;
}

static const struct {
	const char	*name;
	enum spf_mech	 mech;
} mech_names[] = {
	{ "all", SPF_M_ALL }, { "include", SPF_M_INCLUDE }, { "a", SPF_M_A },
	{ "mx", SPF_M_MX }, { "ptr", SPF_M_PTR }, { "ip4", SPF_M_IP4 },
	{ "ip6", SPF_M_IP6 }, { "exists", SPF_M_EXISTS },
};

static int
parse_ip(struct str_view v, struct spf_term *t, int family)
{
	char tmp[64];

	if (v.len == 0 || v.len >= sizeof(tmp))
		return -1;
	memcpy(tmp, v.p, v.len);
	tmp[v.len] = '\0';
	return inet_pton(family, tmp, t->addr) == 1 ? 0 : -1;
}

/* The part of a mechanism after its name: [":" domain-spec] [cidr]. */
static int
parse_mech_args(struct spf_term *t, struct str_view rest, const char **err)
{
	bool has_colon = rest.len > 0 && rest.p[0] == ':';

	t->cidr4 = 32;
	t->cidr6 = 128;
	switch (t->mech) {
	case SPF_M_ALL:
		if (rest.len != 0)
			goto bad;
		return 0;
	case SPF_M_IP4:
	case SPF_M_IP6:
		if (!has_colon)
			goto bad;
		rest.p++;
		rest.len--;
		if (t->mech == SPF_M_IP4 ? take_cidr(&rest, t, false, false) :
		    take_cidr(&rest, t, false, true))
			goto bad;
		if (parse_ip(rest, t, t->mech == SPF_M_IP4 ? AF_INET :
		    AF_INET6) == -1) {
			*err = "bad IP address";
			return -1;
		}
		return 0;
	case SPF_M_A:
	case SPF_M_MX:
		if (take_cidr(&rest, t, true, false) == -1)
			goto bad;
		break;
	default:
		break;
	}
	if (rest.len == 0) {
		if (t->mech == SPF_M_INCLUDE || t->mech == SPF_M_EXISTS)
			goto bad;
		return 0;
	}
	if (!has_colon)
		goto bad;
	t->domain = str_view_make(rest.p + 1, rest.len - 1);
	if (!domain_spec_valid(t->domain)) {
		*err = "bad domain-spec";
		return -1;
	}
	return 0;
bad:
	*err = "bad mechanism syntax";
	return -1;
}

static int
parse_modifier(struct spf_record *r, struct str_view name,
    struct str_view value, const char **err)
{
	struct str_view *slot = NULL;
	char tmp[2048];
	static const struct spf_macro_ctx dummy = { "a@b.c", "a", "b.c",
	    "b.c", AF_INET, { 0 }, "h.c", "r.c", NULL };

	if (str_case_eq(name, "redirect"))
		slot = &r->redirect;
	else if (str_case_eq(name, "exp"))
		slot = &r->exp;
	if (slot == NULL) {
		/* 6: unknown modifiers are ignored, but must be well formed. */
		if (spf_macro_expand(&dummy, value, false, false, tmp,
		    sizeof(tmp)) == -1) {
			*err = "bad modifier value";
			return -1;
		}
		return 0;
	}
	if (slot->p != NULL) {
		*err = "redirect or exp given twice";
		return -1;
	}
	if (!domain_spec_valid(value)) {
		*err = "bad domain-spec";
		return -1;
	}
	*slot = value;
	return 0;
}

static int
parse_term(struct spf_record *r, struct str_view term, const char **err)
{
	struct str_view cur = term, name;
	enum spf_result qual = SPF_PASS;
	bool has_qual = true;
	struct spf_term *t;
	size_t i = 0;

	switch (term.p[0]) {
	case '+': qual = SPF_PASS; break;
	case '-': qual = SPF_FAIL; break;
	case '~': qual = SPF_SOFTFAIL; break;
	case '?': qual = SPF_NEUTRAL; break;
	default: has_qual = false; break;
	}
	if (has_qual) {
		cur.p++;
		cur.len--;
	}
	/* name = ALPHA *( ALPHA / DIGIT / "-" / "_" / "." ) */
	if (cur.len == 0 || !is_alpha(cur.p[0])) {
		*err = "unknown term";
		return -1;
	}
	while (i < cur.len && (is_alnum(cur.p[i]) || cur.p[i] == '-' ||
	    cur.p[i] == '_' || cur.p[i] == '.'))
		i++;
	name = str_view_make(cur.p, i);
	if (i < cur.len && cur.p[i] == '=' && !has_qual)
		return parse_modifier(r, name, str_view_make(cur.p + i + 1,
		    cur.len - i - 1), err);
	if (r->n == SPF_MAX_TERMS) {
		*err = "too many terms";
		return -1;
	}
	t = &r->term[r->n];
	memset(t, 0, sizeof(*t));
	t->qual = qual;
	t->text = term;
	for (size_t k = 0; k < sizeof(mech_names) / sizeof(mech_names[0]);
	    k++) {
		if (str_case_eq(name, mech_names[k].name)) {
			t->mech = mech_names[k].mech;
			if (parse_mech_args(t, str_view_make(cur.p + i,
			    cur.len - i), err) == -1)
				return -1;
			r->n++;
			return 0;
		}
	}
	*err = "unknown mechanism";
	return -1;
}

int
spf_record_parse(const char *text, size_t len, struct spf_record *out,
    const char **err)
{
	size_t i = 6;

	memset(out, 0, sizeof(*out));
	if (!spf_is_record(text, len)) {
		*err = "not an SPF record";
		return -1;
	}
	while (i < len) {
		size_t start;

		if (text[i] == ' ') {
			i++;
			continue;
		}
		start = i;
		while (i < len && text[i] != ' ')
			i++;
		if (parse_term(out, str_view_make(text + start, i - start),
		    err) == -1)
			return -1;
	}
	return 0;
}
