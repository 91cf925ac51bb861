/*
 * The storage interface: the only way sessions, the relay and the admin
 * tool touch messages on disk. This backend keeps Maildir folders, a spool
 * for messages being received and an outbound queue, all under one
 * data_dir on one filesystem so that a message is written once and then
 * only hard-linked:
 *
 *   data_dir/spool/<id>                    message being received
 *   data_dir/mail/<domain>/<local>/{tmp,new,cur}/<maildir name>
 *   data_dir/queue/<id>, queue/<id>.env    outbound message + envelope
 *
 * It knows nothing of sockets or SMTP. Functions marked BLOCKING do disk
 * syncs and belong on a thread pool, never on an event loop thread.
 *
 * Error strings: every function that fails with -1 sets *errstr to text
 * that names the failing call. Unless stated otherwise that text lives in
 * the object the call was made on and stays valid until the next call on
 * that object or its free; for calls that return a new object (store_open,
 * store_spool_create, store_mailbox_open) it lives in thread-local storage
 * and stays valid until the next store call on the same thread: a pool
 * job must copy such text before it ends if the loop thread is to see it.
 *
 * Durability relies on a journaling filesystem (ext4, xfs) ordering
 * metadata: an fsync of new/ also commits an earlier mkdir of the
 * Maildir by a concurrent delivery.
 */
#ifndef SEALPOST_STORE_STORE_H
#define SEALPOST_STORE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct buf;
struct store;
struct store_spool;
struct store_mailbox;

/* Returned by store_mailbox_open when another session holds the maildrop. */
#define STORE_LOCKED	(-2)

/* A spool/queue id: 16 lower-case hex digits. */
#define STORE_ID_LEN	16

/*
 * Opens (creating spool/, queue/ and mail/ if missing) the store under
 * data_dir. hostname goes into Maildir file names. Keeps directory fds open
 * until store_free(). NULL with *errstr on failure.
 */
struct store	*store_open(const char *data_dir, const char *hostname,
		    const char **errstr);
/* Closes the directory fds and frees; NULLs the pointer. */
void		 store_free(struct store **);
/*
 * Start-up recovery, BLOCKING, before any session runs: removes every file
 * in spool/ (a message still there was never acknowledged), Maildir tmp/
 * files older than 36 hours, queue temp files, and queue messages without
 * an envelope. Returns how many files were removed, or -1 when a directory
 * could not be read (what could be cleaned is still cleaned; logged).
 */
int		 store_recover(struct store *);

/* --- Receiving: the write path --- */

/*
 * Starts a new message with a unique id. The spool's memory is bounded
 * (one 64 KiB buffer) whatever the message size; the file spool/<id> is
 * created only once the buffer overflows or a commit needs it, so a
 * message that fits the buffer and goes to one Maildir is written once,
 * straight into that Maildir. NULL with *errstr on failure.
 */
struct store_spool	*store_spool_create(struct store *, const char **errstr);
/* The message id (STORE_ID_LEN hex digits); valid while the spool lives. */
const char	*store_spool_id(const struct store_spool *);
/*
 * Appends len bytes (buffered). Returns 0, or -1 with *errstr on a write
 * failure (e.g. ENOSPC); after a failure every later write and the commit
 * fail too, so an incomplete message is never delivered.
 */
int		 store_spool_write(struct store_spool *, const void *data,
		    size_t len, const char **errstr);
/* Bytes of the message so far: the prefix and everything written. */
uint64_t	 store_spool_size(const struct store_spool *);

/* The most octets store_spool_set_prefix() takes. */
#define STORE_PREFIX_MAX	(256 * 1024)

/*
 * Sets the octets stored before everything written to the spool, for
 * header fields known only once the message is complete (trace fields,
 * Authentication-Results, DKIM-Signature). Replaces an earlier prefix;
 * copied, so data need not outlive the call. Cheap either way: while the
 * whole message still sits in the spool's buffer (up to 64 KiB, the usual
 * case) commit writes the prefix in front of it; when part of it is
 * already in the file, commit writes the prefix to a new file, copies the
 * spooled octets after it inside the kernel (copy_file_range) and puts
 * that file under the spool's name before syncing it; only the new file
 * is synced. Returns 0, or -1 with *errstr when len is over
 * STORE_PREFIX_MAX or the spool already failed or was committed.
 */
