/*
 * Unit tests for src/store: the write path (spool, Maildir links, queue),
 * rollback, name encoding, recovery, the POP3 maildrop and the queue
 * envelope format. Every test works in its own mkdtemp() data dir.
 */
/*
 * Paths here are built from a short mkdtemp() name; GCC cannot know that
 * and warns about truncation at -O2. A truncated path would only make a
 * test fail, never pass wrongly.
 */
#pragma GCC diagnostic ignored "-Wformat-truncation"

#include <setjmp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <linux/fs.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/buf.h"
#include "store/store.h"
#include "test_tmpdir.h"

struct fixture {
	char		 dir[64];
	struct store	*st;
};

static int
setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));
	const char *err = NULL;

	snprintf(fx->dir, sizeof(fx->dir), "/tmp/sealpost-store-XXXXXX");
	if (mkdtemp(fx->dir) == NULL)
		return -1;
	fx->st = store_open(fx->dir, "mx:h/x", &err);
	if (fx->st == NULL) {
		fprintf(stderr, "store_open: %s\n", err);
		return -1;
	}
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *fx = *state;

	store_free(&fx->st);
	assert_null(fx->st);
	test_tmpdir_remove(fx->dir);
	free(fx);
	return 0;
}

/* Path under the data dir. */
static const char *
P(struct fixture *fx, const char *rel)
{
	static char path[1024];

	snprintf(path, sizeof(path), "%s/%s", fx->dir, rel);
	return path;
}

/* Number of non-dot entries in dir; -1 when it does not exist. */
static int
count_dir(const char *path, char *first, size_t firstsz)
{
	struct dirent *de;
	DIR *d = opendir(path);
	int n = 0;

	if (d == NULL)
		return -1;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if (n++ == 0 && first != NULL)
			snprintf(first, firstsz, "%s", de->d_name);
	}
	closedir(d);
	return n;
}

static void
write_file(const char *path, const char *data)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, strlen(data)), (ssize_t)strlen(data));
	close(fd);
}

static size_t
read_fd(int fd, char *out, size_t sz)
{
	size_t got = 0;
	ssize_t n;

	while (got < sz - 1 && (n = read(fd, out + got, sz - 1 - got)) > 0)
		got += (size_t)n;
	out[got] = '\0';
	return got;
}

static const char msg_text[] =
    "Received: from a by b; Mon, 1 Jan 2024 00:00:00 +0000\r\n"
    "Subject: test\r\n\r\nbody line\r\n";

/* Spools msg_text and commits it; returns the commit result. */
static int
deliver(struct fixture *fx, const char *const *local, size_t n_local,
    const char *const *remote, size_t n_remote, char *id_out)
{
	struct store_delivery d = { "sender@example.net", n_local, local,
	    n_remote, remote };
	struct store_spool *sp;
	const char *err = NULL;
	int rc;

	sp = store_spool_create(fx->st, &err);
	assert_non_null(sp);
	assert_int_equal(strlen(store_spool_id(sp)), STORE_ID_LEN);
	if (id_out != NULL)
		snprintf(id_out, STORE_ID_LEN + 1, "%s", store_spool_id(sp));
	assert_int_equal(store_spool_write(sp, msg_text, 20, &err), 0);
	assert_int_equal(store_spool_write(sp, msg_text + 20,
	    sizeof(msg_text) - 21, &err), 0);
	assert_int_equal(store_spool_size(sp), sizeof(msg_text) - 1);
	rc = store_spool_commit(sp, &d, &err);
	if (rc == 0)
		store_spool_free(&sp);
	else
		store_spool_abort(&sp);
	assert_null(sp);
	return rc;
}

static void
test_store_commit_one_local(void **state)
{
	struct fixture *fx = *state;
	const char *rcpt[] = { "alice@example.org" };
	char name[512], path[1024], buf[512], size_tag[32];
	int fd;

	assert_int_equal(deliver(fx, rcpt, 1, NULL, 0, NULL), 0);
	assert_int_equal(count_dir(P(fx, "mail/example.org/alice/new"), name,
	    sizeof(name)), 1);
	assert_int_equal(count_dir(P(fx, "mail/example.org/alice/tmp"), NULL,
	    0), 0);
	assert_int_equal(count_dir(P(fx, "mail/example.org/alice/cur"), NULL,
	    0), 0);
	assert_int_equal(count_dir(P(fx, "spool"), NULL, 0), 0);
	/* <sec>.M<usec>P<pid>Q<n>R<rand>.<host>,S=<size>, host escaped. */
	snprintf(size_tag, sizeof(size_tag), ",S=%zu", sizeof(msg_text) - 1);
	assert_non_null(strstr(name, ".M"));
	assert_non_null(strstr(name, "mx\\072h\\057x"));
	assert_non_null(strstr(name, size_tag));
	assert_null(strchr(name, ':'));
	snprintf(path, sizeof(path), "%s/%s",
	    P(fx, "mail/example.org/alice/new"), name);
	fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(read_fd(fd, buf, sizeof(buf)), sizeof(msg_text) - 1);
	assert_string_equal(buf, msg_text);
	close(fd);
}

static void
test_store_commit_three_local_share_inode(void **state)
{
	struct fixture *fx = *state;
	const char *rcpt[] = { "a@example.org", "b@example.org",
	    "c@other.example", "a@EXAMPLE.org" };
	const char *dirs[] = { "mail/example.org/a/new",
	    "mail/example.org/b/new", "mail/other.example/c/new" };
	char name[512], path[1024];
	struct stat sb;
	ino_t ino = 0;

	/* The duplicate (domain case differs) is delivered once. */
	assert_int_equal(deliver(fx, rcpt, 4, NULL, 0, NULL), 0);
	for (size_t i = 0; i < 3; i++) {
		assert_int_equal(count_dir(P(fx, dirs[i]), name, sizeof(name)),
		    1);
		snprintf(path, sizeof(path), "%s/%s", P(fx, dirs[i]), name);
		assert_int_equal(stat(path, &sb), 0);
		if (i == 0)
			ino = sb.st_ino;
		assert_int_equal(sb.st_ino, ino);
		assert_int_equal(sb.st_nlink, 3);
	}
}

