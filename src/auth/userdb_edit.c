/*
 * Edits of the userdb files for the admin command; see userdb.h. Each
 * edit holds an exclusive flock on data_dir (so two admins cannot lose
 * each other's changes), rewrites the text line by line so comments and
 * order survive, re-parses the result (an edit never writes a file the
 * daemon would refuse), then replaces the file atomically. The daemon
 * never locks: it only ever sees the old or the new file.
 */
#include "auth/userdb.h"
#include "auth/userdb_private.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "auth/hash.h"
#include "auth/scram.h"
#include "core/buf.h"
#include "core/str.h"
#include "core/strlist.h"
#include "core/xmalloc.h"

/* One edit in progress: the lock and the files it has read. */
struct edit {
	const char	*dir;
	int		 lock_fd;
	struct buf	 text[3];	/* users, aliases, apop */
	struct ud_data	 d;
};

enum { E_USERS, E_ALIASES, E_APOP };
static const char *const edit_names[] = { UD_USERS, UD_ALIASES, UD_APOP };
static const mode_t edit_modes[] = { 0600, 0644, 0600 };
static const char edit_keysep[] = { '\t', ':', '\t' };

static void
edit_end(struct edit *e)
{
	for (int i = 0; i < 3; i++)
		buf_wipe(&e->text[i]);
	ud_data_free(&e->d);
	if (e->lock_fd != -1)
		close(e->lock_fd);	/* releases the flock */
	e->lock_fd = -1;
}

/* Locks data_dir and reads and parses all three files. */
static int
edit_begin(struct edit *e, const char *dir, const char **errstr)
{
	static int (*const parse[])(struct ud_data *, const char *, size_t,
	    const char **) = {
		ud_parse_users, ud_parse_aliases, ud_parse_apop
	};

	memset(e, 0, sizeof(*e));
	e->dir = dir;
	for (int i = 0; i < 3; i++)
		buf_init(&e->text[i], USERDB_FILE_MAX);
	e->lock_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (e->lock_fd == -1) {
		*errstr = ud_err("open(%s): %s", dir, strerror(errno));
		edit_end(e);
		return -1;
	}
	if (flock(e->lock_fd, LOCK_EX) == -1) {
		*errstr = ud_err("flock(%s): %s", dir, strerror(errno));
		edit_end(e);
		return -1;
	}
	for (int i = 0; i < 3; i++) {
		bool exists;

		if (ud_file_read(dir, edit_names[i], true, &e->text[i], NULL,
		    &exists, errstr) == -1 ||
		    parse[i](&e->d, e->text[i].data == NULL ? "" :
		    e->text[i].data, e->text[i].len, errstr) == -1) {
			edit_end(e);
			return -1;
		}
	}
	return 0;
}

/* The normalized key of a data line, or "" for blank and comment lines. */
static void
line_key(struct str_view line, char sep, char key[USERDB_ADDR_MAX + 1])
{
	char raw[USERDB_ADDR_MAX + 1];
	struct str_view k;
	size_t n = 0;

	key[0] = '\0';
	line = str_trim(line);
	if (line.len == 0 || line.p[0] == '#')
		return;
	k = str_take_until(&line, sep);
	while (n < k.len && k.p[n] != ' ' && k.p[n] != '\t')
		n++;
	if (str_copy(raw, sizeof(raw), str_view_make(k.p, n)) == 0)
		userdb_addr_normalize(raw, key, USERDB_ADDR_MAX + 1);
}

/*
 * Copies text into out, replacing the data line for addr with repl (a
 * line without its newline), or dropping it when repl is NULL. When no
 * line matched and repl is not NULL, appends repl. Returns the number of
 * lines that matched, or -1 when out is full.
 */
static int
rewrite_lines(const struct buf *text, char sep, const char *addr,
    const char *repl, struct buf *out)
{
	struct str_view cur = str_view_make(text->data == NULL ? "" :
	    text->data, text->len);
	int matched = 0;

	while (cur.len > 0) {
		struct str_view line = str_take_until(&cur, '\n');
		(void)str_take_char(&cur, '\n');
		char key[USERDB_ADDR_MAX + 1];

		line_key(line, sep, key);
		if (key[0] != '\0' && strcmp(key, addr) == 0) {
			if (matched++ > 0 || repl == NULL)
				continue;
			if (buf_append_str(out, repl) == -1 ||
			    buf_append_char(out, '\n') == -1)
				return -1;
			continue;
		}
		/* A last line without its newline gets one. */
		if (buf_append(out, line.p, line.len) == -1 ||
		    buf_append_char(out, '\n') == -1)
			return -1;
	}
	if (matched == 0 && repl != NULL &&
	    (buf_append_str(out, repl) == -1 ||
	    buf_append_char(out, '\n') == -1))
		return -1;
	return matched;
}

