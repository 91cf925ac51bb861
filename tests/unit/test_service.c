/* Unit tests for net/service: the disconnect counters line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "net/service.h"

static const char *
verb(size_t i)
{
	static const char *const verbs[] = { "EHLO", "MAIL", "RCPT", "DATA" };

	return verbs[i];
}

static void
test_service_counters_format_items(void **state)
{
	const struct service_counter c[] = {
		{ 1, 1 }, { 0, 0 }, { 1, 3 }, { 0, 1 },
	};
	char out[64];

	(void)state;
	service_counters_format(out, sizeof(out), c, 4, verb);
	assert_string_equal(out, " ehlo=1 rcpt=1/3 data=0/1");
}

static void
test_service_counters_format_cuts_whole_items(void **state)
{
	const struct service_counter c[] = {
		{ 1, 1 }, { 2, 2 }, { 1, 3 }, { 0, 1 },
	};
	char out[16];

	(void)state;
	service_counters_format(out, sizeof(out), c, 4, verb);
	/* " ehlo=1 mail=2" fits (14), " rcpt=1/3" would not. */
	assert_string_equal(out, " ehlo=1 mail=2");
	service_counters_format(out, 1, c, 4, verb);
	assert_string_equal(out, "");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_service_counters_format_items),
		cmocka_unit_test(test_service_counters_format_cuts_whole_items),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
