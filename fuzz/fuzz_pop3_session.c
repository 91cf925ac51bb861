/*
 * libFuzzer target: a whole POP3 server session (src/pop3/) driven by the
 * fuzzer's bytes: AUTHORIZATION (USER/PASS, AUTH PLAIN, APOP refusals),
 * TRANSACTION (STAT, LIST, UIDL, RETR, TOP, DELE, RSET, NOOP) and UPDATE
 * on a real Maildir. See session_harness.h for how the session is run.
 *
 * Before every input alice@example.test's Maildir is reset to the same
 * three messages, so an input's DELE+QUIT cannot change what the next
 * input sees (reproducible crashes). The account's password is
 * FUZZ_PASSWORD. The first byte picks the service (bit 0: port 110, where
 * every login needs TLS and STLS is offered but not followed, or 995 with
 * implicit TLS, where USER/PASS and AUTH PLAIN work) and the peer (bit 2,
 * as in the SMTP target).
 */
#include "session_harness.h"

#include <dirent.h>

#include "pop3/session.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const fuzz_messages[] = {
	"From: <a@example.org>\r\nSubject: one\r\n\r\nFirst.\r\n",
	"From: <b@example.org>\r\nSubject: two\r\n\r\nSecond\r\n.dotted\r\nline\r\n",
	"From: <c@example.org>\r\nSubject: three\r\n\r\nno final line end",
};

static void
fuzz_mkdir(const char *path)
{
	if (mkdir(path, 0700) == -1 && errno != EEXIST)
		fuzz_die(path);
}

static void
fuzz_clear_dir(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *de;

	if (d == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		char p[512];

		if (de->d_name[0] == '.')
			continue;
		if ((size_t)snprintf(p, sizeof(p), "%s/%s", path, de->d_name) <
		    sizeof(p))
			(void)unlink(p);
	}
	closedir(d);
}

static void
fuzz_reset_maildir(const struct fuzz_env *e)
{
	static const char *const subs[] = { "tmp", "new", "cur" };
	char md[256], p[512];

	snprintf(md, sizeof(md), "%s/mail", e->dir);
	fuzz_mkdir(md);
	snprintf(md, sizeof(md), "%s/mail/%s", e->dir, FUZZ_DOMAIN);
	fuzz_mkdir(md);
	snprintf(md, sizeof(md), "%s/mail/%s/alice", e->dir, FUZZ_DOMAIN);
	fuzz_mkdir(md);
	for (size_t i = 0; i < 3; i++) {
		snprintf(p, sizeof(p), "%s/%s", md, subs[i]);
		fuzz_mkdir(p);
		fuzz_clear_dir(p);
	}
	for (size_t i = 0; i < sizeof(fuzz_messages) / sizeof(*fuzz_messages);
	    i++) {
		size_t len = strlen(fuzz_messages[i]);
		FILE *f;

		snprintf(p, sizeof(p), "%s/%s/170000000%zu.M%zuP1.fuzz,S=%zu",
		    md, i == 0 ? "cur" : "new", i, i, len);
		if ((f = fopen(p, "wb")) == NULL)
			fuzz_die(p);
		if (fwrite(fuzz_messages[i], 1, len, f) != len)
			fuzz_die(p);
		fclose(f);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	enum service_kind kind;
	const char *peer;

	if (size < 1)
		return 0;
	kind = (data[0] & 1) ? SERVICE_POP3S : SERVICE_POP3;
	peer = (data[0] & 4) ? "127.0.0.2" : "192.0.2.7";
	fuzz_reset_maildir(fuzz_env_get());
	fuzz_run_session(pop3_session_start, kind, kind == SERVICE_POP3S, peer,
	    data + 1, size - 1);
	return 0;
}
