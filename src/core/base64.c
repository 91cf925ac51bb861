/* Strict RFC 4648 base64; see base64.h. */
#include "core/base64.h"

#include <stdbool.h>
#include <stdint.h>

#include "core/buf.h"

static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t
base64_encoded_len(size_t n)
{
	return (n + 2) / 3 * 4;
}

size_t
base64_decoded_max(size_t n)
{
	return n / 4 * 3 + 2;
}

int
base64_encode(struct buf *out, const void *data, size_t len)
{
	const unsigned char *p = data;
	size_t start = out->len, i;
	char q[4];

	if (len > (SIZE_MAX - 2) / 4 * 3)
		return -1;
	for (i = 0; i + 3 <= len; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 |
		    p[i + 2];

		q[0] = b64_alphabet[v >> 18 & 63];
		q[1] = b64_alphabet[v >> 12 & 63];
		q[2] = b64_alphabet[v >> 6 & 63];
		q[3] = b64_alphabet[v & 63];
		if (buf_append(out, q, 4) == -1)
			goto fail;
	}
	if (len - i > 0) {
		uint32_t v = (uint32_t)p[i] << 16;

		if (len - i == 2)
			v |= (uint32_t)p[i + 1] << 8;
		q[0] = b64_alphabet[v >> 18 & 63];
		q[1] = b64_alphabet[v >> 12 & 63];
		q[2] = len - i == 2 ? b64_alphabet[v >> 6 & 63] : '=';
		q[3] = '=';
		if (buf_append(out, q, 4) == -1)
			goto fail;
	}
	return 0;
fail:
	out->len = start;
	if (out->data != NULL)
		out->data[start] = '\0';
	return -1;
}

/* Returns the 6-bit value of c, or -1 for a character outside the alphabet. */
static int
b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

int
base64_decode(struct buf *out, const char *text, size_t len)
{
	const unsigned char *t = (const unsigned char *)text;
	size_t start = out->len;

	/* RFC 4648 3.2: padded encodings are always a multiple of 4 long. */
	if (len % 4 != 0)
		return -1;
	for (size_t i = 0; i < len; i += 4) {
		int a = b64_value(t[i]), b = b64_value(t[i + 1]);
		int c = b64_value(t[i + 2]), d = b64_value(t[i + 3]);
		bool is_last = i + 4 == len;
		unsigned char o[3];
		size_t n = 3;

		if (a < 0 || b < 0)
			goto fail;
		if (d < 0) {
			/* Padding only at the end: "xx==" or "xxx=". */
			if (!is_last || t[i + 3] != '=')
				goto fail;
			if (c < 0) {
				if (t[i + 2] != '=' || (b & 15) != 0)
					goto fail;
				n = 1;
			} else {
				if ((c & 3) != 0)
					goto fail;
				n = 2;
			}
			c = c < 0 ? 0 : c;
			d = 0;
		} else if (c < 0)
			goto fail;
		o[0] = (unsigned char)(a << 2 | b >> 4);
		o[1] = (unsigned char)((b & 15) << 4 | c >> 2);
		o[2] = (unsigned char)((c & 3) << 6 | d);
		if (buf_append(out, o, n) == -1)
			goto fail;
	}
	return 0;
fail:
	out->len = start;
	if (out->data != NULL)
		out->data[start] = '\0';
	return -1;
}
