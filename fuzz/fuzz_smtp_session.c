/*
 * libFuzzer target: a whole SMTP server session (src/smtp/) driven by the
 * fuzzer's bytes, so the state machine, the command table, DATA/BDAT,
 * the transaction and the store write path are fuzzed together, not only
 * the parsers. See session_harness.h for how the session is run.
 *
 * The first byte picks the service (bit 0: port 25 or 587) and the peer
 * (bit 1: a trusted network or an outsider); the rest is what the client
 * sends. No TLS certificate is loaded, so STARTTLS answers 454 and AUTH
 * 530: the TLS-only paths are covered by the protocol suite.
 */
#include "session_harness.h"

#include "smtp/session.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	enum service_kind kind;
	const char *peer;

	if (size < 1)
		return 0;
	kind = (data[0] & 1) ? SERVICE_SUBMISSION : SERVICE_SMTP;
	peer = (data[0] & 2) ? "127.0.0.2" : "192.0.2.7";
	fuzz_run_session(smtp_session_start, kind, peer, data + 1, size - 1);
	return 0;
}
