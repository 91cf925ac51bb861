/*
 * Landlock and seccomp for workers and the queue runner; see sandbox.h.
 *
 * Both are raw system calls with kernel ABI structures (no library): the
 * Landlock ABI is probed and every right the kernel knows is "handled"
 * (denied unless a rule grants it), so a newer kernel restricts more and
 * an older one less, never refusing to start. The seccomp filter is a
 * hand-written allow-list, small enough to read in one screen, built
 * from strace runs of the whole protocol and relay suites (docs/testing.md
 * says how to redo that when a dependency starts making a new call).
 *
 * A disallowed system call kills the process (SECCOMP_RET_KILL_PROCESS):
 * a worker making a call it never makes is compromised or broken, and a
 * dead worker is both the safer outcome and the louder signal (the master
 * logs event=sandbox-violation and restarts it). Returning EPERM would
 * let an exploit probe the filter quietly. The few exceptions return an
 * error because libc tries them and falls back (clone3, listed below).
 */
#include "daemon/sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/landlock.h>
#include <linux/seccomp.h>
#include <netinet/in.h>
#include <sched.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <termios.h>
#include <unistd.h>

#include "core/config.h"
#include "core/log.h"

/* Rights newer than the build machine's <linux/landlock.h>. */
#ifndef LANDLOCK_ACCESS_FS_REFER
#define LANDLOCK_ACCESS_FS_REFER	(1ULL << 13)	/* ABI 2 */
#endif
#ifndef LANDLOCK_ACCESS_FS_TRUNCATE
#define LANDLOCK_ACCESS_FS_TRUNCATE	(1ULL << 14)	/* ABI 3 */
#endif
#ifndef LANDLOCK_ACCESS_FS_IOCTL_DEV
#define LANDLOCK_ACCESS_FS_IOCTL_DEV	(1ULL << 15)	/* ABI 5 */
#endif
#define SB_NET_BIND_TCP		(1ULL << 0)		/* ABI 4 */
#define SB_NET_CONNECT_TCP	(1ULL << 1)		/* ABI 4 */
#define SB_RULE_NET_PORT	2
#define SB_SCOPE_ABSTRACT_UNIX	(1ULL << 0)		/* ABI 6 */
#define SB_SCOPE_SIGNAL		(1ULL << 1)		/* ABI 6 */

/* The kernel's struct landlock_ruleset_attr as of ABI 6; older kernels
 * are given the prefix they know (the size argument says how much). */
struct sb_ruleset_attr {
	uint64_t	handled_access_fs;
	uint64_t	handled_access_net;
	uint64_t	scoped;
};

struct sb_net_port_attr {
	uint64_t	allowed_access;
	uint64_t	port;
};

#define FS_READ		(LANDLOCK_ACCESS_FS_READ_FILE | \
			    LANDLOCK_ACCESS_FS_READ_DIR)
/* Everything the store does: Maildir and queue files, links, renames. */
#define FS_DATA		(FS_READ | LANDLOCK_ACCESS_FS_WRITE_FILE | \
			    LANDLOCK_ACCESS_FS_REMOVE_DIR | \
			    LANDLOCK_ACCESS_FS_REMOVE_FILE | \
			    LANDLOCK_ACCESS_FS_MAKE_DIR | \
			    LANDLOCK_ACCESS_FS_MAKE_REG | \
			    LANDLOCK_ACCESS_FS_REFER | \
			    LANDLOCK_ACCESS_FS_TRUNCATE)
/* Rights that make sense on a file (a rule on a file may hold no others). */
#define FS_FILE_RIGHTS	(LANDLOCK_ACCESS_FS_EXECUTE | \
			    LANDLOCK_ACCESS_FS_WRITE_FILE | \
			    LANDLOCK_ACCESS_FS_READ_FILE | \
			    LANDLOCK_ACCESS_FS_TRUNCATE | \
			    LANDLOCK_ACCESS_FS_IOCTL_DEV)

