/*
 * launch.c - the floor of a one-shot sandboxed launch on this machine class: the least a
 * program can do to give one command what `runcell run` gives it, written as plainly as C
 * allows. A MEASUREMENT BASELINE for benches/cli_vs_bwrap.sh (issue 11's CLI goals), not a
 * sandbox to use: its paths and ids are fixed, it has no options, no output capture, no
 * time limits, and it was written to be fast, not reviewed to be safe.
 *
 * Usage (root, cgroup v1 memory and pids hierarchies):  launch [PROGRAM [ARGS...]]
 * (default /bin/true). Built by cli_vs_bwrap.sh with `gcc -O2 -static-pie`; static like the
 * runcell build the script measures with STATIC=1 (no dynamic loader to pay).
 *
 * What it does, in order (what bubblewrap's configuration in the script does, plus the
 * cgroup, rlimits, capability drop, Landlock and seccomp runcell's default profile adds):
 *  parent (root; SIGINT, SIGTERM and SIGHUP kill the sandbox and remove the leaves)
 *    - create cgroup v1 leaves memory/<own memory cgroup>/floor-<pid> and
 *      pids/<own pids cgroup>/floor-<pid>; memory limit 256 MiB (+memsw if
 *      present), pids.max 64
 *    - open both leaves' `tasks` files; clone(NEWUSER|NEWPID|NEWNS|NEWNET|NEWIPC|
 *      NEWUTS); write uid_map/gid_map "1000 80000 1", release the child via pipe
 *    - wait for the child, remove both leaves, exit with the child's status
 *  child (PID 1 of the new pid namespace)
 *    - move itself into both leaves by writing "0" to the `tasks` files the
 *      parent opened (as runcell does: a `cgroup.procs` write takes the
 *      kernel's threadgroup lock, which waits for an RCU grace period, up to
 *      ~15 ms on an idle machine), then unshare(NEWCGROUP)
 *    - die with the parent (PR_SET_PDEATHSIG, as bubblewrap's --die-with-parent)
 *    - build a minimal root on a tmpfs: /usr (ro bind), bin/lib/lib64/sbin
 *      symlinks (a usr-merged host, like this one), /dev (tmpfs + 5 bound
 *      device nodes, /dev/shm tmpfs), /tmp (tmpfs), /etc/ld.so.cache (ro
 *      bind), /proc (fresh procfs); pivot_root into it; / and /dev read-only
 *    - bring up lo, set the hostname
 *    - fork the payload and reap it like a minimal init
 *  payload
 *    - setsid, drop groups/gid/uid to 1000, rlimits, no_new_privs, empty
 *      capability bounding/permitted/effective/inheritable sets, Landlock
 *      ruleset, seccomp denylist, descriptors above 2 closed, working
 *      directory /tmp, execve with PATH and HOME only
 *
 * What it leaves out, so it is faster than either tool would be doing the same: of
 * runcell's default profile, the generated /etc files and the binds of /etc/alternatives,
 * protocols and services, argument checks in seccomp (clone flags, ioctl, socket families),
 * Landlock's network and scope rules, output capture and limits, wall and CPU time
 * supervision, the report; of the script's bubblewrap configuration, devpts and /dev/tty,
 * the read-only masks over /proc/irq and /proc/bus. Mounts below /usr stay as the host has
 * them (this host has none). And it waits for its PID 1's exit, namespace teardown
 * included, to remove the cgroup leaves (runcell does the same); bubblewrap returns at its
 * PID 1's status and leaves that teardown to happen after it has exited.
 *
 * Every syscall is checked; on failure the step and errno are printed to
 * stderr and the process exits with status 125.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fsuid.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/audit.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/landlock.h>
#include <linux/seccomp.h>

#ifndef __X32_SYSCALL_BIT
#define __X32_SYSCALL_BIT 0x40000000
#endif

/* Newer Landlock access bits than Debian 12's kernel headers know about. */
#ifndef LANDLOCK_ACCESS_FS_TRUNCATE
#define LANDLOCK_ACCESS_FS_TRUNCATE (1ULL << 14)
#endif
#ifndef LANDLOCK_ACCESS_FS_IOCTL_DEV
#define LANDLOCK_ACCESS_FS_IOCTL_DEV (1ULL << 15)
#endif

