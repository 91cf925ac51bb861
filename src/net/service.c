/* Small helpers shared by every protocol service; see service.h. */
#include "net/service.h"

#include <sys/random.h>
#include <time.h>

const char *
service_kind_name(enum service_kind kind)
{
	static const char *const names[SERVICE_KIND_COUNT] = {
		"smtp", "submission", "submissions", "pop3", "pop3s",
	};

	return kind < SERVICE_KIND_COUNT ? names[kind] : "?";
}

uint64_t
service_next_session_id(void)
{
	static uint64_t next;

	/*
	 * A random start per process keeps ids unique across workers and
	 * restarts without coordination; log lines are grepped by id.
	 */
	if (next == 0 && getrandom(&next, sizeof(next), 0) != sizeof(next))
		next = (uint64_t)time(NULL) << 20;
	return ++next;
}

void
service_session_add(struct service *svc, struct service_session *ss)
{
	ss->prev = NULL;
	ss->next = svc->sessions;
	if (svc->sessions != NULL)
		svc->sessions->prev = ss;
	svc->sessions = ss;
	svc->n_sessions++;
}

void
service_session_remove(struct service *svc, struct service_session *ss,
    const struct sockaddr *peer)
{
	if (ss->prev != NULL)
		ss->prev->next = ss->next;
	else
		svc->sessions = ss->next;
	if (ss->next != NULL)
		ss->next->prev = ss->prev;
	ss->prev = ss->next = NULL;
	svc->n_sessions--;
	if (svc->session_ended != NULL)
		svc->session_ended(svc, peer);
}
