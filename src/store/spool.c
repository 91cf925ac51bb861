/*
 * The store object and the write path of one message (DESIGN.md, "Data on
 * disk"): DATA streams into spool/<id> through one bounded buffer; commit
 * fsyncs it and hard-links it into every recipient's Maildir and/or the
 * queue, fsyncs the directories, and only then reports success. A
 * message that never outgrew the buffer and has one local recipient skips
 * the spool file: commit_direct() writes it into that Maildir's tmp/. The
 * session answers 250 after that; any failure undoes the links so that a
 * 4xx never leaves a copy behind.
 *
 * Header fields known only at the end of the message go into a prefix
 * that commit puts in front (store_spool_set_prefix): for a message still
 * in the buffer that is one more write, for a larger one a copy inside
 * the kernel into a new file (docs/architecture.md, "Write path").
 *
 * Commits for different messages run concurrently on pool threads. They
 * share only directory fds (openat/linkat/renameat are thread-safe on
 * them) and atomic counters, and their fsyncs are what the filesystem can
 * group into one journal commit.
 */
#include "store/store_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "core/xmalloc.h"

struct store_spool {
	struct store	*st;
	int		 fd;
	char		 id[STORE_ID_LEN + 1];
	char		*buf;
	size_t		 buflen;
	uint64_t	 size;		/* octets written (prefix excluded) */
	bool		 flushed;	/* some octets are in the file */
	char		*prefix;	/* stored in front at commit */
	size_t		 prefix_len;
	struct maildir_scan	 scan;	/* servable as stored? (maildir.c) */
	struct maildir_scan	 prefix_scan;	/* the same for the prefix */
	bool		 failed;	/* a write failed: never commit */
	bool		 committed;
	char		 err[STORE_ERR_MAX];
};

enum target_state { TGT_NONE, TGT_DUP, TGT_TMP, TGT_NEW };

/*
 * Paths below are "<domain>/<local>/{tmp,new}/<name>" relative to mail/:
 * rel is at most 2 * 255 + 1 bytes and name at most 255 (both checked
 * when built), and the buffers are sized for that, so those snprintf
 * calls cannot truncate.
 */

struct target {
	char			rel[2 * STORE_NAME_MAX + 2];
	enum target_state	state;
};

static int
open_subdir(int root, const char *name, char *err)
{
	int created, fd;

	if ((fd = store_mkdir_open(root, name, &created)) == -1) {
		store_err(err, "mkdir/open(%s): %s", name, strerror(errno));
		return -1;
	}
	if (created)
		fsync(root);
	return fd;
}

