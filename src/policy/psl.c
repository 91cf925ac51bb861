/*
 * The Public Suffix List as an open-addressing hash set of rule names,
 * each with flags for the three rule kinds, and the list's matching
 * algorithm (https://github.com/publicsuffix/list/wiki/Format) on top of
 * it for RFC 7489 3.2. A rule "ck" is stored as "ck"/NORMAL, "*.ck" as
 * "ck"/WILDCARD (it matches any one label below ck), "!www.ck" as
 * "www.ck"/EXCEPTION. Unicode rules are also stored as A-labels
 * (RFC 3492 punycode with the "xn--" prefix), because DNS names and most
 * From domains arrive in that form. Loading reads one file; the lookups
 * walk the domain's suffixes with a few hash probes and allocate nothing.
 */
#include "policy/psl.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/config.h"
#include "core/log.h"
#include "core/xmalloc.h"

#define PSL_NORMAL	0x1
#define PSL_WILDCARD	0x2
#define PSL_EXCEPTION	0x4

#define NAME_MAX_LEN	253	/* RFC 1035 2.3.4 text form */
#define LABEL_MAX	63

struct psl_entry {
	uint32_t	off;		/* into names; len 0 = empty slot */
	uint16_t	len;
	uint8_t		flags;
};

struct psl {
	char		*names;		/* every rule name, back to back */
	size_t		 names_len, names_cap;
	struct psl_entry *slot;
	size_t		 mask;		/* slots - 1 (a power of two) */
	size_t		 n;		/* distinct names */
	size_t		 rules;		/* rules read (a name may hold several) */
};

static uint64_t
hash(const char *p, size_t len)
{
	uint64_t h = 1469598103934665603ULL;	/* FNV-1a */

	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)p[i];
		h *= 1099511628211ULL;
	}
	return h;
}

static struct psl_entry *
find(const struct psl *psl, const char *p, size_t len)
{
	size_t i = (size_t)hash(p, len) & psl->mask;

	for (;;) {
		struct psl_entry *e = &psl->slot[i];

		if (e->len == 0)
			return e;
		if (e->len == len && memcmp(psl->names + e->off, p, len) == 0)
			return e;
		i = (i + 1) & psl->mask;
	}
}

static uint8_t
flags_of(const struct psl *psl, const char *p, size_t len)
{
	const struct psl_entry *e = find(psl, p, len);

	return e->len == 0 ? 0 : e->flags;
}

static void
grow(struct psl *psl)
{
	struct psl_entry *old = psl->slot;
	size_t oldn = old == NULL ? 0 : psl->mask + 1;
	size_t n = oldn == 0 ? 1024 : oldn * 2;

	psl->slot = xcalloc(n, sizeof(*psl->slot));
	psl->mask = n - 1;
	for (size_t i = 0; i < oldn; i++) {
		if (old[i].len != 0)
			*find(psl, psl->names + old[i].off, old[i].len) = old[i];
	}
	free(old);
}

static void
add(struct psl *psl, const char *p, size_t len, uint8_t flag)
{
	struct psl_entry *e;

	/* Keep the load under one half so probes stay short. */
	if (psl->slot == NULL || (psl->n + 1) * 2 > psl->mask + 1)
		grow(psl);
	psl->rules++;
	e = find(psl, p, len);
	if (e->len != 0) {
		e->flags |= flag;
		return;
	}
	if (psl->names_len + len > psl->names_cap) {
		psl->names_cap = (psl->names_cap + len) * 2;
		psl->names = xrealloc(psl->names, psl->names_cap);
	}
	memcpy(psl->names + psl->names_len, p, len);
	e->off = (uint32_t)psl->names_len;
	e->len = (uint16_t)len;
	e->flags = flag;
	psl->names_len += len;
	psl->n++;
}

/* --- punycode (RFC 3492 6.3), for Unicode rules --- */

#define PC_BASE		36
#define PC_TMIN		1
#define PC_TMAX		26
#define PC_SKEW		38
#define PC_DAMP		700

static unsigned
pc_adapt(unsigned delta, unsigned numpoints, bool first)
{
	unsigned k = 0;

	delta = first ? delta / PC_DAMP : delta / 2;
	delta += delta / numpoints;
	while (delta > ((PC_BASE - PC_TMIN) * PC_TMAX) / 2) {
		delta /= PC_BASE - PC_TMIN;
		k += PC_BASE;
	}
	return k + (PC_BASE - PC_TMIN + 1) * delta / (delta + PC_SKEW);
}

