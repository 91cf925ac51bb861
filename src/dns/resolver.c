/*
 * The c-ares channel of one worker (or CLI run), driven by libevent: c-ares
 * tells us through its socket-state callback which sockets to watch, an
 * event per socket feeds ares_process_fd(), and one timer set from
 * ares_timeout() drives retransmissions and timeouts. Answers are parsed
 * with c-ares's own ares_parse_*_reply() and handed to the caller as a
 * bounded struct dns_result.
 */
#include "dns/resolver.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <ares.h>
#include <event2/event.h>

#include "core/config.h"
#include "core/log.h"
#include "core/xmalloc.h"
#include "dns/dnscache.h"

struct resolver_sock {
	struct resolver_sock	*next;
	struct resolver		*r;
	ares_socket_t		 fd;
	struct event		*ev;
};

struct dns_query {
	struct resolver		*r;
	struct dns_query	*next_deferred;
	enum dns_type		 type;
	dns_callback		 cb;
	void			*arg;
	bool			 cancelled;
	bool			 submitting;	/* inside ares_query() */
	bool			 deferred;	/* on r->deferred */
	int			 sync_status;
	unsigned char		*cached;	/* answer from the cache, or NULL */
	size_t			 cached_len;
	char			 name[DNS_NAME_MAX + 1];
};

struct resolver {
	struct event_base	*base;
	ares_channel		 channel;
	struct event		*timer;
	struct event		*deferred_ev;
	struct resolver_sock	*socks;
	struct dns_query	*deferred;	/* failed before being sent, or
						   answered from the cache */
	struct dns_cache	*cache;		/* NULL: caching off */
};

static const int qtype_code[] = { 1, 28, 15, 16, 12 };	/* RFC 1035, 3596 */

/* Seconds on a clock that never goes back (cache expiry). */
static uint64_t
monotonic_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec;
}

const char *
dns_status_name(enum dns_status st)
{
	switch (st) {
	case DNS_OK:
		return "ok";
	case DNS_NXDOMAIN:
		return "nxdomain";
	case DNS_NODATA:
		return "nodata";
	default:
		return "tempfail";
	}
}

const char *
dns_type_name(enum dns_type t)
{
	static const char *const names[] = { "A", "AAAA", "MX", "TXT", "PTR" };

	return (unsigned)t < sizeof(names) / sizeof(names[0]) ? names[t] : "?";
}

int
dns_reverse_name(int family, const unsigned char *a, char *out, size_t outsz)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;
	int n;

	if (family == AF_INET) {
		n = snprintf(out, outsz, "%u.%u.%u.%u.in-addr.arpa", a[3], a[2],
		    a[1], a[0]);
		return n < 0 || (size_t)n >= outsz ? -1 : 0;
	}
	/* RFC 3596 2.5: nibbles, least significant first. 16*4 + 9 + 1. */
	if (outsz < 16 * 4 + sizeof("ip6.arpa"))
		return -1;
	for (int i = 15; i >= 0; i--) {
		out[o++] = hex[a[i] & 0xf];
		out[o++] = '.';
		out[o++] = hex[a[i] >> 4];
		out[o++] = '.';
	}
	memcpy(out + o, "ip6.arpa", sizeof("ip6.arpa"));
	return 0;
}

/* --- loop glue --- */

static void
resolver_timer_update(struct resolver *r)
{
	struct timeval tv, *tvp;

	tvp = ares_timeout(r->channel, NULL, &tv);
	if (tvp == NULL)
		evtimer_del(r->timer);
	else
		evtimer_add(r->timer, tvp);
}

static void
resolver_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct resolver *r = arg;

	(void)fd;
	(void)what;
	ares_process_fd(r->channel, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
	resolver_timer_update(r);
}

static void
resolver_sock_cb(evutil_socket_t fd, short what, void *arg)
{
	struct resolver_sock *rs = arg;
	struct resolver *r = rs->r;	/* rs may be freed by c-ares below */

	ares_process_fd(r->channel, (what & EV_READ) ? fd : ARES_SOCKET_BAD,
	    (what & EV_WRITE) ? fd : ARES_SOCKET_BAD);
	resolver_timer_update(r);
}

