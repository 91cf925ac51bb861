/*
 * The POP3 side of the store: a maildrop is one Maildir, opened under an
 * exclusive lock (RFC 1939 section 8 wants one session per maildrop),
 * listed once, and changed only in the UPDATE state. The session keeps
 * the deleted/retrieved marks; this file only reads names and sizes and
 * applies the marks.
 *
 * The lock is flock() on <maildir>/.lock: the kernel drops it when the
 * holder's descriptor closes, so a crashed worker never locks a user out,
 * and LOCK_NB means a second login is refused at once, not queued.
 */
#include "store/store_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "core/str.h"
#include "core/xmalloc.h"

#define UID_MAX_LEN	70	/* RFC 1939 section 7, UIDL */
#define PEEK_SIZE	4096
#define SCAN_BUFSZ	(64 * 1024)

struct mb_msg {
	struct store_msg_info	 info;
	char			*name;	/* file name in new/ or cur/ */
	char			*base;	/* name without the ":2,..." info */
	bool			 in_cur;
	uint64_t		 sec;	/* delivery time from the name */
	char			 uid[UID_MAX_LEN + 1];
};

struct store_mailbox {
	struct store	*st;
	int		 mfd;		/* -1: no Maildir, empty maildrop */
	int		 lock_fd;
	size_t		 n, cap;
	struct mb_msg	*msgs;
	char		 err[STORE_ERR_MAX];
};

/*
 * The unique name is the UIDL: stable across sessions because Maildir
 * never renames the part before ':'. Names that are too long or carry
 * bytes RFC 1939 forbids are replaced by their SHA-256, still stable.
 */
static void
uid_from_base(const char *base, char *uid)
{
	size_t n = strlen(base);
	bool ok = n > 0 && n <= UID_MAX_LEN;
	unsigned char md[32];
	unsigned int mdlen = 0;

	for (size_t i = 0; ok && i < n; i++)
		if ((unsigned char)base[i] < 0x21 || (unsigned char)base[i] > 0x7e)
			ok = false;
	if (ok) {
		memcpy(uid, base, n + 1);
		return;
	}
	EVP_Digest(base, n, md, &mdlen, EVP_sha256(), NULL);
	for (unsigned i = 0; i < mdlen && 2 * i + 2 <= UID_MAX_LEN; i++)
		snprintf(uid + 2 * i, 3, "%02x", md[i]);
}

/* ",S=<digits>" in the base name (the last one wins); -1 when absent. */
static int
name_size(const char *base, uint64_t *out)
{
	const char *p = base, *hit = NULL;
	struct str_view v;

	while ((p = strstr(p, ",S=")) != NULL) {
		hit = p + 3;
		p += 3;
	}
	if (hit == NULL)
		return -1;
	v.p = hit;
	v.len = strcspn(hit, ",");
	if (v.len == 0 || v.len > 19)
		return -1;
	*out = 0;
	for (size_t i = 0; i < v.len; i++) {
		if (v.p[i] < '0' || v.p[i] > '9')
			return -1;
		*out = *out * 10 + (uint64_t)(v.p[i] - '0');
	}
	return 0;
}

/* MAILDIR_RAW_FLAG right after the ",S=<digits>" name_size() read. */
static bool
name_raw(const char *base)
{
	const char *p = base, *hit = NULL;

	while ((p = strstr(p, ",S=")) != NULL) {
		hit = p + 3;
		p += 3;
	}
	if (hit == NULL)
		return false;
	hit += strspn(hit, "0123456789");
	return strncmp(hit, MAILDIR_RAW_FLAG, strlen(MAILDIR_RAW_FLAG)) == 0 &&
	    (hit[strlen(MAILDIR_RAW_FLAG)] == '\0' ||
	    hit[strlen(MAILDIR_RAW_FLAG)] == ',');
}

/*
 * Served size: every bare LF becomes CRLF on the wire (RFC 1939 section
 * 11 wants exact octet counts). Our own deliveries are CRLF and carry
 * ,S= = file size, so one peek at the first line confirms them without a
 * scan; files from other tools are scanned once per session.
 */
