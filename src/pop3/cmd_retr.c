/*
 * RETR and TOP (RFC 1939 sections 5 and 7): a message streamed from its
 * file, with memory bounded whatever its size. A chunk is read, bare LF
 * line ends become CRLF (files other tools dropped into the Maildir), a
 * "." starting a line is doubled, and the result is queued; once the
 * connection holds STREAM_HIGH bytes of output the stream waits for the
 * conn's drained() callback to continue. Commands pipelined behind stay
 * unread until the terminating "." is queued, which keeps replies in
 * order (RFC 2449 section 6.6).
 *
 * The octets sent before stuffing are exactly the size STAT and LIST
 * report: the store counts one extra octet for every bare LF, as the
 * conversion here adds one.
 *
 * Fast path: a message the store marks raw (our own deliveries that are
 * CRLF-only with no line starting with '.', see store.h) is already its
 * served form, so on a plaintext connection the file goes to the socket
 * with sendfile(2) (libevent's evbuffer_add_file on a socket bufferevent)
 * and never passes through user space. Over TLS (kernel TLS is not
 * available everywhere, docs/performance.md) such a message is read
 * straight into the output buffer in large chunks, skipping the
 * byte-by-byte conversion and its copy.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>

#include "core/log.h"
#include "core/xmalloc.h"
#include "net/conn.h"
#include "pop3/session_int.h"
#include "store/store.h"

#define STREAM_CHUNK	(16 * 1024)
/* Stop queueing once this much output waits; continue when drained. */
#define STREAM_HIGH	(128 * 1024)
/* Raw messages over TLS: one read per chunk, into the output buffer. */
#define RAW_CHUNK	(64 * 1024)

struct pop3_stream {
	int		 fd;
	size_t		 index;
	bool		 top;		/* TOP: stop after `lines` body lines */
	bool		 in_body;	/* past the blank line ending headers */
	uint64_t	 lines;		/* TOP body lines still to send */
	bool		 at_line_start;
	bool		 prev_cr;	/* last byte was CR: LF after is not bare */
	bool		 line_blank;	/* this line so far is empty (or CR) */
	bool		 sendfile;	/* raw, plaintext: file queued whole */
	bool		 raw;		/* raw over TLS: no conversion */
	uint64_t	 sent;
	char		 in[STREAM_CHUNK];
	/* Worst case every byte doubles ("\n" -> "\r\n", "." -> ".."). */
	char		 out[2 * STREAM_CHUNK];
};

void
pop3_stream_free(struct pop3_stream **sp)
{
	struct pop3_stream *st = *sp;

	if (st == NULL)
		return;
	*sp = NULL;
	if (st->fd != -1)
		close(st->fd);
	free(st);
}

/*
 * Converts n input bytes into st->out. Returns the output length; sets
 * *stop when TOP has sent its lines (the rest of the input is unused).
 */
static size_t
stream_convert(struct pop3_stream *st, const char *in, size_t n, bool *stop)
{
	size_t o = 0;

	*stop = false;
	for (size_t i = 0; i < n; i++) {
		char c = in[i];

		if (st->top && st->in_body && st->lines == 0 &&
		    st->at_line_start) {
			*stop = true;
			break;
		}
		/* RFC 1939 section 3: byte-stuff lines starting with ".". */
		if (st->at_line_start && c == '.')
			st->out[o++] = '.';
		if (c == '\n' && !st->prev_cr)
			st->out[o++] = '\r';
		st->out[o++] = c;
		st->prev_cr = c == '\r';
		if (c == '\n') {
			if (st->top) {
				if (!st->in_body && st->line_blank)
					st->in_body = true;
				else if (st->in_body)
					st->lines--;
			}
			st->at_line_start = true;
			st->line_blank = true;
		} else {
			st->at_line_start = false;
			if (c != '\r')
				st->line_blank = false;
		}
	}
	return o;
}

static void
stream_finish(struct pop3_session *s)
{
	struct pop3_stream *st = s->stream;
	struct evbuffer *out = conn_output(s->conn);

	/* A last line without a line end still needs one before ".". */
	if (!st->at_line_start)
		evbuffer_add(out, "\r\n", 2);
	evbuffer_add(out, ".\r\n", 3);
	log_debug("pop3 sid=%s event=%s msg=%zu octets=%llu sendfile=%s",
	    s->sid, st->top ? "top" : "retr", st->index + 1,
	    (unsigned long long)st->sent, st->sendfile ? "yes" :
	    st->raw ? "raw" : "no");
	pop3_stream_free(&s->stream);
	pop3_resume(s);
}

