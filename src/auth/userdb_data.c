/*
 * The parsed form of the userdb files and the file helpers shared by
 * loading and editing; see userdb_private.h. Parsing does no I/O.
 */
#include "auth/userdb.h"
#include "auth/userdb_private.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/rand.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "auth/hash.h"
#include "core/buf.h"
#include "core/str.h"
#include "core/xmalloc.h"

static char ud_errbuf[512];

const char *
ud_err(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(ud_errbuf, sizeof(ud_errbuf), fmt, ap);
	va_end(ap);
	return ud_errbuf;
}

/*
 * Characters that would break one of the file formats or a mail path:
 * separators of the files (':' ',' '#' TAB), path delimiters and quoting.
 */
static bool
addr_char_ok(unsigned char c)
{
	if (c <= 0x20 || c >= 0x7f)
		return false;
	return strchr(":,#<>\"\\()[];", c) == NULL;
}

int
userdb_addr_normalize(const char *addr, char *out, size_t outsz)
{
	size_t len = strlen(addr), at = len, i;

	if (len == 0 || len > USERDB_ADDR_MAX || len >= outsz)
		goto bad;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)addr[i];

		if (c == '@') {
			if (at != len)
				goto bad;
			at = i;
		} else if (!addr_char_ok(c))
			goto bad;
	}
	/* RFC 5321 4.1.2: local part and domain both non-empty. */
	if (at == 0 || at == len || at + 1 == len || addr[at + 1] == '.' ||
	    addr[len - 1] == '.')
		goto bad;
	memcpy(out, addr, len + 1);
	str_lower(out);
	return 0;
bad:
	if (outsz > 0)
		out[0] = '\0';
	return -1;
}

const char *
userdb_addr_domain(const char *addr)
{
	const char *at = strrchr(addr, '@');

	return at == NULL ? addr + strlen(addr) : at + 1;
}

bool
userdb_domain_listed(char *const *domains, size_t n, const char *domain)
{
	for (size_t i = 0; i < n; i++)
		if (strcasecmp(domains[i], domain) == 0)
			return true;
	return false;
}

/*
 * Takes the next line (without its LF and a CR before it) and counts it.
 * Returns false at the end of the text.
 */
static bool
next_line(struct str_view *cur, struct str_view *line, unsigned *lineno)
{
	if (cur->len == 0)
		return false;
	*line = str_take_until(cur, '\n');
	str_take_char(cur, '\n');
	if (line->len > 0 && line->p[line->len - 1] == '\r')
		line->len--;
	(*lineno)++;
	return true;
}

static bool
line_is_blank(struct str_view line)
{
	line = str_trim(line);
	return line.len == 0 || line.p[0] == '#';
}

/* Normalizes a view into out (USERDB_ADDR_MAX + 1 bytes). */
static int
addr_from_view(struct str_view v, char *out)
{
	char tmp[USERDB_ADDR_MAX + 1];

	if (str_copy(tmp, sizeof(tmp), v) == -1)
		return -1;
	return userdb_addr_normalize(tmp, out, USERDB_ADDR_MAX + 1);
}

static int
cmp_account(const void *a, const void *b)
{
	return strcmp(((const struct ud_account *)a)->addr,
	    ((const struct ud_account *)b)->addr);
}

static int
cmp_alias(const void *a, const void *b)
{
	return strcmp(((const struct ud_alias *)a)->addr,
	    ((const struct ud_alias *)b)->addr);
}

static int
cmp_apop(const void *a, const void *b)
{
	return strcmp(((const struct ud_apop *)a)->addr,
	    ((const struct ud_apop *)b)->addr);
}

/* The first member of each entry type is its address. */
static int
cmp_key(const void *key, const void *entry)
{
	return strcmp(key, *(char *const *)entry);
}

const struct ud_account *
ud_find_account(const struct ud_data *d, const char *addr)
{
	if (d->n_acct == 0)
		return NULL;
	return bsearch(addr, d->acct, d->n_acct, sizeof(*d->acct), cmp_key);
}

const struct ud_alias *
ud_find_alias(const struct ud_data *d, const char *addr)
{
	if (d->n_alias == 0)
		return NULL;
	return bsearch(addr, d->alias, d->n_alias, sizeof(*d->alias), cmp_key);
}