static char
pc_digit(unsigned d)
{
	return (char)(d < 26 ? 'a' + d : '0' + (d - 26));
}

/* Decodes UTF-8 into cp; returns the count, or -1 for bad UTF-8. */
static int
utf8_decode(const char *p, size_t len, uint32_t *cp, size_t max)
{
	size_t n = 0;

	for (size_t i = 0; i < len; n++) {
		unsigned char c = (unsigned char)p[i];
		size_t extra;
		uint32_t v;

		if (n == max)
			return -1;
		if (c < 0x80) {
			extra = 0;
			v = c;
		} else if (c >= 0xc2 && c < 0xe0) {
			extra = 1;
			v = c & 0x1f;
		} else if (c >= 0xe0 && c < 0xf0) {
			extra = 2;
			v = c & 0x0f;
		} else if (c >= 0xf0 && c < 0xf5) {
			extra = 3;
			v = c & 0x07;
		} else {
			return -1;
		}
		if (i + extra >= len)
			return -1;
		for (size_t k = 1; k <= extra; k++) {
			unsigned char cc = (unsigned char)p[i + k];

			if ((cc & 0xc0) != 0x80)
				return -1;
			v = (v << 6) | (cc & 0x3f);
		}
		if ((extra == 2 && v < 0x800) || (extra == 3 && v < 0x10000) ||
		    v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
			return -1;
		cp[n] = v;
		i += extra + 1;
	}
	return (int)n;
}

/*
 * Encodes one label (UTF-8) as "xn--" + punycode into out. Returns the
 * length, or -1 (bad UTF-8, output over outsz or over a label's 63).
 */
static int
punycode_label(const char *p, size_t len, char *out, size_t outsz)
{
	uint32_t cp[LABEL_MAX + 1];
	unsigned n = 128, delta = 0, bias = 72, h, b = 0;
	size_t o = 4;
	int ncp = utf8_decode(p, len, cp, sizeof(cp) / sizeof(cp[0]));

	if (ncp <= 0 || outsz < 5)
		return -1;
	memcpy(out, "xn--", 4);
	for (int i = 0; i < ncp; i++) {
		if (cp[i] < 0x80) {
			if (o >= outsz)
				return -1;
			out[o++] = (char)cp[i];
			b++;
		}
	}
	h = b;
	if (b > 0) {
		if (o >= outsz)
			return -1;
		out[o++] = '-';
	}
	while (h < (unsigned)ncp) {
		uint32_t m = UINT32_MAX;

		for (int i = 0; i < ncp; i++)
			if (cp[i] >= n && cp[i] < m)
				m = cp[i];
		/* With at most 64 code points below 0x110000 no overflow. */
		delta += (m - n) * (h + 1);
		n = m;
		for (int i = 0; i < ncp; i++) {
			if (cp[i] < n)
				delta++;
			if (cp[i] != n)
				continue;
			for (unsigned q = delta, k = PC_BASE;; k += PC_BASE) {
				unsigned t = k <= bias ? PC_TMIN :
				    k >= bias + PC_TMAX ? PC_TMAX : k - bias;

				if (o >= outsz)
					return -1;
				if (q < t) {
					out[o++] = pc_digit(q);
					break;
				}
				out[o++] = pc_digit(t + (q - t) % (PC_BASE - t));
				q = (q - t) / (PC_BASE - t);
			}
			bias = pc_adapt(delta, h + 1, h == b);
			delta = 0;
			h++;
		}
		delta++;
		n++;
	}
	if (o > LABEL_MAX)
		return -1;
	return (int)o;
}

/*
 * The A-label form of a rule name, label by label. Returns its length, or
 * -1 when a label cannot be encoded or the name gets too long.
 */
static int
to_alabels(const char *p, size_t len, char *out, size_t outsz)
{
	size_t o = 0, start = 0;

	for (size_t i = 0; i <= len; i++) {
		bool ascii = true;
		size_t ll;

		if (i < len && p[i] != '.')
			continue;
		ll = i - start;
		for (size_t k = start; k < i; k++)
			if ((unsigned char)p[k] >= 0x80)
				ascii = false;
		if (start > 0) {
			if (o + 1 >= outsz)
				return -1;
			out[o++] = '.';
		}
		if (ascii) {
			if (o + ll >= outsz)
				return -1;
			memcpy(out + o, p + start, ll);
			o += ll;
		} else {
			int n = punycode_label(p + start, ll, out + o, outsz - o);

			if (n < 0)
				return -1;
			o += (size_t)n;
		}
		start = i + 1;
	}
	return o > NAME_MAX_LEN ? -1 : (int)o;
}

int
psl_domain_to_ascii(const char *domain, char *out, size_t outsz)
{
	int n = to_alabels(domain, strlen(domain), out, outsz);

	if (n < 0 || (size_t)n >= outsz) {
		if (outsz > 0)
			out[0] = '\0';
		return -1;
	}
	out[n] = '\0';
	return n;
}

/* --- loading --- */

/*
 * Checks a rule name (after "*." or "!" is taken off) and lower-cases its
 * ASCII into out: labels of 1-63 octets, 253 in all, no "*" or "!" left.
 */
static bool
rule_name(const char *p, size_t len, char *out)
{
	size_t label = 0;

	if (len == 0 || len > NAME_MAX_LEN)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = p[i];

		if (c == '.') {
			if (label == 0)
				return false;
			label = 0;
		} else if (c == '*' || c == '!' || c == ' ' || c == '\t' ||
		    (unsigned char)c < 0x20 || c == 0x7f) {
			return false;
		} else if (++label > LABEL_MAX) {
			return false;
		}
		out[i] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
	}
	return label > 0;
}