static int
list_cb(const char *id, void *arg)
{
	char *out = arg;

	snprintf(out, STORE_ID_LEN + 1, "%s", id);
	return 0;
}

static void
test_store_commit_remote_writes_envelope(void **state)
{
	struct fixture *fx = *state;
	const char *local[] = { "a@example.org" };
	const char *remote[] = { "x@remote.example", "\"odd guy\"@r.example" };
	char id[STORE_ID_LEN + 1], listed[STORE_ID_LEN + 1] = "", buf[512];
	struct queue_envelope env;
	const char *err = NULL;
	struct stat qs, ms;
	char name[512], path[1024];
	int fd;

	assert_int_equal(deliver(fx, local, 1, remote, 2, id), 0);
	assert_int_equal(count_dir(P(fx, "queue"), NULL, 0), 2);
	assert_int_equal(store_queue_envelope_load(fx->st, id, &env, &err), 0);
	assert_string_equal(env.id, id);
	assert_string_equal(env.sender, "sender@example.net");
	assert_true(env.arrival > 1700000000);
	assert_int_equal(env.n_rcpt, 2);
	assert_string_equal(env.rcpt[0].addr, "x@remote.example");
	assert_string_equal(env.rcpt[1].addr, "\"odd guy\"@r.example");
	assert_int_equal(env.rcpt[1].state, QUEUE_RCPT_PENDING);
	assert_int_equal(env.rcpt[1].attempts, 0);
	assert_string_equal(env.rcpt[1].last_reply, "");

	/* The relay's update path: rewrite, reload. */
	env.rcpt[0].state = QUEUE_RCPT_FAILED;
	env.rcpt[0].attempts = 3;
	free(env.rcpt[0].last_reply);
	env.rcpt[0].last_reply = strdup("550 5.1.1 no\x01 such % user");
	assert_int_equal(store_queue_envelope_save(fx->st, &env, &err), 0);
	store_queue_envelope_cleanup(&env);
	assert_int_equal(store_queue_envelope_load(fx->st, id, &env, &err), 0);
	assert_int_equal(env.rcpt[0].state, QUEUE_RCPT_FAILED);
	assert_int_equal(env.rcpt[0].attempts, 3);
	assert_string_equal(env.rcpt[0].last_reply, "550 5.1.1 no\x01 such % user");
	store_queue_envelope_cleanup(&env);

	assert_int_equal(store_queue_list(fx->st, list_cb, listed, &err), 0);
	assert_string_equal(listed, id);
	fd = store_queue_message_open(fx->st, id, &err);
	assert_true(fd >= 0);
	assert_int_equal(read_fd(fd, buf, sizeof(buf)), sizeof(msg_text) - 1);
	assert_int_equal(fstat(fd, &qs), 0);
	close(fd);
	assert_int_equal(count_dir(P(fx, "mail/example.org/a/new"), name,
	    sizeof(name)), 1);
	snprintf(path, sizeof(path), "%s/%s", P(fx, "mail/example.org/a/new"),
	    name);
	assert_int_equal(stat(path, &ms), 0);
	assert_int_equal(qs.st_ino, ms.st_ino);
	assert_int_equal(store_queue_message_open(fx->st, "../spool/x", &err),
	    -1);

	assert_int_equal(store_queue_remove(fx->st, id, &err), 0);
	assert_int_equal(count_dir(P(fx, "queue"), NULL, 0), 0);
}

/*
 * Makes dir refuse new entries: chmod for ordinary users, the immutable
 * attribute for root (who ignores modes). Returns -1 when neither works.
 */
static int
dir_freeze(const char *dir, bool on)
{
	int fd, flags, rc;

	if (geteuid() != 0)
		return chmod(dir, on ? 0500 : 0700);
	if ((fd = open(dir, O_RDONLY | O_DIRECTORY)) == -1)
		return -1;
	rc = ioctl(fd, FS_IOC_GETFLAGS, &flags);
	if (rc == 0) {
		flags = on ? flags | FS_IMMUTABLE_FL : flags & ~FS_IMMUTABLE_FL;
		rc = ioctl(fd, FS_IOC_SETFLAGS, &flags);
	}
	close(fd);
	return rc;
}

/* How the delivery to the third recipient is broken. */
struct rollback_case {
	const char	*blocker;	/* a plain file where a dir must go */
	const char	*frozen;	/* a directory that refuses entries */
	const char	*remote;	/* a remote recipient, or NULL */
};

static void
test_store_commit_failure_rolls_back(void **state)
{
	static const struct rollback_case cases[] = {
		/* link phase: Maildir, its new/, its domain are files */
		{ "mail/example.org/c", NULL, NULL },
		{ "mail/example.org/c/new", NULL, "r@remote.example" },
		{ "mail/blocked.example", NULL, "r@remote.example" },
		/* rename phase: a and b already in new/ when c fails */
		{ NULL, "mail/example.org/c/new", NULL },
		/* queue phase: the envelope refuses an over-long address */
		{ NULL, NULL, "LONG" },
	};
	struct fixture *fx = *state;
	char longaddr[QUEUE_ENV_MAX_ADDR + 16];

	mkdir(P(fx, "mail/example.org"), 0700);
	memset(longaddr, 'x', sizeof(longaddr) - 1);
	longaddr[sizeof(longaddr) - 1] = '\0';
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct rollback_case *c = &cases[i];
		const char *local[] = { "a@example.org", "b@example.org",
		    i == 2 ? "c@blocked.example" : "c@example.org" };
		const char *remote[] = { c->remote != NULL &&
		    strcmp(c->remote, "LONG") == 0 ? longaddr : c->remote };

		if (c->blocker != NULL) {
			if (strstr(c->blocker, "c/new") != NULL) {
				mkdir(P(fx, "mail/example.org/c"), 0700);
				mkdir(P(fx, "mail/example.org/c/tmp"), 0700);
			}
			write_file(P(fx, c->blocker), "x");
		}
		if (c->frozen != NULL) {
			mkdir(P(fx, "mail/example.org/c"), 0700);
			mkdir(P(fx, "mail/example.org/c/tmp"), 0700);
			mkdir(P(fx, "mail/example.org/c/cur"), 0700);
			mkdir(P(fx, c->frozen), 0700);
			if (dir_freeze(P(fx, c->frozen), true) == -1) {
				fprintf(stderr, "skipping frozen-dir case\n");
				continue;
			}
		}
		assert_int_equal(deliver(fx, local, 3, remote,
		    c->remote != NULL ? 1 : 0, NULL), -1);
		if (c->frozen != NULL)
			dir_freeze(P(fx, c->frozen), false);
		for (size_t j = 0; j < 2; j++) {
			char path[128];

			snprintf(path, sizeof(path),
			    "mail/example.org/%c/new", 'a' + (int)j);
			assert_int_equal(count_dir(P(fx, path), NULL, 0), 0);
			snprintf(path, sizeof(path),
			    "mail/example.org/%c/tmp", 'a' + (int)j);
			assert_int_equal(count_dir(P(fx, path), NULL, 0), 0);
		}
		assert_true(count_dir(P(fx, "mail/example.org/c/tmp"),
		    NULL, 0) <= 0);
		assert_int_equal(count_dir(P(fx, "queue"), NULL, 0), 0);
		assert_int_equal(count_dir(P(fx, "spool"), NULL, 0), 0);
		if (c->blocker != NULL)
			unlink(P(fx, c->blocker));
		if (c->frozen != NULL)
			rmdir(P(fx, c->frozen));
	}
}

