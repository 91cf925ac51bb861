/*
 * Cache of recently verified passwords; see credcache.h. The table is
 * set-associative: the first bytes of an entry's MAC (uniformly random to
 * anyone without the key) pick a set of CC_WAYS slots, so a lookup touches
 * a few slots and memory use is fixed at creation.
 */
#include "auth/credcache.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth/scram.h"
#include "core/log.h"
#include "core/xmalloc.h"

#define CC_WAYS		4
#define CC_MAC_LEN	SCRAM_HASH_LEN
#define CC_KEY_LEN	32

struct cc_entry {
	unsigned char	mac[CC_MAC_LEN];
	uint64_t	expires_ms;	/* 0 = empty slot */
	uint64_t	used_ms;	/* last hit or store, for LRU */
};

struct credcache {
	pthread_mutex_t	 lock;
	unsigned char	 key[CC_KEY_LEN];
	uint64_t	 ttl_ms;
	size_t		 n_sets;
	struct cc_entry	*slots;		/* n_sets * CC_WAYS */
	size_t		 n_live;
	uint64_t	 hits, misses;
};

static uint64_t
cc_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

struct credcache *
credcache_new(unsigned ttl_seconds, size_t max_entries)
{
	struct credcache *c;

	if (ttl_seconds == 0)
		return NULL;
	if (max_entries == 0)
		max_entries = CREDCACHE_ENTRIES;
	c = xcalloc(1, sizeof(*c));
	if (RAND_bytes(c->key, sizeof(c->key)) != 1)
		fatal("credcache: RAND_bytes failed");
	c->ttl_ms = (uint64_t)ttl_seconds * 1000;
	c->n_sets = (max_entries + CC_WAYS - 1) / CC_WAYS;
	c->slots = xcalloc(c->n_sets * CC_WAYS, sizeof(*c->slots));
	if (pthread_mutex_init(&c->lock, NULL) != 0)
		fatal("credcache: pthread_mutex_init failed");
	return c;
}

void
credcache_free(struct credcache **cp)
{
	struct credcache *c = *cp;

	if (c == NULL)
		return;
	pthread_mutex_destroy(&c->lock);
	explicit_bzero(c->slots, c->n_sets * CC_WAYS * sizeof(*c->slots));
	free(c->slots);
	explicit_bzero(c, sizeof(*c));
	free(c);
	*cp = NULL;
}

static void
put_len(unsigned char *p, size_t n)
{
	p[0] = (unsigned char)(n >> 24);
	p[1] = (unsigned char)(n >> 16);
	p[2] = (unsigned char)(n >> 8);
	p[3] = (unsigned char)n;
}

/*
 * The MAC over length-prefixed user and hash, then the password, so no
 * two (user, hash, password) triples share an input. The buffer holding
 * the password is wiped before it is freed.
 */
static void
cc_mac(const struct credcache *c, const char *user, const char *hash,
    const char *password, unsigned char out[CC_MAC_LEN])
{
	size_t ul = strlen(user), hl = strlen(hash), pl = strlen(password);
	size_t n = 4 + ul + 4 + hl + pl;
	unsigned char *m = xmalloc(n), *p = m;

	put_len(p, ul);
	memcpy(p + 4, user, ul);
	p += 4 + ul;
	put_len(p, hl);
	memcpy(p + 4, hash, hl);
	p += 4 + hl;
	memcpy(p, password, pl);
	scram_hmac_sha256(c->key, sizeof(c->key), m, n, out);
	explicit_bzero(m, n);
	free(m);
}

static struct cc_entry *
cc_set(const struct credcache *c, const unsigned char mac[CC_MAC_LEN])
{
	uint64_t h = 0;

	for (size_t i = 0; i < 8; i++)
		h = h << 8 | mac[i];
	return &c->slots[(h % c->n_sets) * CC_WAYS];
}

