/*
 * smtp_load: the SMTP load generator of the sealpost benchmark (issue 7).
 *
 * Load mode (default): C threads, each running blocking SMTP sessions
 * against 127.0.0.1:PORT, until N messages have been sent. A session is
 * connect, 220, EHLO, then B transactions (MAIL, RCPT, DATA, body, 250),
 * then QUIT. Recipients cycle over M mailboxes box01..boxM@DOMAIN. One
 * command at a time (no PIPELINING), so each reply is the server's answer
 * to one step, as a plain MX peer would see it.
 *
 * Transaction latency is the time from sending MAIL FROM to receiving the
 * reply to the final dot; connect+greeting+EHLO time is reported
 * separately as session setup latency.
 *
 * Idle mode (-I N): opens up to N connections one after the other, reads
 * each 220 (with a timeout), stops at the first connection that gets no
 * 220, prints how many are held, then waits until stdin is closed (so the
 * caller can measure the server's memory meanwhile) and closes them all.
 *
 * Output: one JSON object on stdout. Written for the benchmark only, not
 * part of the server: it is a client, reading replies from our own server
 * on loopback, but still bounds every read.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

struct opts {
	int	 port;
	long	 total;
	int	 conc;
	long	 size_kib;
	int	 batch;
	int	 boxes;
	const char *domain;
	const char *from;
	long	 idle;
	int	 timeout_s;
};

static struct opts opt = { 0, 100, 1, 4, 1, 50, "example.test",
    "bench@example.org", 0, 30 };
static atomic_long next_msg;
static atomic_long accepted;
static atomic_long failed;
static atomic_long sessions_failed;
static double *lat_txn;		/* per message, seconds; -1 if failed */
static double *lat_setup;	/* per session */
static atomic_long nsetup;
static long max_sessions_est;
static char *body;
static size_t body_len;
static char first_error[512];
static pthread_mutex_t err_mu = PTHREAD_MUTEX_INITIALIZER;

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void
note_error(const char *what, const char *line)
{
	pthread_mutex_lock(&err_mu);
	if (first_error[0] == '\0') {
		size_t i;
		int n = snprintf(first_error, sizeof(first_error), "%s: %s",
		    what, line ? line : strerror(errno));
		if (n < 0)
			first_error[0] = '?';
		for (i = 0; first_error[i] != '\0'; i++)
			if (first_error[i] == '"' || first_error[i] == '\\' ||
			    (unsigned char)first_error[i] < 0x20)
				first_error[i] = ' ';
	}
	pthread_mutex_unlock(&err_mu);
}

struct conn {
	int	 fd;
	char	 buf[8192];
	size_t	 len;	/* bytes in buf */
};

static int
conn_open(struct conn *c)
{
	struct sockaddr_in sin;
	struct timeval tv = { opt.timeout_s, 0 };
	int one = 1;

	c->len = 0;
	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		return -1;
	setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)opt.port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(c->fd, (struct sockaddr *)&sin, sizeof(sin)) != 0) {
		close(c->fd);
		c->fd = -1;
		return -1;
	}
	return 0;
}

/*
 * Reads one complete (possibly multi-line) reply; returns its code or -1.
 * The last line is left in line (NUL-terminated, CRLF stripped).
 */
static int
conn_reply(struct conn *c, char *line, size_t linesz)
{
	for (;;) {
		char *eol = memchr(c->buf, '\n', c->len);
		if (eol != NULL) {
			size_t l = (size_t)(eol - c->buf) + 1;
			size_t copy = l < linesz ? l : linesz - 1;
			int last, code;

			memcpy(line, c->buf, copy);
			line[copy] = '\0';
			line[strcspn(line, "\r\n")] = '\0';
			last = l < 4 || c->buf[3] != '-';
			code = (l >= 3 && c->buf[0] >= '1' && c->buf[0] <= '5') ?
			    (c->buf[0] - '0') * 100 + (c->buf[1] - '0') * 10 +
			    (c->buf[2] - '0') : -1;
			memmove(c->buf, c->buf + l, c->len - l);
			c->len -= l;
			if (last)
				return code;
			continue;
		}
		if (c->len == sizeof(c->buf))
			return -1;	/* line longer than the buffer */
		ssize_t n = read(c->fd, c->buf + c->len, sizeof(c->buf) - c->len);
		if (n <= 0)
			return -1;
		c->len += (size_t)n;
	}
}

