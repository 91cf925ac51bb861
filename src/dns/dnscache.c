/*
 * The DNS answer cache: a chained hash table of (name, qtype) -> answer
 * bytes, with a doubly linked recency list for eviction. Each entry is
 * one allocation (header, name, answer). The TTL is read from the answer
 * itself with a small bounded walk over the RFC 1035 4.1 sections.
 */
#include "dns/dnscache.h"

#include <stdlib.h>
#include <string.h>

#include "core/xmalloc.h"

struct dns_cache_entry {
	struct dns_cache_entry	*hnext;		/* hash chain */
	struct dns_cache_entry	*newer, *older;	/* recency list */
	uint64_t		 expires;
	uint32_t		 hash;
	unsigned		 qtype;
	int			 status;
	size_t			 alen;
	unsigned char		*abuf;		/* points into this allocation */
	char			 name[];	/* lower case, NUL-terminated */
};

struct dns_cache {
	struct dns_cache_entry	**buckets;
	size_t			  nbuckets;	/* power of two */
	size_t			  count, max;
	struct dns_cache_entry	 *newest, *oldest;
};

/* --- the TTL of an answer --- */

static uint16_t
get16(const unsigned char *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t
get32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

/* Skips a (possibly compressed) name at *off; false if it runs out. */
static bool
skip_name(const unsigned char *a, size_t alen, size_t *off)
{
	size_t o = *off;

	/* A name is at most 255 octets, so at most 128 labels. */
	for (int labels = 0; labels < 128; labels++) {
		if (o >= alen)
			return false;
		if ((a[o] & 0xc0) == 0xc0) {
			if (o + 2 > alen)
				return false;
			*off = o + 2;
			return true;
		}
		if ((a[o] & 0xc0) != 0)
			return false;	/* RFC 6891 extended label types */
		if (a[o] == 0) {
			*off = o + 1;
			return true;
		}
		o += 1 + (size_t)a[o];
	}
	return false;
}

/* One resource record's type, TTL and RDATA span; false if truncated. */
static bool
next_rr(const unsigned char *a, size_t alen, size_t *off, unsigned *type,
    uint32_t *ttl, size_t *rdata, size_t *rdlen)
{
	size_t o = *off;

	if (!skip_name(a, alen, &o) || o + 10 > alen)
		return false;
	*type = get16(a + o);
	*ttl = get32(a + o + 4);
	/* RFC 2181 8: a TTL with the most significant bit set is zero. */
	if (*ttl & 0x80000000u)
		*ttl = 0;
	*rdlen = get16(a + o + 8);
	*rdata = o + 10;
	if (*rdata + *rdlen > alen)
		return false;
	*off = *rdata + *rdlen;
	return true;
}

static uint32_t
cap(uint32_t ttl, uint32_t max)
{
	return ttl < max ? ttl : max;
}

uint32_t
dns_answer_ttl(const unsigned char *a, size_t alen, enum dns_cache_kind kind)
{
	size_t off = 12, rdata, rdlen;
	unsigned qd, an, ns, type;
	uint32_t ttl, best = UINT32_MAX;

	if (a == NULL || alen < 12)
		return 0;
	qd = get16(a + 4);
	an = get16(a + 6);
	ns = get16(a + 8);
	for (unsigned i = 0; i < qd; i++) {
		if (!skip_name(a, alen, &off) || off + 4 > alen)
			return 0;
		off += 4;
	}
	for (unsigned i = 0; i < an; i++) {
		if (!next_rr(a, alen, &off, &type, &ttl, &rdata, &rdlen))
			return 0;
		if (ttl < best)
			best = ttl;
	}
	if (kind == DNS_CACHE_POSITIVE)
		return an == 0 ? 0 : cap(best, DNS_CACHE_MAX_TTL);
	/* RFC 2308 5: the SOA's own TTL and its MINIMUM, whichever is less. */
	for (unsigned i = 0; i < ns; i++) {
		if (!next_rr(a, alen, &off, &type, &ttl, &rdata, &rdlen))
			return 0;
		if (type == 6 && rdlen >= 22) {	/* two names + 5 x 32 bits */
			uint32_t minimum = get32(a + rdata + rdlen - 4);

			return cap(ttl < minimum ? ttl : minimum,
			    DNS_CACHE_MAX_NEG_TTL);
		}
	}
	return 0;
}

/* --- the table --- */

static uint32_t
name_hash(const char *name, unsigned qtype)
{
	uint32_t h = 2166136261u ^ qtype;	/* FNV-1a */

	for (const unsigned char *p = (const void *)name; *p != '\0'; p++) {
		unsigned char c = *p;

		if (c >= 'A' && c <= 'Z')
			c = (unsigned char)(c - 'A' + 'a');
		h = (h ^ c) * 16777619u;
	}
	return h;
}

static bool
name_equal(const char *lower, const char *name)
{
	for (;; lower++, name++) {
		unsigned char c = (unsigned char)*name;

		if (c >= 'A' && c <= 'Z')
			c = (unsigned char)(c - 'A' + 'a');
		if ((unsigned char)*lower != c)
			return false;
		if (c == '\0')
			return true;
	}
}

struct dns_cache *
dns_cache_new(size_t max_entries)
{
	struct dns_cache *c;

	if (max_entries == 0)
		return NULL;
	c = xcalloc(1, sizeof(*c));
	c->max = max_entries;
	c->nbuckets = 16;
	while (c->nbuckets < max_entries && c->nbuckets < ((size_t)1 << 20))
		c->nbuckets <<= 1;
	c->buckets = xcalloc(c->nbuckets, sizeof(*c->buckets));
	return c;
}

static void
recency_unlink(struct dns_cache *c, struct dns_cache_entry *e)
{
	if (e->newer != NULL)
		e->newer->older = e->older;
	else
		c->newest = e->older;
	if (e->older != NULL)
		e->older->newer = e->newer;
	else
		c->oldest = e->newer;
	e->newer = e->older = NULL;
}

static void
recency_push(struct dns_cache *c, struct dns_cache_entry *e)
{
	e->older = c->newest;
	e->newer = NULL;
	if (c->newest != NULL)
		c->newest->newer = e;
	c->newest = e;
	if (c->oldest == NULL)
		c->oldest = e;
}

static struct dns_cache_entry **
find_slot(struct dns_cache *c, const char *name, unsigned qtype, uint32_t h)
{
	struct dns_cache_entry **pp = &c->buckets[h & (c->nbuckets - 1)];

	for (; *pp != NULL; pp = &(*pp)->hnext)
		if ((*pp)->hash == h && (*pp)->qtype == qtype &&
		    name_equal((*pp)->name, name))
			break;
	return pp;
}

static void
entry_drop(struct dns_cache *c, struct dns_cache_entry *e)
{
	struct dns_cache_entry **pp = find_slot(c, e->name, e->qtype, e->hash);

	if (*pp == e)
		*pp = e->hnext;
	recency_unlink(c, e);
	c->count--;
	free(e);
}

void
dns_cache_put(struct dns_cache *c, const char *name, unsigned qtype,
    int status, const unsigned char *abuf, size_t alen, uint32_t ttl,
    uint64_t now)
{
	struct dns_cache_entry **pp, *e;
	size_t nlen = strlen(name);
	uint32_t h;

	if (c == NULL || ttl == 0 || alen == 0 || alen > DNS_CACHE_MAX_ANSWER ||
	    nlen > 255)
		return;
	h = name_hash(name, qtype);
	if (*(pp = find_slot(c, name, qtype, h)) != NULL)
		entry_drop(c, *pp);
	while (c->count >= c->max && c->oldest != NULL)
		entry_drop(c, c->oldest);
	e = xmalloc(sizeof(*e) + nlen + 1 + alen);
	e->hash = h;
	e->qtype = qtype;
	e->status = status;
	e->expires = now + ttl;
	for (size_t i = 0; i <= nlen; i++) {
		char ch = name[i];

		e->name[i] = ch >= 'A' && ch <= 'Z' ? (char)(ch - 'A' + 'a') : ch;
	}
	e->abuf = (unsigned char *)e->name + nlen + 1;
	e->alen = alen;
	memcpy(e->abuf, abuf, alen);
	pp = &c->buckets[h & (c->nbuckets - 1)];
	e->hnext = *pp;
	*pp = e;
	recency_push(c, e);
	c->count++;
}

bool
dns_cache_get(struct dns_cache *c, const char *name, unsigned qtype,
    uint64_t now, int *status, unsigned char **abuf, size_t *alen)
{
	struct dns_cache_entry *e;

	if (c == NULL)
		return false;
	e = *find_slot(c, name, qtype, name_hash(name, qtype));
	if (e == NULL)
		return false;
	if (now >= e->expires) {
		entry_drop(c, e);
		return false;
	}
	recency_unlink(c, e);
	recency_push(c, e);
	*status = e->status;
	*abuf = xmalloc(e->alen);
	memcpy(*abuf, e->abuf, e->alen);
	*alen = e->alen;
	return true;
}

size_t
dns_cache_count(const struct dns_cache *c)
{
	return c != NULL ? c->count : 0;
}

void
dns_cache_free(struct dns_cache **cp)
{
	struct dns_cache *c = *cp;

	if (c == NULL)
		return;
	*cp = NULL;
	while (c->oldest != NULL) {
		struct dns_cache_entry *e = c->oldest;

		c->oldest = e->newer;
		free(e);
	}
	free(c->buckets);
	free(c);
}
