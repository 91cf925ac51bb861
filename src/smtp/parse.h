/*
 * SMTP command lines and their arguments, parsed without I/O: the
 * session's line reader hands over one line (CRLF removed), the verb is
 * split off here, and the handler of that verb calls the argument parser
 * below. Every failure comes back as the exact reply to send (code,
 * RFC 3463 enhanced code, text), so the session has one reply path and
 * its replies stay consistent. What is *allowed* (sizes against the
 * limit, which addresses are local) is left to the session.
 */
#ifndef SEALPOST_SMTP_PARSE_H
#define SEALPOST_SMTP_PARSE_H

#include <stdbool.h>
#include <stdint.h>

#include "core/addr.h"
#include "core/str.h"

/* The reply for a parse failure: "<code> <enhanced> <text>". */
struct smtp_parse_err {
	int		 code;		/* 500, 501, 553, 555 */
	const char	*enhanced;	/* "5.5.2"; static */
	const char	*text;		/* static, printable ASCII, no CRLF */
};

#define SMTP_VERB_MAX	16

struct smtp_command {
	char		verb[SMTP_VERB_MAX + 1];	/* upper-cased */
	/*
	 * Everything after the space(s) following the verb, trailing
	 * spaces and tabs dropped; empty when there is none. Points into
	 * the line given to smtp_parse_command(): valid as long as it is.
	 */
	struct str_view	args;
};

/*
 * Splits a command line (without its CRLF) into verb and arguments
 * (RFC 5321 4.1.1: verb = 1*16 ALPHA here, case-insensitive, then SP).
 * Returns 0, or -1 with *err set (500 5.5.2) for an empty line, a verb
 * that is not letters or too long, no space after the verb, or a control
 * character (NUL, CR, LF...) anywhere in the line. err may be NULL.
 */
int	smtp_parse_command(struct str_view line, struct smtp_command *out,
	    struct smtp_parse_err *err);

/* Extensions the server advertised, which decide the parameters accepted. */
#define SMTP_EXT_SIZE		0x01u	/* RFC 1870 */
#define SMTP_EXT_8BITMIME	0x02u	/* RFC 6152 */
#define SMTP_EXT_SMTPUTF8	0x04u	/* RFC 6531 */
#define SMTP_EXT_AUTH		0x08u	/* RFC 4954 */
#define SMTP_EXT_ALL		0x0fu

enum smtp_body {
	SMTP_BODY_UNSPEC = 0,	/* no BODY parameter */
	SMTP_BODY_7BIT,
	SMTP_BODY_8BITMIME,
};

struct smtp_mail_args {
	struct mailaddr	from;		/* may be the null path */
	bool		has_size;
	uint64_t	size;		/* SIZE=; UINT64_MAX if over that */
	enum smtp_body	body;
	bool		smtputf8;	/* SMTPUTF8 parameter given */
	bool		has_auth;	/* AUTH= given (its value is ignored) */
};

/*
 * Parses the arguments of MAIL: "FROM:<path> [SP esmtp-param ...]" (one
 * space after the colon is tolerated, as widely sent). exts says what was
 * advertised; a parameter of an extension not advertised is unknown.
 * UTF-8 in the address is allowed only when SMTPUTF8 is advertised and
 * the SMTPUTF8 parameter is present. Returns 0, or -1 with *err:
 *   501 5.5.2  no "FROM:", or junk where a parameter belongs
 *   501 5.1.7  bad sender address syntax (text says what is wrong)
 *   553 5.6.7  UTF-8 address without SMTPUTF8 (RFC 6531 3.5)
 *   501 5.5.4  malformed value of a known parameter (SIZE=abc, BODY=x)
 *   555 5.5.4  unknown, unadvertised or repeated parameter, BODY=BINARYMIME
 */
int	smtp_parse_mail_args(struct str_view args, unsigned exts,
	    struct smtp_mail_args *out, struct smtp_parse_err *err);

struct smtp_rcpt_args {
	struct mailaddr	to;		/* never null; maybe <postmaster> */
};

/*
 * Parses the arguments of RCPT: "TO:<path>" (<postmaster> allowed without
 * domain). utf8_ok is true when the transaction's MAIL carried SMTPUTF8.
 * No RCPT parameter is supported. Returns 0, or -1 with *err:
 *   501 5.5.2  no "TO:", or junk after the path
 *   501 5.1.3  bad recipient address syntax
 *   553 5.6.7  UTF-8 address without SMTPUTF8
 *   555 5.5.4  any parameter
 */
int	smtp_parse_rcpt_args(struct str_view args, bool utf8_ok,
	    struct smtp_rcpt_args *out, struct smtp_parse_err *err);

/* RFC 3030: chunk sizes up to 2^63 octets. */
#define SMTP_BDAT_MAX	(UINT64_C(1) << 63)

/*
 * Parses "BDAT <chunk-size> [LAST]" arguments (LAST case-insensitive).
 * Returns 0, or -1 with *err (501 5.5.4) when malformed or over
 * SMTP_BDAT_MAX. The session must still read and discard the chunk's
 * octets after a failure it can size; here none is known, so the session
 * should close after replying (RFC 3030 is silent; the stream is lost).
 */
int	smtp_parse_bdat_args(struct str_view args, uint64_t *size, bool *last,
	    struct smtp_parse_err *err);

#define SMTP_SASL_MECH_MAX	20	/* RFC 4422 3.1 */

/*
 * Parses "AUTH <mechanism> [initial-response]" (RFC 4954 4). The
 * mechanism is 1*20 of A-Z 0-9 - _ (letters in either case, compare it
 * case-insensitively); the initial response, if any, is base64 text or
 * "=" (empty), returned undecoded. Both views point into args. Returns 0,
 * or -1 with *err (501 5.5.2) when malformed. has_initial tells "AUTH X"
 * from "AUTH X =".
 */
int	smtp_parse_auth_args(struct str_view args, struct str_view *mech,
	    struct str_view *initial, bool *has_initial,
	    struct smtp_parse_err *err);

#define SMTP_HELO_MAX	255

/*
 * Parses the HELO/EHLO argument liberally: the first token of printable
 * ASCII (a domain, an address literal, or what broken clients send), up
 * to 255 octets; anything after it is ignored. Returns 0 with *name
 * pointing into args, or -1 with *err (501 5.5.4) when empty, too long or
 * not printable.
 */
int	smtp_parse_helo_arg(struct str_view args, struct str_view *name,
	    struct smtp_parse_err *err);

/*
 * For DATA, RSET, QUIT, STARTTLS...: returns 0 when args is empty, else -1
 * with *err (501 5.5.4 "no parameters allowed").
 */
int	smtp_parse_no_args(struct str_view args, struct smtp_parse_err *err);

#endif
