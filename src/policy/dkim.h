/*
 * DKIM (RFC 6376, algorithms per RFC 8301 and RFC 8463): the
 * DKIM-Signature and key record parsers, header and body
 * canonicalization, a per-message verifier and a signer, and key files.
 * Pure code: bytes in, results out; the caller (smtp) streams the message
 * in and asks the DNS for the keys (resolver), this module never does I/O
 * except the key file functions at the end, which are for the CLI and for
 * start-up.
 *
 * Message input, for the verifier and the signer alike, is the message
 * as stored: CRLF line endings, already dot-unstuffed. It can be given
 * either as one stream of octets in chunks of any size (*_feed(), which
 * splits the header section itself) or as complete header fields followed
 * by body chunks (*_header(), *_headers_end(), *_body()); one message
 * uses one style only.
 *
 * What a verdict does to a message (Authentication-Results, DMARC) is the
 * caller's policy; this module only computes it.
 */
#ifndef SEALPOST_POLICY_DKIM_H
#define SEALPOST_POLICY_DKIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <openssl/evp.h>

#include "core/str.h"

struct buf;
struct dns_result;

enum dkim_alg {
	DKIM_ALG_RSA_SHA256,
	DKIM_ALG_ED25519_SHA256,	/* RFC 8463 */
	DKIM_ALG_RSA_SHA1,		/* verified, but weak (RFC 8301) */
};

enum dkim_canon {
	DKIM_CANON_SIMPLE,
	DKIM_CANON_RELAXED,
};

enum dkim_keytype {
	DKIM_KEY_RSA,
	DKIM_KEY_ED25519,
};

/* Bounds: hostile input never costs more than this. */
#define DKIM_MAX_SIGS		5	/* signatures verified per message */
#define DKIM_MAX_H		64	/* h= entries; more is permerror */
#define DKIM_MAX_TAGS		32	/* tags per tag-list; more is permerror */
#define DKIM_FIELD_MAX		(16 * 1024)	/* one header field */
#define DKIM_HEADERS_MAX	(256 * 1024)	/* the header section kept */
#define DKIM_MAX_FIELDS		1000	/* header fields kept */
#define DKIM_DOMAIN_MAX		253
#define DKIM_SELECTOR_MAX	63
#define DKIM_QNAME_MAX		(DKIM_SELECTOR_MAX + 12 + DKIM_DOMAIN_MAX)
#define DKIM_RSA_MIN_BITS	1024	/* RFC 8301 3.2: smaller is permerror */
#define DKIM_SIGN_MAX_KEYS	4	/* keys one signer signs with */

const char	*dkim_alg_name(enum dkim_alg);		/* "rsa-sha256" ... */
const char	*dkim_canon_name(enum dkim_canon);	/* "simple" ... */
const char	*dkim_keytype_name(enum dkim_keytype);	/* "rsa", "ed25519" */

/* --- the DKIM-Signature tag-list (RFC 6376 3.2, 3.5) --- */

/*
 * A parsed DKIM-Signature value. Views point into the text given to
 * dkim_sig_parse(), which must outlive this struct; a view with p == NULL
 * is an absent optional tag. Views are exactly the tag values with the
 * surrounding FWS removed; b, bh and the h entries may still hold FWS
 * inside (b and bh), which base64 decoding skips.
 */
struct dkim_sig {
	enum dkim_alg	 alg;
	enum dkim_canon	 hcanon;	/* c= header part, default simple */
	enum dkim_canon	 bcanon;	/* c= body part, default simple */
	struct str_view	 b;		/* signature, base64 with FWS */
	struct str_view	 bh;		/* body hash, base64 with FWS */
	struct str_view	 d;		/* signing domain */
	struct str_view	 s;		/* selector */
	struct str_view	 i;		/* AUID; p == NULL: absent (= "@d") */
	struct str_view	 q;		/* only "dns/txt" is accepted */
	size_t		 n_h;
	struct str_view	 h[DKIM_MAX_H];	/* signed field names, in order */
	bool		 has_l;
	uint64_t	 l;		/* body length count */
	bool		 has_t;
	uint64_t	 t;		/* signature timestamp */
	bool		 has_x;
	uint64_t	 x;		/* expiry */
	/* Offsets of the b= value (after "b=" up to ';' or the end) in the
	 * text, for hashing the field with b= emptied (3.7). */
	size_t		 b_start, b_end;
};

