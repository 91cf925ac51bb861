/*
 * libFuzzer target for smtp/parse: one command line (no CRLF) through
 * the verb splitter and every argument parser. Failures must come back
 * as a complete reply (code, enhanced code, text); successes must stay
 * inside the input.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smtp/parse.h"
#include "fuzz_check.h"

static void
check_err(int rc, const struct smtp_parse_err *err)
{
	if (rc == 0)
		return;
	CHECK(rc == -1);
	CHECK(err->code >= 500 && err->code <= 555);
	CHECK(err->enhanced != NULL && err->enhanced[0] == '5' &&
	    err->enhanced[1] == '.');
	CHECK(err->text != NULL && strlen(err->text) > 0);
	for (const char *p = err->text; *p != '\0'; p++)
		CHECK(*p >= 32 && *p < 127);
}

static void
check_inside(struct str_view v, const uint8_t *data, size_t size)
{
	if (v.len == 0)
		return;
	CHECK(v.p >= (const char *)data &&
	    v.p + v.len <= (const char *)data + size);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct str_view line = str_view_make((const char *)data, size);
	struct smtp_command cmd;
	struct smtp_parse_err err;
	struct smtp_mail_args mail;
	struct smtp_rcpt_args rcpt;
	struct str_view a, b;
	uint64_t n;
	bool flag;
	int rc;

	rc = smtp_parse_command(line, &cmd, &err);
	check_err(rc, &err);
	if (rc == 0) {
		CHECK(strlen(cmd.verb) >= 1 && strlen(cmd.verb) <= 16);
		check_inside(cmd.args, data, size);
		line = cmd.args;
	}
	/* Argument parsers see the line itself too, to reach them fast. */
	for (unsigned exts = 0; exts <= SMTP_EXT_ALL; exts += 5) {
		rc = smtp_parse_mail_args(line, exts, &mail, &err);
		check_err(rc, &err);
		if (rc == 0) {
			CHECK(!mail.from.is_utf8 || mail.smtputf8);
			CHECK(mail.body <= SMTP_BODY_8BITMIME);
		}
	}
	for (int u = 0; u < 2; u++) {
		rc = smtp_parse_rcpt_args(line, u, &rcpt, &err);
		check_err(rc, &err);
		if (rc == 0)
			CHECK(!rcpt.to.is_null && (u || !rcpt.to.is_utf8));
	}
	rc = smtp_parse_bdat_args(line, &n, &flag, &err);
	check_err(rc, &err);
	CHECK(rc != 0 || n <= SMTP_BDAT_MAX);
	rc = smtp_parse_auth_args(line, &a, &b, &flag, &err);
	check_err(rc, &err);
	if (rc == 0) {
		check_inside(a, data, size);
		check_inside(b, data, size);
		CHECK(a.len >= 1 && a.len <= SMTP_SASL_MECH_MAX);
	}
	rc = smtp_parse_helo_arg(line, &a, &err);
	check_err(rc, &err);
	if (rc == 0) {
		check_inside(a, data, size);
		CHECK(a.len >= 1 && a.len <= SMTP_HELO_MAX);
	}
	check_err(smtp_parse_no_args(line, &err), &err);
	return 0;
}
