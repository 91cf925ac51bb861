/*
 * Unit tests for the store's cache of Maildir directory fds (maildir.c):
 * repeated deliveries still land in new/, a Maildir removed after being
 * cached is created again, one replaced by a symlink is refused (the
 * cached fd of the old directory is not used), and the raw flag
 * (",P=1") appears in the names of clean messages only and is trusted
 * by the maildrop listing only with a matching size.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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

	snprintf(fx->dir, sizeof(fx->dir), "/tmp/sealpost-mdc-XXXXXX");
	if (mkdtemp(fx->dir) == NULL)
		return -1;
	fx->st = store_open(fx->dir, "mx.test", &err);
	if (fx->st == NULL)
		return -1;
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *fx = *state;

	store_free(&fx->st);
	test_tmpdir_remove(fx->dir);
	free(fx);
	return 0;
}

static const char *
P(struct fixture *fx, const char *rel)
{
	static char path[256];
	int n = snprintf(path, sizeof(path), "%s/%s", fx->dir, rel);

	assert_true(n > 0 && (size_t)n < sizeof(path));
	return path;
}

/* Delivers text to addr; returns store_spool_commit()'s result. */
static int
deliver(struct fixture *fx, const char *addr, const char *text)
{
	const char *err = NULL, *local[] = { addr };
	struct store_delivery d = { "s@x.test", 1, local, 0, NULL };
	struct store_spool *sp = store_spool_create(fx->st, &err);
	int rc;

	assert_non_null(sp);
	assert_int_equal(store_spool_write(sp, text, strlen(text), &err), 0);
	rc = store_spool_commit(sp, &d, &err);
	if (rc == 0)
		store_spool_free(&sp);
	else
		store_spool_abort(&sp);
	return rc;
}

/* The same with a prefix (store_spool_set_prefix) put in front. */
static int
deliver_prefixed(struct fixture *fx, const char *addr, const char *prefix,
    const char *text)
{
	const char *err = NULL, *local[] = { addr };
	struct store_delivery d = { "s@x.test", 1, local, 0, NULL };
	struct store_spool *sp = store_spool_create(fx->st, &err);
	int rc;

	assert_non_null(sp);
	assert_int_equal(store_spool_write(sp, text, strlen(text), &err), 0);
	assert_int_equal(store_spool_set_prefix(sp, prefix, strlen(prefix),
	    &err), 0);
	rc = store_spool_commit(sp, &d, &err);
	if (rc == 0)
		store_spool_free(&sp);
	else
		store_spool_abort(&sp);
	return rc;
}

/* Entries in dir whose name contains needle (NULL: all); -1 if no dir. */
static int
count(const char *dir, const char *needle)
{
	struct dirent *de;
	DIR *d = opendir(dir);
	int n = 0;

	if (d == NULL)
		return -1;
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.' && (needle == NULL ||
		    strstr(de->d_name, needle) != NULL))
			n++;
	closedir(d);
	return n;
}

static void
test_maildir_cache_repeated_and_recreated(void **state)
{
	struct fixture *fx = *state;
	const char *nd = "mail/x.test/a/new";

	for (int i = 0; i < 5; i++)
		assert_int_equal(deliver(fx, "a@x.test", "m\r\n"), 0);
	assert_int_equal(count(P(fx, nd), NULL), 5);
	/* Removed while cached: the next delivery builds it again. */
	test_tmpdir_remove(P(fx, "mail/x.test/a"));
	assert_int_equal(deliver(fx, "a@x.test", "m\r\n"), 0);
	assert_int_equal(count(P(fx, nd), NULL), 1);
	assert_int_equal(count(P(fx, "mail/x.test/a/tmp"), NULL), 0);
	/* Many Maildirs (more than the cache holds) all work. */
	for (int i = 0; i < 300; i++) {
		char addr[32];

		snprintf(addr, sizeof(addr), "u%d@x.test", i % 150);
		assert_int_equal(deliver(fx, addr, "m\r\n"), 0);
	}
	assert_int_equal(count(P(fx, "mail/x.test/u149/new"), NULL), 2);
}

