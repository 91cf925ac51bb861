/*
 * Private to src/smtp/: the session structure, the command table and the
 * helpers command handlers use. Handlers fill a reply through
 * smtp_reply() and return; only session.c writes to the connection.
 */
#ifndef SEALPOST_SMTP_SESSION_INT_H
#define SEALPOST_SMTP_SESSION_INT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <time.h>

#include "core/addr.h"
#include "core/str.h"
#include "core/strlist.h"
#include "net/service.h"
#include "policy/authres.h"
#include "policy/spf.h"
#include "smtp/data.h"
#include "smtp/header.h"

struct conn;
struct event;
struct sasl_session;
struct store_spool;
struct smtp_mail_check;
struct smtp_authcheck;
struct smtp_copies;

/* Session states are bits so a command table row lists where a verb is legal. */
enum smtp_state {
	SS_TLS_WAIT = 1 << 0,	/* implicit TLS handshake before the greeting */
	SS_GREET = 1 << 1,	/* greeting sent, no HELO/EHLO yet */
	SS_READY = 1 << 2,	/* HELO/EHLO done, no transaction */
	SS_MAIL = 1 << 3,	/* MAIL accepted */
	SS_RCPT = 1 << 4,	/* at least one RCPT accepted */
	SS_BDAT = 1 << 5,	/* inside a BDAT sequence (RFC 3030) */
};
#define SS_ANY	(SS_GREET | SS_READY | SS_MAIL | SS_RCPT | SS_BDAT)

/* How the input is being read. */
enum smtp_input_mode {
	SM_COMMAND,	/* command lines */
	SM_AUTH,	/* SASL continuation lines */
	SM_DATA,	/* DATA body up to <CRLF>.<CRLF> */
	SM_BDAT,	/* a BDAT chunk of known size */
	SM_WAIT,	/* async work pending; input stays queued */
};

enum cmd_rc { CMD_DONE, CMD_ASYNC, CMD_CLOSE };

/* Command flags. */
#define CMD_NEEDS_HELO	0x01u	/* 503 before HELO/EHLO */

struct smtp_session;

struct smtp_cmd {
	const char	*verb;
	unsigned	 states;	/* where the verb is legal, else 503 */
	unsigned	 flags;
	enum cmd_rc	(*run)(struct smtp_session *, struct str_view args);
};

/* The per-transaction state, allocated at MAIL and freed at its end. */
struct smtp_txn {
	struct mailaddr		 sender;
	char			 sender_text[ADDR_FORMAT_MAX];
	bool			 smtputf8;
	bool			 body_8bit;
	uint64_t		 declared_size;
	unsigned		 n_rcpt;
	char			 first_rcpt[ADDR_FORMAT_MAX];
	struct strlist		 local;		/* accounts, deduplicated */
	struct strlist		 remote;	/* addresses for the queue */
	struct smtp_copies	*copies;	/* aliases' copies (expand.h) */
	struct store_spool	*spool;
	struct smtp_data	 data;		/* DATA/BDAT reader state */
	struct smtp_header	 header;	/* header scanner state */
	bool			 headers_added;	/* Message-ID/Date insertion done */
	bool			 write_failed;	/* spool write error: 4xx at end */
	char			 write_error[160];
	struct authres_filter	 authres;	/* strips incoming A-R fields */
	bool			 strip_authres;	/* sender outside our boundary */
	bool			 spf_checked;	/* for Authentication-Results */
	bool			 spf_is_helo;	/* identity: HELO (null sender) */
	enum spf_result		 spf;
	struct smtp_authcheck	*auth;		/* DKIM/DMARC; NULL = none */
	uint64_t		 bdat_remaining;
	bool			 bdat_last;
	unsigned		 bdat_chunks;
};

#define SMTP_N_COUNTERS	16

struct smtp_session {
	struct service_session	 link;		/* first: the worker's list */
	struct service		*svc;
	enum service_kind	 kind;
	uint64_t		 id;
	char			 sid[17];
	struct conn		*conn;
	struct sockaddr_storage	 peer;
	socklen_t		 peerlen;
	char			 peer_ip[64];	/* printable, for logs/Received */
	char			 peer_text[80];	/* ip:port */

