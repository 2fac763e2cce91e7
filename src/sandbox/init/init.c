/*
 * runcell-init: PID 1 of every runcell sandbox.
 *
 * The sandbox's setup process is a CLONE_VM child of the host: it shares the host's memory
 * (nothing is copied, so starting a sandbox costs the same whatever the host's size). Before
 * anything of the sandbox runs, it replaces itself with this program, executed from a sealed
 * memfd, so PID 1 holds none of the host's memory, environment, argv or descriptors.
 *
 * Freestanding and static: no libc, raw system calls only, a few KiB. Built by build.rs.
 *
 * Inherited descriptors (set up by src/sandbox/child.rs):
 *   5  STATUS_FD  write end of the status pipe: a violation record (if any), then the usage
 *                 record and the program's wait status together, in one write
 *   7  READY_FD   write end of the ready pipe: one byte once this program runs, which releases
 *                 the program's own process to finish its setup and exec
 *   8  SOCK_FD    (only when argv[2] is "1") a unix socket on which the program's process
 *                 sends its seccomp user-notification listener
 *   1, 2          the program's stdout and stderr, never written: closed just before the final
 *                 report, so the host sees their end and the report together (one wake-up)
 * SIGUSR1 from the host (a sender outside the namespace) asks init to end the run: kill every
 * process of the namespace and reap them, so their usage is counted, then report and exit.
 * argv[1] is the program's pid (in the sandbox's PID namespace).
 *
 * Keep the record layout in step with src/sandbox/child.rs (encode/decode).
 */

#include <asm/unistd.h>

#define STATUS_FD 5
#define READY_FD 7
#define SOCK_FD 8

#define REC_EXIT_STATUS 2
#define REC_VIOLATION 3
#define REC_USAGE 5

#define EINTR 4
#define WNOHANG 1
#define WALL 0x40000000
#define SIGKILL 9
#define SIGCHLD 17
#define SIGUSR1 10
#define SIG_BLOCK 0
#define SFD_NONBLOCK 04000
#define SFD_CLOEXEC 02000000
#define POLLIN 0x1
#define POLLERR 0x8
#define POLLHUP 0x10
#define POLLNVAL 0x20
#define SCM_RIGHTS 1
#define SOL_SOCKET 1
#define MSG_CMSG_CLOEXEC 0x40000000

typedef unsigned long size_t;
typedef unsigned int u32;
typedef unsigned long long u64;

struct iovec { void *base; size_t len; };
struct msghdr {
    void *name; u32 namelen; struct iovec *iov; size_t iovlen;
    void *control; size_t controllen; int flags;
};
struct cmsghdr { size_t len; int level; int type; };
struct pollfd { int fd; short events; short revents; };
/* include/uapi/linux/seccomp.h */
struct seccomp_data { int nr; u32 arch; u64 ip; u64 args[6]; };
struct seccomp_notif { u64 id; u32 pid; u32 flags; struct seccomp_data data; };
/* _IOWR('!', 0, struct seccomp_notif) */
#define SECCOMP_IOCTL_NOTIF_RECV (0xC0000000UL | (sizeof(struct seccomp_notif) << 16) | ('!' << 8))

#if defined(__x86_64__)
static long sc6(long n, long a, long b, long c, long d, long e, long f)
{
    register long r10 __asm__("r10") = d;
    register long r8 __asm__("r8") = e;
    register long r9 __asm__("r9") = f;
    long ret;
    __asm__ volatile("syscall"
                     : "=a"(ret)
                     : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
                     : "rcx", "r11", "memory");
    return ret;
}
__asm__(".text\n.globl _start\n_start:\n"
        "  xor %rbp, %rbp\n  mov %rsp, %rdi\n  and $-16, %rsp\n  call start_c\n  hlt\n");
#elif defined(__aarch64__)
static long sc6(long n, long a, long b, long c, long d, long e, long f)
{
    register long x8 __asm__("x8") = n;
    register long x0 __asm__("x0") = a;
    register long x1 __asm__("x1") = b;
    register long x2 __asm__("x2") = c;
    register long x3 __asm__("x3") = d;
    register long x4 __asm__("x4") = e;
    register long x5 __asm__("x5") = f;
    __asm__ volatile("svc 0"
                     : "+r"(x0)
                     : "r"(x8), "r"(x1), "r"(x2), "r"(x3), "r"(x4), "r"(x5)
                     : "memory");
    return x0;
}
__asm__(".text\n.globl _start\n_start:\n  mov x0, sp\n  bl start_c\n  brk #0\n");
#else
#error "runcell-init: unsupported architecture"
#endif

#define SC(n, a, b, c, d, e, f) sc6((n), (long)(a), (long)(b), (long)(c), (long)(d), (long)(e), (long)(f))