const struct ud_apop *
ud_find_apop(const struct ud_data *d, const char *addr)
{
	if (d->n_apop == 0)
		return NULL;
	return bsearch(addr, d->apop, d->n_apop, sizeof(*d->apop), cmp_key);
}

/* Reports the first duplicate of a sorted array. */
static int
check_sorted_unique(void *base, size_t n, size_t size, const char *name,
    const char **errstr)
{
	char *p = base;

	for (size_t i = 1; i < n; i++) {
		const char *a = *(char **)(p + (i - 1) * size);
		const char *b = *(char **)(p + i * size);

		if (strcmp(a, b) == 0) {
			*errstr = ud_err("%s: duplicate entry for %s", name, b);
			return -1;
		}
	}
	return 0;
}

static int
parse_users_line(struct ud_account *a, struct str_view line)
{
	struct str_view f_addr, f_hash, f_scram;
	char addr[USERDB_ADDR_MAX + 1];

	f_addr = str_trim(str_take_until(&line, '\t'));
	if (!str_take_char(&line, '\t'))
		return -1;
	f_hash = str_trim(str_take_until(&line, '\t'));
	f_scram = str_take_char(&line, '\t') ? str_trim(line) :
	    str_view_make("", 0);
	if (addr_from_view(f_addr, addr) == -1 || f_hash.len == 0 ||
	    f_hash.len >= HASH_MAX ||
	    memchr(f_hash.p, ' ', f_hash.len) != NULL ||
	    memchr(f_hash.p, '\0', f_hash.len) != NULL)
		return -1;
	if (f_scram.len > 0) {
		if (scram_entry_parse(f_scram.p, f_scram.len, &a->scram) == -1)
			return -1;
		a->has_scram = true;
	}
	a->addr = xstrdup(addr);
	a->hash = xstrndup(f_hash.p, f_hash.len);
	return 0;
}

int
ud_parse_users(struct ud_data *d, const char *text, size_t len,
    const char **errstr)
{
	struct str_view cur = str_view_make(text, len), line;
	unsigned lineno = 0;
	size_t cap = 0;

	while (next_line(&cur, &line, &lineno)) {
		if (line_is_blank(line))
			continue;
		if (d->n_acct == cap) {
			cap = cap == 0 ? 16 : cap * 2;
			d->acct = xrealloc(d->acct, cap * sizeof(*d->acct));
		}
		memset(&d->acct[d->n_acct], 0, sizeof(*d->acct));
		if (parse_users_line(&d->acct[d->n_acct], line) == -1) {
			*errstr = ud_err(UD_USERS ":%u: expected "
			    "address<TAB>hash[<TAB>SCRAM-SHA-256$...]", lineno);
			return -1;
		}
		d->n_acct++;
	}
	if (d->n_acct > 1)
		qsort(d->acct, d->n_acct, sizeof(*d->acct), cmp_account);
	return check_sorted_unique(d->acct, d->n_acct, sizeof(*d->acct),
	    UD_USERS, errstr);
}

/* Parses "address: target, target ..." into *a; static text on error. */
static const char *
parse_alias_line(struct ud_alias *a, struct str_view line)
{
	struct str_view lhs;
	char addr[USERDB_ADDR_MAX + 1], t[USERDB_ADDR_MAX + 1];

	lhs = str_trim(str_take_until(&line, ':'));
	if (!str_take_char(&line, ':') || addr_from_view(lhs, addr) == -1)
		return "expected address: target, ...";
	a->addr = xstrdup(addr);
	strlist_init(&a->targets);
	for (;;) {
		size_t n = 0;

		while (line.len > 0 && (line.p[0] == ' ' || line.p[0] == '\t' ||
		    line.p[0] == ','))
			str_take_char(&line, line.p[0]);
		if (line.len == 0)
			break;
		while (n < line.len && line.p[n] != ' ' && line.p[n] != '\t' &&
		    line.p[n] != ',')
			n++;
		if (addr_from_view(str_view_make(line.p, n), t) == -1)
			return "malformed target address";
		if (strcmp(t, addr) == 0)
			return "alias names itself";
		strlist_add_unique(&a->targets, t);
		line.p += n;
		line.len -= n;
	}
	if (a->targets.n == 0)
		return "alias without targets";
	return NULL;
}

