/* Public Suffix List: stubs, implementation follows. */
#include "policy/psl.h"

#include <stdlib.h>

struct psl	*
psl_parse(const char *text, size_t len, size_t *skipped, const char **err)
{
	(void)text;
	(void)len;
	if (skipped != NULL)
		*skipped = 0;
	*err = "not implemented";
	return NULL;
}

struct psl *
psl_load(const char *path, const char **err)
{
	(void)path;
	*err = "not implemented";
	return NULL;
}

struct psl *
psl_load_config(const struct config *cfg)
{
	(void)cfg;
	return NULL;
}

void
psl_free(struct psl **pp)
{
	*pp = NULL;
}

size_t
psl_rule_count(const struct psl *psl)
{
	(void)psl;
	return 0;
}

int
psl_organizational_domain(const struct psl *psl, const char *domain,
    char *out, size_t outsz)
{
	(void)psl;
	(void)domain;
	if (outsz > 0)
		out[0] = '\0';
	return -1;
}

bool
psl_is_public_suffix(const struct psl *psl, const char *domain)
{
	(void)psl;
	(void)domain;
	return false;
}
