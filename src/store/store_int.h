/*
 * Private to src/store/: the store object shared by spool.c, maildir.c,
 * queue.c and mailbox.c, and the small syscall helpers they share.
 */
#ifndef SEALPOST_STORE_STORE_INT_H
#define SEALPOST_STORE_STORE_INT_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "store/store.h"

#define STORE_ERR_MAX		320
#define STORE_NAME_MAX		255	/* one path component */
#define STORE_PATH_MAX		(3 * (STORE_NAME_MAX + 1))
#define STORE_SPOOL_BUFSZ	(64 * 1024)
#define STORE_TMP_MAX_AGE	(36 * 60 * 60)	/* Maildir spec: 36 hours */

struct maildir_cache;

struct store {
	int	 root_fd;
	int	 spool_fd;
	int	 queue_fd;
	int	 mail_fd;
	char	*hostname;	/* escaped for Maildir names */
	/* Open Maildirs of recent deliveries (maildir.c); created lazily. */
	struct maildir_cache * _Atomic mdcache;
};

/* Formats an error into buf (size STORE_ERR_MAX) and returns buf. */
const char	*store_err(char *buf, const char *fmt, ...)
		    __attribute__((format(printf, 2, 3)));
/* Thread-local error text for calls that have no object to hold it. */
char		*store_tls_errbuf(void);

/* write(2) until done or error (EINTR retried); 0 or -1 with errno. */
int	store_write_all(int fd, const void *data, size_t len);
/* Opens dir (relative to dirfd) and fsyncs it; 0 or -1 with errno. */
int	store_fsync_dirat(int dirfd, const char *path);
/*
 * Opens the directory name under dirfd, creating it (0700) if missing.
 * *created says whether it was created (the caller must then fsync dirfd).
 * Returns the fd or -1 with errno.
 */
int	store_mkdir_open(int dirfd, const char *name, int *created);
/* rename without replacing an existing target; 0 or -1 with errno. */
int	store_rename_noreplace(int olddir, const char *oldname, int newdir,
	    const char *newname);
/* Fills buf with n random bytes (getrandom, falling back to time/pid). */
void	store_random(void *buf, size_t n);

/* maildir.c */

/* Escapes a hostname for Maildir names; the result is the caller's. */
char	*maildir_hostname_escape(const char *host);
/*
 * Whether a message can be served by POP3 exactly as stored (RETR with
 * sendfile): CRLF line ends only, no line starting with '.', and a final
 * CRLF. Learnt while the message streams into the spool, so it costs one
 * memchr pass over bytes already in cache. Zero-initialised = empty
 * message, nothing seen yet.
 */
struct maildir_scan {
	bool	mid_line;	/* the last byte seen was not LF */
	bool	prev_cr;	/* the last byte seen was CR */
	bool	dirty;		/* needs conversion or dot-stuffing */
};
void	maildir_scan_update(struct maildir_scan *, const void *data,
	    size_t len);
/* True when everything seen so far (non-empty) needs no conversion. */
bool	maildir_scan_raw(const struct maildir_scan *, uint64_t size);
/* Added to the unique name of a message maildir_scan_raw() accepted. */
#define MAILDIR_RAW_FLAG	",P=1"
/*
 * Builds a fresh Maildir unique name for a message of size bytes, with
 * MAILDIR_RAW_FLAG after ",S=<size>" when raw.
 */
int	maildir_name_new(const struct store *, uint64_t size, bool raw,
	    char *out, size_t outsz);
/*
 * Opens (creating if create) the Maildir at rel ("<d>/<l>") under mail/.
 * Returns the fd, or -1 with errno (ENOENT when missing and !create).
 * With create, a Maildir a recent delivery already opened comes from the
 * store's cache of directory fds (a dup, no path walk, no mkdir), as long
 * as it is still linked into the tree.
 */
int	maildir_open(struct store *, const char *rel, int create);
/*
 * fsync()s rel's new/ directory, through the cached fd when there is
 * one. 0 or -1 with errno. Safe on several threads at once: the cache
 * lock is not held across the fsync, so the filesystem can group them.
 */
int	maildir_fsync_new(struct store *, const char *rel);
/* Drops every cached directory fd (after a failed delivery: a Maildir
 * may have been removed or replaced under us). */
void	maildir_cache_forget(struct store *);
/* Frees the cache (store_free). */
void	maildir_cache_free(struct store *);

/* queue.c: the queue side of store_spool_commit(). */

/*
 * Links spool/<id> to queue/<id> and writes queue/<id>.env.tmp (fsynced).
 * 0, or -1 with err (STORE_ERR_MAX) filled; undo with queue_unstage().
 */
int	queue_stage(struct store *, const char *id,
	    const struct store_delivery *, char *err);
/* Renames the staged envelope into place and fsyncs queue/. */
int	queue_publish(struct store *, const char *id, char *err);
/* Removes whatever queue_stage/queue_publish created for id. */
void	queue_unstage(struct store *, const char *id);
/* Removes queue temp files and messages without an envelope. */
int	queue_recover(struct store *);
/* True when s is exactly STORE_ID_LEN lower-case hex digits. */
bool	store_id_valid(const char *s, size_t len);

#endif
