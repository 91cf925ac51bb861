/*
 * libFuzzer target for the outbound client's pure parts (smtp/client.c):
 * the input is split into reply lines (CRLF or LF) fed to the reply
 * reader, as a hostile peer would send them, and also run through the
 * DATA dot-stuffer whole. Beyond "no crash" it checks the contract: the
 * kept text is NUL-terminated, bounded and printable; stuffed output has
 * no bare LF and no line starting with a single '.'.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smtp/client.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_reply(const struct smtp_reply_acc *a)
{
	if (a->text_len >= sizeof(a->text) || a->text[a->text_len] != '\0' ||
	    strlen(a->text) != a->text_len)
		abort();
	for (size_t i = 0; i < a->text_len; i++)
		if (a->text[i] < 0x20 || a->text[i] >= 0x7f)
			abort();
	if (a->code != 0 && (a->code < 200 || a->code > 599))
		abort();
}

static void
check_stuffed(const char *in, size_t len)
{
	struct smtp_stuffer s;
	char *out = malloc(2 * len + 8);
	size_t n;

	if (out == NULL)
		return;
	smtp_stuffer_init(&s);
	n = smtp_stuffer_feed(&s, in, len, out);
	if (n > 2 * len)
		abort();
	n += smtp_stuffer_end(&s, out + n);
	if (n < 3 || memcmp(out + n - 3, ".\r\n", 3) != 0)
		abort();
	for (size_t i = 0; i < n; i++) {
		if (out[i] == '\n' && (i == 0 || out[i - 1] != '\r'))
			abort();
		/* A data line starting with '.' must have been doubled. */
		if (i + 3 < n && (i == 0 || out[i - 1] == '\n') &&
		    out[i] == '.' && out[i + 1] != '.' && i + 3 != n)
			abort();
	}
	free(out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data, *end = p + size;
	struct smtp_reply_acc a;

	smtp_reply_acc_reset(&a);
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = nl != NULL ? (size_t)(nl - p) : (size_t)(end - p);
		int rc;

		if (len > 0 && p[len - 1] == '\r')
			len--;
		rc = smtp_reply_acc_line(&a, p, len);
		check_reply(&a);
		if (rc != 0)
			smtp_reply_acc_reset(&a);
		p = nl != NULL ? nl + 1 : end;
	}
	check_stuffed((const char *)data, size);
	return 0;
}
