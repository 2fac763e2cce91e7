//! The raw system-call layer: every `unsafe` of the sandbox lives here.
//!
//! Functions return `Result<_, Errno>` where [`Errno`] is a plain `i32`: creating one neither
//! allocates nor locks, so everything in this module is usable in the forked child between clone
//! and exec (async-signal-safe). Pointers come from C strings and buffers prepared by the parent.

use std::ffi::CStr;
use std::os::fd::RawFd;

/// An errno value.
pub type Errno = i32;

/// Result of a raw call.
pub type SysResult<T> = Result<T, Errno>;

fn errno() -> Errno {
    // SAFETY: __errno_location returns a valid pointer to the calling thread's errno; the forked
    // child keeps a copy of the parent thread's TLS block, so the pointer stays valid there.
    unsafe { *libc::__errno_location() }
}

fn check(ret: libc::c_int) -> SysResult<libc::c_int> {
    if ret < 0 { Err(errno()) } else { Ok(ret) }
}

fn check_long(ret: libc::c_long) -> SysResult<libc::c_long> {
    if ret < 0 { Err(errno()) } else { Ok(ret) }
}

/// Retry a call while it fails with EINTR.
pub fn retry<T>(mut f: impl FnMut() -> SysResult<T>) -> SysResult<T> {
    loop {
        match f() {
            Err(libc::EINTR) => continue,
            other => return other,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// File descriptors and pipes
// ---------------------------------------------------------------------------------------------

/// `pipe2(O_CLOEXEC | extra)`: returns (read end, write end).
pub fn pipe(extra_flags: libc::c_int) -> SysResult<(RawFd, RawFd)> {
    let mut fds = [0 as RawFd; 2];
    // SAFETY: fds is a valid array of two ints for the kernel to fill.
    check(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC | extra_flags) })?;
    Ok((fds[0], fds[1]))
}

/// `close(fd)`, ignoring errors (the fd is gone either way on Linux).
pub fn close(fd: RawFd) {
    // SAFETY: closing an fd number has no memory-safety implications; callers own `fd`.
    unsafe {
        libc::close(fd);
    }
}

/// `dup2(old, new)`; `dup3` cannot be used when old == new.
pub fn dup2(old: RawFd, new: RawFd) -> SysResult<()> {
    // SAFETY: plain fd syscall.
    retry(|| check(unsafe { libc::dup2(old, new) })).map(|_| ())
}

/// Set FD_CLOEXEC on `fd`.
pub fn set_cloexec(fd: RawFd) -> SysResult<()> {
    // SAFETY: plain fcntl on an fd.
    check(unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) }).map(|_| ())
}

/// Duplicate `fd` onto the lowest free number >= `min` (without CLOEXEC).
pub fn dup_above(fd: RawFd, min: RawFd) -> SysResult<RawFd> {
    // SAFETY: plain fcntl on an fd.
    check(unsafe { libc::fcntl(fd, libc::F_DUPFD, min) })
}

/// Close every fd from `first` up.
pub fn close_from(first: u32) -> SysResult<()> {
    // SAFETY: close_range takes plain integers.
    let r = unsafe { libc::syscall(libc::SYS_close_range, first, u32::MAX, 0u32) };
    check_long(r).map(|_| ())
}

/// Set or clear O_NONBLOCK on `fd`.
pub fn set_nonblocking(fd: RawFd, on: bool) -> SysResult<()> {
    // SAFETY: plain fcntl on an fd.
    let flags = check(unsafe { libc::fcntl(fd, libc::F_GETFL) })?;
    let flags = if on {
        flags | libc::O_NONBLOCK
    } else {
        flags & !libc::O_NONBLOCK
    };
    // SAFETY: plain fcntl on an fd.
    check(unsafe { libc::fcntl(fd, libc::F_SETFL, flags) }).map(|_| ())
}

/// Mark every fd from `first` up as close-on-exec (`close_range` with CLOSE_RANGE_CLOEXEC), so
/// the program starts with nothing but what it must have, while our own CLOEXEC error pipe keeps
/// working until exec.
pub fn cloexec_from(first: u32) -> SysResult<()> {
    // SAFETY: close_range takes plain integers.
    let r = unsafe {
        libc::syscall(
            libc::SYS_close_range,
            first,
            u32::MAX,
            libc::CLOSE_RANGE_CLOEXEC,
        )
    };
    check_long(r).map(|_| ())
}

/// `read` into `buf`.
pub fn read(fd: RawFd, buf: &mut [u8]) -> SysResult<usize> {
    // SAFETY: buf is a valid writable buffer of buf.len() bytes.
    let r = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
    if r < 0 { Err(errno()) } else { Ok(r as usize) }
}