/*
 * Read-only system paths, each used only if present: the resolver's
 * files (c-ares reads them at start even with explicit servers), time
 * zones, OpenSSL's configuration and the CA store (the runner's
 * tls_outbound = verify looks certificates up lazily in the hashed
 * directory, whose links point into /usr/share/ca-certificates), the
 * public suffix list (DMARC), CPU count (glibc's get_nprocs()).
 */
static const char *const sb_read_paths[] = {
	"/etc/resolv.conf", "/etc/hosts", "/etc/host.conf",
	"/etc/nsswitch.conf", "/etc/gai.conf", "/etc/localtime",
	"/usr/share/zoneinfo", "/etc/ssl", "/usr/lib/ssl",
	"/usr/share/ca-certificates", "/usr/local/share/ca-certificates",
	"/usr/share/publicsuffix", "/sys/devices/system/cpu",
	"/dev/urandom", "/dev/random",
};

int
sandbox_landlock_abi(void)
{
	long abi = syscall(SYS_landlock_create_ruleset, NULL, 0,
	    LANDLOCK_CREATE_RULESET_VERSION);

	return abi < 0 ? 0 : (int)abi;
}

bool
sandbox_seccomp_built(void)
{
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
	return false;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
	return false;
#else
	return true;
#endif
#else
	return true;
#endif
}

/*
 * Grants rights under path. A path that does not exist is skipped (not
 * every system has every file); any other failure is an error.
 */
static int
sb_allow_path(int ruleset, const char *path, uint64_t rights,
    uint64_t handled)
{
	struct landlock_path_beneath_attr pb;
	struct stat sb;
	int fd = open(path, O_PATH | O_CLOEXEC);

	if (fd == -1) {
		if (errno == ENOENT || errno == ENOTDIR || errno == EACCES)
			return 0;
		log_error("sandbox event=landlock-rule-failed path=%s "
		    "error=\"open: %s\"", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &sb) == -1) {
		log_error("sandbox event=landlock-rule-failed path=%s "
		    "error=\"fstat: %s\"", path, strerror(errno));
		close(fd);
		return -1;
	}
	memset(&pb, 0, sizeof(pb));
	pb.allowed_access = rights & handled;
	if (!S_ISDIR(sb.st_mode))
		pb.allowed_access &= FS_FILE_RIGHTS;
	pb.parent_fd = fd;
	if (pb.allowed_access != 0 && syscall(SYS_landlock_add_rule, ruleset,
	    LANDLOCK_RULE_PATH_BENEATH, &pb, 0) == -1) {
		int e = errno;

		log_error("sandbox event=landlock-rule-failed path=%s "
		    "error=\"%s\"", path, strerror(e));
		close(fd);
		errno = e;
		return -1;
	}
	close(fd);
	return 0;
}

/* The directory part of path ("." when none) into out. */
static void
sb_dirname(const char *path, char *out, size_t outsz)
{
	const char *slash = strrchr(path, '/');
	int n;

	if (slash == NULL)
		n = snprintf(out, outsz, ".");
	else if (slash == path)
		n = snprintf(out, outsz, "/");
	else
		n = snprintf(out, outsz, "%.*s", (int)(slash - path), path);
	if (n < 0 || (size_t)n >= outsz)
		out[0] = '\0';
}

/*
 * What of the configuration's place is readable: its directory (files
 * the administrator keeps next to it, e.g. keys a later feature reads),
 * or only the file itself when it lives directly in a system directory,
 * which would open all of /etc.
 */
static void
sb_confdir(const struct config *cfg, char *out, size_t outsz)
{
	static const char *const shared[] = { "/", "/etc", "/usr/local/etc" };
	const char *path = cfg->path != NULL ? cfg->path : ".";

	sb_dirname(path, out, outsz);
	for (size_t i = 0; i < sizeof(shared) / sizeof(shared[0]); i++)
		if (strcmp(out, shared[i]) == 0 &&
		    snprintf(out, outsz, "%s", path) >= (int)outsz)
			out[0] = '\0';
}