/* c-ares says which of its sockets to watch, and for what. */
static void
resolver_sock_state(void *data, ares_socket_t fd, int readable, int writable)
{
	struct resolver *r = data;
	struct resolver_sock **pp, *rs;
	short what = EV_PERSIST;

	for (pp = &r->socks; *pp != NULL; pp = &(*pp)->next)
		if ((*pp)->fd == fd)
			break;
	rs = *pp;
	if (rs != NULL) {
		event_free(rs->ev);
		rs->ev = NULL;
	}
	if (!readable && !writable) {
		if (rs != NULL) {
			*pp = rs->next;
			free(rs);
		}
		return;
	}
	if (rs == NULL) {
		rs = xcalloc(1, sizeof(*rs));
		rs->r = r;
		rs->fd = fd;
		rs->next = r->socks;
		r->socks = rs;
	}
	if (readable)
		what |= EV_READ;
	if (writable)
		what |= EV_WRITE;
	rs->ev = event_new(r->base, fd, what, resolver_sock_cb, rs);
	if (rs->ev == NULL || event_add(rs->ev, NULL) == -1)
		log_error("dns event=watch-failed fd=%d", (int)fd);
}

/* --- answers --- */

static void
rr_set_name(struct dns_rr *rr, const char *name)
{
	size_t len = strnlen(name, DNS_NAME_MAX);

	/* Names compare without the root's trailing dot. */
	if (len > 0 && name[len - 1] == '.')
		len--;
	rr->text = xmalloc(len + 1);
	memcpy(rr->text, name, len);
	rr->text[len] = '\0';
	rr->text_len = len;
}

static int
parse_addrs(enum dns_type type, const unsigned char *abuf, int alen,
    struct dns_result *res)
{
	int n = DNS_MAX_RR, rc;

	if (type == DNS_A) {
		struct ares_addrttl a[DNS_MAX_RR];

		rc = ares_parse_a_reply(abuf, alen, NULL, a, &n);
		for (int i = 0; rc == ARES_SUCCESS && i < n; i++) {
			res->rr[i].family = AF_INET;
			memcpy(res->rr[i].addr, &a[i].ipaddr, 4);
		}
	} else {
		struct ares_addr6ttl a[DNS_MAX_RR];

		rc = ares_parse_aaaa_reply(abuf, alen, NULL, a, &n);
		for (int i = 0; rc == ARES_SUCCESS && i < n; i++) {
			res->rr[i].family = AF_INET6;
			memcpy(res->rr[i].addr, &a[i].ip6addr, 16);
		}
	}
	if (rc == ARES_SUCCESS)
		res->n = (size_t)n;
	return rc;
}

static int
parse_mx(const unsigned char *abuf, int alen, struct dns_result *res)
{
	struct ares_mx_reply *mx = NULL, *m;
	int rc = ares_parse_mx_reply(abuf, alen, &mx);

	for (m = mx; rc == ARES_SUCCESS && m != NULL && res->n < DNS_MAX_RR;
	    m = m->next) {
		res->rr[res->n].pref = m->priority;
		rr_set_name(&res->rr[res->n], m->host);
		res->n++;
	}
	if (mx != NULL)
		ares_free_data(mx);
	return rc;
}