static void
test_store_write_failure_is_reported(void **state)
{
	struct fixture *fx = *state;
	const char *rcpt[] = { "a@example.org" };
	struct store_delivery d = { "", 1, rcpt, 0, NULL };
	struct rlimit old, lim;
	struct store_spool *sp;
	const char *err = NULL;
	static char chunk[100000];
	int rc = 0;

	/* A file size limit stands in for a full disk: write() fails. */
	signal(SIGXFSZ, SIG_IGN);
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
	lim = old;
	lim.rlim_cur = 500000;
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
	sp = store_spool_create(fx->st, &err);
	assert_non_null(sp);
	for (int i = 0; i < 20 && rc == 0; i++)
		rc = store_spool_write(sp, chunk, sizeof(chunk), &err);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
	assert_int_equal(rc, -1);
	assert_non_null(strstr(err, "write(spool/"));
	/* Sticky: nothing more is accepted and the commit refuses. */
	assert_int_equal(store_spool_write(sp, "x", 1, &err), -1);
	assert_int_equal(store_spool_commit(sp, &d, &err), -1);
	store_spool_abort(&sp);
	assert_int_equal(count_dir(P(fx, "mail/example.org/a/new"), NULL, 0),
	    -1);
	assert_int_equal(count_dir(P(fx, "spool"), NULL, 0), 0);
}

struct encode_case {
	const char	*account;
	int		 rc;
	const char	*path;
};

static void
test_store_account_path_encodes_unsafe_parts(void **state)
{
	static const struct encode_case cases[] = {
		{ "alice@example.org", 0, "example.org/alice" },
		{ "Alice@Example.ORG", 0, "example.org/Alice" },
		{ "../x@example.org", 0, "example.org/%2E.%2Fx" },
		{ "..@example.org", 0, "example.org/%2E." },
		{ ".@example.org", 0, "example.org/%2E" },
		{ ".hidden@example.org", 0, "example.org/%2Ehidden" },
		{ "a/b@example.org", 0, "example.org/a%2Fb" },
		{ "a%2Fb@example.org", 0, "example.org/a%252Fb" },
		{ "a\nb@example.org", 0, "example.org/a%0Ab" },
		{ "x@y@example.org", 0, "example.org/x@y" },
		{ "a@../etc", 0, "%2E.%2Fetc/a" },
		{ "a@..", 0, "%2E./a" },
		{ "nodomain", -1, NULL },
		{ "@example.org", -1, NULL },
		{ "a@", -1, NULL },
	};
	char out[600], big[400];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc = store_account_path(cases[i].account, out, sizeof(out));

		assert_int_equal(rc, cases[i].rc);
		if (rc == 0)
			assert_string_equal(out, cases[i].path);
	}
	/* 100 '/' encode to 300 bytes: over one path component. */
	memset(big, '/', 100);
	snprintf(big + 100, sizeof(big) - 100, "@example.org");
	assert_int_equal(store_account_path(big, out, sizeof(out)), -1);
	assert_int_equal(store_account_path("a@example.org", out, 5), -1);
}

static void
test_store_commit_unsafe_local_stays_inside(void **state)
{
	struct fixture *fx = *state;
	const char *rcpt[] = { "../../../escape@example.org", "..@.." };

	assert_int_equal(deliver(fx, rcpt, 2, NULL, 0, NULL), 0);
	assert_int_equal(count_dir(P(fx,
	    "mail/example.org/%2E.%2F..%2F..%2Fescape/new"), NULL, 0), 1);
	assert_int_equal(count_dir(P(fx, "mail/%2E./%2E./new"), NULL, 0), 1);
	assert_int_equal(count_dir(P(fx, "escape"), NULL, 0), -1);
	assert_int_equal(count_dir(P(fx, "mail/escape"), NULL, 0), -1);
}

static void
test_store_spool_memory_bounded(void **state)
{
	struct fixture *fx = *state;
	const char *rcpt[] = { "big@example.org" };
	struct store_delivery d = { "", 1, rcpt, 0, NULL };
	static char chunk[3000];
	struct store_spool *sp;
	const char *err = NULL;
	char path[1024], name[512];
	uint64_t total = 0;
	struct stat sb;

	memset(chunk, 'x', sizeof(chunk));
	sp = store_spool_create(fx->st, &err);
	assert_non_null(sp);
	snprintf(path, sizeof(path), "spool/%s", store_spool_id(sp));
	while (total < 20 * 1024 * 1024) {
		size_t n = (total / sizeof(chunk)) % 7 == 0 ? 1 : sizeof(chunk);

		assert_int_equal(store_spool_write(sp, chunk, n, &err), 0);
		total += n;
		/* At most one 64 KiB buffer is held back in memory (the file
		 * appears when it first overflows). */
		if (stat(P(fx, path), &sb) == -1) {
			assert_int_equal(errno, ENOENT);
			assert_true(total <= 64 * 1024);
			continue;
		}
		assert_true((uint64_t)sb.st_size + 64 * 1024 >= total);
	}
	assert_int_equal(store_spool_size(sp), total);
	assert_int_equal(store_spool_commit(sp, &d, &err), 0);
	store_spool_free(&sp);
	assert_int_equal(count_dir(P(fx, "mail/example.org/big/new"), name,
	    sizeof(name)), 1);
	snprintf(path, sizeof(path), "mail/example.org/big/new/%s", name);
	assert_int_equal(stat(P(fx, path), &sb), 0);
	assert_int_equal((uint64_t)sb.st_size, total);
}

