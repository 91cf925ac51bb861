/* DMARC policy discovery: stubs, implementation follows. */
#include "policy/dmarc.h"

#include <stdlib.h>

struct dmarc_lookup *
dmarc_lookup_start(struct resolver *res, const struct psl *psl,
    const char *from_domain, dmarc_lookup_cb cb, void *arg)
{
	(void)res;
	(void)psl;
	(void)from_domain;
	(void)cb;
	(void)arg;
	return NULL;
}

void
dmarc_lookup_cancel(struct dmarc_lookup **lp)
{
	*lp = NULL;
}
