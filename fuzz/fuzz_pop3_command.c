/*
 * libFuzzer target for the POP3 command-line parser (pop3/parse.c): the
 * input is split into lines as the session does (CRLF or LF), and each
 * line goes through the keyword, argument and number parsers. Beyond "no
 * crash" it checks the contract: results point inside the line, the
 * keyword is 3-4 upper-case letters, arguments respect their limit.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pop3/parse.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_line(const char *line, size_t len)
{
	struct str_view args[POP3_MAX_ARGS];
	struct pop3_command pc;
	size_t nargs, klen;
	uint32_t num;
	uint64_t count;

	if (pop3_parse_command(line, len, &pc) != POP3_PARSE_OK)
		return;
	klen = strlen(pc.keyword);
	if (klen < 3 || klen > POP3_KEYWORD_MAX)
		abort();
	for (size_t i = 0; i < klen; i++)
		if (pc.keyword[i] < 'A' || pc.keyword[i] > 'Z')
			abort();
	if (pc.rest.p < line || pc.rest.p + pc.rest.len > line + len)
		abort();
	if (pop3_parse_args(pc.rest, 0, POP3_MAX_ARGS, POP3_ARG_MAX, args,
	    &nargs) != POP3_PARSE_OK)
		return;
	for (size_t i = 0; i < nargs; i++) {
		if (args[i].len == 0 || args[i].len > POP3_ARG_MAX ||
		    args[i].p < pc.rest.p ||
		    args[i].p + args[i].len > pc.rest.p + pc.rest.len)
			abort();
		if (pop3_parse_msgnum(args[i], &num) == 0 && num == 0)
			abort();
		(void)pop3_parse_count(args[i], &count);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data, *end = p + size;

	while (p < end) {
		const char *lf = memchr(p, '\n', (size_t)(end - p));
		size_t len = lf != NULL ? (size_t)(lf - p) : (size_t)(end - p);
		/* Exact-size copy so an overread is an ASan report. */
		char *line = malloc(len + 1);

		if (len > 0 && lf != NULL && p[len - 1] == '\r')
			len--;
		memcpy(line, p, len);
		check_line(line, len);
		free(line);
		p += (lf != NULL ? (size_t)(lf - p) + 1 : (size_t)(end - p));
	}
	return 0;
}
