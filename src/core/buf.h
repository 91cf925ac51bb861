/*
 * Length-carrying byte buffers with a hard ceiling. Nothing that holds
 * network input may grow without bound: `max` is fixed at creation and an
 * append past it fails instead of growing.
 */
#ifndef SEALPOST_CORE_BUF_H
#define SEALPOST_CORE_BUF_H

#include <stdarg.h>
#include <stddef.h>

struct buf {
	char	*data;	/* always NUL-terminated when non-NULL */
	size_t	 len;
	size_t	 cap;
	size_t	 max;	/* appends that would pass this fail */
};

/* Starts empty; no memory is allocated until the first append. */
void	buf_init(struct buf *, size_t max);
void	buf_cleanup(struct buf *);
/* Keeps the allocation, forgets the content. */
void	buf_reset(struct buf *);
/* Each returns 0, or -1 (buffer unchanged) when max would be exceeded. */
int	buf_append(struct buf *, const void *data, size_t len);
int	buf_append_str(struct buf *, const char *s);
int	buf_append_char(struct buf *, char c);
/* Bounded printf-style append; -1 (unchanged) when it would exceed max. */
int	buf_printf(struct buf *, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
int	buf_vprintf(struct buf *, const char *fmt, va_list ap)
	    __attribute__((format(printf, 2, 0)));
/* Removes the first n bytes. */
void	buf_consume(struct buf *, size_t n);
/* Overwrites then frees the memory: for buffers that held secrets. */
void	buf_wipe(struct buf *);

#endif
