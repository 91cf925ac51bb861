/*
 * DKIM: temporary stubs so the contract in dkim.h links; the real code
 * replaces this file.
 */
#include "policy/dkim.h"

#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/xmalloc.h"

const char *dkim_alg_name(enum dkim_alg a) { (void)a; return "rsa-sha256"; }
const char *dkim_canon_name(enum dkim_canon c) { (void)c; return "simple"; }
const char *dkim_keytype_name(enum dkim_keytype t) { (void)t; return "rsa"; }
const char *dkim_status_name(enum dkim_status s) { (void)s; return "permerror"; }
int dkim_sig_parse(const char *v, size_t l, struct dkim_sig *o, const char **e)
{ (void)v; (void)l; memset(o, 0, sizeof(*o)); *e = "not implemented"; return -1; }
int dkim_key_record_parse(const char *t, size_t l, struct dkim_key_record *o,
    const char **e)
{ (void)t; (void)l; memset(o, 0, sizeof(*o)); *e = "not implemented"; return -1; }
int dkim_header_canon(enum dkim_canon c, const char *f, size_t l, struct buf *o)
{ (void)c; (void)f; (void)l; (void)o; return -1; }
int dkim_body_init(struct dkim_body *b, enum dkim_canon c, const EVP_MD *md,
    bool hl, uint64_t l)
{ (void)md; memset(b, 0, sizeof(*b)); b->canon = c; b->has_limit = hl; b->limit = l; return -1; }
void dkim_body_set_output(struct dkim_body *b, dkim_body_out_fn *f, void *a)
{ b->out = f; b->out_arg = a; }
void dkim_body_feed(struct dkim_body *b, const char *p, size_t l)
{ (void)b; (void)p; (void)l; }
int dkim_body_final(struct dkim_body *b, unsigned char *d, unsigned *dl)
{ (void)b; (void)d; *dl = 0; return -1; }
void dkim_body_cleanup(struct dkim_body *b) { (void)b; }
struct dkim_verify { time_t now; };
struct dkim_verify *dkim_verify_new(time_t now)
{ struct dkim_verify *v = xcalloc(1, sizeof(*v)); v->now = now; return v; }
void dkim_verify_free(struct dkim_verify **vp) { free(*vp); *vp = NULL; }
int dkim_verify_feed(struct dkim_verify *v, const char *p, size_t l)
{ (void)v; (void)p; (void)l; return 0; }
void dkim_verify_header(struct dkim_verify *v, const char *f, size_t l)
{ (void)v; (void)f; (void)l; }
size_t dkim_verify_headers_end(struct dkim_verify *v) { (void)v; return 0; }
void dkim_verify_body(struct dkim_verify *v, const char *p, size_t l)
{ (void)v; (void)p; (void)l; }
size_t dkim_verify_count(const struct dkim_verify *v) { (void)v; return 0; }
size_t dkim_verify_ignored(const struct dkim_verify *v) { (void)v; return 0; }
const char *dkim_verify_qname(const struct dkim_verify *v, size_t i)
{ (void)v; (void)i; return NULL; }
void dkim_verify_body_end(struct dkim_verify *v) { (void)v; }
void dkim_verify_key_txt(struct dkim_verify *v, size_t i,
    const char *const *t, const size_t *tl, size_t n)
{ (void)v; (void)i; (void)t; (void)tl; (void)n; }
void dkim_verify_key_status(struct dkim_verify *v, size_t i, enum dkim_dns s)
{ (void)v; (void)i; (void)s; }
void dkim_verify_key_result(struct dkim_verify *v, size_t i,
    const struct dns_result *r)
{ (void)v; (void)i; (void)r; }
bool dkim_verify_is_done(const struct dkim_verify *v) { (void)v; return true; }
const struct dkim_result *dkim_verify_result(const struct dkim_verify *v,
    size_t i)
{ (void)v; (void)i; return NULL; }
struct dkim_signer { int dummy; };
struct dkim_signer *dkim_signer_new(const struct dkim_key *k, size_t n,
    time_t now)
{ return dkim_signer_new_canon(k, n, now, DKIM_CANON_RELAXED, DKIM_CANON_RELAXED); }
struct dkim_signer *dkim_signer_new_canon(const struct dkim_key *k, size_t n,
    time_t now, enum dkim_canon h, enum dkim_canon b)
{ (void)k; (void)now; (void)h; (void)b; if (n == 0) return NULL; return xcalloc(1, sizeof(struct dkim_signer)); }
void dkim_signer_free(struct dkim_signer **sp) { free(*sp); *sp = NULL; }
void dkim_signer_feed(struct dkim_signer *s, const char *p, size_t l)
{ (void)s; (void)p; (void)l; }
void dkim_signer_header(struct dkim_signer *s, const char *p, size_t l)
{ (void)s; (void)p; (void)l; }
void dkim_signer_headers_end(struct dkim_signer *s) { (void)s; }
void dkim_signer_body(struct dkim_signer *s, const char *p, size_t l)
{ (void)s; (void)p; (void)l; }
int dkim_signer_finish(struct dkim_signer *s, struct buf *o, const char **e)
{ (void)s; (void)o; *e = "not implemented"; return -1; }
EVP_PKEY *dkim_key_generate(enum dkim_keytype t, const char **e)
{ (void)t; *e = "not implemented"; return NULL; }
int dkim_key_save(const char *p, EVP_PKEY *k, const char **e)
{ (void)p; (void)k; *e = "not implemented"; return -1; }
EVP_PKEY *dkim_key_load(const char *p, enum dkim_keytype *t, const char **e)
{ (void)p; (void)t; *e = "not implemented"; return NULL; }
int dkim_key_record_format(EVP_PKEY *k, struct buf *o) { (void)k; (void)o; return -1; }
int dkim_zone_strings(const char *t, size_t l, struct buf *o)
{ (void)t; (void)l; (void)o; return -1; }
int dkim_selector_default(enum dkim_keytype t, time_t now, char *o, size_t osz)
{ (void)t; (void)now; (void)o; (void)osz; return -1; }
bool dkim_selector_is_valid(const char *s) { (void)s; return false; }
int dkim_keys_load(const char *d, const char *dom, struct dkim_key *k,
    size_t max, size_t *n, const char **e)
{ (void)d; (void)dom; (void)k; (void)max; (void)e; *n = 0; return 0; }
void dkim_keys_free(struct dkim_key *k, size_t n) { (void)k; (void)n; }