#define FAIL_STATUS   125
#define SANDBOX_ID    1000
#define HOST_ID       80000
#define MEM_LIMIT     "268435456"
#define PIDS_LIMIT    "64"
#define STAGING       "/tmp"
#define CGROUP_ROOT   "/sys/fs/cgroup"

static char mem_leaf[512];
static char pids_leaf[512];
static int cap_last_cap;

static void remove_leaves(void);

static int in_parent = 1;
static pid_t child_pid = -1;
/* A terminating signal the parent caught (SIGINT, SIGTERM, SIGHUP), 0 if none. */
static volatile sig_atomic_t stop_signal;

static const int stop_signals[] = { SIGINT, SIGTERM, SIGHUP };

static void on_stop_signal(int sig)
{
    stop_signal = sig;
}

/* Report a failed step with errno and exit.  Only the parent owns the cgroup
 * leaves, so only it cleans them up (after killing a child still in them). */
static void die(const char *step)
{
    int e = errno;
    fprintf(stderr, "launch: %s: %s (errno %d)\n", step, strerror(e), e);
    if (in_parent) {
        if (child_pid > 0 && kill(child_pid, SIGKILL) == 0)
            waitpid(child_pid, NULL, 0);
        remove_leaves();
    }
    _exit(FAIL_STATUS);
}

/* Catch the stop signals without SA_RESTART, so that a blocking wait returns
 * EINTR and the parent can end the sandbox and remove the leaves. */
static void catch_stop_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    if (sigemptyset(&sa.sa_mask) < 0)
        die("sigemptyset");
    for (size_t i = 0; i < sizeof stop_signals / sizeof stop_signals[0]; i++)
        if (sigaction(stop_signals[i], &sa, NULL) < 0)
            die("sigaction");
}

/* The parent's exit after a stop signal: the sandbox (if any) is reaped. */
static void stop_if_signalled(void)
{
    if (!stop_signal)
        return;
    remove_leaves();
    _exit(128 + stop_signal);
}

static void write_file(const char *path, const char *data, const char *step)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        die(step);
    size_t len = strlen(data);
    ssize_t n = write(fd, data, len);
    if (n < 0)
        die(step);
    if ((size_t)n != len) {
        errno = EIO;
        die(step);
    }
    if (close(fd) < 0)
        die(step);
}

/* ---------------------------------------------------------------- parent */

/* This process's cgroup in the v1 hierarchy `controller`, from the lines of
 * /proc/self/cgroup in `text` ("N:controller:/path"). */
static void own_cgroup(const char *text, const char *controller, char *out,
                       size_t outlen)
{
    size_t clen = strlen(controller);
    for (const char *line = text; *line; ) {
        const char *nl = strchr(line, '\n');
        const char *lend = nl ? nl : line + strlen(line);
        const char *c1 = memchr(line, ':', (size_t)(lend - line));
        const char *c2 = c1 ? memchr(c1 + 1, ':', (size_t)(lend - c1 - 1)) : NULL;
        if (c2 && (size_t)(c2 - c1 - 1) == clen &&
            strncmp(c1 + 1, controller, clen) == 0) {
            snprintf(out, outlen, "%.*s", (int)(lend - c2 - 1), c2 + 1);
            return;
        }
        line = nl ? nl + 1 : lend;
    }
    errno = ENOENT;
    die("find cgroup in /proc/self/cgroup");
}

/* Make the leaf floor-<pid> below this process's cgroup `own` in `controller`. */
static void make_leaf(const char *controller, const char *own, char *leaf,
                      size_t len)
{
    snprintf(leaf, len, "%s/%s%s%sfloor-%d", CGROUP_ROOT, controller, own,
             strcmp(own, "/") == 0 ? "" : "/", (int)getpid());
    /* A leaf of the same name left by a launcher killed with SIGKILL (its
     * sandbox died with it, PR_SET_PDEATHSIG) is empty: remove it first. */
    if (mkdir(leaf, 0755) < 0 &&
        (errno != EEXIST || rmdir(leaf) < 0 || mkdir(leaf, 0755) < 0)) {
        leaf[0] = '\0';
        die("mkdir cgroup leaf");
    }
}

