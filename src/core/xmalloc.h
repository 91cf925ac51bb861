/*
 * Allocation that cannot fail: out of memory ends the process with a log
 * line, because a mail server that limps on without memory loses mail.
 */
#ifndef SEALPOST_CORE_XMALLOC_H
#define SEALPOST_CORE_XMALLOC_H

#include <stddef.h>

void	*xmalloc(size_t size);
void	*xcalloc(size_t n, size_t size);
void	*xrealloc(void *ptr, size_t size);
/* Copies a NUL-terminated string; the result is the caller's to free. */
char	*xstrdup(const char *s);
/* Copies len bytes and NUL-terminates the copy. */
char	*xstrndup(const char *s, size_t len);

#endif
