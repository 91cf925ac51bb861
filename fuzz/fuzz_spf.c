/*
 * libFuzzer target for policy/spf: an SPF record parsed, then every
 * domain-spec of its terms and modifiers expanded as check_host() would.
 * The parser must stay within the input (views point into it), keep
 * within SPF_MAX_TERMS, and expansion must never write past its buffer
 * or return a domain over 253 octets.
 */
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/spf.h"
#include "fuzz_check.h"

static void
check_view(struct str_view v, const char *base, size_t size)
{
	if (v.p == NULL)
		return;
	CHECK(v.p >= base && v.p + v.len <= base + size);
}

static void
expand(struct str_view v, bool is_exp)
{
	static const struct spf_macro_ctx m = {
		.sender = "strong-bad@email.example.com", .local = "strong-bad",
		.sender_domain = "email.example.com",
		.domain = "email.example.com", .family = AF_INET6,
		.ip = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 },
		.helo = "mx.example.org", .receiver = "mx.test",
	};
	char out[600];

	if (v.p == NULL)
		return;
	if (spf_macro_expand(&m, v, is_exp, true, out, sizeof(out)) == 0)
		CHECK(strlen(out) <= 253 || strchr(out, '.') == NULL);
	(void)spf_macro_expand(&m, v, is_exp, false, out, 16);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);
	struct spf_record r;
	const char *err = NULL;

	if (text == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	if (spf_record_parse(text, size, &r, &err) == 0) {
		CHECK(r.n <= SPF_MAX_TERMS);
		for (size_t i = 0; i < r.n; i++) {
			check_view(r.term[i].domain, text, size);
			check_view(r.term[i].text, text, size);
			CHECK(r.term[i].cidr4 <= 32 && r.term[i].cidr6 <= 128);
			expand(r.term[i].domain, false);
		}
		check_view(r.redirect, text, size);
		check_view(r.exp, text, size);
		expand(r.redirect, false);
		expand(r.exp, false);
	} else {
		CHECK(err != NULL);
	}
	/* The record as an explanation string (6.2) too. */
	expand((struct str_view){ text, size }, true);
	free(text);
	return 0;
}