int		 store_spool_set_prefix(struct store_spool *, const void *data,
		    size_t len, const char **errstr);

struct store_delivery {
	const char		*sender;	/* envelope sender, "" for <> */
	size_t			 n_local;
	const char *const	*local;		/* account addresses local@domain */
	size_t			 n_remote;
	const char *const	*remote;	/* recipients for queue/ */
};

/*
 * BLOCKING. Makes the message durable for every recipient: puts the
 * prefix in front (see store_spool_set_prefix), flushes and
 * fsyncs the spool file, hard-links it into each local account's Maildir
 * (tmp/ then rename into new/, creating the Maildir on first delivery) and,
 * when there are remote recipients, into queue/ with an envelope; fsyncs
 * the directories. (A message still in the buffer for exactly one local
 * account is written into that Maildir's tmp/ instead, fsynced and
 * renamed: the same guarantees without a spool file.) Returns 0 only when
 * all of that is on disk; then answer
 * 250 and call store_spool_free(). Returns -1 with *errstr when anything
 * failed, after undoing every link it made (nothing half delivered); then
 * answer 4xx and call store_spool_abort(). Duplicate local accounts are
 * delivered once. Safe to run concurrently for different spools on
 * several threads; the delivery struct is only read during the call.
 */
int		 store_spool_commit(struct store_spool *,
		    const struct store_delivery *, const char **errstr);
/* Unlinks the spool file and frees (message not accepted). NULLs *sp. */
void		 store_spool_abort(struct store_spool **);
/*
 * After a successful commit: removes the spool name (the delivered links
 * remain) and frees. Without a successful commit it behaves as abort.
 */
void		 store_spool_free(struct store_spool **);

/* --- The outbound queue --- */

enum queue_rcpt_state {
	QUEUE_RCPT_PENDING,
	QUEUE_RCPT_DELIVERED,
	QUEUE_RCPT_FAILED
};

/* Limits the envelope parser enforces (hostile or corrupt files). */
#define QUEUE_ENV_MAX_RCPTS	1000
#define QUEUE_ENV_MAX_ADDR	512	/* decoded bytes */
#define QUEUE_ENV_MAX_REPLY	1024	/* decoded bytes */
#define QUEUE_ENV_MAX_SIZE	(2 * 1024 * 1024)	/* whole file */

struct queue_rcpt {
	enum queue_rcpt_state	 state;
	uint32_t		 attempts;
	uint64_t		 next_try;	/* unix time; 0 = now */
	char			*addr;		/* never NULL */
	char			*last_reply;	/* never NULL; "" when none */
};

struct queue_envelope {
	char			 id[STORE_ID_LEN + 1];
	char			*sender;	/* never NULL; "" for <> */
	uint64_t		 arrival;	/* unix time */
	uint64_t		 delay_notified;	/* unix time; 0 = not yet */
	size_t			 n_rcpt;
	struct queue_rcpt	*rcpt;
};

/*
 * Parses an envelope file (format at the top of queue.c). Pure and bounded
 * by the QUEUE_ENV_* limits. Returns 0 with *out filled (strings owned by
 * *out, release with store_queue_envelope_cleanup), or -1 with *out empty.
 */
int	store_queue_envelope_parse(const char *data, size_t len,
	    struct queue_envelope *out);
/*
 * Serialises an envelope into out (appended). Returns 0, or -1 when a
 * field is over a limit or out's max is reached. Parsing the result gives
 * back the same envelope.
 */
int	store_queue_envelope_format(const struct queue_envelope *,
	    struct buf *out);
/* Frees the strings of an envelope and zeroes it; safe to call twice. */
void	store_queue_envelope_cleanup(struct queue_envelope *);
/* Adds a pending recipient (copied). Returns 0, -1 when over a limit. */
int	store_queue_envelope_add_rcpt(struct queue_envelope *,
	    const char *addr);

/*
 * BLOCKING. Reads queue/<id>.env. Returns 0, or -1 with *errstr (text in
 * thread-local storage) when it is missing, unreadable or malformed.
 */
