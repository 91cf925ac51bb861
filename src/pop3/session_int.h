/*
 * Private to src/pop3/: the session structure, the command table entry
 * and the helpers command handlers use. Handlers reply through
 * pop3_ok()/pop3_err() (or the multi-line helpers) and return; only
 * session.c and the RETR/TOP streamer write to the connection.
 */
#ifndef SEALPOST_POP3_SESSION_INT_H
#define SEALPOST_POP3_SESSION_INT_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>
#include <sys/socket.h>

#include "core/str.h"
#include "net/service.h"
#include "pop3/parse.h"

struct conn;
struct event;
struct sasl_session;
struct store_mailbox;
struct pop3_stream;

/* RFC 1939 section 3: the states, as bits so a table row lists where a
 * command is legal. PS_TLS_WAIT is the implicit TLS handshake (995). */
enum pop3_state {
	PS_TLS_WAIT = 1 << 0,
	PS_AUTHORIZATION = 1 << 1,
	PS_TRANSACTION = 1 << 2,
	PS_UPDATE = 1 << 3,
};

/* How input is being read. */
enum pop3_mode {
	PM_COMMAND,	/* command lines */
	PM_SASL,	/* AUTH continuation lines (RFC 5034) */
	PM_WAIT,	/* async work, a delayed reply or a RETR/TOP stream */
};

enum cmd_rc { CMD_DONE, CMD_ASYNC, CMD_CLOSE };

/* Command flags. */
#define CMD_RAW_ARG	0x01u	/* the handler parses rest itself (PASS) */

struct pop3_session;

struct pop3_cmd {
	const char	*keyword;
	unsigned	 states;	/* where the command is legal */
	unsigned	 flags;
	unsigned char	 min_args, max_args;
	unsigned short	 arg_max;	/* octets per argument */
	enum cmd_rc	(*run)(struct pop3_session *,
			    const struct str_view *args, size_t nargs,
			    struct str_view rest);
};

/* The maildrop during TRANSACTION: the store's listing plus our marks. */
struct pop3_drop {
	struct store_mailbox	*mb;
	size_t			 n;
	bool			*deleted;	/* DELE marks (RFC 1939 5) */
	bool			*retrieved;	/* RETR: move to cur/ with S */
	size_t			 n_deleted;
	uint64_t		 size_total;	/* of all messages */
	uint64_t		 size_deleted;
};

#define POP3_N_COUNTERS	20

struct pop3_session {
	struct service_session	 link;		/* first: the worker's list */
	struct service		*svc;
	enum service_kind	 kind;
	uint64_t		 id;
	char			 sid[17];
	struct conn		*conn;
	struct sockaddr_storage	 peer;
	socklen_t		 peerlen;
	char			 peer_ip[64];
	char			 peer_text[80];

	unsigned		 state;
	enum pop3_mode		 mode;
	bool			 closing;
	bool			 drain_requested;
	bool			 skipping_long_line;
	time_t			 line_started;	/* first byte of a partial line */
	const char		*close_reason;
	/* RFC 1939 section 7: the greeting's msg-id, "" without APOP. */
	char			 timestamp[128];

	char			*user;		/* USER argument, before PASS */
	char			*login;		/* authenticated account */
	unsigned		 errors;
	unsigned		 auth_failures;
	struct service_counter	 counters[POP3_N_COUNTERS];
	const char		*current_verb;

	struct sasl_session	*sasl;
	struct service_job	*pending;	/* async work in flight */
	struct event		*delay_timer;	/* throttled auth replies */
	bool			 delayed_ok;	/* the verdict being delayed */
	char			*delayed_login;	/* account (ok) or name tried */
	const char		*delayed_mech;

	struct pop3_drop	*drop;		/* TRANSACTION state only */
	struct pop3_stream	*stream;	/* RETR/TOP being sent */
};

/* --- session.c --- */
/*
 * Appends "+OK text" / "-ERR text" (one line, cut to fit the RFC 1939
 * 512-octet limit). -ERR replies are logged and count toward max_errors;
 * passing it closes the session.
 */
void	pop3_ok(struct pop3_session *, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
void	pop3_err(struct pop3_session *, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
/* One line of a multi-line response body, dot-stuffed (RFC 1939 3). */
void	pop3_line(struct pop3_session *, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
/* Ends a multi-line response: ".". */
void	pop3_end(struct pop3_session *);
void	pop3_set_state(struct pop3_session *, unsigned state);
/* Closes once the pending output is flushed. */
void	pop3_close(struct pop3_session *, const char *reason);
/* Resumes reading commands after async work, a delay or a stream. */
void	pop3_resume(struct pop3_session *);
bool	pop3_is_tls(const struct pop3_session *);
/* Plaintext passwords (USER/PASS, AUTH PLAIN) are allowed: under TLS. */
bool	pop3_plaintext_allowed(const struct pop3_session *);
/* False on port 110 before STLS when pop3_require_tls is set: no login at all. */
bool	pop3_login_allowed(const struct pop3_session *);
void	pop3_log(const struct pop3_session *, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
/*
 * Runs work on the pool, then done on the loop thread with the session,
 * or with s == NULL when it ended meanwhile (done then frees arg and
 * whatever it owns). Reading pauses until pop3_resume().
 */
void	pop3_async(struct pop3_session *, void (*work)(void *arg),
	    void (*done)(void *owner, void *arg), void *arg);
/* Frees a maildrop listing, closing (unlocking) its mailbox. */
void	pop3_drop_free(struct pop3_drop **);

/* --- handlers --- */
#define POP3_HANDLER(name) enum cmd_rc name(struct pop3_session *, \
	    const struct str_view *, size_t, struct str_view)
POP3_HANDLER(pop3_cmd_capa);
POP3_HANDLER(pop3_cmd_stls);
POP3_HANDLER(pop3_cmd_user);
POP3_HANDLER(pop3_cmd_pass);
POP3_HANDLER(pop3_cmd_apop);
POP3_HANDLER(pop3_cmd_auth);
POP3_HANDLER(pop3_cmd_quit);
POP3_HANDLER(pop3_cmd_stat);
POP3_HANDLER(pop3_cmd_list);
POP3_HANDLER(pop3_cmd_uidl);
POP3_HANDLER(pop3_cmd_dele);
POP3_HANDLER(pop3_cmd_rset);
POP3_HANDLER(pop3_cmd_noop);
POP3_HANDLER(pop3_cmd_retr);
POP3_HANDLER(pop3_cmd_top);

/*
 * cmd_trans.c: the 0-based index of live message number arg; replies
 * -ERR (bad number, out of range, deleted) and returns -1 otherwise.
 */
int	pop3_msg_lookup(struct pop3_session *, struct str_view arg,
	    size_t *idx);
/* cmd_auth.c: a SASL continuation line (PM_SASL mode). */
void	pop3_auth_continue(struct pop3_session *, struct str_view line);
/* cmd_auth.c: drops any SASL exchange and pending verdict. */
void	pop3_auth_cleanup(struct pop3_session *);
/* cmd_retr.c: frees a stream (closing its file). */
void	pop3_stream_free(struct pop3_stream **);
/* cmd_retr.c: output drained; sends more of the message. */
void	pop3_stream_pump(struct pop3_session *);

#endif