/*
 * store_spool_set_prefix: the prefix ends up in front of the content,
 * in the Maildir copy and the queue copy, with the size in the name
 * counting it; for a message still in the buffer, one flushed in part,
 * and one written in chunks bigger than the buffer. A later prefix
 * replaces an earlier one; nothing is left in spool/.
 */
static void
test_store_spool_prefix_in_front(void **state)
{
	static const struct {
		size_t	content;	/* octets of content */
		size_t	chunk;		/* written in pieces of this size */
	} cases[] = {
		{ 0, 1 },
		{ 4096, 4096 },
		{ 64 * 1024 - 10, 1000 },	/* prefix + content > buffer */
		{ 64 * 1024 + 1, 7 },
		{ 300 * 1024, 3000 },
		{ 200 * 1024, 200 * 1024 },	/* one write past the buffer */
	};
	struct fixture *fx = *state;

	/* With a remote recipient (spool file linked into the Maildir and
	 * the queue) and without (up to 64 KiB: written into the Maildir
	 * directly, never a spool file). */
	for (size_t k = 0; k < 2 * sizeof(cases) / sizeof(cases[0]); k++) {
		size_t c = k / 2;
		bool remote_too = k % 2 == 1;
		char rcpt_s[64], name[512], path[1024], size_tag[32];
		const char *rcpt[] = { rcpt_s };
		const char *remote[] = { "r@remote.example" };
		struct store_delivery d = { "", 1, rcpt, remote_too, remote };
		static const char prefix[] = "Received: x\r\n"
		    "Authentication-Results: h; spf=pass\r\n";
		size_t total = sizeof(prefix) - 1 + cases[c].content;
		char *content = malloc(cases[c].content + 1);
		char *got = malloc(total + 2);
		char id[STORE_ID_LEN + 1];
		struct store_spool *sp;
		const char *err = NULL;
		int fd;

		for (size_t i = 0; i < cases[c].content; i++)
			content[i] = (char)('a' + (i * 7 + c) % 26);
		snprintf(rcpt_s, sizeof(rcpt_s), "p%zu@example.org", k);
		sp = store_spool_create(fx->st, &err);
		assert_non_null(sp);
		snprintf(id, sizeof(id), "%s", store_spool_id(sp));
		assert_int_equal(store_spool_set_prefix(sp, "junk", 4, &err), 0);
		for (size_t off = 0; off < cases[c].content;
		    off += cases[c].chunk) {
			size_t n = cases[c].content - off < cases[c].chunk ?
			    cases[c].content - off : cases[c].chunk;

			assert_int_equal(store_spool_write(sp, content + off,
			    n, &err), 0);
		}
		assert_int_equal(store_spool_set_prefix(sp, prefix,
		    sizeof(prefix) - 1, &err), 0);
		assert_int_equal(store_spool_size(sp), total);
		if (cases[c].content <= 64 * 1024)
			assert_int_equal(count_dir(P(fx, "spool"), NULL, 0), 0);
		assert_int_equal(store_spool_commit(sp, &d, &err), 0);
		assert_int_equal(store_spool_set_prefix(sp, "x", 1, &err), -1);
		store_spool_free(&sp);
		assert_int_equal(count_dir(P(fx, "spool"), NULL, 0), 0);

		snprintf(path, sizeof(path), "mail/example.org/p%zu/tmp", k);
		assert_int_equal(count_dir(P(fx, path), NULL, 0), 0);
		snprintf(path, sizeof(path), "mail/example.org/p%zu/new", k);
		assert_int_equal(count_dir(P(fx, path), name, sizeof(name)), 1);
		snprintf(size_tag, sizeof(size_tag), ",S=%zu", total);
		assert_non_null(strstr(name, size_tag));
		snprintf(path, sizeof(path), "%s/mail/example.org/p%zu/new/%s",
		    fx->dir, k, name);
		fd = open(path, O_RDONLY);
		assert_true(fd >= 0);
		assert_int_equal(read_fd(fd, got, total + 2), total);
		close(fd);
		assert_memory_equal(got, prefix, sizeof(prefix) - 1);
		if (cases[c].content > 0)
			assert_memory_equal(got + sizeof(prefix) - 1, content,
			    cases[c].content);
		fd = store_queue_message_open(fx->st, id, &err);
		if (!remote_too) {
			assert_true(fd < 0);
			free(content);
			free(got);
			continue;
		}
		assert_true(fd >= 0);
		assert_int_equal(read_fd(fd, got, total + 2), total);
		close(fd);
		assert_memory_equal(got, prefix, sizeof(prefix) - 1);
		free(content);
		free(got);
	}
}

/* The direct path fails cleanly: a 4xx, nothing in the Maildir, nothing
 * in spool/, and the next message to a sound Maildir goes through. */
static void
test_store_direct_commit_failure(void **state)
{
	struct fixture *fx = *state;
	const char *broken[] = { "broken@example.org" };
	const char *sound[] = { "sound@example.org" };
	struct store_delivery d = { "", 1, broken, 0, NULL };
	struct store_spool *sp;
	const char *err = NULL;

	assert_int_equal(mkdir(P(fx, "mail/example.org"), 0700), 0);
	assert_int_equal(mkdir(P(fx, "mail/example.org/broken"), 0700), 0);
	write_file(P(fx, "mail/example.org/broken/tmp"), "not a directory");
	sp = store_spool_create(fx->st, &err);
	assert_non_null(sp);
	assert_int_equal(store_spool_write(sp, msg_text, sizeof(msg_text) - 1,
	    &err), 0);
	assert_int_equal(store_spool_commit(sp, &d, &err), -1);
	assert_non_null(strstr(err, "mail/example.org/broken"));
	store_spool_abort(&sp);
	assert_int_equal(count_dir(P(fx, "spool"), NULL, 0), 0);
	assert_int_equal(count_dir(P(fx, "mail/example.org/broken"), NULL, 0),
	    1);
	d.local = sound;
	sp = store_spool_create(fx->st, &err);
	assert_int_equal(store_spool_write(sp, msg_text, sizeof(msg_text) - 1,
	    &err), 0);
	assert_int_equal(store_spool_commit(sp, &d, &err), 0);
	store_spool_free(&sp);
	assert_int_equal(count_dir(P(fx, "mail/example.org/sound/new"), NULL,
	    0), 1);
}

