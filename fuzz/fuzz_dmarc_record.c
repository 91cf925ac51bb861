/*
 * libFuzzer target for policy/dmarc's record parser: any bytes as one
 * TXT record's text. The parser must stay within the input, give a
 * reason for anything but OK, and an OK record must hold only values the
 * grammar allows (pct 0-100, keyword enums, NUL-terminated rua/ruf).
 * Each OK record is then evaluated and formatted for A-R.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/dmarc.h"
#include "policy/psl.h"
#include "fuzz_check.h"

static const struct psl *
fuzz_psl(void)
{
	static struct psl *psl;
	static const char list[] = "com\norg\nuk\nco.uk\n*.ck\n!www.ck\n";
	const char *err;

	if (psl == NULL)
		psl = psl_parse(list, sizeof(list) - 1, NULL, &err);
	CHECK(psl != NULL);
	return psl;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* An exact-size copy, so ASan sees any read past the input. */
	char *text = malloc(size > 0 ? size : 1);
	struct dmarc_policy_found f;
	struct dmarc_input in;
	struct dmarc_verdict v;
	const char *err = NULL;
	const char *dk[2] = { "mail.example.com", "example.org" };
	char ar[512];
	enum dmarc_parse_status st;

	if (text == NULL)
		return 0;
	memcpy(text, data, size);
	memset(&f, 0, sizeof(f));
	st = dmarc_record_parse(text, size, &f.rec, &err);
	if (st != DMARC_PARSE_OK) {
		CHECK(err != NULL);
		free(text);
		return 0;
	}
	CHECK(f.rec.pct <= 100);
	CHECK(f.rec.p <= DMARC_POLICY_REJECT && f.rec.sp <= DMARC_POLICY_REJECT);
	CHECK(f.rec.adkim <= DMARC_ALIGN_STRICT &&
	    f.rec.aspf <= DMARC_ALIGN_STRICT);
	CHECK(f.rec.fo != 0 && f.rec.fo <= 0xf);
	CHECK(memchr(f.rec.rua, '\0', sizeof(f.rec.rua)) != NULL);
	CHECK(memchr(f.rec.ruf, '\0', sizeof(f.rec.ruf)) != NULL);
	CHECK(f.rec.has_p || f.rec.n_rua > 0);
	f.status = DMARC_LOOKUP_FOUND;
	f.is_org = size % 2 == 0;
	f.reason = "fuzz";
	memcpy(f.domain, "example.com", sizeof("example.com"));
	memset(&in, 0, sizeof(in));
	in.from_domain = "sub.example.com";
	in.spf = SPF_FAIL;
	in.spf_domain = "example.com";
	in.dkim_domains = dk;
	in.n_dkim = size % 3 == 0 ? 2 : 0;
	in.roll = (uint32_t)size;
	dmarc_evaluate(fuzz_psl(), &f, &in, &v);
	CHECK(v.result == DMARC_RESULT_PASS || v.result == DMARC_RESULT_FAIL);
	CHECK(v.disposition <= v.policy);
	CHECK(dmarc_authres_format(&v, in.from_domain, ar, sizeof(ar)) > 0);
	free(text);
	return 0;
}
