/*
 * Maildir naming and layout (https://cr.yp.to/proto/maildir.html), plus
 * the small syscall helpers the store modules share. Delivery itself is
 * in spool.c, reading in mailbox.c; this file decides what the names on
 * disk look like and makes sure no account name can escape mail/.
 */
#include "store/store_int.h"
#include "core/xmalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static _Thread_local char tls_errbuf[STORE_ERR_MAX];
static atomic_uint_fast64_t maildir_seq;

const char *
store_err(char *buf, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, STORE_ERR_MAX, fmt, ap);
	va_end(ap);
	/* Truncated error text is still useful; just mark it. */
	if (n < 0)
		buf[0] = '\0';
	else if ((size_t)n >= STORE_ERR_MAX)
		memcpy(buf + STORE_ERR_MAX - 4, "...", 4);
	return buf;
}

char *
store_tls_errbuf(void)
{
	return tls_errbuf;
}

int
store_write_all(int fd, const void *data, size_t len)
{
	const char *p = data;

	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n == 0) {
			/* A regular file only writes 0 when it cannot grow. */
			errno = ENOSPC;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int
store_fsync_dirat(int dirfd, const char *path)
{
	int fd, rc, saved;

	fd = openat(dirfd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd == -1)
		return -1;
	rc = fsync(fd);
	saved = errno;
	close(fd);
	errno = saved;
	return rc;
}

int
store_mkdir_open(int dirfd, const char *name, int *created)
{
	int fd;

	*created = 0;
	if (mkdirat(dirfd, name, 0700) == 0)
		*created = 1;
	else if (errno != EEXIST)
		return -1;
	/*
	 * O_NOFOLLOW: a symlink planted where a directory belongs must not
	 * redirect mail elsewhere; ENOTDIR/ELOOP then fails the delivery.
	 */
	fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC);
	return fd;
}

int
store_rename_noreplace(int olddir, const char *oldname, int newdir,
    const char *newname)
{
	if (renameat2(olddir, oldname, newdir, newname, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno != EINVAL && errno != ENOSYS)
		return -1;
	/*
	 * Filesystem without RENAME_NOREPLACE: link + unlink has the same
	 * never-clobber property, as the original Maildir recipe does.
	 */
	if (linkat(olddir, oldname, newdir, newname, 0) == -1)
		return -1;
	if (unlinkat(olddir, oldname, 0) == -1 && errno != ENOENT)
		return -1;
	return 0;
}

void
store_random(void *buf, size_t n)
{
	unsigned char *p = buf;
	size_t got = 0;

	while (got < n) {
		ssize_t r = getrandom(p + got, n - got, GRND_NONBLOCK);

		if (r <= 0)
			break;
		got += (size_t)r;
	}
	if (got < n) {
		/* Uniqueness, not secrecy, is what the callers need. */
		struct timespec ts;
		uint64_t x;

		clock_gettime(CLOCK_MONOTONIC, &ts);
		x = (uint64_t)ts.tv_nsec ^ ((uint64_t)getpid() << 32) ^
		    atomic_fetch_add(&maildir_seq, 1);
		for (; got < n; got++) {
			x = x * 6364136223846793005ULL + 1442695040888963407ULL;
			p[got] = (unsigned char)(x >> 56);
		}
	}
}

/*
 * One path component from an address part. '%' is encoded too so the
 * mapping is injective: "a%2Fb" and "a/b" never share a Maildir.
 */
static int
encode_component(const char *s, size_t len, bool lower, char *out,
    size_t outsz)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;

	if (len == 0)
		return -1;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		bool enc = c == '/' || c == '%' || c < 0x20 || c == 0x7f ||
		    (i == 0 && c == '.');

		if (lower && c >= 'A' && c <= 'Z')
			c = (unsigned char)(c - 'A' + 'a');
		if (o + 4 > outsz || o + (enc ? 3 : 1) > STORE_NAME_MAX)
			return -1;
		if (enc) {
			out[o++] = '%';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		} else
			out[o++] = (char)c;
	}
	out[o] = '\0';
	return 0;
}