static void
test_store_spool_prefix_limit(void **state)
{
	struct fixture *fx = *state;
	struct store_spool *sp;
	const char *err = NULL;
	char *big = calloc(1, STORE_PREFIX_MAX + 1);

	sp = store_spool_create(fx->st, &err);
	assert_non_null(sp);
	assert_int_equal(store_spool_set_prefix(sp, big, STORE_PREFIX_MAX + 1,
	    &err), -1);
	assert_non_null(strstr(err, "too long"));
	assert_int_equal(store_spool_set_prefix(sp, big, STORE_PREFIX_MAX,
	    &err), 0);
	assert_int_equal(store_spool_size(sp), STORE_PREFIX_MAX);
	store_spool_abort(&sp);
	assert_int_equal(count_dir(P(fx, "spool"), NULL, 0), 0);
	free(big);
}

static void
test_store_recover_removes_stale_files(void **state)
{
	struct fixture *fx = *state;
	const char *local[] = { "a@example.org" };
	const char *remote[] = { "r@remote.example" };
	struct timespec old[2] = { { 0, 0 }, { 0, 0 } };
	char id[STORE_ID_LEN + 1];
	struct store_spool *sp;
	const char *err = NULL;

	assert_int_equal(deliver(fx, local, 1, remote, 1, id), 0);
	/* An unacknowledged message left by a crash (past the buffer, so it
	 * has a spool file). */
	sp = store_spool_create(fx->st, &err);
	assert_non_null(sp);
	{
		static char half[70 * 1024];

		assert_int_equal(store_spool_write(sp, half, sizeof(half),
		    &err), 0);
	}
	/* Stale and fresh tmp/ files, queue debris. */
	write_file(P(fx, "mail/example.org/a/tmp/old"), "x");
	write_file(P(fx, "mail/example.org/a/tmp/fresh"), "x");
	old[0].tv_sec = old[1].tv_sec = time(NULL) - 37 * 3600;
	assert_int_equal(utimensat(AT_FDCWD, P(fx, "mail/example.org/a/tmp/old"),
	    old, 0), 0);
	write_file(P(fx, "queue/0123456789abcdef"), "orphan");
	write_file(P(fx, "queue/0123456789abcdef.env.tmp"), "partial");

	assert_int_equal(store_recover(fx->st), 4);
	assert_int_equal(count_dir(P(fx, "spool"), NULL, 0), 0);
	assert_int_equal(count_dir(P(fx, "mail/example.org/a/tmp"), NULL, 0), 1);
	assert_int_equal(count_dir(P(fx, "mail/example.org/a/new"), NULL, 0), 1);
	/* The committed queue entry survives. */
	assert_int_equal(count_dir(P(fx, "queue"), NULL, 0), 2);
	assert_int_equal(store_queue_message_open(fx->st, id, &err) >= 0, 1);
	store_spool_abort(&sp);	/* already gone: only logs */
}

struct commit_thread {
	struct fixture	*fx;
	int		 failures;
};

static void *
commit_thread_run(void *arg)
{
	struct commit_thread *ct = arg;
	const char *rcpt[] = { "busy@example.org", "other@example.org" };
	struct store_delivery d = { "", 2, rcpt, 0, NULL };

	for (int i = 0; i < 20; i++) {
		const char *err = NULL;
		struct store_spool *sp = store_spool_create(ct->fx->st, &err);

		if (sp == NULL || store_spool_write(sp, msg_text,
		    sizeof(msg_text) - 1, &err) == -1 ||
		    store_spool_commit(sp, &d, &err) == -1) {
			ct->failures++;
			store_spool_abort(&sp);
			continue;
		}
		store_spool_free(&sp);
	}
	return NULL;
}

static void
test_store_commit_concurrent(void **state)
{
	struct fixture *fx = *state;
	struct commit_thread ct[6];
	pthread_t th[6];

	for (int i = 0; i < 6; i++) {
		ct[i].fx = fx;
		ct[i].failures = 0;
		assert_int_equal(pthread_create(&th[i], NULL, commit_thread_run,
		    &ct[i]), 0);
	}
	for (int i = 0; i < 6; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(ct[i].failures, 0);
	}
	assert_int_equal(count_dir(P(fx, "mail/example.org/busy/new"), NULL,
	    0), 120);
	assert_int_equal(count_dir(P(fx, "mail/example.org/other/new"), NULL,
	    0), 120);
	assert_int_equal(count_dir(P(fx, "spool"), NULL, 0), 0);
}

/* --- the POP3 maildrop --- */

