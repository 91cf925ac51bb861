/*
 * The pure parts of the outbound client and of bounces: the reply reader
 * (multi-line replies, EHLO keywords), the DATA dot-stuffer (whole and one
 * byte at a time), and the RFC 3464 notification text.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "daemon/bounce.h"
#include "smtp/client.h"

static int
feed_reply(struct smtp_reply_acc *a, const char *text)
{
	const char *p = text;
	int rc = 0;

	smtp_reply_acc_reset(a);
	while (*p != '\0') {
		const char *nl = strstr(p, "\r\n");

		rc = smtp_reply_acc_line(a, p, (size_t)(nl - p));
		if (rc != 0)
			return rc;
		p = nl + 2;
	}
	return rc;
}

static const struct {
	const char	*in;
	int		 rc;
	int		 code;
	const char	*text;
} reply_cases[] = {
	{ "220 mx.example ESMTP\r\n", 1, 220, "220 mx.example ESMTP" },
	{ "250 ok\r\n", 1, 250, "250 ok" },
	{ "354\r\n", 1, 354, "354" },
	{ "250-mx.example\r\n250-SIZE 1000\r\n250 STARTTLS\r\n", 1, 250,
	    "250 mx.example SIZE 1000 STARTTLS" },
	{ "250-a\r\n", 0, 250, "250 a" },
	{ "250-a\r\n251 b\r\n", -1, 250, NULL },	/* code changes */
	{ "25 short\r\n", -1, 0, NULL },
	{ "abc def\r\n", -1, 0, NULL },
	{ "250x\r\n", -1, 0, NULL },
	{ "999 nope\r\n", -1, 0, NULL },
	{ "550 5.1.1 <x@y>: \x01" "bad\r\n", 1, 550, "550 5.1.1 <x@y>: ?bad" },
};

static void
test_client_reply_lines(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(reply_cases) / sizeof(reply_cases[0]);
	    i++) {
		struct smtp_reply_acc a;
		int rc = feed_reply(&a, reply_cases[i].in);

		if (rc != reply_cases[i].rc)
			fail_msg("case %zu: rc %d, want %d", i, rc,
			    reply_cases[i].rc);
		if (rc >= 0) {
			assert_int_equal(a.code, reply_cases[i].code);
			assert_string_equal(a.text, reply_cases[i].text);
		}
	}
}

static void
test_client_reply_ehlo_keywords(void **state)
{
	struct smtp_reply_acc a;

	(void)state;
	assert_int_equal(feed_reply(&a, "250-mx.example greets you\r\n"
	    "250-PIPELINING\r\n250-size 52428800\r\n250-starttls\r\n"
	    "250 8BITMIME\r\n"), 1);
	assert_true(a.has_starttls);
	assert_true(a.has_size);
	assert_int_equal(a.size, 52428800);
	/* The greeting line's words are not keywords. */
	assert_int_equal(feed_reply(&a, "250 STARTTLS is not offered\r\n"), 1);
	assert_false(a.has_starttls);
	assert_int_equal(feed_reply(&a, "250-x\r\n250 SIZE\r\n"), 1);
	assert_true(a.has_size);
	assert_int_equal(a.size, 0);
	assert_false(a.has_pipelining);
	assert_false(a.has_8bitmime);
}

/* Every keyword the client acts on, and the AUTH mechanism lists. */
static const struct {
	const char	*ehlo;
	bool		 pipelining, eightbit, utf8, enhanced, plain, login;
} keyword_cases[] = {
	{ "250-h\r\n250-PIPELINING\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n"
	    "250 ENHANCEDSTATUSCODES\r\n", true, true, true, true, false,
	    false },
	{ "250-h\r\n250 AUTH PLAIN LOGIN CRAM-MD5\r\n", false, false, false,
	    false, true, true },
	{ "250-h\r\n250 auth login\r\n", false, false, false, false, false,
	    true },
	/* The pre-RFC 4954 form some servers still announce. */
	{ "250-h\r\n250 AUTH=PLAIN\r\n", false, false, false, false, true,
	    false },
	{ "250-h\r\n250 AUTH=LOGIN PLAIN\r\n", false, false, false, false,
	    true, true },
	/* Look-alikes are not the keywords. */
	{ "250-h\r\n250-PIPELINING2\r\n250-AUTHX PLAIN\r\n250 X-8BITMIME\r\n",
	    false, false, false, false, false, false },
	{ "250-h\r\n250 AUTH SCRAM-SHA-256\r\n", false, false, false, false,
	    false, false },
	/* Keywords only count after the first line. */
	{ "250 PIPELINING\r\n", false, false, false, false, false, false },
};

