/*
 * Relay limits; see relay_limit.h. Destinations live in a short list:
 * only domains with a connection open or a rate bucket not yet refilled
 * are kept, which is a handful on a small server.
 */
#include "daemon/relay_limit.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/xmalloc.h"

struct relay_dest {
	struct relay_dest	*next;
	char			 domain[256];
	unsigned		 conns;
	double			 tokens;	/* rate bucket, <= rate */
	double			 stamp;		/* of the last refill */
};

struct relay_limit {
	unsigned		 max_total, max_per_domain, rate;
	size_t			 total;
	struct relay_dest	*dests;
};

struct relay_limit *
relay_limit_new(unsigned max_total, unsigned max_per_domain,
    unsigned rate_per_min)
{
	struct relay_limit *l = xcalloc(1, sizeof(*l));

	l->max_total = max_total;
	l->max_per_domain = max_per_domain;
	l->rate = rate_per_min;
	return l;
}

void
relay_limit_free(struct relay_limit **lp)
{
	struct relay_limit *l = *lp;

	if (l == NULL)
		return;
	*lp = NULL;
	while (l->dests != NULL) {
		struct relay_dest *d = l->dests;

		l->dests = d->next;
		free(d);
	}
	free(l);
}

/* Refills d's bucket for the time since its last refill. */
static void
dest_refill(const struct relay_limit *l, struct relay_dest *d, double now)
{
	if (l->rate == 0)
		return;
	if (now > d->stamp) {
		d->tokens += (now - d->stamp) * (double)l->rate / 60.0;
		if (d->tokens > (double)l->rate)
			d->tokens = (double)l->rate;
	}
	d->stamp = now;
}

/*
 * Finds domain's entry, dropping on the way entries that hold nothing:
 * no connection and a full bucket (forgetting them changes nothing).
 */
static struct relay_dest *
dest_find(struct relay_limit *l, const char *domain, double now)
{
	struct relay_dest **pp = &l->dests, *found = NULL;

	while (*pp != NULL) {
		struct relay_dest *d = *pp;

		dest_refill(l, d, now);
		if (found == NULL && strcasecmp(d->domain, domain) == 0)
			found = d;
		else if (d->conns == 0 && (l->rate == 0 ||
		    d->tokens >= (double)l->rate)) {
			*pp = d->next;
			free(d);
			continue;
		}
		pp = &d->next;
	}
	return found;
}

enum relay_limit_rc
relay_limit_acquire(struct relay_limit *l, const char *domain, double now,
    struct relay_dest **out)
{
	struct relay_dest *d;

	if (l->total >= l->max_total)
		return RELAY_LIMIT_TOTAL;
	if ((d = dest_find(l, domain, now)) == NULL) {
		d = xcalloc(1, sizeof(*d));
		/* Longer names are not domains; the prefix still groups. */
		(void)snprintf(d->domain, sizeof(d->domain), "%s", domain);
		for (char *p = d->domain; *p != '\0'; p++)
			*p = (char)tolower((unsigned char)*p);
		d->tokens = (double)l->rate;
		d->stamp = now;
		d->next = l->dests;
		l->dests = d;
	}
	if (d->conns >= l->max_per_domain ||
	    (l->rate > 0 && d->tokens < 1.0))
		return RELAY_LIMIT_DOMAIN;
	if (l->rate > 0)
		d->tokens -= 1.0;
	d->conns++;
	l->total++;
	*out = d;
	return RELAY_LIMIT_OK;
}

int
relay_limit_take_token(struct relay_limit *l, struct relay_dest *d,
    double now)
{
	if (l->rate == 0)
		return 0;
	dest_refill(l, d, now);
	if (d->tokens < 1.0)
		return -1;
	d->tokens -= 1.0;
	return 0;
}

void
relay_limit_release(struct relay_limit *l, struct relay_dest *d)
{
	if (d->conns > 0) {
		d->conns--;
		l->total--;
	}
	/* Kept until its bucket is full again (dest_find drops it). */
}

size_t
relay_limit_total(const struct relay_limit *l)
{
	return l->total;
}

size_t
relay_limit_domain(const struct relay_limit *l, const char *domain)
{
	for (const struct relay_dest *d = l->dests; d != NULL; d = d->next)
		if (strcasecmp(d->domain, domain) == 0)
			return d->conns;
	return 0;
}

const char *
relay_dest_domain(const struct relay_dest *d)
{
	return d->domain;
}
