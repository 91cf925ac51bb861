/*
 * `sealpost queue ...`: the outbound queue as the operator sees it.
 *
 *   sealpost queue list          one block per message, one line per recipient
 *   sealpost queue show ID       the envelope and the message's header section
 *   sealpost queue flush [ID]    every pending recipient due now
 *   sealpost queue delete ID     removes the entry (no bounce)
 *   sealpost queue hold ID       keeps its pending recipients from delivery
 *   sealpost queue release ID    makes held recipients due now
 *
 * Changes go through the store's atomic envelope save, so they are safe
 * while the queue runner works; the runner picks up a flush at its next
 * scan (queue_scan_interval). Started as root, the command first switches
 * to the configured `user`, so the files it writes stay the runner's.
 */
#include "cli/commands.h"

#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/config.h"
#include "core/log.h"
#include "daemon/runner.h"
#include "daemon/worker.h"
#include "store/store.h"

static const char *const rcpt_state_names[] = {
	[QUEUE_RCPT_PENDING] = "pending",
	[QUEUE_RCPT_DELIVERED] = "delivered",
	[QUEUE_RCPT_FAILED] = "failed",
};

static int
queue_usage(void)
{
	fprintf(stderr,
	    "usage: sealpost queue list\n"
	    "       sealpost queue show ID\n"
	    "       sealpost queue flush [ID]\n"
	    "       sealpost queue delete ID\n"
	    "       sealpost queue hold ID\n"
	    "       sealpost queue release ID\n");
	return CLI_EXIT_USAGE;
}

