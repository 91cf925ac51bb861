/*
 * The Public Suffix List (https://publicsuffix.org/list/) as a hash set,
 * and the Organizational Domain of RFC 7489 3.2 computed from it. The
 * list is read from Debian's `publicsuffix` package file (config key
 * public_suffix_list). Both the ICANN and the PRIVATE section are used:
 * RFC 7489 3.2 says "the public suffix list", the whole of it, and the
 * private section is what keeps e.g. two blogspot.com or github.io sites
 * from being each other's organization. Rules are normal, wildcard
 * ("*.ck") and exception ("!www.ck"), matched label-wise as the list's
 * own algorithm says (longest match, exceptions win, default rule "*").
 * Rules written in Unicode are stored in their A-label (punycode) form as
 * well, since the domains we see come from DNS and headers in that form.
 * Loading is the only I/O; lookups are pure and never allocate.
 */
#ifndef SEALPOST_POLICY_PSL_H
#define SEALPOST_POLICY_PSL_H

#include <stdbool.h>
#include <stddef.h>

struct config;
struct psl;

#define PSL_DEFAULT_PATH	"/usr/share/publicsuffix/public_suffix_list.dat"
#define PSL_LINE_MAX		255	/* longer lines are skipped */
#define PSL_MAX_RULES		65536	/* a bigger file is refused */
#define PSL_FILE_MAX		(8 * 1024 * 1024)

/*
 * Parses the text of a list (len bytes, no NUL needed). Lines over
 * PSL_LINE_MAX, rules with a label over 63 octets or over 253 in all,
 * and rules with a misplaced "*" or "!" are skipped (counted in
 * *skipped when skipped is not NULL). Returns the set, or NULL with *err
 * (static text) when the text holds no rule at all or more than
 * PSL_MAX_RULES. Free with psl_free().
 */
struct psl	*psl_parse(const char *text, size_t len, size_t *skipped,
		    const char **err);
/*
 * Reads and parses the file at path (at most PSL_FILE_MAX bytes). Returns
 * NULL with *err set to static text (errno's message for a failed open or
 * read) when it cannot be used.
 */
struct psl	*psl_load(const char *path, const char **err);
/*
 * The list a server uses: cfg->public_suffix_list, or NULL when it is
 * unset (empty in the config: DMARC deliberately off, no log line) or
 * cannot be loaded (one warning line "dmarc event=disabled ..." is
 * logged; not fatal). A NULL list means: do no DMARC processing.
 */
struct psl	*psl_load_config(const struct config *cfg);
/* Frees the set and NULLs *pp; a NULL *pp is fine. */
void		 psl_free(struct psl **pp);
/* Number of rules stored (tests, diagnostics). */
size_t		 psl_rule_count(const struct psl *);

/*
 * Writes domain with every label that holds non-ASCII (UTF-8) octets
 * replaced by its A-label ("xn--" + RFC 3492 punycode; no Unicode case
 * mapping or normalization is done: U-labels are expected in lower case
 * NFC, as IDNA2008 requires of them) into out (outsz bytes). ASCII
 * labels are copied unchanged. Returns the length, or -1 for bad UTF-8,
 * a label over 63 octets or a name over 253 once encoded, or out too
 * small (out then holds "").
 */
int	psl_domain_to_ascii(const char *domain, char *out, size_t outsz);

/*
 * The Organizational Domain of domain (RFC 7489 3.2): the public suffix
 * plus one label. domain is compared ASCII case-insensitively, one
 * trailing dot ignored; out (outsz bytes) receives the lower-cased result
 * without a trailing dot. Returns 0; or -1 when domain is itself a public
 * suffix (it has no organizational domain), is not a domain name (empty
 * label, label over 63 octets, over 253 octets) or out is too small (out
 * then holds "").
 */
int	psl_organizational_domain(const struct psl *, const char *domain,
	    char *out, size_t outsz);
/*
 * True when domain (as above) is exactly a public suffix. A NULL psl
 * knows no suffix: psl_organizational_domain() answers -1, this false.
 */
bool	psl_is_public_suffix(const struct psl *, const char *domain);

#endif
