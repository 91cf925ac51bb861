/* Bounded cursor parsing over str_view slices; see str.h. */
#include "core/str.h"

#include <string.h>
#include <strings.h>

struct str_view
str_view_from(const char *s)
{
	return (struct str_view){ s, strlen(s) };
}

struct str_view
str_view_make(const char *p, size_t len)
{
	return (struct str_view){ p, len };
}

bool
str_eq(struct str_view v, const char *s)
{
	size_t n = strlen(s);

	return v.len == n && memcmp(v.p, s, n) == 0;
}

bool
str_case_eq(struct str_view v, const char *s)
{
	size_t n = strlen(s);

	return v.len == n && strncasecmp(v.p, s, n) == 0;
}

bool
str_case_prefix(struct str_view v, const char *prefix)
{
	size_t n = strlen(prefix);

	return v.len >= n && strncasecmp(v.p, prefix, n) == 0;
}

static bool
is_space(char c)
{
	return c == ' ' || c == '\t';
}

struct str_view
str_trim(struct str_view v)
{
	while (v.len > 0 && is_space(v.p[0])) {
		v.p++;
		v.len--;
	}
	while (v.len > 0 && is_space(v.p[v.len - 1]))
		v.len--;
	return v;
}

size_t
str_skip_space(struct str_view *cur)
{
	size_t n = 0;

	while (n < cur->len && is_space(cur->p[n]))
		n++;
	cur->p += n;
	cur->len -= n;
	return n;
}

int
str_take_word(struct str_view *cur, struct str_view *word, size_t max)
{
	size_t n = 0;

	while (n < cur->len && !is_space(cur->p[n]))
		n++;
	if (n == 0 || n > max)
		return -1;
	*word = (struct str_view){ cur->p, n };
	cur->p += n;
	cur->len -= n;
	return 0;
}

struct str_view
str_take_until(struct str_view *cur, char sep)
{
	const char *hit = memchr(cur->p, sep, cur->len);
	size_t n = hit == NULL ? cur->len : (size_t)(hit - cur->p);
	struct str_view out = { cur->p, n };

	cur->p += n;
	cur->len -= n;
	return out;
}

bool
str_take_char(struct str_view *cur, char c)
{
	if (cur->len == 0 || cur->p[0] != c)
		return false;
	cur->p++;
	cur->len--;
	return true;
}

int
str_parse_u64(struct str_view *cur, uint64_t *out, uint64_t max)
{
	uint64_t v = 0;
	size_t n = 0;

	while (n < cur->len && cur->p[n] >= '0' && cur->p[n] <= '9') {
		unsigned d = (unsigned)(cur->p[n] - '0');

		if (n >= 19 || v > (max - d) / 10)
			return -1;
		v = v * 10 + d;
		n++;
	}
	if (n == 0)
		return -1;
	*out = v;
	cur->p += n;
	cur->len -= n;
	return 0;
}

int
str_to_u64(struct str_view v, uint64_t *out, uint64_t max)
{
	struct str_view cur = v;

	if (str_parse_u64(&cur, out, max) == -1 || cur.len != 0)
		return -1;
	return 0;
}

int
str_copy(char *dst, size_t dstsz, struct str_view v)
{
	if (dstsz == 0)
		return -1;
	if (v.len >= dstsz || memchr(v.p, '\0', v.len) != NULL) {
		dst[0] = '\0';
		return -1;
	}
	memcpy(dst, v.p, v.len);
	dst[v.len] = '\0';
	return 0;
}

void
str_lower(char *s)
{
	for (; *s != '\0'; s++)
		if (*s >= 'A' && *s <= 'Z')
			*s = (char)(*s - 'A' + 'a');
}