/* The compiler may emit calls to these for struct initialisation. */
void *memset(void *d, int c, size_t n)
{
    unsigned char *p = d;
    while (n--)
        *p++ = (unsigned char)c;
    return d;
}
void *memcpy(void *d, const void *s, size_t n)
{
    unsigned char *p = d;
    const unsigned char *q = s;
    while (n--)
        *p++ = *q++;
    return d;
}

static __attribute__((noreturn)) void die(int code)
{
    for (;;)
        SC(__NR_exit_group, code, 0, 0, 0, 0, 0);
}

static void put32(unsigned char *b, u32 v)
{
    /* Native byte order, as the host decodes it. */
    memcpy(b, &v, 4);
}

static void send_records(const unsigned char *rec, size_t len);

static void fill_record(unsigned char *rec, u32 kind, int value, u32 index)
{
    put32(rec, kind);
    put32(rec + 4, 0);
    put32(rec + 8, (u32)value);
    put32(rec + 12, index);
}

static void report(u32 kind, int value, u32 index)
{
    unsigned char rec[16];
    fill_record(rec, kind, value, index);
    send_records(rec, 16);
}

/* struct rusage: ru_utime, ru_stime (struct timeval: two longs each), ru_maxrss (long, KiB),
 * then 13 more longs. */
struct timeval { long sec; long usec; };
struct rusage { struct timeval utime; struct timeval stime; long maxrss; long rest[13]; };

/* The usage of every process of the sandbox: all of them were our children (or orphans
 * reparented to us) and we reaped them all. Record: kind, peak RSS in KiB (u32), CPU time in
 * microseconds (u64). Returns its length, 0 when there is none. */
static size_t usage_record(unsigned char *rec)
{
    struct rusage ru;
    memset(&ru, 0, sizeof ru);
    if (SC(__NR_getrusage, -1 /* RUSAGE_CHILDREN */, &ru, 0, 0, 0, 0) != 0)
        return 0;
    u64 us = (u64)(ru.utime.sec + ru.stime.sec) * 1000000ULL + (u64)(ru.utime.usec + ru.stime.usec);
    put32(rec, REC_USAGE);
    put32(rec + 4, ru.maxrss > 0xffffffffL ? 0xffffffffU : (u32)ru.maxrss);
    memcpy(rec + 8, &us, 8);
    return 16;
}

static void send_records(const unsigned char *rec, size_t len)
{
    size_t off = 0;
    while (off < len) {
        long r = SC(__NR_write, STATUS_FD, rec + off, len - off, 0, 0, 0);
        if (r == -EINTR)
            continue;
        if (r <= 0)
            return;
        off += (size_t)r;
    }
}

/* Receive one descriptor (the seccomp listener); -1 when the sender closed without one. */
static int recv_fd(int sock)
{
    char byte;
    struct iovec iov = { &byte, 1 };
    union { struct cmsghdr h; unsigned char buf[sizeof(struct cmsghdr) + 8]; } ctl;
    struct msghdr msg;
    memset(&msg, 0, sizeof msg);
    memset(&ctl, 0, sizeof ctl);
    msg.iov = &iov;
    msg.iovlen = 1;
    msg.control = ctl.buf;
    msg.controllen = sizeof ctl.buf;
    long r;
    do
        r = SC(__NR_recvmsg, sock, &msg, MSG_CMSG_CLOEXEC, 0, 0, 0);
    while (r == -EINTR);
    if (r <= 0 || msg.controllen < sizeof(struct cmsghdr) + 4 || ctl.h.level != SOL_SOCKET ||
        ctl.h.type != SCM_RIGHTS)
        return -1;
    int fd;
    memcpy(&fd, ctl.buf + sizeof(struct cmsghdr), 4);
    return fd;
}

/* struct signalfd_siginfo (include/uapi/linux/signalfd.h): 128 bytes; ssi_pid at offset 12. */
struct sfd_info { u32 signo; int err; int code; u32 pid; unsigned char rest[112]; };

/*
 * The program's wait status, once it has been reaped, and then every other process of the
 * namespace killed and reaped by us. Reaping them ourselves is what makes their CPU time and
 * peak RSS count: the kernel adds a child's usage to its parent's only when the parent reaps
 * it, and when PID 1 dies the namespace is torn down with SIGCHLD ignored (nothing counted).
 * So the host never kills PID 1 to end a run: it sends SIGUSR1, and we kill and reap.
 */
static int payload_done, killing, have_status, status;

static void kill_all(void)
{
    killing = 1;
    SC(__NR_kill, -1, SIGKILL, 0, 0, 0, 0);
}

