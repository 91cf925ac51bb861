/*
 * libFuzzer target for policy/dkim's DKIM-Signature side: the input is
 * parsed as a tag-list value (views must stay inside it, h= within
 * DKIM_MAX_H, the b= offsets ordered), then used as the value of a
 * DKIM-Signature field on a small message run through the verifier, fed
 * whole and byte by byte, with a fixed ed25519 key for every signature.
 * Nothing may crash or leak whatever the tags say.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/dkim.h"
#include "fuzz_check.h"

static const char key_record[] =
    "v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=";

static void
check_view(struct str_view v, const char *base, size_t size)
{
	if (v.p == NULL)
		return;
	CHECK(v.p >= base && v.p + v.len <= base + size);
}

static void
run_verifier(const char *msg, size_t len, size_t step)
{
	struct dkim_verify *v = dkim_verify_new(1700000000);
	const char *t = key_record;
	size_t tlen = strlen(key_record);

	for (size_t off = 0; off < len; off += step)
		(void)dkim_verify_feed(v, msg + off,
		    len - off < step ? len - off : step);
	dkim_verify_body_end(v);
	for (size_t i = 0; i < dkim_verify_count(v); i++) {
		const char *q = dkim_verify_qname(v, i);

		if (q != NULL)
			CHECK(strlen(q) <= DKIM_QNAME_MAX);
		dkim_verify_key_txt(v, i, &t, &tlen, 1);
		CHECK(dkim_verify_result(v, i)->reason != NULL);
	}
	CHECK(dkim_verify_is_done(v));
	dkim_verify_free(&v);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char head[] = "DKIM-Signature:";
	static const char tail[] = "\r\nFrom: Joe <joe@example.com>\r\n"
	    "Subject: hi\r\n\r\nHello  \r\n\r\n";
	char *text, *msg;
	struct dkim_sig s;
	const char *err = NULL;
	size_t mlen;

	if (size > 64 * 1024)
		return 0;
	text = malloc(size + 1);
	msg = malloc(sizeof(head) + size + sizeof(tail));
	if (text == NULL || msg == NULL) {
		free(text);
		free(msg);
		return 0;
	}
	memcpy(text, data, size);
	text[size] = '\0';
	if (dkim_sig_parse(text, size, &s, &err) == 0) {
		CHECK(s.n_h >= 1 && s.n_h <= DKIM_MAX_H);
		for (size_t i = 0; i < s.n_h; i++)
			check_view(s.h[i], text, size);
		check_view(s.b, text, size);
		check_view(s.bh, text, size);
		check_view(s.d, text, size);
		check_view(s.s, text, size);
		check_view(s.i, text, size);
		CHECK(s.b_start <= s.b_end && s.b_end <= size);
	} else {
		CHECK(err != NULL);
	}
	memcpy(msg, head, sizeof(head) - 1);
	memcpy(msg + sizeof(head) - 1, data, size);
	memcpy(msg + sizeof(head) - 1 + size, tail, sizeof(tail) - 1);
	mlen = sizeof(head) - 1 + size + sizeof(tail) - 1;
	run_verifier(msg, mlen, mlen);
	if (size < 4096)
		run_verifier(msg, mlen, 1);
	free(text);
	free(msg);
	return 0;
}
