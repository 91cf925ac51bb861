/*
 * libFuzzer target for the userdb file parsers and alias expansion.
 * Input: users text, NUL, aliases text, NUL, apop text. When the three
 * parse, every alias and account is resolved and checked for ownership,
 * which exercises recursion, loops and the depth limit.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "auth/scram.h"
#include "auth/userdb.h"
#include "core/base64.h"
#include "core/buf.h"
#include "core/log.h"
#include "core/strlist.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Splits off the part up to the next NUL (or the end). */
static const char *
part(const uint8_t **p, const uint8_t *end, size_t *len)
{
	const uint8_t *start = *p, *nul;

	if (start > end)
		start = end;
	nul = memchr(start, '\0', (size_t)(end - start));
	*len = nul == NULL ? (size_t)(end - start) : (size_t)(nul - start);
	*p = nul == NULL ? end : nul + 1;
	return (const char *)start;
}

/* Resolves every address-looking word of text. */
static void
resolve_words(struct userdb *db, const char *text, size_t len)
{
	size_t i = 0;

	while (i < len) {
		char word[USERDB_ADDR_MAX + 1];
		size_t n = 0;

		while (i < len && (text[i] == ' ' || text[i] == '\n' ||
		    text[i] == '\t' || text[i] == ',' || text[i] == ':'))
			i++;
		while (i < len && text[i] != ' ' && text[i] != '\n' &&
		    text[i] != '\t' && text[i] != ',' && text[i] != ':') {
			if (n < sizeof(word) - 1 && text[i] != '\0')
				word[n++] = text[i];
			i++;
		}
		word[n] = '\0';
		if (n > 0) {
			struct strlist l, r;
			int rc;

			strlist_init(&l);
			strlist_init(&r);
			rc = userdb_resolve(db, word, &l, &r);
			if (rc != 0 && (l.n != 0 || r.n != 0))
				__builtin_trap();
			for (size_t k = 0; k < l.n; k++)
				if (!userdb_is_account(db, l.v[k]) ||
				    !userdb_login_owns(db, l.v[k], word))
					__builtin_trap();
			strlist_clear(&l);
			strlist_clear(&r);
			(void)userdb_apop_secret(db, word);
		}
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *p = data, *end = data + size;
	const char *users, *aliases, *apop, *err;
	size_t ul, al, pl;
	struct userdb *db;
	struct scram_entry e;
	struct buf b;

	log_set_level(LOG_LVL_ERROR);
	users = part(&p, end, &ul);
	aliases = part(&p, end, &al);
	apop = part(&p, end, &pl);
	(void)scram_entry_parse(users, ul, &e);
	buf_init(&b, 4096);
	(void)base64_decode(&b, users, ul < 5000 ? ul : 5000);
	buf_cleanup(&b);
	db = userdb_new_from_text(users, ul, aliases, al, apop, pl, NULL, &err);
	if (db == NULL)
		return 0;
	resolve_words(db, users, ul);
	resolve_words(db, aliases, al);
	userdb_free(&db);
	return 0;
}