static void
test_client_reply_keywords(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(keyword_cases) / sizeof(keyword_cases[0]);
	    i++) {
		struct smtp_reply_acc a;

		assert_int_equal(feed_reply(&a, keyword_cases[i].ehlo), 1);
		if (a.has_pipelining != keyword_cases[i].pipelining ||
		    a.has_8bitmime != keyword_cases[i].eightbit ||
		    a.has_smtputf8 != keyword_cases[i].utf8 ||
		    a.has_enhanced != keyword_cases[i].enhanced ||
		    a.has_auth_plain != keyword_cases[i].plain ||
		    a.has_auth_login != keyword_cases[i].login)
			fail_msg("case %zu: %d%d%d%d%d%d", i, a.has_pipelining,
			    a.has_8bitmime, a.has_smtputf8, a.has_enhanced,
			    a.has_auth_plain, a.has_auth_login);
	}
}

static const struct {
	const char	*reply;
	int		 rc;
	const char	*status;
} status_code_cases[] = {
	{ "550 5.1.1 no such user", 0, "5.1.1" },
	{ "250 2.0.0 Ok: queued as X", 0, "2.0.0" },
	{ "451 4.7.1 greylisted", 0, "4.7.1" },
	{ "552 5.3.4", 0, "5.3.4" },
	{ "554 5.123.999 max digits", 0, "5.123.999" },
	{ "550 4.1.1 class differs from the code", -1, "" },
	{ "550 5.1.1000 too long", -1, "" },
	{ "550 5.1 short", -1, "" },
	{ "550 5..1 empty", -1, "" },
	{ "550 3.1.1 bad class", -1, "" },
	{ "550 5.1.1x glued", -1, "" },
	{ "550 no code", -1, "" },
	{ "550", -1, "" },
	{ "550-5.1.1 continuation form", -1, "" },
};

static void
test_client_reply_status(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(status_code_cases) /
	    sizeof(status_code_cases[0]); i++) {
		char out[16] = "junk";

		if (smtp_reply_status(status_code_cases[i].reply, out) !=
		    status_code_cases[i].rc)
			fail_msg("case %zu: %s", i, status_code_cases[i].reply);
		assert_string_equal(out, status_code_cases[i].status);
	}
}

static const struct {
	const char	*head;
	bool		 utf8;
} head_cases[] = {
	{ "Received: from a by b with UTF8SMTPS id 1;\r\n\tdate\r\n\r\nbody",
	    true },
	{ "Authentication-Results: x; spf=pass\r\nReceived: from a\r\n"
	    "\tby b\r\n\twith UTF8SMTPSA id 2;\r\n\r\n", true },
	{ "received: from a by b with utf8smtp;\r\n\r\n", true },
	{ "Received: from a by b with ESMTPS id 1;\r\n\r\n", false },
	/* Only the newest Received field, ours, counts. */
	{ "Received: from a by b with ESMTPS;\r\nReceived: from c by d with "
	    "UTF8SMTP;\r\n\r\n", false },
	/* Not in the header section. */
	{ "Subject: x\r\n\r\nReceived: by b with UTF8SMTP;\r\n", false },
	{ "Subject: with UTF8SMTP\r\n\r\n", false },
	{ "X-Received: by b with UTF8SMTP;\r\n\r\n", false },
	{ "", false },
	/* A field cut off by the scan limit is not trusted. */
	{ "Received: from a by b with UTF8SMTP", false },
};

static void
test_client_message_classify(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(head_cases) / sizeof(head_cases[0]); i++)
		if (smtp_head_received_utf8(head_cases[i].head,
		    strlen(head_cases[i].head)) != head_cases[i].utf8)
			fail_msg("case %zu", i);
	assert_false(smtp_text_is_8bit("plain ascii\r\n~", 15));
	assert_true(smtp_text_is_8bit("caf\xc3\xa9", 5));
	assert_true(smtp_text_is_8bit("\x80", 1));
	assert_false(smtp_text_is_8bit("\x80", 0));
}

static void
test_client_reply_too_many_lines(void **state)
{
	struct smtp_reply_acc a;
	int rc = 0;

	(void)state;
	smtp_reply_acc_reset(&a);
	for (int i = 0; i <= SMTP_REPLY_MAX_LINES && rc == 0; i++)
		rc = smtp_reply_acc_line(&a, "250-x", 5);
	assert_int_equal(rc, -1);
}

static const struct {
	const char	*in;
	const char	*out;
} stuff_cases[] = {
	{ "a\r\nb\r\n", "a\r\nb\r\n.\r\n" },
	{ ".a\r\n", "..a\r\n.\r\n" },
	{ "x\r\n.\r\n..\r\n", "x\r\n..\r\n...\r\n.\r\n" },
	{ "no end", "no end\r\n.\r\n" },
	{ "ends in cr\r", "ends in cr\r\r\n.\r\n" },
	{ "bare\nlf\n", "bare\r\nlf\r\n.\r\n" },
	{ "", ".\r\n" },
	{ "a.b\r\n .c\r\n", "a.b\r\n .c\r\n.\r\n" },
};

