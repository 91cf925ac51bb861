/* Shared per-IP and total session counters; see limits.h. */
#include "net/limits.h"

#include <netinet/in.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

#include "core/log.h"

/*
 * Addresses hash into buckets; two addresses sharing a bucket share a
 * count, which can only make the limit stricter for them, never looser.
 */
#define LIMITS_BUCKETS	4096

struct limits_row {
	atomic_uint	total;
	atomic_uint	per_ip[LIMITS_BUCKETS];
};

struct conn_limits {
	unsigned		 n_rows;
	unsigned		 mine;
	struct limits_row	 rows[];
};

struct conn_limits *
conn_limits_new_shared(unsigned n_workers)
{
	size_t size = sizeof(struct conn_limits) +
	    (size_t)n_workers * sizeof(struct limits_row);
	struct conn_limits *l = mmap(NULL, size, PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	if (l == MAP_FAILED)
		fatal("mmap(%zu) for connection limits failed", size);
	memset(l, 0, size);
	l->n_rows = n_workers;
	return l;
}

void
conn_limits_set_worker(struct conn_limits *l, unsigned worker)
{
	l->mine = worker < l->n_rows ? worker : 0;
}

void
conn_limits_reset_worker(struct conn_limits *l, unsigned worker)
{
	struct limits_row *row;

	if (worker >= l->n_rows)
		return;
	row = &l->rows[worker];
	atomic_store(&row->total, 0);
	for (size_t i = 0; i < LIMITS_BUCKETS; i++)
		atomic_store(&row->per_ip[i], 0);
}

static unsigned
limits_bucket(const struct sockaddr *addr)
{
	const unsigned char *p;
	size_t n;
	uint32_t h = 2166136261u;

	if (addr->sa_family == AF_INET) {
		p = (const unsigned char *)&((const struct sockaddr_in *)addr)->sin_addr;
		n = 4;
	} else if (addr->sa_family == AF_INET6) {
		const struct in6_addr *a6 =
		    &((const struct sockaddr_in6 *)addr)->sin6_addr;

		p = a6->s6_addr;
		/* IPv4-mapped counts as IPv4; other IPv6 by /64 (one site). */
		if (IN6_IS_ADDR_V4MAPPED(a6)) {
			p += 12;
			n = 4;
		} else {
			n = 8;
		}
	} else {
		return 0;
	}
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 16777619u;
	return h % LIMITS_BUCKETS;
}

bool
conn_limits_acquire(struct conn_limits *l, const struct sockaddr *addr,
    unsigned max_total, unsigned max_per_ip)
{
	unsigned bucket = limits_bucket(addr);
	unsigned total = 0, per_ip = 0;

	for (unsigned r = 0; r < l->n_rows; r++) {
		total += atomic_load(&l->rows[r].total);
		per_ip += atomic_load(&l->rows[r].per_ip[bucket]);
	}
	if ((max_total > 0 && total >= max_total) ||
	    (max_per_ip > 0 && per_ip >= max_per_ip))
		return false;
	atomic_fetch_add(&l->rows[l->mine].total, 1);
	atomic_fetch_add(&l->rows[l->mine].per_ip[bucket], 1);
	return true;
}

void
conn_limits_release(struct conn_limits *l, const struct sockaddr *addr)
{
	unsigned bucket = limits_bucket(addr);
	struct limits_row *row = &l->rows[l->mine];

	if (atomic_load(&row->total) > 0)
		atomic_fetch_sub(&row->total, 1);
	if (atomic_load(&row->per_ip[bucket]) > 0)
		atomic_fetch_sub(&row->per_ip[bucket], 1);
}