/*
 * Parses the value of a DKIM-Signature field (what follows the colon,
 * FWS and folding included). Strict: v=1 required, and each of
 * v, a, b, bh, d, h, s required, no tag twice (3.2), h= must list From
 * (5.4), i= if present must be the domain or a subdomain of d (3.5), an
 * unknown a= or c= value, a non-numeric l/t/x, x < t, or a q= without
 * dns/txt is an error; unknown tags are ignored. Returns 0, or -1 with
 * *err set to static text saying why (the verdict is then permerror).
 * Does not check expiry (that needs the time: the verifier does).
 */
int	dkim_sig_parse(const char *value, size_t len, struct dkim_sig *out,
	    const char **err);

/* --- the key record (RFC 6376 3.6.1) --- */

struct dkim_key_record {
	enum dkim_keytype k;		/* k=, default rsa */
	struct str_view	 p;		/* base64 public key with FWS */
	bool		 is_revoked;	/* p= empty (3.6.1) */
	bool		 is_testing;	/* t=y */
	bool		 is_strict;	/* t=s: i= domain must equal d= */
	bool		 allows_sha1;	/* h= absent or lists sha1 */
	bool		 allows_sha256;	/* h= absent or lists sha256 */
	bool		 allows_email;	/* s= absent, "*" or lists "email" */
};

/*
 * Parses a key record (one TXT record's strings joined). v=, if present,
 * must be first and "DKIM1"; p= is required; an unknown k= is an error;
 * no tag twice; unknown tags, t= flags and h=/s= values are ignored
 * (3.6.1). Views point into text, which must outlive out. Returns 0, or
 * -1 with *err set to static text.
 */
int	dkim_key_record_parse(const char *text, size_t len,
	    struct dkim_key_record *out, const char **err);

/* --- canonicalization (RFC 6376 3.4) --- */

/*
 * Appends the canonical form of one header field to out: field is the
 * whole field as in the message, name through the end of its last
 * (folded) line, with or without the final CRLF; the result always ends
 * in CRLF. simple: the field unchanged (3.4.1); relaxed: name lowered,
 * unfolded, WSP runs to one SP, WSP around the colon and at the end
 * removed (3.4.2). Returns 0, or -1 when out's max would be passed or the
 * field has no colon (out unchanged).
 */
int	dkim_header_canon(enum dkim_canon, const char *field, size_t len,
	    struct buf *out);

/* Receives canonical body octets (for tests and debugging). */
typedef void	dkim_body_out_fn(void *arg, const char *p, size_t len);

/*
 * A streaming body canonicalizer and hasher (3.4.3, 3.4.4, 3.4.5): fed
 * the body (the octets after the empty line that ends the header section)
 * in chunks of any size; trailing empty lines are held back until more
 * content shows they are not trailing. The result does not depend on how
 * the body is cut into chunks. Embedded; init/cleanup.
 */
struct dkim_body {
	enum dkim_canon	 canon;
	EVP_MD_CTX	*md;
	bool		 has_limit;
	uint64_t	 limit;		/* l=: octets hashed at most */
	uint64_t	 length;	/* canonical length so far (unlimited) */
	uint64_t	 hashed;	/* octets given to the hash */
	uint64_t	 crlf_pending;	/* empty lines held back */
	bool		 cr_held;	/* a CR waiting for its LF */
	bool		 wsp_pending;	/* relaxed: WSP run held back */
	bool		 any;		/* any content emitted */
	dkim_body_out_fn *out;
	void		*out_arg;
	size_t		 olen;
	char		 obuf[2048];
};

/*
 * md is EVP_sha256() or EVP_sha1(); has_limit/limit are the l= tag
 * (signers pass false). Returns 0, or -1 if the digest cannot be set up.
 */