/*
 * Rewrites file `which` with the line for addr replaced/removed/added,
 * checks that the result parses, and installs it.
 */
static int
edit_apply(struct edit *e, int which, const char *addr, const char *repl,
    const char **errstr)
{
	static int (*const parse[])(struct ud_data *, const char *, size_t,
	    const char **) = {
		ud_parse_users, ud_parse_aliases, ud_parse_apop
	};
	struct ud_data check;
	struct buf out;
	int rc = -1;

	buf_init(&out, USERDB_FILE_MAX);
	memset(&check, 0, sizeof(check));
	if (rewrite_lines(&e->text[which], edit_keysep[which], addr, repl,
	    &out) == -1) {
		*errstr = ud_err("%s/%s: would grow past %u bytes", e->dir,
		    edit_names[which], USERDB_FILE_MAX);
		goto out;
	}
	if (parse[which](&check, out.data == NULL ? "" : out.data, out.len,
	    errstr) == -1)
		goto out;
	rc = ud_file_replace(e->dir, edit_names[which],
	    out.data == NULL ? "" : out.data, out.len, edit_modes[which],
	    errstr);
out:
	ud_data_free(&check);
	buf_wipe(&out);
	return rc;
}

/* Normalizes addr into key, with an admin-friendly error. */
static int
edit_addr(const char *addr, char key[USERDB_ADDR_MAX + 1], const char **errstr)
{
	if (userdb_addr_normalize(addr, key, USERDB_ADDR_MAX + 1) == -1) {
		*errstr = ud_err("malformed address \"%.300s\": expected "
		    "local@domain", addr);
		return -1;
	}
	return 0;
}

static int
edit_local_addr(const char *addr, char *const *domains, size_t n_domains,
    char key[USERDB_ADDR_MAX + 1], const char **errstr)
{
	if (edit_addr(addr, key, errstr) == -1)
		return -1;
	if (!userdb_domain_listed(domains, n_domains,
	    userdb_addr_domain(key))) {
		*errstr = ud_err("%s: domain %s is not one of the configured "
		    "domains", key, userdb_addr_domain(key));
		return -1;
	}
	return 0;
}

/* Builds the users line for addr: address, yescrypt hash, SCRAM entry. */
static int
user_line(const char *addr, const char *password, struct buf *line,
    const char **errstr)
{
	char hash[HASH_MAX];
	struct scram_entry se;
	int rc = -1;

	if (password[0] == '\0') {
		*errstr = ud_err("empty password");
		return -1;
	}
	if (hash_password(password, hash, sizeof(hash)) == -1 ||
	    scram_entry_new(password, SCRAM_ITER_DEFAULT, &se) == -1) {
		*errstr = ud_err("cannot hash the password (libcrypt/OpenSSL)");
		goto out;
	}
	if (buf_printf(line, "%s\t%s\t", addr, hash) == -1 ||
	    scram_entry_format(&se, line) == -1) {
		*errstr = ud_err("users line too long");
		goto out;
	}
	rc = 0;
out:
	explicit_bzero(hash, sizeof(hash));
	explicit_bzero(&se, sizeof(se));
	return rc;
}

int
userdb_edit_user_add(const char *data_dir, char *const *domains,
    size_t n_domains, const char *addr, const char *password,
    const char **errstr)
{
	char key[USERDB_ADDR_MAX + 1];
	struct edit e;
	struct buf line;
	int rc = -1;

	if (edit_local_addr(addr, domains, n_domains, key, errstr) == -1 ||
	    edit_begin(&e, data_dir, errstr) == -1)
		return -1;
	buf_init(&line, 4096);
	if (ud_find_account(&e.d, key) != NULL)
		*errstr = ud_err("%s: account already exists", key);
	else if (ud_find_alias(&e.d, key) != NULL)
		*errstr = ud_err("%s: already an alias", key);
	else if (user_line(key, password, &line, errstr) == 0)
		rc = edit_apply(&e, E_USERS, key, line.data, errstr);
	buf_wipe(&line);
	edit_end(&e);
	return rc;
}

