/*
 * libFuzzer target for the SASL server state machine. Input: the
 * mechanism name on the first line, then one client response per line
 * ("\n" separated; PLAIN's NULs are fine). A first response of exactly
 * "<none>" stands for "no initial response". Password checks are answered
 * "failed" without running yescrypt, which would only slow the fuzzer.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "auth/sasl.h"
#include "auth/scram.h"
#include "auth/userdb.h"
#include "core/buf.h"
#include "core/log.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct userdb *
fuzz_db(void)
{
	static struct userdb *db;
	static const unsigned char secret[USERDB_SECRET_LEN] = { 42 };
	struct scram_entry e;
	struct buf users;
	const char *err;

	if (db != NULL)
		return db;
	buf_init(&users, 1024);
	buf_append_str(&users, "user@example.org\t$y$j9T$x$y\t");
	if (scram_entry_derive("pencil", 6, (const unsigned char *)"salt", 4,
	    4096, &e) == -1 || scram_entry_format(&e, &users) == -1)
		return NULL;
	buf_append_str(&users, "\n");
	db = userdb_new_from_text(users.data, users.len, NULL, 0, NULL, 0,
	    secret, &err);
	buf_cleanup(&users);
	return db;
}

static const uint8_t *
next_line(const uint8_t **p, const uint8_t *end, size_t *len)
{
	const uint8_t *start = *p, *nl;

	if (start >= end)
		return NULL;
	nl = memchr(start, '\n', (size_t)(end - start));
	*len = nl == NULL ? (size_t)(end - start) : (size_t)(nl - start);
	*p = nl == NULL ? end : nl + 1;
	return start;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *p = data, *end = data + size, *line;
	struct userdb *db;
	struct sasl_session *s;
	struct buf out;
	char mech[32];
	size_t len;
	bool first = true;

	log_set_level(LOG_LVL_ERROR);
	if ((db = fuzz_db()) == NULL)
		return 0;
	if ((line = next_line(&p, end, &len)) == NULL || len >= sizeof(mech))
		return 0;
	memcpy(mech, line, len);
	mech[len] = '\0';
	if ((s = sasl_session_new(mech, db)) == NULL)
		return 0;
	buf_init(&out, SASL_OUTPUT_MAX);
	sasl_session_set_server_nonce(s, "fuzznonce");
	while ((line = next_line(&p, end, &len)) != NULL) {
		enum sasl_step st;

		if (first && len == 6 && memcmp(line, "<none>", 6) == 0)
			st = sasl_session_step(s, NULL, 0, &out);
		else
			st = sasl_session_step(s, line, len, &out);
		first = false;
		if (st == SASL_STEP_CHECK_PASSWORD) {
			if (sasl_session_password_job(s) == NULL)
				__builtin_trap();
			st = sasl_session_password_done(s, false);
			if (st != SASL_STEP_FAILURE)
				__builtin_trap();
		}
		/* Nothing reaches SUCCESS without a valid SCRAM proof. */
		if (st == SASL_STEP_SUCCESS && sasl_session_login(s) == NULL)
			__builtin_trap();
		if (st != SASL_STEP_CHALLENGE)
			break;
	}
	buf_cleanup(&out);
	sasl_session_free(&s);
	return 0;
}
