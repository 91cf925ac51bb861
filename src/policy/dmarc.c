/* DMARC: stubs, implementation follows. */
#include "policy/dmarc.h"

#include <string.h>

enum dmarc_from_status
dmarc_from_domain(const char *value, size_t len, char *out, size_t outsz)
{
	(void)value;
	(void)len;
	if (outsz > 0)
		out[0] = '\0';
	return DMARC_FROM_INVALID;
}

const char *
dmarc_from_status_name(enum dmarc_from_status s)
{
	(void)s;
	return "invalid";
}

enum dmarc_parse_status
dmarc_record_parse(const char *text, size_t len, struct dmarc_record *out,
    const char **err)
{
	(void)text;
	(void)len;
	(void)out;
	if (err != NULL)
		*err = "not implemented";
	return DMARC_PARSE_INVALID;
}

void
dmarc_evaluate(const struct psl *psl, const struct dmarc_policy_found *f,
    const struct dmarc_input *in, struct dmarc_verdict *out)
{
	(void)psl;
	(void)f;
	(void)in;
	memset(out, 0, sizeof(*out));
}

bool
dmarc_aligned(const struct psl *psl, enum dmarc_align mode,
    const char *from_domain, const char *other)
{
	(void)psl;
	(void)mode;
	(void)from_domain;
	(void)other;
	return false;
}

int
dmarc_authres_format(const struct dmarc_verdict *v, const char *from_domain,
    char *out, size_t outsz)
{
	(void)v;
	(void)from_domain;
	if (outsz > 0)
		out[0] = '\0';
	return -1;
}

const char *
dmarc_result_name(enum dmarc_result r)
{
	(void)r;
	return "none";
}

const char *
dmarc_policy_name(enum dmarc_policy p)
{
	(void)p;
	return "none";
}
