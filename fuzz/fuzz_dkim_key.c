/*
 * libFuzzer target for policy/dkim's key record parser (RFC 6376 3.6.1):
 * views must stay inside the input; then the input is given as the key
 * of both signatures of the RFC 8463 Appendix A message, so decoding
 * (base64, SubjectPublicKeyInfo, raw Ed25519) and the key checks run on
 * hostile records. Nothing may crash or leak, and no key but the real
 * ones may make a signature pass.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/dkim.h"
#include "fuzz_check.h"
#include "../tests/unit/rfc8463_message.h"

static void
check_view(struct str_view v, const char *base, size_t size)
{
	if (v.p == NULL)
		return;
	CHECK(v.p >= base && v.p + v.len <= base + size);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text;
	struct dkim_key_record kr;
	struct dkim_verify *v;
	const char *err = NULL, *t;

	if (size > 16 * 1024 || (text = malloc(size + 1)) == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	if (dkim_key_record_parse(text, size, &kr, &err) == 0) {
		check_view(kr.p, text, size);
		CHECK(kr.is_revoked == (kr.p.len == 0));
	} else {
		CHECK(err != NULL);
	}
	v = dkim_verify_new(1700000000);
	(void)dkim_verify_feed(v, rfc8463_msg, sizeof(rfc8463_msg) - 1);
	dkim_verify_body_end(v);
	CHECK(dkim_verify_count(v) == 2);
	t = text;
	for (size_t i = 0; i < 2; i++) {
		const struct dkim_result *r;

		dkim_verify_key_txt(v, i, &t, &size, 1);
		r = dkim_verify_result(v, i);
		CHECK(r->reason != NULL);
		/* Only the published key can verify (or an equal one). */
		if (r->status == DKIM_PASS)
			CHECK(strstr(text, i == 0 ? "11qYAYKxCrfVS" :
			    "MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDkHlOQoBTzWR")
			    != NULL || strchr(text, ' ') != NULL ||
			    strchr(text, '\t') != NULL ||
			    strchr(text, '\r') != NULL ||
			    strchr(text, '\n') != NULL);
	}
	CHECK(dkim_verify_is_done(v));
	dkim_verify_free(&v);
	free(text);
	return 0;
}
