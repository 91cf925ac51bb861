/*
 * Unit tests for daemon/route: MX ordering (RFC 5321 5.1): ascending
 * preference, equal preferences shuffled by the random source, every
 * order of an equal run reachable, nothing lost or duplicated.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "daemon/route.h"

/* A deterministic "random" source: returns the values of a script. */
struct script {
	const uint32_t	*v;
	size_t		 n, i;
};

static uint32_t
scripted(void *arg)
{
	struct script *s = arg;

	return s->n == 0 ? 0 : s->v[s->i++ % s->n];
}

static const struct {
	const char	*name;
	unsigned	 pref[8];
	size_t		 n;
	uint32_t	 rnd[4];
	size_t		 n_rnd;
	const char	*want;		/* hosts in order, "," separated */
} order_cases[] = {
	{ "one", { 10 }, 1, { 0 }, 0, "a" },
	{ "sorted", { 10, 20, 30 }, 3, { 0 }, 0, "a,b,c" },
	{ "reversed", { 30, 20, 10 }, 3, { 0 }, 0, "c,b,a" },
	{ "zero first", { 5, 0 }, 2, { 0 }, 0, "b,a" },
	/* equal run a,b: i=1 swaps with s + rnd % 2 */
	{ "equal kept", { 10, 10 }, 2, { 1 }, 1, "a,b" },
	{ "equal swapped", { 10, 10 }, 2, { 0 }, 1, "b,a" },
	/* run c,d after a (5): the low host never moves */
	{ "run after low", { 5, 20, 20 }, 3, { 0 }, 1, "a,c,b" },
	{ "two runs", { 20, 10, 20, 10 }, 4, { 0, 0 }, 2, "d,b,c,a" },
};

static void
hosts_of(const struct route_mx *mx, size_t n, char *out, size_t outsz)
{
	size_t o = 0;

	out[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		int w = snprintf(out + o, outsz - o, "%s%s", i > 0 ? "," : "",
		    mx[i].host);

		assert_true(w > 0 && (size_t)w < outsz - o);
		o += (size_t)w;
	}
}

static void
test_route_mx_order_table(void **state)
{
	static const char *const names[] = { "a", "b", "c", "d", "e", "f",
	    "g", "h" };

	(void)state;
	for (size_t t = 0; t < sizeof(order_cases) / sizeof(order_cases[0]);
	    t++) {
		struct route_mx mx[8];
		struct script s = { order_cases[t].rnd, order_cases[t].n_rnd, 0 };
		char got[64];

		for (size_t i = 0; i < order_cases[t].n; i++) {
			mx[i].pref = order_cases[t].pref[i];
			mx[i].host = names[i];
		}
		route_mx_order(mx, order_cases[t].n, scripted, &s);
		hosts_of(mx, order_cases[t].n, got, sizeof(got));
		if (strcmp(got, order_cases[t].want) != 0)
			fail_msg("%s: got %s, want %s", order_cases[t].name, got,
			    order_cases[t].want);
	}
}

/* Every order of three equal hosts comes out for some random input. */
static void
test_route_mx_order_every_permutation(void **state)
{
	static const char *const names[] = { "a", "b", "c" };
	char seen[6][8];
	size_t n_seen = 0;

	(void)state;
	for (uint32_t x = 0; x < 3; x++)
		for (uint32_t y = 0; y < 2; y++) {
			uint32_t v[2] = { x, y };
			struct script s = { v, 2, 0 };
			struct route_mx mx[3];
			char got[8];
			bool dup = false;

			for (size_t i = 0; i < 3; i++) {
				mx[i].pref = 7;
				mx[i].host = names[i];
			}
			route_mx_order(mx, 3, scripted, &s);
			hosts_of(mx, 3, got, sizeof(got));
			for (size_t k = 0; k < n_seen; k++)
				dup |= strcmp(seen[k], got) == 0;
			if (!dup)
				memcpy(seen[n_seen++], got, sizeof(got));
		}
	assert_int_equal(n_seen, 6);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_route_mx_order_table),
		cmocka_unit_test(test_route_mx_order_every_permutation),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