static void
test_store_mailbox_lists_sizes(void **state)
{
	struct fixture *fx = *state;
	const char *rcpt[] = { "pop@example.org" };
	const struct store_msg_info *mi;
	struct store_mailbox *mb;
	const char *err = NULL;
	char longname[200], path[300], buf[64];
	int fd;

	assert_int_equal(deliver(fx, rcpt, 1, NULL, 0, NULL), 0);
	/* Foreign deliveries: bare LF, with and without a (LF) ,S= size. */
	write_file(P(fx, "mail/example.org/pop/new/100.lf,S=6"), "a\nbcd\n");
	write_file(P(fx, "mail/example.org/pop/cur/200.mixed:2,S"),
	    "a\r\nb\nc");
	write_file(P(fx, "mail/example.org/pop/cur/300.crlf:2,"), "a\r\n");
	memset(longname, 'L', 150);
	snprintf(longname, sizeof(longname), "400.%0150d", 7);
	snprintf(path, sizeof(path), "mail/example.org/pop/new/%s", longname);
	write_file(P(fx, path), "");
	write_file(P(fx, "mail/example.org/pop/new/.hidden"), "ignored");

	assert_int_equal(store_mailbox_open(fx->st, "pop@example.org", &mb,
	    &err), 0);
	assert_int_equal(store_mailbox_count(mb), 5);
	mi = store_mailbox_msg(mb, 0);
	assert_string_equal(mi->uid, "100.lf,S=6");
	assert_int_equal(mi->size, 8);
	assert_true(mi->needs_crlf_conversion);
	mi = store_mailbox_msg(mb, 1);
	assert_string_equal(mi->uid, "200.mixed");
	/* "a\r\nb\r\nc\r\n": the unterminated last line is served with CRLF. */
	assert_int_equal(mi->size, 9);
	assert_true(mi->needs_crlf_conversion);
	mi = store_mailbox_msg(mb, 2);
	assert_string_equal(mi->uid, "300.crlf");
	assert_int_equal(mi->size, 3);
	assert_false(mi->needs_crlf_conversion);
	mi = store_mailbox_msg(mb, 3);
	assert_int_equal(strlen(mi->uid), 64);	/* hashed: name too long */
	assert_int_equal(mi->size, 0);
	mi = store_mailbox_msg(mb, 4);
	assert_int_equal(mi->size, sizeof(msg_text) - 1);
	assert_false(mi->needs_crlf_conversion);
	assert_non_null(strstr(mi->uid, ",S="));
	for (const char *p = mi->uid; *p != '\0'; p++)
		assert_true(*p >= 0x21 && *p <= 0x7e);
	assert_true(strlen(mi->uid) <= 70);
	assert_null(store_mailbox_msg(mb, 5));

	fd = store_message_open(mb, 0, &err);
	assert_true(fd >= 0);
	assert_int_equal(read_fd(fd, buf, sizeof(buf)), 6);
	close(fd);
	assert_int_equal(store_message_open(mb, 9, &err), -1);
	store_mailbox_close(&mb);
	assert_null(mb);

	/* A missing Maildir is an empty maildrop. */
	assert_int_equal(store_mailbox_open(fx->st, "nobody@example.org", &mb,
	    &err), 0);
	assert_int_equal(store_mailbox_count(mb), 0);
	store_mailbox_close(&mb);
	assert_int_equal(store_mailbox_open(fx->st, "no-at-sign", &mb, &err),
	    -1);
}

static void
test_store_mailbox_lock_contention(void **state)
{
	struct fixture *fx = *state;
	const char *rcpt[] = { "lock@example.org" };
	struct store_mailbox *a, *b;
	const char *err = NULL;
	pid_t pid;
	int status, fd;

	assert_int_equal(deliver(fx, rcpt, 1, NULL, 0, NULL), 0);
	assert_int_equal(store_mailbox_open(fx->st, "lock@example.org", &a,
	    &err), 0);
	assert_int_equal(store_mailbox_open(fx->st, "lock@example.org", &b,
	    &err), STORE_LOCKED);
	assert_null(b);
	store_mailbox_close(&a);
	assert_int_equal(store_mailbox_open(fx->st, "lock@example.org", &b,
	    &err), 0);
	store_mailbox_close(&b);

	/* A holder that dies without closing releases the lock. */
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct store_mailbox *c;

		_exit(store_mailbox_open(fx->st, "lock@example.org", &c,
		    &err) == 0 ? 0 : 1);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_int_equal(store_mailbox_open(fx->st, "lock@example.org", &a,
	    &err), 0);
	store_mailbox_close(&a);

	/* A foreign holder of the same lock file blocks us while open. */
	fd = open(P(fx, "mail/example.org/lock/.lock"), O_RDWR);
	assert_true(fd >= 0);
	assert_int_equal(flock(fd, LOCK_EX | LOCK_NB), 0);
	assert_int_equal(store_mailbox_open(fx->st, "lock@example.org", &a,
	    &err), STORE_LOCKED);
	close(fd);
	assert_int_equal(store_mailbox_open(fx->st, "lock@example.org", &a,
	    &err), 0);
	store_mailbox_close(&a);
}

static void
test_store_mailbox_commit_deletes_and_moves(void **state)
{
	struct fixture *fx = *state;
	const char *rcpt[] = { "upd@example.org" };
	bool deleted[4] = { true, false, false, false };
	bool retrieved[4] = { true, true, false, true };
	struct store_mailbox *mb;
	const char *err = NULL;
	char uid1[128], uid2[128], name[512];

	for (int i = 0; i < 3; i++)
		assert_int_equal(deliver(fx, rcpt, 1, NULL, 0, NULL), 0);
	write_file(P(fx, "mail/example.org/upd/cur/9999999999.x:2,FT"),
	    "x\r\n");
	assert_int_equal(store_mailbox_open(fx->st, "upd@example.org", &mb,
	    &err), 0);
	assert_int_equal(store_mailbox_count(mb), 4);
	snprintf(uid1, sizeof(uid1), "%s", store_mailbox_msg(mb, 1)->uid);
	snprintf(uid2, sizeof(uid2), "%s", store_mailbox_msg(mb, 2)->uid);
	assert_int_equal(store_mailbox_commit(mb, deleted, retrieved, &err), 0);
	store_mailbox_close(&mb);

	assert_int_equal(count_dir(P(fx, "mail/example.org/upd/new"), name,
	    sizeof(name)), 1);
	assert_string_equal(name, uid2);
	assert_int_equal(count_dir(P(fx, "mail/example.org/upd/cur"), NULL, 0),
	    2);
	snprintf(name, sizeof(name), "mail/example.org/upd/cur/%s:2,S", uid1);
	assert_int_equal(access(P(fx, name), F_OK), 0);
	assert_int_equal(access(P(fx,
	    "mail/example.org/upd/cur/9999999999.x:2,FST"), F_OK), 0);

	/* Unique ids survive the move and a new session. */
	assert_int_equal(store_mailbox_open(fx->st, "upd@example.org", &mb,
	    &err), 0);
	assert_int_equal(store_mailbox_count(mb), 3);
	assert_string_equal(store_mailbox_msg(mb, 0)->uid, uid1);
	assert_string_equal(store_mailbox_msg(mb, 1)->uid, uid2);
	assert_string_equal(store_mailbox_msg(mb, 2)->uid, "9999999999.x");
	store_mailbox_close(&mb);
}