static uint64_t
sb_fs_handled(int abi)
{
	uint64_t h = LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_WRITE_FILE |
	    LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR |
	    LANDLOCK_ACCESS_FS_REMOVE_DIR | LANDLOCK_ACCESS_FS_REMOVE_FILE |
	    LANDLOCK_ACCESS_FS_MAKE_CHAR | LANDLOCK_ACCESS_FS_MAKE_DIR |
	    LANDLOCK_ACCESS_FS_MAKE_REG | LANDLOCK_ACCESS_FS_MAKE_SOCK |
	    LANDLOCK_ACCESS_FS_MAKE_FIFO | LANDLOCK_ACCESS_FS_MAKE_BLOCK |
	    LANDLOCK_ACCESS_FS_MAKE_SYM;

	if (abi >= 2)
		h |= LANDLOCK_ACCESS_FS_REFER;
	if (abi >= 3)
		h |= LANDLOCK_ACCESS_FS_TRUNCATE;
	if (abi >= 5)
		h |= LANDLOCK_ACCESS_FS_IOCTL_DEV;
	return h;
}

/* Worker TCP connects: only c-ares' TCP fallback to the DNS servers. */
static int
sb_allow_dns_ports(int ruleset, const struct config *cfg)
{
	for (size_t i = 0; i < cfg->n_dns; i++) {
		const struct sockaddr *sa =
		    (const struct sockaddr *)&cfg->dns_servers[i].addr;
		struct sb_net_port_attr np;

		memset(&np, 0, sizeof(np));
		np.allowed_access = SB_NET_CONNECT_TCP;
		np.port = ntohs(sa->sa_family == AF_INET6 ?
		    ((const struct sockaddr_in6 *)sa)->sin6_port :
		    ((const struct sockaddr_in *)sa)->sin_port);
		if (syscall(SYS_landlock_add_rule, ruleset, SB_RULE_NET_PORT,
		    &np, 0) == -1)
			return -1;
	}
	return 0;
}

/*
 * Landlock: returns the ABI applied, 0 when the kernel has none usable,
 * -1 on failure. ABI 1 cannot allow a link or rename between
 * directories at all, which is how every message is delivered, so it
 * counts as unusable.
 */
static int
sb_landlock(const struct config *cfg, enum sandbox_role role)
{
	struct sb_ruleset_attr attr;
	size_t attr_size;
	char confdir[PATH_MAX];
	int abi = sandbox_landlock_abi(), rs, rc = -1;

	if (abi < 2)
		return 0;
	memset(&attr, 0, sizeof(attr));
	attr.handled_access_fs = sb_fs_handled(abi);
	attr_size = sizeof(attr.handled_access_fs);
	if (abi >= 4) {
		/* No process here ever binds; only the runner connects freely. */
		attr.handled_access_net = SB_NET_BIND_TCP;
		if (role == SANDBOX_WORKER)
			attr.handled_access_net |= SB_NET_CONNECT_TCP;
		attr_size = offsetof(struct sb_ruleset_attr, scoped);
	}
	if (abi >= 6) {
		/* Signals and abstract sockets only within the sandbox. */
		attr.scoped = SB_SCOPE_ABSTRACT_UNIX | SB_SCOPE_SIGNAL;
		attr_size = sizeof(attr);
	}
	rs = (int)syscall(SYS_landlock_create_ruleset, &attr, attr_size, 0);
	if (rs == -1) {
		log_error("sandbox event=landlock-failed error=\"%s\"",
		    strerror(errno));
		return -1;
	}
	sb_confdir(cfg, confdir, sizeof(confdir));
	if (sb_allow_path(rs, cfg->data_dir, FS_DATA,
	    attr.handled_access_fs) == -1 ||
	    (confdir[0] != '\0' && sb_allow_path(rs, confdir, FS_READ,
	    attr.handled_access_fs) == -1) ||
	    sb_allow_path(rs, "/dev/null", FS_READ |
	    LANDLOCK_ACCESS_FS_WRITE_FILE, attr.handled_access_fs) == -1)
		goto out;
	for (size_t i = 0; i < sizeof(sb_read_paths) / sizeof(sb_read_paths[0]);
	    i++)
		if (sb_allow_path(rs, sb_read_paths[i], FS_READ,
		    attr.handled_access_fs) == -1)
			goto out;
	/*
	 * Files the configuration names that are read after start: the
	 * public suffix list (DMARC, loaded by the sessions) and the
	 * runner's smarthost password (read per delivery, so a changed file
	 * needs no reload).
	 */
	if ((cfg->public_suffix_list != NULL && sb_allow_path(rs,
	    cfg->public_suffix_list, FS_READ, attr.handled_access_fs) == -1) ||
	    (role == SANDBOX_RUNNER && cfg->relay_auth_password_file != NULL &&
	    sb_allow_path(rs, cfg->relay_auth_password_file, FS_READ,
	    attr.handled_access_fs) == -1))
		goto out;
	/* Sanitizer runtimes read their own maps when they report. */
	if (!sandbox_seccomp_built() && sb_allow_path(rs, "/proc/self",
	    FS_READ, attr.handled_access_fs) == -1)
		goto out;
	if ((attr.handled_access_net & SB_NET_CONNECT_TCP) != 0 &&
	    sb_allow_dns_ports(rs, cfg) == -1) {
		log_error("sandbox event=landlock-failed error=\"port rule: "
		    "%s\"", strerror(errno));
		goto out;
	}
	if (syscall(SYS_landlock_restrict_self, rs, 0) == -1) {
		log_error("sandbox event=landlock-failed error=\"restrict: %s\"",
		    strerror(errno));
		goto out;
	}
	rc = abi;
out:
	close(rs);
	return rc;
}

