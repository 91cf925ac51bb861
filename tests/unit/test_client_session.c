/*
 * The outbound client session against a scripted peer in the same event
 * loop (loopback TCP): PIPELINING and lock-step give the same
 * per-recipient results, SIZE / 8BITMIME / SMTPUTF8 refusals happen
 * before MAIL, enhanced status codes are parsed, HELO fallback, timeouts,
 * a peer hanging up in DATA, and connection reuse (smtp_client_next,
 * smtp_client_close, the idle timer and closed()).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

#include "core/buf.h"
#include "core/config.h"
#include "smtp/client.h"

/* --- the scripted peer ----------------------------------------------- */

struct peer {
	struct event_base	*base;
	struct evconnlistener	*lis;
	struct sockaddr_in	 addr;
	/* Behaviour. */
	const char		*ehlo;		/* whole reply; NULL = 500 */
	const char		*mail_reply;	/* NULL = 250 */
	const char		*refuse;	/* RCPT containing this ... */
	const char		*refuse_reply;	/* ... gets this */
	const char		*dot_reply;	/* NULL = 250 2.0.0 queued */
	bool			 stall;		/* never greet */
	bool			 close_in_data;
	const char		*after_dot;	/* sent after the dot's reply */
	/* What happened. */
	int			 connections;
	int			 messages;
	int			 rsets, quits, mails;
	size_t			 max_batch;	/* lines queued behind a MAIL */
	char			 last_mail[512];
	char			 cmds[4096];	/* every command, '|' after each */
	size_t			 cmds_len;
	char			 data[8192];
	size_t			 data_len;
	struct peer_conn	*conns;		/* open, freed at teardown */
};

struct peer_conn {
	struct peer		*p;
	struct bufferevent	*bev;
	struct peer_conn	*next, **prevp;
	bool			 in_data;
	int			 n_ok;
};

/* A test may end before the peer saw the client go: teardown frees the
 * connections still open, so the sanitizer sees no leak. */
static void
peer_conn_free(struct peer_conn *pc)
{
	*pc->prevp = pc->next;
	if (pc->next != NULL)
		pc->next->prevp = pc->prevp;
	bufferevent_free(pc->bev);
	free(pc);
}

static void
peer_send(struct bufferevent *bev, const char *text)
{
	evbuffer_add_printf(bufferevent_get_output(bev), "%s\r\n", text);
}

static size_t
count_lines(struct evbuffer *in)
{
	size_t n = 0, len = evbuffer_get_length(in);
	unsigned char *all = evbuffer_pullup(in, -1);

	for (size_t i = 0; i + 1 < len; i++)
		n += all[i] == '\r' && all[i + 1] == '\n';
	return n;
}

static void
peer_command(struct peer_conn *pc, struct bufferevent *bev, const char *line,
    struct evbuffer *in)
{
	struct peer *p = pc->p;
	size_t n = strlen(line);

	if (p->cmds_len + n + 2 < sizeof(p->cmds)) {
		memcpy(p->cmds + p->cmds_len, line, n);
		p->cmds_len += n;
		p->cmds[p->cmds_len++] = '|';
		p->cmds[p->cmds_len] = '\0';
	}
	if (strncmp(line, "EHLO", 4) == 0)
		peer_send(bev, p->ehlo != NULL ? p->ehlo : "500 5.5.1 what?");
	else if (strncmp(line, "HELO", 4) == 0)
		peer_send(bev, "250 peer.test");
	else if (strncmp(line, "MAIL", 4) == 0) {
		size_t queued = count_lines(in);

		if (queued > p->max_batch)
			p->max_batch = queued;
		p->mails++;
		pc->n_ok = 0;
		(void)snprintf(p->last_mail, sizeof(p->last_mail), "%s", line);
		peer_send(bev, p->mail_reply != NULL ? p->mail_reply :
		    "250 2.1.0 ok");
	} else if (strncmp(line, "RCPT", 4) == 0) {
		if (p->refuse != NULL && strstr(line, p->refuse) != NULL)
			peer_send(bev, p->refuse_reply);
		else if (p->mail_reply != NULL && p->mail_reply[0] != '2')
			peer_send(bev, "503 5.5.1 need MAIL");
		else {
			pc->n_ok++;
			peer_send(bev, "250 2.1.5 ok");
		}
	} else if (strcmp(line, "DATA") == 0) {
		if (pc->n_ok == 0)
			peer_send(bev, "554 5.5.1 no valid recipients");
		else {
			pc->in_data = true;
			p->data_len = 0;
			peer_send(bev, "354 go on");
		}
	} else if (strcmp(line, "RSET") == 0) {
		p->rsets++;
		pc->n_ok = 0;
		peer_send(bev, "250 2.0.0 ok");
	} else if (strcmp(line, "QUIT") == 0) {
		p->quits++;
		peer_send(bev, "221 2.0.0 bye");
	} else
		peer_send(bev, "502 5.5.2 no");
}