static void leaf_write(const char *leaf, const char *file, const char *data,
                       const char *step)
{
    char path[640];
    snprintf(path, sizeof path, "%s/%s", leaf, file);
    write_file(path, data, step);
}

static void remove_leaves(void)
{
    char *leaves[] = { mem_leaf, pids_leaf };
    for (int i = 0; i < 2; i++) {
        if (leaves[i][0] == '\0')
            continue;
        int tries = 0;
        while (rmdir(leaves[i]) < 0) {
            if (errno != EBUSY || ++tries > 100) {
                int e = errno;
                fprintf(stderr, "launch: rmdir %s: %s (errno %d)\n",
                        leaves[i], strerror(e), e);
                break;
            }
            sched_yield();
        }
        leaves[i][0] = '\0';
    }
}

static void setup_cgroups(void)
{
    /* /proc/self/cgroup read once, for both hierarchies. */
    char text[4096];
    int fd = open("/proc/self/cgroup", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        die("open /proc/self/cgroup");
    size_t used = 0;
    for (;;) {
        ssize_t n = read(fd, text + used, sizeof text - 1 - used);
        if (n < 0)
            die("read /proc/self/cgroup");
        if (n == 0)
            break;
        used += (size_t)n;
        if (used == sizeof text - 1) {
            errno = EFBIG;
            die("read /proc/self/cgroup");
        }
    }
    text[used] = '\0';
    if (close(fd) < 0)
        die("close /proc/self/cgroup");
    char own[512];
    own_cgroup(text, "memory", own, sizeof own);
    make_leaf("memory", own, mem_leaf, sizeof mem_leaf);
    own_cgroup(text, "pids", own, sizeof own);
    make_leaf("pids", own, pids_leaf, sizeof pids_leaf);
    leaf_write(mem_leaf, "memory.limit_in_bytes", MEM_LIMIT,
               "write memory.limit_in_bytes");
    char memsw[640];
    snprintf(memsw, sizeof memsw, "%s/memory.memsw.limit_in_bytes", mem_leaf);
    if (access(memsw, F_OK) == 0)
        write_file(memsw, MEM_LIMIT, "write memory.memsw.limit_in_bytes");
    leaf_write(pids_leaf, "pids.max", PIDS_LIMIT, "write pids.max");
}

static int read_cap_last_cap(void)
{
    FILE *f = fopen("/proc/sys/kernel/cap_last_cap", "re");
    if (!f)
        die("open cap_last_cap");
    int v;
    if (fscanf(f, "%d", &v) != 1) {
        errno = EINVAL;
        die("parse cap_last_cap");
    }
    fclose(f);
    return v;
}

/* Exit status of a reaped child, shell-style for signals. */
static int exit_code(int status)
{
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    if (WIFSIGNALED(status))
        return 128 + WTERMSIG(status);
    return FAIL_STATUS;
}

/* ----------------------------------------------------------------- child */

static void do_mount(const char *src, const char *dst, const char *type,
                     unsigned long flags, const char *data, const char *step)
{
    if (mount(src, dst, type, flags, data) < 0)
        die(step);
}

static void make_dir(const char *path)
{
    if (mkdir(path, 0755) < 0)
        die("mkdir in new root");
}

static void make_file(const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0 || close(fd) < 0)
        die("create bind target");
}

static void make_symlink(const char *target, const char *path)
{
    if (symlink(target, path) < 0)
        die("symlink in new root");
}

static void bind_ro(const char *src, const char *dst, unsigned long extra)
{
    do_mount(src, dst, NULL, MS_BIND | MS_REC, NULL, "bind mount");
    do_mount(NULL, dst, NULL,
             MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | extra, NULL,
             "read-only remount");
}

