/*
 * libFuzzer target for policy/srs: the input is an RCPT local part as a
 * client may send it. Beyond not crashing: a reversal succeeds only for
 * what verifies, its output is a bounded address, and whatever we
 * forward reverses back to the address we started from.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/addr.h"
#include "policy/srs.h"
#include "fuzz_check.h"

static const unsigned char key[SRS_KEY_LEN] = "fuzz-key-fuzz-key-fuzz-key-fuzz";
#define NOW	((time_t)1795867200)

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char in[ADDR_FORMAT_MAX + 1], out[ADDR_FORMAT_MAX], fwd[ADDR_FORMAT_MAX];
	char back[ADDR_FORMAT_MAX];
	enum srs_result rc;

	if (size >= sizeof(in))
		return 0;
	memcpy(in, data, size);
	in[size] = '\0';
	rc = srs_reverse(key, sizeof(key), NOW, in, out, sizeof(out));
	CHECK(rc <= SRS_OK && rc >= SRS_TOO_LONG);
	if (rc == SRS_OK)
		CHECK(strchr(out, '@') != NULL && strlen(out) < sizeof(out));
	/* As a sender to forward: what comes out must come back. */
	if (strchr(in, '@') != NULL && srs_forward(key, sizeof(key), NOW, in,
	    "fwd.test", fwd, sizeof(fwd)) == SRS_OK) {
		CHECK(srs_is_srs(fwd));
		rc = srs_reverse_address(key, sizeof(key), NOW, fwd, back,
		    sizeof(back));
		CHECK(rc == SRS_OK);
		if (strncmp(fwd, "SRS0=", 5) == 0)
			CHECK(strcasecmp(back, in) == 0);
	}
	return 0;
}
