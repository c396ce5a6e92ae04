/* sandbox.c - a parser worker's privileges and system calls; see sandbox.h. */
#include "workers/sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <string.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <glib.h>
#include <seccomp.h>

#include "workers/workers_proto.h"

/*
 * AddressSanitizer's runtime needs system calls parsing does not (LeakSanitizer
 * stops the process with clone and ptrace at exit, reads /proc/self/maps), so
 * the SANITIZE=1 build runs its workers unfiltered; they still drop root.
 * Valgrind does not matter here: the e2e tests run the daemon under it, and
 * workers are exec'd natively.
 */
#if defined(__SANITIZE_ADDRESS__)
#define SANDBOX_FILTER	0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SANDBOX_FILTER	0
#endif
#endif
#ifndef SANDBOX_FILTER
#define SANDBOX_FILTER	1
#endif

int
sandbox_filter_enabled(void)
{
	return SANDBOX_FILTER;
}

static int
sandbox_drop_root(char **err)
{
	struct passwd *pw;
	uid_t uid;
	gid_t gid;

	if (geteuid() != 0)
		return 0;
	/* The daemon runs as root only with --allow-root; its workers never do. */
	pw = getpwnam("nobody");
	uid = pw != NULL ? pw->pw_uid : 65534;
	gid = pw != NULL ? pw->pw_gid : 65534;
	if (setgroups(0, NULL) == -1 || setresgid(gid, gid, gid) == -1 ||
	    setresuid(uid, uid, uid) == -1) {
		*err = g_strdup_printf("cannot become nobody: %s", g_strerror(errno));
		return -1;
	}
	if (setuid(0) != -1) {
		*err = g_strdup("could regain root");
		return -1;
	}
	return 0;
}

static int
sandbox_filter(char **err)
{
	/* What a worker may do: read its job socket and library files, allocate,
	 * answer, limit its own CPU time, log to stderr, die. */
	static const int plain[] = {
		SCMP_SYS(read), SCMP_SYS(readv), SCMP_SYS(pread64), SCMP_SYS(recvmsg),
		SCMP_SYS(recvfrom), SCMP_SYS(sendmsg), SCMP_SYS(close), SCMP_SYS(lseek),
		SCMP_SYS(fstat), SCMP_SYS(newfstatat), SCMP_SYS(mmap), SCMP_SYS(munmap),
		SCMP_SYS(mremap), SCMP_SYS(mprotect), SCMP_SYS(madvise), SCMP_SYS(brk),
		SCMP_SYS(futex), SCMP_SYS(getrusage), SCMP_SYS(getrlimit), SCMP_SYS(getpid),
		SCMP_SYS(gettid), SCMP_SYS(getuid), SCMP_SYS(geteuid), SCMP_SYS(getgid),
		SCMP_SYS(getegid), SCMP_SYS(getrandom), SCMP_SYS(clock_gettime),
		SCMP_SYS(clock_getres), SCMP_SYS(gettimeofday), SCMP_SYS(time),
		SCMP_SYS(clock_nanosleep), SCMP_SYS(nanosleep), SCMP_SYS(sysinfo),
		SCMP_SYS(rt_sigreturn), SCMP_SYS(rt_sigprocmask), SCMP_SYS(rt_sigaction),
		SCMP_SYS(sched_yield), SCMP_SYS(exit), SCMP_SYS(exit_group),
	};
	scmp_filter_ctx ctx;
	size_t i;
	int rc = 0;

	if ((ctx = seccomp_init(SCMP_ACT_KILL_PROCESS)) == NULL) {
		*err = g_strdup("seccomp_init failed");
		return -1;
	}
	for (i = 0; i < G_N_ELEMENTS(plain) && rc == 0; i++)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, plain[i], 0);
	/* Output only to stdout, stderr and the job socket. */
	if (rc == 0)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(write), 1,
		    SCMP_A0(SCMP_CMP_LE, WORKERS_FD));
	if (rc == 0)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(writev), 1,
		    SCMP_A0(SCMP_CMP_LE, WORKERS_FD));
	/* iconv loads converter modules (gconv) the first time a charset is
	 * seen: files may be opened, for reading only. */
	if (rc == 0)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(openat), 1,
		    SCMP_A2(SCMP_CMP_MASKED_EQ, (scmp_datum_t)~(O_CLOEXEC | O_NOCTTY |
		    O_NONBLOCK | O_LARGEFILE | O_DIRECTORY | O_NOFOLLOW) & 0xffffffffu, 0));
	/* Only the worker's own CPU limit (worker_cpu_limit), and reading limits. */
	if (rc == 0)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(prlimit64), 1,
		    SCMP_A0(SCMP_CMP_EQ, 0));
	if (rc == 0)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(setrlimit), 1,
		    SCMP_A0(SCMP_CMP_EQ, RLIMIT_CPU));
	/* abort(): SIGABRT to itself, as the pool expects of a crash. */
	if (rc == 0)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(tgkill), 0);
	if (rc == 0)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(kill), 1,
		    SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)getpid()));
	/* Thread names (the test build's hooks); nothing else of prctl. */
	if (rc == 0)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(prctl), 1,
		    SCMP_A0(SCMP_CMP_EQ, PR_SET_NAME));
	/* isatty(stderr) from stdio: not a terminal, as it never is here. */
	if (rc == 0)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOTTY), SCMP_SYS(ioctl), 0);
	if (rc == 0)
		rc = seccomp_load(ctx);
	seccomp_release(ctx);
	if (rc != 0) {
		*err = g_strdup_printf("seccomp: %s", g_strerror(-rc));
		return -1;
	}
	return 0;
}

int
sandbox_enter(char **err)
{
	if (sandbox_drop_root(err) == -1)
		return -1;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1) {
		*err = g_strdup_printf("no_new_privs: %s", g_strerror(errno));
		return -1;
	}
	return SANDBOX_FILTER ? sandbox_filter(err) : 0;
}