static int
msg_measure(int fd, off_t fsize, const char *base, struct mb_msg *m)
{
	char *buf;
	uint64_t s, bare = 0;
	bool prev_cr = false, last_lf = false;
	ssize_t n;

	if (name_size(base, &s) == 0 && s == (uint64_t)fsize) {
		char peek[PEEK_SIZE];
		char *lf;

		if (fsize == 0) {
			m->info.size = 0;
			return 0;
		}
		char last = '\0';

		n = pread(fd, peek, sizeof(peek), 0);
		if (n > 0 && (lf = memchr(peek, '\n', (size_t)n)) != NULL &&
		    lf > peek && lf[-1] == '\r' &&
		    pread(fd, &last, 1, fsize - 1) == 1 && last == '\n') {
			m->info.size = s;
			/* Only our own deliveries carry the flag. */
			m->info.raw = name_raw(base);
			return 0;
		}
	}
	buf = xmalloc(SCAN_BUFSZ);
	for (off_t off = 0;;) {
		n = pread(fd, buf, SCAN_BUFSZ, off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			free(buf);
			return -1;
		}
		if (n == 0)
			break;
		for (ssize_t i = 0; i < n; i++) {
			if (buf[i] == '\n' && !prev_cr)
				bare++;
			prev_cr = buf[i] == '\r';
		}
		last_lf = buf[n - 1] == '\n';
		off += n;
	}
	free(buf);
	m->info.size = (uint64_t)fsize + bare;
	/* A last line without its line end is served with CRLF added. */
	if (fsize > 0 && !last_lf)
		m->info.size += 2;
	m->info.needs_crlf_conversion = bare > 0;
	return 0;
}

static uint64_t
name_seconds(const char *name)
{
	uint64_t v = 0;

	for (int i = 0; i < 19 && name[i] >= '0' && name[i] <= '9'; i++)
		v = v * 10 + (uint64_t)(name[i] - '0');
	return v;
}

static struct mb_msg *
mailbox_slot(struct store_mailbox *mb)
{
	if (mb->n == mb->cap) {
		mb->cap = mb->cap == 0 ? 64 : 2 * mb->cap;
		mb->msgs = xrealloc(mb->msgs, mb->cap * sizeof(*mb->msgs));
	}
	memset(&mb->msgs[mb->n], 0, sizeof(mb->msgs[mb->n]));
	return &mb->msgs[mb->n];
}

/*
 * A message our own delivery marked raw (MAILDIR_RAW_FLAG: CRLF only,
 * final CRLF) whose ",S=" size is its file size needs no peek: one
 * fstatat instead of open, fstat, two preads and close per message,
 * which is most of a login's syscalls on a full maildrop. Returns 1 when
 * added, 0 when the caller must look at the file (or it is not a
 * regular file of that size).
 */
static int
mailbox_add_raw(struct store_mailbox *mb, int dirfd, const char *name,
    bool in_cur)
{
	size_t blen = strcspn(name, ":");
	char base[STORE_NAME_MAX + 1];
	struct mb_msg *m;
	struct stat sb;
	uint64_t s;

	if (blen >= sizeof(base))
		return 0;
	memcpy(base, name, blen);
	base[blen] = '\0';
	if (!name_raw(base) || name_size(base, &s) == -1 || s == 0 ||
	    fstatat(dirfd, name, &sb, AT_SYMLINK_NOFOLLOW) == -1 ||
	    !S_ISREG(sb.st_mode) || (uint64_t)sb.st_size != s)
		return 0;
	m = mailbox_slot(mb);
	m->name = xstrdup(name);
	m->base = xstrdup(base);
	m->in_cur = in_cur;
	m->sec = name_seconds(name);
	uid_from_base(m->base, m->uid);
	m->info.size = s;
	m->info.raw = true;
	mb->n++;
	return 1;
}