static void
peer_read_cb(struct bufferevent *bev, void *arg)
{
	struct peer_conn *pc = arg;
	struct peer *p = pc->p;
	struct evbuffer *in = bufferevent_get_input(bev);
	char *line;
	size_t len;

	while ((line = evbuffer_readln(in, &len, EVBUFFER_EOL_CRLF)) != NULL) {
		if (pc->in_data) {
			if (p->close_in_data) {
				free(line);
				peer_conn_free(pc);
				return;
			}
			if (strcmp(line, ".") == 0) {
				pc->in_data = false;
				p->messages++;
				peer_send(bev, p->dot_reply != NULL ?
				    p->dot_reply : "250 2.0.0 queued");
				if (p->after_dot != NULL)
					peer_send(bev, p->after_dot);
			} else if (p->data_len + len + 2 < sizeof(p->data)) {
				memcpy(p->data + p->data_len, line, len);
				memcpy(p->data + p->data_len + len, "\r\n", 2);
				p->data_len += len + 2;
			}
		} else
			peer_command(pc, bev, line, in);
		free(line);
	}
}

static void
peer_event_cb(struct bufferevent *bev, short what, void *arg)
{
	(void)bev;
	(void)what;
	peer_conn_free(arg);
}

static void
peer_accept_cb(struct evconnlistener *lis, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	struct peer *p = arg;
	struct peer_conn *pc = calloc(1, sizeof(*pc));
	struct bufferevent *bev = bufferevent_socket_new(p->base, fd,
	    BEV_OPT_CLOSE_ON_FREE);

	(void)lis;
	(void)sa;
	(void)salen;
	pc->p = p;
	pc->bev = bev;
	pc->next = p->conns;
	if (p->conns != NULL)
		p->conns->prevp = &pc->next;
	pc->prevp = &p->conns;
	p->conns = pc;
	p->connections++;
	bufferevent_setcb(bev, peer_read_cb, NULL, peer_event_cb, pc);
	bufferevent_enable(bev, EV_READ | EV_WRITE);
	if (!p->stall)
		peer_send(bev, "220 peer.test ESMTP");
}

static void
peer_start(struct peer *p, struct event_base *base)
{
	socklen_t len = sizeof(p->addr);

	p->base = base;
	memset(&p->addr, 0, sizeof(p->addr));
	p->addr.sin_family = AF_INET;
	p->addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	p->lis = evconnlistener_new_bind(base, peer_accept_cb, p,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE, 16,
	    (struct sockaddr *)&p->addr, sizeof(p->addr));
	assert_non_null(p->lis);
	assert_int_equal(getsockname(evconnlistener_get_fd(p->lis),
	    (struct sockaddr *)&p->addr, &len), 0);
}

/* --- the client side ------------------------------------------------- */

#define EHLO_ALL	"250-peer.test\r\n250-PIPELINING\r\n250-SIZE 1000000\r\n" \
			"250-8BITMIME\r\n250-SMTPUTF8\r\n250 ENHANCEDSTATUSCODES"
