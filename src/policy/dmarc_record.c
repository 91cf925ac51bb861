/*
 * The DMARC policy record parser (RFC 7489 6.3 tags, 6.4 grammar, 6.6.3
 * step 6): "v=DMARC1" first, then tag=value pairs split at ";". Bytes in,
 * a plain struct out; no allocation, no I/O. Where the RFC leaves room
 * this parser is strict about the tags it knows (a bad value makes the
 * whole record invalid, reported as dmarc=permerror) and lenient about
 * spacing, case and empty tag-specs, which published records get wrong
 * harmlessly.
 */
#include "policy/dmarc.h"

#include <string.h>

#include "core/str.h"

enum {
	TAG_V, TAG_P, TAG_SP, TAG_PCT, TAG_ADKIM, TAG_ASPF, TAG_FO, TAG_RF,
	TAG_RI, TAG_RUA, TAG_RUF, TAG_COUNT
};

static const char *const tag_names[TAG_COUNT] = {
	"v", "p", "sp", "pct", "adkim", "aspf", "fo", "rf", "ri", "rua", "ruf",
};

static bool
is_wsp(char c)
{
	return c == ' ' || c == '\t';
}

static struct str_view
trim(struct str_view v)
{
	while (v.len > 0 && is_wsp(v.p[0])) {
		v.p++;
		v.len--;
	}
	while (v.len > 0 && is_wsp(v.p[v.len - 1]))
		v.len--;
	return v;
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

/*
 * Splits a tag-spec at its "=" into name and value (both trimmed). False
 * for no "=" or a name that is not ALPHA *(ALPHA / DIGIT / "_") (6.4).
 */
static bool
split_tag(struct str_view spec, struct str_view *name, struct str_view *value)
{
	const char *eq = memchr(spec.p, '=', spec.len);

	if (eq == NULL)
		return false;
	*name = trim(str_view_make(spec.p, (size_t)(eq - spec.p)));
	*value = trim(str_view_make(eq + 1, spec.len - (size_t)(eq - spec.p) - 1));
	if (name->len == 0 || !is_alpha(name->p[0]))
		return false;
	for (size_t i = 1; i < name->len; i++) {
		char c = name->p[i];

		if (!is_alpha(c) && !is_digit(c) && c != '_')
			return false;
	}
	return true;
}

static bool
parse_policy(struct str_view v, enum dmarc_policy *out)
{
	if (str_case_eq(v, "none"))
		*out = DMARC_POLICY_NONE;
	else if (str_case_eq(v, "quarantine"))
		*out = DMARC_POLICY_QUARANTINE;
	else if (str_case_eq(v, "reject"))
		*out = DMARC_POLICY_REJECT;
	else
		return false;
	return true;
}

static bool
parse_align(struct str_view v, enum dmarc_align *out)
{
	if (str_case_eq(v, "r"))
		*out = DMARC_ALIGN_RELAXED;
	else if (str_case_eq(v, "s"))
		*out = DMARC_ALIGN_STRICT;
	else
		return false;
	return true;
}

/* fo = ("0" / "1" / "d" / "s") *(":" ...) */
static bool
parse_fo(struct str_view v, unsigned *out)
{
	*out = 0;
	for (;;) {
		struct str_view item = trim(str_take_until(&v, ':'));

		if (str_eq(item, "0"))
			*out |= DMARC_FO_0;
		else if (str_eq(item, "1"))
			*out |= DMARC_FO_1;
		else if (str_case_eq(item, "d"))
			*out |= DMARC_FO_D;
		else if (str_case_eq(item, "s"))
			*out |= DMARC_FO_S;
		else
			return false;
		if (!str_take_char(&v, ':'))
			return true;
	}
}

/* rf = Format-type *(":" Format-type); Format-type is a keyword. */
static bool
parse_rf(struct str_view v, bool *afrf)
{
	*afrf = false;
	for (;;) {
		struct str_view item = trim(str_take_until(&v, ':'));

		if (item.len == 0 || !is_alpha(item.p[0]))
			return false;
		for (size_t i = 1; i < item.len; i++)
			if (!is_alpha(item.p[i]) && !is_digit(item.p[i]) &&
			    item.p[i] != '-')
				return false;
		if (str_case_eq(item, "afrf"))
			*afrf = true;
		if (!str_take_char(&v, ':'))
			return true;
	}
}

/*
 * dmarc-uri = URI [ "!" 1*DIGIT [ "k" / "m" / "g" / "t" ] ] (6.4). The
 * URI check is the shape of RFC 3986 3.1 scheme ":" and a non-empty rest
 * of printable octets; "," and "!" must be %-encoded inside it (6.2).
 */
static bool
uri_ok(struct str_view u)
{
	size_t i = 0, colon;

	if (u.len == 0 || !is_alpha(u.p[0]))
		return false;
	while (i < u.len && (is_alpha(u.p[i]) || is_digit(u.p[i]) ||
	    u.p[i] == '+' || u.p[i] == '-' || u.p[i] == '.'))
		i++;
	if (i == u.len || u.p[i] != ':')
		return false;
	colon = i++;
	while (i < u.len && u.p[i] > 0x20 && u.p[i] < 0x7f && u.p[i] != '!' &&
	    u.p[i] != ',')
		i++;
	if (i == colon + 1)
		return false;
	if (i == u.len)
		return true;
	if (u.p[i++] != '!' || i == u.len || !is_digit(u.p[i]))
		return false;
	while (i < u.len && is_digit(u.p[i]))
		i++;
	if (i < u.len && strchr("kmgtKMGT", u.p[i]) != NULL && u.p[i] != '\0')
		i++;
	return i == u.len;
}

/* Counts the valid URIs of a rua/ruf list and keeps the text. */
static unsigned
parse_uris(struct str_view v, char *keep, size_t keepsz)
{
	unsigned n = 0;

	/* Kept for diagnostics only (no reports are sent): an over-long
	 * list is kept empty rather than cut mid-URI. */
	if (str_copy(keep, keepsz, v) == -1)
		keep[0] = '\0';
	for (;;) {
		struct str_view item = trim(str_take_until(&v, ','));

		if (uri_ok(item))
			n++;
		if (!str_take_char(&v, ','))
			return n;
	}
}

static bool
parse_u32(struct str_view v, uint64_t max, uint64_t *out)
{
	return v.len > 0 && v.len <= 10 && str_to_u64(v, out, max) == 0;
}

/* One known tag's value; false for a value the grammar does not allow. */
static bool
parse_known(int tag, struct str_view value, struct dmarc_record *r,
    bool *p_bad, bool *sp_bad)
{
	uint64_t n;

	switch (tag) {
	case TAG_P:
		r->has_p = parse_policy(value, &r->p);
		*p_bad = !r->has_p;
		return true;	/* judged after the loop (6.6.3 step 6) */
	case TAG_SP:
		r->has_sp = parse_policy(value, &r->sp);
		*sp_bad = !r->has_sp;
		return true;
	case TAG_PCT:
		if (!parse_u32(value, 100, &n))
			return false;
		r->pct = (unsigned)n;
		return true;
	case TAG_ADKIM:
		return parse_align(value, &r->adkim);
	case TAG_ASPF:
		return parse_align(value, &r->aspf);
	case TAG_FO:
		return parse_fo(value, &r->fo);
	case TAG_RF:
		return parse_rf(value, &r->rf_afrf);
	case TAG_RI:
		if (!parse_u32(value, UINT32_MAX, &n))
			return false;
		r->ri = (uint32_t)n;
		return true;
	case TAG_RUA:
		r->n_rua = parse_uris(value, r->rua, sizeof(r->rua));
		return true;
	case TAG_RUF:
		r->n_ruf = parse_uris(value, r->ruf, sizeof(r->ruf));
		return true;
	default:
		return false;
	}
}

static int
tag_index(struct str_view name)
{
	for (int i = 0; i < TAG_COUNT; i++)
		if (str_case_eq(name, tag_names[i]))
			return i;
	return -1;
}

static enum dmarc_parse_status
invalid(const char **err, const char *why)
{
	if (err != NULL)
		*err = why;
	return DMARC_PARSE_INVALID;
}

enum dmarc_parse_status
dmarc_record_parse(const char *text, size_t len, struct dmarc_record *out,
    const char **err)
{
	struct str_view cur = str_view_make(text, len), spec, name, value;
	struct dmarc_record r;
	bool seen[TAG_COUNT] = { false }, p_bad = false, sp_bad = false;

	/* 6.3 v: "MUST match precisely" and come first; else the record is
	 * not DMARC's and is discarded (6.6.3 step 3). */
	spec = trim(str_take_until(&cur, ';'));
	if (!split_tag(spec, &name, &value) || !str_eq(name, "v") ||
	    !str_eq(value, "DMARC1")) {
		if (err != NULL)
			*err = "not a DMARC record (v=DMARC1 first)";
		return DMARC_PARSE_NOT_DMARC;
	}
	memset(&r, 0, sizeof(r));
	r.pct = 100;
	r.fo = DMARC_FO_0;
	r.rf_afrf = true;
	r.ri = 86400;
	seen[TAG_V] = true;
	while (str_take_char(&cur, ';')) {
		int tag;

		spec = trim(str_take_until(&cur, ';'));
		if (spec.len == 0)
			continue;	/* ";;" or the final ";" */
		for (size_t i = 0; i < spec.len; i++)
			if ((unsigned char)spec.p[i] < 0x20 && spec.p[i] != '\t')
				return invalid(err, "control character");
		if (!split_tag(spec, &name, &value))
			return invalid(err, "malformed tag");
		if ((tag = tag_index(name)) == -1)
			continue;	/* unknown tags are ignored (6.3) */
		if (seen[tag])
			return invalid(err, "repeated tag");
		seen[tag] = true;
		if (!parse_known(tag, value, &r, &p_bad, &sp_bad))
			return invalid(err, "bad tag value");
	}
	if (!r.has_p || p_bad || sp_bad) {
		/* 6.6.3 step 6: act as if p=none when rua is usable. */
		if (r.n_rua == 0)
			return invalid(err, "no valid p= (and no valid rua=)");
		r.has_p = false;
		r.p = DMARC_POLICY_NONE;
		r.has_sp = false;
	}
	if (!r.has_sp)
		r.sp = r.p;
	*out = r;
	if (err != NULL)
		*err = NULL;
	return DMARC_PARSE_OK;
}