int
store_account_path(const char *account, char *out, size_t outsz)
{
	const char *at = strrchr(account, '@');
	char local[STORE_NAME_MAX + 1], domain[STORE_NAME_MAX + 1];
	int n;

	if (at == NULL)
		return -1;
	if (encode_component(account, (size_t)(at - account), false, local,
	    sizeof(local)) == -1 ||
	    encode_component(at + 1, strlen(at + 1), true, domain,
	    sizeof(domain)) == -1)
		return -1;
	n = snprintf(out, outsz, "%s/%s", domain, local);
	if (n < 0 || (size_t)n >= outsz)
		return -1;
	return 0;
}

/*
 * Maildir spec: '/' and ':' in the hostname become \057 and \072. We also
 * escape ',' (\054) because ",S=" after the hostname carries the size.
 */
char *
maildir_hostname_escape(const char *host)
{
	size_t n = strlen(host), o = 0;
	char *out;

	out = xmalloc(4 * n + 1);
	for (size_t i = 0; i < n; i++) {
		char c = host[i];

		if (c == '/' || c == ':' || c == ',' || (unsigned char)c < 0x21 ||
		    (unsigned char)c > 0x7e) {
			out[o++] = '\\';
			out[o++] = (char)('0' + (((unsigned char)c >> 6) & 7));
			out[o++] = (char)('0' + (((unsigned char)c >> 3) & 7));
			out[o++] = (char)('0' + ((unsigned char)c & 7));
		} else
			out[o++] = c;
	}
	out[o] = '\0';
	return out;
}

void
maildir_scan_update(struct maildir_scan *sc, const void *data, size_t len)
{
	const char *p = data, *end = p + len, *lf;

	if (sc->dirty || len == 0)
		return;
	while (p < end) {
		/* RFC 1939 section 3: a line starting with '.' is stuffed. */
		if (!sc->mid_line && *p == '.') {
			sc->dirty = true;
			return;
		}
		if ((lf = memchr(p, '\n', (size_t)(end - p))) == NULL) {
			sc->mid_line = true;
			sc->prev_cr = end[-1] == '\r';
			return;
		}
		/* A bare LF is served as CRLF. */
		if (lf > p ? lf[-1] != '\r' : !sc->prev_cr) {
			sc->dirty = true;
			return;
		}
		sc->mid_line = false;
		sc->prev_cr = false;
		p = lf + 1;
	}
}

bool
maildir_scan_raw(const struct maildir_scan *sc, uint64_t size)
{
	return size > 0 && !sc->dirty && !sc->mid_line;
}