#define EHLO_PLAIN	"250-peer.test\r\n250-SIZE 1000000\r\n250-8BITMIME\r\n" \
			"250-SMTPUTF8\r\n250 ENHANCEDSTATUSCODES"

struct outcome {
	int				 n_done;
	int				 n_closed;
	size_t				 n_rcpt;
	struct smtp_client_rcpt_result	 res[4];
	bool				 reusable, pipelined;
	unsigned			 n_message;
	struct smtp_client		*client;
	/* Reuse: the next message to send from done(), and what to do. */
	const struct smtp_client_params	*next;
	bool				 close_when_idle;
};

struct fixture {
	struct event_base	*base;
	struct config		 cfg;
	struct peer		 peer;
	char			 path[64];
	int			 fd;
};

static void
on_done(void *arg, const struct smtp_client_result *r)
{
	struct outcome *o = arg;

	o->n_done++;
	o->n_rcpt = r->n_rcpt;
	for (size_t i = 0; i < r->n_rcpt && i < 4; i++)
		o->res[i] = r->rcpt[i];
	o->reusable = r->reusable;
	o->pipelined = r->pipelined;
	o->n_message = r->n_message;
	if (!r->reusable)
		o->client = NULL;
	else if (o->next != NULL) {
		const struct smtp_client_params *n = o->next;

		o->next = NULL;
		assert_int_equal(smtp_client_next(o->client, n), 0);
	} else if (o->close_when_idle)
		smtp_client_close(&o->client);
}

static void
on_closed(void *arg)
{
	struct outcome *o = arg;

	o->n_closed++;
	o->client = NULL;
}

static int
setup(void **state)
{
	static const char conf[] = "hostname = client.test\n"
	    "timeout_relay_greeting = 2\ntimeout_relay_mail = 2\n"
	    "timeout_relay_rcpt = 2\ntimeout_relay_data = 2\n"
	    "timeout_relay_data_block = 2\ntimeout_relay_dot = 2\n";
	struct fixture *f = calloc(1, sizeof(*f));

	f->base = event_base_new();
	config_defaults(&f->cfg);
	assert_int_equal(config_parse(&f->cfg, "t.conf", conf,
	    sizeof(conf) - 1, NULL), 0);
	peer_start(&f->peer, f->base);
	f->peer.ehlo = EHLO_ALL;
	f->fd = -1;
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	evconnlistener_free(f->peer.lis);
	while (f->peer.conns != NULL)
		peer_conn_free(f->peer.conns);
	if (f->fd != -1) {
		close(f->fd);
		unlink(f->path);
	}
	config_free(&f->cfg);
	event_base_free(f->base);
	free(f);
	return 0;
}

/* A message file with this content; returns its size. */
static uint64_t
message(struct fixture *f, const char *text)
{
	if (f->fd != -1) {
		close(f->fd);
		unlink(f->path);
	}
	(void)snprintf(f->path, sizeof(f->path), "/tmp/test_client.XXXXXX");
	f->fd = mkstemp(f->path);
	assert_true(f->fd != -1);
	assert_int_equal(write(f->fd, text, strlen(text)),
	    (ssize_t)strlen(text));
	return strlen(text);
}

static struct smtp_client_params
params(struct fixture *f, struct outcome *o, const char *sender,
    const char *const *rcpt, size_t n, const char *text)
{
	struct smtp_client_params p;

	memset(&p, 0, sizeof(p));
	p.base = f->base;
	p.cfg = &f->cfg;
	p.addr = (const struct sockaddr *)&f->peer.addr;
	p.addrlen = sizeof(f->peer.addr);
	p.peer_text = "127.0.0.1:test";
	p.sender = sender;
	p.n_rcpt = n;
	p.rcpt = rcpt;
	p.msg_size = message(f, text);
	p.msg_fd = f->fd;
	p.done = on_done;
	p.arg = o;
	p.closed = on_closed;
	p.closed_arg = o;
	return p;
}

