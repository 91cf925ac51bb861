/*
 * DMARC (RFC 7489): the pure parts — the RFC 5322 From field's author
 * domain, the policy record parser, identifier alignment and the policy
 * evaluation (with pct sampling from a caller-supplied random value), the
 * Authentication-Results clause — plus one asynchronous policy discovery
 * on the resolver (_dmarc.<From domain>, then _dmarc.<Organizational
 * Domain>, RFC 7489 6.6.3). What a verdict does to a message (550, a
 * marking header, the exactly-one-From rule) is the SMTP layer's policy;
 * this module only computes. rua/ruf are parsed and kept, but sealpost
 * sends no aggregate or failure reports.
 */
#ifndef SEALPOST_POLICY_DMARC_H
#define SEALPOST_POLICY_DMARC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "policy/spf.h"

struct psl;
struct resolver;

#define DMARC_DOMAIN_MAX	256	/* a domain name + NUL (253 octets) */
#define DMARC_URIS_MAX		512	/* rua / ruf tag value kept, + NUL */
#define DMARC_FROM_MAX		(64 * 1024)	/* From field value parsed */

/* --- the author domain (RFC 7489 3.1, 6.6.1) ---------------------------- */

enum dmarc_from_status {
	DMARC_FROM_OK,		/* exactly one mailbox: its domain is out */
	DMARC_FROM_NONE,	/* no mailbox at all (empty, empty group) */
	DMARC_FROM_MULTIPLE,	/* more than one mailbox (6.6.1) */
	DMARC_FROM_INVALID,	/* unparseable, no usable domain, too long */
};

/*
 * Finds the author domain in value (len bytes): the raw field body of one
 * From header field, after "From:", folding CRLFs included or already
 * unfolded. The RFC 5322 3.4 address-list grammar is accepted with
 * display names (atoms, quoted strings with quoted-pairs, obsolete
 * periods), comments (nested), angle addresses with obsolete routes,
 * groups (addresses inside count, an empty group adds none), obsolete
 * empty list elements (",,"), and UTF-8 in atoms (RFC 6532). A domain
 * literal ("[192.0.2.1]") is DMARC_FROM_INVALID: it names no DNS domain.
 * On DMARC_FROM_OK out (outsz bytes, at least DMARC_DOMAIN_MAX is enough)
 * holds the domain in ASCII: lower-cased, trailing dot removed, UTF-8
 * labels as A-labels (psl_domain_to_ascii()); otherwise "". Only
 * letters, digits, "-", "_" and (in U-labels) UTF-8 are accepted in a
 * domain.
 * Bounded: values over DMARC_FROM_MAX bytes and comment nesting over 32
 * levels are DMARC_FROM_INVALID; no allocation.
 */
enum dmarc_from_status	dmarc_from_domain(const char *value, size_t len,
			    char *out, size_t outsz);
const char	*dmarc_from_status_name(enum dmarc_from_status);

/* --- the policy record (RFC 7489 6.3, 6.4) ------------------------------ */

enum dmarc_policy {
	DMARC_POLICY_NONE,
	DMARC_POLICY_QUARANTINE,
	DMARC_POLICY_REJECT,
};

enum dmarc_align {
	DMARC_ALIGN_RELAXED,	/* "r": same Organizational Domain */
	DMARC_ALIGN_STRICT,	/* "s": the very same domain */
};

/* fo= flags (6.3) */
#define DMARC_FO_0	0x1	/* default */
#define DMARC_FO_1	0x2
#define DMARC_FO_D	0x4
#define DMARC_FO_S	0x8

/*
 * A parsed record; a plain value (no pointers), so it may be copied and
 * kept after the text is gone.
 */