/* RFC 7208 3.3: the strings of one TXT record are joined without spaces. */
static int
parse_txt(const unsigned char *abuf, int alen, struct dns_result *res)
{
	struct ares_txt_ext *txt = NULL, *t;
	struct dns_rr *cur = NULL;
	int rc = ares_parse_txt_reply_ext(abuf, alen, &txt);

	for (t = txt; rc == ARES_SUCCESS && t != NULL; t = t->next) {
		if (t->record_start || cur == NULL) {
			if (res->n == DNS_MAX_RR)
				break;
			cur = &res->rr[res->n++];
			cur->text = xmalloc(DNS_TXT_MAX + 1);
			cur->text_len = 0;
			cur->text[0] = '\0';
		}
		if (t->length > DNS_TXT_MAX - cur->text_len) {
			/* Too long to be any policy we read: keep it marked. */
			cur->text_len = DNS_TXT_MAX;
			cur->text[DNS_TXT_MAX] = '\0';
			continue;
		}
		memcpy(cur->text + cur->text_len, t->txt, t->length);
		cur->text_len += t->length;
		cur->text[cur->text_len] = '\0';
	}
	if (txt != NULL)
		ares_free_data(txt);
	return rc;
}

static int
parse_ptr(const unsigned char *abuf, int alen, struct dns_result *res)
{
	static const unsigned char dummy[4];
	struct hostent *he = NULL;
	int rc = ares_parse_ptr_reply(abuf, alen, dummy, sizeof(dummy),
	    AF_INET, &he);

	/* c-ares lists every PTR target among the aliases. */
	for (size_t i = 0; rc == ARES_SUCCESS && he->h_aliases != NULL &&
	    he->h_aliases[i] != NULL && res->n < DNS_MAX_RR; i++)
		rr_set_name(&res->rr[res->n++], he->h_aliases[i]);
	if (rc == ARES_SUCCESS && res->n == 0 && he->h_name != NULL)
		rr_set_name(&res->rr[res->n++], he->h_name);
	if (he != NULL)
		ares_free_hostent(he);
	return rc;
}

static void
result_from_status(struct dns_result *res, int status)
{
	switch (status) {
	case ARES_SUCCESS:
		res->status = res->n > 0 ? DNS_OK : DNS_NODATA;
		break;
	case ARES_ENODATA:
		res->status = DNS_NODATA;
		break;
	case ARES_ENOTFOUND:
	case ARES_EBADNAME:	/* a name that cannot exist */
		res->status = DNS_NXDOMAIN;
		break;
	default:
		res->status = DNS_TEMPFAIL;
		res->error = ares_strerror(status);
		break;
	}
	if (res->status != DNS_OK) {
		for (size_t i = 0; i < res->n; i++)
			free(res->rr[i].text);
		res->n = 0;
	}
}

static void
query_deliver(struct dns_query *q, int status, const unsigned char *abuf,
    int alen)
{
	struct dns_rr rr[DNS_MAX_RR];
	struct dns_result res;

	memset(&res, 0, sizeof(res));
	memset(rr, 0, sizeof(rr));
	res.type = q->type;
	res.name = q->name;
	res.rr = rr;
	if (status == ARES_SUCCESS) {
		switch (q->type) {
		case DNS_A:
		case DNS_AAAA:
			status = parse_addrs(q->type, abuf, alen, &res);
			break;
		case DNS_MX:
			status = parse_mx(abuf, alen, &res);
			break;
		case DNS_TXT:
			status = parse_txt(abuf, alen, &res);
			break;
		case DNS_PTR:
			status = parse_ptr(abuf, alen, &res);
			break;
		}
	}
	result_from_status(&res, status);
	log_debug("dns event=answer name=%s type=%s status=%s n=%zu cached=%d",
	    q->name, dns_type_name(q->type), dns_status_name(res.status), res.n,
	    q->cached != NULL);
	q->cb(q->arg, &res);
	for (size_t i = 0; i < res.n; i++)
		free(rr[i].text);
}

/* Keeps what may be kept: answers and denials, never failures. */
static void
cache_answer(struct dns_query *q, int status, const unsigned char *abuf,
    int alen)
{
	enum dns_cache_kind kind;

	if (q->r->cache == NULL || abuf == NULL || alen <= 0)
		return;
	if (status == ARES_SUCCESS)
		kind = DNS_CACHE_POSITIVE;
	else if (status == ARES_ENODATA || status == ARES_ENOTFOUND)
		kind = DNS_CACHE_NEGATIVE;
	else
		return;
	dns_cache_put(q->r->cache, q->name, (unsigned)qtype_code[q->type],
	    status, abuf, (size_t)alen, dns_answer_ttl(abuf, (size_t)alen,
	    kind), monotonic_seconds());
}