/* Runs the loop until cond(o) holds (or 10 s pass: a failure). */
static void
run_until(struct fixture *f, struct outcome *o,
    bool (*cond)(const struct outcome *, const struct peer *))
{
	struct timeval tick = { 0, 20000 };

	for (int i = 0; i < 500 && !cond(o, &f->peer); i++) {
		event_base_loopexit(f->base, &tick);
		event_base_dispatch(f->base);
	}
	assert_true(cond(o, &f->peer));
}

static bool
one_done(const struct outcome *o, const struct peer *p)
{
	(void)p;
	return o->n_done >= 1;
}

static bool
two_done(const struct outcome *o, const struct peer *p)
{
	(void)p;
	return o->n_done >= 2;
}

static bool
peer_quit(const struct outcome *o, const struct peer *p)
{
	(void)o;
	return p->quits >= 1;
}

static bool
closed_and_quit(const struct outcome *o, const struct peer *p)
{
	return o->n_closed >= 1 && p->quits >= 1;
}

static const char *const three[] = { "a@peer.test", "bad@peer.test",
    "c@peer.test" };

static void
deliver_three(struct fixture *f, struct outcome *o)
{
	struct smtp_client_params p = params(f, o, "s@client.test", three, 3,
	    "Subject: t\r\n\r\nhello\r\n");

	f->peer.refuse = "bad@";
	f->peer.refuse_reply = "550 5.1.1 no such user";
	o->client = smtp_client_start(&p);
	run_until(f, o, one_done);
	assert_int_equal(o->n_done, 1);
	assert_int_equal(o->n_rcpt, 3);
	assert_int_equal(o->res[0].code, 250);
	assert_string_equal(o->res[0].reply, "250 2.0.0 queued");
	assert_string_equal(o->res[0].status, "2.0.0");
	assert_int_equal(o->res[1].code, 550);
	assert_string_equal(o->res[1].reply, "550 5.1.1 no such user");
	assert_string_equal(o->res[1].status, "5.1.1");
	assert_int_equal(o->res[2].code, 250);
	assert_false(o->reusable);
	assert_int_equal(f->peer.messages, 1);
	assert_string_equal(f->peer.data, "Subject: t\r\n\r\nhello\r\n");
	assert_non_null(strstr(f->peer.last_mail, "MAIL FROM:<s@client.test> "
	    "SIZE=21"));
}

static void
test_client_session_pipelining(void **state)
{
	struct fixture *f = *state;
	struct outcome o = { 0 };

	deliver_three(f, &o);
	assert_true(o.pipelined);
	/* RFC 2920: three RCPTs and DATA were already there behind MAIL. */
	assert_int_equal(f->peer.max_batch, 4);
}

static void
test_client_session_lockstep(void **state)
{
	struct fixture *f = *state;
	struct outcome o = { 0 };

	f->peer.ehlo = EHLO_PLAIN;
	deliver_three(f, &o);
	assert_false(o.pipelined);
	assert_int_equal(f->peer.max_batch, 0);
}

/* A refused MAIL in a batch: every recipient gets MAIL's answer, not
 * the 503s that follow it, and the DATA that follows is not answered
 * with a message. */
static void
test_client_session_pipelined_mail_refused(void **state)
{
	struct fixture *f = *state;
	struct outcome o = { 0 };
	struct smtp_client_params p = params(f, &o, "s@client.test", three, 2,
	    "x\r\n");

	f->peer.mail_reply = "550 5.7.1 sender blocked";
	o.client = smtp_client_start(&p);
	run_until(f, &o, one_done);
	for (size_t i = 0; i < 2; i++) {
		assert_int_equal(o.res[i].code, 550);
		assert_string_equal(o.res[i].reply, "550 5.7.1 sender blocked");
	}
	assert_int_equal(f->peer.messages, 0);
	assert_non_null(strstr(f->peer.cmds, "DATA|QUIT|"));
}