struct dmarc_record {
	bool			has_p;	/* p= was present and valid */
	enum dmarc_policy	p;	/* NONE when only rua saved it (6.6.3) */
	bool			has_sp;
	enum dmarc_policy	sp;	/* == p when absent */
	unsigned		pct;	/* 0-100, default 100 */
	enum dmarc_align	adkim;	/* default relaxed */
	enum dmarc_align	aspf;	/* default relaxed */
	unsigned		fo;	/* DMARC_FO_*, default DMARC_FO_0 */
	bool			rf_afrf;	/* rf= (default afrf) names afrf */
	uint32_t		ri;	/* seconds, default 86400 */
	/* rua= / ruf= as published (trimmed; "" = absent) and how many
	 * syntactically valid URIs each holds. No report is ever sent. */
	char			rua[DMARC_URIS_MAX];
	unsigned		n_rua;
	char			ruf[DMARC_URIS_MAX];
	unsigned		n_ruf;
};

enum dmarc_parse_status {
	DMARC_PARSE_OK,		/* a usable policy record */
	DMARC_PARSE_NOT_DMARC,	/* not "v=DMARC1" first: discard (6.6.3) */
	DMARC_PARSE_INVALID,	/* a DMARC record with a syntax error */
};

/*
 * Parses one TXT record's text (its strings already concatenated; len
 * bytes, no NUL needed). "v=DMARC1" must come first, exactly so (6.3);
 * tag names and keyword values are case-insensitive, whitespace around
 * "=" and ";" is allowed, a final ";" too, unknown tags are ignored
 * (6.3). A known tag with a bad value, a repeated tag, or a malformed
 * tag-spec make the record DMARC_PARSE_INVALID — except the rule of
 * 6.6.3 step 6: a missing or invalid p= (or invalid sp=) with at least
 * one valid rua URI gives DMARC_PARSE_OK with p=none (has_p false).
 * Invalid URIs inside rua/ruf are not counted but do not spoil the
 * record. On anything but OK, *err (if err is not NULL) points to static
 * text saying why; *out is filled on OK only.
 */
enum dmarc_parse_status	dmarc_record_parse(const char *text, size_t len,
			    struct dmarc_record *out, const char **err);

/* --- policy discovery (RFC 7489 6.6.3), asynchronous -------------------- */

enum dmarc_lookup_status {
	DMARC_LOOKUP_FOUND,	/* exactly one usable record: rec */
	DMARC_LOOKUP_NONE,	/* no record, or several at one name (6.6.3
				   step 5): no DMARC processing */
	DMARC_LOOKUP_TEMPERROR,	/* SERVFAIL / timeout on a needed query */
	DMARC_LOOKUP_PERMERROR,	/* the one record is DMARC_PARSE_INVALID */
};

/* What discovery found; a plain value, copyable. */
struct dmarc_policy_found {
	enum dmarc_lookup_status status;
	struct dmarc_record	 rec;		/* FOUND only */
	/* The answer (FOUND, PERMERROR, TEMPERROR, several records) came
	 * from the Organizational Domain's query, not the From domain's. */
	bool			 is_org;
	/* The domain whose _dmarc query gave the answer (for NONE after
	 * both queries: the From domain); lower-case, no trailing dot. */
	char			 domain[DMARC_DOMAIN_MAX];
	/* The From domain's Organizational Domain; "" when it has none
	 * (the From domain is itself a public suffix). */
	char			 org_domain[DMARC_DOMAIN_MAX];
	const char		*reason;	/* static text, never NULL */
};

struct dmarc_lookup;

/*
 * Called once, on the loop, with the outcome; found is valid only during
 * the call (copy what you keep). The lookup frees itself after the
 * callback returns: the caller must forget its handle in the callback.
 */
typedef void	(*dmarc_lookup_cb)(void *arg, const struct dmarc_policy_found *);

/*
 * Starts policy discovery for from_domain (as returned by
 * dmarc_from_domain): a TXT query at _dmarc.<from_domain>; if that holds
 * no DMARC record (NXDOMAIN, NODATA, only non-DMARC TXT) and the
 * Organizational Domain differs, a TXT query at _dmarc.<org domain>.
 * psl must outlive the lookup (NULL: no organizational domain is known,
 * so there is no fallback). The callback always
 * runs later from the loop, never from inside this call (also for a
 * from_domain that is not a usable name: NONE). Returns the handle for
 * dmarc_lookup_cancel().
 */