struct store *
store_open(const char *data_dir, const char *hostname, const char **errstr)
{
	char *err = store_tls_errbuf();
	struct store *st;

	if (mkdir(data_dir, 0700) == -1 && errno != EEXIST) {
		*errstr = store_err(err, "mkdir(%s): %s", data_dir,
		    strerror(errno));
		return NULL;
	}
	st = xcalloc(1, sizeof(*st));
	st->spool_fd = st->queue_fd = st->mail_fd = -1;
	st->root_fd = open(data_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (st->root_fd == -1) {
		*errstr = store_err(err, "open(%s): %s", data_dir,
		    strerror(errno));
		store_free(&st);
		return NULL;
	}
	if ((st->spool_fd = open_subdir(st->root_fd, "spool", err)) == -1 ||
	    (st->queue_fd = open_subdir(st->root_fd, "queue", err)) == -1 ||
	    (st->mail_fd = open_subdir(st->root_fd, "mail", err)) == -1) {
		*errstr = err;
		store_free(&st);
		return NULL;
	}
	st->hostname = maildir_hostname_escape(hostname);
	return st;
}

void
store_free(struct store **stp)
{
	struct store *st = *stp;

	if (st == NULL)
		return;
	if (st->root_fd != -1)
		close(st->root_fd);
	if (st->spool_fd != -1)
		close(st->spool_fd);
	if (st->queue_fd != -1)
		close(st->queue_fd);
	if (st->mail_fd != -1)
		close(st->mail_fd);
	maildir_cache_free(st);
	free(st->hostname);
	free(st);
	*stp = NULL;
}

struct store_spool *
store_spool_create(struct store *st, const char **errstr)
{
	struct store_spool *sp;
	struct stat sb;

	(void)errstr;
	sp = xcalloc(1, sizeof(*sp));
	sp->st = st;
	sp->fd = -1;
	/*
	 * The id doubles as the queue id, so it must be unique in both
	 * directories: seconds (sortable) plus 32 random bits, and not in
	 * queue/ already. The spool file itself is made only when needed
	 * (spool_open_file), with O_EXCL; a clash there, as unlikely as two
	 * equal 32-bit draws in one second, fails that one message with a
	 * 4xx.
	 */
	for (int tries = 0; tries < 16; tries++) {
		uint32_t rnd;

		store_random(&rnd, sizeof(rnd));
		snprintf(sp->id, sizeof(sp->id), "%08x%08x",
		    (unsigned)(uint32_t)time(NULL), (unsigned)rnd);
		if (fstatat(st->queue_fd, sp->id, &sb, AT_SYMLINK_NOFOLLOW) != 0)
			break;
	}
	sp->buf = xmalloc(STORE_SPOOL_BUFSZ);
	return sp;
}

/*
 * Creates spool/<id> on first need: when the buffer overflows, or at a
 * commit that needs a file to link (several recipients, the queue). A
 * message that fits the buffer and goes to one Maildir never has one
 * (commit_direct).
 */
static int
spool_open_file(struct store_spool *sp)
{
	if (sp->fd != -1)
		return 0;
	/* Readable too: a late prefix copies the content out. */
	sp->fd = openat(sp->st->spool_fd, sp->id, O_RDWR | O_CREAT | O_EXCL |
	    O_CLOEXEC | O_NOFOLLOW, 0600);
	if (sp->fd == -1) {
		store_err(sp->err, "open(spool/%s): %s", sp->id,
		    strerror(errno));
		sp->failed = true;
		return -1;
	}
	return 0;
}

const char *
store_spool_id(const struct store_spool *sp)
{
	return sp->id;
}

uint64_t
store_spool_size(const struct store_spool *sp)
{
	return sp->size + sp->prefix_len;
}

int
store_spool_set_prefix(struct store_spool *sp, const void *data, size_t len,
    const char **errstr)
{
	*errstr = sp->err;
	if (sp->failed || sp->committed) {
		if (sp->committed)
			store_err(sp->err, "spool/%s: already committed",
			    sp->id);
		return -1;
	}
	if (len > STORE_PREFIX_MAX) {
		store_err(sp->err, "spool/%s: prefix of %zu octets is too "
		    "long", sp->id, len);
		return -1;
	}
	free(sp->prefix);
	sp->prefix = NULL;
	sp->prefix_len = 0;
	memset(&sp->prefix_scan, 0, sizeof(sp->prefix_scan));
	if (len > 0) {
		sp->prefix = xmalloc(len);
		memcpy(sp->prefix, data, len);
		sp->prefix_len = len;
		maildir_scan_update(&sp->prefix_scan, data, len);
	}
	return 0;
}

static int
spool_flush(struct store_spool *sp)
{
	if (sp->buflen == 0)
		return 0;
	if (spool_open_file(sp) == -1)
		return -1;
	if (store_write_all(sp->fd, sp->buf, sp->buflen) == -1) {
		store_err(sp->err, "write(spool/%s): %s", sp->id,
		    strerror(errno));
		sp->failed = true;
		return -1;
	}
	sp->buflen = 0;
	sp->flushed = true;
	return 0;
}

int
store_spool_write(struct store_spool *sp, const void *data, size_t len,
    const char **errstr)
{
	if (sp->failed || sp->committed) {
		if (sp->committed)
			store_err(sp->err, "spool/%s: already committed",
			    sp->id);
		*errstr = sp->err;
		return -1;
	}
	if (len == 0)
		return 0;
	maildir_scan_update(&sp->scan, data, len);
	if (len <= STORE_SPOOL_BUFSZ - sp->buflen) {
		memcpy(sp->buf + sp->buflen, data, len);
		sp->buflen += len;
		sp->size += len;
		return 0;
	}
	if (spool_flush(sp) == -1 || spool_open_file(sp) == -1) {
		*errstr = sp->err;
		return -1;
	}
	if (len >= STORE_SPOOL_BUFSZ) {
		/* Big chunks skip the copy; the buffer is empty now. */
		if (store_write_all(sp->fd, data, len) == -1) {
			*errstr = store_err(sp->err, "write(spool/%s): %s",
			    sp->id, strerror(errno));
			sp->failed = true;
			return -1;
		}
		sp->flushed = true;
	} else {
		memcpy(sp->buf, data, len);
		sp->buflen = len;
	}
	sp->size += len;
	return 0;
}

/* Copies the first len octets of in to out (at their current offset). */
static int
copy_content(int in, int out, uint64_t len)
{
	char buf[16384];
	off_t off = 0;

	while ((uint64_t)off < len) {
		size_t want = len - (uint64_t)off > SIZE_MAX / 2 ?
		    SIZE_MAX / 2 : (size_t)(len - (uint64_t)off);
		ssize_t n = copy_file_range(in, &off, out, NULL, want, 0);

		if (n > 0)
			continue;
		if (n == -1 && errno == EINTR)
			continue;
		if (n == 0 || errno == EXDEV || errno == ENOSYS ||
		    errno == EINVAL || errno == EOPNOTSUPP)
			break;		/* read/write below */
		return -1;
	}
	while ((uint64_t)off < len) {
		size_t want = len - (uint64_t)off < sizeof(buf) ?
		    (size_t)(len - (uint64_t)off) : sizeof(buf);
		ssize_t n = pread(in, buf, want, off);

		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0)
				errno = EIO;	/* the spool file shrank */
			return -1;
		}
		if (store_write_all(out, buf, (size_t)n) == -1)
			return -1;
		off += n;
	}
	return 0;
}