static void
test_client_session_all_refused(void **state)
{
	struct fixture *f = *state;
	struct outcome o = { 0 };
	static const char *const one[] = { "bad@peer.test" };
	struct smtp_client_params p = params(f, &o, "", one, 1, "x\r\n");

	f->peer.refuse = "bad@";
	f->peer.refuse_reply = "450 4.2.0 mailbox busy";
	o.client = smtp_client_start(&p);
	run_until(f, &o, one_done);
	assert_int_equal(o.res[0].code, 450);
	assert_string_equal(o.res[0].status, "4.2.0");
	assert_non_null(strstr(f->peer.cmds, "MAIL FROM:<> SIZE=3|"));
	assert_int_equal(f->peer.messages, 0);
}

/* Refusals decided before MAIL, from what EHLO announced. */
static const struct {
	const char	*ehlo;
	const char	*sender;
	const char	*rcpt;
	const char	*text;
	int		 code;
	const char	*status;
	const char	*reply_has;
	const char	*mail_has;	/* when delivered */
} ext_cases[] = {
	{ "250-p\r\n250 SIZE 10", "s@c.test", "r@p.test", "0123456789\r\n",
	    552, "5.3.4", "message size 12 exceeds the limit of 10", NULL },
	{ "250-p\r\n250 SIZE 12", "s@c.test", "r@p.test", "0123456789\r\n",
	    250, "", "250 2.0.0 queued", " SIZE=12" },
	{ "250-p\r\n250 SIZE", "s@c.test", "r@p.test", "0123456789\r\n",
	    250, "", "250", " SIZE=12" },
	{ "250-p\r\n250 SMTPUTF8", "s@c.test", "r@p.test",
	    "Subject: caf\xc3\xa9\r\n\r\nx\r\n", 554, "5.6.3",
	    "554 5.6.3 the message has 8-bit content but the peer does not "
	    "support 8BITMIME", NULL },
	{ "250-p\r\n250 8BITMIME", "s@c.test", "r@p.test",
	    "Subject: caf\xc3\xa9\r\n\r\nx\r\n", 250, "", "250",
	    "MAIL FROM:<s@c.test> BODY=8BITMIME" },
	{ "250-p\r\n250 8BITMIME", "s@c.test", "r@p.test", "ascii\r\n", 250,
	    "", "250", "MAIL FROM:<s@c.test>" },
	{ "250-p\r\n250 8BITMIME", "s@c.test", "j\xc3\xb6rg@p.test", "x\r\n",
	    553, "5.6.7", "needs SMTPUTF8", NULL },
	{ "250-p\r\n250 8BITMIME", "j\xc3\xb6rg@c.test", "r@p.test", "x\r\n",
	    553, "5.6.7", "(RFC 6531 3.7.5)", NULL },
	{ "250-p\r\n250 8BITMIME", "s@c.test", "r@p.test",
	    "Received: from a by b with UTF8SMTPS id 1;\r\n\tdate\r\n\r\nx\r\n",
	    553, "5.6.7", "needs SMTPUTF8", NULL },
	{ "250-p\r\n250-8BITMIME\r\n250 SMTPUTF8", "s@c.test",
	    "j\xc3\xb6rg@p.test", "x\r\n", 250, "", "250",
	    "MAIL FROM:<s@c.test> SMTPUTF8" },
	/* Without ENHANCEDSTATUSCODES the peer's text is not parsed. */
	{ "250-p\r\n250 8BITMIME", "s@c.test", "r@p.test", "x\r\n", 250, "",
	    "250 2.0.0 queued", "MAIL FROM:<s@c.test>" },
	/* HELO fallback: no extensions at all. */
	{ NULL, "s@c.test", "r@p.test", "x\r\n", 250, "", "250",
	    "MAIL FROM:<s@c.test>" },
	{ NULL, "s@c.test", "r@p.test", "8bit \xff\r\n", 554, "5.6.3", "8BITMIME",
	    NULL },
};

