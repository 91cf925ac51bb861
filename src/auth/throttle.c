/*
 * Shared, lock-free failure counters; see throttle.h. A slot's state word
 * packs the failure count (low 16 bits) and the monotonic second of the
 * last failure (the rest), so one CAS updates both consistently. An
 * address's turn word packs the monotonic millisecond at which its last
 * booked verdict is answered (high 48 bits) and how many verdicts are
 * queued in a row before it (low 16).
 */
#include "auth/throttle.h"

#include <ctype.h>
#include <netinet/in.h>
#include <openssl/rand.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "auth/scram.h"

_Static_assert(ATOMIC_LLONG_LOCK_FREE == 2,
    "process-shared counters need lock-free 64-bit atomics");

#define THROTTLE_PROBE		8
#define THROTTLE_COUNT_MAX	0xffffu
#define THROTTLE_NAME_MAX	255
#define THROTTLE_CHAIN_MAX	0xffffu

struct throttle_slot {
	_Atomic uint64_t	key;	/* 0 = empty */
	_Atomic uint64_t	state;	/* last_failure << 16 | count */
	_Atomic uint64_t	turn;	/* reply_at_ms << 16 | queued before */
};

struct throttle {
	size_t			map_len;
	size_t			n_slots;
	unsigned char		seed[16];	/* keys the slot hash */
	struct throttle_slot	slots[];
};

struct throttle *
throttle_new_shared(size_t slots)
{
	struct throttle *t;
	size_t len;

	if (slots == 0)
		slots = 65536;
	if (slots > (SIZE_MAX - sizeof(*t)) / sizeof(struct throttle_slot))
		return NULL;
	len = sizeof(*t) + slots * sizeof(struct throttle_slot);
	t = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
	    -1, 0);
	if (t == MAP_FAILED)
		return NULL;
	/* The mapping starts zeroed: every slot empty. */
	t->map_len = len;
	t->n_slots = slots;
	if (RAND_bytes(t->seed, sizeof(t->seed)) != 1) {
		munmap(t, len);
		return NULL;
	}
	return t;
}

void
throttle_free(struct throttle **tp)
{
	if (*tp == NULL)
		return;
	munmap(*tp, (*tp)->map_len);
	*tp = NULL;
}

/*
 * A keyed hash so a client cannot choose names that collide in the
 * table and push out someone else's record.
 */
static uint64_t
key_hash(const struct throttle *t, char kind, const void *data, size_t len)
{
	unsigned char msg[1 + THROTTLE_NAME_MAX], md[SCRAM_HASH_LEN];
	uint64_t k = 0;

	if (len > THROTTLE_NAME_MAX)
		len = THROTTLE_NAME_MAX;
	msg[0] = (unsigned char)kind;
	memcpy(msg + 1, data, len);
	scram_hmac_sha256(t->seed, sizeof(t->seed), msg, len + 1, md);
	memcpy(&k, md, sizeof(k));
	return k == 0 ? 1 : k;
}

/* The key of an address: IPv4 /32, IPv6 /64; 0 when unusable. */
static uint64_t
ip_key(const struct throttle *t, const struct sockaddr *sa)
{
	static const unsigned char v4mapped[12] = {
		0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff
	};

	if (sa == NULL)
		return 0;
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;

		return key_hash(t, '4', &sin->sin_addr, 4);
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;
		const unsigned char *a = s6->sin6_addr.s6_addr;

		if (memcmp(a, v4mapped, sizeof(v4mapped)) == 0)
			return key_hash(t, '4', a + 12, 4);
		/* One end site usually owns a whole /64. */
		return key_hash(t, '6', a, 8);
	}
	return 0;
}

static uint64_t
account_key(const struct throttle *t, const char *account)
{
	char lower[THROTTLE_NAME_MAX];
	size_t n = 0;

	if (account == NULL || account[0] == '\0')
		return 0;
	while (account[n] != '\0' && n < sizeof(lower)) {
		lower[n] = (char)tolower((unsigned char)account[n]);
		n++;
	}
	return key_hash(t, 'a', lower, n);
}

static unsigned
state_count(uint64_t state, uint64_t now)
{
	uint64_t last = state >> 16;

	if (last == 0 || now > last + THROTTLE_DECAY_SECS)
		return 0;
	return (unsigned)(state & THROTTLE_COUNT_MAX);
}

/*
 * Finds key's slot among its THROTTLE_PROBE candidates. With create, an
 * absent key takes an empty or expired slot, else the candidate whose
 * last failure is oldest. NULL when absent (or, rarely, when racing
 * processes keep taking the candidates).
 */
static struct throttle_slot *
slot_find(struct throttle *t, uint64_t key, bool create, uint64_t now)
{
	size_t base = (size_t)(key % t->n_slots);

	for (int attempt = 0; attempt < 4; attempt++) {
		struct throttle_slot *victim = NULL;
		uint64_t victim_key = 0, oldest = UINT64_MAX;

		for (size_t i = 0; i < THROTTLE_PROBE && i < t->n_slots; i++) {
			struct throttle_slot *s =
			    &t->slots[(base + i) % t->n_slots];
			uint64_t k = atomic_load(&s->key);
			uint64_t st = atomic_load(&s->state);
			uint64_t last = k == 0 || state_count(st, now) == 0 ?
			    0 : st >> 16;

			if (k == key)
				return s;
			if (last < oldest) {
				oldest = last;
				victim = s;
				victim_key = k;
			}
		}
		if (!create || victim == NULL)
			return NULL;
		if (atomic_compare_exchange_strong(&victim->key, &victim_key,
		    key)) {
			atomic_store(&victim->state, 0);
			atomic_store(&victim->turn, 0);
			return victim;
		}
	}
	return NULL;
}