static void
test_store_message_open_follows_move(void **state)
{
	struct fixture *fx = *state;
	const char *rcpt[] = { "mv@example.org" };
	bool deleted[1] = { true };
	struct store_mailbox *mb;
	const char *err = NULL;
	char from[1024], to[1024], buf[512];
	const char *uid;
	int fd;

	assert_int_equal(deliver(fx, rcpt, 1, NULL, 0, NULL), 0);
	assert_int_equal(store_mailbox_open(fx->st, "mv@example.org", &mb,
	    &err), 0);
	uid = store_mailbox_msg(mb, 0)->uid;
	/* Another program (an IMAP server) files it under cur/. */
	snprintf(from, sizeof(from), "%s/%s",
	    P(fx, "mail/example.org/mv/new"), uid);
	snprintf(to, sizeof(to), "%s/%s:2,R",
	    P(fx, "mail/example.org/mv/cur"), uid);
	assert_int_equal(rename(from, to), 0);
	fd = store_message_open(mb, 0, &err);
	assert_true(fd >= 0);
	assert_int_equal(read_fd(fd, buf, sizeof(buf)), sizeof(msg_text) - 1);
	close(fd);
	assert_int_equal(rename(to, from), 0);
	assert_int_equal(store_mailbox_commit(mb, deleted, NULL, &err), 0);
	store_mailbox_close(&mb);
	assert_int_equal(count_dir(P(fx, "mail/example.org/mv/new"), NULL, 0),
	    0);
	assert_int_equal(count_dir(P(fx, "mail/example.org/mv/cur"), NULL, 0),
	    0);
}

/* --- envelope format --- */

static const char env_good[] =
    "sealpost-envelope 1\n"
    "id 0123456789abcdef\n"
    "sender <>\n"
    "arrival 1705100000\n"
    "rcpt pending 0 0 <bob@example.net> \n"
    "rcpt delivered 1 1705100100 <\"a%20b\"@x> 250 2.0.0 ok\n"
    "rcpt failed 4294967295 18446744073709551615 <c@d> 550 %25 %0A x\n";

static void
test_store_envelope_parse_good(void **state)
{
	struct queue_envelope env, again;
	struct buf b;

	(void)state;
	assert_int_equal(store_queue_envelope_parse(env_good,
	    sizeof(env_good) - 1, &env), 0);
	assert_string_equal(env.id, "0123456789abcdef");
	assert_string_equal(env.sender, "");
	assert_int_equal(env.arrival, 1705100000);
	assert_int_equal(env.n_rcpt, 3);
	assert_int_equal(env.rcpt[0].state, QUEUE_RCPT_PENDING);
	assert_string_equal(env.rcpt[0].last_reply, "");
	assert_string_equal(env.rcpt[1].addr, "\"a b\"@x");
	assert_int_equal(env.rcpt[1].state, QUEUE_RCPT_DELIVERED);
	assert_int_equal(env.rcpt[1].next_try, 1705100100);
	assert_string_equal(env.rcpt[1].last_reply, "250 2.0.0 ok");
	assert_int_equal(env.rcpt[2].state, QUEUE_RCPT_FAILED);
	assert_int_equal(env.rcpt[2].attempts, UINT32_MAX);
	assert_int_equal(env.rcpt[2].next_try, UINT64_MAX);
	assert_string_equal(env.rcpt[2].last_reply, "550 % \n x");

	/* format(parse(x)) == x for canonical input. */
	buf_init(&b, 1 << 20);
	assert_int_equal(store_queue_envelope_format(&env, &b), 0);
	assert_int_equal(b.len, sizeof(env_good) - 1);
	assert_memory_equal(b.data, env_good, b.len);
	assert_int_equal(store_queue_envelope_parse(b.data, b.len, &again), 0);
	assert_int_equal(again.n_rcpt, 3);
	store_queue_envelope_cleanup(&again);
	buf_cleanup(&b);
	store_queue_envelope_cleanup(&env);
	store_queue_envelope_cleanup(&env);	/* twice is safe */
}

/* The optional delay-notified line survives a round trip. */
static void
test_store_envelope_delay_notified_round_trip(void **state)
{
	static const char text[] =
	    "sealpost-envelope 1\n"
	    "id 0123456789abcdef\n"
	    "sender <a@b>\n"
	    "arrival 1705100000\n"
	    "delay-notified 1705114400\n"
	    "rcpt pending 2 1705115000 <bob@example.net> 451 4.7.1 later\n";
	struct queue_envelope env;
	struct buf b;

	(void)state;
	assert_int_equal(store_queue_envelope_parse(text, sizeof(text) - 1,
	    &env), 0);
	assert_int_equal(env.delay_notified, 1705114400);
	buf_init(&b, 1 << 20);
	assert_int_equal(store_queue_envelope_format(&env, &b), 0);
	assert_int_equal(b.len, sizeof(text) - 1);
	assert_memory_equal(b.data, text, b.len);
	buf_cleanup(&b);
	store_queue_envelope_cleanup(&env);
}