/* One line of the file; returns false when it is a rule that is bad. */
static bool
parse_line(struct psl *psl, const char *p, size_t len)
{
	char name[NAME_MAX_LEN + 1], alt[NAME_MAX_LEN + 1];
	uint8_t flag = PSL_NORMAL;
	size_t end = 0;
	int n;

	/* A rule is the first run of non-blank bytes; "//" starts a
	 * comment line. */
	while (len > 0 && (p[0] == ' ' || p[0] == '\t')) {
		p++;
		len--;
	}
	if (len == 0 || (len >= 2 && p[0] == '/' && p[1] == '/'))
		return true;
	while (end < len && p[end] != ' ' && p[end] != '\t' && p[end] != '\r')
		end++;
	len = end;
	if (len >= 2 && p[0] == '*' && p[1] == '.') {
		flag = PSL_WILDCARD;
		p += 2;
		len -= 2;
	} else if (p[0] == '!') {
		flag = PSL_EXCEPTION;
		p++;
		len--;
	}
	if (!rule_name(p, len, name))
		return false;
	add(psl, name, len, flag);
	n = to_alabels(name, len, alt, sizeof(alt));
	if (n < 0)
		return false;
	if ((size_t)n != len || memcmp(alt, name, len) != 0)
		add(psl, alt, (size_t)n, flag);
	return true;
}

struct psl *
psl_parse(const char *text, size_t len, size_t *skipped, const char **err)
{
	struct psl *psl = xcalloc(1, sizeof(*psl));
	size_t bad = 0, i = 0;

	while (i < len) {
		const char *nl = memchr(text + i, '\n', len - i);
		size_t ll = nl == NULL ? len - i : (size_t)(nl - (text + i));

		if (ll > PSL_LINE_MAX || !parse_line(psl, text + i, ll))
			bad++;
		if (psl->rules > PSL_MAX_RULES) {
			psl_free(&psl);
			*err = "more rules than PSL_MAX_RULES";
			return NULL;
		}
		i += ll + 1;
	}
	if (skipped != NULL)
		*skipped = bad;
	if (psl->n == 0) {
		psl_free(&psl);
		*err = "no rules in the list";
		return NULL;
	}
	return psl;
}