/* --- seccomp ------------------------------------------------------- */

#if defined(__x86_64__)
#define SB_AUDIT_ARCH	AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define SB_AUDIT_ARCH	AUDIT_ARCH_AARCH64
#endif

#ifdef SB_AUDIT_ARCH
/*
 * What workers and the runner call after sandbox_apply(), from strace -f
 * of the protocol and relay suites, grouped by purpose, plus the few
 * fallbacks marked as such. Calls that only exist on some architectures
 * are guarded. Not here, among others: execve, fork (clone without
 * CLONE_THREAD), ptrace, mount, bind, setuid, chmod/chown, kill, prctl.
 */
static const int sb_calls_common[] = {
	/* files and the store */
	SYS_read, SYS_write, SYS_readv, SYS_writev, SYS_pread64, SYS_close,
	SYS_fstat, SYS_newfstatat, SYS_lseek, SYS_openat, SYS_mkdirat,
	SYS_renameat, SYS_renameat2, SYS_linkat, SYS_unlinkat,
	SYS_getdents64, SYS_fsync, SYS_fdatasync, SYS_fcntl, SYS_flock,
	SYS_copy_file_range,	/* spool.c copies a message for alias copies */
	SYS_sendfile,	/* plaintext POP3 RETR (evbuffer_add_file) */
#ifdef SYS_open
	SYS_open, SYS_stat, SYS_lstat, SYS_mkdir, SYS_rename, SYS_link,
	SYS_unlink, SYS_rmdir,
#endif
	/* memory (realloc of large blocks is mremap) */
	SYS_mmap, SYS_munmap, SYS_mprotect, SYS_mremap, SYS_madvise, SYS_brk,
	/* threads (the pool), signals, time; tgkill is abort() */
	SYS_futex, SYS_set_robust_list, SYS_rseq, SYS_exit, SYS_exit_group,
	SYS_rt_sigaction, SYS_rt_sigprocmask, SYS_rt_sigreturn, SYS_tgkill,
	SYS_getpid, SYS_gettid, SYS_getppid, SYS_getuid, SYS_geteuid,
	SYS_getgid, SYS_getegid, SYS_uname, SYS_getrandom,
	SYS_sched_getaffinity, SYS_restart_syscall,
	/* normally answered by the vDSO without a system call */
	SYS_clock_gettime, SYS_gettimeofday, SYS_clock_nanosleep,
	SYS_nanosleep,
	/* the event loop */
	SYS_epoll_create1, SYS_epoll_ctl, SYS_epoll_pwait, SYS_eventfd2,
	SYS_pipe2,
#ifdef SYS_epoll_wait
	SYS_epoll_wait,
#endif
	/*
	 * Sockets: sessions, DNS (UDP, TCP fallback), outbound SMTP. listen:
	 * libevent calls it again on the inherited listeners at start; with
	 * bind refused (no bind here; Landlock denies TCP binds too) it can
	 * only reach an ephemeral port.
	 */
	SYS_socket, SYS_connect, SYS_sendto, SYS_recvfrom, SYS_setsockopt,
	SYS_getsockopt, SYS_getsockname, SYS_getpeername, SYS_shutdown,
	SYS_listen,
};

