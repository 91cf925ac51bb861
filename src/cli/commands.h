/*
 * The `sealpost` admin command's subcommands. main.c parses the global
 * options, loads the configuration for the subcommands that need it and
 * dispatches through cli_commands[]. A subcommand gets argv with argv[0]
 * set to its own name and returns the process exit status: 0 success,
 * 1 failure, 2 usage error (CLI_EXIT_*).
 */
#ifndef SEALPOST_CLI_COMMANDS_H
#define SEALPOST_CLI_COMMANDS_H

#include <stddef.h>

struct config;

#define CLI_EXIT_OK	0
#define CLI_EXIT_FAIL	1
#define CLI_EXIT_USAGE	2

#define CLI_DEFAULT_CONFIG	"/etc/sealpost/sealpost.conf"

#define CLI_NO_CONFIG	0x01	/* runs without -c FILE; cfg is NULL */

struct cli_command {
	const char	*name;
	const char	*args;		/* usage after the name */
	const char	*summary;	/* one line for --help */
	unsigned	 flags;
	int		(*run)(const struct config *cfg, int argc, char **argv);
};

/*
 * `sealpost init DIR [--hostname H] [--domain D] [--port-base N]`: creates
 * a complete instance in DIR (see cmd_init.c). cfg is unused (NULL).
 */
int	cli_init(const struct config *cfg, int argc, char **argv);
/*
 * `sealpost -c FILE queue list | show ID | flush [ID] | delete ID |
 * hold ID | release ID`: the outbound queue (cmd_queue.c).
 */
int	cli_queue(const struct config *cfg, int argc, char **argv);
/* `sealpost -c FILE check`: config_load with check_files; prints problems. */
int	cli_check(const struct config *cfg, int argc, char **argv);

/*
 * `sealpost spf [--dns LIST] IP SENDER [HELO]`: the SPF check_host()
 * result for a client address and sender ("" = the null path, checked as
 * postmaster@HELO), with its reasoning. Exit 0 whatever the result, 1 if
 * it could not be computed.
 */
int	cli_spf(const struct config *cfg, int argc, char **argv);
/*
 * `sealpost dns [DOMAIN]`: prints the records to publish (MX, SPF, DMARC,
 * DKIM per key, RFC 6186 SRV) for every local domain or the one given. 1 if DOMAIN is
 * not local.
 */
int	cli_dns(const struct config *cfg, int argc, char **argv);
/*
 * `sealpost dkim keygen DOMAIN [--selector S] [--algorithm ed25519|rsa2048]
 * | list [DOMAIN]`: creates a signing key (<data_dir>/dkim/<domain>/
 * <selector>.pem, see policy/dkim.h) and prints its TXT record, or lists
 * the keys with their records (cmd_dkim.c).
 */
int	cli_dkim(const struct config *cfg, int argc, char **argv);
/*
 * Prints the DKIM TXT record (zone-file line) of every key of domain, or
 * a comment saying how to create one. Returns the number of keys, or -1
 * when the key directory cannot be read (a comment says so).
 */
int	cli_dkim_print_records(const struct config *cfg, const char *domain);

/*
 * Accounts and aliases live on another branch until it is merged; the table
 * picks them up as soon as their header exists.
 */
#if __has_include("cli/cmd_auth.h")
#include "cli/cmd_auth.h"
#define CLI_HAVE_AUTH 1
#endif

/*
 * The dispatch table. Adding a subcommand is a prototype above and a row
 * here; only main.c defines CLI_COMMANDS_TABLE, so the table exists once.
 */
#ifdef CLI_COMMANDS_TABLE
static const struct cli_command cli_commands[] = {
	{ "init", "DIR [--hostname H] [--domain D] [--port-base N]",
	    "create a ready-to-run instance in DIR", CLI_NO_CONFIG, cli_init },
	{ "check", "",
	    "check the configuration, certificate pair and data_dir", 0,
	    cli_check },
	{ "spf", "[--dns IP[:PORT],...] IP SENDER [HELO]",
	    "evaluate the SPF policy for a client and sender", 0, cli_spf },
	{ "dns", "[DOMAIN]", "print the DNS records to publish", 0, cli_dns },
	{ "dkim", "keygen DOMAIN [--selector S] [--algorithm ed25519|rsa2048]"
	    " | list [DOMAIN]",
	    "create and list DKIM signing keys", 0, cli_dkim },
	{ "queue", "list | show ID | flush [ID] | delete ID | hold ID | "
	    "release ID",
	    "inspect and manage the outbound queue", 0, cli_queue },
#ifdef CLI_HAVE_AUTH
	{ "user", "ACTION ...", "manage accounts (sealpost user --help)", 0,
	    cli_user },
	{ "alias", "ACTION ...", "manage aliases (sealpost alias --help)", 0,
	    cli_alias },
#endif
};
#endif

#endif
