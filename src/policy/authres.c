/*
 * The Authentication-Results filter; see authres.h. A line start is held
 * (at most AUTHRES_HOLD_MAX octets) until its field name is known: the
 * name "Authentication-Results" (any case, optional WSP before the colon,
 * RFC 5322 4.5.3 obsolete syntax) removes the field, anything else passes.
 */
#include "policy/authres.h"

#include <string.h>
#include <strings.h>

#define AUTHRES_NAME	"Authentication-Results"

struct out_buf {
	char		 b[1024];
	size_t		 n;
	authres_out_fn	*out;
	void		*arg;
};

static void
out_flush(struct out_buf *o)
{
	if (o->n > 0)
		o->out(o->arg, o->b, o->n);
	o->n = 0;
}

static void
out_put(struct out_buf *o, const char *p, size_t n)
{
	while (n > 0) {
		size_t k = sizeof(o->b) - o->n;

		if (k > n)
			k = n;
		memcpy(o->b + o->n, p, k);
		o->n += k;
		p += k;
		n -= k;
		if (o->n == sizeof(o->b))
			out_flush(o);
	}
}

void
authres_filter_init(struct authres_filter *f)
{
	memset(f, 0, sizeof(*f));
	f->at_bol = true;
}

/* True when held (the start of a line, up to ':') names our field. */
static bool
held_is_authres(const struct authres_filter *f)
{
	size_t n = f->held_len;

	while (n > 0 && (f->held[n - 1] == ' ' || f->held[n - 1] == '\t'))
		n--;
	return n == sizeof(AUTHRES_NAME) - 1 &&
	    strncasecmp(f->held, AUTHRES_NAME, n) == 0;
}

/* Decides the held line start: c is the octet that decided it. */
static void
decide(struct authres_filter *f, struct out_buf *o, char c)
{
	if (c == ':' && held_is_authres(f)) {
		f->dropping = f->line_drop = true;
		f->removed++;
	} else {
		f->dropping = f->line_drop = false;
		out_put(o, f->held, f->held_len);
		/* A line that is no field ends the header section. */
		if (c == '\n')
			f->done = true;
	}
	f->held_len = 0;
}

/* Handles the octet at the start of a line. */
static void
line_start(struct authres_filter *f, struct out_buf *o, char c)
{
	f->at_bol = false;
	if (c == ' ' || c == '\t') {
		/* A folded continuation belongs to the field before it. */
		f->line_drop = f->dropping;
	} else if (c == '\r' || c == '\n') {
		/* The empty line: the header section is over. */
		f->done = true;
		f->dropping = f->line_drop = false;
	} else {
		f->held[f->held_len++] = c;
		return;
	}
	if (!f->line_drop)
		out_put(o, &c, 1);
}

void
authres_filter_feed(struct authres_filter *f, const char *p, size_t len,
    authres_out_fn *out, void *arg)
{
	struct out_buf o = { .n = 0, .out = out, .arg = arg };
	size_t i;

	for (i = 0; i < len && !f->done; i++) {
		char c = p[i];

		if (f->at_bol) {
			line_start(f, &o, c);
			if (c == '\n')
				f->at_bol = true;
			continue;
		}
		if (f->held_len > 0) {
			if (c == ':' || c == '\n' ||
			    f->held_len == AUTHRES_HOLD_MAX) {
				decide(f, &o, c);
			} else {
				f->held[f->held_len++] = c;
				continue;
			}
		}
		if (!f->line_drop)
			out_put(&o, &c, 1);
		if (c == '\n')
			f->at_bol = true;
	}
	out_flush(&o);
	if (i < len)
		out(arg, p + i, len - i);
}

void
authres_filter_finish(struct authres_filter *f, authres_out_fn *out,
    void *arg)
{
	if (f->held_len > 0 && !f->done)
		out(arg, f->held, f->held_len);
	f->held_len = 0;
	f->done = true;
}
