/*
 * Streaming header-section scanner; see header.h. Line ends are LF with
 * an optional CR before it (the stored message has CRLF; a lone LF is
 * tolerated so a message stored by a lenient path is still scanned). A
 * field name is RFC 5322 3.6.8 ftext (printable ASCII but ':'), with
 * obsolete whitespace before the colon allowed (RFC 5322 4.5).
 */
#include "smtp/header.h"

#include <string.h>
#include <strings.h>

enum {
	HS_LINE_START,	/* at the start of a line in the header section */
	HS_NAME,	/* in a field name */
	HS_NAME_WSP,	/* whitespace after the name, before ':' */
	HS_VALUE,	/* in a field's value (or its continuation) */
	HS_BAD_LINE,	/* in a non-field line that began in an earlier chunk */
	HS_DONE,
};

enum {
	HF_NONE,	/* before the first field */
	HF_OTHER,
	HF_FROM_FIRST,	/* the first From: its value is kept */
	HF_DELIVERED_TO,	/* one of the first SMTP_HEADER_DT_MAX */
	HF_AUTO_SUBMITTED,	/* the first Auto-Submitted */
};

void
smtp_header_init(struct smtp_header *h)
{
	memset(h, 0, sizeof(*h));
	h->state = HS_LINE_START;
	h->field = HF_NONE;
}

static void
count(unsigned *n)
{
	if (*n < ~0u)
		(*n)++;
}

/* The name is complete (':' seen): classify the field. */
static void
field_begin(struct smtp_header *h)
{
	size_t n = h->name_len;

	h->field = HF_OTHER;
	if (n > SMTP_HEADER_NAME_MAX)
		return;
	if (n == 8 && strncasecmp(h->name, "Received", 8) == 0)
		count(&h->received_count);
	else if (n == 4 && strncasecmp(h->name, "Date", 4) == 0)
		h->has_date = true;
	else if (n == 10 && strncasecmp(h->name, "Message-ID", 10) == 0)
		h->has_message_id = true;
	else if (n == 12 && strncasecmp(h->name, "Delivered-To", 12) == 0) {
		count(&h->delivered_to_count);
		if (h->delivered_to_count <= SMTP_HEADER_DT_MAX)
			h->field = HF_DELIVERED_TO;
	} else if (n == 14 && strncasecmp(h->name, "Auto-Submitted", 14) == 0) {
		if (!h->has_auto_submitted)
			h->field = HF_AUTO_SUBMITTED;
		h->has_auto_submitted = true;
	} else if (n == 4 && strncasecmp(h->name, "From", 4) == 0) {
		count(&h->from_count);
		if (h->from_count == 1)
			h->field = HF_FROM_FIRST;
	}
}

/* One octet of the first From value, unfolded and trimmed on the fly. */
static void
from_add(struct smtp_header *h, char c)
{
	bool wsp = c == ' ' || c == '\t';

	if (wsp && h->from_len == 0)
		return;			/* leading whitespace */
	if (h->from_len >= SMTP_HEADER_FROM_MAX) {
		if (!wsp)
			h->from_truncated = true;
		return;
	}
	h->from[h->from_len++] = c;
	h->from[h->from_len] = '\0';
	h->from_wsp = wsp ? h->from_wsp + 1 : 0;
}

/* Where the value of a captured short field goes, and its limit. */
static char *
cap_target(struct smtp_header *h, size_t *max)
{
	if (h->field == HF_DELIVERED_TO) {
		*max = SMTP_HEADER_DT_LEN;
		return h->delivered_to[h->delivered_to_count - 1];
	}
	*max = SMTP_HEADER_AUTO_LEN;
	return h->auto_submitted;
}

/* One octet of a Delivered-To/Auto-Submitted value, unfolded, trimmed. */
static void
cap_add(struct smtp_header *h, char c)
{
	bool wsp = c == ' ' || c == '\t';
	size_t max;
	char *dst = cap_target(h, &max);

	if ((wsp && h->cap_len == 0) || h->cap_over)
		return;
	if (h->cap_len >= max) {
		if (!wsp)
			h->cap_over = true;
		return;
	}
	dst[h->cap_len++] = c;
	dst[h->cap_len] = '\0';
	h->cap_wsp = wsp ? h->cap_wsp + 1 : 0;
}

/* The current field ends (a new line does not continue it). */
static void
field_end(struct smtp_header *h)
{
	if (h->field == HF_FROM_FIRST) {
		h->from_len -= h->from_wsp;
		h->from[h->from_len] = '\0';
		h->from_wsp = 0;
	} else if (h->field == HF_DELIVERED_TO ||
	    h->field == HF_AUTO_SUBMITTED) {
		size_t max;
		char *dst = cap_target(h, &max);

		/*
		 * An over-long Delivered-To matches nothing; Auto-Submitted
		 * keeps its start (the keyword is what matters).
		 */
		if (h->cap_over && h->field == HF_DELIVERED_TO)
			h->cap_len = 0;
		else
			h->cap_len -= h->cap_wsp;
		dst[h->cap_len] = '\0';
		h->cap_len = 0;
		h->cap_wsp = 0;
		h->cap_over = false;
	}
	h->field = HF_OTHER;
}

