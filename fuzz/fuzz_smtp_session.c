/*
 * libFuzzer target: a whole SMTP server session (src/smtp/) driven by the
 * fuzzer's bytes, so the state machine, the command table, DATA/BDAT,
 * the transaction and the store write path are fuzzed together, not only
 * the parsers. See session_harness.h for how the session is run.
 *
 * The first byte picks the service (bits 0-1: 0 = port 25, 1 = 587,
 * 2 and 3 = 465 with implicit TLS, where AUTH and authenticated submission
 * are reachable) and the peer (bit 2: a trusted network or an outsider);
 * the rest is what the client sends. STARTTLS is offered but the harness
 * does not follow it, so the handshake fails on the plaintext after it.
 */
#include "session_harness.h"

#include "smtp/session.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const enum service_kind kinds[4] = { SERVICE_SMTP,
	    SERVICE_SUBMISSION, SERVICE_SUBMISSIONS, SERVICE_SUBMISSIONS };
	enum service_kind kind;
	const char *peer;

	if (size < 1)
		return 0;
	kind = kinds[data[0] & 3];
	peer = (data[0] & 4) ? "127.0.0.2" : "192.0.2.7";
	fuzz_run_session(smtp_session_start, kind, kind == SERVICE_SUBMISSIONS,
	    peer, data + 1, size - 1);
	return 0;
}