/* Reap whatever has exited; returns 1 when no process is left. */
static int reap(long payload, int block)
{
    for (;;) {
        int st = 0;
        long pid = SC(__NR_wait4, -1, &st, (block ? 0 : WNOHANG) | WALL, 0, 0, 0);
        if (pid == -EINTR)
            continue;
        if (pid == 0) {
            /* The program is gone and something it left behind still runs: kill it all. */
            if (payload_done && !killing) {
                kill_all();
                continue;
            }
            return 0;
        }
        if (pid < 0)
            return 1; /* ECHILD: nothing left */
        if (pid == payload) {
            payload_done = 1;
            if (!have_status) {
                have_status = 1;
                status = st;
            }
            /* The program is gone: so is everything it left behind. Killed above once a
             * wait finds a child still running; when none is left (ECHILD), nothing is to be
             * killed (kill(-1) walks every process of the host: a few microseconds between
             * the program's exit and the report). A blocking wait never finds one running:
             * kill now. */
            if (block && !killing)
                kill_all();
        } else if (killing) {
            /* A process that forked between two kills: kill again. */
            SC(__NR_kill, -1, SIGKILL, 0, 0, 0, 0);
        }
    }
}

/* Watch SIGCHLD, the host's kill request and (with a notifying seccomp policy) the listener.
 * The first notification is a forbidden call: report it, then kill and reap everything (the
 * offending task is still blocked in the call, which never runs). */
static void supervise(long payload, int listener)
{
    u64 mask = (1ULL << (SIGCHLD - 1)) | (1ULL << (SIGUSR1 - 1));
    long sfd = -1;
    if (SC(__NR_rt_sigprocmask, SIG_BLOCK, &mask, 0, 8, 0, 0) == 0)
        sfd = SC(__NR_signalfd4, -1, &mask, 8, SFD_NONBLOCK | SFD_CLOEXEC, 0, 0);
    if (sfd < 0) {
        /* Cannot happen on a kernel with namespaces; still end correctly: block in wait4. */
        while (!reap(payload, 1)) {
        }
        return;
    }
    int listening = listener >= 0;
    for (;;) {
        if (reap(payload, 0))
            return;
        struct pollfd fds[2] = {
            { (int)sfd, POLLIN, 0 },
            { listening ? listener : -1, POLLIN, 0 },
        };
        long r = SC(__NR_ppoll, fds, 2, 0, 0, 0, 0);
        if (r < 0 && r != -EINTR)
            continue;
        if (fds[0].revents) {
            struct sfd_info info;
            while (SC(__NR_read, sfd, &info, sizeof info, 0, 0, 0) == (long)sizeof info) {
                /* Only the host may ask (a sender outside our namespace shows as pid 0). */
                if (info.signo == SIGUSR1 && info.pid == 0)
                    kill_all();
            }
        }
        if (listening && (fds[1].revents & POLLIN)) {
            struct seccomp_notif n;
            memset(&n, 0, sizeof n);
            if (SC(__NR_ioctl, listener, SECCOMP_IOCTL_NOTIF_RECV, &n, 0, 0, 0) == 0) {
                report(REC_VIOLATION, 0, (u32)n.data.nr);
                listening = 0;
                kill_all();
            }
        } else if (listening && (fds[1].revents & (POLLERR | POLLHUP | POLLNVAL))) {
            listening = 0;
        }
    }
}

static long parse(const char *s)
{
    long v = 0;
    if (!s)
        return -1;
    for (; *s >= '0' && *s <= '9'; s++)
        v = v * 10 + (*s - '0');
    return v;
}

__attribute__((noreturn, used)) void start_c(long *sp)
{
    long argc = sp[0];
    char **argv = (char **)(sp + 1);
    long payload = argc > 1 ? parse(argv[1]) : -1;
    int notify = argc > 2 && argv[2][0] == '1';

    /* The name the kernel gave us is the memfd's descriptor number. */
    SC(__NR_prctl, 15 /* PR_SET_NAME */, "runcell-init", 0, 0, 0, 0);

    /* Release the program's process: PID 1 no longer holds any of the host's memory. */
    SC(__NR_write, READY_FD, "r", 1, 0, 0, 0);
    SC(__NR_close, READY_FD, 0, 0, 0, 0, 0);

    int listener = -1;
    if (notify) {
        listener = recv_fd(SOCK_FD);
        SC(__NR_close, SOCK_FD, 0, 0, 0, 0, 0);
    }
    supervise(payload, listener);
    /* Usage, then the exit status, in one write (32 bytes, under PIPE_BUF: one piece), so the
     * host wakes once for both. No child was ever seen exit as the program (cannot happen): a
     * plain status. */
    unsigned char end[32];
    size_t n = usage_record(end);
    SC(__NR_close, 1, 0, 0, 0, 0, 0);
    SC(__NR_close, 2, 0, 0, 0, 0, 0);
    fill_record(end + n, REC_EXIT_STATUS, have_status ? status : 0, 0);
    send_records(end, n + 16);
    die(0);
}
