/* POP3: placeholder until the POP3 session lands; refuses politely. */
#include "pop3/session.h"

#include <unistd.h>

void
pop3_session_start(struct service *svc, enum service_kind kind, int fd,
    const struct sockaddr *peer, socklen_t peerlen)
{
	static const char msg[] = "-ERR [SYS/PERM] POP3 not available yet\r\n";
	ssize_t n;

	(void)svc;
	(void)peer;
	(void)peerlen;
	if (kind == SERVICE_POP3)
		n = write(fd, msg, sizeof(msg) - 1);
	(void)n;
	close(fd);
}
