/*
 * SCRAM-SHA-256 server side (RFC 5802 section 5, RFC 7677). Channel
 * binding is not offered (no -PLUS mechanism), so gs2 flags "n" and "y"
 * are accepted and "p=" is refused (RFC 5802 6). Unknown users get a
 * stable fake salt from the userdb and fail only at the proof, so the
 * exchange does not reveal which names exist.
 */
#include "auth/sasl.h"
#include "auth/sasl_private.h"

#include <openssl/rand.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/base64.h"
#include "core/log.h"
#include "core/str.h"

/* RFC 5802 7: printable = %x21-2B / %x2D-7E (no ','). */
static bool
nonce_ok(struct str_view v)
{
	if (v.len == 0 || v.len > SCRAM_NONCE_MAX)
		return false;
	for (size_t i = 0; i < v.len; i++) {
		unsigned char c = (unsigned char)v.p[i];

		if (c < 0x21 || c > 0x7e || c == ',')
			return false;
	}
	return true;
}

/*
 * Decodes a saslname (RFC 5802 7: "=2C" is ',' and "=3D" is '=', any
 * other '=' is an error) into out (SASL_NAME_MAX + 1 bytes).
 */
static int
saslname_decode(struct str_view v, char *out)
{
	size_t n = 0;

	for (size_t i = 0; i < v.len; i++) {
		char c = v.p[i];

		if (c == '\0' || c == ',')
			return -1;
		if (c == '=') {
			if (i + 2 >= v.len)
				return -1;
			if (v.p[i + 1] == '2' && (v.p[i + 2] == 'C' ||
			    v.p[i + 2] == 'c'))
				c = ',';
			else if (v.p[i + 1] == '3' && (v.p[i + 2] == 'D' ||
			    v.p[i + 2] == 'd'))
				c = '=';
			else
				return -1;
			i += 2;
		}
		if (n >= SASL_NAME_MAX)
			return -1;
		out[n++] = c;
	}
	if (n == 0)
		return -1;
	out[n] = '\0';
	return 0;
}

/* Takes "k=value" up to the next ',' (consumed); false if the key differs. */
static bool
take_attr(struct str_view *cur, char key, struct str_view *val)
{
	if (cur->len < 2 || cur->p[0] != key || cur->p[1] != '=')
		return false;
	cur->p += 2;
	cur->len -= 2;
	*val = str_take_until(cur, ',');
	str_take_char(cur, ',');
	return true;
}

/* Appends 18 random bytes in base64 (24 characters, none of them ','). */
static int
make_server_nonce(struct sasl_session *s)
{
	unsigned char rnd[18];

	if (s->server_nonce[0] != '\0')
		return buf_append_str(&s->nonce, s->server_nonce);
	if (RAND_bytes(rnd, sizeof(rnd)) != 1)
		return -1;
	return base64_encode(&s->nonce, rnd, sizeof(rnd));
}

/*
 * client-first-message = gs2-header client-first-message-bare
 * gs2-header = ("n" / "y" / "p=" cb-name) "," ["a=" saslname] ","
 * bare = ["m=" ...","] "n=" saslname "," "r=" c-nonce ["," extensions]
 */
