/*
 * What the DKIM files share and nobody else needs: the tag-list splitter,
 * the header section store that both the verifier and the signer fill,
 * and the header hash input of 3.7.
 */
#ifndef SEALPOST_POLICY_DKIM_PRIVATE_H
#define SEALPOST_POLICY_DKIM_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>

#include "core/buf.h"
#include "core/str.h"
#include "policy/dkim.h"

struct dkim_tag {
	struct str_view	 name;
	struct str_view	 value;		/* FWS around removed */
	size_t		 eq;		/* offset just after '=' */
	size_t		 vstart, vend;	/* offsets of value */
};

bool	dkim_is_fws(char c);
bool	dkim_is_domain(struct str_view v, size_t max);
int	dkim_tags_split(const char *text, size_t len, struct dkim_tag *tags,
	    size_t max, bool allow_empty, const char **err);

/*
 * Appends the base64 text v (FWS inside skipped) decoded to out. Returns
 * 0, or -1 when malformed or out's max would be passed.
 */
int	dkim_base64_decode(struct str_view v, struct buf *out);

/* One stored header field: offset and length in dkim_msg.hdr. */
struct dkim_field {
	size_t	 off;
	size_t	 len;		/* without the final CRLF */
	size_t	 name_len;	/* up to the colon, trailing WSP dropped */
	bool	 has_colon;
};

/*
 * The header section of a message, as fields, plus the splitter state
 * for whole-message input.
 */
struct dkim_msg {
	struct buf	 hdr;		/* the fields' octets, back to back */
	struct dkim_field *fields;	/* DKIM_MAX_FIELDS */
	size_t		 n_fields;
	bool		 overflow;	/* a field was dropped */
	bool		 in_body;
	/* splitter */
	struct buf	 cur;		/* the field being assembled */
	bool		 cur_active;
	bool		 cur_overflow;
	bool		 at_bol;	/* at the start of a line */
	bool		 bol_cr;	/* a line started with CR */
};

void	dkim_msg_init(struct dkim_msg *);
void	dkim_msg_cleanup(struct dkim_msg *);
/* Stores one field (a final CRLF is stripped). */
void	dkim_msg_add_field(struct dkim_msg *, const char *field, size_t len);
/*
 * Splits whole-message input. Returns SIZE_MAX while the chunk is all
 * header, else the offset in p where the body starts (the header section
 * ended in this chunk, or earlier: then 0). Stored fields are added.
 */
size_t	dkim_msg_feed(struct dkim_msg *, const char *p, size_t len);
/* Ends a header section that never ended (no empty line). */
void	dkim_msg_end_headers(struct dkim_msg *);

static inline const char *
dkim_field_text(const struct dkim_msg *m, size_t i)
{
	return m->hdr.data + m->fields[i].off;
}

/* Whether field i is named name (case-insensitive). */
bool	dkim_field_is(const struct dkim_msg *, size_t i, struct str_view name);

/*
 * Builds the header hash input (3.7): for each h= name in order, the
 * next instance from the bottom (an absent one adds nothing), then the
 * signature field sig_text (its b= value already removed) canonicalized
 * without its final CRLF. Returns 0, or -1 when out is full.
 */
int	dkim_header_input(const struct dkim_msg *, enum dkim_canon,
	    const struct str_view *h, size_t n_h, const char *sig_text,
	    size_t sig_len, struct buf *out);

/* The digest for an algorithm. */
const EVP_MD	*dkim_alg_md(enum dkim_alg);

#endif
