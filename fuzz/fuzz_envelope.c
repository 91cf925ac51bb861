/*
 * libFuzzer target for the queue envelope parser (store/queue.c). Queue
 * files are ours, but a corrupt or planted one must never crash the
 * relay. Beyond "no crash" it checks the round trip: whatever parses
 * formats, and the formatted text parses back to the same envelope.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "store/store.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_same(const struct queue_envelope *a, const struct queue_envelope *b)
{
	if (strcmp(a->id, b->id) != 0 || strcmp(a->sender, b->sender) != 0 ||
	    a->arrival != b->arrival || a->n_rcpt != b->n_rcpt)
		abort();
	for (size_t i = 0; i < a->n_rcpt; i++) {
		const struct queue_rcpt *x = &a->rcpt[i], *y = &b->rcpt[i];

		if (x->state != y->state || x->attempts != y->attempts ||
		    x->next_try != y->next_try ||
		    strcmp(x->addr, y->addr) != 0 ||
		    strcmp(x->last_reply, y->last_reply) != 0)
			abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct queue_envelope env, again;
	struct buf b;

	if (store_queue_envelope_parse((const char *)data, size, &env) == -1)
		return 0;
	buf_init(&b, QUEUE_ENV_MAX_SIZE);
	if (store_queue_envelope_format(&env, &b) == -1)
		abort();
	if (store_queue_envelope_parse(b.data, b.len, &again) == -1)
		abort();
	check_same(&env, &again);
	store_queue_envelope_cleanup(&again);
	store_queue_envelope_cleanup(&env);
	buf_cleanup(&b);
	return 0;
}
