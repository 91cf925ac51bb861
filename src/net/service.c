/* Small helpers shared by every protocol service; see service.h. */
#include "net/service.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/random.h>
#include <time.h>

#include "core/str.h"
#include "core/xmalloc.h"
#include "net/threadpool.h"

struct service_job {
	void			*owner;	/* NULL once orphaned */
	struct service_job	**slot;
	void			(*work)(void *);
	void			(*done)(void *, void *);
	void			*arg;
};

static void
service_job_work(void *p)
{
	struct service_job *j = p;

	j->work(j->arg);
}

static void
service_job_done(void *p)
{
	struct service_job *j = p;

	if (j->owner != NULL)
		*j->slot = NULL;
	j->done(j->owner, j->arg);
	free(j);
}

void
service_job_submit(struct service *svc, struct service_job **slot,
    void *owner, void (*work)(void *), void (*done)(void *, void *),
    void *arg)
{
	struct service_job *j = xcalloc(1, sizeof(*j));

	j->owner = owner;
	j->slot = slot;
	j->work = work;
	j->done = done;
	j->arg = arg;
	*slot = j;
	threadpool_submit(svc->pool, service_job_work, service_job_done, j);
}

void
service_job_orphan(struct service_job *j)
{
	if (j != NULL)
		j->owner = NULL;
}

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

void
service_counters_format(char *out, size_t outsz,
    const struct service_counter *c, size_t n, const char *(*verb)(size_t))
{
	size_t o = 0;

	if (outsz == 0)
		return;
	out[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		char name[17];
		int len;

		if (c[i].total == 0)
			continue;
		snprintf(name, sizeof(name), "%s", verb(i));
		str_lower(name);
		if (c[i].ok == c[i].total)
			len = snprintf(out + o, outsz - o, " %s=%u", name,
			    c[i].total);
		else
			len = snprintf(out + o, outsz - o, " %s=%u/%u", name,
			    c[i].ok, c[i].total);
		if (len < 0 || (size_t)len >= outsz - o) {
			out[o] = '\0';
			break;
		}
		o += (size_t)len;
	}
}