static void
queue_time(uint64_t t, char *out, size_t outsz)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (t == 0) {
		(void)snprintf(out, outsz, "now");
		return;
	}
	if (t >= RUNNER_NEXT_TRY_HELD) {
		(void)snprintf(out, outsz, "held");
		return;
	}
	gmtime_r(&tt, &tm);
	if (strftime(out, outsz, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		out[0] = '\0';
}

static void
queue_print(const struct queue_envelope *env)
{
	char when[32];
	size_t pending = 0;

	for (size_t i = 0; i < env->n_rcpt; i++)
		pending += env->rcpt[i].state == QUEUE_RCPT_PENDING;
	queue_time(env->arrival, when, sizeof(when));
	printf("%s  arrival=%s  from=<%s>  pending=%zu/%zu\n", env->id, when,
	    env->sender, pending, env->n_rcpt);
	for (size_t i = 0; i < env->n_rcpt; i++) {
		const struct queue_rcpt *q = &env->rcpt[i];
		char esc[QUEUE_ENV_MAX_REPLY + 64];

		queue_time(q->next_try, when, sizeof(when));
		printf("    %-9s <%s> attempts=%u next=%s last=\"%s\"\n",
		    rcpt_state_names[q->state], q->addr, q->attempts,
		    q->state == QUEUE_RCPT_PENDING ? when : "-",
		    log_escape(esc, sizeof(esc), q->last_reply,
		    strlen(q->last_reply)));
	}
}

struct list_ctx {
	struct store	*st;
	size_t		 n;
	const char	*only;		/* flush: one id, or NULL for all */
	bool		 flush;		/* flush, hold or release: rewrite */
	uint64_t	 next_try;	/* what a rewrite sets */
	bool		 keep_held;	/* flush leaves held recipients */
	int		 rc;
};

static int
queue_each(const char *id, void *arg)
{
	struct list_ctx *lc = arg;
	struct queue_envelope env;
	const char *err = NULL;

	if (lc->only != NULL && strcmp(lc->only, id) != 0)
		return 0;
	if (store_queue_envelope_load(lc->st, id, &env, &err) == -1) {
		fprintf(stderr, "sealpost: %s\n", err);
		lc->rc = CLI_EXIT_FAIL;
		return 0;
	}
	lc->n++;
	if (!lc->flush)
		queue_print(&env);
	else {
		for (size_t i = 0; i < env.n_rcpt; i++) {
			struct queue_rcpt *q = &env.rcpt[i];

			if (q->state != QUEUE_RCPT_PENDING || (lc->keep_held &&
			    q->next_try >= RUNNER_NEXT_TRY_HELD))
				continue;
			q->next_try = lc->next_try;
		}
		if (store_queue_envelope_save(lc->st, &env, &err) == -1) {
			fprintf(stderr, "sealpost: %s\n", err);
			lc->rc = CLI_EXIT_FAIL;
		}
	}
	store_queue_envelope_cleanup(&env);
	return 0;
}

static int
queue_show(struct store *st, const char *id)
{
	struct queue_envelope env;
	const char *err = NULL;
	char head[16384];
	ssize_t n;
	int fd;

	if (store_queue_envelope_load(st, id, &env, &err) == -1) {
		fprintf(stderr, "sealpost: %s\n", err);
		return CLI_EXIT_FAIL;
	}
	queue_print(&env);
	store_queue_envelope_cleanup(&env);
	if ((fd = store_queue_message_open(st, id, &err)) == -1) {
		fprintf(stderr, "sealpost: %s\n", err);
		return CLI_EXIT_FAIL;
	}
	n = pread(fd, head, sizeof(head) - 1, 0);
	close(fd);
	if (n > 0) {
		char *end;

		head[n] = '\0';
		if ((end = strstr(head, "\r\n\r\n")) != NULL)
			end[2] = '\0';
		printf("\n%s", head);
	}
	return CLI_EXIT_OK;
}

int
cli_queue(const struct config *cfg, int argc, char **argv)
{
	struct list_ctx lc;
	struct store *st;
	const char *err = NULL;
	int rc = CLI_EXIT_OK;

	bool one_id = argc >= 2 && (strcmp(argv[1], "show") == 0 ||
	    strcmp(argv[1], "delete") == 0 || strcmp(argv[1], "hold") == 0 ||
	    strcmp(argv[1], "release") == 0);

	if (argc < 2 || (strcmp(argv[1], "list") == 0 && argc != 2) ||
	    (one_id && argc != 3) || (strcmp(argv[1], "flush") == 0 && argc > 3))
		return queue_usage();
	worker_drop_privileges(cfg);
	if ((st = store_open(cfg->data_dir, cfg->hostname, &err)) == NULL) {
		fprintf(stderr, "sealpost: store in %s: %s\n", cfg->data_dir, err);
		return CLI_EXIT_FAIL;
	}
	memset(&lc, 0, sizeof(lc));
	lc.st = st;
	lc.rc = CLI_EXIT_OK;
	if (strcmp(argv[1], "list") == 0 || strcmp(argv[1], "flush") == 0 ||
	    strcmp(argv[1], "hold") == 0 || strcmp(argv[1], "release") == 0) {
		lc.flush = argv[1][0] != 'l';
		/* A flush of everything leaves held messages held. */
		lc.keep_held = argv[1][0] == 'f' && argc == 2;
		lc.next_try = argv[1][0] == 'h' ? RUNNER_NEXT_TRY_HELD : 0;
		lc.only = argc == 3 ? argv[2] : NULL;
		if (store_queue_list(st, queue_each, &lc, &err) == -1) {
			fprintf(stderr, "sealpost: %s\n", err);
			rc = CLI_EXIT_FAIL;
		} else if (lc.only != NULL && lc.n == 0) {
			fprintf(stderr, "sealpost: %s: not in the queue\n", lc.only);
			rc = CLI_EXIT_FAIL;
		} else {
			rc = lc.rc;
			if (lc.flush)
				printf("%s %zu message%s\n",
				    argv[1][0] == 'f' ? "flushed" :
				    argv[1][0] == 'h' ? "held" : "released", lc.n,
				    lc.n == 1 ? "" : "s");
			else if (lc.n == 0)
				printf("queue is empty\n");
		}
	} else if (strcmp(argv[1], "show") == 0)
		rc = queue_show(st, argv[2]);
	else if (strcmp(argv[1], "delete") == 0) {
		struct queue_envelope env;
		int found = store_queue_envelope_load(st, argv[2], &env, &err);

		if (found == 0)
			store_queue_envelope_cleanup(&env);
		if (found == -1 || store_queue_remove(st, argv[2], &err) == -1) {
			fprintf(stderr, "sealpost: %s\n", err);
			rc = CLI_EXIT_FAIL;
		} else
			printf("deleted %s\n", argv[2]);
	} else
		rc = queue_usage();
	store_free(&st);
	return rc;
}