/*
 * Puts the prefix in front of the message. Still all in the buffer: it
 * is written first and the buffer after it. Otherwise the prefix goes
 * into a new file spool/<id>.p, the content is copied after it, and the
 * new file replaces spool/<id> by rename (spool names need no
 * durability: the synced file is linked by that name before commit
 * returns, and recovery removes whatever a crash leaves in spool/).
 */
static int
spool_apply_prefix(struct store_spool *sp)
{
	char tmp[STORE_ID_LEN + 3];
	int fd;

	if (sp->prefix_len == 0)
		return 0;
	if (!sp->flushed) {
		if (store_write_all(sp->fd, sp->prefix, sp->prefix_len) == -1)
			goto write_failed;
		sp->flushed = true;
		goto done;
	}
	if (spool_flush(sp) == -1)
		return -1;
	snprintf(tmp, sizeof(tmp), "%s.p", sp->id);
	(void)unlinkat(sp->st->spool_fd, tmp, 0);
	fd = openat(sp->st->spool_fd, tmp, O_RDWR | O_CREAT | O_EXCL |
	    O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd == -1) {
		store_err(sp->err, "open(spool/%s): %s", tmp, strerror(errno));
		sp->failed = true;
		return -1;
	}
	if (store_write_all(fd, sp->prefix, sp->prefix_len) == -1 ||
	    copy_content(sp->fd, fd, sp->size) == -1) {
		store_err(sp->err, "copy(spool/%s, spool/%s): %s", sp->id, tmp,
		    strerror(errno));
		goto new_failed;
	}
	if (renameat(sp->st->spool_fd, tmp, sp->st->spool_fd, sp->id) == -1) {
		store_err(sp->err, "rename(spool/%s, spool/%s): %s", tmp,
		    sp->id, strerror(errno));
		goto new_failed;
	}
	close(sp->fd);
	sp->fd = fd;
done:
	sp->size += sp->prefix_len;
	free(sp->prefix);
	sp->prefix = NULL;
	sp->prefix_len = 0;
	return 0;
new_failed:
	close(fd);
	(void)unlinkat(sp->st->spool_fd, tmp, 0);
	sp->failed = true;
	return -1;
write_failed:
	store_err(sp->err, "write(spool/%s): %s", sp->id, strerror(errno));
	sp->failed = true;
	return -1;
}

