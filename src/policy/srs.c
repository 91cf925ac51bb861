/*
 * SRS rewriting and reversal; see srs.h. The hash covers everything after
 * the hash field, lower-cased, prefixed by the scheme ("0:" or "1:"), so
 * no field can be changed or moved between the two forms without a new
 * hash, and a case-folding relay changes nothing.
 */
#include "policy/srs.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "core/addr.h"

static const char b32[] = "abcdefghijklmnopqrstuvwxyz234567";

/* Longest text we hash: a whole address plus the scheme prefix. */
#define SRS_TEXT_MAX	(ADDR_FORMAT_MAX + 8)

static int
b32_value(char c)
{
	if (c >= 'a' && c <= 'z')
		return c - 'a';
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= '2' && c <= '7')
		return c - '2' + 26;
	return -1;
}

/*
 * SRS_HASH_LEN base32 digits of HMAC-SHA256(key, scheme ":" lower(text)),
 * NUL-terminated in out. False when text is too long (cannot happen for
 * addresses that fit ADDR_FORMAT_MAX) or HMAC fails.
 */
static bool
srs_hash(const unsigned char *key, size_t keylen, char scheme,
    const char *text, size_t len, char out[SRS_HASH_LEN + 1])
{
	char buf[SRS_TEXT_MAX];
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	unsigned bits = 0, acc = 0;
	size_t o = 0;

	if (len + 2 > sizeof(buf))
		return false;
	buf[0] = scheme;
	buf[1] = ':';
	for (size_t i = 0; i < len; i++) {
		char c = text[i];

		buf[2 + i] = c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
	}
	if (HMAC(EVP_sha256(), key, (int)keylen, (unsigned char *)buf,
	    len + 2, md, &mdlen) == NULL || mdlen < 8)
		return false;
	for (size_t i = 0; o < SRS_HASH_LEN; ) {
		if (bits < 5) {
			acc = (acc << 8) | md[i++];
			bits += 8;
		}
		out[o++] = b32[(acc >> (bits - 5)) & 31];
		bits -= 5;
	}
	out[o] = '\0';
	explicit_bzero(md, sizeof(md));
	return true;
}

int
srs_is_srs(const char *l)
{
	return (strncasecmp(l, "SRS0=", 5) == 0 ||
	    strncasecmp(l, "SRS1=", 5) == 0);
}

static unsigned
srs_day(time_t now)
{
	return (unsigned)((now < 0 ? 0 : now) / 86400) % 1024;
}

/* Writes "<local>@<domain>" into out; SRS_TOO_LONG when it won't fit. */
static enum srs_result
srs_emit(char *out, size_t outsz, const char *local, size_t local_len,
    const char *domain)
{
	int n;

	if (local_len > ADDR_LOCAL_MAX)
		return SRS_TOO_LONG;
	n = snprintf(out, outsz, "%.*s@%s", (int)local_len, local, domain);
	if (n < 0 || (size_t)n >= outsz)
		return SRS_TOO_LONG;
	return SRS_OK;
}

enum srs_result
srs_forward(const unsigned char *key, size_t keylen, time_t now,
    const char *sender, const char *our_domain, char *out, size_t outsz)
{
	const char *at = strrchr(sender, '@');
	char local[SRS_TEXT_MAX], text[SRS_TEXT_MAX], h[SRS_HASH_LEN + 1];
	char scheme;
	int n;

	/* '=' separates the fields: a domain holding one could not be
	 * parsed back (no real domain does). */
	if (at == NULL || at == sender || at[1] == '\0' ||
	    strchr(at + 1, '=') != NULL)
		return SRS_MALFORMED;
	if (strncasecmp(sender, "SRS0=", 5) == 0) {
		if (at - sender == 5)
			return SRS_MALFORMED;
		/* Someone else's SRS0: SRS1 keeps their part verbatim. */
		scheme = '1';
		n = snprintf(text, sizeof(text), "%s==%.*s", at + 1,
		    (int)(at - sender - 5), sender + 5);
	} else if (strncasecmp(sender, "SRS1=", 5) == 0) {
		/* SRS1=<hash>=<host>==<rest>: re-signed, host kept. */
		const char *p = memchr(sender + 5, '=', (size_t)(at - sender - 5));

		if (p == NULL)
			return SRS_MALFORMED;
		scheme = '1';
		n = snprintf(text, sizeof(text), "%.*s", (int)(at - p - 1),
		    p + 1);
		p = strstr(text, "==");
		if (p == NULL || p == text || p[2] == '\0')
			return SRS_MALFORMED;
	} else {
		unsigned d = srs_day(now);

		scheme = '0';
		n = snprintf(text, sizeof(text), "%c%c=%s=%.*s", b32[d >> 5],
		    b32[d & 31], at + 1, (int)(at - sender), sender);
	}
	if (n < 0 || (size_t)n >= sizeof(text))
		return SRS_TOO_LONG;
	if (!srs_hash(key, keylen, scheme, text, (size_t)n, h))
		return SRS_MALFORMED;
	n = snprintf(local, sizeof(local), "SRS%c=%s=%s", scheme, h, text);
	if (n < 0 || (size_t)n >= sizeof(local))
		return SRS_TOO_LONG;
	return srs_emit(out, outsz, local, (size_t)n, our_domain);
}