int
ud_parse_aliases(struct ud_data *d, const char *text, size_t len,
    const char **errstr)
{
	struct str_view cur = str_view_make(text, len), line;
	unsigned lineno = 0;
	size_t cap = 0;

	while (next_line(&cur, &line, &lineno)) {
		const char *msg;

		if (line_is_blank(line))
			continue;
		if (d->n_alias == cap) {
			cap = cap == 0 ? 16 : cap * 2;
			d->alias = xrealloc(d->alias, cap * sizeof(*d->alias));
		}
		memset(&d->alias[d->n_alias], 0, sizeof(*d->alias));
		/* Counted even on error so ud_data_free() frees it. */
		msg = parse_alias_line(&d->alias[d->n_alias], line);
		d->n_alias++;
		if (msg != NULL) {
			*errstr = ud_err(UD_ALIASES ":%u: %s", lineno, msg);
			return -1;
		}
	}
	if (d->n_alias > 1)
		qsort(d->alias, d->n_alias, sizeof(*d->alias), cmp_alias);
	return check_sorted_unique(d->alias, d->n_alias, sizeof(*d->alias),
	    UD_ALIASES, errstr);
}

/* APOP secrets: 1..255 printable ASCII without spaces. */
static bool
apop_secret_ok(struct str_view s)
{
	if (s.len == 0 || s.len > 255)
		return false;
	for (size_t i = 0; i < s.len; i++) {
		unsigned char c = (unsigned char)s.p[i];

		if (c <= 0x20 || c >= 0x7f)
			return false;
	}
	return true;
}

int
ud_parse_apop(struct ud_data *d, const char *text, size_t len,
    const char **errstr)
{
	struct str_view cur = str_view_make(text, len), line;
	unsigned lineno = 0;
	size_t cap = 0;

	while (next_line(&cur, &line, &lineno)) {
		struct str_view f_addr, f_secret;
		char addr[USERDB_ADDR_MAX + 1];

		if (line_is_blank(line))
			continue;
		f_addr = str_trim(str_take_until(&line, '\t'));
		f_secret = str_take_char(&line, '\t') ? str_trim(line) :
		    str_view_make("", 0);
		if (addr_from_view(f_addr, addr) == -1 ||
		    !apop_secret_ok(f_secret)) {
			*errstr = ud_err(UD_APOP ":%u: expected "
			    "address<TAB>secret", lineno);
			return -1;
		}
		if (d->n_apop == cap) {
			cap = cap == 0 ? 16 : cap * 2;
			d->apop = xrealloc(d->apop, cap * sizeof(*d->apop));
		}
		d->apop[d->n_apop].addr = xstrdup(addr);
		d->apop[d->n_apop].secret = xstrndup(f_secret.p, f_secret.len);
		d->n_apop++;
	}
	if (d->n_apop > 1)
		qsort(d->apop, d->n_apop, sizeof(*d->apop), cmp_apop);
	return check_sorted_unique(d->apop, d->n_apop, sizeof(*d->apop),
	    UD_APOP, errstr);
}

void
ud_data_free(struct ud_data *d)
{
	for (size_t i = 0; i < d->n_acct; i++) {
		free(d->acct[i].addr);
		if (d->acct[i].hash != NULL) {
			explicit_bzero(d->acct[i].hash,
			    strlen(d->acct[i].hash));
			free(d->acct[i].hash);
		}
	}
	if (d->acct != NULL)
		explicit_bzero(d->acct, d->n_acct * sizeof(*d->acct));
	free(d->acct);
	for (size_t i = 0; i < d->n_alias; i++) {
		free(d->alias[i].addr);
		strlist_clear(&d->alias[i].targets);
	}
	free(d->alias);
	for (size_t i = 0; i < d->n_apop; i++) {
		free(d->apop[i].addr);
		explicit_bzero(d->apop[i].secret, strlen(d->apop[i].secret));
		free(d->apop[i].secret);
	}
	free(d->apop);
	memset(d, 0, sizeof(*d));
}

int
ud_file_read(const char *dir, const char *name, bool is_text,
    struct buf *out, struct stat *st, bool *exists, const char **errstr)
{
	char path[4096];
	struct stat sb;
	int fd, n;

