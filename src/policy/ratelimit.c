/*
 * Token buckets in a flat array; see ratelimit.h. A linear scan of 1024
 * slots per event is cheap next to an SMTP transaction and keeps the
 * code obviously bounded. Levels are kept in units of 1/3600 token, so
 * the refill of rate/3600 tokens per second is exactly rate units per
 * second: integer arithmetic with no rounding loss however often the
 * bucket is touched.
 */
#include "policy/ratelimit.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/xmalloc.h"

struct rl_slot {
	char		key[RATELIMIT_KEY_MAX + 1];	/* "" = free */
	uint64_t	level;		/* 1/3600 tokens */
	time_t		last;
};

struct ratelimit {
	unsigned	rate;
	struct rl_slot	slot[RATELIMIT_SLOTS];
};

struct ratelimit *
ratelimit_new(unsigned rate)
{
	struct ratelimit *rl = xcalloc(1, sizeof(*rl));

	rl->rate = rate > 0 ? rate : 1;
	return rl;
}

void
ratelimit_free(struct ratelimit **rlp)
{
	free(*rlp);
	*rlp = NULL;
}

void
ratelimit_set_rate(struct ratelimit *rl, unsigned rate)
{
	rl->rate = rate > 0 ? rate : 1;
}

/* The slot for key: its own, else a free one, else the stalest (reset). */
static struct rl_slot *
rl_find(struct ratelimit *rl, const char *key, time_t now)
{
	struct rl_slot *free_slot = NULL, *oldest = &rl->slot[0];

	for (size_t i = 0; i < RATELIMIT_SLOTS; i++) {
		struct rl_slot *sl = &rl->slot[i];

		if (sl->key[0] == '\0') {
			if (free_slot == NULL)
				free_slot = sl;
			continue;
		}
		if (strcmp(sl->key, key) == 0)
			return sl;
		if (sl->last < oldest->last || oldest->key[0] == '\0')
			oldest = sl;
	}
	if (free_slot == NULL)
		free_slot = oldest;
	(void)snprintf(free_slot->key, sizeof(free_slot->key), "%s", key);
	free_slot->level = (uint64_t)rl->rate * 3600;
	free_slot->last = now;
	return free_slot;
}

bool
ratelimit_take(struct ratelimit *rl, const char *key, time_t now)
{
	char k[RATELIMIT_KEY_MAX + 1];
	struct rl_slot *sl;
	uint64_t full = (uint64_t)rl->rate * 3600;

	/* Truncation is intended: a key only needs to tell senders apart. */
	(void)snprintf(k, sizeof(k), "%s", key[0] != '\0' ? key : "<>");
	sl = rl_find(rl, k, now);
	if (now > sl->last) {
		uint64_t add = (uint64_t)(now - sl->last) * rl->rate;

		sl->level = sl->level + add > full ? full : sl->level + add;
		sl->last = now;
	} else if (now < sl->last)
		sl->last = now;		/* clock stepped back */
	if (sl->level > full)
		sl->level = full;
	if (sl->level < 3600)
		return false;
	sl->level -= 3600;
	return true;
}
