/*
 * The outbound queue: queue/<id> is the message (a hard link of the spool
 * file), queue/<id>.env its envelope. The envelope is the commit point: a
 * message without one was never acknowledged and recovery removes it. The
 * relay rewrites the envelope atomically after each attempt.
 *
 * Envelope format, version 1. Text, every line ends in LF, no CR, lines
 * in exactly this order:
 *
 *   sealpost-envelope 1
 *   id <16 lower-case hex digits>
 *   sender <ADDR>
 *   arrival <unix seconds>
 *   delay-notified <unix seconds>                        (optional)
 *   rcpt <state> <attempts> <next-try> <ADDR> <REPLY>     (1..1000 lines)
 *
 * <state> is pending, delivered or failed; <attempts> and <next-try>
 * (unix seconds, 0 = as soon as possible) are decimal. <ADDR> is the
 * address in angle brackets, "<>" for the null sender; inside the
 * brackets '%', '<', '>', space, control bytes and bytes >= 0x7f are
 * written %XX (upper-case hex). <REPLY> is the rest of the line: the last
 * SMTP reply for that recipient, "" when none, with '%' and control bytes
 * as %XX. The single space before <REPLY> is always written; an empty
 * reply then leaves the line ending in "> ". Decoded addresses are at
 * most 512 bytes, replies 1024, the file 2 MiB; %00 is rejected.
 * delay-notified, written only once a delay notice went out (so files
 * without it are the same as before it existed), is when that was.
 *
 * Example:
 *   sealpost-envelope 1
 *   id 65a1b2c3d4e5f607
 *   sender <alice@example.org>
 *   arrival 1705100000
 *   rcpt pending 0 0 <bob@example.net> 
 *   rcpt failed 1 0 <carol@example.com> 550 5.1.1 no such user
 */
#include "store/store_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/log.h"
#include "core/str.h"
#include "core/xmalloc.h"

#define ENV_MAGIC	"sealpost-envelope 1"

static const char *const state_names[] = {
	[QUEUE_RCPT_PENDING] = "pending",
	[QUEUE_RCPT_DELIVERED] = "delivered",
	[QUEUE_RCPT_FAILED] = "failed",
};