/* Only SANDBOX_ID is mapped in the user namespace, and a filesystem owned by
 * that namespace refuses to create inodes for an unmapped fsuid/fsgid
 * (EOVERFLOW).  Our fsuid is host root (unmapped), so switch the filesystem
 * ids to the mapped id before building the root.  With uid 0 unmapped this
 * does not drop any capabilities.  setfsuid() cannot report errors; verify. */
static void use_mapped_fsids(void)
{
    setfsgid(SANDBOX_ID);
    if (setfsgid(-1) != SANDBOX_ID) {
        errno = EPERM;
        die("setfsgid");
    }
    setfsuid(SANDBOX_ID);
    if (setfsuid(-1) != SANDBOX_ID) {
        errno = EPERM;
        die("setfsuid");
    }
}

static void build_root(void)
{
    static const char *devs[] = { "null", "zero", "full", "random", "urandom" };

    do_mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL, "make / private");
    do_mount("tmpfs", STAGING, "tmpfs", MS_NOSUID | MS_NODEV,
             "size=1m,mode=0755", "mount staging tmpfs");
    if (chdir(STAGING) < 0)
        die("chdir staging");

    make_dir("usr");
    make_dir("proc");
    make_dir("dev");
    make_dir("tmp");
    make_dir("etc");
    bind_ro("/usr", "usr", MS_NODEV);
    make_symlink("usr/bin", "bin");
    make_symlink("usr/lib", "lib");
    make_symlink("usr/lib64", "lib64");
    make_symlink("usr/sbin", "sbin");

    do_mount("tmpfs", "dev", "tmpfs", MS_NOSUID | MS_NOEXEC,
             "size=64k,mode=0755", "mount /dev tmpfs");
    for (size_t i = 0; i < sizeof devs / sizeof devs[0]; i++) {
        char src[32], dst[32];
        snprintf(src, sizeof src, "/dev/%s", devs[i]);
        snprintf(dst, sizeof dst, "dev/%s", devs[i]);
        make_file(dst);
        do_mount(src, dst, NULL, MS_BIND, NULL, "bind device node");
    }
    make_symlink("/proc/self/fd", "dev/fd");
    make_symlink("/proc/self/fd/0", "dev/stdin");
    make_symlink("/proc/self/fd/1", "dev/stdout");
    make_symlink("/proc/self/fd/2", "dev/stderr");

    make_dir("dev/shm");
    do_mount("tmpfs", "dev/shm", "tmpfs", MS_NOSUID | MS_NODEV,
             "size=64m,mode=1777", "mount /dev/shm tmpfs");
    do_mount("tmpfs", "tmp", "tmpfs", MS_NOSUID | MS_NODEV,
             "size=64m,mode=1777", "mount /tmp tmpfs");
    make_file("etc/ld.so.cache");
    bind_ro("/etc/ld.so.cache", "etc/ld.so.cache", MS_NODEV);

    /* procfs must be mounted while the host /proc is still visible in this
     * mount namespace (mount_too_revealing), i.e. before the old root is
     * detached.  It is a fresh instance for the new pid namespace. */
    do_mount("proc", "proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL,
             "mount /proc");

    if (syscall(SYS_pivot_root, ".", ".") < 0)
        die("pivot_root");
    if (umount2(".", MNT_DETACH) < 0)
        die("detach old root");
    if (chdir("/") < 0)
        die("chdir /");
    do_mount(NULL, "/", NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV,
             NULL, "read-only /");
    do_mount(NULL, "/dev", NULL,
             MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NOEXEC, NULL,
             "read-only /dev");
}

static void loopback_up(void)
{
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0)
        die("socket for lo");
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    strcpy(ifr.ifr_name, "lo");
    if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0)
        die("SIOCGIFFLAGS lo");
    ifr.ifr_flags |= IFF_UP;
    if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0)
        die("SIOCSIFFLAGS lo");
    if (close(s) < 0)
        die("close lo socket");
}

/* --------------------------------------------------------------- payload */