/// `write` from `buf`.
pub fn write(fd: RawFd, buf: &[u8]) -> SysResult<usize> {
    // SAFETY: buf is a valid readable buffer of buf.len() bytes.
    let r = unsafe { libc::write(fd, buf.as_ptr().cast(), buf.len()) };
    if r < 0 { Err(errno()) } else { Ok(r as usize) }
}

/// Write all of `buf`, retrying on EINTR and short writes.
pub fn write_all(fd: RawFd, mut buf: &[u8]) -> SysResult<()> {
    while !buf.is_empty() {
        let n = retry(|| write(fd, buf))?;
        if n == 0 {
            return Err(libc::EIO);
        }
        buf = &buf[n..];
    }
    Ok(())
}

/// `open` of a prepared C path.
pub fn open(path: &CStr, flags: libc::c_int, mode: libc::mode_t) -> SysResult<RawFd> {
    // SAFETY: path is a valid NUL-terminated string.
    retry(|| check(unsafe { libc::open(path.as_ptr(), flags | libc::O_CLOEXEC, mode) }))
}

/// True when the other end of a pipe has been closed (non-blocking check).
pub fn hung_up(fd: RawFd) -> bool {
    let mut p = [libc::pollfd {
        fd,
        events: 0,
        revents: 0,
    }];
    matches!(poll(&mut p, 0), Ok(n) if n > 0 && p[0].revents & (libc::POLLHUP | libc::POLLERR) != 0)
}

/// `poll` on a set of fds with a timeout in milliseconds (-1: forever).
pub fn poll(fds: &mut [libc::pollfd], timeout_ms: libc::c_int) -> SysResult<usize> {
    // SAFETY: fds is a valid slice of pollfd structures.
    let r = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, timeout_ms) };
    check(r).map(|n| n as usize)
}

// ---------------------------------------------------------------------------------------------
// Processes
// ---------------------------------------------------------------------------------------------

/// Arguments of clone3 (include/uapi/linux/sched.h).
#[repr(C)]
#[derive(Default)]
struct CloneArgs {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
    set_tid: u64,
    set_tid_size: u64,
    cgroup: u64,
}

/// Fork-like clone with `flags` and CLONE_PIDFD. Returns `Some((pid, pidfd))` in the parent and
/// `None` in the child. The child runs on a copy of the calling thread's stack and must only make
/// async-signal-safe calls until it execs or exits.
///
/// Uses clone3, falling back to clone when the kernel lacks clone3 (Linux < 5.3).
pub fn clone_pidfd(flags: u64) -> SysResult<Option<(libc::pid_t, RawFd)>> {
    let mut pidfd: RawFd = -1;
    let mut args = CloneArgs {
        flags: flags | libc::CLONE_PIDFD as u64,
        pidfd: (&mut pidfd as *mut RawFd) as u64,
        exit_signal: libc::SIGCHLD as u64,
        ..Default::default()
    };
    // SAFETY: clone3 without a new stack behaves like fork: the child continues on a private
    // copy of this thread's stack. args points to a valid, correctly sized clone_args.
    let mut r = unsafe {
        libc::syscall(
            libc::SYS_clone3,
            &mut args as *mut CloneArgs,
            std::mem::size_of::<CloneArgs>(),
        )
    };
    if r < 0 && errno() == libc::ENOSYS {
        // SAFETY: raw clone with a NULL stack is fork-like; on x86_64 the argument order is
        // (flags, stack, parent_tid, child_tid, tls) and CLONE_PIDFD stores the fd at parent_tid.
        r = unsafe {
            libc::syscall(
                libc::SYS_clone,
                flags | libc::CLONE_PIDFD as u64 | libc::SIGCHLD as u64,
                0usize,
                &mut pidfd as *mut RawFd,
                0usize,
                0usize,
            )
        };
    }
    let pid = check_long(r)?;
    if pid == 0 {
        Ok(None)
    } else {
        Ok(Some((pid as libc::pid_t, pidfd)))
    }
}

