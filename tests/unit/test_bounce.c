/*
 * Unit tests for daemon/bounce delay notices (RFC 3464 Action: delayed):
 * subject, per-recipient fields, Will-Retry-Until, no Diagnostic-Code for
 * a recipient without a reply, CRLF throughout.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "core/buf.h"
#include "daemon/bounce.h"

static void
test_bounce_delay_format(void **state)
{
	static const char hdrs[] = "From: <a@example.org>\r\nSubject: hi\r\n";
	struct bounce_rcpt r[2] = {
		{ "x@example.net", "451 4.7.1 greylisted", "4.7.1" },
		{ "y@example.net", "", "4.0.0" },
	};
	struct bounce_info b = {
		.reporting_mta = "mx.example.org", .qid = "0123456789abcdef",
		.to = "a@example.org", .arrival = 1700000000, .now = 1700014400,
		.n_rcpt = 2, .rcpt = r, .headers = hdrs,
		.headers_len = sizeof(hdrs) - 1, .is_delay = true,
		.retry_until = 1700432000,
	};
	struct buf out;

	(void)state;
	buf_init(&out, 1 << 20);
	assert_int_equal(bounce_format(&b, &out), 0);
	assert_int_equal(strncmp(out.data, "Return-Path: <>\r\n", 17), 0);
	assert_non_null(strstr(out.data,
	    "Subject: Delayed Mail (still being retried)\r\n"));
	assert_non_null(strstr(out.data, "Message-ID: <0123456789abcdef."
	    "1700014400.delay@mx.example.org>\r\n"));
	assert_non_null(strstr(out.data, "keep trying until Sun, 19 Nov 2023 "
	    "22:13:20 +0000."));
	assert_non_null(strstr(out.data, "\r\n\r\nFinal-Recipient: rfc822; "
	    "x@example.net\r\nAction: delayed\r\nStatus: 4.7.1\r\n"
	    "Diagnostic-Code: smtp; 451 4.7.1 greylisted\r\n"
	    "Last-Attempt-Date: "));
	assert_non_null(strstr(out.data, "Will-Retry-Until: Sun, 19 Nov 2023 "
	    "22:13:20 +0000\r\n"));
	assert_non_null(strstr(out.data, "Final-Recipient: rfc822; "
	    "y@example.net\r\nAction: delayed\r\nStatus: 4.0.0\r\n"
	    "Last-Attempt-Date: "));
	assert_null(strstr(out.data, "Action: failed"));
	for (size_t i = 0; i < out.len; i++)
		if (out.data[i] == '\n')
			assert_true(i > 0 && out.data[i - 1] == '\r');
	buf_cleanup(&out);
	/* The failure form is unchanged by the new fields. */
	b.is_delay = false;
	buf_init(&out, 1 << 20);
	assert_int_equal(bounce_format(&b, &out), 0);
	assert_non_null(strstr(out.data,
	    "Subject: Undelivered Mail Returned to Sender\r\n"));
	assert_null(strstr(out.data, "Will-Retry-Until"));
	assert_non_null(strstr(out.data, ".bounce@mx.example.org>"));
	buf_cleanup(&out);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bounce_delay_format),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