static void
section_end(struct smtp_header *h, uint64_t at, bool malformed)
{
	if (h->field == HF_NONE && malformed)
		h->has_header_section = false;
	else
		h->has_header_section = true;
	if (h->field != HF_NONE)
		field_end(h);
	h->malformed = malformed;
	h->end_offset = at;
	h->done = true;
	h->state = HS_DONE;
}

/*
 * The line that began at h->line_start turned out not to be a field;
 * chunk_start is the offset of the current chunk's first octet. Returns
 * the split in this chunk, or MORE when the line began before it.
 */
static size_t
bad_line(struct smtp_header *h, uint64_t chunk_start)
{
	if (h->line_start >= chunk_start) {
		section_end(h, h->line_start, true);
		return (size_t)(h->line_start - chunk_start);
	}
	/* Its start is already written: split after the line instead. */
	h->state = HS_BAD_LINE;
	return SMTP_HEADER_MORE;
}

static void
value_octet(struct smtp_header *h, char c)
{
	if (h->field == HF_DELIVERED_TO || h->field == HF_AUTO_SUBMITTED) {
		/* CR is dropped: only the LF decides where a line ends. */
		if (c != '\r')
			cap_add(h, c);
		return;
	}
	if (h->field != HF_FROM_FIRST)
		return;
	if (h->pending_cr) {
		/* A CR not before LF is data (the DATA reader flags it). */
		from_add(h, '\r');
		h->pending_cr = false;
	}
	if (c == '\r')
		h->pending_cr = true;
	else
		from_add(h, c);
}

size_t
smtp_header_feed(struct smtp_header *h, const char *p, size_t len)
{
	uint64_t base = h->offset;
	size_t i, split;

	if (len > 0)
		h->last_octet = p[len - 1];
	if (h->state == HS_DONE) {
		h->offset += len;
		return SMTP_HEADER_MORE;
	}
	for (i = 0; i < len; i++) {
		char c = p[i];

		switch (h->state) {
		case HS_LINE_START:
			h->line_start = base + i;
			h->pending_cr = false;
			if (c == '\r' || c == '\n') {
				/* The empty line: RFC 5322 2.1. */
				section_end(h, base + i, false);
				h->offset += len;
				return i;
			}
			if (c == ' ' || c == '\t') {
				/* Folded continuation, RFC 5322 2.2.3. */
				if (h->field == HF_NONE) {
					split = bad_line(h, base);
					h->offset += len;
					return split;
				}
				h->state = HS_VALUE;
				value_octet(h, c);
				continue;
			}
			if (h->field != HF_NONE)
				field_end(h);
			h->name_len = 0;
			h->state = HS_NAME;
			/* FALLTHROUGH */
		case HS_NAME:
			if (c == ':' && h->name_len > 0) {
				field_begin(h);
				h->state = HS_VALUE;
			} else if ((c == ' ' || c == '\t') && h->name_len > 0) {
				h->state = HS_NAME_WSP;
			} else if (c > 32 && c < 127 && c != ':') {
				if (h->name_len < SMTP_HEADER_NAME_MAX)
					h->name[h->name_len] = c;
				if (h->name_len <= SMTP_HEADER_NAME_MAX)
					h->name_len++;
			} else if ((split = bad_line(h, base)) !=
			    SMTP_HEADER_MORE) {
				h->offset += len;
				return split;
			} else
				i--;	/* HS_BAD_LINE looks at c again */
			continue;
		case HS_NAME_WSP:
			if (c == ':') {
				field_begin(h);
				h->state = HS_VALUE;
			} else if (c != ' ' && c != '\t') {
				if ((split = bad_line(h, base)) !=
				    SMTP_HEADER_MORE) {
					h->offset += len;
					return split;
				}
				i--;	/* HS_BAD_LINE looks at c again */
			}
			continue;
		case HS_VALUE:
			if (c == '\n') {
				h->pending_cr = false;
				h->state = HS_LINE_START;
			} else
				value_octet(h, c);
			continue;
		case HS_BAD_LINE:
			if (c == '\n') {
				uint64_t real_end = h->line_start;

				section_end(h, real_end, true);
				h->offset += len;
				return i + 1;
			}
			continue;
		}
	}
	h->offset += len;
	return SMTP_HEADER_MORE;
}

void
smtp_header_finish(struct smtp_header *h)
{
	h->unterminated = h->offset > 0 && h->last_octet != '\n';
	if (h->state == HS_DONE)
		return;
	if (h->state == HS_NAME || h->state == HS_NAME_WSP ||
	    h->state == HS_BAD_LINE) {
		/* The last line is not a field; it still ends the section. */
		section_end(h, h->line_start, true);
		return;
	}
	section_end(h, h->offset, false);
}

bool
smtp_header_from_done(const struct smtp_header *h)
{
	/* field_end() leaves HF_FROM_FIRST, and nothing re-enters it. */
	return h->from_count > 0 &&
	    (h->state == HS_DONE || h->field != HF_FROM_FIRST);
}
