/*
 * Internals shared by userdb.c (loading, lookups) and userdb_edit.c
 * (admin edits): the parsed form of the files and the file helpers.
 * Not for use outside src/auth/.
 */
#ifndef SEALPOST_AUTH_USERDB_PRIVATE_H
#define SEALPOST_AUTH_USERDB_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>

#include "auth/scram.h"
#include "core/strlist.h"

struct buf;

#define UD_USERS	"users"
#define UD_ALIASES	"aliases"
#define UD_APOP		"apop"
#define UD_SECRET	"secret"

struct ud_account {
	char			*addr;		/* normalized */
	char			*hash;		/* crypt(3) string */
	bool			 has_scram;
	struct scram_entry	 scram;
};

struct ud_alias {
	char		*addr;
	struct strlist	 targets;	/* normalized, unique, file order */
};

struct ud_apop {
	char	*addr;
	char	*secret;
};

/* The parsed files; each array is sorted by addr with no duplicates. */
struct ud_data {
	struct ud_account	*acct;
	size_t			 n_acct;
	struct ud_alias		*alias;
	size_t			 n_alias;
	struct ud_apop		*apop;
	size_t			 n_apop;
};

/*
 * Sets the module's error text (static storage, valid until the next
 * call) and returns it.
 */
const char	*ud_err(const char *fmt, ...)
	    __attribute__((format(printf, 1, 2)));

/* Each parses one file's text into d (which starts zeroed and may already
 * hold the other files). 0, or -1 with *errstr "NAME:LINE: message". */
int	ud_parse_users(struct ud_data *d, const char *text, size_t len,
	    const char **errstr);
int	ud_parse_aliases(struct ud_data *d, const char *text, size_t len,
	    const char **errstr);
int	ud_parse_apop(struct ud_data *d, const char *text, size_t len,
	    const char **errstr);
void	ud_data_free(struct ud_data *d);

/* Lookups by normalized address; NULL when absent. */
const struct ud_account	*ud_find_account(const struct ud_data *, const char *);
const struct ud_alias	*ud_find_alias(const struct ud_data *, const char *);
const struct ud_apop	*ud_find_apop(const struct ud_data *, const char *);

/*
 * Reads dir/name whole into out (initialized by the caller with a max of
 * at least USERDB_FILE_MAX). A missing file reads as empty with
 * *exists false. st (may be NULL) receives fstat() of what was read.
 * A text file (is_text) must not contain NUL bytes. 0, or -1 with *errstr.
 */
int	ud_file_read(const char *dir, const char *name, bool is_text,
	    struct buf *out, struct stat *st, bool *exists, const char **errstr);
/*
 * Atomically replaces (or creates) dir/name with data: temp file in dir,
 * write, fsync, rename, fsync dir. The file keeps the old file's owner,
 * group and mode; a new file gets dir's owner and group and new_mode.
 * 0, or -1 with *errstr (the old file untouched, the temp file removed).
 */
int	ud_file_replace(const char *dir, const char *name, const void *data,
	    size_t len, mode_t new_mode, const char **errstr);

#endif