static void
targets_rollback(struct store *st, struct target *t, size_t n,
    const char *name)
{
	char path[STORE_PATH_MAX + STORE_NAME_MAX];

	for (size_t i = 0; i < n; i++) {
		const char *sub;

		if (t[i].state != TGT_TMP && t[i].state != TGT_NEW)
			continue;
		sub = t[i].state == TGT_TMP ? "tmp" : "new";
		if ((size_t)snprintf(path, sizeof(path), "%s/%s/%s", t[i].rel,
		    sub, name) >= sizeof(path))
			continue;
		if (unlinkat(st->mail_fd, path, 0) == -1 && errno != ENOENT)
			log_warn("store event=rollback-failed path=mail/%s "
			    "error=\"%s\"", path, strerror(errno));
		if (t[i].state == TGT_NEW &&
		    (size_t)snprintf(path, sizeof(path), "%s/new",
		    t[i].rel) < sizeof(path))
			store_fsync_dirat(st->mail_fd, path);
		t[i].state = TGT_NONE;
	}
}

/* Phase 1: link the spool file into each Maildir's tmp/. */
static int
targets_link(struct store_spool *sp, const struct store_delivery *d,
    struct target *t, const char *name)
{
	struct store *st = sp->st;
	char path[STORE_NAME_MAX + 8];

	snprintf(path, sizeof(path), "tmp/%s", name);
	for (size_t i = 0; i < d->n_local; i++) {
		int mfd;

		if (store_account_path(d->local[i], t[i].rel,
		    sizeof(t[i].rel)) == -1) {
			store_err(sp->err, "bad account name");
			return -1;
		}
		for (size_t j = 0; j < i; j++)
			if (t[j].state != TGT_DUP &&
			    strcmp(t[j].rel, t[i].rel) == 0)
				t[i].state = TGT_DUP;
		if (t[i].state == TGT_DUP)
			continue;
		if ((mfd = maildir_open(st, t[i].rel, 1)) == -1) {
			store_err(sp->err, "maildir mail/%s: %s", t[i].rel,
			    strerror(errno));
			return -1;
		}
		if (linkat(st->spool_fd, sp->id, mfd, path, 0) == -1) {
			store_err(sp->err, "link(spool/%s, mail/%s/%s): %s",
			    sp->id, t[i].rel, path, strerror(errno));
			close(mfd);
			return -1;
		}
		close(mfd);
		t[i].state = TGT_TMP;
	}
	return 0;
}