static void
query_cb(void *arg, int status, int timeouts, unsigned char *abuf, int alen)
{
	struct dns_query *q = arg;

	(void)timeouts;
	if (status != ARES_EDESTRUCTION)
		cache_answer(q, status, abuf, alen);
	if (q->submitting) {
		/* Failed inside ares_query(): answer from the loop instead. */
		q->sync_status = status;
		q->deferred = true;
		return;
	}
	if (!q->cancelled && status != ARES_EDESTRUCTION)
		query_deliver(q, status, abuf, alen);
	free(q);
}

static void
resolver_deferred_cb(evutil_socket_t fd, short what, void *arg)
{
	struct resolver *r = arg;
	struct dns_query *q;

	(void)fd;
	(void)what;
	while ((q = r->deferred) != NULL) {
		r->deferred = q->next_deferred;
		if (!q->cancelled)
			query_deliver(q, q->sync_status, q->cached,
			    (int)q->cached_len);
		free(q->cached);
		free(q);
	}
}

static void
resolver_defer(struct resolver *r, struct dns_query *q, int status)
{
	q->deferred = true;
	q->sync_status = status;
	q->next_deferred = r->deferred;
	r->deferred = q;
	event_active(r->deferred_ev, EV_TIMEOUT, 0);
}

struct dns_query *
resolver_query(struct resolver *r, const char *name, enum dns_type type,
    dns_callback cb, void *arg)
{
	struct dns_query *q = xcalloc(1, sizeof(*q));
	size_t len = strlen(name);
	int status;

	q->r = r;
	q->type = type;
	q->cb = cb;
	q->arg = arg;
	if (len == 0 || len > 253 + 1) {
		snprintf(q->name, sizeof(q->name), "%.*s", 64, name);
		resolver_defer(r, q, ARES_EBADNAME);
		return q;
	}
	memcpy(q->name, name, len + 1);
	if (dns_cache_get(r->cache, q->name, (unsigned)qtype_code[type],
	    monotonic_seconds(), &status, &q->cached, &q->cached_len)) {
		resolver_defer(r, q, status);
		return q;
	}
	q->submitting = true;
	ares_query(r->channel, q->name, 1 /* C_IN */, qtype_code[type],
	    query_cb, q);
	q->submitting = false;
	if (q->deferred) {
		q->deferred = false;
		resolver_defer(r, q, q->sync_status);
		return q;
	}
	resolver_timer_update(r);
	return q;
}

void
dns_query_cancel(struct dns_query **qp)
{
	if (*qp == NULL)
		return;
	(*qp)->cancelled = true;
	*qp = NULL;
}

/* --- setup --- */

