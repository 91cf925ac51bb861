/*
 * Unit tests for the store's raw-message scan (store_int.h,
 * maildir_scan_*): which messages POP3 may serve byte for byte with
 * sendfile, fed whole, one byte at a time and split at every point, and
 * the flag it puts into Maildir names.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "store/store_int.h"

static const struct {
	const char	*text;
	bool		 raw;
} cases[] = {
	{ "Subject: a\r\n\r\nbody\r\n", true },
	{ "a\r\n", true },
	{ "", false },				/* empty: nothing to send */
	{ "a\r\nb", false },			/* no final CRLF */
	{ "a\r\nb\r", false },
	{ "a\nb\r\n", false },			/* bare LF */
	{ "\n", false },
	{ "a\r\n.\r\n", false },		/* needs stuffing */
	{ ".a\r\n", false },
	{ "a\r\n..b\r\n", false },
	{ "a.b\r\n x.\r\n", true },		/* dots not at line start */
	{ "a\rb\r\n", true },			/* bare CR is sent as is */
	{ "a\r\r\n", true },
	{ "a\r\n\r\n\r\n", true },
};

static bool
scan_split(const char *text, size_t split)
{
	struct maildir_scan sc;
	size_t n = strlen(text);

	memset(&sc, 0, sizeof(sc));
	maildir_scan_update(&sc, text, split);
	maildir_scan_update(&sc, text + split, n - split);
	return maildir_scan_raw(&sc, n);
}

static void
test_maildir_scan_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t n = strlen(cases[i].text);

		for (size_t split = 0; split <= n; split++) {
			if (scan_split(cases[i].text, split) != cases[i].raw)
				fail_msg("case %zu (%s) split at %zu", i,
				    cases[i].text, split);
		}
	}
}

static void
test_maildir_scan_byte_at_a_time(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct maildir_scan sc;
		size_t n = strlen(cases[i].text);

		memset(&sc, 0, sizeof(sc));
		for (size_t j = 0; j < n; j++)
			maildir_scan_update(&sc, cases[i].text + j, 1);
		assert_int_equal(maildir_scan_raw(&sc, n), cases[i].raw);
	}
}

static void
test_maildir_scan_stays_dirty(void **state)
{
	struct maildir_scan sc;

	(void)state;
	memset(&sc, 0, sizeof(sc));
	maildir_scan_update(&sc, ".x\r\n", 4);
	maildir_scan_update(&sc, "clean\r\n", 7);
	assert_false(maildir_scan_raw(&sc, 11));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_maildir_scan_table),
		cmocka_unit_test(test_maildir_scan_byte_at_a_time),
		cmocka_unit_test(test_maildir_scan_stays_dirty),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