static void drop_privileges(void)
{
    if (setsid() < 0)
        die("setsid");
    if (setgroups(0, NULL) < 0)
        die("setgroups");
    if (setresgid(SANDBOX_ID, SANDBOX_ID, SANDBOX_ID) < 0)
        die("setresgid");
    /* Dropping from the bounding set needs CAP_SETPCAP, so do it before the
     * uid change. */
    for (int cap = 0; cap <= cap_last_cap; cap++)
        if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0)
            die("PR_CAPBSET_DROP");
    if (setresuid(SANDBOX_ID, SANDBOX_ID, SANDBOX_ID) < 0)
        die("setresuid");

    struct { int res; rlim_t val; } limits[] = {
        { RLIMIT_NOFILE, 256 },
        { RLIMIT_NPROC, 64 },
        { RLIMIT_FSIZE, 16 << 20 },
        { RLIMIT_CPU, 10 },
        { RLIMIT_CORE, 0 },
    };
    for (size_t i = 0; i < sizeof limits / sizeof limits[0]; i++) {
        struct rlimit rl = { limits[i].val, limits[i].val };
        if (setrlimit(limits[i].res, &rl) < 0)
            die("setrlimit");
    }

    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
        die("PR_SET_NO_NEW_PRIVS");

    /* uid 0 is not mapped in the user namespace, so setresuid() did not clear
     * the capability sets; clear them explicitly. */
    struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
    struct __user_cap_data_struct data[2];
    memset(data, 0, sizeof data);
    if (syscall(SYS_capset, &hdr, data) < 0)
        die("capset");
}

static void landlock_rule(int ruleset, const char *path, uint64_t access,
                          uint64_t handled)
{
    struct landlock_path_beneath_attr attr = {
        .allowed_access = access & handled,
    };
    attr.parent_fd = open(path, O_PATH | O_CLOEXEC);
    if (attr.parent_fd < 0)
        die("open landlock rule path");
    if (syscall(SYS_landlock_add_rule, ruleset, LANDLOCK_RULE_PATH_BENEATH,
                &attr, 0) < 0)
        die("landlock_add_rule");
    if (close(attr.parent_fd) < 0)
        die("close landlock rule path");
}

static void apply_landlock(void)
{
    long abi = syscall(SYS_landlock_create_ruleset, NULL, 0,
                       LANDLOCK_CREATE_RULESET_VERSION);
    if (abi < 0)
        die("landlock ABI version");

    uint64_t handled;
    if (abi >= 5)
        handled = (LANDLOCK_ACCESS_FS_IOCTL_DEV << 1) - 1;
    else if (abi >= 3)
        handled = (LANDLOCK_ACCESS_FS_TRUNCATE << 1) - 1;
    else if (abi == 2)
        handled = (LANDLOCK_ACCESS_FS_REFER << 1) - 1;
    else
        handled = (LANDLOCK_ACCESS_FS_MAKE_SYM << 1) - 1;

    struct landlock_ruleset_attr rattr = { .handled_access_fs = handled };
    int ruleset = syscall(SYS_landlock_create_ruleset, &rattr, sizeof rattr, 0);
    if (ruleset < 0)
        die("landlock_create_ruleset");

    const uint64_t rd = LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR;
    /* Listing the root directory itself. */
    landlock_rule(ruleset, "/", LANDLOCK_ACCESS_FS_READ_DIR, handled);
    landlock_rule(ruleset, "/usr", rd | LANDLOCK_ACCESS_FS_EXECUTE, handled);
    landlock_rule(ruleset, "/etc/ld.so.cache", LANDLOCK_ACCESS_FS_READ_FILE,
                  handled);
    /* TRUNCATE so that O_TRUNC opens such as ">/dev/null" work. */
    landlock_rule(ruleset, "/dev",
                  LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_WRITE_FILE |
                  LANDLOCK_ACCESS_FS_TRUNCATE, handled);
    landlock_rule(ruleset, "/tmp", handled, handled);
    landlock_rule(ruleset, "/dev/shm", handled, handled);
    landlock_rule(ruleset, "/proc", rd, handled);

    if (syscall(SYS_landlock_restrict_self, ruleset, 0) < 0)
        die("landlock_restrict_self");
    if (close(ruleset) < 0)
        die("close landlock ruleset");
}