int
maildir_name_new(const struct store *st, uint64_t size, bool raw, char *out,
    size_t outsz)
{
	struct timeval tv;
	uint32_t rnd;
	uint64_t seq;
	int n;

	gettimeofday(&tv, NULL);
	store_random(&rnd, sizeof(rnd));
	seq = atomic_fetch_add(&maildir_seq, 1);
	n = snprintf(out, outsz, "%lld.M%06ldP%ldQ%lluR%08x.%s,S=%llu%s",
	    (long long)tv.tv_sec, (long)tv.tv_usec, (long)getpid(),
	    (unsigned long long)seq, (unsigned)rnd, st->hostname,
	    (unsigned long long)size, raw ? MAILDIR_RAW_FLAG : "");
	if (n < 0 || (size_t)n >= outsz || (size_t)n > STORE_NAME_MAX) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

/*
 * Cache of open Maildir directories. A delivery used to walk and mkdir
 * <domain>, <local>, tmp, new and cur (five mkdirat, five openat) and
 * open new/ again for its fsync: about 16 path-walking syscalls per
 * message, which profiles of 50 concurrent sessions showed among the top
 * kernel costs (docs/performance.md). Now the Maildir fd and its new/ fd
 * are kept for the MDC_SLOTS most recently delivered-to Maildirs; an
 * entry is trusted while the Maildir is still linked (st_nlink > 0, one
 * fstat), so a Maildir removed or replaced (even by a symlink) is walked
 * again with the O_NOFOLLOW checks. Any failed delivery empties the cache.
 */
#define MDC_SLOTS	128

struct mdc_entry {
	char		rel[2 * STORE_NAME_MAX + 2];	/* "" = free */
	int		mfd, new_fd;
	unsigned	refs;		/* fsyncs running on new_fd */
	bool		stale;		/* close when refs drops to 0 */
	uint64_t	used;
};

struct maildir_cache {
	pthread_mutex_t		lock;
	uint64_t		tick;
	struct mdc_entry	e[MDC_SLOTS];
};

static struct maildir_cache *
mdc_get(struct store *st)
{
	struct maildir_cache *c = atomic_load(&st->mdcache), *expect = NULL;

	if (c != NULL)
		return c;
	c = xcalloc(1, sizeof(*c));
	pthread_mutex_init(&c->lock, NULL);
	for (size_t i = 0; i < MDC_SLOTS; i++)
		c->e[i].mfd = c->e[i].new_fd = -1;
	if (!atomic_compare_exchange_strong(&st->mdcache, &expect, c)) {
		pthread_mutex_destroy(&c->lock);
		free(c);
		return expect;
	}
	return c;
}

static void
mdc_close(struct mdc_entry *e)
{
	if (e->mfd != -1)
		close(e->mfd);
	if (e->new_fd != -1)
		close(e->new_fd);
	e->mfd = e->new_fd = -1;
	e->rel[0] = '\0';
	e->stale = false;
}

/* Drops e now, or when its running fsyncs finish. Lock held. */
static void
mdc_drop(struct mdc_entry *e)
{
	if (e->refs > 0)
		e->stale = true;
	else
		mdc_close(e);
}

static struct mdc_entry *
mdc_find(struct maildir_cache *c, const char *rel)
{
	for (size_t i = 0; i < MDC_SLOTS; i++)
		if (!c->e[i].stale && c->e[i].rel[0] != '\0' &&
		    strcmp(c->e[i].rel, rel) == 0)
			return &c->e[i];
	return NULL;
}

/* A dup of rel's cached Maildir fd, or -1 (not cached, or unlinked). */
static int
mdc_lookup(struct maildir_cache *c, const char *rel)
{
	struct mdc_entry *e;
	struct stat sb;
	int fd = -1;

	pthread_mutex_lock(&c->lock);
	if ((e = mdc_find(c, rel)) != NULL) {
		if (fstat(e->mfd, &sb) == 0 && sb.st_nlink > 0) {
			fd = fcntl(e->mfd, F_DUPFD_CLOEXEC, 0);
			e->used = ++c->tick;
		} else
			mdc_drop(e);
	}
	pthread_mutex_unlock(&c->lock);
	return fd;
}

/* Remembers mfd (dup'ed) and its new/ for rel; failures just skip it. */
static void
mdc_insert(struct maildir_cache *c, const char *rel, int mfd)
{
	struct mdc_entry *e, *victim = NULL;
	int m, n;

	if (strlen(rel) >= sizeof(victim->rel))
		return;
	m = fcntl(mfd, F_DUPFD_CLOEXEC, 0);
	n = openat(mfd, "new", O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC);
	if (m == -1 || n == -1)
		goto fail;
	pthread_mutex_lock(&c->lock);
	if (mdc_find(c, rel) != NULL) {
		pthread_mutex_unlock(&c->lock);
		goto fail;
	}
	for (size_t i = 0; i < MDC_SLOTS; i++) {
		e = &c->e[i];
		if (e->refs > 0 || e->stale)
			continue;
		if (victim == NULL || e->rel[0] == '\0' ||
		    (victim->rel[0] != '\0' && e->used < victim->used))
			victim = e;
		if (victim->rel[0] == '\0')
			break;
	}
	if (victim == NULL) {
		pthread_mutex_unlock(&c->lock);
		goto fail;
	}
	mdc_close(victim);
	memcpy(victim->rel, rel, strlen(rel) + 1);
	victim->mfd = m;
	victim->new_fd = n;
	victim->used = ++c->tick;
	pthread_mutex_unlock(&c->lock);
	return;
fail:
	if (m != -1)
		close(m);
	if (n != -1)
		close(n);
}

int
maildir_fsync_new(struct store *st, const char *rel)
{
	struct maildir_cache *c = mdc_get(st);
	struct mdc_entry *e;
	char path[2 * STORE_NAME_MAX + 8];
	int rc, saved;

	pthread_mutex_lock(&c->lock);
	if ((e = mdc_find(c, rel)) != NULL)
		e->refs++;
	pthread_mutex_unlock(&c->lock);
	if (e == NULL) {
		if ((size_t)snprintf(path, sizeof(path), "%s/new", rel) >=
		    sizeof(path)) {
			errno = ENAMETOOLONG;
			return -1;
		}
		return store_fsync_dirat(st->mail_fd, path);
	}
	rc = fsync(e->new_fd);
	saved = errno;
	pthread_mutex_lock(&c->lock);
	if (--e->refs == 0 && e->stale)
		mdc_close(e);
	pthread_mutex_unlock(&c->lock);
	errno = saved;
	return rc;
}

void
maildir_cache_forget(struct store *st)
{
	struct maildir_cache *c = atomic_load(&st->mdcache);

	if (c == NULL)
		return;
	pthread_mutex_lock(&c->lock);
	for (size_t i = 0; i < MDC_SLOTS; i++)
		if (c->e[i].rel[0] != '\0')
			mdc_drop(&c->e[i]);
	pthread_mutex_unlock(&c->lock);
}

void
maildir_cache_free(struct store *st)
{
	struct maildir_cache *c = atomic_exchange(&st->mdcache, NULL);

	if (c == NULL)
		return;
	for (size_t i = 0; i < MDC_SLOTS; i++)
		mdc_close(&c->e[i]);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

/*
 * Creates <domain>/<local>/{tmp,new,cur} as needed. Every directory we
 * create gets its parent fsynced, so a delivery acknowledged into a brand
 * new Maildir survives a crash together with the Maildir itself.
 */
int
maildir_open(struct store *st, const char *rel, int create)
{
	static const char *const subdirs[] = { "tmp", "new", "cur" };
	const char *slash = strchr(rel, '/');
	char domain[STORE_NAME_MAX + 1];
	int dfd, mfd, created, saved;

	if (slash == NULL || (size_t)(slash - rel) >= sizeof(domain)) {
		errno = EINVAL;
		return -1;
	}
	if (!create)
		return openat(st->mail_fd, rel, O_RDONLY | O_DIRECTORY |
		    O_NOFOLLOW | O_CLOEXEC);
	if ((mfd = mdc_lookup(mdc_get(st), rel)) != -1)
		return mfd;
	memcpy(domain, rel, (size_t)(slash - rel));
	domain[slash - rel] = '\0';
	if ((dfd = store_mkdir_open(st->mail_fd, domain, &created)) == -1)
		return -1;
	if (created && fsync(st->mail_fd) == -1)
		goto fail_dfd;
	if ((mfd = store_mkdir_open(dfd, slash + 1, &created)) == -1)
		goto fail_dfd;
	if (created && fsync(dfd) == -1)
		goto fail_mfd;
	for (size_t i = 0; i < sizeof(subdirs) / sizeof(subdirs[0]); i++) {
		int fd = store_mkdir_open(mfd, subdirs[i], &created);

		if (fd == -1)
			goto fail_mfd;
		close(fd);
		if (created && fsync(mfd) == -1)
			goto fail_mfd;
	}
	close(dfd);
	mdc_insert(mdc_get(st), rel, mfd);
	return mfd;
fail_mfd:
	saved = errno;
	close(mfd);
	errno = saved;
fail_dfd:
	saved = errno;
	close(dfd);
	errno = saved;
	return -1;
}
