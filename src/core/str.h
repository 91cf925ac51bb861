/*
 * Read-only slices of input and cursor helpers to parse them. A cursor is a
 * str_view that the helpers advance past what they consumed; every helper
 * is bounded by the view's length, never by a NUL.
 */
#ifndef SEALPOST_CORE_STR_H
#define SEALPOST_CORE_STR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct str_view {
	const char	*p;
	size_t		 len;
};

#define STR_VIEW_LIT(s)	((struct str_view){ (s), sizeof(s) - 1 })

struct str_view	str_view_from(const char *s);
struct str_view	str_view_make(const char *p, size_t len);

bool	str_eq(struct str_view, const char *s);
bool	str_case_eq(struct str_view, const char *s);
/* True when v starts with prefix, ASCII case-insensitively. */
bool	str_case_prefix(struct str_view v, const char *prefix);

/* Drops leading / trailing spaces and tabs. */
struct str_view	str_trim(struct str_view);
/* Skips spaces and tabs at the cursor; returns how many were skipped. */
size_t	str_skip_space(struct str_view *cur);
/*
 * Takes the run of non-space bytes at the cursor into *word. Returns 0, or
 * -1 when the run is empty or longer than max (cursor unchanged).
 */
int	str_take_word(struct str_view *cur, struct str_view *word, size_t max);
/* Takes bytes up to (not including) sep; the cursor then points at sep or is empty. */
struct str_view	str_take_until(struct str_view *cur, char sep);
/* If the cursor starts with c, consumes it and returns true. */
bool	str_take_char(struct str_view *cur, char c);
/*
 * Parses a decimal number of at most 19 digits at the cursor. Returns 0, or
 * -1 for no digits or overflow of max (cursor unchanged).
 */
int	str_parse_u64(struct str_view *cur, uint64_t *out, uint64_t max);
/* Parses a whole view as a decimal number with no other bytes. */
int	str_to_u64(struct str_view v, uint64_t *out, uint64_t max);

/*
 * Copies v into dst (size dstsz) with a NUL; returns 0, or -1 when it does
 * not fit (dst then holds an empty string).
 */
int	str_copy(char *dst, size_t dstsz, struct str_view v);
/* ASCII lower-casing in place of a NUL-terminated string. */
void	str_lower(char *s);

#endif