static struct resolver *
resolver_create(struct event_base *base, const struct config_listen *srv,
    size_t n, unsigned timeout_ms, unsigned retries, const char **err)
{
	struct ares_addr_port_node nodes[CONFIG_MAX_DNS];
	struct ares_options o;
	struct resolver *r;
	int rc;

	if (n == 0 || n > CONFIG_MAX_DNS) {
		*err = "no DNS servers configured";
		return NULL;
	}
	if ((rc = ares_library_init(ARES_LIB_INIT_ALL)) != ARES_SUCCESS) {
		*err = ares_strerror(rc);
		return NULL;
	}
	r = xcalloc(1, sizeof(*r));
	r->base = base;
	memset(&o, 0, sizeof(o));
	o.sock_state_cb = resolver_sock_state;
	o.sock_state_cb_data = r;
	o.timeout = (int)timeout_ms;
	o.tries = (int)retries + 1;
	/* Exact names only: no search list, no /etc/hosts. */
	o.flags = ARES_FLAG_NOSEARCH | ARES_FLAG_NOALIASES;
	o.lookups = (char *)"b";
	rc = ares_init_options(&r->channel, &o, ARES_OPT_SOCK_STATE_CB |
	    ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES | ARES_OPT_FLAGS |
	    ARES_OPT_LOOKUPS);
	if (rc != ARES_SUCCESS) {
		*err = ares_strerror(rc);
		free(r);
		return NULL;
	}
	memset(nodes, 0, sizeof(nodes));
	for (size_t i = 0; i < n; i++) {
		const struct sockaddr *sa = (const void *)&srv[i].addr;

		nodes[i].next = i + 1 < n ? &nodes[i + 1] : NULL;
		nodes[i].family = sa->sa_family;
		if (sa->sa_family == AF_INET) {
			const struct sockaddr_in *in = (const void *)sa;

			memcpy(&nodes[i].addr.addr4, &in->sin_addr, 4);
			nodes[i].udp_port = nodes[i].tcp_port =
			    ntohs(in->sin_port);
		} else {
			const struct sockaddr_in6 *in6 = (const void *)sa;

			memcpy(&nodes[i].addr.addr6, &in6->sin6_addr, 16);
			nodes[i].udp_port = nodes[i].tcp_port =
			    ntohs(in6->sin6_port);
		}
	}
	if ((rc = ares_set_servers_ports(r->channel, nodes)) != ARES_SUCCESS) {
		*err = ares_strerror(rc);
		ares_destroy(r->channel);
		free(r);
		return NULL;
	}
	r->timer = evtimer_new(base, resolver_timer_cb, r);
	r->deferred_ev = event_new(base, -1, 0, resolver_deferred_cb, r);
	return r;
}

struct resolver *
resolver_new(struct event_base *base, const struct config *cfg,
    const char **err)
{
	struct resolver *r = resolver_create(base, cfg->dns_servers,
	    cfg->n_dns, cfg->dns_timeout * 1000, cfg->dns_retries, err);

	if (r != NULL)
		resolver_set_cache(r, cfg->dns_cache_size);
	return r;
}

struct resolver *
resolver_new_servers(struct event_base *base, const char *list,
    unsigned timeout_ms, unsigned retries, const char **err)
{
	struct config_listen srv[CONFIG_MAX_DNS];
	char item[128];
	size_t n = 0;
	const char *p = list;

	while (*p != '\0') {
		size_t len = strcspn(p, ", ");

		if (len > 0) {
			if (n == CONFIG_MAX_DNS || len >= sizeof(item)) {
				*err = "too many or too long DNS servers";
				return NULL;
			}
			memcpy(item, p, len);
			item[len] = '\0';
			if (config_parse_dns_server(item, &srv[n]) == -1) {
				*err = "bad DNS server (IP, IP:port or "
				    "[IPv6]:port)";
				return NULL;
			}
			n++;
		}
		p += len;
		if (*p != '\0')
			p++;
	}
	return resolver_create(base, srv, n, timeout_ms, retries, err);
}

void
resolver_set_cache(struct resolver *r, size_t max_entries)
{
	dns_cache_free(&r->cache);
	r->cache = dns_cache_new(max_entries);
}

size_t
resolver_cache_count(const struct resolver *r)
{
	return dns_cache_count(r->cache);
}

struct event_base *
resolver_base(const struct resolver *r)
{
	return r->base;
}

void
resolver_free(struct resolver **rp)
{
	struct resolver *r = *rp;
	struct dns_query *q;

	if (r == NULL)
		return;
	*rp = NULL;
	/* Every outstanding query's callback runs with ARES_EDESTRUCTION. */
	ares_destroy(r->channel);
	while ((q = r->deferred) != NULL) {
		r->deferred = q->next_deferred;
		free(q->cached);
		free(q);
	}
	dns_cache_free(&r->cache);
	while (r->socks != NULL) {
		struct resolver_sock *rs = r->socks;

		r->socks = rs->next;
		if (rs->ev != NULL)
			event_free(rs->ev);
		free(rs);
	}
	event_free(r->timer);
	event_free(r->deferred_ev);
	free(r);
}
