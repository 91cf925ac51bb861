/*
 * The DKIM signing keys of a worker: every key `sealpost dkim keygen`
 * made for each local domain (<data_dir>/dkim/<domain>/<selector>.pem),
 * loaded once when the worker starts, before it drops root, since the
 * key files are readable by their owner only (mode 0600). A reload
 * starts new workers, which load the keys again. Submission signs with
 * every key of the From domain (dual rsa + ed25519 signing).
 */
#ifndef SEALPOST_SMTP_SIGNKEYS_H
#define SEALPOST_SMTP_SIGNKEYS_H

#include <stddef.h>

struct config;
struct dkim_key;
struct smtp_signkeys;

/*
 * BLOCKING (file reads). Loads the keys of every domain in cfg->domains;
 * unreadable key files are skipped with a warning (dkim.h), a domain
 * without keys is simply not signed for. Never NULL; logs one line with
 * the number of keys found.
 */
struct smtp_signkeys	*smtp_signkeys_load(const struct config *cfg);
/* Frees the keys and NULLs *kp; NULL is fine. */
void			 smtp_signkeys_free(struct smtp_signkeys **kp);
/*
 * The keys of domain (compared case-insensitively), *n of them, or NULL
 * with *n = 0 when it has none. Valid until smtp_signkeys_free().
 */
const struct dkim_key	*smtp_signkeys_find(const struct smtp_signkeys *,
			    const char *domain, size_t *n);
/* Total number of keys loaded. */
size_t			 smtp_signkeys_count(const struct smtp_signkeys *);

#endif