int	dkim_body_init(struct dkim_body *, enum dkim_canon, const EVP_MD *md,
	    bool has_limit, uint64_t limit);
/* Also sends the canonical octets (after the l= cut) to out; NULL = not. */
void	dkim_body_set_output(struct dkim_body *, dkim_body_out_fn *out,
	    void *arg);
void	dkim_body_feed(struct dkim_body *, const char *p, size_t len);
/*
 * Ends the body (adds the final CRLF as 3.4.3/3.4.4 say) and writes the
 * digest to digest (EVP_MAX_MD_SIZE bytes of room), its size to *dlen.
 * body->length is then the whole canonical body length. Returns 0 or -1.
 */
int	dkim_body_final(struct dkim_body *, unsigned char *digest,
	    unsigned *dlen);
void	dkim_body_cleanup(struct dkim_body *);

/* --- verification (RFC 6376 6) --- */

enum dkim_status {
	DKIM_PASS,
	DKIM_FAIL,		/* hash or signature mismatch, l= > body */
	DKIM_NEUTRAL,		/* (RFC 8601 names; this verifier never */
	DKIM_POLICY,		/*  gives these two, callers may) */
	DKIM_TEMPERROR,		/* key lookup failed for now */
	DKIM_PERMERROR,		/* syntax, missing/revoked/bad key, expired */
};

/* RFC 8601 result names: "pass", "fail", ... */
const char	*dkim_status_name(enum dkim_status);

/* The DNS status of a key lookup, as dkim_verify_key_status() takes it. */
enum dkim_dns {
	DKIM_DNS_NXDOMAIN,	/* no key: permerror */
	DKIM_DNS_NODATA,	/* no key: permerror */
	DKIM_DNS_TEMPFAIL,	/* SERVFAIL, timeout: temperror */
};

struct dkim_result {
	enum dkim_status status;
	const char	*reason;	/* static text, e.g. "body hash mismatch" */
	enum dkim_alg	 alg;		/* valid when the tags parsed */
	bool		 is_weak;	/* rsa-sha1 (RFC 8301): pass is weak */
	bool		 is_testing;	/* key record t=y */
	bool		 has_l;		/* l= used: body beyond it unsigned */
	uint64_t	 l;
	uint64_t	 body_length;	/* canonical body length seen */
	unsigned	 key_bits;	/* RSA modulus bits / 256 for ed25519 */
	/* NUL-terminated copies ("" when the tags did not parse that far).
	 * Untrusted text: escape before logging. */
	char		 domain[DKIM_DOMAIN_MAX + 1];	/* d= */
	char		 selector[DKIM_SELECTOR_MAX + 1];	/* s= */
	char		 auid[DKIM_DOMAIN_MAX + 66];	/* i= ("" absent) */
	char		 b_prefix[17];	/* first 16 chars of b= (header.b) */
	char		 qname[DKIM_QNAME_MAX + 1];	/* s._domainkey.d */
};

struct dkim_verify;

/*
 * A verifier for one message; now is the time for x= checks. Never NULL
 * (out of memory ends in xmalloc). Free with dkim_verify_free().
 */
struct dkim_verify	*dkim_verify_new(time_t now);
/* Frees v and NULLs *vp; NULL is fine. Results die with it. */
void	dkim_verify_free(struct dkim_verify **vp);

/*
 * Whole-message style: len octets of the message (headers and body). The
 * header section ends at the first empty line (a message without one is
 * all header and has an empty body). Returns 1 on the call in which the
 * header section ended (dkim_verify_headers_end() has then run: the key
 * names are known), else 0. Never fails: problems become verdicts.
 */
int	dkim_verify_feed(struct dkim_verify *, const char *p, size_t len);

/*
 * Field style: one complete header field as in the message (name, colon,
 * value, folded continuation lines; the final CRLF may be present or
 * not), in message order. Fields past DKIM_MAX_FIELDS or
 * DKIM_HEADERS_MAX are dropped and make every signature permerror.
 */
void	dkim_verify_header(struct dkim_verify *, const char *field,
	    size_t len);
