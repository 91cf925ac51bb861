/*
 * The account and alias subcommands of the `sealpost` admin command,
 * built on the editing API of auth/userdb.h. Each gets argv with argv[0]
 * its own name ("user" / "alias") and returns the process exit status:
 * 0 success, 1 failure (message on stderr), 2 usage error.
 *
 *   sealpost user add ADDRESS [--password-stdin | --generate-password]
 *   sealpost user del ADDRESS
 *   sealpost user passwd ADDRESS [--password-stdin | --generate-password]
 *   sealpost user list
 *   sealpost user apop ADDRESS [--secret-stdin | --clear]
 *   sealpost alias add ADDRESS TARGET...
 *   sealpost alias del ADDRESS
 *   sealpost alias list
 *
 * Without --password-stdin the password is asked twice on /dev/tty with
 * echo off. The running daemon notices the changed files by itself.
 */
#ifndef SEALPOST_CLI_CMD_AUTH_H
#define SEALPOST_CLI_CMD_AUTH_H

struct config;

int	cli_user(const struct config *cfg, int argc, char **argv);
int	cli_alias(const struct config *cfg, int argc, char **argv);

#endif