struct dmarc_lookup	*dmarc_lookup_start(struct resolver *, const struct psl *,
			    const char *from_domain, dmarc_lookup_cb, void *arg);
/*
 * Stops a lookup (the session went away); its callback will not run.
 * NULLs *lp; a NULL *lp is fine.
 */
void	dmarc_lookup_cancel(struct dmarc_lookup **lp);

/* --- alignment and evaluation (RFC 7489 3.1, 6.6.2, 6.6.4) -------------- */

enum dmarc_result {
	DMARC_RESULT_NONE,	/* no policy published */
	DMARC_RESULT_PASS,
	DMARC_RESULT_FAIL,
	DMARC_RESULT_TEMPERROR,
	DMARC_RESULT_PERMERROR,
};

/* The authentication results DMARC builds on. */
struct dmarc_input {
	const char	*from_domain;	/* dmarc_from_domain()'s output */
	enum spf_result	 spf;		/* SPF result for spf_domain */
	/* The domain SPF checked: the MAIL FROM domain, or the HELO name
	 * when MAIL FROM was <> (RFC 7489 4.1). NULL = no SPF identity. */
	const char	*spf_domain;
	/* d= of every DKIM signature that verified (result pass). */
	const char *const *dkim_domains;
	size_t		 n_dkim;
	/* Random value for pct sampling: the message is sampled when
	 * (roll % 100) < pct; pass e.g. arc4random_uniform(100). */
	uint32_t	 roll;
};

struct dmarc_verdict {
	enum dmarc_result	result;
	bool			spf_aligned;	/* SPF pass and aligned */
	bool			dkim_aligned;	/* a DKIM pass and aligned */
	/* The policy requested for this message: sp= when the record came
	 * from the Organizational Domain and the From domain is not it,
	 * else p= (6.3). Meaningful for PASS and FAIL (else NONE). */
	enum dmarc_policy	policy;
	/* What to do: `policy` for a sampled FAIL; for an unsampled FAIL
	 * one step milder (reject -> quarantine -> none, 6.6.4); NONE for
	 * every other result. This is the A-R "dis=". */
	enum dmarc_policy	disposition;
	bool			sampled;	/* pct said: apply the policy */
	char			reason[256];	/* human text for logs / 550 */
};

/*
 * Evaluates a message against what discovery found (RFC 7489 6.6.2):
 * DMARC passes when SPF passed for an aligned spf_domain or a DKIM pass
 * has an aligned d= (relaxed: same Organizational Domain via psl; strict:
 * equal domains, case-insensitively, trailing dot ignored). NONE,
 * TEMPERROR and PERMERROR of discovery give the same result with
 * disposition NONE. A NULL psl knows no organizational domain (relaxed
 * alignment then needs equal domains). Pure; fills *out completely.
 */
void	dmarc_evaluate(const struct psl *, const struct dmarc_policy_found *,
	    const struct dmarc_input *, struct dmarc_verdict *out);
/*
 * True when the two domains are aligned in mode (see above); either
 * being NULL or empty is false.
 */
bool	dmarc_aligned(const struct psl *, enum dmarc_align mode,
	    const char *from_domain, const char *other);

/* --- Authentication-Results (RFC 8601 2.7.1, RFC 7489 11.2) ------------- */

/*
 * Writes the dmarc clause of an Authentication-Results field into out:
 * "dmarc=pass (p=reject dis=none) header.from=example.org" for pass and
 * fail, "dmarc=none header.from=example.org" (temperror, permerror alike)
 * otherwise. from_domain NULL or "" omits the header.from property.
 * Returns the length written (NUL excluded), or -1 when out is too small
 * (out then holds ""); 160 + DMARC_DOMAIN_MAX bytes always suffice.
 */
int	dmarc_authres_format(const struct dmarc_verdict *,
	    const char *from_domain, char *out, size_t outsz);

const char	*dmarc_result_name(enum dmarc_result);	/* "pass", ... */
const char	*dmarc_policy_name(enum dmarc_policy);	/* "none", ... */

#endif