static void
test_client_stuffer(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(stuff_cases) / sizeof(stuff_cases[0]);
	    i++) {
		const char *in = stuff_cases[i].in;
		size_t len = strlen(in);
		char whole[256], bytes[256];
		size_t nw = 0, nb = 0;
		struct smtp_stuffer s;

		smtp_stuffer_init(&s);
		nw = smtp_stuffer_feed(&s, in, len, whole);
		nw += smtp_stuffer_end(&s, whole + nw);
		whole[nw] = '\0';
		if (strcmp(whole, stuff_cases[i].out) != 0)
			fail_msg("case %zu: got \"%s\"", i, whole);
		/* One byte at a time gives the same bytes. */
		smtp_stuffer_init(&s);
		for (size_t k = 0; k < len; k++)
			nb += smtp_stuffer_feed(&s, in + k, 1, bytes + nb);
		nb += smtp_stuffer_end(&s, bytes + nb);
		bytes[nb] = '\0';
		assert_string_equal(bytes, whole);
	}
}

static const struct {
	const char	*reply;
	const char	*status;
} status_cases[] = {
	{ "550 5.1.1 no such user", "5.1.1" },
	{ "552 5.3.4 too big", "5.3.4" },
	{ "554 5.7.123 policy", "5.7.123" },
	{ "550 no enhanced code", "5.0.0" },
	{ "450 4.2.0 later", "4.2.0" },
	{ "451 temporary", "4.0.0" },
	{ "550 5.1 short", "5.0.0" },
	{ "550 5.1.1x junk", "5.0.0" },
	{ "550", "5.0.0" },
};

static void
test_client_bounce_status(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(status_cases) / sizeof(status_cases[0]);
	    i++) {
		char out[16];

		assert_string_equal(bounce_status_of(status_cases[i].reply, out),
		    status_cases[i].status);
	}
}

static void
test_client_bounce_format(void **state)
{
	static const char hdrs[] = "From: <a@example.org>\r\nSubject: hi\r\n";
	struct bounce_rcpt r[2] = {
		{ "x@example.net", "550 5.1.1 unknown", "5.1.1" },
		{ "y@example.net", "451 4.4.1 down (4.4.7 gave up)", "4.4.7" },
	};
	struct bounce_info b = {
		.reporting_mta = "mx.example.org", .qid = "0123456789abcdef",
		.to = "a@example.org", .arrival = 1700000000, .now = 1700003600,
		.n_rcpt = 2, .rcpt = r, .headers = hdrs,
		.headers_len = sizeof(hdrs) - 1,
	};
	struct buf out;

	(void)state;
	buf_init(&out, 1 << 20);
	assert_int_equal(bounce_format(&b, &out), 0);
	assert_non_null(strstr(out.data, "Return-Path: <>\r\n"));
	assert_int_equal(strncmp(out.data, "Return-Path: <>\r\n", 17), 0);
	assert_non_null(strstr(out.data, "Content-Type: multipart/report; "
	    "report-type=delivery-status;\r\n\tboundary=\"0123456789abcdef/"
	    "mx.example.org\"\r\n"));
	assert_non_null(strstr(out.data, "Reporting-MTA: dns; mx.example.org"));
	assert_non_null(strstr(out.data, "\r\n\r\nFinal-Recipient: rfc822; "
	    "x@example.net\r\nAction: failed\r\nStatus: 5.1.1\r\n"
	    "Diagnostic-Code: smtp; 550 5.1.1 unknown\r\n"));
	assert_non_null(strstr(out.data, "Status: 4.4.7\r\n"));
	assert_non_null(strstr(out.data, "Content-Type: text/rfc822-headers"
	    "\r\n\r\nFrom: <a@example.org>\r\nSubject: hi\r\n"));
	assert_non_null(strstr(out.data,
	    "\r\n--0123456789abcdef/mx.example.org--\r\n"));
	/* No bare LF anywhere: the stored message is CRLF throughout. */
	for (size_t i = 0; i < out.len; i++)
		if (out.data[i] == '\n')
			assert_true(i > 0 && out.data[i - 1] == '\r');
	buf_cleanup(&out);
	/* A buffer too small fails rather than cutting the report. */
	buf_init(&out, 200);
	assert_int_equal(bounce_format(&b, &out), -1);
	buf_cleanup(&out);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_client_reply_lines),
		cmocka_unit_test(test_client_reply_ehlo_keywords),
		cmocka_unit_test(test_client_reply_too_many_lines),
		cmocka_unit_test(test_client_reply_keywords),
		cmocka_unit_test(test_client_reply_status),
		cmocka_unit_test(test_client_message_classify),
		cmocka_unit_test(test_client_stuffer),
		cmocka_unit_test(test_client_bounce_status),
		cmocka_unit_test(test_client_bounce_format),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