static const int sb_calls_worker[] = {
	SYS_accept4,
};

/* ioctl requests allowed: socket readiness and libc's isatty(). */
static const unsigned long sb_ioctls[] = { FIONREAD, FIONBIO, TCGETS };

#define SB_MAX_INSNS	256

struct sb_prog {
	struct sock_filter	insn[SB_MAX_INSNS];
	unsigned		n;
};

static void
sb_emit(struct sb_prog *p, uint16_t code, uint8_t jt, uint8_t jf, uint32_t k)
{
	struct sock_filter f = BPF_JUMP(code, k, jt, jf);

	if (p->n < SB_MAX_INSNS)
		p->insn[p->n] = f;
	p->n++;
}

#define SB_LOAD_NR(p)	sb_emit((p), BPF_LD | BPF_W | BPF_ABS, 0, 0, \
			    offsetof(struct seccomp_data, nr))
#define SB_RET(p, v)	sb_emit((p), BPF_RET | BPF_K, 0, 0, (v))
/* A 32-bit argument word (low half on little-endian machines). */
#define SB_LOAD_ARG(p, i)	sb_emit((p), BPF_LD | BPF_W | BPF_ABS, 0, 0, \
			    offsetof(struct seccomp_data, args) + 8 * (i))

/*
 * if (nr == call) { allow when argument arg is one of vals, else return
 * otherwise }.
 */
static void
sb_emit_arg_rule(struct sb_prog *p, int call, int arg,
    const unsigned long *vals, size_t n, uint32_t otherwise)
{
	/* Not this call: skip the block; the accumulator still holds nr. */
	sb_emit(p, BPF_JMP | BPF_JEQ | BPF_K, 0, (uint8_t)(n + 3),
	    (uint32_t)call);
	SB_LOAD_ARG(p, arg);
	for (size_t i = 0; i < n; i++)
		sb_emit(p, BPF_JMP | BPF_JEQ | BPF_K, (uint8_t)(n - i), 0,
		    (uint32_t)vals[i]);
	SB_RET(p, otherwise);
	SB_RET(p, SECCOMP_RET_ALLOW);
}

