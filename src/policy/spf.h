/*
 * SPF (RFC 7208): the record parser and macro expander (pure: bytes in,
 * result out, bounded) and check_host() (section 4) run asynchronously on
 * the resolver. What a verdict does to a message is the caller's policy
 * (smtp/cmd_mail.c); this module only computes it.
 */
#ifndef SEALPOST_POLICY_SPF_H
#define SEALPOST_POLICY_SPF_H

#include <stdbool.h>
#include <stddef.h>

#include "core/str.h"

struct resolver;

enum spf_result {
	SPF_NONE,
	SPF_NEUTRAL,
	SPF_PASS,
	SPF_FAIL,
	SPF_SOFTFAIL,
	SPF_TEMPERROR,
	SPF_PERMERROR,
};

enum spf_mech {
	SPF_M_ALL,
	SPF_M_INCLUDE,
	SPF_M_A,
	SPF_M_MX,
	SPF_M_PTR,
	SPF_M_IP4,
	SPF_M_IP6,
	SPF_M_EXISTS,
};

#define SPF_MAX_TERMS	64	/* directives per record; more is permerror */

struct spf_term {
	enum spf_mech	 mech;
	enum spf_result	 qual;		/* PASS, FAIL, SOFTFAIL or NEUTRAL */
	struct str_view	 domain;	/* domain-spec (macros unexpanded); len 0 = none */
	unsigned char	 addr[16];	/* ip4 (4 bytes) / ip6 network */
	unsigned	 cidr4, cidr6;	/* prefix lengths (defaults 32 / 128) */
	struct str_view	 text;		/* the whole term, for the reasoning */
};

/* A parsed record; the views point into the text given to the parser. */
struct spf_record {
	size_t		 n;
	struct spf_term	 term[SPF_MAX_TERMS];
	struct str_view	 redirect;	/* .p == NULL: absent */
	struct str_view	 exp;
};

/*
 * True when text is an SPF record: "v=spf1" (any case) followed by a
 * space or the end (RFC 7208 4.5).
 */
bool	spf_is_record(const char *text, size_t len);
/*
 * Parses an SPF record (RFC 7208 section 12 grammar; unknown modifiers
 * are skipped, a repeated redirect or exp is an error). Returns 0, or -1
 * with *err set to static text (the caller's result is then permerror).
 * out's views point into text, which must outlive out.
 */
int	spf_record_parse(const char *text, size_t len, struct spf_record *out,
	    const char **err);

/* What the macros of section 7 expand to. */
struct spf_macro_ctx {
	const char	*sender;	/* s: local@domain */
	const char	*local;		/* l */
	const char	*sender_domain;	/* o */
	const char	*domain;	/* d: the current domain */
	int		 family;	/* AF_INET or AF_INET6 */
	unsigned char	 ip[16];	/* i, c, v */
	const char	*helo;		/* h */
	const char	*receiver;	/* r */
	const char	*ptr_name;	/* p: validated name, NULL = "unknown" */
};

/*
 * Expands a macro-string (RFC 7208 7.1-7.4) into out (NUL-terminated).
 * is_exp allows the c, r and t letters (explanation strings only); a
 * domain (for_domain) longer than 253 octets loses labels on the left
 * (7.3). Returns 0, or -1 on a syntax error (permerror) or if out is too
 * small.
 */
int	spf_macro_expand(const struct spf_macro_ctx *, struct str_view spec,
	    bool is_exp, bool for_domain, char *out, size_t outsz);

const char	*spf_result_name(enum spf_result);

/* --- check_host() --- */

struct spf_check;

struct spf_verdict {
	enum spf_result	 result;
	const char	*explanation;	/* fail with exp=, else NULL */
	const char	*reason;	/* the reasoning, one clause per step */
	const char	*mechanism;	/* the deciding term or "default" */
};

/*
 * Called once, on the loop, with the verdict; the verdict's strings live
 * until the callback returns, and the check frees itself afterwards (the
 * callback must forget its handle).
 */
typedef void	(*spf_callback)(void *arg, const struct spf_verdict *);

/*
 * Starts check_host(ip, domain of sender, sender) (RFC 7208 4). ip is a
 * 4- or 16-byte address (an IPv4-mapped IPv6 address counts as IPv4).
 * sender is the MAIL FROM address or, for the null path, "postmaster@"
 * and the HELO name; helo and receiver feed the h and r macros. The
 * callback always runs later from the loop. Returns the handle for
 * spf_check_cancel().
 */
struct spf_check	*spf_check_start(struct resolver *, int family,
			    const unsigned char *ip, const char *sender,
			    const char *helo, const char *receiver,
			    spf_callback, void *arg);
/* Stops a check; its callback will not run. NULLs *cp; NULL is fine. */
void	spf_check_cancel(struct spf_check **cp);

#endif