static enum sasl_step
scram_client_first(struct sasl_session *s, const unsigned char *in,
    size_t inlen, struct buf *out)
{
	struct str_view cur = str_view_make((const char *)in, inlen), v;
	struct str_view authz = { "", 0 }, bare, user_v, cnonce;
	char user[SASL_NAME_MAX + 1], authzid[SASL_NAME_MAX + 1];
	const char *gs2_start = cur.p;
	bool has_authz;

	if (memchr(in, '\0', inlen) != NULL)
		return sasl_finish(s, SASL_STEP_MALFORMED);
	if (str_take_char(&cur, 'p'))
		return sasl_finish(s, SASL_STEP_FAILURE);
	if (!str_take_char(&cur, 'n') && !str_take_char(&cur, 'y'))
		return sasl_finish(s, SASL_STEP_MALFORMED);
	if (!str_take_char(&cur, ','))
		return sasl_finish(s, SASL_STEP_MALFORMED);
	has_authz = take_attr(&cur, 'a', &authz);
	if (!has_authz && !str_take_char(&cur, ','))
		return sasl_finish(s, SASL_STEP_MALFORMED);
	if (has_authz && saslname_decode(authz, authzid) == -1)
		return sasl_finish(s, SASL_STEP_MALFORMED);
	if (buf_append(&s->gs2_header, gs2_start,
	    (size_t)(cur.p - gs2_start)) == -1)
		return sasl_finish(s, SASL_STEP_MALFORMED);
	bare = cur;
	/* RFC 5802 5.1: a mandatory extension we do not know means failure. */
	if (take_attr(&cur, 'm', &v))
		return sasl_finish(s, SASL_STEP_FAILURE);
	if (!take_attr(&cur, 'n', &user_v) || saslname_decode(user_v,
	    user) == -1)
		return sasl_finish(s, SASL_STEP_MALFORMED);
	if (!take_attr(&cur, 'r', &cnonce) || !nonce_ok(cnonce))
		return sasl_finish(s, SASL_STEP_MALFORMED);
	if (sasl_set_login(s, (const unsigned char *)user, strlen(user)) == -1)
		return sasl_finish(s, SASL_STEP_MALFORMED);
	/* Acting for another identity is not supported (RFC 5802 5.1 a=). */
	if (has_authz && strcasecmp(authzid, user) != 0)
		return sasl_finish(s, SASL_STEP_FAILURE);

	s->is_real_user = s->lookup != NULL ?
	    s->lookup(s->lookup_arg, user, &s->entry) :
	    userdb_scram_lookup(s->db, user, &s->entry);
	if (buf_append(&s->nonce, cnonce.p, cnonce.len) == -1 ||
	    make_server_nonce(s) == -1)
		return sasl_finish(s, SASL_STEP_MALFORMED);
	/* server-first-message = "r=" nonce ",s=" salt ",i=" iterations */
	if (buf_printf(out, "r=%s,s=", s->nonce.data) == -1 ||
	    base64_encode(out, s->entry.salt, s->entry.salt_len) == -1 ||
	    buf_printf(out, ",i=%u", s->entry.iterations) == -1)
		return sasl_finish(s, SASL_STEP_MALFORMED);
	/* AuthMessage starts with client-first-bare "," server-first. */
	if (buf_append(&s->auth_message, bare.p, bare.len) == -1 ||
	    buf_append_char(&s->auth_message, ',') == -1 ||
	    buf_append(&s->auth_message, out->data, out->len) == -1 ||
	    buf_append_char(&s->auth_message, ',') == -1)
		return sasl_finish(s, SASL_STEP_MALFORMED);
	s->state = SASL_ST_SCRAM_FINAL;
	return SASL_STEP_CHALLENGE;
}

/*
 * Checks ClientProof: ClientKey = ClientProof XOR HMAC(StoredKey,
 * AuthMessage) must hash to StoredKey (RFC 5802 3). Always does the same
 * work, real user or not.
 */
static bool
scram_proof_ok(struct sasl_session *s, const unsigned char *proof)
{
	unsigned char sig[SCRAM_HASH_LEN], key[SCRAM_HASH_LEN];
	unsigned char stored[SCRAM_HASH_LEN];
	bool ok;

	scram_hmac_sha256(s->entry.stored_key, SCRAM_HASH_LEN,
	    s->auth_message.data, s->auth_message.len, sig);
	for (size_t i = 0; i < SCRAM_HASH_LEN; i++)
		key[i] = proof[i] ^ sig[i];
	scram_sha256(key, sizeof(key), stored);
	ok = scram_mem_equal(stored, s->entry.stored_key, SCRAM_HASH_LEN);
	explicit_bzero(sig, sizeof(sig));
	explicit_bzero(key, sizeof(key));
	return ok && s->is_real_user;
}

/* After success the login is the account's canonical (lower-case) name. */
static void
scram_canonical_login(struct sasl_session *s)
{
	char key[USERDB_ADDR_MAX + 1];

	if (userdb_addr_normalize(s->login, key, sizeof(key)) == 0)
		sasl_set_login(s, (const unsigned char *)key, strlen(key));
}