struct psl *
psl_load(const char *path, const char **err)
{
	struct psl *psl;
	struct stat st;
	char *text;
	size_t len = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd == -1) {
		*err = strerror(errno);
		return NULL;
	}
	if (fstat(fd, &st) == -1) {
		*err = strerror(errno);
		close(fd);
		return NULL;
	}
	if (!S_ISREG(st.st_mode) || st.st_size > PSL_FILE_MAX) {
		*err = S_ISREG(st.st_mode) ? "bigger than PSL_FILE_MAX" :
		    "not a regular file";
		close(fd);
		return NULL;
	}
	text = xmalloc((size_t)st.st_size + 1);
	while (len < (size_t)st.st_size) {
		ssize_t n = read(fd, text + len, (size_t)st.st_size - len);

		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			*err = n == 0 ? "file shrank while read" : strerror(errno);
			free(text);
			close(fd);
			return NULL;
		}
		len += (size_t)n;
	}
	close(fd);
	psl = psl_parse(text, len, NULL, err);
	free(text);
	return psl;
}

struct psl *
psl_load_config(const struct config *cfg)
{
	struct psl *psl;
	const char *err;
	char e[512];

	if (cfg->public_suffix_list == NULL)
		return NULL;
	psl = psl_load(cfg->public_suffix_list, &err);
	if (psl == NULL)
		log_warn("dmarc event=disabled reason=\"public_suffix_list "
		    "%s: %s\"", log_escape(e, sizeof(e),
		    cfg->public_suffix_list, strlen(cfg->public_suffix_list)),
		    err);
	return psl;
}

void
psl_free(struct psl **pp)
{
	if (*pp == NULL)
		return;
	free((*pp)->names);
	free((*pp)->slot);
	free(*pp);
	*pp = NULL;
}

size_t
psl_rule_count(const struct psl *psl)
{
	return psl->rules;
}

/* --- lookups --- */

/*
 * Lower-cases domain into out without a trailing dot and finds where its
 * labels start. Returns the label count, or 0 for a name that is not one.
 */
static size_t
split(const char *domain, char *out, size_t start[128])
{
	size_t len = strlen(domain), labels = 0, label = 0;

	if (len > 0 && domain[len - 1] == '.')
		len--;
	if (len == 0 || len > NAME_MAX_LEN)
		return 0;
	start[labels++] = 0;
	for (size_t i = 0; i < len; i++) {
		char c = domain[i];

		if (c == '.') {
			if (label == 0)
				return 0;
			start[labels++] = i + 1;
			label = 0;
		} else if (++label > LABEL_MAX) {
			return 0;
		}
		out[i] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
	}
	out[len] = '\0';
	return label == 0 ? 0 : labels;
}

/*
 * How many labels (from the right) the public suffix of the name has,
 * per the list's algorithm: an exception rule wins and its suffix is the
 * rule minus its leftmost label; else the longest normal or wildcard
 * match; else the default rule "*" (one label).
 */
static size_t
suffix_labels(const struct psl *psl, const char *name, const size_t *start,
    size_t labels)
{
	size_t len = strlen(name), best = 1;

	for (size_t i = labels; i-- > 0;) {
		const char *s = name + start[i];
		size_t n = labels - i;
		uint8_t f = flags_of(psl, s, len - start[i]);

		if (f & PSL_EXCEPTION)
			return n - 1;
		if ((f & PSL_NORMAL) && n > best)
			best = n;
		/* "*.X" matches this suffix when X is the rest of it. */
		if (i + 1 < labels && n > best &&
		    (flags_of(psl, name + start[i + 1], len - start[i + 1]) &
		    PSL_WILDCARD))
			best = n;
	}
	return best;
}

int
psl_organizational_domain(const struct psl *psl, const char *domain,
    char *out, size_t outsz)
{
	char name[NAME_MAX_LEN + 1];
	size_t start[128], labels, ps, olen;
	const char *org;

	if (outsz > 0)
		out[0] = '\0';
	if (psl == NULL)
		return -1;
	labels = split(domain, name, start);
	if (labels == 0)
		return -1;
	ps = suffix_labels(psl, name, start, labels);
	if (ps >= labels)
		return -1;	/* the domain is a public suffix itself */
	org = name + start[labels - ps - 1];
	olen = strlen(org);
	if (olen >= outsz)
		return -1;
	memcpy(out, org, olen + 1);
	return 0;
}

bool
psl_is_public_suffix(const struct psl *psl, const char *domain)
{
	char name[NAME_MAX_LEN + 1];
	size_t start[128], labels;

	if (psl == NULL)
		return false;
	labels = split(domain, name, start);
	return labels > 0 && suffix_labels(psl, name, start, labels) >= labels;
}