int	store_queue_envelope_load(struct store *, const char *id,
	    struct queue_envelope *out, const char **errstr);
/*
 * BLOCKING. Atomically replaces queue/<env->id>.env (temp file, fsync,
 * rename, directory fsync). Returns 0 or -1 with *errstr (thread-local).
 */
int	store_queue_envelope_save(struct store *,
	    const struct queue_envelope *, const char **errstr);
/* Opens queue/<id> read-only; fd or -1 with *errstr (thread-local). */
int	store_queue_message_open(struct store *, const char *id,
	    const char **errstr);
/*
 * BLOCKING. Removes a finished queue entry (envelope first, so a crash in
 * between leaves a message that recovery deletes). 0 or -1 with *errstr.
 */
int	store_queue_remove(struct store *, const char *id,
	    const char **errstr);
/*
 * Calls fn for the id of every committed queue entry (an .env file), in
 * no particular order; stops early when fn returns non-zero. Returns 0,
 * or -1 with *errstr (thread-local) when queue/ cannot be read.
 */
int	store_queue_list(struct store *,
	    int (*fn)(const char *id, void *arg), void *arg,
	    const char **errstr);

/* --- Reading: the POP3 maildrop --- */

struct store_msg_info {
	const char	*uid;	/* unique-id (RFC 1939 UIDL): 0x21-0x7E, <= 70 */
	uint64_t	 size;	/* octets as served, with CRLF line ends */
	bool		 needs_crlf_conversion;	/* file has bare LF */
	/*
	 * The file is the served form byte for byte (CRLF only, no line
	 * starting with '.', final CRLF): marked so at delivery, see
	 * maildir_scan_update(); RETR may send it with sendfile(2).
	 */
	bool		 raw;
};

/*
 * BLOCKING (directory scan). Opens account's maildrop ("local@domain")
 * under an exclusive lock (flock on the Maildir's .lock file, so a crashed
 * holder never locks the user out) and lists its messages in new/ and
 * cur/, oldest delivery first. A missing Maildir is an empty maildrop.
 * Returns 0 with *out set, STORE_LOCKED when another session holds the
 * lock, or -1 with *errstr.
 */
int	store_mailbox_open(struct store *, const char *account,
	    struct store_mailbox **out, const char **errstr);
size_t	store_mailbox_count(const struct store_mailbox *);
/*
 * Message index (0-based, < count); the pointer and its uid stay valid
 * until store_mailbox_close(). NULL when index is out of range.
 */
const struct store_msg_info	*store_mailbox_msg(const struct store_mailbox *,
				    size_t index);
/*
 * Opens message index read-only (following it if another program moved it
 * from new/ to cur/). Returns an fd the caller closes, or -1 with *errstr
 * (text in the mailbox) when it is gone.
 */
int	store_message_open(struct store_mailbox *, size_t index,
	    const char **errstr);
/*
 * BLOCKING. The POP3 UPDATE state (RFC 1939 section 6): deletes every
 * message with deleted[i], moves the other retrieved[i] ones from new/ to
 * cur/ with the Seen flag (":2,S"), fsyncs the directories. Both arrays
 * have store_mailbox_count() entries; retrieved may be NULL. Messages
 * already gone count as deleted. Returns 0, or -1 with *errstr after
 * doing as much as it could. The lock is kept: call store_mailbox_close().
 */
int	store_mailbox_commit(struct store_mailbox *, const bool *deleted,
	    const bool *retrieved, const char **errstr);
/* Releases the lock and frees, with no changes. NULLs *mb. */
void	store_mailbox_close(struct store_mailbox **);

/* --- Names --- */

/*
 * Maps an account "local@domain" to its Maildir path relative to mail/
 * ("<domain>/<local>"): the domain lower-cased, each part encoded so it is
 * one safe path component ('%' '/' control bytes as %XX, a leading '.' as
 * %2E). Returns 0, or -1 when the account has no '@', an empty part, or an
 * encoded part longer than 255 bytes.
 */
int	store_account_path(const char *account, char *out, size_t outsz);

#endif