bool
store_id_valid(const char *s, size_t len)
{
	if (len != STORE_ID_LEN)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

void
store_queue_envelope_cleanup(struct queue_envelope *env)
{
	for (size_t i = 0; i < env->n_rcpt; i++) {
		free(env->rcpt[i].addr);
		free(env->rcpt[i].last_reply);
	}
	free(env->rcpt);
	free(env->sender);
	memset(env, 0, sizeof(*env));
}

int
store_queue_envelope_add_rcpt(struct queue_envelope *env, const char *addr)
{
	struct queue_rcpt *r;

	if (env->n_rcpt >= QUEUE_ENV_MAX_RCPTS ||
	    strlen(addr) > QUEUE_ENV_MAX_ADDR)
		return -1;
	/* Grows by doubling; bounded by QUEUE_ENV_MAX_RCPTS. */
	if ((env->n_rcpt & (env->n_rcpt - 1)) == 0)
		env->rcpt = xrealloc(env->rcpt, (env->n_rcpt == 0 ? 1 :
		    2 * env->n_rcpt) * sizeof(*env->rcpt));
	r = &env->rcpt[env->n_rcpt++];
	memset(r, 0, sizeof(*r));
	r->state = QUEUE_RCPT_PENDING;
	r->addr = xstrdup(addr);
	r->last_reply = xstrdup("");
	return 0;
}

/* --- parsing --- */

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Decodes %XX escapes of v into a new string of at most max bytes. */
static char *
decode(struct str_view v, size_t max, bool is_addr)
{
	char *out = xmalloc(v.len + 1);
	size_t o = 0;

	for (size_t i = 0; i < v.len; i++) {
		unsigned char c = (unsigned char)v.p[i];

		if (c == '%') {
			int hi, lo;

			if (v.len - i < 3 ||
			    (hi = hexval(v.p[i + 1])) < 0 ||
			    (lo = hexval(v.p[i + 2])) < 0 || (hi | lo) == 0)
				goto bad;
			c = (unsigned char)(hi << 4 | lo);
			i += 2;
		} else if (c < 0x20 || c == 0x7f ||
		    (is_addr && (c == ' ' || c == '<' || c == '>' || c >= 0x80)))
			goto bad;
		if (o >= max)
			goto bad;
		out[o++] = (char)c;
	}
	out[o] = '\0';
	return out;
bad:
	free(out);
	return NULL;
}

/* Takes "<...>" at the cursor and decodes it. */
static char *
take_addr(struct str_view *cur)
{
	struct str_view inner;

	if (!str_take_char(cur, '<'))
		return NULL;
	inner = str_take_until(cur, '>');
	if (!str_take_char(cur, '>'))
		return NULL;
	return decode(inner, QUEUE_ENV_MAX_ADDR, true);
}

/* Takes "key " at the start of line; true when it matched. */
static bool
take_key(struct str_view *line, const char *key)
{
	size_t n = strlen(key);

	if (line->len <= n || memcmp(line->p, key, n) != 0 || line->p[n] != ' ')
		return false;
	line->p += n + 1;
	line->len -= n + 1;
	return true;
}

/*
 * Decimal digits at the cursor, the full uint64_t range (the formatter
 * writes any value, so the parser must read any value back).
 */
static int
parse_u64(struct str_view *cur, uint64_t *out, uint64_t max)
{
	uint64_t v = 0;
	size_t i = 0;

	for (; i < cur->len && cur->p[i] >= '0' && cur->p[i] <= '9'; i++) {
		uint64_t d = (uint64_t)(cur->p[i] - '0');

		if (v > (max - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	if (i == 0)
		return -1;
	cur->p += i;
	cur->len -= i;
	*out = v;
	return 0;
}

/* One space-terminated decimal field. */
static int
take_number(struct str_view *cur, uint64_t *out, uint64_t max)
{
	if (parse_u64(cur, out, max) == -1)
		return -1;
	return str_take_char(cur, ' ') ? 0 : -1;
}

static int
parse_rcpt(struct str_view line, struct queue_envelope *env)
{
	struct str_view word;
	struct queue_rcpt *r;
	uint64_t attempts, next_try;
	int state = -1;

	word = str_take_until(&line, ' ');
	if (!str_take_char(&line, ' '))
		return -1;
	for (size_t i = 0; i < sizeof(state_names) / sizeof(state_names[0]);
	    i++)
		if (str_eq(word, state_names[i]))
			state = (int)i;
	if (state == -1 || take_number(&line, &attempts, UINT32_MAX) == -1 ||
	    take_number(&line, &next_try, UINT64_MAX) == -1)
		return -1;
	if (env->n_rcpt >= QUEUE_ENV_MAX_RCPTS ||
	    store_queue_envelope_add_rcpt(env, "") == -1)
		return -1;
	r = &env->rcpt[env->n_rcpt - 1];
	r->state = (enum queue_rcpt_state)state;
	r->attempts = (uint32_t)attempts;
	r->next_try = next_try;
	free(r->addr);
	if ((r->addr = take_addr(&line)) == NULL) {
		r->addr = xstrdup("");
		return -1;
	}
	if (!str_take_char(&line, ' '))
		return -1;
	free(r->last_reply);
	if ((r->last_reply = decode(line, QUEUE_ENV_MAX_REPLY, false)) == NULL) {
		r->last_reply = xstrdup("");
		return -1;
	}
	return 0;
}

/* Header lines in order; 0 when line was consumed as header #idx. */
static int
parse_header(struct str_view line, int idx, struct queue_envelope *env)
{
	uint64_t v;

	switch (idx) {
	case 0:
		return str_eq(line, ENV_MAGIC) ? 0 : -1;
	case 1:
		if (!take_key(&line, "id") || !store_id_valid(line.p, line.len))
			return -1;
		memcpy(env->id, line.p, STORE_ID_LEN);
		env->id[STORE_ID_LEN] = '\0';
		return 0;
	case 2:
		if (!take_key(&line, "sender") ||
		    (env->sender = take_addr(&line)) == NULL)
			return -1;
		return line.len == 0 ? 0 : -1;
	case 3:
		if (!take_key(&line, "arrival") ||
		    parse_u64(&line, &v, UINT64_MAX) == -1 || line.len != 0)
			return -1;
		env->arrival = v;
		return 0;
	default:
		return -1;
	}
}

int
store_queue_envelope_parse(const char *data, size_t len,
    struct queue_envelope *out)
{
	struct str_view cur = str_view_make(data, len);
	int idx = 0;

	memset(out, 0, sizeof(*out));
	if (len > QUEUE_ENV_MAX_SIZE)
		return -1;
	while (cur.len > 0) {
		struct str_view line = str_take_until(&cur, '\n');

		if (!str_take_char(&cur, '\n') ||
		    memchr(line.p, '\r', line.len) != NULL)
			goto bad;
		if (idx < 4) {
			if (parse_header(line, idx++, out) == -1)
				goto bad;
		} else if (idx == 4 && out->n_rcpt == 0 &&
		    take_key(&line, "delay-notified")) {
			idx++;
			if (parse_u64(&line, &out->delay_notified,
			    UINT64_MAX) == -1 || line.len != 0 ||
			    out->delay_notified == 0)
				goto bad;
		} else if (!take_key(&line, "rcpt") ||
		    parse_rcpt(line, out) == -1)
			goto bad;
	}
	if (idx < 4 || out->n_rcpt == 0)
		goto bad;
	return 0;
bad:
	store_queue_envelope_cleanup(out);
	return -1;
}

/* --- formatting --- */

static int
encode(struct buf *out, const char *s, size_t max, bool is_addr)
{
	size_t n = strlen(s);

	if (n > max)
		return -1;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		bool esc = c == '%' || c < 0x20 || c == 0x7f ||
		    (is_addr && (c == ' ' || c == '<' || c == '>' || c >= 0x80));

		if (esc ? buf_printf(out, "%%%02X", c) == -1 :
		    buf_append_char(out, (char)c) == -1)
			return -1;
	}
	return 0;
}

int
store_queue_envelope_format(const struct queue_envelope *env,
    struct buf *out)
{
	if (!store_id_valid(env->id, strlen(env->id)) || env->n_rcpt == 0 ||
	    env->n_rcpt > QUEUE_ENV_MAX_RCPTS)
		return -1;
	if (buf_printf(out, ENV_MAGIC "\nid %s\nsender <", env->id) == -1 ||
	    encode(out, env->sender, QUEUE_ENV_MAX_ADDR, true) == -1 ||
	    buf_printf(out, ">\narrival %llu\n",
	    (unsigned long long)env->arrival) == -1)
		return -1;
	if (env->delay_notified != 0 && buf_printf(out, "delay-notified %llu\n",
	    (unsigned long long)env->delay_notified) == -1)
		return -1;
	for (size_t i = 0; i < env->n_rcpt; i++) {
		const struct queue_rcpt *r = &env->rcpt[i];

		if ((unsigned)r->state > QUEUE_RCPT_FAILED)
			return -1;
		if (buf_printf(out, "rcpt %s %u %llu <", state_names[r->state],
		    (unsigned)r->attempts, (unsigned long long)r->next_try) == -1 ||
		    encode(out, r->addr, QUEUE_ENV_MAX_ADDR, true) == -1 ||
		    buf_append_str(out, "> ") == -1 ||
		    encode(out, r->last_reply, QUEUE_ENV_MAX_REPLY, false) == -1 ||
		    buf_append_char(out, '\n') == -1)
			return -1;
	}
	return 0;
}

/*
 * --- files ---
 * Every name below is built from an id that is STORE_ID_LEN hex digits
 * (validated, or made by store_spool_create) into a buffer sized for it,
 * so those snprintf calls cannot truncate.
 */

/* Writes env to tmpname under queue/ (new file, fsynced). */
static int
envelope_write_tmp(struct store *st, const struct queue_envelope *env,
    const char *tmpname, char *err)
{
	struct buf b;
	int fd, saved;

	buf_init(&b, QUEUE_ENV_MAX_SIZE);
	if (store_queue_envelope_format(env, &b) == -1) {
		buf_cleanup(&b);
		store_err(err, "queue/%s: envelope over limits", env->id);
		errno = EINVAL;
		return -1;
	}
	fd = openat(st->queue_fd, tmpname, O_WRONLY | O_CREAT | O_EXCL |
	    O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd == -1) {
		store_err(err, "open(queue/%s): %s", tmpname, strerror(errno));
		buf_cleanup(&b);
		return -1;
	}
	if (store_write_all(fd, b.data, b.len) == -1 || fsync(fd) == -1) {
		saved = errno;
		store_err(err, "write(queue/%s): %s", tmpname, strerror(saved));
		close(fd);
		unlinkat(st->queue_fd, tmpname, 0);
		buf_cleanup(&b);
		errno = saved;
		return -1;
	}
	buf_cleanup(&b);
	if (close(fd) == -1) {
		store_err(err, "close(queue/%s): %s", tmpname, strerror(errno));
		unlinkat(st->queue_fd, tmpname, 0);
		return -1;
	}
	return 0;
}

int
queue_stage(struct store *st, const char *id, const struct store_delivery *d,
    char *err)
{
	struct queue_envelope env;
	char tmpname[STORE_ID_LEN + 16];
	int rc;

	memset(&env, 0, sizeof(env));
	snprintf(env.id, sizeof(env.id), "%s", id);
	env.sender = xstrdup(d->sender != NULL ? d->sender : "");
	env.arrival = (uint64_t)time(NULL);
	for (size_t i = 0; i < d->n_remote; i++)
		if (store_queue_envelope_add_rcpt(&env, d->remote[i]) == -1) {
			store_err(err, "queue/%s: too many or too long "
			    "recipients", id);
			store_queue_envelope_cleanup(&env);
			return -1;
		}
	if (linkat(st->spool_fd, id, st->queue_fd, id, 0) == -1) {
		store_err(err, "link(spool/%s, queue/%s): %s", id, id,
		    strerror(errno));
		store_queue_envelope_cleanup(&env);
		return -1;
	}
	snprintf(tmpname, sizeof(tmpname), "%s.env.tmp", id);
	rc = envelope_write_tmp(st, &env, tmpname, err);
	store_queue_envelope_cleanup(&env);
	return rc;
}

int
queue_publish(struct store *st, const char *id, char *err)
{
	char tmpname[STORE_ID_LEN + 16], name[STORE_ID_LEN + 8];

	snprintf(tmpname, sizeof(tmpname), "%s.env.tmp", id);
	snprintf(name, sizeof(name), "%s.env", id);
	if (store_rename_noreplace(st->queue_fd, tmpname, st->queue_fd,
	    name) == -1) {
		store_err(err, "rename(queue/%s, queue/%s): %s", tmpname, name,
		    strerror(errno));
		return -1;
	}
	if (fsync(st->queue_fd) == -1) {
		store_err(err, "fsync(queue): %s", strerror(errno));
		return -1;
	}
	return 0;
}

void
queue_unstage(struct store *st, const char *id)
{
	char name[STORE_ID_LEN + 16];

	snprintf(name, sizeof(name), "%s.env", id);
	unlinkat(st->queue_fd, name, 0);
	snprintf(name, sizeof(name), "%s.env.tmp", id);
	unlinkat(st->queue_fd, name, 0);
	unlinkat(st->queue_fd, id, 0);
	fsync(st->queue_fd);
}

int
store_queue_envelope_load(struct store *st, const char *id,
    struct queue_envelope *out, const char **errstr)
{
	char *err = store_tls_errbuf(), name[STORE_ID_LEN + 8], *data;
	struct stat sb;
	size_t got = 0;
	int fd;

	memset(out, 0, sizeof(*out));
	*errstr = err;
	if (!store_id_valid(id, strlen(id))) {
		store_err(err, "bad queue id");
		return -1;
	}
	snprintf(name, sizeof(name), "%s.env", id);
	if ((fd = openat(st->queue_fd, name, O_RDONLY | O_CLOEXEC |
	    O_NOFOLLOW)) == -1 || fstat(fd, &sb) == -1) {
		store_err(err, "open(queue/%s): %s", name, strerror(errno));
		if (fd != -1)
			close(fd);
		return -1;
	}
	if (sb.st_size > QUEUE_ENV_MAX_SIZE) {
		close(fd);
		store_err(err, "queue/%s: too large", name);
		return -1;
	}
	data = xmalloc((size_t)sb.st_size + 1);
	while (got < (size_t)sb.st_size) {
		ssize_t n = read(fd, data + got, (size_t)sb.st_size - got);

		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	if (store_queue_envelope_parse(data, got, out) == -1 ||
	    strcmp(out->id, id) != 0) {
		store_queue_envelope_cleanup(out);
		free(data);
		store_err(err, "queue/%s: malformed envelope", name);
		return -1;
	}
	free(data);
	return 0;
}

int
store_queue_envelope_save(struct store *st, const struct queue_envelope *env,
    const char **errstr)
{
	char *err = store_tls_errbuf();
	char tmpname[STORE_ID_LEN + 32], name[STORE_ID_LEN + 8];
	uint32_t rnd;

	*errstr = err;
	if (!store_id_valid(env->id, strlen(env->id))) {
		store_err(err, "bad queue id");
		return -1;
	}
	/* A random temp name: two savers never write into one file. */
	store_random(&rnd, sizeof(rnd));
	snprintf(tmpname, sizeof(tmpname), "%s.%08x.tmp", env->id,
	    (unsigned)rnd);
	snprintf(name, sizeof(name), "%s.env", env->id);
	if (envelope_write_tmp(st, env, tmpname, err) == -1)
		return -1;
	if (renameat(st->queue_fd, tmpname, st->queue_fd, name) == -1) {
		store_err(err, "rename(queue/%s, queue/%s): %s", tmpname, name,
		    strerror(errno));
		unlinkat(st->queue_fd, tmpname, 0);
		return -1;
	}
	if (fsync(st->queue_fd) == -1) {
		store_err(err, "fsync(queue): %s", strerror(errno));
		return -1;
	}
	return 0;
}

int
store_queue_message_open(struct store *st, const char *id,
    const char **errstr)
{
	int fd;

	if (!store_id_valid(id, strlen(id))) {
		*errstr = store_err(store_tls_errbuf(), "bad queue id");
		return -1;
	}
	fd = openat(st->queue_fd, id, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd == -1)
		*errstr = store_err(store_tls_errbuf(), "open(queue/%s): %s",
		    id, strerror(errno));
	return fd;
}

int
store_queue_remove(struct store *st, const char *id, const char **errstr)
{
	char name[STORE_ID_LEN + 8];

	*errstr = store_tls_errbuf();
	if (!store_id_valid(id, strlen(id))) {
		store_err(store_tls_errbuf(), "bad queue id");
		return -1;
	}
	snprintf(name, sizeof(name), "%s.env", id);
	if (unlinkat(st->queue_fd, name, 0) == -1 && errno != ENOENT) {
		store_err(store_tls_errbuf(), "unlink(queue/%s): %s", name,
		    strerror(errno));
		return -1;
	}
	if (unlinkat(st->queue_fd, id, 0) == -1 && errno != ENOENT) {
		store_err(store_tls_errbuf(), "unlink(queue/%s): %s", id,
		    strerror(errno));
		return -1;
	}
	if (fsync(st->queue_fd) == -1) {
		store_err(store_tls_errbuf(), "fsync(queue): %s",
		    strerror(errno));
		return -1;
	}
	return 0;
}

static DIR *
queue_opendir(struct store *st)
{
	int fd = openat(st->queue_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *dir;

	if (fd == -1)
		return NULL;
	if ((dir = fdopendir(fd)) == NULL)
		close(fd);
	return dir;
}

int
store_queue_list(struct store *st, int (*fn)(const char *id, void *arg),
    void *arg, const char **errstr)
{
	struct dirent *de;
	DIR *dir;

	if ((dir = queue_opendir(st)) == NULL) {
		*errstr = store_err(store_tls_errbuf(), "opendir(queue): %s",
		    strerror(errno));
		return -1;
	}
	while ((de = readdir(dir)) != NULL) {
		char id[STORE_ID_LEN + 1];

		if (strlen(de->d_name) != STORE_ID_LEN + 4 ||
		    strcmp(de->d_name + STORE_ID_LEN, ".env") != 0 ||
		    !store_id_valid(de->d_name, STORE_ID_LEN))
			continue;
		memcpy(id, de->d_name, STORE_ID_LEN);
		id[STORE_ID_LEN] = '\0';
		if (fn(id, arg) != 0)
			break;
	}
	closedir(dir);
	return 0;
}

int
queue_recover(struct store *st)
{
	struct dirent *de;
	struct stat sb;
	int n = 0;
	DIR *dir;

	if ((dir = queue_opendir(st)) == NULL) {
		log_warn("store event=recover-failed dir=queue error=\"%s\"",
		    strerror(errno));
		return -1;
	}
	while ((de = readdir(dir)) != NULL) {
		size_t len = strlen(de->d_name);
		char env[STORE_ID_LEN + 8];
		bool stale = false;

		if (len > 4 && strcmp(de->d_name + len - 4, ".tmp") == 0)
			stale = true;
		else if (store_id_valid(de->d_name, len)) {
			snprintf(env, sizeof(env), "%.16s.env", de->d_name);
			stale = fstatat(st->queue_fd, env, &sb,
			    AT_SYMLINK_NOFOLLOW) == -1 && errno == ENOENT;
		}
		if (stale && unlinkat(st->queue_fd, de->d_name, 0) == 0) {
			log_info("store event=stale-queue-removed name=%s",
			    de->d_name);
			n++;
		}
	}
	closedir(dir);
	fsync(st->queue_fd);
	return n;
}
