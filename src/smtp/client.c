/*
 * The pure parts of the outbound client; see client.h. No I/O here: the
 * reply reader, enhanced status codes, the message classifier and the
 * dot-stuffer. The session (the state machine on a bufferevent) is in
 * client_session.c.
 */
#include "smtp/client.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/str.h"

/* --- replies --------------------------------------------------------- */

void
smtp_reply_acc_reset(struct smtp_reply_acc *a)
{
	memset(a, 0, sizeof(*a));
}

static void
acc_keyword(struct smtp_reply_acc *a, struct str_view kw)
{
	struct str_view word;

	if (str_take_word(&kw, &word, 64) != 0)
		return;
	if (str_case_eq(word, "STARTTLS"))
		a->has_starttls = true;
	else if (str_case_eq(word, "PIPELINING"))
		a->has_pipelining = true;
	else if (str_case_eq(word, "8BITMIME"))
		a->has_8bitmime = true;
	else if (str_case_eq(word, "SMTPUTF8"))
		a->has_smtputf8 = true;
	else if (str_case_eq(word, "ENHANCEDSTATUSCODES"))
		a->has_enhanced = true;
	else if (word.len >= 4 && strncasecmp(word.p, "AUTH", 4) == 0 &&
	    (word.len == 4 || word.p[4] == '=')) {
		/* "AUTH PLAIN LOGIN", or the pre-RFC 4954 "AUTH=PLAIN LOGIN"
		 * some servers still send. */
		struct str_view mech;

		if (word.len > 5)
			kw = str_view_make(word.p + 5,
			    (size_t)(kw.p + kw.len - (word.p + 5)));
		while (str_skip_space(&kw), str_take_word(&kw, &mech, 64) == 0) {
			if (str_case_eq(mech, "PLAIN"))
				a->has_auth_plain = true;
			else if (str_case_eq(mech, "LOGIN"))
				a->has_auth_login = true;
		}
	} else if (str_case_eq(word, "SIZE")) {
		uint64_t n = 0;

		a->has_size = true;
		str_skip_space(&kw);
		if (kw.len > 0 && str_parse_u64(&kw, &n, UINT64_MAX / 2) == 0)
			a->size = n;
	}
}

int
smtp_reply_acc_line(struct smtp_reply_acc *a, const char *line, size_t len)
{
	int code;
	bool last;
	struct str_view text;

	if (len < 3 || a->lines >= SMTP_REPLY_MAX_LINES)
		return -1;
	for (int i = 0; i < 3; i++)
		if (line[i] < '0' || line[i] > '9')
			return -1;
	code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
	if (code < 200 || code > 599 || (a->code != 0 && code != a->code))
		return -1;
	if (len > 3 && line[3] != ' ' && line[3] != '-')
		return -1;
	last = len == 3 || line[3] == ' ';
	a->code = code;
	text = str_view_make(line + (len > 3 ? 4 : 3), len > 3 ? len - 4 : 0);
	if (a->lines > 0)
		acc_keyword(a, text);
	/* Keep "NNN first line" and as much of the rest as fits. */
	if (a->lines == 0) {
		int n = snprintf(a->text, sizeof(a->text), "%d", code);

		a->text_len = n > 0 ? (size_t)n : 0;
	}
	if (text.len > 0 && a->text_len + 2 < sizeof(a->text)) {
		size_t room = sizeof(a->text) - a->text_len - 2;
		size_t n = text.len < room ? text.len : room;

		a->text[a->text_len++] = ' ';
		for (size_t i = 0; i < n; i++) {
			char c = text.p[i];

			/* Control bytes would garble envelopes and logs. */
			a->text[a->text_len++] = (c >= 0x20 && c < 0x7f) ? c : '?';
		}
		a->text[a->text_len] = '\0';
	}
	a->lines++;
	return last ? 1 : 0;
}

/* --- dot-stuffing ---------------------------------------------------- */

void
smtp_stuffer_init(struct smtp_stuffer *s)
{
	s->at_bol = true;
	s->last = '\0';
	s->any = false;
}

size_t
smtp_stuffer_feed(struct smtp_stuffer *s, const char *in, size_t len,
    char *out)
{
	size_t o = 0;

	for (size_t i = 0; i < len; i++) {
		char c = in[i];

		/* RFC 5321 4.5.2: a line starting with '.' gets one more. */
		if (s->at_bol && c == '.')
			out[o++] = '.';
		/* The wire needs CRLF; a stored bare LF is converted. */
		if (c == '\n' && s->last != '\r')
			out[o++] = '\r';
		out[o++] = c;
		s->at_bol = c == '\n';
		s->last = c;
		s->any = true;
	}
	return o;
}

size_t
smtp_stuffer_end(struct smtp_stuffer *s, char *out)
{
	size_t o = 0;

	if (s->any && !(s->last == '\n' && s->at_bol)) {
		out[o++] = '\r';
		out[o++] = '\n';
	}
	memcpy(out + o, ".\r\n", 3);
	return o + 3;
}

/* --- enhanced status codes ------------------------------------------ */

/* 1-3 digits at *i of s; advances *i. */
static bool
status_number(const char *s, size_t *i)
{
	size_t n = 0;

	while (s[*i] >= '0' && s[*i] <= '9' && n < 4) {
		(*i)++;
		n++;
	}
	return n >= 1 && n <= 3;
}

int
smtp_reply_status(const char *text, char out[16])
{
	size_t i = 4, start;

	out[0] = '\0';
	if (strlen(text) < 9 || text[3] != ' ')
		return -1;
	start = i;
	/* RFC 3463 2: class "." subject "." detail; class is 2, 4 or 5. */
	if (text[i] != text[0] || (text[i] != '2' && text[i] != '4' &&
	    text[i] != '5') || text[i + 1] != '.')
		return -1;
	i += 2;
	if (!status_number(text, &i) || text[i] != '.')
		return -1;
	i++;
	if (!status_number(text, &i) || (text[i] != ' ' && text[i] != '\0'))
		return -1;
	(void)snprintf(out, 16, "%.*s", (int)(i - start), text + start);
	return 0;
}

/* --- the message ----------------------------------------------------- */

bool
smtp_text_is_8bit(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] >= 0x80)
			return true;
	return false;
}

bool
smtp_head_received_utf8(const char *head, size_t len)
{
	struct str_view cur = str_view_make(head, len);

	while (cur.len > 0) {
		struct str_view line = str_take_until(&cur, '\n');
		size_t flen;

		if (!str_take_char(&cur, '\n'))
			return false;	/* header section cut short */
		if (line.len > 0 && line.p[line.len - 1] == '\r')
			line.len--;
		if (line.len == 0)
			return false;	/* end of the header section */
		if (line.len < 9 || strncasecmp(line.p, "Received:", 9) != 0)
			continue;
		/* The field with its folded continuation lines (RFC 5322
		 * 2.2.3); the protocol is the word after "with". */
		flen = line.len;
		while (cur.len > 0 && (cur.p[0] == ' ' || cur.p[0] == '\t')) {
			struct str_view more = str_take_until(&cur, '\n');

			(void)str_take_char(&cur, '\n');
			flen = (size_t)(more.p + more.len - line.p);
		}
		for (size_t i = 0; i + 14 <= flen; i++)
			if ((line.p[i] == ' ' || line.p[i] == '\t') &&
			    strncasecmp(line.p + i + 1, "with UTF8SMTP", 13) == 0)
				return true;
		return false;	/* only the newest Received: ours */
	}
	return false;
}

