/*
 * Forwarding lists and loop protection for the SMTP server
 * (docs/outbound.md "Forwarding lists and mail loops").
 *
 * A recipient that is an alias becomes a *copy*: its members (accounts
 * and remote addresses, expanded by userdb_expand) get the message with
 * a "Delivered-To: <alias>" field after our Return-Path, and remote
 * members get it with a rewritten envelope sender (the list owner, or
 * SRS). Plain recipients keep the one-file path: one spool file
 * hard-linked into every Maildir and the queue. Each copy with members
 * of its own gets one extra spool file, written alongside the main one
 * while DATA streams in (the write path stays one pass, no re-reading)
 * and hard-linked to all of the copy's members; when every recipient
 * comes through one alias (the usual list post) that copy uses the main
 * spool and nothing extra is written.
 *
 * Loop protection at the end of DATA: more Received fields than
 * max_hops, or a Delivered-To naming an alias we are expanding, is
 * refused with 554 5.4.6 (RFC 3463: routing loop detected) before
 * anything is stored, so the server that sent it bounces once. Bounces
 * and auto-replies (RFC 3834) are not forwarded to remote list members.
 * A per-(sender, alias) rate limit stops a runaway sender at RCPT.
 *
 * Everything here runs on the session's loop thread except
 * smtp_copies_commit(), which runs in the commit job on a pool thread.
 */
#ifndef SEALPOST_SMTP_EXPAND_H
#define SEALPOST_SMTP_EXPAND_H

#include <stdbool.h>
#include <stddef.h>

#include "smtp/session_int.h"

/* Aliases (copies) one transaction may address; more get 452 4.5.3. */
#define SMTP_COPIES_MAX		16

struct smtp_copies;

/*
 * RCPT TO an alias: checks the list rate limit, then records a copy for
 * alias with the members in local/remote (lists read, not taken) and
 * aliases (every alias the expansion went through, for loop checks).
 * Returns true, or false after replying (450 rate limit, 452 too many).
 */
bool	smtp_copies_rcpt(struct smtp_session *, const char *alias,
	    const struct strlist *local, const struct strlist *remote,
	    const struct strlist *aliases);
/*
 * RCPT TO an SRS0/SRS1 address at a local domain (addr, lower-cased).
 * Verifies and reverses it into out (outsz bytes). Returns true, or
 * false after replying 550 5.1.1 (bad hash, expired, malformed).
 */
bool	smtp_srs_rcpt(struct smtp_session *, const char *addr, char *out,
	    size_t outsz);
/*
 * At DATA start, after the main spool exists: removes duplicate members
 * (a plain recipient wins, then the first copy), picks the copy that
 * shares the main spool if there are no plain recipients, and creates
 * the other copies' spools. Returns 0, or -1 when a spool could not be
 * created (the caller replies 451).
 */
int	smtp_copies_start(struct smtp_session *);
/*
 * At the end of DATA, before the commit: sets the fields that go in front
 * (Return-Path first, then the rest: store_spool_set_prefix) on the main
 * spool and every copy's, each copy's with its "Delivered-To: alias"
 * after the Return-Path line. Returns 0, or -1 with *errstr (static or
 * spool text) when a prefix could not be set.
 */
int	smtp_copies_set_prefix(struct smtp_session *, const char *prefix,
	    size_t len, const char **errstr);
/* DATA bytes after the main spool got them: the same bytes to copies. */
void	smtp_copies_write(struct smtp_session *, const char *p, size_t len);
/*
 * At the end of DATA, before the commit: the hop limit and the
 * Delivered-To loop check (false after a 554 5.4.6 reply, logged); then
 * drops remote members of lists for bounces and auto-replies, and sets
 * each copy's envelope sender. Returns true when the commit may go on.
 */
bool	smtp_copies_check(struct smtp_session *);
/* The envelope sender for the main spool's queue entry. */
const char	*smtp_copies_main_sender(const struct smtp_txn *);
/*
 * BLOCKING (pool thread): commits every copy with its own spool. Returns
 * 0, or -1 with *errstr (text in the copy, valid until the free) when a
 * commit failed; copies committed before stay delivered.
 */
int	smtp_copies_commit(struct smtp_txn *, const char **errstr);
/* Frees the copies, removing uncommitted spools; NULLs *cp. */
void	smtp_copies_free(struct smtp_copies **);

#endif