static int
conn_send(struct conn *c, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(c->fd, p, n);
		if (w <= 0) {
			if (w < 0 && errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int
cmd(struct conn *c, const char *text, int want, char *line, size_t linesz)
{
	int code;

	if (text != NULL && conn_send(c, text, strlen(text)) != 0) {
		note_error("send", NULL);
		return -1;
	}
	code = conn_reply(c, line, linesz);
	if (code / 100 != want / 100) {
		note_error(text ? text : "greeting", code < 0 ? "no reply" : line);
		return -1;
	}
	return 0;
}

static void *
worker(void *arg)
{
	struct conn c;
	char line[1024], cmdbuf[512];

	(void)arg;
	for (;;) {
		long first = atomic_fetch_add(&next_msg, opt.batch);
		long i, last;
		double t0;

		if (first >= opt.total)
			break;
		last = first + opt.batch;
		if (last > opt.total)
			last = opt.total;
		t0 = now();
		if (conn_open(&c) != 0) {
			note_error("connect", NULL);
			atomic_fetch_add(&sessions_failed, 1);
			atomic_fetch_add(&failed, last - first);
			continue;
		}
		if (cmd(&c, NULL, 220, line, sizeof(line)) != 0 ||
		    cmd(&c, "EHLO client.example.org\r\n", 250, line,
		    sizeof(line)) != 0) {
			atomic_fetch_add(&sessions_failed, 1);
			atomic_fetch_add(&failed, last - first);
			close(c.fd);
			continue;
		}
		{
			long k = atomic_fetch_add(&nsetup, 1);
			if (k < max_sessions_est)
				lat_setup[k] = now() - t0;
		}
		for (i = first; i < last; i++) {
			double t1 = now();
			int n, ok = 0;

			n = snprintf(cmdbuf, sizeof(cmdbuf),
			    "MAIL FROM:<%s> SIZE=%zu\r\n", opt.from, body_len);
			if (n < 0 || (size_t)n >= sizeof(cmdbuf))
				abort();
			if (cmd(&c, cmdbuf, 250, line, sizeof(line)) != 0)
				goto txn_end;
			n = snprintf(cmdbuf, sizeof(cmdbuf),
			    "RCPT TO:<box%02ld@%s>\r\n",
			    i % opt.boxes + 1, opt.domain);
			if (n < 0 || (size_t)n >= sizeof(cmdbuf))
				abort();
			if (cmd(&c, cmdbuf, 250, line, sizeof(line)) != 0)
				goto txn_end;
			if (cmd(&c, "DATA\r\n", 354, line, sizeof(line)) != 0)
				goto txn_end;
			n = snprintf(cmdbuf, sizeof(cmdbuf),
			    "From: <%s>\r\nTo: <box%02ld@%s>\r\n"
			    "Subject: bench %ld\r\nMessage-ID: <bench.%ld.%ld@example.org>\r\n"
			    "Date: Sat, 28 Nov 2026 20:00:00 +0000\r\n\r\n",
			    opt.from, i % opt.boxes + 1, opt.domain, i,
			    (long)getpid(), i);
			if (n < 0 || (size_t)n >= sizeof(cmdbuf))
				abort();
			if (conn_send(&c, cmdbuf, (size_t)n) != 0 ||
			    conn_send(&c, body, body_len) != 0) {
				note_error("send body", NULL);
				goto txn_end;
			}
			if (cmd(&c, ".\r\n", 250, line, sizeof(line)) != 0)
				goto txn_end;
			ok = 1;
txn_end:
			if (ok) {
				lat_txn[i] = now() - t1;
				atomic_fetch_add(&accepted, 1);
			} else {
				lat_txn[i] = -1;
				atomic_fetch_add(&failed, last - i);
				for (i++; i < last; i++)
					lat_txn[i] = -1;
				close(c.fd);
				c.fd = -1;
				break;
			}
		}
		if (c.fd >= 0) {
			(void)cmd(&c, "QUIT\r\n", 221, line, sizeof(line));
			close(c.fd);
		}
	}
	return NULL;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* The p-th percentile (0..100) of the n values v >= 0 in v (sorted here). */
static double
percentile(double *v, long n, double p)
{
	long k;

	if (n == 0)
		return -1;
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	k = (long)(p / 100.0 * (double)(n - 1) + 0.5);
	return v[k];
}

static void
make_body(void)
{
	/* Printable 76-column lines plus CRLF, no line starts with '.'. */
	size_t want = (size_t)opt.size_kib * 1024, i = 0;
	long ln = 0;

	body = malloc(want + 128);
	if (body == NULL)
		abort();
	while (i + 78 <= want) {
		int k;
		for (k = 0; k < 76; k++)
			body[i + k] = (char)('a' + (ln + k) % 26);
		body[i + 76] = '\r';
		body[i + 77] = '\n';
		i += 78;
		ln++;
	}
	while (i + 2 < want)
		body[i++] = 'x';
	body[i++] = '\r';
	body[i++] = '\n';
	body_len = i;
}

static int
run_idle(void)
{
	struct conn *cs;
	long held = 0, i;
	char line[1024];
	double t0 = now();
	char drain[64];

	cs = calloc((size_t)opt.idle, sizeof(*cs));
	if (cs == NULL)
		abort();
	for (i = 0; i < opt.idle; i++) {
		if (conn_open(&cs[i]) != 0) {
			note_error("connect", NULL);
			break;
		}
		if (conn_reply(&cs[i], line, sizeof(line)) != 220) {
			note_error("no 220", line);
			close(cs[i].fd);
			break;
		}
		held++;
	}
	printf("{\"mode\":\"idle\",\"wanted\":%ld,\"held\":%ld,"
	    "\"open_seconds\":%.3f,\"first_error\":\"%s\"}\n",
	    opt.idle, held, now() - t0, first_error);
	fflush(stdout);
	/* Hold them until the caller closes our stdin. */
	while (read(0, drain, sizeof(drain)) > 0)
		;
	for (i = 0; i < held; i++)
		close(cs[i].fd);
	free(cs);
	return 0;
}

static void
usage(void)
{
	fprintf(stderr, "usage: smtp_load -p PORT [-n MSGS] [-c CONC] "
	    "[-s KIB] [-b PER_CONN] [-m MAILBOXES] [-d DOMAIN] [-f FROM] "
	    "[-t TIMEOUT_S] | -p PORT -I CONNECTIONS\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	int ch;
	long i, nok = 0;
	pthread_t *th;
	double t0, el;
	struct rusage ru;
	struct rlimit rl;
	double *v;

	while ((ch = getopt(argc, argv, "p:n:c:s:b:m:d:f:I:t:")) != -1) {
		switch (ch) {
		case 'p': opt.port = (int)strtol(optarg, NULL, 10); break;
		case 'n': opt.total = strtol(optarg, NULL, 10); break;
		case 'c': opt.conc = (int)strtol(optarg, NULL, 10); break;
		case 's': opt.size_kib = strtol(optarg, NULL, 10); break;
		case 'b': opt.batch = (int)strtol(optarg, NULL, 10); break;
		case 'm': opt.boxes = (int)strtol(optarg, NULL, 10); break;
		case 'd': opt.domain = optarg; break;
		case 'f': opt.from = optarg; break;
		case 'I': opt.idle = strtol(optarg, NULL, 10); break;
		case 't': opt.timeout_s = (int)strtol(optarg, NULL, 10); break;
		default: usage();
		}
	}
	if (opt.port <= 0 || opt.port > 65535 || opt.total <= 0 ||
	    opt.conc <= 0 || opt.size_kib <= 0 || opt.batch <= 0 ||
	    opt.boxes <= 0 || opt.timeout_s <= 0)
		usage();
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (opt.idle > 0) {
		if (opt.timeout_s > 5)
			opt.timeout_s = 5;
		return run_idle();
	}

	make_body();
	lat_txn = calloc((size_t)opt.total, sizeof(double));
	max_sessions_est = opt.total;
	lat_setup = calloc((size_t)max_sessions_est, sizeof(double));
	th = calloc((size_t)opt.conc, sizeof(*th));
	if (lat_txn == NULL || lat_setup == NULL || th == NULL)
		abort();
	t0 = now();
	for (i = 0; i < opt.conc; i++)
		if (pthread_create(&th[i], NULL, worker, NULL) != 0)
			abort();
	for (i = 0; i < opt.conc; i++)
		pthread_join(th[i], NULL);
	el = now() - t0;
	getrusage(RUSAGE_SELF, &ru);

	v = malloc((size_t)opt.total * sizeof(double));
	if (v == NULL)
		abort();
	for (i = 0; i < opt.total; i++)
		if (lat_txn[i] >= 0 && atomic_load(&accepted) > 0)
			v[nok++] = lat_txn[i];
	{
		double p50 = percentile(v, nok, 50), p99 = percentile(v, nok, 99);
		long ns = atomic_load(&nsetup);
		double s50, s99;
		double cpu = ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
		    ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;

		if (ns > max_sessions_est)
			ns = max_sessions_est;
		s50 = percentile(lat_setup, ns, 50);
		s99 = percentile(lat_setup, ns, 99);
		printf("{\"mode\":\"load\",\"messages\":%ld,\"size_kib\":%ld,"
		    "\"concurrency\":%d,\"per_connection\":%d,\"mailboxes\":%d,"
		    "\"accepted\":%ld,\"failed\":%ld,\"sessions_failed\":%ld,"
		    "\"seconds\":%.4f,\"accepted_per_s\":%.2f,"
		    "\"txn_p50_ms\":%.3f,\"txn_p99_ms\":%.3f,"
		    "\"setup_p50_ms\":%.3f,\"setup_p99_ms\":%.3f,"
		    "\"client_cpu_s\":%.3f,\"client_cpu_share\":%.4f,"
		    "\"first_error\":\"%s\"}\n",
		    opt.total, opt.size_kib, opt.conc, opt.batch, opt.boxes,
		    atomic_load(&accepted), atomic_load(&failed),
		    atomic_load(&sessions_failed), el,
		    atomic_load(&accepted) / el, p50 * 1000, p99 * 1000,
		    s50 * 1000, s99 * 1000, cpu, cpu / el, first_error);
	}
	return atomic_load(&failed) == 0 ? 0 : 1;
}
