/*
 * The outbound SMTP client (RFC 5321 client side): one connection to one
 * next hop that delivers one queued message to some of its recipients
 * and, when the caller asks for reuse, further messages over the same
 * connection (smtp_client_next). It mirrors the server session: entering
 * a state sends its command and that state's reply handler picks the next
 * state. It knows nothing of the queue: the caller hands it an open
 * message file and a recipient list and gets one result per recipient
 * back. Extensions used when the peer offers them: STARTTLS (policy per
 * destination), AUTH PLAIN/LOGIN (smarthost only, only under TLS),
 * PIPELINING (RFC 2920), SIZE (RFC 1870), 8BITMIME (RFC 6152), SMTPUTF8
 * (RFC 6531), ENHANCEDSTATUSCODES (RFC 2034).
 *
 * Also here, pure and unit-tested (client.c): the reply reader
 * (multi-line replies, EHLO keywords), enhanced status codes, the message
 * classifier and the DATA dot-stuffer (RFC 5321 4.5.2). The session
 * itself is in client_session.c.
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
	bool		has_pipelining;
	bool		has_8bitmime;
	bool		has_smtputf8;
	bool		has_enhanced;	/* ENHANCEDSTATUSCODES */
	bool		has_auth_plain;	/* AUTH (or AUTH=) lists PLAIN */
	bool		has_auth_login;	/* ... LOGIN */
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

/*
 * The enhanced status code (RFC 3463: class.subject.detail, 2/4/5 then
 * 1-3 digits twice) that follows the reply code in text, e.g. "5.1.1" of
 * "550 5.1.1 no such user". The class must match the reply code's first
 * digit (RFC 2034 section 4). Writes it NUL-terminated to out (16 bytes)
 * and returns 0, or returns -1 with out "" when there is none.
 */
int	smtp_reply_status(const char *text, char out[16]);

/* --- the message (pure) --- */

/* True when s (NUL-terminated) has a byte outside US-ASCII. */
bool	smtp_text_is_8bit(const char *s, size_t len);
/*
 * True when the first Received field of the header section in head (the
 * start of the message, len bytes) names a UTF8SMTP* protocol ("with
 * UTF8SMTPS", RFC 6531 4.3): the one our server wrote when it received
 * the message with SMTPUTF8, so the next hop must support it too.
 */
bool	smtp_head_received_utf8(const char *head, size_t len);

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
	/*
	 * Enhanced status code of the reply: the peer's when it announced
	 * ENHANCEDSTATUSCODES, ours for failures we decide (5.3.4, 5.6.3,
	 * 5.6.7, 4.4.2 ...); "" when none.
	 */
	char	status[16];
	char	reply[SMTP_REPLY_TEXT];
};

struct smtp_client_result {
	const char	*peer;		/* "127.0.0.1:2525" */
	const char	*tls;		/* "no" or e.g. "TLSv1.3" */
	const char	*cipher;	/* "" without TLS */
	size_t		 n_rcpt;
	const struct smtp_client_rcpt_result	*rcpt;	/* params' order */
	bool		 pipelined;	/* MAIL/RCPT/DATA went as one batch */
	unsigned	 n_message;	/* 1 for the connection's first message */
	/*
	 * The connection is idle and good for another message: the caller
	 * must call smtp_client_next() or smtp_client_close() (from done()
	 * or later). False: the client is freed when done() returns.
	 */
	bool		 reusable;
};

/* Seconds an idle connection waits for smtp_client_next() by default. */
#define SMTP_CLIENT_IDLE_DEFAULT	10

struct smtp_client_params {
	/* Connection: used by smtp_client_start, ignored by _next. */
	struct event_base	*base;
	const struct config	*cfg;		/* timeouts, hostname, policy */
	SSL_CTX			*tls_ctx;	/* client context; NULL = no TLS */
	const char		*tls_name;	/* checked under verify */
	/*
	 * The STARTTLS policy for this destination, normally
	 * config_tls_policy_find(cfg, domain); NULL = cfg->tls_outbound.
	 */
	const enum config_tls_outbound	*tls_mode;
	/*
	 * The hop is relay_host: authenticate with relay_auth_user (only
	 * after TLS). Also assumed when addr equals relay_host's address;
	 * credentials never go anywhere else.
	 */
	bool			 is_relay_host;
	const struct sockaddr	*addr;
	socklen_t		 addrlen;
	const char		*peer_text;
	/*
	 * Keep the connection after a message for smtp_client_next() (see
	 * smtp_client_result.reusable); idle_timeout seconds idle (0 =
	 * SMTP_CLIENT_IDLE_DEFAULT) and it says QUIT by itself, calling
	 * closed(closed_arg) first.
	 */
	bool			 reuse;
	unsigned		 idle_timeout;
	/*
	 * Called (from the event loop, never from inside a client call)
	 * when an idle connection ends by itself: idle timeout, peer hung
	 * up or said 421. The client must not be used once it is called;
	 * it frees itself. May be NULL. _next replaces it when non-NULL.
	 */
	void	(*closed)(void *closed_arg);
	void			*closed_arg;

	/* Message: used by smtp_client_start and smtp_client_next. */
	const char		*sender;	/* "" for <> */
	size_t			 n_rcpt;
	const char *const	*rcpt;
	int			 msg_fd;	/* read from msg_offset to EOF */
	off_t			 msg_offset;
	uint64_t		 msg_size;	/* bytes from msg_offset */
	/*
	 * Called exactly once per message, from the event loop, with every
	 * recipient's result; the result is valid until it returns (or
	 * until it calls smtp_client_next). Unless result->reusable, the
	 * client is freed when it returns.
	 */
	void	(*done)(void *arg, const struct smtp_client_result *);
	void			*arg;
};

/*
 * Starts a delivery (non-blocking connect). Strings and arrays of params
 * are copied; msg_fd stays the caller's (to close after done). The
 * message file is read once here to see whether it is 8-bit. Returns
 * the client; without reuse it frees itself after done() has been called.
 */
struct smtp_client	*smtp_client_start(const struct smtp_client_params *);
/*
 * Delivers another message over an idle connection (the last done() said
 * reusable): RSET (RFC 5321 4.1.1.5), then MAIL ... as for the first one.
 * Only the message fields of p (and closed/closed_arg when set) are used;
 * they are copied. May be called from done(). done() follows exactly once
 * as for smtp_client_start; a connection that broke while idle gives every
 * recipient a 4.4.2 temporary failure. Returns 0, or -1 when c is not idle
 * (a bug of the caller; nothing happens).
 */
int	smtp_client_next(struct smtp_client *c,
	    const struct smtp_client_params *p);
/*
 * Ends an idle connection politely (QUIT, then the client frees itself;
 * closed() is not called). May be called from done(). NULLs *cp.
 */
void	smtp_client_close(struct smtp_client **cp);
/*
 * Aborts at once, in any state, without calling done() or closed()
 * (shutdown). Not from inside done(). NULLs *cp.
 */
void	smtp_client_free(struct smtp_client **cp);

#endif
