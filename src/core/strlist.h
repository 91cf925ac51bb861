/*
 * A growable list of owned NUL-terminated strings, for small result sets
 * (alias expansions, listings). Not for network input: the caller bounds
 * how many items it adds.
 */
#ifndef SEALPOST_CORE_STRLIST_H
#define SEALPOST_CORE_STRLIST_H

#include <stdbool.h>
#include <stddef.h>

struct strlist {
	char	**v;	/* v[0..n-1], each owned by the list */
	size_t	  n;
	size_t	  cap;
};

void	strlist_init(struct strlist *);
/* Frees every item; the list is empty and reusable afterwards. */
void	strlist_clear(struct strlist *);
/* Appends a copy of s. */
void	strlist_add(struct strlist *, const char *s);
/* Appends a copy of s unless an equal string is there; true if added. */
bool	strlist_add_unique(struct strlist *, const char *s);
/* True when the list holds s (exact byte compare). */
bool	strlist_contains(const struct strlist *, const char *s);
/* Sorts the items in strcmp order. */
void	strlist_sort(struct strlist *);

#endif
