/* The session shared by the SASL mechanism files; not for outside src/auth/. */
#ifndef SEALPOST_AUTH_SASL_PRIVATE_H
#define SEALPOST_AUTH_SASL_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>

#include "auth/sasl.h"
#include "auth/scram.h"
#include "auth/userdb.h"
#include "core/buf.h"

enum sasl_mech { SASL_MECH_PLAIN, SASL_MECH_LOGIN, SASL_MECH_SCRAM };

enum sasl_state {
	SASL_ST_START,		/* nothing received yet */
	SASL_ST_WAIT,		/* PLAIN: credentials; SCRAM: client-first */
	SASL_ST_LOGIN_USER,	/* LOGIN: waiting for the user name */
	SASL_ST_LOGIN_PASS,	/* LOGIN: waiting for the password */
	SASL_ST_SCRAM_FINAL,	/* SCRAM: waiting for client-final */
	SASL_ST_SCRAM_ACK,	/* SCRAM: v= sent, waiting for "" */
	SASL_ST_CHECKING,	/* password job pending */
	SASL_ST_DONE,
};

#define SASL_NAME_MAX	255
#define SASL_PASS_MAX	1024
#define SCRAM_NONCE_MAX	256

struct sasl_session {
	enum sasl_mech		 mech;
	enum sasl_state		 state;
	const struct userdb	*db;
	struct auth_password_job *job;
	char			 login[SASL_NAME_MAX + 1];	/* "": none */
	bool			 authenticated;

	/* SCRAM */
	bool	(*lookup)(void *, const char *, struct scram_entry *);
	void	 *lookup_arg;
	char	  server_nonce[SCRAM_NONCE_MAX + 1];	/* "" = random */
	struct buf		 gs2_header;	/* as the client sent it */
	struct buf		 nonce;		/* client + server nonce */
	struct buf		 auth_message;	/* RFC 5802 AuthMessage */
	struct scram_entry	 entry;
	bool			 is_real_user;
};

enum sasl_step	sasl_plain_step(struct sasl_session *, const unsigned char *,
	    size_t, struct buf *);
enum sasl_step	sasl_login_step(struct sasl_session *, const unsigned char *,
	    size_t, struct buf *);
enum sasl_step	sasl_scram_step(struct sasl_session *, const unsigned char *,
	    size_t, struct buf *);
/* Finishes the session with a verdict. */
enum sasl_step	sasl_finish(struct sasl_session *, enum sasl_step);
/* Copies a name (no NULs, 1..SASL_NAME_MAX bytes) as the login tried. */
int	sasl_set_login(struct sasl_session *, const unsigned char *, size_t);
/* Starts the password job for s->login; returns SASL_STEP_CHECK_PASSWORD. */
enum sasl_step	sasl_start_check(struct sasl_session *,
	    const unsigned char *password, size_t len);

#endif
