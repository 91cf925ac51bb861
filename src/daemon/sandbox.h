/*
 * Confinement of the network-facing processes (workers and the queue
 * runner) after they dropped privileges: Landlock limits the files they
 * can open, a seccomp filter the system calls they can make. Each layer
 * is applied when the kernel has it; a kernel without it costs one log
 * line, never the service. docs/security.md says what each layer stops.
 */
#ifndef SEALPOST_DAEMON_SANDBOX_H
#define SEALPOST_DAEMON_SANDBOX_H

#include <stdbool.h>

struct config;

enum sandbox_role {
	SANDBOX_WORKER,		/* SMTP/POP3 sessions: accept, no outbound TCP */
	SANDBOX_RUNNER		/* queue runner: outbound SMTP, no accept */
};

/* What sandbox_apply() put in place. */
struct sandbox_result {
	int	landlock_abi;	/* Landlock ABI used; 0 = not applied */
	bool	seccomp;	/* the system-call filter is installed */
};

/*
 * Confines the calling process for role, as configured in cfg (nothing
 * when cfg->sandbox is false). Must run before the process starts any
 * thread: Landlock binds the calling thread and the threads it creates
 * later, never existing ones. Filesystem: cfg->data_dir read-write; the
 * directory of cfg->path (only the file when that is /, /etc or
 * /usr/local/etc), cfg->public_suffix_list, the runner's
 * cfg->relay_auth_password_file, the resolver and time-zone files and the
 * CA store read-only; nothing else, and no execution.
 * System calls: the allow-list for role; any other kills the process
 * with SIGSYS (exceptions that only fail are documented in sandbox.c).
 * Not applied in sanitizer builds, whose runtime needs calls (ptrace,
 * fork/exec of the symbolizer) a worker must never make.
 *
 * Logs one line saying what was applied. Returns 0, or -1 after logging
 * when a supported layer could not be installed (the caller should not
 * serve then). out (may be NULL) receives what was applied.
 */
int	sandbox_apply(const struct config *cfg, enum sandbox_role role,
	    struct sandbox_result *out);

/* The kernel's Landlock ABI version, 0 when it has none (or it is off). */
int	sandbox_landlock_abi(void);

/* Whether this build installs the seccomp filter (not under sanitizers). */
bool	sandbox_seccomp_built(void);

#endif