static void
test_client_session_extensions(void **state)
{
	struct fixture *f = *state;

	for (size_t i = 0; i < sizeof(ext_cases) / sizeof(ext_cases[0]); i++) {
		struct outcome o = { 0 };
		const char *rcpt[] = { ext_cases[i].rcpt };
		struct smtp_client_params p = params(f, &o, ext_cases[i].sender,
		    rcpt, 1, ext_cases[i].text);

		f->peer.ehlo = ext_cases[i].ehlo;
		f->peer.mails = 0;
		f->peer.last_mail[0] = '\0';
		o.client = smtp_client_start(&p);
		run_until(f, &o, one_done);
		if (o.res[0].code != ext_cases[i].code ||
		    strcmp(o.res[0].status, ext_cases[i].status) != 0 ||
		    strstr(o.res[0].reply, ext_cases[i].reply_has) == NULL)
			fail_msg("case %zu: %d [%s] %s", i, o.res[0].code,
			    o.res[0].status, o.res[0].reply);
		if (ext_cases[i].mail_has == NULL)
			assert_int_equal(f->peer.mails, 0);
		else if (strstr(f->peer.last_mail, ext_cases[i].mail_has) ==
		    NULL || (strstr(ext_cases[i].mail_has, "SMTPUTF8") == NULL
		    && strstr(f->peer.last_mail, "SMTPUTF8") != NULL))
			fail_msg("case %zu: %s", i, f->peer.last_mail);
		if (ext_cases[i].ehlo == NULL)
			assert_non_null(strstr(f->peer.cmds, "HELO client.test|"));
	}
}

/* Two messages over one connection: RSET between them, then close. */
static void
test_client_session_reuse(void **state)
{
	struct fixture *f = *state;
	struct outcome o = { 0 };
	static const char *const r1[] = { "a@peer.test" };
	static const char *const r2[] = { "b@peer.test", "bad@peer.test" };
	struct smtp_client_params p1 = params(f, &o, "s@client.test", r1, 1,
	    "first\r\n");
	struct smtp_client_params p2;

	p1.reuse = true;
	p1.idle_timeout = 5;
	o.client = smtp_client_start(&p1);
	run_until(f, &o, one_done);
	assert_true(o.reusable);
	assert_non_null(o.client);
	assert_int_equal(o.n_message, 1);
	assert_int_equal(o.res[0].code, 250);
	assert_int_equal(f->peer.quits, 0);
	/* The next message, from outside done() (the first file is done
	 * with: params() replaces it). */
	p2 = params(f, &o, "t@client.test", r2, 2, "second\r\n");
	f->peer.refuse = "bad@";
	f->peer.refuse_reply = "550 5.1.1 unknown";
	assert_int_equal(smtp_client_next(o.client, &p2), 0);
	/* Not idle now: a second next is refused. */
	assert_int_equal(smtp_client_next(o.client, &p2), -1);
	o.close_when_idle = true;
	run_until(f, &o, two_done);
	assert_int_equal(o.n_message, 2);
	assert_int_equal(o.res[0].code, 250);
	assert_int_equal(o.res[1].code, 550);
	run_until(f, &o, peer_quit);
	assert_int_equal(f->peer.connections, 1);
	assert_int_equal(f->peer.rsets, 1);
	assert_int_equal(f->peer.messages, 2);
	assert_string_equal(f->peer.data, "second\r\n");
	assert_non_null(strstr(f->peer.cmds, "|RSET|MAIL FROM:<t@client.test>"));
	assert_int_equal(o.n_closed, 0);
	assert_null(o.client);
}

/* smtp_client_next from inside done(), then the idle timer: QUIT and
 * closed(). */
static void
test_client_session_reuse_from_done_and_idle_timeout(void **state)
{
	struct fixture *f = *state;
	struct outcome o = { 0 };
	static const char *const r1[] = { "a@peer.test" };
	struct smtp_client_params p1 = params(f, &o, "s@client.test", r1, 1,
	    "same file twice\r\n");
	struct smtp_client_params p2 = p1;

	p1.reuse = true;
	p1.idle_timeout = 1;
	o.next = &p2;
	o.client = smtp_client_start(&p1);
	run_until(f, &o, two_done);
	assert_true(o.reusable);
	assert_int_equal(f->peer.messages, 2);
	run_until(f, &o, closed_and_quit);
	assert_int_equal(o.n_closed, 1);
	assert_int_equal(f->peer.connections, 1);
	assert_int_equal(f->peer.rsets, 1);
}