static int
mailbox_add(struct store_mailbox *mb, int dirfd, const char *name, bool in_cur)
{
	struct mb_msg *m;
	struct stat sb;
	int fd, rc;

	if (mailbox_add_raw(mb, dirfd, name, in_cur) == 1)
		return 0;
	fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd == -1 || fstat(fd, &sb) == -1 || !S_ISREG(sb.st_mode)) {
		/* Vanished or not a message: not part of this maildrop. */
		if (fd != -1)
			close(fd);
		return 0;
	}
	m = mailbox_slot(mb);
	m->name = xstrdup(name);
	m->base = xstrndup(name, strcspn(name, ":"));
	m->in_cur = in_cur;
	m->sec = name_seconds(name);
	uid_from_base(m->base, m->uid);
	rc = msg_measure(fd, sb.st_size, m->base, m);
	close(fd);
	if (rc == -1) {
		store_err(mb->err, "read(%s/%s): %s", in_cur ? "cur" : "new",
		    name, strerror(errno));
		free(m->name);
		free(m->base);
		return -1;
	}
	mb->n++;
	return 0;
}

static int
mailbox_scan_dir(struct store_mailbox *mb, const char *sub)
{
	struct dirent *de;
	DIR *dir;
	int fd;

	fd = openat(mb->mfd, sub, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC);
	if (fd == -1 && errno == ENOENT)
		return 0;
	if (fd == -1 || (dir = fdopendir(fd)) == NULL) {
		store_err(mb->err, "opendir(%s): %s", sub, strerror(errno));
		if (fd != -1)
			close(fd);
		return -1;
	}
	while ((de = readdir(dir)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if (mailbox_add(mb, fd, de->d_name, sub[0] == 'c') == -1) {
			closedir(dir);
			return -1;
		}
	}
	closedir(dir);
	return 0;
}

static int
msg_cmp(const void *a, const void *b)
{
	const struct mb_msg *x = a, *y = b;
	int c;

	if (x->sec != y->sec)
		return x->sec < y->sec ? -1 : 1;
	if ((c = strcmp(x->base, y->base)) != 0)
		return c;
	/* The same message in new/ and cur/: keep the cur/ one first. */
	return (int)y->in_cur - (int)x->in_cur;
}

static void
msg_release(struct mb_msg *m)
{
	free(m->name);
	free(m->base);
}

/* Sorts by delivery time then name and drops duplicate unique names. */
static void
mailbox_sort(struct store_mailbox *mb)
{
	size_t o = 0;

	if (mb->n > 1)
		qsort(mb->msgs, mb->n, sizeof(*mb->msgs), msg_cmp);
	for (size_t i = 0; i < mb->n; i++) {
		if (o > 0 && strcmp(mb->msgs[o - 1].base, mb->msgs[i].base) == 0) {
			msg_release(&mb->msgs[i]);
			continue;
		}
		mb->msgs[o++] = mb->msgs[i];
	}
	mb->n = o;
	/* info.uid points into the array, which no longer moves. */
	for (size_t i = 0; i < mb->n; i++)
		mb->msgs[i].info.uid = mb->msgs[i].uid;
}

int
store_mailbox_open(struct store *st, const char *account,
    struct store_mailbox **out, const char **errstr)
{
	char rel[2 * STORE_NAME_MAX + 2];
	struct store_mailbox *mb;

	*out = NULL;
	*errstr = store_tls_errbuf();
	if (store_account_path(account, rel, sizeof(rel)) == -1) {
		store_err(store_tls_errbuf(), "bad account name");
		return -1;
	}
	mb = xcalloc(1, sizeof(*mb));
	mb->st = st;
	mb->lock_fd = -1;
	mb->mfd = maildir_open(st, rel, 0);
	if (mb->mfd == -1) {
		if (errno == ENOENT) {
			*out = mb;
			return 0;
		}
		store_err(store_tls_errbuf(), "open(mail/%s): %s", rel,
		    strerror(errno));
		free(mb);
		return -1;
	}
	mb->lock_fd = openat(mb->mfd, ".lock", O_RDWR | O_CREAT | O_CLOEXEC |
	    O_NOFOLLOW, 0600);
	if (mb->lock_fd == -1) {
		store_err(store_tls_errbuf(), "open(mail/%s/.lock): %s", rel,
		    strerror(errno));
		store_mailbox_close(&mb);
		return -1;
	}
	if (flock(mb->lock_fd, LOCK_EX | LOCK_NB) == -1) {
		int saved = errno;

		store_mailbox_close(&mb);
		if (saved == EWOULDBLOCK)
			return STORE_LOCKED;
		store_err(store_tls_errbuf(), "flock(mail/%s/.lock): %s", rel,
		    strerror(saved));
		return -1;
	}
	if (mailbox_scan_dir(mb, "new") == -1 ||
	    mailbox_scan_dir(mb, "cur") == -1) {
		store_err(store_tls_errbuf(), "mail/%s: %s", rel, mb->err);
		store_mailbox_close(&mb);
		return -1;
	}
	mailbox_sort(mb);
	*out = mb;
	return 0;
}

size_t
store_mailbox_count(const struct store_mailbox *mb)
{
	return mb->n;
}

const struct store_msg_info *
store_mailbox_msg(const struct store_mailbox *mb, size_t index)
{
	if (index >= mb->n)
		return NULL;
	return &mb->msgs[index].info;
}

/*
 * Another program (an IMAP server, a local MUA) may have moved or
 * re-flagged the file since the scan; its unique part stays the same, so
 * look for it by that in new/ and cur/.
 */
static int
msg_relocate(struct store_mailbox *mb, struct mb_msg *m)
{
	static const char *const subs[] = { "cur", "new" };
	size_t blen = strlen(m->base);

	for (size_t s = 0; s < 2; s++) {
		struct dirent *de;
		DIR *dir;
		int fd;

		fd = openat(mb->mfd, subs[s], O_RDONLY | O_DIRECTORY |
		    O_NOFOLLOW | O_CLOEXEC);
		if (fd == -1 || (dir = fdopendir(fd)) == NULL) {
			if (fd != -1)
				close(fd);
			continue;
		}
		while ((de = readdir(dir)) != NULL) {
			if (strncmp(de->d_name, m->base, blen) != 0 ||
			    (de->d_name[blen] != '\0' && de->d_name[blen] != ':'))
				continue;
			free(m->name);
			m->name = xstrdup(de->d_name);
			m->in_cur = s == 0;
			closedir(dir);
			return 0;
		}
		closedir(dir);
	}
	return -1;
}

static int
msg_path(const struct mb_msg *m, char *path, size_t sz)
{
	int n = snprintf(path, sz, "%s/%s", m->in_cur ? "cur" : "new",
	    m->name);

	return n < 0 || (size_t)n >= sz ? -1 : 0;
}

int
store_message_open(struct store_mailbox *mb, size_t index,
    const char **errstr)
{
	char path[STORE_NAME_MAX + 8];
	struct mb_msg *m;
	int fd = -1;

	*errstr = mb->err;
	if (index >= mb->n) {
		store_err(mb->err, "no message %zu", index);
		return -1;
	}
	m = &mb->msgs[index];
	for (int attempt = 0; attempt < 2; attempt++) {
		if (msg_path(m, path, sizeof(path)) == -1)
			break;
		fd = openat(mb->mfd, path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
		if (fd != -1 || errno != ENOENT || attempt == 1 ||
		    msg_relocate(mb, m) == -1)
			break;
	}
	if (fd == -1)
		store_err(mb->err, "open(%s): %s", m->name, strerror(errno));
	return fd;
}

/* The cur/ name of m with the Seen flag added (flags kept sorted). */
static int
seen_name(const struct mb_msg *m, char *out, size_t sz)
{
	const char *info = strchr(m->name, ':');
	char flags[64];
	size_t o = 0;
	bool put = false;
	int n;

	if (info == NULL || strncmp(info, ":2,", 3) != 0)
		info = ":2,";
	for (const char *f = info + 3; *f != '\0' && o + 2 < sizeof(flags);
	    f++) {
		if (*f == 'S')
			return 1;	/* already seen */
		if (!put && *f > 'S') {
			flags[o++] = 'S';
			put = true;
		}
		flags[o++] = *f;
	}
	if (!put)
		flags[o++] = 'S';
	flags[o] = '\0';
	n = snprintf(out, sz, "%s:2,%s", m->base, flags);
	return n < 0 || (size_t)n >= sz ? -1 : 0;
}

static int
msg_mark_seen(struct store_mailbox *mb, struct mb_msg *m, bool *touched)
{
	char from[STORE_NAME_MAX + 8], to[STORE_NAME_MAX + 8];
	int rc;

	if ((rc = seen_name(m, to + 4, sizeof(to) - 4)) == 1 && m->in_cur)
		return 0;
	if (rc == 1)
		rc = snprintf(to + 4, sizeof(to) - 4, "%s", m->name) < 0 ? -1 : 0;
	if (rc == -1 || msg_path(m, from, sizeof(from)) == -1) {
		store_err(mb->err, "%s: name too long", m->name);
		return -1;
	}
	memcpy(to, "cur/", 4);
	if (store_rename_noreplace(mb->mfd, from, mb->mfd, to) == -1) {
		int saved = errno;

		store_err(mb->err, "rename(%s, %s): %s", from, to,
		    strerror(saved));
		errno = saved;
		return -1;
	}
	touched[0] = touched[0] || !m->in_cur;
	touched[1] = true;
	free(m->name);
	m->name = xstrdup(to + 4);
	m->in_cur = true;
	return 0;
}

int
store_mailbox_commit(struct store_mailbox *mb, const bool *deleted,
    const bool *retrieved, const char **errstr)
{
	bool touched[2] = { false, false };	/* new/, cur/ */
	char path[STORE_NAME_MAX + 8];
	int rc = 0;

	*errstr = mb->err;
	for (size_t i = 0; i < mb->n; i++) {
		struct mb_msg *m = &mb->msgs[i];

		if (deleted[i]) {
			if (msg_path(m, path, sizeof(path)) == -1)
				continue;
			if (unlinkat(mb->mfd, path, 0) == -1 &&
			    (errno != ENOENT || (msg_relocate(mb, m) == 0 &&
			    msg_path(m, path, sizeof(path)) == 0 &&
			    unlinkat(mb->mfd, path, 0) == -1 &&
			    errno != ENOENT))) {
				store_err(mb->err, "unlink(%s): %s", path,
				    strerror(errno));
				rc = -1;
				continue;
			}
			touched[m->in_cur] = true;
		} else if (retrieved != NULL && retrieved[i]) {
			if (msg_mark_seen(mb, m, touched) == -1 &&
			    (errno != ENOENT || msg_relocate(mb, m) == -1 ||
			    msg_mark_seen(mb, m, touched) == -1))
				rc = -1;
		}
	}
	if ((touched[0] && store_fsync_dirat(mb->mfd, "new") == -1) ||
	    (touched[1] && store_fsync_dirat(mb->mfd, "cur") == -1)) {
		store_err(mb->err, "fsync(new|cur): %s", strerror(errno));
		rc = -1;
	}
	return rc;
}

void
store_mailbox_close(struct store_mailbox **mbp)
{
	struct store_mailbox *mb = *mbp;

	if (mb == NULL)
		return;
	for (size_t i = 0; i < mb->n; i++)
		msg_release(&mb->msgs[i]);
	free(mb->msgs);
	/* Closing the descriptor releases the flock. */
	if (mb->lock_fd != -1)
		close(mb->lock_fd);
	if (mb->mfd != -1)
		close(mb->mfd);
	free(mb);
	*mbp = NULL;
}
