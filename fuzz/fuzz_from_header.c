/*
 * libFuzzer target for dmarc_from_domain(): any bytes as a From field
 * body. The parser must stay within the input, and an OK answer must be
 * a lower-case ASCII DNS name (U-labels become A-labels) (labels of 1-63 octets, 253 in all) whose
 * organizational domain is a suffix of it; any other answer leaves ""
 * in out.
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

static void
check_name(const char *d)
{
	size_t len = strlen(d), label = 0;

	CHECK(len > 0 && len <= 253);
	for (size_t i = 0; i < len; i++) {
		CHECK(!(d[i] >= 'A' && d[i] <= 'Z'));
		CHECK((unsigned char)d[i] > 0x20 && (unsigned char)d[i] < 0x7f);
		if (d[i] == '.') {
			CHECK(label > 0);
			label = 0;
		} else {
			CHECK(++label <= 63);
		}
	}
	CHECK(label > 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size > 0 ? size : 1);
	char out[DMARC_DOMAIN_MAX], org[DMARC_DOMAIN_MAX];
	enum dmarc_from_status st;

	if (text == NULL)
		return 0;
	memcpy(text, data, size);
	st = dmarc_from_domain(text, size, out, sizeof(out));
	if (st == DMARC_FROM_OK) {
		check_name(out);
		if (psl_organizational_domain(fuzz_psl(), out, org,
		    sizeof(org)) == 0) {
			size_t lo = strlen(out), lg = strlen(org);

			CHECK(lg <= lo && strcmp(out + lo - lg, org) == 0);
		}
	} else {
		CHECK(out[0] == '\0');
	}
	free(text);
	return 0;
}