static void
test_store_envelope_parse_rejects(void **state)
{
	static const char *const bad[] = {
		"",
		"sealpost-envelope 2\nid 0123456789abcdef\nsender <>\n"
		    "arrival 1\nrcpt pending 0 0 <a@b> \n",
		"sealpost-envelope 1\nid 0123456789ABCDEF\nsender <>\n"
		    "arrival 1\nrcpt pending 0 0 <a@b> \n",
		"sealpost-envelope 1\nid ../../etc/passwd\nsender <>\n"
		    "arrival 1\nrcpt pending 0 0 <a@b> \n",
		/* no recipients */
		"sealpost-envelope 1\nid 0123456789abcdef\nsender <>\n"
		    "arrival 1\n",
		/* no final newline */
		"sealpost-envelope 1\nid 0123456789abcdef\nsender <>\n"
		    "arrival 1\nrcpt pending 0 0 <a@b> ",
		/* CR */
		"sealpost-envelope 1\r\nid 0123456789abcdef\nsender <>\n"
		    "arrival 1\nrcpt pending 0 0 <a@b> \n",
		/* unknown state */
		"sealpost-envelope 1\nid 0123456789abcdef\nsender <>\n"
		    "arrival 1\nrcpt maybe 0 0 <a@b> \n",
		/* attempts overflow */
		"sealpost-envelope 1\nid 0123456789abcdef\nsender <>\n"
		    "arrival 1\nrcpt pending 4294967296 0 <a@b> \n",
		/* raw space inside the address */
		"sealpost-envelope 1\nid 0123456789abcdef\nsender <>\n"
		    "arrival 1\nrcpt pending 0 0 <a b@c> \n",
		/* %00 and truncated escapes */
		"sealpost-envelope 1\nid 0123456789abcdef\nsender <>\n"
		    "arrival 1\nrcpt pending 0 0 <a%00@b> \n",
		"sealpost-envelope 1\nid 0123456789abcdef\nsender <>\n"
		    "arrival 1\nrcpt pending 0 0 <a@b> 55%\n",
		"sealpost-envelope 1\nid 0123456789abcdef\nsender <>\n"
		    "arrival 1\nrcpt pending 0 0 <a@b> 5%4\n",
		/* missing space before the reply */
		"sealpost-envelope 1\nid 0123456789abcdef\nsender <>\n"
		    "arrival 1\nrcpt pending 0 0 <a@b>\n",
		/* out of order / unknown line */
		"sealpost-envelope 1\nsender <>\nid 0123456789abcdef\n"
		    "arrival 1\nrcpt pending 0 0 <a@b> \n",
		"sealpost-envelope 1\nid 0123456789abcdef\nsender <>\n"
		    "arrival 1\nrcpt pending 0 0 <a@b> \nextra\n",
		"sealpost-envelope 1\nid 0123456789abcdef\nsender <>x\n"
		    "arrival 1\nrcpt pending 0 0 <a@b> \n",
		"sealpost-envelope 1\nid 0123456789abcdef\nsender <>\n"
		    "arrival -1\nrcpt pending 0 0 <a@b> \n",
		"sealpost-envelope 1\nid 0123456789abcdef\nsender <>\n"
		    "arrival 1\nrcpt pending +1 0 <a@b> \n",
		/* delay-notified: after the recipients, twice, 0, junk */
		"sealpost-envelope 1\nid 0123456789abcdef\nsender <>\n"
		    "arrival 1\nrcpt pending 0 0 <a@b> \ndelay-notified 5\n",
		"sealpost-envelope 1\nid 0123456789abcdef\nsender <>\n"
		    "arrival 1\ndelay-notified 5\ndelay-notified 5\n"
		    "rcpt pending 0 0 <a@b> \n",
		"sealpost-envelope 1\nid 0123456789abcdef\nsender <>\n"
		    "arrival 1\ndelay-notified 0\nrcpt pending 0 0 <a@b> \n",
		"sealpost-envelope 1\nid 0123456789abcdef\nsender <>\n"
		    "arrival 1\ndelay-notified 5x\nrcpt pending 0 0 <a@b> \n",
	};
	struct queue_envelope env;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		env.n_rcpt = 99;
		assert_int_equal(store_queue_envelope_parse(bad[i],
		    strlen(bad[i]), &env), -1);
		assert_int_equal(env.n_rcpt, 0);
		assert_null(env.sender);
	}
	/* Every strict prefix that ends mid-line is rejected. */
	for (size_t n = 0; n + 1 < sizeof(env_good) - 1; n++) {
		int rc = store_queue_envelope_parse(env_good, n, &env);

		if (env_good[n - (n > 0)] != '\n' || n == 0)
			assert_int_equal(rc, -1);
		store_queue_envelope_cleanup(&env);
	}
}

static void
test_store_envelope_limits(void **state)
{
	struct queue_envelope env;
	char addr[QUEUE_ENV_MAX_ADDR + 2];
	struct buf b;

	(void)state;
	memset(&env, 0, sizeof(env));
	snprintf(env.id, sizeof(env.id), "00000000000000ff");
	env.sender = strdup("s@x");
	for (int i = 0; i < QUEUE_ENV_MAX_RCPTS; i++)
		assert_int_equal(store_queue_envelope_add_rcpt(&env, "r@x"), 0);
	assert_int_equal(store_queue_envelope_add_rcpt(&env, "r@x"), -1);
	buf_init(&b, QUEUE_ENV_MAX_SIZE);
	assert_int_equal(store_queue_envelope_format(&env, &b), 0);
	store_queue_envelope_cleanup(&env);
	assert_int_equal(store_queue_envelope_parse(b.data, b.len, &env), 0);
	assert_int_equal(env.n_rcpt, QUEUE_ENV_MAX_RCPTS);
	store_queue_envelope_cleanup(&env);
	/* One recipient line more is over the limit. */
	assert_int_equal(buf_append_str(&b, "rcpt pending 0 0 <r@x> \n"), 0);
	assert_int_equal(store_queue_envelope_parse(b.data, b.len, &env), -1);
	buf_cleanup(&b);

	memset(addr, 'a', sizeof(addr) - 1);
	addr[sizeof(addr) - 1] = '\0';
	memset(&env, 0, sizeof(env));
	assert_int_equal(store_queue_envelope_add_rcpt(&env, addr), -1);
	addr[QUEUE_ENV_MAX_ADDR] = '\0';
	assert_int_equal(store_queue_envelope_add_rcpt(&env, addr), 0);
	store_queue_envelope_cleanup(&env);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_store_commit_one_local,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_store_commit_three_local_share_inode, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_store_commit_remote_writes_envelope, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_store_commit_failure_rolls_back, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_store_write_failure_is_reported, setup, teardown),
		cmocka_unit_test(test_store_account_path_encodes_unsafe_parts),
		cmocka_unit_test_setup_teardown(
		    test_store_commit_unsafe_local_stays_inside, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store_spool_prefix_in_front,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_store_spool_prefix_limit,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_store_spool_memory_bounded,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_store_direct_commit_failure,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_store_recover_removes_stale_files, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store_commit_concurrent,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_store_mailbox_lists_sizes,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_store_mailbox_lock_contention, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_store_mailbox_commit_deletes_and_moves, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_store_message_open_follows_move, setup, teardown),
		cmocka_unit_test(test_store_envelope_parse_good),
		cmocka_unit_test(test_store_envelope_delay_notified_round_trip),
		cmocka_unit_test(test_store_envelope_parse_rejects),
		cmocka_unit_test(test_store_envelope_limits),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