/*
 * The header section is complete: parses the first DKIM_MAX_SIGS
 * DKIM-Signature fields (top down; later ones are counted, not
 * verified), and starts a body hash for each that parsed. Returns the
 * number of signatures (0..DKIM_MAX_SIGS), each with a result slot.
 */
size_t	dkim_verify_headers_end(struct dkim_verify *);
/* Body octets (after the empty line), chunks of any size. */
void	dkim_verify_body(struct dkim_verify *, const char *p, size_t len);

/* Signatures found (valid after the header section ended). */
size_t	dkim_verify_count(const struct dkim_verify *);
/* DKIM-Signature fields beyond DKIM_MAX_SIGS, not verified. */
size_t	dkim_verify_ignored(const struct dkim_verify *);
/*
 * The TXT name to ask for signature i ("<s>._domainkey.<d>"), or NULL
 * when no lookup is needed (the signature already has its verdict, e.g.
 * a syntax error). Valid until dkim_verify_free(). Several signatures
 * may share a name; each still needs its own dkim_verify_key*() call.
 */
const char	*dkim_verify_qname(const struct dkim_verify *, size_t i);

/*
 * The end of the message: finishes the body hashes. Call once, after the
 * last feed/body chunk (in whole-message style it also ends a header
 * section that never ended).
 */
void	dkim_verify_body_end(struct dkim_verify *);

/*
 * The key lookup answers for signature i, in any order, before or after
 * the body ended (the verdict is computed when both the key and the body
 * are there). _txt: the TXT records found (each one's strings joined, as
 * in struct dns_rr), n >= 1; the first that parses as a key record is
 * used. _status: no records. _result: straight from a resolver callback
 * (type TXT). A signature that needs no lookup ignores these calls.
 */
void	dkim_verify_key_txt(struct dkim_verify *, size_t i,
	    const char *const *txt, const size_t *txt_len, size_t n);
void	dkim_verify_key_status(struct dkim_verify *, size_t i, enum dkim_dns);
void	dkim_verify_key_result(struct dkim_verify *, size_t i,
	    const struct dns_result *);

/*
 * True when every signature has a verdict (body ended and every needed
 * key given); with 0 signatures, true once the body ended.
 */
bool	dkim_verify_is_done(const struct dkim_verify *);
/*
 * Signature i's verdict, or NULL if i >= count. Before is_done the status
 * of a pending signature is TEMPERROR with reason "not evaluated". Valid
 * until dkim_verify_free().
 */
const struct dkim_result	*dkim_verify_result(const struct dkim_verify *,
				    size_t i);

/*
 * Appends the RFC 8601 resinfo for r: "dkim=pass (reason) header.d=D
 * header.s=S header.a=A header.b=B" (B the b= prefix, quoted when it
 * holds '/', '+' or '='; d, s, a are left out when the tags did not
 * parse that far).
 * Returns 0, or -1 when out is full (out unchanged).
 */
int	dkim_result_authres(const struct dkim_result *r, struct buf *out);

/* --- signing (RFC 6376 5) --- */

/* A signing key: who signs and with what. */
struct dkim_key {
	char		 domain[DKIM_DOMAIN_MAX + 1];	/* d=, lower case */
	char		 selector[DKIM_SELECTOR_MAX + 1];	/* s= */
	enum dkim_keytype type;
	EVP_PKEY	*pkey;		/* private key, owned by the holder */
	char		 path[4096];	/* file it came from ("" if none) */
};

/* The fields signed, From once more than it occurs (oversigned, 8.15). */
#define DKIM_SIGN_HEADERS	"From", "To", "Cc", "Subject", "Date", \
	"Message-ID", "Reply-To", "In-Reply-To", "References", \
	"MIME-Version", "Content-Type", "Content-Transfer-Encoding"

struct dkim_signer;

/*
 * A signer for one message with n keys (1..DKIM_SIGN_MAX_KEYS, e.g. an
 * rsa and an ed25519 key: one signature each), relaxed/relaxed, t=now.
 * The signer takes its own reference to each EVP_PKEY; keys[] itself may
 * go after the call. Returns NULL if n is out of range.
 */
struct dkim_signer	*dkim_signer_new(const struct dkim_key *keys,
			    size_t n, time_t now);
