/*
 * The SMTP server session (RFC 5321 with the ESMTP extensions listed in
 * cmd_helo.c), for the MX port and the two submission ports.
 */
#ifndef SEALPOST_SMTP_SESSION_H
#define SEALPOST_SMTP_SESSION_H

#include <sys/socket.h>

#include "net/service.h"

/* Takes ownership of the accepted socket fd and runs a session on it. */
void	smtp_session_start(struct service *, enum service_kind, int fd,
	    const struct sockaddr *peer, socklen_t peerlen);

#endif