	*exists = false;
	n = snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (n < 0 || (size_t)n >= sizeof(path)) {
		*errstr = ud_err("%s/%s: path too long", dir, name);
		return -1;
	}
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) == -1) {
		if (errno == ENOENT) {
			if (st != NULL)
				memset(st, 0, sizeof(*st));
			return 0;
		}
		*errstr = ud_err("open(%s): %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &sb) == -1 || !S_ISREG(sb.st_mode) ||
	    sb.st_size > (off_t)USERDB_FILE_MAX) {
		*errstr = ud_err("%s: not a regular file of at most %u bytes",
		    path, USERDB_FILE_MAX);
		close(fd);
		return -1;
	}
	for (;;) {
		char chunk[8192];
		ssize_t r = read(fd, chunk, sizeof(chunk));

		if (r == 0)
			break;
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1 || buf_append(out, chunk, (size_t)r) == -1) {
			*errstr = r == -1 ?
			    ud_err("read(%s): %s", path, strerror(errno)) :
			    ud_err("%s: larger than %u bytes", path,
			    USERDB_FILE_MAX);
			explicit_bzero(chunk, sizeof(chunk));
			close(fd);
			return -1;
		}
		explicit_bzero(chunk, sizeof(chunk));
	}
	close(fd);
	if (is_text && out->len > 0 && memchr(out->data, '\0',
	    out->len) != NULL) {
		*errstr = ud_err("%s: contains a NUL byte", path);
		return -1;
	}
	*exists = true;
	if (st != NULL)
		*st = sb;
	return 0;
}

static int
write_all(int fd, const char *p, size_t len)
{
	while (len > 0) {
		ssize_t w = write(fd, p, len);

		if (w == -1 && errno == EINTR)
			continue;
		if (w == -1)
			return -1;
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

static int
fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int rc;

	if (fd == -1)
		return -1;
	rc = fsync(fd);
	close(fd);
	return rc;
}

int
ud_file_replace(const char *dir, const char *name, const void *data,
    size_t len, mode_t new_mode, const char **errstr)
{
	char path[4096], tmp[4096];
	unsigned char rnd[8];
	struct stat st, tst;
	int fd, n, n2;

	if (RAND_bytes(rnd, sizeof(rnd)) != 1) {
		*errstr = ud_err("RAND_bytes failed");
		return -1;
	}
	n = snprintf(path, sizeof(path), "%s/%s", dir, name);
	n2 = snprintf(tmp, sizeof(tmp), "%s/.%s.tmp.%ld.%02x%02x%02x%02x",
	    dir, name, (long)getpid(), rnd[0], rnd[1], rnd[2], rnd[3]);
	if (n < 0 || (size_t)n >= sizeof(path) || n2 < 0 ||
	    (size_t)n2 >= sizeof(tmp)) {
		*errstr = ud_err("%s/%s: path too long", dir, name);
		return -1;
	}
	/* Keep the old file's owner and mode, else inherit the directory's. */
	if (stat(path, &st) == -1) {
		if (errno != ENOENT || stat(dir, &st) == -1) {
			*errstr = ud_err("stat(%s): %s", path, strerror(errno));
			return -1;
		}
		st.st_mode = new_mode;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
	    0600);
	if (fd == -1) {
		*errstr = ud_err("open(%s): %s", tmp, strerror(errno));
		return -1;
	}
	if (fstat(fd, &tst) == -1 ||
	    ((tst.st_uid != st.st_uid || tst.st_gid != st.st_gid) &&
	    fchown(fd, st.st_uid, st.st_gid) == -1)) {
		*errstr = ud_err("fchown(%s, %ld, %ld): %s", tmp,
		    (long)st.st_uid, (long)st.st_gid, strerror(errno));
		goto fail;
	}
	if (fchmod(fd, st.st_mode & 07777) == -1) {
		*errstr = ud_err("fchmod(%s): %s", tmp, strerror(errno));
		goto fail;
	}
	if (write_all(fd, data, len) == -1 || fsync(fd) == -1) {
		*errstr = ud_err("write(%s): %s", tmp, strerror(errno));
		goto fail;
	}
	if (close(fd) == -1) {
		fd = -1;
		*errstr = ud_err("close(%s): %s", tmp, strerror(errno));
		goto fail;
	}
	fd = -1;
	if (rename(tmp, path) == -1) {
		*errstr = ud_err("rename(%s, %s): %s", tmp, path,
		    strerror(errno));
		goto fail;
	}
	if (fsync_dir(dir) == -1) {
		/* The new file is in place; only its durability is unsure. */
		*errstr = ud_err("fsync(%s): %s", dir, strerror(errno));
		return -1;
	}
	return 0;
fail:
	if (fd != -1)
		close(fd);
	unlink(tmp);
	return -1;
}
