/*
 * The DATA and BDAT content readers: incremental state machines fed the
 * raw bytes from the connection in any chunking, emitting the message
 * bytes to store through a sink callback. No I/O, no allocation: the
 * state is a few fields, whatever the message or line length.
 *
 * DATA (RFC 5321 4.1.1.4, 4.5.2): a line's leading dot is removed, and
 * the message ends ONLY at <CRLF>.<CRLF>. Every other "end" a lax parser
 * might see (<LF>.<LF>, <LF>.<CRLF>, <CRLF>.<LF>, <CR>.<CR> ...) is data,
 * so a message can never be ended or split differently here than by a
 * strict server downstream (SMTP smuggling). Bare CR or bare LF are
 * flagged; depending on the mode the message is to be rejected, or each
 * is stored as CRLF. The terminator is recognised on the raw bytes, never
 * on normalised ones.
 *
 * BDAT (RFC 3030): the chunk bytes are the message, with no stuffing and
 * no terminator; the same bare CR/LF checks, normalisation and size
 * accounting apply across chunk boundaries.
 */
#ifndef SEALPOST_SMTP_DATA_H
#define SEALPOST_SMTP_DATA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum smtp_data_mode {
	/* Flag it and stop storing (the session answers 550 5.5.2). */
	DATA_BARE_REJECT,
	DATA_BARE_NORMALIZE,	/* store CRLF in place of each bare CR or LF */
};

/*
 * Receives message bytes to store, in order, in pieces of any size
 * (possibly pointing into the fed input, valid only during the call).
 */
typedef void	smtp_data_sink_fn(void *arg, const char *p, size_t len);

struct smtp_data {
	/* Read-only results, valid at any time. */
	bool		done;		/* terminator seen / BDAT finished */
	bool		has_bare_newline;
	bool		too_big;	/* more than max_size octets to store */
	uint64_t	size;		/* message octets (as stored) so far */
	uint64_t	raw;		/* octets consumed from the client */

	/* Private. */
	enum smtp_data_mode	mode;
	uint64_t		max_size;
	smtp_data_sink_fn	*sink;
	void			*sink_arg;
	int			state;
};

/*
 * Prepares a reader for one message: max_size is the most octets stored
 * (the message as emitted, after un-stuffing/normalisation); beyond it
 * nothing more is emitted (exactly the first max_size octets were),
 * too_big is set, and input is still consumed to the end. The same struct
 * serves DATA (smtp_data_feed) or BDAT (smtp_bdat_feed, then
 * smtp_bdat_finish), not both. For DATA the reader
 * starts as if the CRLF that ended the DATA command had just been seen,
 * so ".\r\n" at once is the empty message.
 */
void	smtp_data_init(struct smtp_data *, enum smtp_data_mode mode,
	    uint64_t max_size, smtp_data_sink_fn *sink, void *sink_arg);

/*
 * Consumes DATA content. Returns how many of the len bytes were consumed:
 * all of them, or fewer when the terminator <CRLF>.<CRLF> was reached,
 * in which case done is set and in[returned..len) is the next command
 * (pipelined by the client) for the command reader. Returns 0 once done.
 * After done: has_bare_newline (REJECT mode: reply 550 5.5.2) and
 * too_big (reply 552 5.3.4) say whether to accept what was stored.
 */
size_t	smtp_data_feed(struct smtp_data *, const char *in, size_t len);

/*
 * Consumes one BDAT chunk's bytes (all of them; returns nothing). A CR at
 * the end of a chunk is held until the next byte shows whether it starts
 * a CRLF.
 */
void	smtp_bdat_feed(struct smtp_data *, const char *in, size_t len);

/* After the LAST chunk: settles a held trailing CR (bare) and sets done. */
void	smtp_bdat_finish(struct smtp_data *);

#endif