int
userdb_edit_user_del(const char *data_dir, const char *addr,
    const char **errstr)
{
	char key[USERDB_ADDR_MAX + 1];
	struct edit e;
	int rc = -1;

	if (edit_addr(addr, key, errstr) == -1 ||
	    edit_begin(&e, data_dir, errstr) == -1)
		return -1;
	if (ud_find_account(&e.d, key) == NULL)
		*errstr = ud_err("%s: no such account", key);
	else if (edit_apply(&e, E_USERS, key, NULL, errstr) == 0)
		rc = ud_find_apop(&e.d, key) == NULL ? 0 :
		    edit_apply(&e, E_APOP, key, NULL, errstr);
	edit_end(&e);
	return rc;
}

int
userdb_edit_user_passwd(const char *data_dir, const char *addr,
    const char *password, const char **errstr)
{
	char key[USERDB_ADDR_MAX + 1];
	struct edit e;
	struct buf line;
	int rc = -1;

	if (edit_addr(addr, key, errstr) == -1 ||
	    edit_begin(&e, data_dir, errstr) == -1)
		return -1;
	buf_init(&line, 4096);
	if (ud_find_account(&e.d, key) == NULL)
		*errstr = ud_err("%s: no such account", key);
	else if (user_line(key, password, &line, errstr) == 0)
		rc = edit_apply(&e, E_USERS, key, line.data, errstr);
	buf_wipe(&line);
	edit_end(&e);
	return rc;
}

int
userdb_edit_user_list(const char *data_dir, struct strlist *out,
    const char **errstr)
{
	struct edit e;

	if (edit_begin(&e, data_dir, errstr) == -1)
		return -1;
	for (size_t i = 0; i < e.d.n_acct; i++)
		strlist_add(out, e.d.acct[i].addr);
	edit_end(&e);
	return 0;
}

/* Checks one alias target and adds it to targets. */
static int
alias_target_add(const struct edit *e, char *const *domains, size_t n_domains,
    const char *alias, const char *target, struct strlist *targets,
    const char **errstr)
{
	char key[USERDB_ADDR_MAX + 1];

	if (edit_addr(target, key, errstr) == -1)
		return -1;
	if (strcmp(key, alias) == 0) {
		*errstr = ud_err("%s: an alias cannot name itself", key);
		return -1;
	}
	/* A local target that is nobody would bounce (or loop as "remote"). */
	if (userdb_domain_listed(domains, n_domains, userdb_addr_domain(key)) &&
	    ud_find_account(&e->d, key) == NULL &&
	    ud_find_alias(&e->d, key) == NULL) {
		*errstr = ud_err("%s: target is in a local domain but is "
		    "neither an account nor an alias", key);
		return -1;
	}
	strlist_add_unique(targets, key);
	return 0;
}

/* Refuses an aliases text in which alias key loops or nests too deep. */
static int
alias_check_resolves(const struct edit *e, const struct buf *aliases_line,
    const char *key, const char **errstr)
{
	struct buf text;
	struct userdb *db;
	struct strlist l, r;
	int rc = -1;

	buf_init(&text, USERDB_FILE_MAX);
	if (rewrite_lines(&e->text[E_ALIASES], ':', key, aliases_line->data,
	    &text) == -1) {
		*errstr = ud_err("aliases file too large");
		buf_cleanup(&text);
		return -1;
	}
	db = userdb_new_from_text(e->text[E_USERS].data, e->text[E_USERS].len,
	    text.data, text.len, NULL, 0, NULL, errstr);
	buf_cleanup(&text);
	if (db == NULL)
		return -1;
	strlist_init(&l);
	strlist_init(&r);
	if (userdb_resolve(db, key, &l, &r) == 0)
		rc = 0;
	else
		*errstr = ud_err("%s: the alias would loop or nest deeper than "
		    "%d levels", key, USERDB_ALIAS_DEPTH);
	strlist_clear(&l);
	strlist_clear(&r);
	userdb_free(&db);
	return rc;
}

