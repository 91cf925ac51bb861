/*
 * Mail addresses: the SMTP envelope path (RFC 5321 4.1.2) as it appears
 * in MAIL FROM / RCPT TO, plain "local@domain" strings from configuration
 * and the command line, and the address list of a header field such as
 * From (RFC 5322 3.4). Pure parsing: no I/O, no allocation, every loop
 * bounded by the input length. Policy (which domains are local, whether
 * the sender may use an address) belongs to the callers.
 */
#ifndef SEALPOST_CORE_ADDR_H
#define SEALPOST_CORE_ADDR_H

#include <stdbool.h>
#include <stddef.h>

#include "core/str.h"

/* RFC 5321 4.5.3.1.1 and 4.5.3.1.2, in octets as they appear on the wire. */
#define ADDR_LOCAL_MAX		64
#define ADDR_DOMAIN_MAX		255
/* Enough for addr_format() of any parsed address, NUL included. */
#define ADDR_FORMAT_MAX		(ADDR_LOCAL_MAX + 1 + ADDR_DOMAIN_MAX + 1)

struct mailaddr {
	/*
	 * As it appeared: a quoted local part keeps its quotes and
	 * backslashes ("\"john doe\""); case is preserved (RFC 5321 2.4:
	 * local parts are case-sensitive for the receiving host).
	 */
	char	local[ADDR_LOCAL_MAX + 1];
	/*
	 * ASCII letters lower-cased; an address literal keeps its brackets,
	 * with the tag spelled "IPv6:" ("[192.0.2.1]", "[IPv6:2001:db8::1]").
	 * Empty for the null path and for the bare <postmaster>.
	 */
	char	domain[ADDR_DOMAIN_MAX + 1];
	bool	is_null;	/* <>: local and domain empty */
	/* Local part is (unquoted) "postmaster" in any case, domain or not. */
	bool	is_postmaster;
	bool	is_utf8;	/* some octet of local or domain is non-ASCII */
};

/* Flags of addr_parse_path(). */
#define ADDR_ALLOW_NULL		0x01u	/* <> (MAIL FROM) */
#define ADDR_ALLOW_POSTMASTER	0x02u	/* bare <postmaster> (RCPT TO) */
#define ADDR_ALLOW_UTF8		0x04u	/* RFC 6531 SMTPUTF8 in effect */

/* Return values of the parsers below. */
#define ADDR_OK			0
#define ADDR_ERR_SYNTAX		(-1)	/* malformed or too long */
#define ADDR_ERR_UTF8		(-2)	/* non-ASCII, not allowed */

/*
 * Parses a Reverse-path / Forward-path "<...>" at the cursor (RFC 5321
 * 4.1.2): Dot-string or Quoted-string local part, domain name or address
 * literal ([IPv4], [IPv6:...], checked with inet_pton), a source route
 * "<@a,@b:user@c>" accepted and dropped (RFC 5321 appendix C), <> and
 * <postmaster> only under their flags, non-ASCII (well-formed UTF-8 only)
 * only under ADDR_ALLOW_UTF8. The cursor must point at '<' (the caller
 * skips "FROM:" and any space); on success it is left just past '>'.
 *
 * Returns ADDR_OK, ADDR_ERR_SYNTAX or ADDR_ERR_UTF8. On error *err points
 * to a static text fit for a reply ("address must be enclosed in <>"),
 * *out is unspecified and the cursor is unchanged. err may be NULL.
 */
int	addr_parse_path(struct str_view *cur, struct mailaddr *out,
	    unsigned flags, const char **err);

/*
 * Parses the whole NUL-terminated string s as "local@domain" (no angle
 * brackets, no spaces), as written in configuration, on the command line
 * or in an alias file. UTF-8 is accepted (and must be well-formed).
 * Returns ADDR_OK or ADDR_ERR_SYNTAX.
 */
int	addr_parse_plain(const char *s, struct mailaddr *out);

/*
 * Formats a as "local@domain" into out (size outsz, NUL-terminated): ""
 * for the null path, "postmaster" (as written) for a bare <postmaster>.
 * Returns the length written, or -1 when it does not fit (out is then "").
 * ADDR_FORMAT_MAX is always enough.
 */
int	addr_format(const struct mailaddr *a, char *out, size_t outsz);

/* True when both are the same mailbox: local exactly, domain lower-case. */
bool	addr_equal(const struct mailaddr *a, const struct mailaddr *b);

/* Bound on the header value addr_parse_header_list() will look at. */
#define ADDR_HEADER_MAX		8192

/*
 * Extracts the addresses of an RFC 5322 address-list / mailbox-list
 * header value (From, Sender, Reply-To, To...): "Name <a@b>", "a@b",
 * "\"Q\" <a@b>, b@c", comments in parentheses (nested, bounded),
 * folding whitespace, groups "team: a@b, c@d;" (the members are
 * returned), an obsolete route inside <>. UTF-8 is accepted (RFC 6532).
 * Empty list members and empty groups are skipped.
 *
 * Stores up to max addresses in out[] and returns how many (0 when the
 * value holds none). Returns -1 with *err set (static text; err may be
 * NULL) when the value is malformed, longer than ADDR_HEADER_MAX, or holds
 * more than max addresses.
 */
int	addr_parse_header_list(struct str_view value, struct mailaddr *out,
	    size_t max, const char **err);

/*
 * Length of the well-formed UTF-8 sequence (RFC 3629: no overlongs, no
 * surrogates, nothing past U+10FFFF) starting at p with n bytes available:
 * 1 for ASCII, 2..4, or 0 when malformed or truncated. Exported for the
 * other parsers that accept SMTPUTF8 text.
 */
size_t	addr_utf8_seq_len(const unsigned char *p, size_t n);

#endif
