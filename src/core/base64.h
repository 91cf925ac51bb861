/*
 * Strict base64 (RFC 4648 section 4, the standard alphabet with '='
 * padding), as SASL (RFC 4954, RFC 5034) and RFC 5803 entries use it.
 * Decoding rejects anything that is not canonical: characters outside the
 * alphabet (including spaces and line breaks), missing or misplaced
 * padding, and non-zero bits in the last character (RFC 4648 3.5), so one
 * text has exactly one decoding.
 */
#ifndef SEALPOST_CORE_BASE64_H
#define SEALPOST_CORE_BASE64_H

#include <stddef.h>

struct buf;

/* Length of the encoding of n bytes (with padding, without a NUL). */
size_t	base64_encoded_len(size_t n);
/* Upper bound of the decoding of n characters. */
size_t	base64_decoded_max(size_t n);

/*
 * Appends the encoding of len bytes of data to out. Returns 0, or -1 when
 * out's max would be exceeded (out is then unchanged).
 */
int	base64_encode(struct buf *out, const void *data, size_t len);
/*
 * Appends the decoding of len characters of text to out. Returns 0, or -1
 * for malformed input or when out's max would be exceeded (out is then
 * unchanged). An empty text decodes to nothing and succeeds.
 */
int	base64_decode(struct buf *out, const char *text, size_t len);

#endif
