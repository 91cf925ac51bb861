/*
 * Unit tests for daemon/relay_limit: total and per-domain connection
 * limits and the per-domain token bucket, driven by scripted times.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "daemon/relay_limit.h"

enum op { ACQ, REL };

struct step {
	enum op		 op;
	const char	*domain;
	double		 t;
	int		 want;	/* ACQ: enum relay_limit_rc */
};

static const struct {
	const char	*name;
	unsigned	 total, per_domain, rate;
	struct step	 steps[12];
	size_t		 n;
} cases[] = {
	{ "per domain", 10, 2, 0, {
		{ ACQ, "a.example", 0, RELAY_LIMIT_OK },
		{ ACQ, "A.EXAMPLE", 0, RELAY_LIMIT_OK },
		{ ACQ, "a.example", 0, RELAY_LIMIT_DOMAIN },
		{ ACQ, "b.example", 0, RELAY_LIMIT_OK },
		{ REL, "a.example", 0, 0 },
		{ ACQ, "a.example", 0, RELAY_LIMIT_OK },
	}, 6 },
	{ "total", 2, 5, 0, {
		{ ACQ, "a.example", 0, RELAY_LIMIT_OK },
		{ ACQ, "b.example", 0, RELAY_LIMIT_OK },
		{ ACQ, "c.example", 0, RELAY_LIMIT_TOTAL },
		{ REL, "b.example", 0, 0 },
		{ ACQ, "c.example", 0, RELAY_LIMIT_OK },
	}, 5 },
	/* 2 per minute: a burst of 2, then one every 30 s */
	{ "rate", 10, 10, 2, {
		{ ACQ, "a.example", 100, RELAY_LIMIT_OK },
		{ REL, "a.example", 100, 0 },
		{ ACQ, "a.example", 100, RELAY_LIMIT_OK },
		{ REL, "a.example", 100, 0 },
		{ ACQ, "a.example", 101, RELAY_LIMIT_DOMAIN },
		{ ACQ, "b.example", 101, RELAY_LIMIT_OK },
		{ ACQ, "a.example", 129, RELAY_LIMIT_DOMAIN },
		{ ACQ, "a.example", 131, RELAY_LIMIT_OK },
		{ ACQ, "a.example", 132, RELAY_LIMIT_DOMAIN },
	}, 9 },
	/* a released domain is not forgotten while its bucket refills */
	{ "rate survives release", 10, 10, 1, {
		{ ACQ, "a.example", 0, RELAY_LIMIT_OK },
		{ REL, "a.example", 0, 0 },
		{ ACQ, "b.example", 10, RELAY_LIMIT_OK },
		{ ACQ, "a.example", 30, RELAY_LIMIT_DOMAIN },
		{ ACQ, "a.example", 61, RELAY_LIMIT_OK },
	}, 5 },
};

static void
test_relay_limit_table(void **state)
{
	(void)state;
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		struct relay_limit *l = relay_limit_new(cases[c].total,
		    cases[c].per_domain, cases[c].rate);
		struct relay_dest *held[12];
		size_t n_held = 0;

		for (size_t i = 0; i < cases[c].n; i++) {
			const struct step *s = &cases[c].steps[i];
			struct relay_dest *d = NULL;

			if (s->op == REL) {
				for (size_t k = 0; k < n_held; k++)
					if (held[k] != NULL && strcmp(
					    relay_dest_domain(held[k]),
					    s->domain) == 0) {
						relay_limit_release(l, held[k]);
						held[k] = NULL;
						break;
					}
				continue;
			}
			if ((int)relay_limit_acquire(l, s->domain, s->t, &d) !=
			    s->want)
				fail_msg("%s: step %zu", cases[c].name, i);
			if (s->want == RELAY_LIMIT_OK)
				held[n_held++] = d;
		}
		relay_limit_free(&l);
		assert_null(l);
	}
}

static void
test_relay_limit_counts_and_token(void **state)
{
	struct relay_limit *l = relay_limit_new(5, 5, 1);
	struct relay_dest *d = NULL;

	(void)state;
	assert_int_equal(relay_limit_acquire(l, "X.example", 0, &d),
	    RELAY_LIMIT_OK);
	assert_string_equal(relay_dest_domain(d), "x.example");
	assert_int_equal(relay_limit_total(l), 1);
	assert_int_equal(relay_limit_domain(l, "x.EXAMPLE"), 1);
	assert_int_equal(relay_limit_domain(l, "y.example"), 0);
	/* The one token went to the acquire; the next comes in 60 s. */
	assert_int_equal(relay_limit_take_token(l, d, 59), -1);
	assert_int_equal(relay_limit_take_token(l, d, 61), 0);
	relay_limit_release(l, d);
	assert_int_equal(relay_limit_total(l), 0);
	relay_limit_free(&l);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_relay_limit_table),
		cmocka_unit_test(test_relay_limit_counts_and_token),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
