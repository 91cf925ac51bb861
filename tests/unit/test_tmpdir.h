/*
 * Removing a unit test's mkdtemp() directory with everything below it.
 * Header-only (static inline), like dns_responder.h.
 */
#ifndef SEALPOST_TEST_TMPDIR_H
#define SEALPOST_TEST_TMPDIR_H

#include <ftw.h>
#include <stdio.h>
#include <sys/stat.h>

static inline int
test_tmpdir_remove_entry(const char *path, const struct stat *sb, int flag,
    struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* Removes path and everything below it (symlinks not followed); 0 or -1. */
static inline int
test_tmpdir_remove(const char *path)
{
	return nftw(path, test_tmpdir_remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

#endif