static bool
peer_gone(const struct outcome *o, const struct peer *p)
{
	(void)p;
	return o->n_done >= 1 && o->client == NULL;
}

/*
 * The peer says 421 right behind its 250 for the message, before done()
 * ran: done() says not reusable (closed() is not called, nothing was
 * handed out), no QUIT, and the client is gone (LeakSanitizer checks).
 */
static void
test_client_session_peer_421_before_done(void **state)
{
	struct fixture *f = *state;
	struct outcome o = { 0 };
	static const char *const r1[] = { "a@peer.test" };
	struct smtp_client_params p = params(f, &o, "s@client.test", r1, 1,
	    "x\r\n");

	f->peer.after_dot = "421 4.4.2 peer.test closing: idle too long";
	p.reuse = true;
	p.idle_timeout = 30;
	o.client = smtp_client_start(&p);
	run_until(f, &o, peer_gone);
	assert_int_equal(o.n_done, 1);
	assert_int_equal(o.res[0].code, 250);
	assert_false(o.reusable);
	assert_int_equal(o.n_closed, 0);
	assert_int_equal(f->peer.quits, 0);
}

static void
test_client_session_peer_closes_in_data(void **state)
{
	struct fixture *f = *state;
	struct outcome o = { 0 };
	static const char *const r1[] = { "a@peer.test" };
	struct smtp_client_params p = params(f, &o, "s@client.test", r1, 1,
	    "line one\r\nline two\r\n");

	f->peer.close_in_data = true;
	p.reuse = true;
	o.client = smtp_client_start(&p);
	run_until(f, &o, one_done);
	assert_int_equal(o.res[0].code, 451);
	assert_string_equal(o.res[0].status, "4.4.2");
	assert_non_null(strstr(o.res[0].reply, "connection lost"));
	assert_false(o.reusable);
}

static void
test_client_session_stalled_peer_times_out(void **state)
{
	struct fixture *f = *state;
	struct outcome o = { 0 };
	static const char *const r1[] = { "a@peer.test" };
	struct smtp_client_params p = params(f, &o, "s@client.test", r1, 1,
	    "x\r\n");

	f->peer.stall = true;
	f->cfg.timeout_relay_greeting = 1;
	o.client = smtp_client_start(&p);
	run_until(f, &o, one_done);
	assert_int_equal(o.res[0].code, 451);
	assert_string_equal(o.res[0].reply, "451 4.4.2 timeout in state "
	    "greeting");
}

/* A DATA reply that is not 354 and a final 4xx apply per recipient. */
static void
test_client_session_final_reply(void **state)
{
	struct fixture *f = *state;
	struct outcome o = { 0 };
	struct smtp_client_params p = params(f, &o, "s@client.test", three, 3,
	    "x\r\n");

	f->peer.refuse = "bad@";
	f->peer.refuse_reply = "550 5.1.1 no such user";
	f->peer.dot_reply = "452 4.3.1 out of disk";
	o.client = smtp_client_start(&p);
	run_until(f, &o, one_done);
	assert_int_equal(o.res[0].code, 452);
	assert_string_equal(o.res[0].status, "4.3.1");
	assert_int_equal(o.res[1].code, 550);
	assert_int_equal(o.res[2].code, 452);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_client_session_pipelining,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_client_session_lockstep,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_client_session_pipelined_mail_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_client_session_all_refused,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_client_session_extensions,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_client_session_reuse,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_client_session_reuse_from_done_and_idle_timeout, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_client_session_peer_421_before_done, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_client_session_peer_closes_in_data, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_client_session_stalled_peer_times_out, setup, teardown),
		cmocka_unit_test_setup_teardown(test_client_session_final_reply,
		    setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