int
userdb_edit_alias_add(const char *data_dir, char *const *domains,
    size_t n_domains, const char *addr, char *const *targets,
    size_t n_targets, const char **errstr)
{
	char key[USERDB_ADDR_MAX + 1];
	const struct ud_alias *old;
	struct strlist t;
	struct buf line;
	struct edit e;
	int rc = -1;

	if (n_targets == 0) {
		*errstr = ud_err("an alias needs at least one target");
		return -1;
	}
	if (edit_local_addr(addr, domains, n_domains, key, errstr) == -1 ||
	    edit_begin(&e, data_dir, errstr) == -1)
		return -1;
	strlist_init(&t);
	buf_init(&line, USERDB_FILE_MAX);
	if (ud_find_account(&e.d, key) != NULL) {
		*errstr = ud_err("%s: already an account", key);
		goto out;
	}
	if ((old = ud_find_alias(&e.d, key)) != NULL)
		for (size_t i = 0; i < old->targets.n; i++)
			strlist_add(&t, old->targets.v[i]);
	for (size_t i = 0; i < n_targets; i++)
		if (alias_target_add(&e, domains, n_domains, key, targets[i],
		    &t, errstr) == -1)
			goto out;
	if (buf_printf(&line, "%s:", key) == -1)
		goto out;
	for (size_t i = 0; i < t.n; i++)
		if (buf_printf(&line, "%s %s", i == 0 ? "" : ",",
		    t.v[i]) == -1) {
			*errstr = ud_err("%s: too many targets", key);
			goto out;
		}
	if (alias_check_resolves(&e, &line, key, errstr) == 0)
		rc = edit_apply(&e, E_ALIASES, key, line.data, errstr);
out:
	buf_cleanup(&line);
	strlist_clear(&t);
	edit_end(&e);
	return rc;
}

int
userdb_edit_alias_del(const char *data_dir, const char *addr,
    const char **errstr)
{
	char key[USERDB_ADDR_MAX + 1];
	struct edit e;
	int rc = -1;

	if (edit_addr(addr, key, errstr) == -1 ||
	    edit_begin(&e, data_dir, errstr) == -1)
		return -1;
	if (ud_find_alias(&e.d, key) == NULL)
		*errstr = ud_err("%s: no such alias", key);
	else
		rc = edit_apply(&e, E_ALIASES, key, NULL, errstr);
	edit_end(&e);
	return rc;
}

int
userdb_edit_alias_list(const char *data_dir, struct strlist *out,
    const char **errstr)
{
	struct edit e;
	struct buf line;

	if (edit_begin(&e, data_dir, errstr) == -1)
		return -1;
	buf_init(&line, USERDB_FILE_MAX);
	for (size_t i = 0; i < e.d.n_alias; i++) {
		const struct ud_alias *a = &e.d.alias[i];

		buf_reset(&line);
		buf_printf(&line, "%s:", a->addr);
		for (size_t j = 0; j < a->targets.n; j++)
			buf_printf(&line, "%s %s", j == 0 ? "" : ",",
			    a->targets.v[j]);
		strlist_add(out, line.data);
	}
	buf_cleanup(&line);
	edit_end(&e);
	return 0;
}

int
userdb_edit_apop_set(const char *data_dir, const char *addr,
    const char *secret, const char **errstr)
{
	char key[USERDB_ADDR_MAX + 1];
	struct edit e;
	struct buf line;
	int rc = -1;

	if (edit_addr(addr, key, errstr) == -1 ||
	    edit_begin(&e, data_dir, errstr) == -1)
		return -1;
	buf_init(&line, 1024);
	if (ud_find_account(&e.d, key) == NULL)
		*errstr = ud_err("%s: no such account", key);
	else if (buf_printf(&line, "%s\t%s", key, secret) == -1 ||
	    strlen(secret) == 0 || strlen(secret) > 255 ||
	    strpbrk(secret, " \t\r\n") != NULL)
		*errstr = ud_err("the APOP secret must be 1 to 255 printable "
		    "characters without spaces");
	else
		rc = edit_apply(&e, E_APOP, key, line.data, errstr);
	buf_wipe(&line);
	edit_end(&e);
	return rc;
}

int
userdb_edit_apop_clear(const char *data_dir, const char *addr,
    const char **errstr)
{
	char key[USERDB_ADDR_MAX + 1];
	struct edit e;
	int rc = 0;

	if (edit_addr(addr, key, errstr) == -1 ||
	    edit_begin(&e, data_dir, errstr) == -1)
		return -1;
	if (ud_find_apop(&e.d, key) != NULL)
		rc = edit_apply(&e, E_APOP, key, NULL, errstr);
	edit_end(&e);
	return rc;
}