/// Start `f` in a new process that shares our memory until it execs or exits (vfork
/// semantics, like posix_spawn): no page tables are copied, and the caller is suspended until
/// then. `f` runs on `stack` and must exec or `_exit`; it may only make async-signal-safe
/// calls and must not return.
pub fn vfork_on<F: FnOnce() -> std::convert::Infallible>(
    stack: &mut [std::mem::MaybeUninit<u8>],
    f: F,
) -> SysResult<libc::pid_t> {
    // `f()` has an uninhabited type: the match proves it never returns.
    #[allow(unreachable_code)]
    extern "C" fn trampoline<F: FnOnce() -> std::convert::Infallible>(
        arg: *mut libc::c_void,
    ) -> libc::c_int {
        // SAFETY: arg is the &mut Option<F> below, alive while the parent is suspended.
        let slot = unsafe { &mut *(arg as *mut Option<F>) };
        match slot.take() {
            Some(f) => match f() {},
            None => exit(127),
        }
    }
    let mut slot = Some(f);
    let len = stack.len();
    // The stack grows down: start at its (16-byte aligned) top.
    let top = (stack.as_mut_ptr() as usize + len) & !15;
    // SAFETY: the child runs trampoline::<F> on `stack`, which outlives it (we are suspended
    // until it execs or exits); `slot` lives in this frame for the same reason.
    let pid = unsafe {
        libc::clone(
            trampoline::<F>,
            top as *mut libc::c_void,
            libc::CLONE_VM | libc::CLONE_VFORK | libc::SIGCHLD,
            (&mut slot as *mut Option<F>).cast(),
        )
    };
    check(pid)
}

/// SIGKILL every process this one may signal (in the sandbox's init: everything in the PID
/// namespace but itself).
pub fn kill_all() -> SysResult<()> {
    // SAFETY: plain integers.
    check(unsafe { libc::kill(-1, libc::SIGKILL) }).map(|_| ())
}

/// Blank the argument strings at `[start, end)` (this process's copy of the host's argv, as
/// the kernel shows it in /proc/PID/cmdline) with `name` and zeros, and set the thread name.
pub fn scrub_identity(args: (usize, usize), name: &CStr) {
    let (start, end) = args;
    if start != 0 && end > start && end - start < (1 << 20) {
        let bytes = name.to_bytes_with_nul();
        let n = bytes.len().min(end - start);
        // SAFETY: [start, end) is the argument area of the process image we are a copy of
        // (read from /proc/self/stat by the parent): mapped, writable memory of this
        // process's private copy. Nothing in this process reads it afterwards.
        unsafe {
            std::ptr::write_bytes(start as *mut u8, 0, end - start);
            std::ptr::copy_nonoverlapping(bytes.as_ptr(), start as *mut u8, n);
        }
    }
    let _ = prctl(libc::PR_SET_NAME, name.as_ptr() as libc::c_ulong, 0);
}

/// `wait4(pid, ..)`: returns (pid, raw status, rusage).
pub fn wait4(pid: libc::pid_t, flags: libc::c_int) -> SysResult<(libc::pid_t, i32, libc::rusage)> {
    let mut status = 0;
    // SAFETY: rusage is plain old data; zeroed is a valid value.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: status and usage are valid out-pointers.
    let r = retry(|| check(unsafe { libc::wait4(pid, &mut status, flags, &mut usage) }))?;
    Ok((r, status, usage))
}

/// Send a signal through a pidfd (no pid-reuse race).
pub fn pidfd_send_signal(pidfd: RawFd, sig: libc::c_int) -> SysResult<()> {
    // SAFETY: plain integers and a NULL siginfo.
    let r = unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            pidfd,
            sig,
            std::ptr::null::<libc::siginfo_t>(),
            0,
        )
    };
    check_long(r).map(|_| ())
}

/// `_exit(code)`: leave without running atexit handlers or flushing anything.
pub fn exit(code: i32) -> ! {
    // SAFETY: _exit never returns and touches no user-space state.
    unsafe { libc::_exit(code) }
}

/// Reset every signal's disposition to the default (handlers of the host must never run in
/// the child, and ignored signals would stay ignored across exec). Signals stay blocked: the
/// parent blocked them all around clone.
pub fn reset_signals() {
    for sig in 1..=64 {
        if sig == libc::SIGKILL || sig == libc::SIGSTOP {
            continue;
        }
        // SAFETY: a zeroed sigaction with SIG_DFL is valid; rt_sigaction takes the kernel's
        // sigset size (8 bytes on Linux).
        unsafe {
            let mut act: libc::sigaction = std::mem::zeroed();
            act.sa_sigaction = libc::SIG_DFL;
            libc::syscall(
                libc::SYS_rt_sigaction,
                sig,
                &act as *const libc::sigaction,
                std::ptr::null_mut::<libc::sigaction>(),
                8usize,
            );
        }
    }
}

/// Unblock every signal of the calling thread.
pub fn unblock_signals() {
    let empty: u64 = 0;
    // SAFETY: an 8-byte kernel sigset of all zeros; NULL old set.
    unsafe {
        libc::syscall(
            libc::SYS_rt_sigprocmask,
            libc::SIG_SETMASK,
            &empty as *const u64,
            std::ptr::null_mut::<u64>(),
            8usize,
        );
    }
}

