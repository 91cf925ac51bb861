/*
 * SMTP command line and argument parsing; see parse.h. Grammar from
 * RFC 5321 4.1.1 and 4.1.2, parameters from the extensions cited at each.
 * Deliberately liberal only where real clients differ from the grammar
 * (a space after "FROM:", any HELO token); strict elsewhere, since every
 * byte here comes from an untrusted peer.
 */
#include "smtp/parse.h"

#include <stddef.h>
#include <string.h>

static int
fail(struct smtp_parse_err *err, int code, const char *enhanced,
    const char *text)
{
	if (err != NULL) {
		err->code = code;
		err->enhanced = enhanced;
		err->text = text;
	}
	return -1;
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

static char
to_upper(char c)
{
	return c >= 'a' && c <= 'z' ? (char)(c - 'a' + 'A') : c;
}

int
smtp_parse_command(struct str_view line, struct smtp_command *out,
    struct smtp_parse_err *err)
{
	size_t i;

	memset(out, 0, sizeof(*out));
	for (i = 0; i < line.len; i++) {
		unsigned char c = (unsigned char)line.p[i];

		/* Tabs are tolerated as spaces; other controls never. */
		if ((c < 32 && c != '\t') || c == 127)
			return fail(err, 500, "5.5.2",
			    "control character in command");
	}
	for (i = 0; i < line.len && is_alpha(line.p[i]); i++) {
		if (i >= SMTP_VERB_MAX)
			return fail(err, 500, "5.5.2", "command unrecognized");
		out->verb[i] = to_upper(line.p[i]);
	}
	out->verb[i] = '\0';
	if (i == 0)
		return fail(err, 500, "5.5.2", "command unrecognized");
	if (i < line.len && line.p[i] != ' ' && line.p[i] != '\t')
		return fail(err, 500, "5.5.2", "command unrecognized");
	line.p += i;
	line.len -= i;
	out->args = str_trim(line);
	return 0;
}

/*
 * Takes "KEYWORD:" (case-insensitive) then at most one space, as
 * "MAIL FROM: <a@b>" is common although RFC 5321 4.1.1.2 has no space.
 */
static bool
take_keyword(struct str_view *cur, const char *kw)
{
	size_t n = strlen(kw);

	if (!str_case_prefix(*cur, kw))
		return false;
	cur->p += n;
	cur->len -= n;
	str_take_char(cur, ' ');
	return true;
}

/* esmtp-keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-") */
static bool
is_esmtp_keyword(struct str_view k)
{
	if (k.len == 0 || !(is_alpha(k.p[0]) || is_digit(k.p[0])))
		return false;
	for (size_t i = 1; i < k.len; i++)
		if (!is_alpha(k.p[i]) && !is_digit(k.p[i]) && k.p[i] != '-')
			return false;
	return true;
}

/*
 * esmtp-value = 1*(%d33-60 / %d62-126), plus UTF-8 under SMTPUTF8
 * (RFC 6531 3.3).
 */
static bool
is_esmtp_value(struct str_view v, bool utf8)
{
	const unsigned char *p = (const unsigned char *)v.p;
	size_t i = 0, l;

	if (v.len == 0)
		return false;
	while (i < v.len) {
		if (p[i] >= 33 && p[i] <= 126 && p[i] != '=') {
			i++;
			continue;
		}
		if (!utf8 || p[i] < 0x80 ||
		    (l = addr_utf8_seq_len(p + i, v.len - i)) < 2)
			return false;
		i += l;
	}
	return true;
}

/*
 * Takes the next " keyword[=value]" at the cursor. Returns 1 with the
 * parts set, 0 at the end of the arguments, -1 on bad syntax.
 */
static int
next_param(struct str_view *cur, struct str_view *kw, struct str_view *val,
    bool *has_val, bool utf8)
{
	struct str_view word;

	if (cur->len == 0)
		return 0;
	if (str_skip_space(cur) == 0)
		return -1;		/* "<a@b>SIZE=1": no separator */
	if (cur->len == 0)
		return 0;
	if (str_take_word(cur, &word, cur->len) == -1)
		return -1;
	*kw = str_take_until(&word, '=');
	*has_val = str_take_char(&word, '=');
	*val = word;
	if (!is_esmtp_keyword(*kw) || (*has_val && !is_esmtp_value(*val, utf8)))
		return -1;
	return 1;
}

/* One MAIL parameter into out; seen tracks repeats. */
static int
mail_param(struct str_view kw, struct str_view val, bool has_val,
    unsigned exts, unsigned *seen, struct smtp_mail_args *out,
    struct smtp_parse_err *err)
{
	unsigned bit;

	if ((exts & SMTP_EXT_SIZE) && str_case_eq(kw, "SIZE"))
		bit = SMTP_EXT_SIZE;
	else if ((exts & SMTP_EXT_8BITMIME) && str_case_eq(kw, "BODY"))
		bit = SMTP_EXT_8BITMIME;
	else if ((exts & SMTP_EXT_SMTPUTF8) && str_case_eq(kw, "SMTPUTF8"))
		bit = SMTP_EXT_SMTPUTF8;
	else if ((exts & SMTP_EXT_AUTH) && str_case_eq(kw, "AUTH"))
		bit = SMTP_EXT_AUTH;
	else
		return fail(err, 555, "5.5.4", "unsupported parameter");
	if (*seen & bit)
		return fail(err, 555, "5.5.4", "duplicate parameter");
	*seen |= bit;
	switch (bit) {
	case SMTP_EXT_SIZE:
		/* RFC 1870 size-value = 1*20DIGIT; huge is too big, not bad */
		if (!has_val || val.len > 20)
			return fail(err, 501, "5.5.4", "bad SIZE value");
		for (size_t i = 0; i < val.len; i++)
			if (!is_digit(val.p[i]))
				return fail(err, 501, "5.5.4",
				    "bad SIZE value");
		if (str_to_u64(val, &out->size, UINT64_MAX) == -1)
			out->size = UINT64_MAX;
		out->has_size = true;
		break;
	case SMTP_EXT_8BITMIME:
		if (has_val && str_case_eq(val, "7BIT"))
			out->body = SMTP_BODY_7BIT;
		else if (has_val && str_case_eq(val, "8BITMIME"))
			out->body = SMTP_BODY_8BITMIME;
		else if (has_val && str_case_eq(val, "BINARYMIME"))
			/* RFC 3030 3: only if BINARYMIME was advertised. */
			return fail(err, 555, "5.5.4",
			    "BODY=BINARYMIME not supported");
		else
			return fail(err, 501, "5.5.4", "bad BODY value");
		break;
	case SMTP_EXT_SMTPUTF8:
		if (has_val)	/* RFC 6531 3.4: no value */
			return fail(err, 501, "5.5.4",
			    "SMTPUTF8 takes no value");
		out->smtputf8 = true;
		break;
	case SMTP_EXT_AUTH:
		/*
		 * RFC 4954 5: AUTH=<mailbox> (xtext) or AUTH=<>. We do not
		 * trust it for anything, so accepting and ignoring is allowed.
		 */
		if (!has_val)
			return fail(err, 501, "5.5.4", "bad AUTH value");
		out->has_auth = true;
		break;
	}
	return 0;
}

int
smtp_parse_mail_args(struct str_view args, unsigned exts,
    struct smtp_mail_args *out, struct smtp_parse_err *err)
{
	struct str_view cur = args, kw, val;
	unsigned seen = 0, flags = ADDR_ALLOW_NULL;
	const char *aerr = "bad address";
	bool has_val;
	int rc;

	memset(out, 0, sizeof(*out));
	if (!take_keyword(&cur, "FROM:"))
		return fail(err, 501, "5.5.2", "syntax: MAIL FROM:<address>");
	/*
	 * Parse UTF-8 if it could be allowed at all; whether the SMTPUTF8
	 * parameter is present is only known after the parameters.
	 */
	if (exts & SMTP_EXT_SMTPUTF8)
		flags |= ADDR_ALLOW_UTF8;
	rc = addr_parse_path(&cur, &out->from, flags, &aerr);
	if (rc == ADDR_ERR_UTF8)
		return fail(err, 553, "5.6.7",
		    "non-ASCII address requires SMTPUTF8");
	if (rc != ADDR_OK)
		return fail(err, 501, "5.1.7", aerr);
	while ((rc = next_param(&cur, &kw, &val, &has_val,
	    (exts & SMTP_EXT_SMTPUTF8) != 0)) == 1) {
		if (mail_param(kw, val, has_val, exts, &seen, out, err) == -1)
			return -1;
	}
	if (rc == -1)
		return fail(err, 501, "5.5.2", "bad parameter syntax");
	if (out->from.is_utf8 && !out->smtputf8)
		return fail(err, 553, "5.6.7",
		    "non-ASCII address requires SMTPUTF8");
	return 0;
}

int
smtp_parse_rcpt_args(struct str_view args, bool utf8_ok,
    struct smtp_rcpt_args *out, struct smtp_parse_err *err)
{
	struct str_view cur = args, kw, val;
	const char *aerr = "bad address";
	unsigned flags = ADDR_ALLOW_POSTMASTER;
	bool has_val;
	int rc;

	memset(out, 0, sizeof(*out));
	if (!take_keyword(&cur, "TO:"))
		return fail(err, 501, "5.5.2", "syntax: RCPT TO:<address>");
	if (utf8_ok)
		flags |= ADDR_ALLOW_UTF8;
	rc = addr_parse_path(&cur, &out->to, flags, &aerr);
	if (rc == ADDR_ERR_UTF8)
		return fail(err, 553, "5.6.7",
		    "non-ASCII address requires SMTPUTF8");
	if (rc != ADDR_OK)
		return fail(err, 501, "5.1.3", aerr);
	rc = next_param(&cur, &kw, &val, &has_val, utf8_ok);
	if (rc == 1)
		return fail(err, 555, "5.5.4", "unsupported parameter");
	if (rc == -1)
		return fail(err, 501, "5.5.2", "bad parameter syntax");
	return 0;
}

int
smtp_parse_bdat_args(struct str_view args, uint64_t *size, bool *last,
    struct smtp_parse_err *err)
{
	struct str_view cur = args, word;

	*size = 0;
	*last = false;
	/* RFC 3030 2: bdat-cmd = "BDAT" SP chunk-size [ SP end-marker ] */
	if (str_take_word(&cur, &word, 20) == -1 ||
	    str_to_u64(word, size, SMTP_BDAT_MAX) == -1)
		return fail(err, 501, "5.5.4", "syntax: BDAT <size> [LAST]");
	str_skip_space(&cur);
	if (cur.len == 0)
		return 0;
	if (str_take_word(&cur, &word, 4) == -1 || !str_case_eq(word, "LAST") ||
	    (str_skip_space(&cur), cur.len != 0))
		return fail(err, 501, "5.5.4", "syntax: BDAT <size> [LAST]");
	*last = true;
	return 0;
}

static bool
is_mech_char(char c)
{
	return is_alpha(c) || is_digit(c) || c == '-' || c == '_';
}

static bool
is_base64_text(struct str_view v)
{
	size_t i = 0, pad = 0;

	if (v.len == 1 && v.p[0] == '=')
		return true;		/* RFC 4954 4: zero-length response */
	if (v.len % 4 != 0)
		return false;
	for (; i < v.len; i++) {
		char c = v.p[i];

		if (c == '=') {
			pad++;
			continue;
		}
		if (pad > 0 || !(is_alpha(c) || is_digit(c) || c == '+' ||
		    c == '/'))
			return false;
	}
	return pad <= 2;
}

int
smtp_parse_auth_args(struct str_view args, struct str_view *mech,
    struct str_view *initial, bool *has_initial, struct smtp_parse_err *err)
{
	struct str_view cur = args;

	*initial = (struct str_view){ "", 0 };
	*has_initial = false;
	if (str_take_word(&cur, mech, SMTP_SASL_MECH_MAX) == -1)
		return fail(err, 501, "5.5.2",
		    "syntax: AUTH mechanism [response]");
	for (size_t i = 0; i < mech->len; i++)
		if (!is_mech_char(mech->p[i]))
			return fail(err, 501, "5.5.2", "bad mechanism name");
	str_skip_space(&cur);
	if (cur.len == 0)
		return 0;
	if (str_take_word(&cur, initial, cur.len) == -1 ||
	    (str_skip_space(&cur), cur.len != 0) || !is_base64_text(*initial))
		return fail(err, 501, "5.5.2", "bad initial response");
	*has_initial = true;
	return 0;
}

int
smtp_parse_helo_arg(struct str_view args, struct str_view *name,
    struct smtp_parse_err *err)
{
	struct str_view cur = args;

	str_skip_space(&cur);
	if (str_take_word(&cur, name, SMTP_HELO_MAX) == -1)
		return fail(err, 501, "5.5.4", cur.len == 0 ?
		    "syntax: EHLO hostname" : "hostname too long");
	for (size_t i = 0; i < name->len; i++) {
		unsigned char c = (unsigned char)name->p[i];

		if (c < 33 || c > 126)
			return fail(err, 501, "5.5.4",
			    "bad character in hostname");
	}
	return 0;
}

int
smtp_parse_no_args(struct str_view args, struct smtp_parse_err *err)
{
	if (str_trim(args).len != 0)
		return fail(err, 501, "5.5.4", "no parameters allowed");
	return 0;
}