static void apply_seccomp(void)
{
    static const int denied[] = {
        __NR_mount, __NR_umount2, __NR_pivot_root, __NR_unshare, __NR_setns,
        __NR_ptrace, __NR_bpf, __NR_perf_event_open, __NR_kexec_load,
        __NR_kexec_file_load, __NR_init_module, __NR_finit_module,
        __NR_delete_module, __NR_keyctl, __NR_add_key, __NR_request_key,
        __NR_userfaultfd, __NR_io_uring_setup, __NR_open_by_handle_at,
        __NR_name_to_handle_at, __NR_process_vm_readv, __NR_process_vm_writev,
        __NR_swapon, __NR_swapoff, __NR_reboot, __NR_settimeofday,
        __NR_clock_settime, __NR_acct, __NR_quotactl, __NR_syslog,
        __NR_lookup_dcookie, __NR_fsopen, __NR_fsmount, __NR_fsconfig,
        __NR_move_mount, __NR_open_tree, __NR_mount_setattr, __NR_personality,
        __NR_vhangup, __NR_iopl, __NR_ioperm,
    };
    enum { NDENIED = sizeof denied / sizeof denied[0] };
    struct sock_filter prog[9 + 2 * NDENIED];
    size_t n = 0;

#define STMT(code, k)         (struct sock_filter)BPF_STMT(code, k)
#define JUMP(code, k, jt, jf) (struct sock_filter)BPF_JUMP(code, k, jt, jf)
    prog[n++] = STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch));
    prog[n++] = JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0);
    prog[n++] = STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS);
    prog[n++] = STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr));
    prog[n++] = JUMP(BPF_JMP | BPF_JGE | BPF_K, __X32_SYSCALL_BIT, 0, 1);
    prog[n++] = STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS);
    /* clone3 takes its flags through a pointer seccomp cannot inspect; make
     * it look unimplemented so that libc falls back to clone. */
    prog[n++] = JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_clone3, 0, 1);
    prog[n++] = STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS);
    for (size_t i = 0; i < NDENIED; i++) {
        prog[n++] = JUMP(BPF_JMP | BPF_JEQ | BPF_K, denied[i], 0, 1);
        prog[n++] = STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM);
    }
    prog[n++] = STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
#undef STMT
#undef JUMP

    struct sock_fprog fprog = { .len = (unsigned short)n, .filter = prog };
    if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &fprog) < 0)
        die("seccomp");
}

static void run_payload(char **argv)
{
    drop_privileges();
    apply_landlock();
    apply_seccomp();
    if (chdir("/tmp") < 0)
        die("chdir /tmp");
    /* Nothing of the caller's beyond the three standard streams. */
    if (syscall(SYS_close_range, 3, ~0U, 0) < 0)
        die("close_range");
    char *envp[] = { "PATH=/usr/bin:/bin", "HOME=/tmp", NULL };
    execve(argv[0], argv, envp);
    die("execve");
}

struct child_args {
    int tasks_fd[2];    /* the leaves' `tasks` files, opened by the parent */
    int sync_fd;        /* read end of the release pipe */
    int parent_fd;      /* write end, closed so a dead parent gives EOF */
    char **argv;
};

