/*
 * SASL session dispatch and the two plaintext mechanisms, PLAIN
 * (RFC 4616) and LOGIN; SCRAM-SHA-256 is in sasl_scram.c. See sasl.h.
 */
#include "auth/sasl.h"
#include "auth/sasl_private.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/xmalloc.h"

static const struct {
	const char	*name;
	enum sasl_mech	 mech;
	bool		 is_plaintext;
} sasl_mechs[] = {
	{ "SCRAM-SHA-256",	SASL_MECH_SCRAM,	false },
	{ "PLAIN",		SASL_MECH_PLAIN,	true },
	{ "LOGIN",		SASL_MECH_LOGIN,	true },
};

const char *
sasl_mechanisms(bool plaintext_allowed)
{
	return plaintext_allowed ? "SCRAM-SHA-256 PLAIN LOGIN" :
	    "SCRAM-SHA-256";
}

bool
sasl_mechanism_allowed(const char *name, bool plaintext_allowed)
{
	for (size_t i = 0; i < sizeof(sasl_mechs) / sizeof(sasl_mechs[0]); i++)
		if (strcasecmp(name, sasl_mechs[i].name) == 0)
			return plaintext_allowed || !sasl_mechs[i].is_plaintext;
	return false;
}

struct sasl_session *
sasl_session_new(const char *name, const struct userdb *db)
{
	struct sasl_session *s;
	size_t i;

	for (i = 0; i < sizeof(sasl_mechs) / sizeof(sasl_mechs[0]); i++)
		if (strcasecmp(name, sasl_mechs[i].name) == 0)
			break;
	if (i == sizeof(sasl_mechs) / sizeof(sasl_mechs[0]))
		return NULL;
	s = xcalloc(1, sizeof(*s));
	s->mech = sasl_mechs[i].mech;
	s->state = SASL_ST_START;
	s->db = db;
	buf_init(&s->gs2_header, 1024);
	buf_init(&s->nonce, 2 * SCRAM_NONCE_MAX);
	buf_init(&s->auth_message, 3 * SASL_INPUT_MAX);
	return s;
}

const char *
sasl_session_mechanism(const struct sasl_session *s)
{
	for (size_t i = 0; i < sizeof(sasl_mechs) / sizeof(sasl_mechs[0]); i++)
		if (sasl_mechs[i].mech == s->mech)
			return sasl_mechs[i].name;
	return "?";
}

void
sasl_session_set_server_nonce(struct sasl_session *s, const char *nonce)
{
	size_t n = strlen(nonce);

	if (n > SCRAM_NONCE_MAX)
		n = SCRAM_NONCE_MAX;
	memcpy(s->server_nonce, nonce, n);
	s->server_nonce[n] = '\0';
}

void
sasl_session_set_scram_lookup(struct sasl_session *s,
    bool (*lookup)(void *, const char *, struct scram_entry *), void *arg)
{
	s->lookup = lookup;
	s->lookup_arg = arg;
}

enum sasl_step
sasl_finish(struct sasl_session *s, enum sasl_step step)
{
	s->state = SASL_ST_DONE;
	s->authenticated = step == SASL_STEP_SUCCESS;
	return step;
}

int
sasl_set_login(struct sasl_session *s, const unsigned char *p, size_t len)
{
	if (len == 0 || len > SASL_NAME_MAX || memchr(p, '\0', len) != NULL)
		return -1;
	memcpy(s->login, p, len);
	s->login[len] = '\0';
	return 0;
}

enum sasl_step
sasl_start_check(struct sasl_session *s, const unsigned char *password,
    size_t len)
{
	char *pw;

	if (len == 0 || len > SASL_PASS_MAX ||
	    memchr(password, '\0', len) != NULL)
		return sasl_finish(s, SASL_STEP_MALFORMED);
	pw = xstrndup((const char *)password, len);
	s->job = auth_password_job_new(s->db, s->login, pw);
	explicit_bzero(pw, len);
	free(pw);
	s->state = SASL_ST_CHECKING;
	return SASL_STEP_CHECK_PASSWORD;
}

enum sasl_step
sasl_session_step(struct sasl_session *s, const unsigned char *in,
    size_t inlen, struct buf *out)
{
	buf_reset(out);
	if (s->state == SASL_ST_DONE || s->state == SASL_ST_CHECKING ||
	    inlen > SASL_INPUT_MAX || (in == NULL && s->state != SASL_ST_START))
		return sasl_finish(s, SASL_STEP_MALFORMED);
	switch (s->mech) {
	case SASL_MECH_PLAIN:
		return sasl_plain_step(s, in, inlen, out);
	case SASL_MECH_LOGIN:
		return sasl_login_step(s, in, inlen, out);
	case SASL_MECH_SCRAM:
		return sasl_scram_step(s, in, inlen, out);
	}
	return sasl_finish(s, SASL_STEP_MALFORMED);
}