static void
cc_wipe(struct credcache *c, struct cc_entry *e)
{
	if (e->expires_ms != 0)
		c->n_live--;
	explicit_bzero(e, sizeof(*e));
}

bool
credcache_check_at(struct credcache *c, const char *user, const char *hash,
    const char *password, uint64_t now_ms)
{
	unsigned char mac[CC_MAC_LEN];
	struct cc_entry *set;
	bool hit = false;

	if (c == NULL)
		return false;
	cc_mac(c, user, hash, password, mac);
	pthread_mutex_lock(&c->lock);
	set = cc_set(c, mac);
	for (size_t i = 0; i < CC_WAYS; i++) {
		struct cc_entry *e = &set[i];

		if (e->expires_ms == 0)
			continue;
		if (e->expires_ms <= now_ms) {
			cc_wipe(c, e);
			continue;
		}
		if (CRYPTO_memcmp(e->mac, mac, sizeof(mac)) == 0) {
			e->used_ms = now_ms;
			hit = true;
		}
	}
	if (hit)
		c->hits++;
	else
		c->misses++;
	pthread_mutex_unlock(&c->lock);
	explicit_bzero(mac, sizeof(mac));
	return hit;
}

bool
credcache_check(struct credcache *c, const char *user, const char *hash,
    const char *password)
{
	return credcache_check_at(c, user, hash, password, cc_now_ms());
}

void
credcache_remember_at(struct credcache *c, const char *user,
    const char *hash, const char *password, uint64_t now_ms)
{
	unsigned char mac[CC_MAC_LEN];
	struct cc_entry *set, *victim = NULL;

	if (c == NULL)
		return;
	cc_mac(c, user, hash, password, mac);
	pthread_mutex_lock(&c->lock);
	set = cc_set(c, mac);
	for (size_t i = 0; i < CC_WAYS; i++) {
		struct cc_entry *e = &set[i];

		if (e->expires_ms != 0 && (e->expires_ms <= now_ms ||
		    CRYPTO_memcmp(e->mac, mac, sizeof(mac)) == 0))
			cc_wipe(c, e);
		/* An empty slot wins, else the least recently used. */
		if (victim == NULL || (victim->expires_ms != 0 &&
		    (e->expires_ms == 0 || e->used_ms < victim->used_ms)))
			victim = e;
	}
	cc_wipe(c, victim);
	memcpy(victim->mac, mac, sizeof(mac));
	victim->expires_ms = now_ms + c->ttl_ms;
	victim->used_ms = now_ms;
	c->n_live++;
	pthread_mutex_unlock(&c->lock);
	explicit_bzero(mac, sizeof(mac));
}

void
credcache_remember(struct credcache *c, const char *user, const char *hash,
    const char *password)
{
	credcache_remember_at(c, user, hash, password, cc_now_ms());
}

void
credcache_clear(struct credcache *c)
{
	if (c == NULL)
		return;
	pthread_mutex_lock(&c->lock);
	explicit_bzero(c->slots, c->n_sets * CC_WAYS * sizeof(*c->slots));
	c->n_live = 0;
	pthread_mutex_unlock(&c->lock);
}

size_t
credcache_count(struct credcache *c)
{
	size_t n;

	if (c == NULL)
		return 0;
	pthread_mutex_lock(&c->lock);
	n = c->n_live;
	pthread_mutex_unlock(&c->lock);
	return n;
}

uint64_t
credcache_hits(struct credcache *c)
{
	uint64_t n;

	if (c == NULL)
		return 0;
	pthread_mutex_lock(&c->lock);
	n = c->hits;
	pthread_mutex_unlock(&c->lock);
	return n;
}

uint64_t
credcache_misses(struct credcache *c)
{
	uint64_t n;

	if (c == NULL)
		return 0;
	pthread_mutex_lock(&c->lock);
	n = c->misses;
	pthread_mutex_unlock(&c->lock);
	return n;
}