/*
 * Reads up to RAW_CHUNK bytes of a raw message straight into out's free
 * space. Returns what read() returned (-1 with errno, 0 at the end).
 */
static ssize_t
stream_read_raw(struct pop3_stream *st, struct evbuffer *out)
{
	struct evbuffer_iovec v;
	ssize_t n;

	if (evbuffer_reserve_space(out, RAW_CHUNK, &v, 1) < 1)
		return -1;
	n = read(st->fd, v.iov_base, RAW_CHUNK);
	if (n > 0) {
		v.iov_len = (size_t)n;
		if (evbuffer_commit_space(out, &v, 1) == -1)
			return -1;
		st->sent += (uint64_t)n;
	}
	return n;
}

void
pop3_stream_pump(struct pop3_session *s)
{
	struct pop3_stream *st = s->stream;
	struct evbuffer *out = conn_output(s->conn);
	ssize_t n;
	size_t o;
	bool stop;

	if (st->sendfile) {
		/*
		 * The file was queued whole; finish once it has mostly
		 * drained, so pipelined RETRs hold one file (one fd) at a
		 * time per session.
		 */
		if (conn_output_pending(s->conn) < STREAM_HIGH)
			stream_finish(s);
		return;
	}
	while (conn_output_pending(s->conn) < STREAM_HIGH) {
		if (st->raw) {
			n = stream_read_raw(st, out);
			if (n > 0)
				continue;
		} else
			n = read(st->fd, st->in, sizeof(st->in));
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			/* After "+OK" there is no way to say -ERR: hang up. */
			log_warn("pop3 sid=%s event=read-error msg=%zu "
			    "error=\"%s\"", s->sid, st->index + 1, strerror(errno));
			pop3_stream_free(&s->stream);
			pop3_close(s, "message read error");
			return;
		}
		if (n == 0) {
			stream_finish(s);
			return;
		}
		o = stream_convert(st, st->in, (size_t)n, &stop);
		evbuffer_add(out, st->out, o);
		st->sent += o;
		if (stop) {
			stream_finish(s);
			return;
		}
	}
}

static enum cmd_rc
stream_start(struct pop3_session *s, size_t index, bool top, uint64_t lines)
{
	const char *errstr = NULL;
	struct pop3_stream *st;
	int fd;

	fd = store_message_open(s->drop->mb, index, &errstr);
	if (fd == -1) {
		log_warn("pop3 sid=%s event=open-error msg=%zu error=\"%s\"",
		    s->sid, index + 1, errstr != NULL ? errstr : "?");
		pop3_err(s, "[SYS/TEMP] Message %zu is not available",
		    index + 1);
		return CMD_DONE;
	}
	st = xcalloc(1, sizeof(*st));
	st->fd = fd;
	st->index = index;
	st->top = top;
	st->lines = lines;
	st->at_line_start = true;
	st->line_blank = true;
	if (top) {
		pop3_ok(s, "Top of message follows");
	} else {
		const struct store_msg_info *mi =
		    store_mailbox_msg(s->drop->mb, index);

		s->drop->retrieved[index] = true;
		pop3_ok(s, "%llu octets", (unsigned long long)mi->size);
		st->raw = mi->raw;
		/* On failure fd is still ours: the read path takes over. */
		if (mi->raw && !conn_is_tls(s->conn) && mi->size <= INT64_MAX &&
		    evbuffer_add_file(conn_output(s->conn), fd, 0,
		    (ev_off_t)mi->size) == 0) {
			st->fd = -1;
			st->sendfile = true;
			st->sent = mi->size;
		}
	}
	s->stream = st;
	s->mode = PM_WAIT;
	conn_pause(s->conn);
	pop3_stream_pump(s);
	return s->stream != NULL || s->mode == PM_WAIT ? CMD_ASYNC : CMD_DONE;
}

enum cmd_rc
pop3_cmd_retr(struct pop3_session *s, const struct str_view *args,
    size_t nargs, struct str_view rest)
{
	size_t i;

	(void)nargs;
	(void)rest;
	if (pop3_msg_lookup(s, args[0], &i) == -1)
		return CMD_DONE;
	return stream_start(s, i, false, 0);
}

enum cmd_rc
pop3_cmd_top(struct pop3_session *s, const struct str_view *args,
    size_t nargs, struct str_view rest)
{
	uint64_t lines;
	size_t i;

	(void)nargs;
	(void)rest;
	if (pop3_msg_lookup(s, args[0], &i) == -1)
		return CMD_DONE;
	if (pop3_parse_count(args[1], &lines) == -1) {
		pop3_err(s, "TOP: Invalid line count");
		return CMD_DONE;
	}
	return stream_start(s, i, true, lines);
}
