/*
 * Structured logging: one line per event on stderr (the service manager
 * adds timestamps), `component key=value ...`. Untrusted text goes through
 * log_escape() so a client cannot forge log lines.
 */
#ifndef SEALPOST_CORE_LOG_H
#define SEALPOST_CORE_LOG_H

#include <stddef.h>

enum log_level { LOG_LVL_ERROR, LOG_LVL_WARN, LOG_LVL_INFO, LOG_LVL_DEBUG };

void	log_set_level(enum log_level);
enum log_level	log_get_level(void);
/* Parses "error", "warn", "info", "debug"; -1 when unknown. */
int	log_level_parse(const char *name, enum log_level *out);
/* Prefixes every line, e.g. "worker[3] " (copied). */
void	log_set_prefix(const char *prefix);

void	log_msg(enum log_level, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
#define log_error(...)	log_msg(LOG_LVL_ERROR, __VA_ARGS__)
#define log_warn(...)	log_msg(LOG_LVL_WARN, __VA_ARGS__)
#define log_info(...)	log_msg(LOG_LVL_INFO, __VA_ARGS__)
#define log_debug(...)	log_msg(LOG_LVL_DEBUG, __VA_ARGS__)

/*
 * Escapes len bytes of untrusted text into out (size outsz, NUL-terminated):
 * printable ASCII except '"' and '\\' as is, everything else as \xNN, cut
 * with "..." when it does not fit. Returns out.
 */
char	*log_escape(char *out, size_t outsz, const char *text, size_t len);

/* Logs a startup/config problem and exits 1. */
void	fatal(const char *fmt, ...)
	    __attribute__((format(printf, 1, 2), noreturn));

#endif
