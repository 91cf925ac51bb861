/*
 * The outbound SMTP client (RFC 5321 client side): one connection that
 * delivers one queued message to some of its recipients at one next hop.
 * It mirrors the server session: entering a state sends its command and
 * that state's reply handler picks the next state. It knows nothing of
 * the queue: the caller hands it an open message file and a recipient
 * list and gets one result per recipient back.
 *
 * Also here, pure and unit-tested: the reply reader (multi-line replies,
 * EHLO keywords) and the DATA dot-stuffer (RFC 5321 4.5.2).
 */
#ifndef SEALPOST_SMTP_CLIENT_H
#define SEALPOST_SMTP_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <openssl/ssl.h>

#include "core/config.h"

struct event_base;
struct smtp_client;

/* --- replies (pure) --- */

#define SMTP_REPLY_MAX_LINES	100	/* a longer reply is a protocol error */
#define SMTP_REPLY_TEXT		512	/* text kept, lines joined by ' ' */

struct smtp_reply_acc {
	int		code;		/* 0 until the first line */
	size_t		lines;
	size_t		text_len;
	char		text[SMTP_REPLY_TEXT];	/* "250 2.0.0 ok ..." */
	/* EHLO keywords seen on continuation or last lines. */
	bool		has_starttls;
	bool		has_size;
	uint64_t	size;		/* SIZE parameter; 0 = no limit given */
};

void	smtp_reply_acc_reset(struct smtp_reply_acc *);
/*
 * Feeds one reply line without its CRLF. Returns 1 when the reply is
 * complete (a "NNN " or bare "NNN" line), 0 when more lines follow
 * ("NNN-"), -1 when the line is malformed, its code differs from the
 * first line's, or there are too many lines.
 */
int	smtp_reply_acc_line(struct smtp_reply_acc *, const char *line,
	    size_t len);

/* --- dot-stuffing (pure) --- */

struct smtp_stuffer {
	bool	at_bol;		/* next byte starts a line */
	char	last;		/* last byte written, '\0' before any */
	bool	any;
};

void	smtp_stuffer_init(struct smtp_stuffer *);
/*
 * Writes the DATA form of len input bytes to out, which must hold 2 * len
 * bytes: a '.' starting a line is doubled, a bare LF becomes CRLF.
 * Returns the number of bytes written.
 */
size_t	smtp_stuffer_feed(struct smtp_stuffer *, const char *in, size_t len,
	    char *out);
/*
 * Writes the end of data to out (8 bytes room): CRLF when the message did
 * not end with one (RFC 5321 4.1.1.4), then ".\r\n". Returns the length.
 */
size_t	smtp_stuffer_end(struct smtp_stuffer *, char *out);

/* --- the client --- */

struct smtp_client_rcpt_result {
	int	code;		/* reply code for this recipient */
	char	reply[SMTP_REPLY_TEXT];
};

struct smtp_client_result {
	const char	*peer;		/* "127.0.0.1:2525" */
	const char	*tls;		/* "no" or e.g. "TLSv1.3" */
	const char	*cipher;	/* "" without TLS */
	size_t		 n_rcpt;
	const struct smtp_client_rcpt_result	*rcpt;	/* params' order */
};

struct smtp_client_params {
	struct event_base	*base;
	const struct config	*cfg;		/* timeouts, hostname, policy */
	SSL_CTX			*tls_ctx;	/* client context; NULL = no TLS */
	const char		*tls_name;	/* checked under verify */
	const struct sockaddr	*addr;
	socklen_t		 addrlen;
	const char		*peer_text;
	const char		*sender;	/* "" for <> */
	size_t			 n_rcpt;
	const char *const	*rcpt;
	int			 msg_fd;	/* read from msg_offset to EOF */
	off_t			 msg_offset;
	uint64_t		 msg_size;	/* bytes from msg_offset */
	/*
	 * Called exactly once from the event loop with every recipient's
	 * result; the result and the client are freed when it returns.
	 */
	void	(*done)(void *arg, const struct smtp_client_result *);
	void			*arg;
};

/*
 * Starts a delivery (non-blocking connect). Strings and arrays of params
 * are copied; msg_fd stays the caller's (to close after done). Returns
 * the client; it frees itself after done() has been called.
 */
struct smtp_client	*smtp_client_start(const struct smtp_client_params *);
/* Aborts a delivery without calling done() (shutdown). NULLs *cp. */
void	smtp_client_free(struct smtp_client **cp);

#endif