/// Block every signal in the calling thread; returns the previous mask (parent side, around
/// clone, so no host handler runs in the child before it resets them).
pub fn block_all_signals() -> libc::sigset_t {
    // SAFETY: sigset_t is plain data; sigfillset/pthread_sigmask get valid pointers.
    unsafe {
        let mut all: libc::sigset_t = std::mem::zeroed();
        let mut old: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut all);
        libc::pthread_sigmask(libc::SIG_SETMASK, &all, &mut old);
        old
    }
}

/// Restore a mask saved by [`block_all_signals`].
pub fn restore_signals(old: &libc::sigset_t) {
    // SAFETY: old is a valid sigset.
    unsafe {
        libc::pthread_sigmask(libc::SIG_SETMASK, old, std::ptr::null_mut());
    }
}

/// `write` that never raises SIGPIPE in the host: the signal is blocked for the call and a
/// pending one consumed on EPIPE.
pub fn write_nosigpipe(fd: RawFd, buf: &[u8]) -> SysResult<usize> {
    // SAFETY: sigset_t is plain data and every pointer is valid.
    unsafe {
        let mut pipe_set: libc::sigset_t = std::mem::zeroed();
        let mut old: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut pipe_set);
        libc::sigaddset(&mut pipe_set, libc::SIGPIPE);
        libc::pthread_sigmask(libc::SIG_BLOCK, &pipe_set, &mut old);
        let r = write(fd, buf);
        if r == Err(libc::EPIPE) && libc::sigismember(&old, libc::SIGPIPE) == 0 {
            let zero = libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            };
            libc::sigtimedwait(&pipe_set, std::ptr::null_mut(), &zero);
        }
        libc::pthread_sigmask(libc::SIG_SETMASK, &old, std::ptr::null_mut());
        r
    }
}

/// `prctl` with integer arguments.
pub fn prctl(op: libc::c_int, a: libc::c_ulong, b: libc::c_ulong) -> SysResult<()> {
    // SAFETY: prctl with integer arguments only.
    check(unsafe { libc::prctl(op, a, b, 0 as libc::c_ulong, 0 as libc::c_ulong) }).map(|_| ())
}

/// `unshare(flags)`.
pub fn unshare(flags: libc::c_int) -> SysResult<()> {
    // SAFETY: unshare takes an integer flag set only.
    check(unsafe { libc::unshare(flags) }).map(|_| ())
}

/// `setsid()`.
pub fn setsid() -> SysResult<()> {
    // SAFETY: no arguments.
    check(unsafe { libc::setsid() }).map(|_| ())
}

/// `setresuid`/`setresgid` to one id, and an empty supplementary group list when allowed.
pub fn set_ids(uid: libc::uid_t, gid: libc::gid_t, clear_groups: bool) -> SysResult<()> {
    // Raw syscalls, not the glibc wrappers: those broadcast the change to every thread glibc
    // believes exists (the parent's threads, copied as bookkeeping only) and wait forever.
    if clear_groups {
        // SAFETY: an empty list with a NULL pointer is valid for setgroups.
        check_long(unsafe {
            libc::syscall(libc::SYS_setgroups, 0usize, std::ptr::null::<libc::gid_t>())
        })?;
    }
    // SAFETY: plain integers.
    check_long(unsafe { libc::syscall(libc::SYS_setresgid, gid, gid, gid) })?;
    // SAFETY: as above.
    check_long(unsafe { libc::syscall(libc::SYS_setresuid, uid, uid, uid) })?;
    Ok(())
}

/// `setrlimit` (prlimit64 on ourselves).
pub fn set_rlimit(resource: libc::__rlimit_resource_t, soft: u64, hard: u64) -> SysResult<()> {
    let lim = libc::rlimit64 {
        rlim_cur: soft,
        rlim_max: hard,
    };
    // SAFETY: lim is a valid rlimit64.
    check(unsafe { libc::setrlimit64(resource, &lim) }).map(|_| ())
}

/// `execve` with prepared NULL-terminated argv and envp pointer arrays.
pub fn execve(path: &CStr, argv: &[*const libc::c_char], envp: &[*const libc::c_char]) -> Errno {
    // SAFETY: path is NUL-terminated; argv/envp are NULL-terminated arrays of pointers to C
    // strings owned by the parent's prepared data, alive for the whole call.
    unsafe { libc::execve(path.as_ptr(), argv.as_ptr(), envp.as_ptr()) };
    errno()
}