	unsigned		 state;
	enum smtp_input_mode	 mode;
	bool			 esmtp;		/* EHLO (not HELO) */
	bool			 is_trusted;	/* inside trusted_networks */
	bool			 closing;
	bool			 drain_requested;
	bool			 skipping_long_line;
	time_t			 line_started;	/* first byte of a partial line */
	char			*helo;		/* HELO/EHLO argument */
	char			*login;		/* authenticated account */
	const char		*close_reason;

	unsigned		 errors;
	unsigned		 auth_failures;
	struct service_counter	 counters[SMTP_N_COUNTERS];
	const char		*current_verb;

	struct smtp_txn		*txn;
	struct sasl_session	*sasl;
	struct service_job	*pending;	/* async work in flight */
	struct smtp_mail_check	*mail_check;	/* MAIL FROM DNS checks */
	struct event		*delay_timer;	/* throttled auth replies */
	int			 auth_delayed_step;
	uint64_t		 bdat_discard;	/* chunk octets to skip */
	bool			 bdat_discarding;
};

/* --- session.c --- */
/*
 * Appends one reply line "code enh text" (enh may be NULL) and logs
 * failures; 4xx/5xx replies count toward max_errors (the session is
 * closed with 421 when it passes it).
 */
void	smtp_reply(struct smtp_session *, unsigned code, const char *enh,
	    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* A multi-line reply: every line but the last uses "code-". */
void	smtp_reply_line(struct smtp_session *, unsigned code, bool last,
	    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
void	smtp_set_state(struct smtp_session *, unsigned state);
/* Replies, then closes once the reply is flushed. */
void	smtp_close(struct smtp_session *, const char *reason);
/* Frees the session's transaction (aborting its spool). */
void	smtp_txn_reset(struct smtp_session *);
/* Frees a transaction detached from its session. NULLs *tp. */
void	smtp_txn_free(struct smtp_txn **);
/* Resumes reading commands after async work. */
void	smtp_resume(struct smtp_session *);
bool	smtp_is_submission(const struct smtp_session *);
bool	smtp_is_tls(const struct smtp_session *);
/* Logs an event line with the session prefix. */
void	smtp_log(const struct smtp_session *, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));

/*
 * Runs work on the pool, then done on the loop thread if the session still
 * exists (else done is called with s == NULL so it can free its argument).
 */
void	smtp_async(struct smtp_session *, void (*work)(void *arg),
	    void (*done)(void *owner, void *arg), void *arg);

/* --- handlers (cmd_*.c) --- */
enum cmd_rc	smtp_cmd_helo(struct smtp_session *, struct str_view);
enum cmd_rc	smtp_cmd_ehlo(struct smtp_session *, struct str_view);
enum cmd_rc	smtp_cmd_mail(struct smtp_session *, struct str_view);
enum cmd_rc	smtp_cmd_rcpt(struct smtp_session *, struct str_view);
enum cmd_rc	smtp_cmd_data(struct smtp_session *, struct str_view);
enum cmd_rc	smtp_cmd_bdat(struct smtp_session *, struct str_view);
enum cmd_rc	smtp_cmd_rset(struct smtp_session *, struct str_view);
enum cmd_rc	smtp_cmd_noop(struct smtp_session *, struct str_view);
enum cmd_rc	smtp_cmd_quit(struct smtp_session *, struct str_view);
enum cmd_rc	smtp_cmd_vrfy(struct smtp_session *, struct str_view);
enum cmd_rc	smtp_cmd_expn(struct smtp_session *, struct str_view);
enum cmd_rc	smtp_cmd_help(struct smtp_session *, struct str_view);
enum cmd_rc	smtp_cmd_starttls(struct smtp_session *, struct str_view);
enum cmd_rc	smtp_cmd_auth(struct smtp_session *, struct str_view);

/*
 * cmd_mail.c: forgets a MAIL FROM check in flight (its DNS answers will
 * not be looked at) and frees it; for a session being freed.
 */
void	smtp_mail_check_cancel(struct smtp_session *);

/* cmd_auth.c: a SASL continuation line (SM_AUTH mode). */
void	smtp_auth_continue(struct smtp_session *, struct str_view line);
/* cmd_data.c: feeds DATA/BDAT input; returns bytes consumed. */
size_t	smtp_data_input(struct smtp_session *, const char *p, size_t len);
size_t	smtp_bdat_input(struct smtp_session *, const char *p, size_t len);

#endif