static unsigned
delay_for(unsigned count)
{
	unsigned d = THROTTLE_BASE_DELAY_MS;

	if (count == 0)
		return 0;
	for (unsigned i = 1; i < count && d < THROTTLE_MAX_DELAY_MS; i++)
		d *= 2;
	return d > THROTTLE_MAX_DELAY_MS ? THROTTLE_MAX_DELAY_MS : d;
}

static unsigned
key_delay(struct throttle *t, uint64_t key, uint64_t now)
{
	struct throttle_slot *s;

	if (key == 0 || (s = slot_find(t, key, false, now)) == NULL)
		return 0;
	return delay_for(state_count(atomic_load(&s->state), now));
}

static void
key_failure(struct throttle *t, uint64_t key, uint64_t now)
{
	struct throttle_slot *s;
	uint64_t old, new;

	if (key == 0 || (s = slot_find(t, key, true, now)) == NULL)
		return;
	old = atomic_load(&s->state);
	do {
		unsigned n = state_count(old, now);

		if (n < THROTTLE_COUNT_MAX)
			n++;
		new = now << 16 | n;
	} while (!atomic_compare_exchange_weak(&s->state, &old, new));
}

/* Halves (or with reset, clears) a key's count, keeping its time. */
static void
key_relief(struct throttle *t, uint64_t key, bool reset, uint64_t now)
{
	struct throttle_slot *s;
	uint64_t old, new;

	if (key == 0 || (s = slot_find(t, key, false, now)) == NULL)
		return;
	old = atomic_load(&s->state);
	do {
		unsigned n = reset ? 0 : state_count(old, now) / 2;

		new = (old >> 16) << 16 | n;
	} while (!atomic_compare_exchange_weak(&s->state, &old, new));
}

static uint64_t
now_secs(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	/* +1 so that 0 can mean "never failed". */
	return (uint64_t)ts.tv_sec + 1;
}

/* The same clock in milliseconds (now_secs() == now_ms() / 1000). */
static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((uint64_t)ts.tv_sec + 1) * 1000 +
	    (uint64_t)ts.tv_nsec / 1000000;
}

unsigned
throttle_delay_ms_at(struct throttle *t, const struct sockaddr *ip,
    const char *account, uint64_t now)
{
	unsigned a = key_delay(t, ip_key(t, ip), now);
	unsigned b = key_delay(t, account_key(t, account), now);

	return a > b ? a : b;
}

void
throttle_record_failure_at(struct throttle *t, const struct sockaddr *ip,
    const char *account, uint64_t now)
{
	key_failure(t, ip_key(t, ip), now);
	key_failure(t, account_key(t, account), now);
}

void
throttle_record_success_at(struct throttle *t, const struct sockaddr *ip,
    const char *account, uint64_t now)
{
	key_relief(t, ip_key(t, ip), false, now);
	key_relief(t, account_key(t, account), true, now);
}

unsigned
throttle_delay_ms(struct throttle *t, const struct sockaddr *ip,
    const char *account)
{
	return throttle_delay_ms_at(t, ip, account, now_secs());
}

void
throttle_record_failure(struct throttle *t, const struct sockaddr *ip,
    const char *account)
{
	throttle_record_failure_at(t, ip, account, now_secs());
}

void
throttle_record_success(struct throttle *t, const struct sockaddr *ip,
    const char *account)
{
	throttle_record_success_at(t, ip, account, now_secs());
}

/*
 * Books the address's next turn. Its failures so far and the verdicts
 * already queued before this one (each assumed to fail, as a guesser's
 * do) set the delay, counted from the previous queued verdict's answer:
 * exactly the schedule one connection guessing in turn would get, so
 * parallel connections gain nothing. An address without failures has
 * nothing queued and waits for nobody.
 */
unsigned
throttle_turn_ms_at(struct throttle *t, const struct sockaddr *ip,
    const char *account, uint64_t now_ms_)
{
	uint64_t now = now_ms_ / 1000, key = ip_key(t, ip);
	uint64_t old, new, start, at = now_ms_;
	unsigned acc = key_delay(t, account_key(t, account), now);
	struct throttle_slot *s;
	unsigned n, chain, d;

	if (key == 0 || (s = slot_find(t, key, false, now)) == NULL)
		return acc;
	n = state_count(atomic_load(&s->state), now);
	old = atomic_load(&s->turn);
	do {
		uint64_t prev_at = old >> 16;

		if (prev_at > now_ms_) {
			chain = (unsigned)(old & THROTTLE_CHAIN_MAX);
			if (chain < THROTTLE_CHAIN_MAX)
				chain++;
			start = prev_at;
		} else {
			chain = 0;
			start = now_ms_;
		}
		d = delay_for(n + chain);
		at = start + (d > acc ? d : acc);
		new = at << 16 | chain;
	} while (!atomic_compare_exchange_weak(&s->turn, &old, new));
	return (unsigned)(at - now_ms_);
}

unsigned
throttle_turn_ms(struct throttle *t, const struct sockaddr *ip,
    const char *account)
{
	return throttle_turn_ms_at(t, ip, account, now_ms());
}