static int
sb_build(struct sb_prog *p, enum sandbox_role role)
{
	const size_t n_common = sizeof(sb_calls_common) /
	    sizeof(sb_calls_common[0]);
	const size_t n_worker = role == SANDBOX_WORKER ?
	    sizeof(sb_calls_worker) / sizeof(sb_calls_worker[0]) : 0;
	const size_t n_all = n_common + n_worker;

	p->n = 0;
	/* A call made through another ABI than ours is refused outright. */
	sb_emit(p, BPF_LD | BPF_W | BPF_ABS, 0, 0,
	    offsetof(struct seccomp_data, arch));
	sb_emit(p, BPF_JMP | BPF_JEQ | BPF_K, 1, 0, SB_AUDIT_ARCH);
	SB_RET(p, SECCOMP_RET_KILL_PROCESS);
	SB_LOAD_NR(p);
#ifdef __x86_64__
	/* x32 system calls share the arch value; their numbers have bit 30. */
	sb_emit(p, BPF_JMP | BPF_JGE | BPF_K, 0, 1, 0x40000000u);
	SB_RET(p, SECCOMP_RET_KILL_PROCESS);
#endif
	/* glibc tries clone3 first and falls back to clone on ENOSYS. */
	sb_emit(p, BPF_JMP | BPF_JEQ | BPF_K, 0, 1, SYS_clone3);
	SB_RET(p, SECCOMP_RET_ERRNO | ENOSYS);
	/* clone only for threads: a new process could exec or escape. */
	sb_emit(p, BPF_JMP | BPF_JEQ | BPF_K, 0, 4, SYS_clone);
	SB_LOAD_ARG(p, 0);
	sb_emit(p, BPF_JMP | BPF_JSET | BPF_K, 1, 0, CLONE_THREAD);
	SB_RET(p, SECCOMP_RET_KILL_PROCESS);
	SB_RET(p, SECCOMP_RET_ALLOW);
	sb_emit_arg_rule(p, SYS_ioctl, 1, sb_ioctls,
	    sizeof(sb_ioctls) / sizeof(sb_ioctls[0]),
	    SECCOMP_RET_ERRNO | ENOTTY);
	for (size_t i = 0; i < n_all; i++) {
		int nr = i < n_common ? sb_calls_common[i] :
		    sb_calls_worker[i - n_common];
		size_t left = n_all - i;

		/* Jump to the ALLOW after the remaining tests and the KILL. */
		if (left > 254)
			return -1;
		sb_emit(p, BPF_JMP | BPF_JEQ | BPF_K, (uint8_t)left, 0,
		    (uint32_t)nr);
	}
	SB_RET(p, SECCOMP_RET_KILL_PROCESS);
	SB_RET(p, SECCOMP_RET_ALLOW);
	return p->n <= SB_MAX_INSNS ? 0 : -1;
}

static int
sb_seccomp(enum sandbox_role role)
{
	static struct sb_prog prog;
	struct sock_fprog fp;

	if (sb_build(&prog, role) == -1) {
		log_error("sandbox event=seccomp-failed error=\"filter too "
		    "long\"");
		return -1;
	}
	fp.len = (unsigned short)prog.n;
	fp.filter = prog.insn;
	/* NO_NEW_PRIVS is already set (worker_drop_privileges); again is free. */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1 ||
	    prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &fp, 0, 0) == -1) {
		if (errno == EINVAL || errno == ENOSYS)
			return 0;
		log_error("sandbox event=seccomp-failed error=\"%s\"",
		    strerror(errno));
		return -1;
	}
	return 1;
}
#else
static int
sb_seccomp(enum sandbox_role role)
{
	(void)role;
	return 0;	/* no filter written for this architecture */
}
#endif

int
sandbox_apply(const struct config *cfg, enum sandbox_role role,
    struct sandbox_result *out)
{
	const char *name = role == SANDBOX_WORKER ? "worker" : "runner";
	struct sandbox_result r = { 0, false };
	int ll, sc = 0;

	if (out != NULL)
		*out = r;
	if (!cfg->sandbox) {
		log_info("sandbox event=off role=%s reason=config", name);
		return 0;
	}
	if ((ll = sb_landlock(cfg, role)) == -1)
		return -1;
	r.landlock_abi = ll;
	/* Last: the filter would refuse the Landlock calls themselves. */
	if (sandbox_seccomp_built() && (sc = sb_seccomp(role)) == -1)
		return -1;
	r.seccomp = sc == 1;
	if (ll == 0)
		log_warn("sandbox event=no-landlock role=%s abi=%d "
		    "reason=\"kernel without Landlock ABI 2+: files not "
		    "confined\"", name, sandbox_landlock_abi());
	log_info("sandbox event=applied role=%s landlock=%d seccomp=%s%s",
	    name, ll, r.seccomp ? "yes" : "no",
	    !sandbox_seccomp_built() ? " reason=sanitizer-build" : "");
	if (out != NULL)
		*out = r;
	return 0;
}