static int child_main(void *arg)
{
    struct child_args *ca = arg;
    char byte;

    in_parent = 0;
    for (size_t i = 0; i < sizeof stop_signals / sizeof stop_signals[0]; i++)
        if (signal(stop_signals[i], SIG_DFL) == SIG_ERR)
            die("reset signal handler");
    if (close(ca->parent_fd) < 0)
        die("close pipe write end in child");
    ssize_t n = read(ca->sync_fd, &byte, 1);
    if (n < 0)
        die("read sync pipe");
    if (n != 1) {
        errno = EPIPE;
        die("parent did not release child");
    }

    /* v1 checks the opener's credentials (host root), so the write is allowed
     * from inside the user namespace; "0" is the writer, a single thread. */
    for (int i = 0; i < 2; i++) {
        if (write(ca->tasks_fd[i], "0", 1) != 1)
            die("join cgroup leaf");
        if (close(ca->tasks_fd[i]) < 0)
            die("close tasks file");
    }
    if (unshare(CLONE_NEWCGROUP) < 0)
        die("unshare(CLONE_NEWCGROUP)");
    use_mapped_fsids();
    /* Die with the parent. Set after the last change of this process's
     * credentials (setfsuid clears it); a parent that died before it left the
     * sync pipe without a writer (the parent keeps it open until it exits). */
    if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0)
        die("PR_SET_PDEATHSIG");
    struct pollfd pfd = { .fd = ca->sync_fd, .events = POLLIN };
    if (poll(&pfd, 1, 0) != 0) {
        errno = EPIPE;
        die("the parent is gone");
    }
    if (close(ca->sync_fd) < 0)
        die("close sync pipe");
    build_root();
    loopback_up();
    if (sethostname("sandbox", 7) < 0)
        die("sethostname");

    pid_t pid = fork();
    if (pid < 0)
        die("fork payload");
    if (pid == 0)
        run_payload(ca->argv);

    /* Minimal init: reap everything, exit with the payload's status. */
    int status, payload_status = 0;
    for (;;) {
        pid_t w = waitpid(-1, &status, 0);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            if (errno == ECHILD)
                break;
            die("waitpid in init");
        }
        if (w == pid)
            payload_status = status;
    }
    return exit_code(payload_status);
}

/* ------------------------------------------------------------------ main */

static char child_stack[64 * 1024] __attribute__((aligned(16)));

int main(int argc, char **argv)
{
    static char *default_argv[] = { "/bin/true", NULL };
    char **cmd = argc > 1 ? argv + 1 : default_argv;

    catch_stop_signals();
    cap_last_cap = read_cap_last_cap();
    setup_cgroups();
    stop_if_signalled();

    int pipefd[2];
    if (pipe2(pipefd, O_CLOEXEC) < 0)
        die("pipe2");

    struct child_args ca = {
        .sync_fd = pipefd[0], .parent_fd = pipefd[1], .argv = cmd,
    };
    const char *leaves[2] = { mem_leaf, pids_leaf };
    for (int i = 0; i < 2; i++) {
        char tasks[640];
        snprintf(tasks, sizeof tasks, "%s/tasks", leaves[i]);
        ca.tasks_fd[i] = open(tasks, O_WRONLY | O_CLOEXEC);
        if (ca.tasks_fd[i] < 0)
            die("open tasks file");
    }
    int flags = CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWNET |
                CLONE_NEWIPC | CLONE_NEWUTS | SIGCHLD;
    pid_t child = clone(child_main, child_stack + sizeof child_stack, flags, &ca);
    if (child < 0)
        die("clone");
    child_pid = child;
    if (close(pipefd[0]) < 0 || close(ca.tasks_fd[0]) < 0 || close(ca.tasks_fd[1]) < 0)
        die("close the child's descriptors");

    char buf[64], path[64];
    snprintf(buf, sizeof buf, "%d %d 1", SANDBOX_ID, HOST_ID);
    snprintf(path, sizeof path, "/proc/%d/uid_map", (int)child);
    write_file(path, buf, "write uid_map");
    snprintf(path, sizeof path, "/proc/%d/gid_map", (int)child);
    write_file(path, buf, "write gid_map");

    if (write(pipefd[1], "x", 1) != 1)
        die("release child");
    /* pipefd[1] stays open until this process exits: the child polls it once
     * to learn whether the parent died before its PR_SET_PDEATHSIG. */

    int status;
    while (waitpid(child, &status, 0) < 0) {
        if (errno != EINTR)
            die("waitpid child");
        if (stop_signal && kill(child, SIGKILL) < 0)
            die("kill the sandbox");
    }
    child_pid = -1;
    stop_if_signalled();

    remove_leaves();
    return exit_code(status);
}