/* Constant-time, case-insensitive compare of two SRS_HASH_LEN hashes. */
static bool
srs_hash_equal(const char *given, size_t given_len, const char *want)
{
	char g[SRS_HASH_LEN];

	if (given_len != SRS_HASH_LEN)
		return false;
	for (size_t i = 0; i < SRS_HASH_LEN; i++) {
		char c = given[i];

		g[i] = c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
	}
	return CRYPTO_memcmp(g, want, SRS_HASH_LEN) == 0;
}

static enum srs_result
reverse_srs0(const unsigned char *key, size_t keylen, time_t now,
    const char *l, char *out, size_t outsz)
{
	/* l = "<hash>=<tt>=<domain>=<local>" */
	const char *hend = strchr(l, '='), *tt, *dom, *dend, *loc;
	char h[SRS_HASH_LEN + 1];
	int t0, t1;
	unsigned age;

	if (hend == NULL)
		return SRS_MALFORMED;
	tt = hend + 1;
	if (strlen(tt) < 3 || tt[2] != '=')
		return SRS_MALFORMED;
	dom = tt + 3;
	if ((dend = strchr(dom, '=')) == NULL || dend == dom)
		return SRS_MALFORMED;
	loc = dend + 1;
	if (*loc == '\0' || (t0 = b32_value(tt[0])) < 0 ||
	    (t1 = b32_value(tt[1])) < 0)
		return SRS_MALFORMED;
	if (!srs_hash(key, keylen, '0', tt, strlen(tt), h))
		return SRS_MALFORMED;
	if (!srs_hash_equal(l, (size_t)(hend - l), h))
		return SRS_BAD_HASH;
	age = (srs_day(now) + 1024 - (unsigned)(t0 * 32 + t1)) % 1024;
	if (age > SRS_MAX_AGE_DAYS)
		return SRS_EXPIRED;
	{
		char domain[ADDR_DOMAIN_MAX + 1];
		int n = snprintf(domain, sizeof(domain), "%.*s",
		    (int)(dend - dom), dom);

		if (n < 0 || (size_t)n >= sizeof(domain))
			return SRS_TOO_LONG;
		return srs_emit(out, outsz, loc, strlen(loc), domain);
	}
}

static enum srs_result
reverse_srs1(const unsigned char *key, size_t keylen, const char *l,
    char *out, size_t outsz)
{
	/* l = "<hash>=<host>==<rest>" */
	const char *hend = strchr(l, '='), *host, *sep;
	char h[SRS_HASH_LEN + 1], local[SRS_TEXT_MAX];
	int n;

	if (hend == NULL)
		return SRS_MALFORMED;
	host = hend + 1;
	if ((sep = strstr(host, "==")) == NULL || sep == host ||
	    sep[2] == '\0')
		return SRS_MALFORMED;
	if (!srs_hash(key, keylen, '1', host, strlen(host), h))
		return SRS_MALFORMED;
	if (!srs_hash_equal(l, (size_t)(hend - l), h))
		return SRS_BAD_HASH;
	n = snprintf(local, sizeof(local), "SRS0=%s", sep + 2);
	if (n < 0 || (size_t)n >= sizeof(local))
		return SRS_TOO_LONG;
	{
		char domain[ADDR_DOMAIN_MAX + 1];

		n = snprintf(domain, sizeof(domain), "%.*s",
		    (int)(sep - host), host);
		if (n < 0 || (size_t)n >= sizeof(domain))
			return SRS_TOO_LONG;
		return srs_emit(out, outsz, local, strlen(local), domain);
	}
}

enum srs_result
srs_reverse(const unsigned char *key, size_t keylen, time_t now,
    const char *l, char *out, size_t outsz)
{
	if (strncasecmp(l, "SRS0=", 5) == 0)
		return reverse_srs0(key, keylen, now, l + 5, out, outsz);
	if (strncasecmp(l, "SRS1=", 5) == 0)
		return reverse_srs1(key, keylen, l + 5, out, outsz);
	return SRS_NOT_SRS;
}

enum srs_result
srs_reverse_address(const unsigned char *key, size_t keylen, time_t now,
    const char *addr, char *out, size_t outsz)
{
	const char *at = strrchr(addr, '@');
	char local[ADDR_LOCAL_MAX + 1];

	if (at == NULL || (size_t)(at - addr) >= sizeof(local))
		return srs_is_srs(addr) ? SRS_MALFORMED : SRS_NOT_SRS;
	memcpy(local, addr, (size_t)(at - addr));
	local[at - addr] = '\0';
	return srs_reverse(key, keylen, now, local, out, outsz);
}