/*
 * As dkim_signer_new with a chosen canonicalization (tests, interop).
 */
struct dkim_signer	*dkim_signer_new_canon(const struct dkim_key *keys,
			    size_t n, time_t now, enum dkim_canon hcanon,
			    enum dkim_canon bcanon);
/* Frees s (dropping its key references) and NULLs *sp; NULL is fine. */
void	dkim_signer_free(struct dkim_signer **sp);

/* The same input styles as the verifier (see the top of this file). */
void	dkim_signer_feed(struct dkim_signer *, const char *p, size_t len);
void	dkim_signer_header(struct dkim_signer *, const char *field,
	    size_t len);
void	dkim_signer_headers_end(struct dkim_signer *);
void	dkim_signer_body(struct dkim_signer *, const char *p, size_t len);

/*
 * Ends the message and appends the DKIM-Signature fields, one per key in
 * key order, to out: each folded at less than 78 columns, each line
 * ending in CRLF, ready to be written before the message's first line.
 * Returns 0, or -1 with *err (static text) when signing failed or out is
 * full (out then unchanged), e.g. the header section was too large.
 * Call once.
 */
int	dkim_signer_finish(struct dkim_signer *, struct buf *out,
	    const char **err);

/* --- keys (generation, files, DNS records) --- */

/*
 * Key files live in <data_dir>/dkim/<domain>/<selector>.pem (PKCS#8 PEM,
 * mode 0600); the algorithm is the key's own. The default selector is
 * "ed<YYYYMM>" or "rsa<YYYYMM>" (UTC), so dual keys made the same month
 * do not clash.
 */
#define DKIM_KEY_DIR	"dkim"

/* A new private key: RSA 2048 bits or Ed25519. NULL with *err on failure. */
EVP_PKEY	*dkim_key_generate(enum dkim_keytype, const char **err);
/*
 * Writes pkey as PKCS#8 PEM to path atomically (path.tmp, mode 0600,
 * fsync, rename). Refuses to replace an existing file. Returns 0, or -1
 * with *err set to static text and errno (from the failing call) kept.
 */
int	dkim_key_save(const char *path, EVP_PKEY *pkey, const char **err);
/*
 * Reads a PEM private key; returns it (the caller frees it with
 * EVP_PKEY_free) or NULL with *err set. Only RSA (>= 1024 bits) and
 * Ed25519 keys are accepted; *type gets which.
 */
EVP_PKEY	*dkim_key_load(const char *path, enum dkim_keytype *type,
		    const char **err);
/*
 * Appends the key record for pkey's public half to out:
 * "v=DKIM1; k=ed25519; p=<base64>". Returns 0, or -1 (out unchanged).
 */
int	dkim_key_record_format(EVP_PKEY *pkey, struct buf *out);
/*
 * Appends txt as zone-file character-strings: each at most 255 octets,
 * quoted, separated by a space ("..." "..."). Returns 0 or -1.
 */
int	dkim_zone_strings(const char *txt, size_t len, struct buf *out);

/* The default selector for a key type at time now ("ed202611"). */
int	dkim_selector_default(enum dkim_keytype, time_t now, char *out,
	    size_t outsz);
/* True when s is a valid selector: dot-separated labels of [A-Za-z0-9-]. */
bool	dkim_selector_is_valid(const char *s);

/*
 * Loads every key of domain (lower-cased by the callee) from
 * <data_dir>/dkim/<domain>/ into keys[0..max), sorted by selector; files
 * that do not load are skipped with a warning on the log. *n gets the
 * count (0 when the directory does not exist). Returns 0, or -1 with
 * *err when the directory exists but cannot be read. Blocking file I/O:
 * at start-up or from a thread, not on the event loop. Release with
 * dkim_keys_free().
 */
int	dkim_keys_load(const char *data_dir, const char *domain,
	    struct dkim_key *keys, size_t max, size_t *n, const char **err);
/* EVP_PKEY_free()s keys[0..n) and clears them. */
void	dkim_keys_free(struct dkim_key *keys, size_t n);

#endif