static void
test_maildir_cache_symlink_swap_refused(void **state)
{
	struct fixture *fx = *state;
	char target[256];

	assert_int_equal(deliver(fx, "b@x.test", "m\r\n"), 0);
	/* The Maildir is replaced by a symlink to somewhere else. */
	snprintf(target, sizeof(target), "%s", P(fx, "elsewhere"));
	assert_int_equal(mkdir(target, 0700), 0);
	test_tmpdir_remove(P(fx, "mail/x.test/b"));
	assert_int_equal(symlink(target, P(fx, "mail/x.test/b")), 0);
	assert_int_equal(deliver(fx, "b@x.test", "m\r\n"), -1);
	assert_int_equal(count(target, NULL), 0);
}

static void
test_maildir_cache_raw_flag_in_names(void **state)
{
	struct fixture *fx = *state;
	const char *nd = "mail/x.test/c/new";

	assert_int_equal(deliver(fx, "c@x.test", "a\r\nb\r\n"), 0);
	assert_int_equal(deliver(fx, "c@x.test", "a\r\n.b\r\n"), 0);
	assert_int_equal(deliver(fx, "c@x.test", "a\nb\n"), 0);
	assert_int_equal(deliver(fx, "c@x.test", "a\r\nb"), 0);
	assert_int_equal(count(P(fx, nd), NULL), 4);
	assert_int_equal(count(P(fx, nd), ",P=1"), 1);
	/* The prefix counts too: clean, bare LF, no final line end. */
	assert_int_equal(deliver_prefixed(fx, "c@x.test", "X: y\r\n",
	    "a\r\n"), 0);
	assert_int_equal(deliver_prefixed(fx, "c@x.test", "X: y\n",
	    "a\r\n"), 0);
	assert_int_equal(deliver_prefixed(fx, "c@x.test", "X: y",
	    "a\r\n"), 0);
	assert_int_equal(deliver_prefixed(fx, "c@x.test", ".X\r\n",
	    "a\r\n"), 0);
	assert_int_equal(count(P(fx, nd), NULL), 8);
	assert_int_equal(count(P(fx, nd), ",P=1"), 2);
}

static void
test_maildir_cache_mailbox_lists_raw(void **state)
{
	struct fixture *fx = *state;
	struct store_mailbox *mb = NULL;
	const struct store_msg_info *mi;
	const char *err = NULL;
	char path[300];
	FILE *f;
	bool seen_raw = false, seen_forged = false;

	assert_int_equal(deliver(fx, "d@x.test", "a\r\nb\r\n"), 0);
	/* A name claiming the flag with a wrong size is looked at. */
	snprintf(path, sizeof(path), "%s/1.M1P1.other,S=999,P=1",
	    P(fx, "mail/x.test/d/new"));
	assert_non_null(f = fopen(path, "w"));
	fputs("x\ny\n", f);
	fclose(f);
	assert_int_equal(store_mailbox_open(fx->st, "d@x.test", &mb, &err), 0);
	assert_int_equal(store_mailbox_count(mb), 2);
	for (size_t i = 0; i < 2; i++) {
		mi = store_mailbox_msg(mb, i);
		if (strstr(mi->uid, "other") != NULL) {
			seen_forged = true;
			assert_false(mi->raw);
			assert_int_equal(mi->size, 6);	/* bare LFs counted */
		} else {
			seen_raw = true;
			assert_true(mi->raw);
			assert_int_equal(mi->size, 6);
		}
	}
	assert_true(seen_raw && seen_forged);
	store_mailbox_close(&mb);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    test_maildir_cache_repeated_and_recreated, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_maildir_cache_symlink_swap_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_maildir_cache_raw_flag_in_names, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_maildir_cache_mailbox_lists_raw, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