/*
 * client-final-message = "c=" base64(gs2-header) ",r=" nonce
 *	["," extensions] ",p=" base64(ClientProof)
 */
static enum sasl_step
scram_client_final(struct sasl_session *s, const unsigned char *in,
    size_t inlen, struct buf *out)
{
	struct str_view cur = str_view_make((const char *)in, inlen);
	struct str_view cb, nonce, proof_v, without_proof;
	unsigned char sig[SCRAM_HASH_LEN];
	struct buf cbind, proof;
	enum sasl_step rc = SASL_STEP_MALFORMED;

	buf_init(&cbind, 1024);
	buf_init(&proof, SCRAM_HASH_LEN);
	if (memchr(in, '\0', inlen) != NULL ||
	    !take_attr(&cur, 'c', &cb) || !take_attr(&cur, 'r', &nonce))
		goto out;
	/* Skip extensions up to the proof, which must come last. */
	while (cur.len > 0 && !(cur.len >= 2 && cur.p[0] == 'p' &&
	    cur.p[1] == '=')) {
		(void)str_take_until(&cur, ',');
		if (!str_take_char(&cur, ','))
			goto out;
	}
	without_proof = str_view_make((const char *)in,
	    (size_t)(cur.p - (const char *)in));
	if (without_proof.len == 0 || without_proof.p[without_proof.len - 1] !=
	    ',' || !take_attr(&cur, 'p', &proof_v) || cur.len != 0)
		goto out;
	without_proof.len--;
	if (base64_decode(&cbind, cb.p, cb.len) == -1 ||
	    base64_decode(&proof, proof_v.p, proof_v.len) == -1 ||
	    proof.len != SCRAM_HASH_LEN)
		goto out;
	/* The channel binding must repeat our gs2 header (RFC 5802 5.1 c=). */
	if (cbind.len != s->gs2_header.len || memcmp(cbind.data,
	    s->gs2_header.data, cbind.len) != 0 ||
	    !str_eq(nonce, s->nonce.data)) {
		rc = SASL_STEP_FAILURE;
		goto out;
	}
	if (buf_append(&s->auth_message, without_proof.p,
	    without_proof.len) == -1)
		goto out;
	if (!scram_proof_ok(s, (const unsigned char *)proof.data)) {
		rc = SASL_STEP_FAILURE;
		goto out;
	}
	/* server-final-message = "v=" base64(ServerSignature) */
	scram_hmac_sha256(s->entry.server_key, SCRAM_HASH_LEN,
	    s->auth_message.data, s->auth_message.len, sig);
	if (buf_append_str(out, "v=") == -1 ||
	    base64_encode(out, sig, sizeof(sig)) == -1)
		goto out;
	s->state = SASL_ST_SCRAM_ACK;
	rc = SASL_STEP_CHALLENGE;
out:
	buf_wipe(&cbind);
	buf_wipe(&proof);
	explicit_bzero(sig, sizeof(sig));
	return rc == SASL_STEP_CHALLENGE ? rc : sasl_finish(s, rc);
}

enum sasl_step
sasl_scram_step(struct sasl_session *s, const unsigned char *in, size_t inlen,
    struct buf *out)
{
	switch (s->state) {
	case SASL_ST_START:
		if (in == NULL) {
			s->state = SASL_ST_WAIT;
			return SASL_STEP_CHALLENGE;
		}
		/* FALLTHROUGH */
	case SASL_ST_WAIT:
		return scram_client_first(s, in, inlen, out);
	case SASL_ST_SCRAM_FINAL:
		return scram_client_final(s, in, inlen, out);
	case SASL_ST_SCRAM_ACK:
		/* The client acknowledges v= with an empty response. */
		if (inlen != 0)
			return sasl_finish(s, SASL_STEP_MALFORMED);
		scram_canonical_login(s);
		return sasl_finish(s, SASL_STEP_SUCCESS);
	default:
		return sasl_finish(s, SASL_STEP_MALFORMED);
	}
}
