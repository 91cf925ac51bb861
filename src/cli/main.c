/*
 * sealpost: the admin command. Parses the global options (-c FILE, --help),
 * loads the configuration for the subcommands that need one and dispatches
 * through the table in commands.h. The subcommands do the work; this file
 * only finds them and turns configuration problems into messages.
 */
#include <stdio.h>
#include <string.h>

#include "core/buf.h"
#include "core/config.h"

#define CLI_COMMANDS_TABLE
#include "cli/commands.h"

#define N_COMMANDS	(sizeof(cli_commands) / sizeof(cli_commands[0]))

static void
usage(FILE *out)
{
	fprintf(out,
	    "usage: sealpost init DIR [--hostname H] [--domain D] "
	    "[--port-base N]\n"
	    "       sealpost [-c FILE] SUBCOMMAND [ARGS...]\n"
	    "       sealpost --help\n"
	    "\n"
	    "  -c FILE   configuration file (default %s)\n"
	    "\n"
	    "subcommands:\n", CLI_DEFAULT_CONFIG);
	for (size_t i = 0; i < N_COMMANDS; i++)
		fprintf(out, "  %s%s%s\n      %s\n", cli_commands[i].name,
		    cli_commands[i].args[0] != '\0' ? " " : "",
		    cli_commands[i].args, cli_commands[i].summary);
}

static const struct cli_command *
command_find(const char *name)
{
	for (size_t i = 0; i < N_COMMANDS; i++)
		if (strcmp(cli_commands[i].name, name) == 0)
			return &cli_commands[i];
	return NULL;
}

/* Loads path for a subcommand; prints every problem. 0 or -1. */
static int
load_config(struct config *cfg, const char *path, bool check_files)
{
	struct buf errs;
	int n;

	buf_init(&errs, 64 * 1024);
	config_defaults(cfg);
	n = config_load(cfg, path, check_files, &errs);
	if (n > 0) {
		if (errs.data != NULL)
			fputs(errs.data, stderr);
		fprintf(stderr, "sealpost: %s: %d problem%s\n", path, n,
		    n == 1 ? "" : "s");
	}
	buf_cleanup(&errs);
	return n == 0 ? 0 : -1;
}

int
cli_check(const struct config *cfg, int argc, char **argv)
{
	struct config full;
	int rc;

	(void)argv;
	if (argc != 1) {
		fprintf(stderr, "usage: sealpost -c FILE check\n");
		return CLI_EXIT_USAGE;
	}
	rc = load_config(&full, cfg->path, true);
	config_free(&full);
	if (rc == -1)
		return CLI_EXIT_FAIL;
	printf("%s: ok\n", cfg->path);
	return CLI_EXIT_OK;
}

int
main(int argc, char **argv)
{
	const char *path = CLI_DEFAULT_CONFIG;
	const struct cli_command *cmd;
	struct config cfg;
	int i, rc;

	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		if (strcmp(argv[i], "-h") == 0 ||
		    strcmp(argv[i], "--help") == 0) {
			usage(stdout);
			return CLI_EXIT_OK;
		}
		if (strcmp(argv[i], "-c") == 0 ||
		    strcmp(argv[i], "--config") == 0) {
			if (++i == argc) {
				fprintf(stderr, "sealpost: %s needs a file\n",
				    argv[i - 1]);
				return CLI_EXIT_USAGE;
			}
			path = argv[i];
		} else if (strncmp(argv[i], "-c", 2) == 0) {
			path = argv[i] + 2;
		} else if (strcmp(argv[i], "--") == 0) {
			i++;
			break;
		} else {
			fprintf(stderr, "sealpost: unknown option %s\n",
			    argv[i]);
			usage(stderr);
			return CLI_EXIT_USAGE;
		}
	}
	if (i == argc) {
		usage(stderr);
		return CLI_EXIT_USAGE;
	}
	if (strcmp(argv[i], "help") == 0) {
		usage(stdout);
		return CLI_EXIT_OK;
	}
	if ((cmd = command_find(argv[i])) == NULL) {
		fprintf(stderr, "sealpost: unknown subcommand \"%s\"\n",
		    argv[i]);
		usage(stderr);
		return CLI_EXIT_USAGE;
	}
	if (cmd->flags & CLI_NO_CONFIG)
		return cmd->run(NULL, argc - i, argv + i);
	if (load_config(&cfg, path, false) == -1) {
		config_free(&cfg);
		return CLI_EXIT_FAIL;
	}
	rc = cmd->run(&cfg, argc - i, argv + i);
	config_free(&cfg);
	return rc;
}