/* Phase 2: tmp/ -> new/, then phase 3: make the new/ entries durable. */
static int
targets_publish(struct store_spool *sp, struct target *t, size_t n,
    const char *name)
{
	struct store *st = sp->st;
	char from[STORE_PATH_MAX + STORE_NAME_MAX];
	char to[STORE_PATH_MAX + STORE_NAME_MAX];

	for (size_t i = 0; i < n; i++) {
		if (t[i].state != TGT_TMP)
			continue;
		snprintf(from, sizeof(from), "%s/tmp/%s", t[i].rel, name);
		snprintf(to, sizeof(to), "%s/new/%s", t[i].rel, name);
		if (store_rename_noreplace(st->mail_fd, from, st->mail_fd,
		    to) == -1) {
			store_err(sp->err, "rename(mail/%s, mail/%s): %s",
			    from, to, strerror(errno));
			return -1;
		}
		t[i].state = TGT_NEW;
	}
	/*
	 * Only new/ needs syncing: the rename is one journal transaction,
	 * and a tmp/ entry resurrected by a crash is harmless (recovery
	 * removes it after 36 hours, as the Maildir spec says).
	 */
	for (size_t i = 0; i < n; i++) {
		if (t[i].state != TGT_NEW)
			continue;
		snprintf(to, sizeof(to), "%s/new", t[i].rel);
		if (maildir_fsync_new(st, t[i].rel) == -1) {
			store_err(sp->err, "fsync(mail/%s): %s", to,
			    strerror(errno));
			return -1;
		}
	}
	return 0;
}

/* Writes all of the two parts; 0 or -1 with errno. */
static int
write_two(int fd, const void *a, size_t alen, const void *b, size_t blen)
{
	struct iovec iov[2] = { { (void *)a, alen }, { (void *)b, blen } };
	ssize_t n;

	do
		n = writev(fd, iov, 2);
	while (n == -1 && errno == EINTR);
	if (n == -1)
		return -1;
	if ((size_t)n == alen + blen)
		return 0;
	/* Short write (rare on a regular file): finish part by part. */
	if ((size_t)n < alen)
		return store_write_all(fd, (const char *)a + n, alen -
		    (size_t)n) == -1 ? -1 : store_write_all(fd, b, blen);
	return store_write_all(fd, (const char *)b + ((size_t)n - alen),
	    blen - ((size_t)n - alen));
}

/*
 * The common case without a spool file: the whole message (prefix and
 * buffer) goes to one Maildir. Written straight into its tmp/, fsynced,
 * renamed into new/, new/ fsynced: the same guarantees as the linked
 * path, without creating and removing spool/<id> and linking into tmp/
 * (three fewer directory changes and syscalls per message).
 */
static int
commit_direct(struct store_spool *sp, const char *account)
{
	struct store *st = sp->st;
	char rel[STORE_PATH_MAX], name[STORE_NAME_MAX + 1];
	char tmp[STORE_NAME_MAX + 8], to[STORE_NAME_MAX + 8];
	uint64_t total = sp->size + sp->prefix_len;
	bool raw = maildir_scan_raw(&sp->scan, total) &&
	    !sp->prefix_scan.dirty && !sp->prefix_scan.mid_line;
	int mfd, fd = -1;
	bool linked = false;

	if (store_account_path(account, rel, sizeof(rel)) == -1) {
		store_err(sp->err, "bad account name");
		return -1;
	}
	if (maildir_name_new(st, total, raw, name, sizeof(name)) == -1) {
		store_err(sp->err, "maildir name: %s", strerror(errno));
		return -1;
	}
	if ((mfd = maildir_open(st, rel, 1)) == -1) {
		store_err(sp->err, "maildir mail/%s: %s", rel, strerror(errno));
		return -1;
	}
	snprintf(tmp, sizeof(tmp), "tmp/%s", name);
	snprintf(to, sizeof(to), "new/%s", name);
	fd = openat(mfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC |
	    O_NOFOLLOW, 0600);
	if (fd == -1) {
		store_err(sp->err, "open(mail/%s/%s): %s", rel, tmp,
		    strerror(errno));
		goto fail;
	}
	if (write_two(fd, sp->prefix, sp->prefix_len, sp->buf,
	    sp->buflen) == -1) {
		store_err(sp->err, "write(mail/%s/%s): %s", rel, tmp,
		    strerror(errno));
		goto fail;
	}
	if (fsync(fd) == -1) {
		store_err(sp->err, "fsync(mail/%s/%s): %s", rel, tmp,
		    strerror(errno));
		goto fail;
	}
	if (store_rename_noreplace(mfd, tmp, mfd, to) == -1) {
		store_err(sp->err, "rename(mail/%s/%s, new/): %s", rel, tmp,
		    strerror(errno));
		goto fail;
	}
	linked = true;
	if (maildir_fsync_new(st, rel) == -1) {
		store_err(sp->err, "fsync(mail/%s/new): %s", rel,
		    strerror(errno));
		goto fail;
	}
	close(fd);
	close(mfd);
	sp->size = total;
	sp->buflen = 0;
	return 0;
fail:
	/* Nothing half delivered: the copy goes from wherever it got to. */
	if (fd != -1) {
		close(fd);
		if (unlinkat(mfd, linked ? to : tmp, 0) == -1 &&
		    errno != ENOENT)
			log_warn("store event=rollback-failed path=mail/%s/%s "
			    "error=\"%s\"", rel, linked ? to : tmp,
			    strerror(errno));
		if (linked)
			(void)maildir_fsync_new(st, rel);
	}
	close(mfd);
	maildir_cache_forget(st);
	sp->failed = true;
	return -1;
}

