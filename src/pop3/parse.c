/*
 * POP3 command lines: keyword, arguments, message numbers. Pure and
 * bounded; see parse.h.
 */
#include "pop3/parse.h"

#include <string.h>

static bool
is_printable(unsigned char c)
{
	return c >= 0x20 && c <= 0x7e;
}

static bool
is_alpha(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

enum pop3_parse_rc
pop3_parse_command(const char *line, size_t len, struct pop3_command *out)
{
	size_t i = 0, k;

	memset(out, 0, sizeof(*out));
	if (len > POP3_LINE_MAX)
		return POP3_PARSE_TOO_LONG;
	/* RFC 1939 section 3: keywords and arguments are printable ASCII. */
	for (size_t j = 0; j < len; j++)
		if (!is_printable((unsigned char)line[j]))
			return POP3_PARSE_BAD_CHAR;
	/* Trailing spaces are noise some clients send; they mean nothing. */
	while (len > 0 && line[len - 1] == ' ')
		len--;
	if (len == 0)
		return POP3_PARSE_EMPTY;
	for (k = 0; i < len && line[i] != ' '; i++, k++) {
		if (k >= POP3_KEYWORD_MAX ||
		    !is_alpha((unsigned char)line[i])) {
			out->keyword[0] = '\0';
			return POP3_PARSE_BAD_KEYWORD;
		}
		out->keyword[k] = (char)(line[i] & ~0x20);
	}
	if (k < 3) {
		out->keyword[0] = '\0';
		return POP3_PARSE_BAD_KEYWORD;
	}
	out->keyword[k] = '\0';
	/* "Keywords and arguments are each separated by a single SPACE." */
	if (i < len)
		i++;
	out->rest.p = line + i;
	out->rest.len = len - i;
	return POP3_PARSE_OK;
}

enum pop3_parse_rc
pop3_parse_args(struct str_view rest, size_t min, size_t max, size_t arg_max,
    struct str_view *args, size_t *nargs)
{
	struct str_view cur = rest, w;

	*nargs = 0;
	if (max > POP3_MAX_ARGS)
		max = POP3_MAX_ARGS;
	for (;;) {
		str_skip_space(&cur);
		if (cur.len == 0)
			break;
		if (*nargs == max)
			return POP3_PARSE_TOO_MANY_ARGS;
		if (str_take_word(&cur, &w, arg_max) == -1)
			return POP3_PARSE_ARG_TOO_LONG;
		args[(*nargs)++] = w;
	}
	return *nargs < min ? POP3_PARSE_TOO_FEW_ARGS : POP3_PARSE_OK;
}

static int
parse_digits(struct str_view v, uint64_t *out)
{
	uint64_t n = 0;

	if (v.len == 0 || v.len > 19)
		return -1;
	for (size_t i = 0; i < v.len; i++) {
		if (v.p[i] < '0' || v.p[i] > '9')
			return -1;
		n = n * 10 + (uint64_t)(v.p[i] - '0');
	}
	*out = n;
	return 0;
}

int
pop3_parse_msgnum(struct str_view v, uint32_t *out)
{
	uint64_t n;

	if (parse_digits(v, &n) == -1 || n == 0 || n > POP3_MSGNUM_MAX)
		return -1;
	*out = (uint32_t)n;
	return 0;
}

int
pop3_parse_count(struct str_view v, uint64_t *out)
{
	if (v.len == 0)
		return -1;
	for (size_t i = 0; i < v.len; i++)
		if (v.p[i] < '0' || v.p[i] > '9')
			return -1;
	/* A 20+ digit count still means "the whole body". */
	if (v.len > 18) {
		*out = UINT64_MAX / 2;
		return 0;
	}
	return parse_digits(v, out);
}

const char *
pop3_parse_strerror(enum pop3_parse_rc rc)
{
	switch (rc) {
	case POP3_PARSE_OK:
		return "ok";
	case POP3_PARSE_EMPTY:
		return "Empty command";
	case POP3_PARSE_TOO_LONG:
		return "Line too long";
	case POP3_PARSE_BAD_CHAR:
		return "Invalid character in command";
	case POP3_PARSE_BAD_KEYWORD:
		return "Unknown command";
	case POP3_PARSE_TOO_MANY_ARGS:
		return "Too many arguments";
	case POP3_PARSE_TOO_FEW_ARGS:
		return "Missing argument";
	case POP3_PARSE_ARG_TOO_LONG:
		return "Argument too long";
	}
	return "Syntax error";
}