// ---------------------------------------------------------------------------------------------
// Mounts and the file system
// ---------------------------------------------------------------------------------------------

/// `mount(2)` with optional source, fstype and data strings.
pub fn mount(
    src: Option<&CStr>,
    target: &CStr,
    fstype: Option<&CStr>,
    flags: libc::c_ulong,
    data: Option<&CStr>,
) -> SysResult<()> {
    let p = |s: Option<&CStr>| s.map_or(std::ptr::null(), |s| s.as_ptr());
    // SAFETY: every pointer is NULL or a NUL-terminated string.
    check(unsafe { libc::mount(p(src), target.as_ptr(), p(fstype), flags, p(data).cast()) })
        .map(|_| ())
}

/// `umount2(target, flags)`.
pub fn umount2(target: &CStr, flags: libc::c_int) -> SysResult<()> {
    // SAFETY: target is NUL-terminated.
    check(unsafe { libc::umount2(target.as_ptr(), flags) }).map(|_| ())
}

/// `mount_setattr(AT_FDCWD, path, flags, {attr_set})`: add mount attributes (read-only, nosuid,
/// nodev) without having to restate the locked ones a user namespace inherited.
pub fn mount_setattr(path: &CStr, recursive: bool, attr_set: u64) -> SysResult<()> {
    #[repr(C)]
    struct MountAttr {
        attr_set: u64,
        attr_clr: u64,
        propagation: u64,
        userns_fd: u64,
    }
    let attr = MountAttr {
        attr_set,
        attr_clr: 0,
        propagation: 0,
        userns_fd: 0,
    };
    let flags = if recursive { libc::AT_RECURSIVE } else { 0 };
    // SAFETY: path is NUL-terminated and attr is a valid mount_attr of the given size.
    let r = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            libc::AT_FDCWD,
            path.as_ptr(),
            flags,
            &attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    };
    check_long(r).map(|_| ())
}

/// `statfs(path).f_flags`: the mount flags currently applied (for remounts on old kernels).
pub fn statfs_flags(path: &CStr) -> SysResult<libc::c_ulong> {
    // SAFETY: statvfs is plain old data.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: path is NUL-terminated and st a valid out-pointer.
    check(unsafe { libc::statvfs(path.as_ptr(), &mut st) })?;
    Ok(st.f_flag as libc::c_ulong)
}

/// `pivot_root(new_root, put_old)`.
pub fn pivot_root(new_root: &CStr, put_old: &CStr) -> SysResult<()> {
    // SAFETY: both paths are NUL-terminated.
    let r = unsafe { libc::syscall(libc::SYS_pivot_root, new_root.as_ptr(), put_old.as_ptr()) };
    check_long(r).map(|_| ())
}

/// `chdir(path)`.
pub fn chdir(path: &CStr) -> SysResult<()> {
    // SAFETY: path is NUL-terminated.
    check(unsafe { libc::chdir(path.as_ptr()) }).map(|_| ())
}

/// `mkdir(path, mode)`; an existing entry is not an error.
pub fn mkdir(path: &CStr, mode: libc::mode_t) -> SysResult<()> {
    // SAFETY: path is NUL-terminated.
    match check(unsafe { libc::mkdir(path.as_ptr(), mode) }) {
        Ok(_) | Err(libc::EEXIST) => Ok(()),
        Err(e) => Err(e),
    }
}

/// `rmdir(path)`.
pub fn rmdir(path: &CStr) -> SysResult<()> {
    // SAFETY: path is NUL-terminated.
    check(unsafe { libc::rmdir(path.as_ptr()) }).map(|_| ())
}

/// Create an empty regular file (a mount point for a file bind); an existing one is fine.
pub fn touch(path: &CStr, mode: libc::mode_t) -> SysResult<()> {
    let fd = open(path, libc::O_CREAT | libc::O_WRONLY, mode)?;
    close(fd);
    Ok(())
}

/// `symlink(target, path)`.
pub fn symlink(target: &CStr, path: &CStr) -> SysResult<()> {
    // SAFETY: both are NUL-terminated.
    check(unsafe { libc::symlink(target.as_ptr(), path.as_ptr()) }).map(|_| ())
}

/// `sethostname` and `setdomainname`.
pub fn set_hostname(name: &CStr) -> SysResult<()> {
    let bytes = name.to_bytes();
    // SAFETY: bytes is a valid buffer of the given length.
    check(unsafe { libc::sethostname(bytes.as_ptr().cast(), bytes.len()) })?;
    // SAFETY: as above.
    check(unsafe { libc::setdomainname(bytes.as_ptr().cast(), bytes.len()) }).map(|_| ())
}

