/*
 * A streaming scanner of a message's header section (RFC 5322 2.2, 3.6),
 * fed the message bytes as stored (after DATA un-stuffing) in chunks of
 * any size. It records what the session's policy needs (Received count
 * for the hop limit, From count and the first From value for submission
 * checks, whether Date and Message-ID exist) and says where the header
 * section ends, plus the Delivered-To and Auto-Submitted values for
 * loop protection, while the session streams the message to disk, so fields
 * can be added there without buffering the message. Fixed-size state, no
 * allocation, no I/O.
 *
 * The header section is the lines from the start up to the first empty
 * line. A message without an empty line is all header section. A first
 * line that is neither a field nor empty means there is no header section
 * (has_header_section false). A later line that is not a field (nor a
 * folded continuation) ends the section too, and is flagged malformed.
 */
#ifndef SEALPOST_SMTP_HEADER_H
#define SEALPOST_SMTP_HEADER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SMTP_HEADER_FROM_MAX	2048	/* unfolded From value kept */
#define SMTP_HEADER_NAME_MAX	16	/* longest field name we compare */
#define SMTP_HEADER_MORE	SIZE_MAX
/* Delivered-To values kept (the first ones: the most recent hops). */
#define SMTP_HEADER_DT_MAX	16
#define SMTP_HEADER_DT_LEN	255	/* longer values are kept as "" */
#define SMTP_HEADER_AUTO_LEN	31	/* Auto-Submitted value kept */

struct smtp_header {
	/* Read-only results. */
	bool		done;			/* header section has ended */
	bool		has_header_section;	/* valid once done */
	bool		malformed;		/* ended by a non-field line */
	bool		unterminated;		/* last octet not LF (finish) */
	/*
	 * Once done: message offset where the section ends, i.e. where the
	 * empty line (or the non-field line) starts, or the message length
	 * if it ended within the header section. Fields inserted there stay
	 * in the header section (except when malformed).
	 */
	uint64_t	end_offset;
	uint64_t	offset;			/* octets fed so far */
	unsigned	received_count;		/* saturating */
	unsigned	from_count;
	bool		has_date;
	bool		has_message_id;
	/*
	 * Value of the first From field: unfolded (CRLF before WSP
	 * removed, RFC 5322 2.2.3), surrounding whitespace dropped,
	 * NUL-terminated, at most SMTP_HEADER_FROM_MAX octets
	 * (from_truncated then set). Raw octets: may hold NULs or 8-bit.
	 */
	char		from[SMTP_HEADER_FROM_MAX + 1];
	size_t		from_len;
	bool		from_truncated;
	/*
	 * Loop detection (docs/outbound.md): the values of the first
	 * SMTP_HEADER_DT_MAX Delivered-To fields, unfolded and trimmed like
	 * From ("" when longer than SMTP_HEADER_DT_LEN), and how many there
	 * were in all (saturating).
	 */
	char		delivered_to[SMTP_HEADER_DT_MAX][SMTP_HEADER_DT_LEN + 1];
	unsigned	delivered_to_count;
	/*
	 * RFC 3834 5: the first Auto-Submitted value (its first
	 * SMTP_HEADER_AUTO_LEN octets, trimmed), or "" when absent.
	 */
	bool		has_auto_submitted;
	char		auto_submitted[SMTP_HEADER_AUTO_LEN + 1];

	/* Private. */
	int		state;
	int		field;
	char		name[SMTP_HEADER_NAME_MAX];
	size_t		name_len;
	uint64_t	line_start;
	size_t		from_wsp;	/* trailing spaces held in from[] */
	size_t		cap_len;	/* Delivered-To/Auto-Submitted capture */
	size_t		cap_wsp;
	bool		cap_over;
	bool		pending_cr;
	char		last_octet;
};

void	smtp_header_init(struct smtp_header *);

/*
 * Scans the next len octets of the message. When the header section ends
 * inside this chunk, returns the split point k (0 <= k <= len): the
 * caller writes p[0..k), then its added fields, then p[k..len). Returns
 * SMTP_HEADER_MORE otherwise (still in the header section, or it ended
 * in an earlier chunk: the split is reported exactly once).
 *
 * The split is exact for an empty line (decided at its first octet) and
 * for a non-field line starting in this chunk. A non-field line that
 * started in an earlier chunk (already written) is only recognised later;
 * then the split is at the end of that line (malformed is set and
 * end_offset says where the section really ended), or, if the message
 * ends first, not reported at all (the caller appends as below).
 */
size_t	smtp_header_feed(struct smtp_header *, const char *p, size_t len);

/*
 * At the end of the message: if the header section has not ended, it
 * ends here (end_offset = offset); a caller that got no split appends its
 * fields at the end, after a CRLF when unterminated (the message's last
 * octet is not LF). Sets done.
 */
void	smtp_header_finish(struct smtp_header *);

/*
 * True once the first From field is complete (a later line started, or
 * the section ended): from[] then holds its whole value, so a look-up of
 * its domain can start before the rest of the header section arrives.
 */
bool	smtp_header_from_done(const struct smtp_header *);

#endif