struct auth_password_job *
sasl_session_password_job(struct sasl_session *s)
{
	return s->state == SASL_ST_CHECKING ? s->job : NULL;
}

enum sasl_step
sasl_session_password_done(struct sasl_session *s, bool ok)
{
	if (s->state != SASL_ST_CHECKING || s->job == NULL)
		return sasl_finish(s, SASL_STEP_MALFORMED);
	/* Both must agree: a caller that skipped the job cannot pass. */
	if (ok && auth_password_job_ok(s->job)) {
		if (sasl_set_login(s,
		    (const unsigned char *)auth_password_job_login(s->job),
		    strlen(auth_password_job_login(s->job))) == -1)
			return sasl_finish(s, SASL_STEP_FAILURE);
		return sasl_finish(s, SASL_STEP_SUCCESS);
	}
	return sasl_finish(s, SASL_STEP_FAILURE);
}

const char *
sasl_session_login(const struct sasl_session *s)
{
	return s->login[0] == '\0' ? NULL : s->login;
}

void
sasl_session_free(struct sasl_session **sp)
{
	struct sasl_session *s = *sp;

	if (s == NULL)
		return;
	auth_password_job_free(&s->job);
	buf_wipe(&s->gs2_header);
	buf_wipe(&s->nonce);
	buf_wipe(&s->auth_message);
	explicit_bzero(s, sizeof(*s));
	free(s);
	*sp = NULL;
}

/*
 * RFC 4616 2: message = [authzid] NUL authcid NUL passwd. An authzid other
 * than the login itself would mean acting as someone else: refused.
 */
enum sasl_step
sasl_plain_step(struct sasl_session *s, const unsigned char *in, size_t inlen,
    struct buf *out)
{
	const unsigned char *nul1, *nul2, *authcid, *pass;
	size_t zlen, clen, plen;

	(void)out;
	if (in == NULL) {
		/* No initial response: an empty challenge asks for one. */
		s->state = SASL_ST_WAIT;
		return SASL_STEP_CHALLENGE;
	}
	if ((nul1 = memchr(in, '\0', inlen)) == NULL)
		return sasl_finish(s, SASL_STEP_MALFORMED);
	zlen = (size_t)(nul1 - in);
	authcid = nul1 + 1;
	if ((nul2 = memchr(authcid, '\0', inlen - zlen - 1)) == NULL)
		return sasl_finish(s, SASL_STEP_MALFORMED);
	clen = (size_t)(nul2 - authcid);
	pass = nul2 + 1;
	plen = inlen - zlen - clen - 2;
	if (sasl_set_login(s, authcid, clen) == -1 ||
	    memchr(pass, '\0', plen) != NULL || plen == 0)
		return sasl_finish(s, SASL_STEP_MALFORMED);
	if (zlen > 0 && (zlen != clen || strncasecmp((const char *)in,
	    (const char *)authcid, clen) != 0))
		return sasl_finish(s, SASL_STEP_FAILURE);
	return sasl_start_check(s, pass, plen);
}

/*
 * LOGIN (draft-murchison-sasl-login-00): "Username:" then "Password:"
 * challenges; a client may send the user name as its initial response.
 */
enum sasl_step
sasl_login_step(struct sasl_session *s, const unsigned char *in, size_t inlen,
    struct buf *out)
{
	switch (s->state) {
	case SASL_ST_START:
		if (in == NULL) {
			s->state = SASL_ST_LOGIN_USER;
			buf_append_str(out, "Username:");
			return SASL_STEP_CHALLENGE;
		}
		/* FALLTHROUGH */
	case SASL_ST_LOGIN_USER:
		if (sasl_set_login(s, in, inlen) == -1)
			return sasl_finish(s, SASL_STEP_MALFORMED);
		s->state = SASL_ST_LOGIN_PASS;
		buf_append_str(out, "Password:");
		return SASL_STEP_CHALLENGE;
	case SASL_ST_LOGIN_PASS:
		return sasl_start_check(s, in, inlen);
	default:
		return sasl_finish(s, SASL_STEP_MALFORMED);
	}
}
