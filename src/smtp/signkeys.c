/* The DKIM signing keys of a worker; see signkeys.h. */
#include "smtp/signkeys.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/config.h"
#include "core/log.h"
#include "core/xmalloc.h"
#include "policy/dkim.h"

struct signkeys_domain {
	size_t		n;
	struct dkim_key	key[DKIM_SIGN_MAX_KEYS];
};

struct smtp_signkeys {
	size_t			 n_domains;
	struct signkeys_domain	*d;	/* only domains that have keys */
	size_t			 n_keys;
};

struct smtp_signkeys *
smtp_signkeys_load(const struct config *cfg)
{
	struct smtp_signkeys *k = xcalloc(1, sizeof(*k));

	for (size_t i = 0; i < cfg->n_domains; i++) {
		struct signkeys_domain one;
		const char *err = NULL;

		memset(&one, 0, sizeof(one));
		if (dkim_keys_load(cfg->data_dir, cfg->domains[i], one.key,
		    DKIM_SIGN_MAX_KEYS, &one.n, &err) == -1) {
			log_warn("dkim event=keys-unreadable domain=%s "
			    "error=\"%s\"", cfg->domains[i], err);
			continue;
		}
		if (one.n == 0)
			continue;
		k->d = xrealloc(k->d, (k->n_domains + 1) * sizeof(*k->d));
		k->d[k->n_domains++] = one;
		k->n_keys += one.n;
	}
	log_info("dkim event=keys-loaded domains=%zu keys=%zu", k->n_domains,
	    k->n_keys);
	return k;
}

void
smtp_signkeys_free(struct smtp_signkeys **kp)
{
	struct smtp_signkeys *k = *kp;

	if (k == NULL)
		return;
	for (size_t i = 0; i < k->n_domains; i++)
		dkim_keys_free(k->d[i].key, k->d[i].n);
	free(k->d);
	free(k);
	*kp = NULL;
}

const struct dkim_key *
smtp_signkeys_find(const struct smtp_signkeys *k, const char *domain,
    size_t *n)
{
	*n = 0;
	if (k == NULL)
		return NULL;
	for (size_t i = 0; i < k->n_domains; i++) {
		if (strcasecmp(k->d[i].key[0].domain, domain) == 0) {
			*n = k->d[i].n;
			return k->d[i].key;
		}
	}
	return NULL;
}

size_t
smtp_signkeys_count(const struct smtp_signkeys *k)
{
	return k != NULL ? k->n_keys : 0;
}