/// Bring the loopback interface up (SIOCSIFFLAGS on "lo").
pub fn loopback_up() -> SysResult<()> {
    // SAFETY: plain socket call.
    let fd =
        check(unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) })?;
    // SAFETY: ifreq is plain old data; zeroed is valid.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (dst, src) in req.ifr_name.iter_mut().zip(b"lo\0") {
        *dst = *src as libc::c_char;
    }
    // SAFETY: req is a valid ifreq for SIOCGIFFLAGS/SIOCSIFFLAGS.
    let res = check(unsafe { libc::ioctl(fd, libc::SIOCGIFFLAGS, &mut req) }).and_then(|_| {
        // SAFETY: the union member ifru_flags is the one SIOCGIFFLAGS filled in.
        unsafe { req.ifr_ifru.ifru_flags |= (libc::IFF_UP | libc::IFF_RUNNING) as libc::c_short };
        // SAFETY: as above.
        check(unsafe { libc::ioctl(fd, libc::SIOCSIFFLAGS, &req) })
    });
    close(fd);
    res.map(|_| ())
}

/// Join a fresh anonymous session keyring, so the host's session keys are out of reach.
pub fn new_session_keyring() -> SysResult<()> {
    const KEYCTL_JOIN_SESSION_KEYRING: libc::c_long = 1;
    // SAFETY: a NULL name asks for an anonymous keyring.
    let r = unsafe {
        libc::syscall(
            libc::SYS_keyctl,
            KEYCTL_JOIN_SESSION_KEYRING,
            std::ptr::null::<libc::c_char>(),
        )
    };
    check_long(r).map(|_| ())
}

// ---------------------------------------------------------------------------------------------
// Capabilities, landlock, seccomp
// ---------------------------------------------------------------------------------------------

/// Drop every capability: bounding set (caps 0..=last_cap), ambient set, then effective,
/// permitted and inheritable through capset.
pub fn drop_all_caps(last_cap: u32) -> SysResult<()> {
    for cap in 0..=last_cap {
        match prctl(libc::PR_CAPBSET_DROP, cap as libc::c_ulong, 0) {
            Ok(()) | Err(libc::EINVAL) => {}
            Err(e) => return Err(e),
        }
    }
    prctl(
        libc::PR_CAP_AMBIENT,
        libc::PR_CAP_AMBIENT_CLEAR_ALL as libc::c_ulong,
        0,
    )?;
    #[repr(C)]
    struct Header {
        version: u32,
        pid: i32,
    }
    #[repr(C)]
    #[derive(Clone, Copy)]
    struct Data {
        effective: u32,
        permitted: u32,
        inheritable: u32,
    }
    const LINUX_CAPABILITY_VERSION_3: u32 = 0x2008_0522;
    let header = Header {
        version: LINUX_CAPABILITY_VERSION_3,
        pid: 0,
    };
    let data = [Data {
        effective: 0,
        permitted: 0,
        inheritable: 0,
    }; 2];
    // SAFETY: header and data are valid, correctly sized capset structures (version 3 takes two
    // data elements).
    let r = unsafe { libc::syscall(libc::SYS_capset, &header as *const Header, data.as_ptr()) };
    check_long(r).map(|_| ())
}

/// Landlock ruleset attribute (uapi struct landlock_ruleset_attr, ABI 6 layout).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct LandlockRulesetAttr {
    pub handled_access_fs: u64,
    pub handled_access_net: u64,
    pub scoped: u64,
}

/// The landlock ABI version of the running kernel, or 0 when landlock is unavailable.
pub fn landlock_abi() -> i32 {
    const LANDLOCK_CREATE_RULESET_VERSION: u32 = 1;
    // SAFETY: a NULL attr with size 0 and the VERSION flag only queries the ABI.
    let r = unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            std::ptr::null::<LandlockRulesetAttr>(),
            0usize,
            LANDLOCK_CREATE_RULESET_VERSION,
        )
    };
    if r < 0 { 0 } else { r as i32 }
}

/// Create a landlock ruleset; `size` is how much of the attribute the ABI knows.
pub fn landlock_create_ruleset(attr: &LandlockRulesetAttr, size: usize) -> SysResult<RawFd> {
    // SAFETY: attr is valid for `size` bytes (size <= size_of::<LandlockRulesetAttr>()).
    let r = unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            attr as *const LandlockRulesetAttr,
            size.min(std::mem::size_of::<LandlockRulesetAttr>()),
            0u32,
        )
    };
    check_long(r).map(|fd| fd as RawFd)
}

