/* `sealpost alias ...`: add, delete and list aliases; see cmd_auth.h. */
#include "cli/cmd_auth.h"

#include <stdio.h>
#include <string.h>

#include "auth/userdb.h"
#include "core/config.h"
#include "core/strlist.h"

enum { EXIT_OK = 0, EXIT_FAIL = 1, EXIT_USAGE = 2 };

static int
alias_usage(void)
{
	fprintf(stderr,
	    "usage: sealpost alias add ADDRESS TARGET...\n"
	    "       sealpost alias del ADDRESS\n"
	    "       sealpost alias list\n");
	return EXIT_USAGE;
}

int
cli_alias(const struct config *cfg, int argc, char **argv)
{
	const char *err = NULL;
	int rc;

	if (argc < 2 || strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "-h") == 0)
		return alias_usage();
	if (strcmp(argv[1], "list") == 0 && argc == 2) {
		struct strlist l;

		strlist_init(&l);
		if (userdb_edit_alias_list(cfg->data_dir, &l, &err) == -1) {
			fprintf(stderr, "sealpost: %s\n", err);
			return EXIT_FAIL;
		}
		for (size_t i = 0; i < l.n; i++)
			printf("%s\n", l.v[i]);
		strlist_clear(&l);
		return EXIT_OK;
	}
	if (strcmp(argv[1], "add") == 0 && argc >= 4)
		rc = userdb_edit_alias_add(cfg->data_dir, cfg->domains,
		    cfg->n_domains, argv[2], argv + 3, (size_t)(argc - 3),
		    &err);
	else if (strcmp(argv[1], "del") == 0 && argc == 3)
		rc = userdb_edit_alias_del(cfg->data_dir, argv[2], &err);
	else
		return alias_usage();
	if (rc == -1) {
		fprintf(stderr, "sealpost: %s\n", err);
		return EXIT_FAIL;
	}
	return EXIT_OK;
}