int
store_spool_commit(struct store_spool *sp, const struct store_delivery *d,
    const char **errstr)
{
	struct store *st = sp->st;
	char name[STORE_NAME_MAX + 1];
	struct target *t = NULL;
	bool queued = false;

	*errstr = sp->err;
	if (sp->failed || sp->committed) {
		if (sp->committed)
			store_err(sp->err, "spool/%s: already committed",
			    sp->id);
		return -1;
	}
	if (d->n_local == 0 && d->n_remote == 0) {
		store_err(sp->err, "spool/%s: no recipients", sp->id);
		return -1;
	}
	if (sp->fd == -1 && d->n_local == 1 && d->n_remote == 0) {
		if (commit_direct(sp, d->local[0]) == -1)
			return -1;
		sp->committed = true;
		return 0;
	}
	if (spool_open_file(sp) == -1 || spool_apply_prefix(sp) == -1 ||
	    spool_flush(sp) == -1)
		return -1;
	if (fsync(sp->fd) == -1) {
		store_err(sp->err, "fsync(spool/%s): %s", sp->id,
		    strerror(errno));
		sp->failed = true;
		return -1;
	}
	/* Prefix then body: each must be clean, the prefix whole lines. */
	if (maildir_name_new(st, sp->size, maildir_scan_raw(&sp->scan,
	    sp->size) && !sp->prefix_scan.dirty && !sp->prefix_scan.mid_line,
	    name, sizeof(name)) == -1) {
		store_err(sp->err, "maildir name: %s", strerror(errno));
		return -1;
	}
	if (d->n_local > 0)
		t = xcalloc(d->n_local, sizeof(*t));
	if (targets_link(sp, d, t, name) == -1)
		goto fail;
	if (d->n_remote > 0) {
		queued = true;
		if (queue_stage(st, sp->id, d, sp->err) == -1)
			goto fail;
	}
	if (targets_publish(sp, t, d->n_local, name) == -1)
		goto fail;
	if (queued && queue_publish(st, sp->id, sp->err) == -1)
		goto fail;
	free(t);
	sp->committed = true;
	return 0;
fail:
	maildir_cache_forget(st);
	targets_rollback(st, t, d->n_local, name);
	if (queued)
		queue_unstage(st, sp->id);
	free(t);
	return -1;
}

static void
spool_release(struct store_spool **spp, bool unlink_it)
{
	struct store_spool *sp = *spp;

	if (sp == NULL)
		return;
	if (unlink_it && sp->fd != -1 &&
	    unlinkat(sp->st->spool_fd, sp->id, 0) == -1)
		log_warn("store event=spool-unlink-failed id=%s error=\"%s\"",
		    sp->id, strerror(errno));
	if (sp->fd != -1)
		close(sp->fd);
	free(sp->buf);
	free(sp->prefix);
	free(sp);
	*spp = NULL;
}

