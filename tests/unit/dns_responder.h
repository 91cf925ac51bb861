/*
 * A loopback UDP DNS responder for unit tests of code on the resolver
 * (src/dns/resolver.h): the test's own zone logic answers each question,
 * and this header does the wire format and the socket. Header-only
 * (static inline), so each test_*.c that includes it stays one file.
 *
 * The responder callback gets the question's name (dotted, no trailing
 * dot) and type and appends answers with dnsr_put_rr(); it returns the
 * rcode, or -1 to stay silent (a timeout).
 */
#ifndef SEALPOST_TEST_DNS_RESPONDER_H
#define SEALPOST_TEST_DNS_RESPONDER_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>

#define DNSR_ANSWER_MAX	2048

struct dnsr_answer {
	unsigned char	buf[DNSR_ANSWER_MAX];
	size_t		len;
	unsigned	ancount;
	unsigned	nscount;	/* SOA records after the answers */
	uint32_t	ttl;		/* for the next dnsr_put_rr(), 60 */
};

/* Returns the rcode (0 answered or NODATA, 2 SERVFAIL, 3 NXDOMAIN), or -1
 * for no reply at all. */
typedef int	(*dnsr_zone_fn)(void *arg, const char *name, unsigned qtype,
		    struct dnsr_answer *a);

struct dns_responder {
	int		 fd;
	struct event	*ev;
	unsigned	 queries;
	dnsr_zone_fn	 zone;
	void		*arg;
};

/* Appends one IN record named by a pointer to the question, TTL a->ttl. */
static inline void
dnsr_put_rr(struct dnsr_answer *a, unsigned type, const void *rd,
    size_t rdlen)
{
	unsigned char *p = a->buf + a->len;

	if (a->len + 12 + rdlen > sizeof(a->buf) || a->nscount > 0)
		return;
	p[0] = 0xc0;		/* name: pointer to the question */
	p[1] = 12;
	p[2] = (unsigned char)(type >> 8);
	p[3] = (unsigned char)type;
	p[4] = 0;
	p[5] = 1;		/* IN */
	p[6] = (unsigned char)(a->ttl >> 24);
	p[7] = (unsigned char)(a->ttl >> 16);
	p[8] = (unsigned char)(a->ttl >> 8);
	p[9] = (unsigned char)a->ttl;
	p[10] = (unsigned char)(rdlen >> 8);
	p[11] = (unsigned char)rdlen;
	memcpy(p + 12, rd, rdlen);
	a->len += 12 + rdlen;
	a->ancount++;
}

/*
 * Appends an SOA record for the question's name to the authority section
 * (after every answer), with record TTL ttl and MINIMUM field minimum: what
 * a negative answer carries for caching (RFC 2308).
 */
static inline void
dnsr_put_soa(struct dnsr_answer *a, uint32_t ttl, uint32_t minimum)
{
	/* MNAME and RNAME as pointers to the question, then 5 x 32 bits. */
	unsigned char rd[4 + 20] = { 0xc0, 12, 0xc0, 12 };
	uint32_t saved = a->ttl;

	rd[4 + 19] = (unsigned char)minimum;
	rd[4 + 18] = (unsigned char)(minimum >> 8);
	rd[4 + 17] = (unsigned char)(minimum >> 16);
	rd[4 + 16] = (unsigned char)(minimum >> 24);
	a->ttl = ttl;
	dnsr_put_rr(a, 6, rd, sizeof(rd));
	a->ttl = saved;
	a->ancount--;
	a->nscount++;
}

/* Writes name in wire form to p (room for 256 octets); returns length. */
static inline size_t
dnsr_put_name(unsigned char *p, const char *name)
{
	size_t o = 0;

	while (*name != '\0') {
		const char *dot = strchr(name, '.');
		size_t n = dot != NULL ? (size_t)(dot - name) : strlen(name);

		p[o++] = (unsigned char)n;
		memcpy(p + o, name, n);
		o += n;
		name += n + (dot != NULL ? 1 : 0);
	}
	p[o++] = 0;
	return o;
}

static inline void
dnsr_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct dns_responder *r = arg;
	unsigned char q[512];
	struct dnsr_answer a;
	struct sockaddr_storage from;
	socklen_t fromlen = sizeof(from);
	ssize_t n;
	char name[256];
	size_t qend = 12, nl = 0;
	unsigned qtype;
	int rcode;

	(void)what;
	n = recvfrom(fd, q, sizeof(q), 0, (struct sockaddr *)&from, &fromlen);
	if (n < 17)
		return;
	r->queries++;
	while (qend < (size_t)n && q[qend] != 0) {
		size_t len = q[qend];

		if (nl + len + 2 > sizeof(name) || qend + len + 1 > (size_t)n)
			return;
		if (nl > 0)
			name[nl++] = '.';
		memcpy(name + nl, q + qend + 1, len);
		nl += len;
		qend += len + 1;
	}
	name[nl] = '\0';
	qend += 5;
	if (qend > (size_t)n)
		return;
	qtype = (unsigned)(q[qend - 4] << 8 | q[qend - 3]);
	memcpy(a.buf, q, qend);
	a.len = qend;
	a.ancount = 0;
	a.nscount = 0;
	a.ttl = 60;
	if ((rcode = r->zone(r->arg, name, qtype, &a)) < 0)
		return;
	a.buf[2] = 0x84 | (q[2] & 1);	/* QR AA, RD copied */
	a.buf[3] = (unsigned char)rcode;
	a.buf[6] = 0;
	a.buf[7] = (unsigned char)a.ancount;
	a.buf[8] = 0;
	a.buf[9] = (unsigned char)a.nscount;
	(void)sendto(fd, a.buf, a.len, 0, (struct sockaddr *)&from, fromlen);
}

/*
 * Binds the responder to a free 127.0.0.1 port on base and writes
 * "127.0.0.1:PORT" (for resolver_new_servers) to servers. Returns 0 or -1.
 */
static inline int
dnsr_start(struct dns_responder *r, struct event_base *base,
    dnsr_zone_fn zone, void *arg, char *servers, size_t serverssz)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);

	memset(r, 0, sizeof(*r));
	r->zone = zone;
	r->arg = arg;
	if ((r->fd = socket(AF_INET, SOCK_DGRAM, 0)) == -1)
		return -1;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(r->fd, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    getsockname(r->fd, (struct sockaddr *)&sin, &len) == -1)
		return -1;
	r->ev = event_new(base, r->fd, EV_READ | EV_PERSIST, dnsr_read_cb, r);
	if (r->ev == NULL || event_add(r->ev, NULL) == -1)
		return -1;
	if ((size_t)snprintf(servers, serverssz, "127.0.0.1:%u",
	    (unsigned)ntohs(sin.sin_port)) >= serverssz)
		return -1;
	return 0;
}

static inline void
dnsr_stop(struct dns_responder *r)
{
	if (r->ev != NULL)
		event_free(r->ev);
	if (r->fd >= 0)
		close(r->fd);
	r->ev = NULL;
	r->fd = -1;
}

#endif
