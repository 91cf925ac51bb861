/*
 * sealpostd: the mail server daemon. Runs in the foreground and logs to
 * stderr (a service manager supervises it); -t only checks the
 * configuration.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/config.h"
#include "core/log.h"
#include "core/xmalloc.h"
#include "daemon/master.h"

static void
usage(void)
{
	fprintf(stderr, "usage: sealpostd -c FILE [-t]\n"
	    "  -c FILE  configuration file\n"
	    "  -t       check the configuration (and certificate, data_dir) "
	    "and exit\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	const char *path = NULL;
	bool check_only = false;
	struct config *cfg;
	struct buf errs;
	int opt, n;

	while ((opt = getopt(argc, argv, "c:th")) != -1) {
		switch (opt) {
		case 'c':
			path = optarg;
			break;
		case 't':
			check_only = true;
			break;
		default:
			usage();
		}
	}
	if (path == NULL || optind != argc)
		usage();

	cfg = xcalloc(1, sizeof(*cfg));
	config_defaults(cfg);
	buf_init(&errs, 1024 * 1024);
	n = config_load(cfg, path, true, &errs);
	if (n > 0) {
		fputs(errs.data, stderr);
		fprintf(stderr, "%s: %d error%s\n", path, n, n == 1 ? "" : "s");
		buf_cleanup(&errs);
		config_free(cfg);
		free(cfg);
		return 1;
	}
	buf_cleanup(&errs);
	if (check_only) {
		printf("%s: configuration ok\n", path);
		config_free(cfg);
		free(cfg);
		return 0;
	}
	return master_run(cfg);
}