void
store_spool_abort(struct store_spool **spp)
{
	spool_release(spp, true);
}

void
store_spool_free(struct store_spool **spp)
{
	/*
	 * The spool name goes either way; after a commit the message lives
	 * on under its other names. Not syncing spool/ is deliberate: a
	 * resurrected spool name is removed by store_recover().
	 */
	spool_release(spp, true);
}

/* --- start-up recovery --- */

static int
recover_spool(struct store *st)
{
	int n = 0, fd;
	struct dirent *de;
	DIR *dir;

	if ((fd = openat(st->spool_fd, ".", O_RDONLY | O_DIRECTORY |
	    O_CLOEXEC)) == -1 || (dir = fdopendir(fd)) == NULL) {
		if (fd != -1)
			close(fd);
		log_warn("store event=recover-failed dir=spool error=\"%s\"",
		    strerror(errno));
		return -1;
	}
	while ((de = readdir(dir)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if (unlinkat(st->spool_fd, de->d_name, 0) == 0) {
			log_info("store event=stale-spool-removed id=%s",
			    de->d_name);
			n++;
		}
	}
	closedir(dir);
	return n;
}

static int
recover_tmp(int mfd, const char *rel, time_t now)
{
	int fd, n = 0;
	struct dirent *de;
	DIR *dir;

	if ((fd = openat(mfd, "tmp", O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC)) == -1)
		return 0;
	if ((dir = fdopendir(fd)) == NULL) {
		close(fd);
		return 0;
	}
	while ((de = readdir(dir)) != NULL) {
		struct stat sb;
		time_t t;

		if (de->d_name[0] == '.' ||
		    fstatat(fd, de->d_name, &sb, AT_SYMLINK_NOFOLLOW) == -1)
			continue;
		/*
		 * mtime: a message is linked into tmp/ seconds after its
		 * last write, so mtime is the time it entered tmp/.
		 */
		t = sb.st_mtime;
		if (now - t < STORE_TMP_MAX_AGE)
			continue;
		if (unlinkat(fd, de->d_name, 0) == 0) {
			log_info("store event=stale-tmp-removed maildir=%s",
			    rel);
			n++;
		}
	}
	closedir(dir);
	return n;
}

/* Walks mail/<domain>/<local>/tmp. */
static int
recover_maildirs(struct store *st)
{
	time_t now = time(NULL);
	int fd, n = 0;
	struct dirent *de;
	DIR *dir;

	if ((fd = openat(st->mail_fd, ".", O_RDONLY | O_DIRECTORY |
	    O_CLOEXEC)) == -1 || (dir = fdopendir(fd)) == NULL) {
		if (fd != -1)
			close(fd);
		return -1;
	}
	while ((de = readdir(dir)) != NULL) {
		struct dirent *le;
		DIR *ldir;
		int dfd;

		if (de->d_name[0] == '.')
			continue;
		dfd = openat(fd, de->d_name, O_RDONLY | O_DIRECTORY |
		    O_NOFOLLOW | O_CLOEXEC);
		if (dfd == -1 || (ldir = fdopendir(dfd)) == NULL) {
			if (dfd != -1)
				close(dfd);
			continue;
		}
		while ((le = readdir(ldir)) != NULL) {
			int mfd;

			if (le->d_name[0] == '.')
				continue;
			mfd = openat(dfd, le->d_name, O_RDONLY | O_DIRECTORY |
			    O_NOFOLLOW | O_CLOEXEC);
			if (mfd == -1)
				continue;
			n += recover_tmp(mfd, le->d_name, now);
			close(mfd);
		}
		closedir(ldir);
	}
	closedir(dir);
	return n;
}

int
store_recover(struct store *st)
{
	int a, b, c;

	a = recover_spool(st);
	b = recover_maildirs(st);
	c = queue_recover(st);
	if (a == -1 || b == -1 || c == -1)
		return -1;
	return a + b + c;
}
