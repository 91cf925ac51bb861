/*
 * POP3 command-line parsing (RFC 1939 section 3, RFC 2449 section 4):
 * bytes in, keyword and arguments out. No I/O and no allocation; every
 * result points into the caller's line, so it is valid as long as the
 * line is. The session's line reader strips the CRLF and enforces the
 * line limit before these run; they check it again so they are safe on
 * any input (fuzzing).
 */
#ifndef SEALPOST_POP3_PARSE_H
#define SEALPOST_POP3_PARSE_H

#include <stddef.h>
#include <stdint.h>

#include "core/str.h"

/*
 * RFC 2449 section 4: a command line is at most 255 octets including the
 * terminating CRLF, so at most 253 octets of text.
 */
#define POP3_LINE_MAX		253
/* RFC 1939 section 3: each argument may be up to 40 characters long. */
#define POP3_ARG_MAX		40
/* RFC 1939 section 3: keywords are three or four characters long. */
#define POP3_KEYWORD_MAX	4
/* TOP msg n, APOP name digest, AUTH mechanism initial-response. */
#define POP3_MAX_ARGS		2
/* Largest message number accepted (a maildrop never holds more). */
#define POP3_MSGNUM_MAX		UINT32_MAX

enum pop3_parse_rc {
	POP3_PARSE_OK = 0,
	POP3_PARSE_EMPTY,		/* nothing but spaces */
	POP3_PARSE_TOO_LONG,		/* longer than POP3_LINE_MAX */
	POP3_PARSE_BAD_CHAR,		/* NUL, control or 8-bit byte */
	POP3_PARSE_BAD_KEYWORD,		/* not 3-4 letters */
	POP3_PARSE_TOO_MANY_ARGS,
	POP3_PARSE_TOO_FEW_ARGS,
	POP3_PARSE_ARG_TOO_LONG,
};

struct pop3_command {
	/* The keyword upper-cased and NUL-terminated, e.g. "RETR". */
	char		keyword[POP3_KEYWORD_MAX + 1];
	/*
	 * Everything after the single space that follows the keyword, with
	 * trailing spaces removed; empty when there is none. PASS takes this
	 * whole, because a password may contain spaces (RFC 1939 section 7).
	 */
	struct str_view	rest;
};

/*
 * Splits a command line (without CRLF) into keyword and rest. Keywords
 * are matched case-insensitively (returned upper-cased); printable ASCII
 * and spaces only. Returns POP3_PARSE_OK with *out filled, else the
 * reason (*out then holds an empty keyword).
 */
enum pop3_parse_rc	pop3_parse_command(const char *line, size_t len,
			    struct pop3_command *out);
/*
 * Splits rest into between min and max (<= POP3_MAX_ARGS) arguments
 * separated by single or repeated spaces, each at most arg_max octets.
 * Returns POP3_PARSE_OK with args[0..*nargs-1] set, else the reason.
 */
enum pop3_parse_rc	pop3_parse_args(struct str_view rest, size_t min,
			    size_t max, size_t arg_max, struct str_view *args,
			    size_t *nargs);
/*
 * A message number (RFC 1939: decimal, 1-based): digits only, no sign,
 * 1..POP3_MSGNUM_MAX. Returns 0 with *out set, or -1.
 */
int	pop3_parse_msgnum(struct str_view, uint32_t *out);
/*
 * The line count of TOP: a non-negative decimal number; values above
 * UINT64_MAX/2 are clamped (more lines than any message has). 0 or -1.
 */
int	pop3_parse_count(struct str_view, uint64_t *out);
/* Static text naming a parse error, for -ERR replies. */
const char	*pop3_parse_strerror(enum pop3_parse_rc);

#endif
