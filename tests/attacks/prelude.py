# Prepended to every attack program of tests/attacks.rs.
#
# sc(nr, *args) makes a raw system call through libc's syscall(2) and returns "OK" or the errno
# name; ex(fn) runs fn and returns "OK" or the errno name of the OSError it raised. R(key, value)
# prints one "key=value" line, which the Rust side parses and asserts on.
import ctypes, errno, os, signal, socket, sys

libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long


def _arg(a):
    if isinstance(a, int):
        return ctypes.c_long(a)
    if isinstance(a, str):
        return ctypes.c_char_p(a.encode())
    if isinstance(a, bytes):
        return ctypes.c_char_p(a)
    return a


def raw(nr, *args):
    """Raw syscall: (return value, errno)."""
    ctypes.set_errno(0)
    r = libc.syscall(ctypes.c_long(nr), *[_arg(a) for a in args])
    return r, (ctypes.get_errno() if r < 0 else 0)


def name(e):
    return errno.errorcode.get(e, str(e))


def sc(nr, *args):
    r, e = raw(nr, *args)
    return "OK" if r >= 0 else name(e)


def ex(fn):
    try:
        fn()
        return "OK"
    except OSError as e:
        return name(e.errno)


def R(key, value):
    print(f"{key}={value}", flush=True)


def fork_clone(nr, *args):
    """clone/clone3 with fork semantics: the child exits 7 at once; returns "child7" or errno."""
    r, e = raw(nr, *args)
    if r == 0:
        os._exit(7)
    if r < 0:
        return name(e)
    _, st = os.waitpid(r, 0)
    return f"child{os.waitstatus_to_exitcode(st)}"


def blocked_child():
    """A child of ours that blocks reading a pipe until killed."""
    rd, wr = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.read(rd, 1)
        os._exit(0)
    return pid


# x86_64 system call numbers.
NR = dict(
    ioctl=16, socket=41, clone=56, kill=62, mknod=133, personality=135, syslog=103, ptrace=101,
    pivot_root=155, chroot=161, settimeofday=164, mount=165, umount2=166, swapon=167,
    reboot=169, sethostname=170, iopl=172, init_module=175, clock_settime=227, kexec_load=246,
    keyctl=250, unshare=272, perf_event_open=298, name_to_handle_at=303,
    open_by_handle_at=304, setns=308, process_vm_readv=310, kcmp=312, finit_module=313,
    bpf=321, userfaultfd=323, io_uring_setup=425, open_tree=428, fsopen=430, clone3=435,
    pidfd_getfd=438,
)
CLONE_NEWUSER = 0x10000000
CLONE_NEWNS = 0x00020000
CLONE_NEWNET = 0x40000000