/// Add a path-beneath rule for the object at `path` to a ruleset.
pub fn landlock_add_path_rule(ruleset: RawFd, path: &CStr, allowed: u64) -> SysResult<()> {
    #[repr(C, packed)]
    struct PathBeneath {
        allowed_access: u64,
        parent_fd: i32,
    }
    const LANDLOCK_RULE_PATH_BENEATH: u32 = 1;
    let fd = open(path, libc::O_PATH, 0)?;
    let attr = PathBeneath {
        allowed_access: allowed,
        parent_fd: fd,
    };
    // SAFETY: attr is a valid landlock_path_beneath_attr (packed, as in the uapi).
    let r = unsafe {
        libc::syscall(
            libc::SYS_landlock_add_rule,
            ruleset,
            LANDLOCK_RULE_PATH_BENEATH,
            &attr as *const PathBeneath,
            0u32,
        )
    };
    close(fd);
    check_long(r).map(|_| ())
}

/// Enforce a landlock ruleset on the calling thread (and what it execs and forks).
pub fn landlock_restrict_self(ruleset: RawFd) -> SysResult<()> {
    // SAFETY: plain integers.
    let r = unsafe { libc::syscall(libc::SYS_landlock_restrict_self, ruleset, 0u32) };
    check_long(r).map(|_| ())
}

/// Install one seccomp BPF program (`SECCOMP_SET_MODE_FILTER`). Returns the listener fd when
/// `flags` asks for one, else 0.
pub fn seccomp_install(prog: &[libc::sock_filter], flags: libc::c_ulong) -> SysResult<RawFd> {
    let fprog = libc::sock_fprog {
        len: prog.len() as libc::c_ushort,
        filter: prog.as_ptr() as *mut libc::sock_filter,
    };
    // SAFETY: fprog points at a valid BPF program that outlives the call (the kernel copies it).
    let r = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_SET_MODE_FILTER,
            flags,
            &fprog as *const libc::sock_fprog,
        )
    };
    check_long(r).map(|fd| fd as RawFd)
}

/// `socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC)`.
pub fn socketpair() -> SysResult<(RawFd, RawFd)> {
    let mut fds = [0 as RawFd; 2];
    // SAFETY: fds is a valid array of two ints.
    check(unsafe {
        libc::socketpair(
            libc::AF_UNIX,
            libc::SOCK_SEQPACKET | libc::SOCK_CLOEXEC,
            0,
            fds.as_mut_ptr(),
        )
    })?;
    Ok((fds[0], fds[1]))
}

/// Room for one fd in a control message (CMSG_SPACE(sizeof(int)) on 64-bit Linux is 24).
#[repr(C, align(8))]
struct CmsgBuf([u8; 32]);

/// A one-byte message with room for one fd in its control buffer; `msghdr` points into the
/// struct, so it must not move while a message built from it is in use.
struct FdMessage {
    byte: [u8; 1],
    iov: libc::iovec,
    buf: CmsgBuf,
}

impl FdMessage {
    fn new() -> FdMessage {
        FdMessage {
            byte: [0],
            iov: libc::iovec {
                iov_base: std::ptr::null_mut(),
                iov_len: 0,
            },
            buf: CmsgBuf([0; 32]),
        }
    }

    /// A msghdr over this message's byte and control buffer (`control_len` bytes of it).
    fn header(&mut self, control_len: usize) -> libc::msghdr {
        self.iov = libc::iovec {
            iov_base: self.byte.as_mut_ptr().cast(),
            iov_len: 1,
        };
        // SAFETY: msghdr is plain data; zeroed is a valid value before the fields are set.
        let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
        msg.msg_iov = &mut self.iov;
        msg.msg_iovlen = 1;
        msg.msg_control = self.buf.0.as_mut_ptr().cast();
        msg.msg_controllen = control_len.min(self.buf.0.len());
        msg
    }
}

/// Send one fd over a unix socket (SCM_RIGHTS), with a one-byte payload.
pub fn send_fd(sock: RawFd, fd: RawFd) -> SysResult<()> {
    let mut m = FdMessage::new();
    // SAFETY: CMSG_SPACE only computes a size.
    let space = unsafe { libc::CMSG_SPACE(std::mem::size_of::<RawFd>() as u32) } as usize;
    let msg = m.header(space);
    // SAFETY: the control buffer is aligned and large enough for one int; CMSG_* compute
    // offsets within it; `m` outlives the sendmsg call.
    unsafe {
        let cmsg = libc::CMSG_FIRSTHDR(&msg);
        if cmsg.is_null() {
            return Err(libc::EINVAL);
        }
        (*cmsg).cmsg_level = libc::SOL_SOCKET;
        (*cmsg).cmsg_type = libc::SCM_RIGHTS;
        (*cmsg).cmsg_len = libc::CMSG_LEN(std::mem::size_of::<RawFd>() as u32) as usize;
        std::ptr::write_unaligned(libc::CMSG_DATA(cmsg).cast::<RawFd>(), fd);
        retry(|| check_long(libc::sendmsg(sock, &msg, libc::MSG_NOSIGNAL) as libc::c_long))
            .map(|_| ())
    }
}

