/*
 * SASL server exchanges (RFC 4422) for SMTP AUTH (RFC 4954) and POP3 AUTH
 * (RFC 5034): PLAIN (RFC 4616), LOGIN (draft-murchison-sasl-login) and
 * SCRAM-SHA-256 (RFC 5802, RFC 7677), as a pure state machine: bytes in,
 * bytes and a verdict out. No I/O and no base64: the protocol layer
 * decodes each client response (handling "*" cancel and "=" for an empty
 * initial response itself), encodes each challenge, and runs the slow
 * password check on its thread pool.
 *
 * One exchange:
 *	s = sasl_session_new("PLAIN", db);       NULL: unknown mechanism
 *	step = sasl_session_step(s, ir, irlen, &out);   ir NULL: none sent
 *	while (step == SASL_STEP_CHALLENGE) {
 *		send out as a challenge; read the response;
 *		step = sasl_session_step(s, resp, resplen, &out);
 *	}
 *	if (step == SASL_STEP_CHECK_PASSWORD) {
 *		job = sasl_session_password_job(s);
 *		(pool thread) auth_password_job_run(job);
 *		step = sasl_session_password_done(s, auth_password_job_ok(job));
 *	}
 *	SUCCESS: sasl_session_login(s) is the account; FAILURE: wrong
 *	credentials (throttle, 535 / -ERR [AUTH]); MALFORMED: protocol
 *	violation (501 / -ERR).
 *
 * SCRAM's server-final message (v=...) is returned as a last CHALLENGE;
 * the client answers it with an empty response and only then comes
 * SUCCESS, because neither SMTP nor POP3 carries data with the success
 * reply. SUCCESS never puts anything in out.
 */
#ifndef SEALPOST_AUTH_SASL_H
#define SEALPOST_AUTH_SASL_H

#include <stdbool.h>
#include <stddef.h>

struct auth_password_job;
struct buf;
struct scram_entry;
struct sasl_session;
struct userdb;

/*
 * Largest decoded client response accepted; RFC 4954 4 allows 12288-octet
 * AUTH lines, whose base64 decodes to at most 9216 bytes.
 */
#define SASL_INPUT_MAX	12288
/* Room the caller should give out (its max) for any challenge. */
#define SASL_OUTPUT_MAX	1024

enum sasl_step {
	SASL_STEP_CHALLENGE,		/* send out, read a response */
	SASL_STEP_CHECK_PASSWORD,	/* run the password job, then _done() */
	SASL_STEP_SUCCESS,		/* logged in as sasl_session_login() */
	SASL_STEP_FAILURE,		/* wrong credentials or authzid */
	SASL_STEP_MALFORMED,		/* the client broke the syntax */
};

/*
 * The mechanisms to advertise, space-separated, strongest first:
 * "SCRAM-SHA-256 PLAIN LOGIN" when plaintext mechanisms are allowed (the
 * connection is under TLS), else "SCRAM-SHA-256". Static string.
 */
const char	*sasl_mechanisms(bool plaintext_allowed);
/* True when name (any case) is in sasl_mechanisms(plaintext_allowed). */
bool	sasl_mechanism_allowed(const char *name, bool plaintext_allowed);

/*
 * Starts an exchange with mechanism name (any case). db must outlive the
 * session and not be refreshed while a step runs (both happen on the loop
 * thread). Returns NULL for an unknown mechanism.
 */
struct sasl_session	*sasl_session_new(const char *name,
	    const struct userdb *db);
/*
 * Feeds the next client response (inlen <= SASL_INPUT_MAX bytes, already
 * base64-decoded). On the first call in is the initial response, or NULL
 * when the client sent none (an empty initial response, "=", is in != NULL
 * with inlen 0); later calls never pass NULL. out (caller's, max at least
 * SASL_OUTPUT_MAX) is reset and receives the challenge for
 * SASL_STEP_CHALLENGE. After SUCCESS, FAILURE or MALFORMED the session is
 * finished and further steps return MALFORMED; likewise a step while a
 * password check is pending.
 */
enum sasl_step	sasl_session_step(struct sasl_session *,
	    const unsigned char *in, size_t inlen, struct buf *out);
/*
 * After SASL_STEP_CHECK_PASSWORD: the job to run on a pool thread with
 * auth_password_job_run(). Owned by the session (freed with it); valid
 * until sasl_session_free(). NULL in any other state.
 */
struct auth_password_job	*sasl_session_password_job(
	    struct sasl_session *);
/*
 * Completes the check: ok is auth_password_job_ok() of the job (or false
 * when it could not run). Returns SUCCESS or FAILURE (MALFORMED when no
 * check was pending).
 */
enum sasl_step	sasl_session_password_done(struct sasl_session *, bool ok);
/*
 * After SUCCESS, the authenticated account (lower-cased address); for a
 * FAILURE, the name that was tried when known (for throttling and logs),
 * else NULL. Valid until sasl_session_free().
 */
const char	*sasl_session_login(const struct sasl_session *);
/* The mechanism's canonical name, e.g. "SCRAM-SHA-256". */
const char	*sasl_session_mechanism(const struct sasl_session *);
/* Wipes every secret the session held, frees it and NULLs the pointer. */
void	sasl_session_free(struct sasl_session **);

/*
 * For tests (the RFC 7677 vector) and other credential stores: fixes the
 * server part of the SCRAM nonce (printable, no ','), and replaces the
 * userdb SCRAM lookup. lookup returns true for a real entry and must fill
 * *out in both cases, as userdb_scram_lookup() does. Call before the first
 * step.
 */
void	sasl_session_set_server_nonce(struct sasl_session *, const char *nonce);
void	sasl_session_set_scram_lookup(struct sasl_session *,
	    bool (*lookup)(void *arg, const char *user,
	    struct scram_entry *out),
	    void *arg);

#endif
