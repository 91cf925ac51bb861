/*
 * The POP3 server session (RFC 1939, RFC 2449 CAPA, RFC 2595 STLS,
 * RFC 5034 SASL) for the plaintext port with STLS and for POP3S.
 */
#ifndef SEALPOST_POP3_SESSION_H
#define SEALPOST_POP3_SESSION_H

#include <sys/socket.h>

#include "net/service.h"

/* Takes ownership of the accepted socket fd and runs a session on it. */
void	pop3_session_start(struct service *, enum service_kind, int fd,
	    const struct sockaddr *peer, socklen_t peerlen);

#endif