/// Receive one fd sent by [`send_fd`]; `Ok(None)` at end of stream.
pub fn recv_fd(sock: RawFd) -> SysResult<Option<RawFd>> {
    let mut m = FdMessage::new();
    let mut msg = m.header(usize::MAX);
    // SAFETY: msg points into `m`, alive for the call; the kernel fills at most
    // msg_controllen bytes of the control buffer, which CMSG_* then read within bounds.
    unsafe {
        let n = retry(|| {
            check_long(libc::recvmsg(sock, &mut msg, libc::MSG_CMSG_CLOEXEC) as libc::c_long)
        })?;
        if n == 0 {
            return Ok(None);
        }
        let cmsg = libc::CMSG_FIRSTHDR(&msg);
        if cmsg.is_null() || (*cmsg).cmsg_type != libc::SCM_RIGHTS {
            return Ok(None);
        }
        Ok(Some(std::ptr::read_unaligned(
            libc::CMSG_DATA(cmsg).cast::<RawFd>(),
        )))
    }
}

/// A signalfd for SIGCHLD (which the caller has blocked).
pub fn signalfd_sigchld() -> SysResult<RawFd> {
    let mask: u64 = 1 << (libc::SIGCHLD - 1);
    // SAFETY: an 8-byte kernel sigset; plain integers otherwise.
    let r = unsafe {
        libc::syscall(
            libc::SYS_signalfd4,
            -1,
            &mask as *const u64,
            8usize,
            libc::SFD_CLOEXEC | libc::SFD_NONBLOCK,
        )
    };
    check_long(r).map(|fd| fd as RawFd)
}

/// Block SIGCHLD in the calling thread (raw rt_sigprocmask).
pub fn block_sigchld() -> SysResult<()> {
    let mask: u64 = 1 << (libc::SIGCHLD - 1);
    // SAFETY: an 8-byte kernel sigset; NULL old set.
    let r = unsafe {
        libc::syscall(
            libc::SYS_rt_sigprocmask,
            libc::SIG_BLOCK,
            &mask as *const u64,
            std::ptr::null_mut::<u64>(),
            8usize,
        )
    };
    check_long(r).map(|_| ())
}

/// Receive one seccomp user notification: returns the syscall number.
pub fn seccomp_notif_recv(listener: RawFd) -> SysResult<i32> {
    // SAFETY: seccomp_notif is plain data and must be zeroed before NOTIF_RECV.
    let mut notif: libc::seccomp_notif = unsafe { std::mem::zeroed() };
    // SAFETY: notif is a valid, zeroed seccomp_notif for the kernel to fill.
    check(unsafe { libc::ioctl(listener, libc::SECCOMP_IOCTL_NOTIF_RECV, &mut notif) })?;
    Ok(notif.data.nr)
}

// ---------------------------------------------------------------------------------------------
// Probes for `runcell::check` (host capabilities; nothing here is used by a run)
// ---------------------------------------------------------------------------------------------

/// Whether `clone3` exists: called with a NULL, zero-sized argument it fails with EINVAL when
/// the kernel has it, and with ENOSYS (or a seccomp filter's errno, e.g. EPERM in older
/// container runtimes) when not. Returns that errno.
pub fn clone3_probe() -> Errno {
    // SAFETY: size 0 makes the kernel reject the call before it reads the (NULL) argument.
    let r = unsafe { libc::syscall(libc::SYS_clone3, std::ptr::null::<u8>(), 0usize) };
    if r >= 0 { 0 } else { errno() }
}

/// `open_tree(AT_FDCWD, path, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC)`: a detached copy of the
/// mount at `path` (the new mount API; needs CAP_SYS_ADMIN over the mount namespace).
pub fn open_tree_clone(path: &CStr) -> SysResult<RawFd> {
    const OPEN_TREE_CLONE: libc::c_uint = 1;
    // SAFETY: path is NUL-terminated; the flags are plain integers.
    let r = unsafe {
        libc::syscall(
            libc::SYS_open_tree,
            libc::AT_FDCWD,
            path.as_ptr(),
            OPEN_TREE_CLONE | libc::O_CLOEXEC as libc::c_uint,
        )
    };
    check_long(r).map(|fd| fd as RawFd)
}
