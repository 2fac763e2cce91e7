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

/// Whether a process `pid` exists in this process's PID namespace (`kill(pid, 0)`: only
/// ESRCH says it does not; EPERM is a process this one may not signal). Unlike a look at
/// `/proc/<pid>`, right whichever PID namespace the mounted /proc belongs to.
pub fn pid_exists(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    if pid <= 0 {
        return false;
    }
    // SAFETY: signal 0 sends nothing; it only checks that the target exists.
    let r = unsafe { libc::kill(pid, 0) };
    r == 0 || errno() != libc::ESRCH
}

/// `close(fd)`, ignoring errors (the fd is gone either way on Linux).
pub fn close(fd: RawFd) {
    close_raw(fd)
}

/// `dup2(old, new)`; `dup3` cannot be used when old == new.
pub fn dup2(old: RawFd, new: RawFd) -> SysResult<()> {
    // SAFETY: plain fd syscall.
    retry(|| check(unsafe { libc::dup2(old, new) })).map(|_| ())
}

/// Set FD_CLOEXEC on `fd`.
pub fn set_cloexec(fd: RawFd) -> SysResult<()> {
    set_cloexec_raw(fd)
}

/// Duplicate `fd` onto the lowest free number >= `min` (without CLOEXEC).
pub fn dup_above(fd: RawFd, min: RawFd) -> SysResult<RawFd> {
    // SAFETY: plain fcntl on an fd.
    check(unsafe { libc::fcntl(fd, libc::F_DUPFD, min) })
}

/// The access mode of `fd` (O_RDONLY, O_WRONLY or O_RDWR); EBADF when it is not open.
pub fn access_mode(fd: RawFd) -> SysResult<libc::c_int> {
    // SAFETY: integer arguments only.
    check(unsafe { libc::fcntl(fd, libc::F_GETFL) }).map(|f| f & libc::O_ACCMODE)
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
pub fn write_all(fd: RawFd, buf: &[u8]) -> SysResult<()> {
    write_all_raw(fd, buf)
}

/// `open` of a prepared C path.
pub fn open(path: &CStr, flags: libc::c_int, mode: libc::mode_t) -> SysResult<RawFd> {
    // SAFETY: path is a valid NUL-terminated string.
    retry(|| check(unsafe { libc::open(path.as_ptr(), flags | libc::O_CLOEXEC, mode) }))
}

/// Open `path` for writing (no create, no follow) and write `data` to it.
pub fn write_file(path: &CStr, data: &[u8]) -> SysResult<()> {
    let fd = open(path, libc::O_WRONLY | libc::O_CLOEXEC | libc::O_NOFOLLOW, 0)?;
    let r = write_all(fd, data);
    close(fd);
    r
}

// ---------------------------------------------------------------------------------------------
// Host-side file access in directories a sandbox could write (workspaces)
// ---------------------------------------------------------------------------------------------

/// Open `path` relative to `dir`, never leaving `dir` and never following any symlink
/// (`openat2` with RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS; `mode` applies
/// with O_CREAT). Kernels without openat2 (< 5.6) are refused at `build()`, and a workspace
/// needs a built sandbox.
pub fn openat_beneath(
    dir: RawFd,
    path: &CStr,
    flags: libc::c_int,
    mode: libc::mode_t,
) -> SysResult<RawFd> {
    openat2_mode(
        dir,
        path,
        flags | libc::O_NOFOLLOW,
        if flags & libc::O_CREAT != 0 { mode } else { 0 },
        RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
    )
}

/// `fcntl(F_DUPFD_CLOEXEC)`.
pub fn dup_cloexec(fd: RawFd) -> SysResult<RawFd> {
    // SAFETY: integer arguments only.
    check(unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 0) })
}

/// `unlinkat(dir, name, dir ? AT_REMOVEDIR : 0)`.
pub fn unlinkat(dir: RawFd, name: &CStr, is_dir: bool) -> SysResult<()> {
    let flags = if is_dir { libc::AT_REMOVEDIR } else { 0 };
    // SAFETY: name is NUL-terminated.
    check(unsafe { libc::unlinkat(dir, name.as_ptr(), flags) }).map(|_| ())
}

/// `fchown(fd, uid, gid)`.
pub fn fchown(fd: RawFd, uid: libc::uid_t, gid: libc::gid_t) -> SysResult<()> {
    // SAFETY: integer arguments only.
    check(unsafe { libc::fchown(fd, uid, gid) }).map(|_| ())
}

/// `fchmod(fd, mode)`.
pub fn fchmod(fd: RawFd, mode: libc::mode_t) -> SysResult<()> {
    // SAFETY: integer arguments only.
    check(unsafe { libc::fchmod(fd, mode) }).map(|_| ())
}

/// The mode (type and permission bits) of what `fd` refers to (O_PATH descriptors work).
pub fn fstat_mode(fd: RawFd) -> SysResult<libc::mode_t> {
    // SAFETY: stat is plain data; zeroed is valid.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: st is a valid out-pointer; the empty path with AT_EMPTY_PATH means `fd` itself.
    check(unsafe { libc::fstatat(fd, c"".as_ptr(), &mut st, libc::AT_EMPTY_PATH) })?;
    Ok(st.st_mode)
}

/// chmod the inode an O_PATH descriptor refers to (through /proc/self/fd: race-free, the
/// descriptor pins the inode, no symlink in the way).
pub fn chmod_fd_path(fd: RawFd, mode: libc::mode_t) -> SysResult<()> {
    let mut buf = [0u8; 24];
    let n = fmt_decimal(fd as u64, &mut buf).to_bytes();
    let path = std::ffi::CString::new([b"/proc/self/fd/".as_slice(), n].concat())
        .map_err(|_| libc::EINVAL)?;
    // SAFETY: path is NUL-terminated.
    check(unsafe { libc::chmod(path.as_ptr(), mode) }).map(|_| ())
}

/// The entries of a directory (without `.` and `..`) with their d_type.
pub fn list_dir(dir: RawFd) -> SysResult<Vec<(std::ffi::CString, u8)>> {
    let fd = openat_beneath(
        dir,
        c".",
        libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC,
        0,
    )
    .or_else(|_| dup_cloexec(dir))?;
    let mut out = Vec::new();
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        // SAFETY: buf is writable for its length.
        let n = unsafe { libc::syscall(libc::SYS_getdents64, fd, buf.as_mut_ptr(), buf.len()) };
        if n < 0 {
            let e = errno();
            close(fd);
            return Err(e);
        }
        if n == 0 {
            break;
        }
        let mut off = 0usize;
        while off + 19 < n as usize {
            // linux_dirent64: d_ino u64, d_off i64, d_reclen u16, d_type u8, d_name[]
            let reclen = u16::from_ne_bytes([buf[off + 16], buf[off + 17]]) as usize;
            let kind = buf[off + 18];
            let name = &buf[off + 19..off + reclen];
            let end = name.iter().position(|&b| b == 0).unwrap_or(name.len());
            let name = &name[..end];
            if name != b"."
                && name != b".."
                && let Ok(c) = std::ffi::CString::new(name)
            {
                out.push((c, kind));
            }
            if reclen == 0 {
                break;
            }
            off += reclen;
        }
    }
    close(fd);
    Ok(out)
}

/// Fill `buf` from the kernel's random source.
pub fn getrandom(buf: &mut [u8]) -> SysResult<()> {
    // SAFETY: buf is writable for its length.
    let r = unsafe { libc::getrandom(buf.as_mut_ptr().cast(), buf.len(), 0) };
    if r as usize == buf.len() {
        Ok(())
    } else {
        Err(errno())
    }
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

/// Fork-like clone with `flags`, CLONE_PIDFD and no exit signal. Returns `Some((pid, pidfd))` in the parent and
/// `None` in the child. The child runs on a copy of the calling thread's stack and must only make
/// async-signal-safe calls until it execs or exits.
///
/// Uses clone3, falling back to clone when the kernel lacks clone3 (Linux < 5.3).
pub fn clone_pidfd(flags: u64) -> SysResult<Option<(libc::pid_t, RawFd)>> {
    let mut pidfd: RawFd = -1;
    let mut args = CloneArgs {
        flags: flags | libc::CLONE_PIDFD as u64,
        pidfd: (&mut pidfd as *mut RawFd) as u64,
        // No exit signal (a "clone child"): never auto-reaped by a host that ignores SIGCHLD,
        // never taken by a host's waitpid(-1); reaped with __WALL.
        exit_signal: 0,
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
                flags | libc::CLONE_PIDFD as u64,
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

/// Start `f` in a new process that shares our memory (`CLONE_VM`, exit signal SIGCHLD) on
/// `stack`, without waiting for it (unlike vfork): the caller goes on at once. `f` must exec or
/// `_exit`, may only make async-signal-safe calls and must not return; `stack` and whatever `f`
/// borrows must stay valid until it has exec'd (in the sandbox: they live in the host's memory,
/// which outlives every process of the run).
pub fn spawn_on<F: FnOnce() -> std::convert::Infallible>(
    stack: &mut [std::mem::MaybeUninit<u8>],
    f: F,
) -> SysResult<libc::pid_t> {
    // `f()` has an uninhabited type: the match proves it never returns.
    #[allow(unreachable_code)]
    extern "C" fn trampoline<F: FnOnce() -> std::convert::Infallible>(
        arg: *mut libc::c_void,
    ) -> libc::c_int {
        // SAFETY: arg points to the `F` written into the top of the child's own stack below;
        // nobody else reads it.
        let f = unsafe { std::ptr::read(arg as *mut F) };
        match f() {}
    }
    let len = stack.len();
    let base = stack.as_mut_ptr() as usize;
    // The closure is moved into the top of the child's stack (the caller's frame may be gone
    // by the time the child runs), and the child starts just below it, 16-byte aligned.
    let size = std::mem::size_of::<F>();
    let align = std::mem::align_of::<F>().max(16);
    let slot = (base + len - size) & !(align - 1);
    if slot < base + 4096 {
        return Err(libc::ENOMEM);
    }
    let f = std::mem::ManuallyDrop::new(f);
    // SAFETY: slot is inside `stack`, aligned for F, and not used by anything else; the value
    // is moved there exactly once (ManuallyDrop: the caller's copy is never dropped).
    unsafe { std::ptr::write(slot as *mut F, std::ptr::read(&*f)) };
    let top = slot & !15;
    // SAFETY: the child runs trampoline::<F> on `stack` below `slot`; the caller keeps `stack`
    // valid until the child has exec'd or exited.
    let pid = unsafe {
        libc::clone(
            trampoline::<F>,
            top as *mut libc::c_void,
            libc::CLONE_VM | libc::SIGCHLD,
            slot as *mut libc::c_void,
        )
    };
    check(pid)
}

/// Clear FD_CLOEXEC on `fd` (a descriptor meant to survive an exec).
pub fn clear_cloexec(fd: RawFd) -> SysResult<()> {
    // SAFETY: integer arguments only.
    check(unsafe { libc::fcntl(fd, libc::F_SETFD, 0) }).map(|_| ())
}

/// Write `v` in decimal, NUL-terminated, into `buf` and return it as a C string (no allocation,
/// no formatting machinery: usable between clone and exec).
pub fn fmt_decimal(mut v: u64, buf: &mut [u8; 24]) -> &CStr {
    let mut i = buf.len() - 1;
    buf[i] = 0;
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    match CStr::from_bytes_with_nul(&buf[i..]) {
        Ok(c) => c,
        Err(_) => c"0",
    }
}

/// A stack for a `CLONE_VM` child: an anonymous mapping with a guard page at its low end, so
/// an overflow faults instead of writing into the host's memory. Unmapped on drop: the owner
/// must keep it until every process running on it has exec'd or is gone.
pub struct Stack {
    base: *mut libc::c_void,
    len: usize,
}

// SAFETY: the mapping is owned by this value alone; moving it between threads moves nothing
// but the address, and the memory is only touched by the child processes that run on it.
unsafe impl Send for Stack {}
// SAFETY: `&Stack` gives no access to the memory (only `top`, an address).
unsafe impl Sync for Stack {}

impl Stack {
    /// Map `len` bytes (rounded up to pages) plus one guard page.
    pub fn new(len: usize) -> SysResult<Stack> {
        let page = 4096usize;
        let len = len.div_ceil(page) * page + page;
        // SAFETY: an anonymous private mapping at an address of the kernel's choosing; no
        // existing memory is affected.
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE | libc::MAP_STACK,
                -1,
                0,
            )
        };
        if base == libc::MAP_FAILED {
            return Err(errno());
        }
        // SAFETY: the first page of the mapping made just above.
        if unsafe { libc::mprotect(base, page, libc::PROT_NONE) } != 0 {
            let e = errno();
            // SAFETY: the whole mapping made above, not yet shared with anyone.
            unsafe { libc::munmap(base, len) };
            return Err(e);
        }
        Ok(Stack { base, len })
    }

    /// The (16-byte aligned) top of the stack, where a new process starts.
    fn top(&self) -> usize {
        (self.base as usize + self.len) & !15
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        // SAFETY: our own mapping; the owner guarantees no process runs on it any more.
        unsafe { libc::munmap(self.base, self.len) };
    }
}

/// Start `f` in a new process that shares this process's memory (`CLONE_VM`), on `stack`, with
/// the namespace `flags`, CLONE_PIDFD and no exit signal. Returns (pid, pidfd).
///
/// Nothing is copied, so the cost does not depend on the host's size. Unlike `vfork` the caller
/// is not suspended: it must keep `stack` alive, must not touch `errno`-visible state
/// concurrently (the child runs on the calling thread's TLS), and must keep every signal
/// blocked until the child has exec'd or exited. Without an exit signal the child is a "clone
/// child": a host that ignores SIGCHLD does not auto-reap it, and `waitpid(-1)` in the host does
/// not steal it (reap it with `__WALL`).
pub fn clone_vm<F: FnOnce() -> std::convert::Infallible>(
    stack: &Stack,
    flags: libc::c_int,
    f: F,
) -> SysResult<(libc::pid_t, RawFd)> {
    // `f()` has an uninhabited type: the match proves it never returns.
    #[allow(unreachable_code)]
    extern "C" fn trampoline<F: FnOnce() -> std::convert::Infallible>(
        arg: *mut libc::c_void,
    ) -> libc::c_int {
        // SAFETY: arg points to the `F` moved into the top of this child's own stack below;
        // nothing else reads it.
        let f = unsafe { std::ptr::read(arg as *mut F) };
        match f() {}
    }
    // The closure is moved into the top of the child's stack, which the caller keeps alive
    // for as long as the child may run: no handshake, the parent never waits for the child.
    let size = std::mem::size_of::<F>();
    let align = std::mem::align_of::<F>().max(16);
    let base = stack.base as usize + 4096;
    let slot = (stack.top() - size) & !(align - 1);
    if slot < base + 4096 {
        return Err(libc::ENOMEM);
    }
    let f = std::mem::ManuallyDrop::new(f);
    // SAFETY: slot is inside the stack mapping (above its guard page), aligned for F, used by
    // nothing else; the value is moved there exactly once (the original is never dropped).
    unsafe { std::ptr::write(slot as *mut F, std::ptr::read(&*f)) };
    let mut pidfd: RawFd = -1;
    // SAFETY: the child runs trampoline::<F> on `stack` below `slot` and shares our memory;
    // the caller keeps `stack` alive until the child has exec'd or is reaped. CLONE_PIDFD
    // stores the pidfd through the parent_tid argument.
    let pid = unsafe {
        libc::clone(
            trampoline::<F>,
            (slot & !15) as *mut libc::c_void,
            flags | libc::CLONE_VM | libc::CLONE_PIDFD,
            slot as *mut libc::c_void,
            &mut pidfd as *mut RawFd,
        )
    };
    if pid < 0 {
        let e = errno();
        // The child never ran: drop the closure we moved onto its stack.
        // SAFETY: slot holds the F written above, not read by anyone.
        drop(unsafe { std::ptr::read(slot as *mut F) });
        return Err(e);
    }
    Ok((pid, pidfd))
}

/// An executable, sealable, close-on-exec memfd (MFD_EXEC where the kernel has it, >= 6.3).
pub fn memfd_exec(name: &CStr) -> SysResult<std::os::fd::OwnedFd> {
    const MFD_EXEC: libc::c_uint = 0x10;
    let base = libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING;
    // SAFETY: name is NUL-terminated; flags are plain integers.
    let mut fd = unsafe { libc::memfd_create(name.as_ptr(), base | MFD_EXEC) };
    if fd < 0 && errno() == libc::EINVAL {
        // SAFETY: as above.
        fd = unsafe { libc::memfd_create(name.as_ptr(), base) };
    }
    let fd = check(fd)?;
    // SAFETY: a fresh descriptor nothing else owns.
    Ok(unsafe { <std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd) })
}

/// Seal a memfd against every change (size, writes, further seals).
pub fn seal_all(fd: RawFd) -> SysResult<()> {
    let seals = libc::F_SEAL_SHRINK | libc::F_SEAL_GROW | libc::F_SEAL_WRITE | libc::F_SEAL_SEAL;
    // SAFETY: integer arguments only.
    check(unsafe { libc::fcntl(fd, libc::F_ADD_SEALS, seals) }).map(|_| ())
}

/// `execveat(fd, "", argv, envp, AT_EMPTY_PATH)`: execute the file `fd` refers to. Returns the
/// errno when it fails.
pub fn execveat_fd(fd: RawFd, argv: &[*const libc::c_char], envp: &[*const libc::c_char]) -> Errno {
    // SAFETY: argv/envp are NULL-terminated arrays of pointers to C strings that live for the
    // whole call; the empty path is a static C string.
    unsafe {
        libc::syscall(
            libc::SYS_execveat,
            fd,
            c"".as_ptr(),
            argv.as_ptr(),
            envp.as_ptr(),
            libc::AT_EMPTY_PATH,
        )
    };
    errno()
}

/// Reap the process a pidfd refers to (`waitid(P_PIDFD, .., WEXITED | __WALL)`, with its
/// rusage): no pid-reuse race, whoever else reaps children in this process. Returns the status
/// in wait(2) encoding, and the usage. Blocks until the process has exited, even when the
/// pidfd's file is non-blocking (registered with an async reactor), where the kernel would
/// answer EAGAIN and leave a zombie.
pub fn waitid_pidfd(pidfd: RawFd) -> SysResult<(i32, libc::rusage)> {
    const P_PIDFD: libc::c_int = 3;
    // SAFETY: plain old data; zeroed is a valid value for both.
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let mut pfd = [libc::pollfd {
        fd: pidfd,
        events: libc::POLLIN,
        revents: 0,
    }];
    // A pidfd polls readable once its process has exited.
    while let Err(libc::EINTR) | Ok(0) = poll(&mut pfd, -1) {}
    retry(|| {
        // SAFETY: info and usage are valid out-pointers; the raw syscall takes the rusage
        // pointer as its fifth argument.
        check_long(unsafe {
            libc::syscall(
                libc::SYS_waitid,
                P_PIDFD,
                pidfd,
                &mut info as *mut libc::siginfo_t,
                libc::WEXITED | libc::__WALL,
                &mut usage as *mut libc::rusage,
            )
        })
    })?;
    // SAFETY: the kernel filled a SIGCHLD siginfo.
    let (code, st) = unsafe { (info.si_code, info.si_status()) };
    let status = match code {
        libc::CLD_EXITED => (st & 0xff) << 8,
        libc::CLD_DUMPED => (st & 0x7f) | 0x80,
        _ => st & 0x7f,
    };
    Ok((status, usage))
}

/// `pidfd_open(pid, 0)`: a pidfd (close-on-exec) for the process that holds `pid` now.
pub fn pidfd_open(pid: libc::pid_t) -> SysResult<RawFd> {
    // SAFETY: plain integers.
    let r = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    check_long(r).map(|fd| fd as RawFd)
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
        // The kernel's sigaction: handler, flags, restorer, mask (8 bytes). SIG_DFL is 0, so
        // all zeros is "default, no flags, empty mask". Raw: the setup process calls this
        // before it is released (no `errno`, see `write_all_raw`).
        let act = [0u64; 4];
        let _ = raw_syscall6(
            libc::SYS_rt_sigaction,
            [sig as usize, act.as_ptr() as usize, 0, 8, 0, 0],
        );
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

/// Add `signals` to the calling thread's blocked set (raw call, usable before exec).
pub fn block_signals(signals: &[libc::c_int]) {
    let mut set: u64 = 0;
    for &sig in signals {
        set |= 1u64 << (sig - 1);
    }
    // SAFETY: an 8-byte kernel sigset; NULL old set.
    unsafe {
        libc::syscall(
            libc::SYS_rt_sigprocmask,
            libc::SIG_BLOCK,
            &set as *const u64,
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
    prctl_raw(op, a, b)
}

/// `unshare(flags)`.
pub fn unshare(flags: libc::c_int) -> SysResult<()> {
    // SAFETY: unshare takes an integer flag set only.
    check(unsafe { libc::unshare(flags) }).map(|_| ())
}

/// `setns(fd, nstype)`: move the calling thread into the namespace `fd` refers to.
pub fn setns(fd: RawFd, nstype: libc::c_int) -> SysResult<()> {
    // SAFETY: setns takes an fd and an integer flag; no memory is passed.
    check(unsafe { libc::setns(fd, nstype) }).map(|_| ())
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

/// Run `f` in the child of every later `fork()` of this process (`pthread_atfork`). `f` runs
/// in a copy of a multi-threaded process: it must be async-signal-safe.
pub fn at_fork_child(f: extern "C" fn()) {
    // SAFETY: registers a plain function pointer; no prepare/parent handlers.
    unsafe { libc::pthread_atfork(None, None, Some(f)) };
}

/// This process's hard RLIMIT_STACK (`u64::MAX` = unlimited, also when it cannot be read).
pub fn stack_hard_limit() -> u64 {
    let mut lim = libc::rlimit64 {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: lim is a valid rlimit64 the call writes into.
    match check(unsafe { libc::getrlimit64(libc::RLIMIT_STACK, &mut lim) }) {
        Ok(_) => lim.rlim_max,
        Err(_) => u64::MAX,
    }
}

/// `prlimit` of another process (a host pid): set `resource` to (`soft`, `hard`).
pub fn prlimit(
    pid: libc::pid_t,
    resource: libc::__rlimit_resource_t,
    soft: u64,
    hard: u64,
) -> SysResult<()> {
    let lim = libc::rlimit64 {
        rlim_cur: soft,
        rlim_max: hard,
    };
    // SAFETY: lim is a valid rlimit64; the old value is not asked for (null).
    check(unsafe { libc::prlimit64(pid, resource, &lim, std::ptr::null_mut()) }).map(|_| ())
}

/// `execve` with prepared NULL-terminated argv and envp pointer arrays.
pub fn execve(path: &CStr, argv: &[*const libc::c_char], envp: &[*const libc::c_char]) -> Errno {
    // SAFETY: path is NUL-terminated; argv/envp are NULL-terminated arrays of pointers to C
    // strings owned by the parent's prepared data, alive for the whole call.
    unsafe { libc::execve(path.as_ptr(), argv.as_ptr(), envp.as_ptr()) };
    errno()
}

/// A system call made without libc: the result is returned (negative errno on failure) and
/// nothing is written to the calling thread's `errno`. A warm cell's program process uses it
/// while it waits for its job: it runs on a launcher thread's TLS, which that thread keeps
/// using meanwhile, so it must not touch `errno` (or anything else thread-local). The unused
/// argument registers are zero (see [`raw_syscall6`]).
fn raw_syscall3(nr: libc::c_long, a: usize, b: usize, c: usize) -> isize {
    raw_syscall6(nr, [a, b, c, 0, 0, 0])
}

/// A system call with up to six arguments, made without libc (see [`raw_syscall3`]).
#[cfg(target_arch = "x86_64")]
fn raw_syscall6(nr: libc::c_long, args: [usize; 6]) -> isize {
    let ret: isize;
    // SAFETY: the `syscall` instruction with the kernel's calling convention: rax holds the
    // number and receives the result, arguments in rdi, rsi, rdx, r10, r8, r9, rcx and r11
    // are clobbered; callers pass arguments valid for `nr` (documented at each caller).
    unsafe {
        std::arch::asm!(
            "syscall",
            inlateout("rax") nr as isize => ret,
            in("rdi") args[0],
            in("rsi") args[1],
            in("rdx") args[2],
            in("r10") args[3],
            in("r8") args[4],
            in("r9") args[5],
            lateout("rcx") _,
            lateout("r11") _,
            options(nostack),
        );
    }
    ret
}

/// See the x86_64 version.
#[cfg(target_arch = "aarch64")]
fn raw_syscall6(nr: libc::c_long, args: [usize; 6]) -> isize {
    let ret: isize;
    // SAFETY: `svc 0` with the kernel's calling convention: x8 holds the number, arguments in
    // x0-x5, x0 receives the result; callers pass arguments valid for `nr`.
    unsafe {
        std::arch::asm!(
            "svc 0",
            in("x8") nr as usize,
            inlateout("x0") args[0] as isize => ret,
            in("x1") args[1],
            in("x2") args[2],
            in("x3") args[3],
            in("x4") args[4],
            in("x5") args[5],
            options(nostack),
        );
    }
    ret
}

/// A raw call's result as a `SysResult` (the kernel returns `-errno` on failure).
fn raw_result(r: isize) -> SysResult<usize> {
    if r < 0 {
        Err(-r as Errno)
    } else {
        Ok(r as usize)
    }
}

// The setup process runs on the launching thread's TLS until it execs, and that thread writes
// the id maps meanwhile: until the setup process is released on its sync pipe, it makes its
// calls through these wrappers, which never read or write `errno` (one location for both).

/// `write_all` made without libc: never reads or writes `errno` ([`write_all`] is this call).
pub fn write_all_raw(fd: RawFd, mut buf: &[u8]) -> SysResult<()> {
    while !buf.is_empty() {
        let r = raw_syscall3(
            libc::SYS_write,
            fd as usize,
            buf.as_ptr() as usize,
            buf.len(),
        );
        match raw_result(r) {
            Ok(0) => return Err(libc::EIO),
            Ok(n) => buf = &buf[n..],
            Err(libc::EINTR) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// [`read`] without libc (no `errno`), retried on EINTR.
pub fn read_raw(fd: RawFd, buf: &mut [u8]) -> SysResult<usize> {
    loop {
        let r = raw_syscall3(
            libc::SYS_read,
            fd as usize,
            buf.as_mut_ptr() as usize,
            buf.len(),
        );
        match raw_result(r) {
            Err(libc::EINTR) => {}
            other => return other,
        }
    }
}

/// `close` made without libc: never reads or writes `errno` ([`close`] is this call).
pub fn close_raw(fd: RawFd) {
    let _ = raw_syscall3(libc::SYS_close, fd as usize, 0, 0);
}

/// [`dup_above`] without libc (no `errno`).
pub fn dup_above_raw(fd: RawFd, min: RawFd) -> SysResult<RawFd> {
    let r = raw_syscall3(
        libc::SYS_fcntl,
        fd as usize,
        libc::F_DUPFD as usize,
        min as usize,
    );
    raw_result(r).map(|fd| fd as RawFd)
}

/// [`dup2`] without libc (no `errno`): `dup3`, or a validity check when `old == new`.
pub fn dup2_raw(old: RawFd, new: RawFd) -> SysResult<()> {
    let r = if old == new {
        raw_syscall3(libc::SYS_fcntl, old as usize, libc::F_GETFD as usize, 0)
    } else {
        raw_syscall3(libc::SYS_dup3, old as usize, new as usize, 0)
    };
    raw_result(r).map(|_| ())
}

/// `set_cloexec` made without libc: never reads or writes `errno` ([`set_cloexec`] is this call).
pub fn set_cloexec_raw(fd: RawFd) -> SysResult<()> {
    let r = raw_syscall3(
        libc::SYS_fcntl,
        fd as usize,
        libc::F_SETFD as usize,
        libc::FD_CLOEXEC as usize,
    );
    raw_result(r).map(|_| ())
}

/// Close every fd from `first` up (`close_range`), without libc (no `errno`).
pub fn close_from_raw(first: u32) -> SysResult<()> {
    let r = raw_syscall3(libc::SYS_close_range, first as usize, u32::MAX as usize, 0);
    raw_result(r).map(|_| ())
}

/// `prctl` made without libc: never reads or writes `errno` ([`prctl`] is this call).
pub fn prctl_raw(op: libc::c_int, a: libc::c_ulong, b: libc::c_ulong) -> SysResult<()> {
    let r = raw_syscall6(
        libc::SYS_prctl,
        [op as usize, a as usize, b as usize, 0, 0, 0],
    );
    raw_result(r).map(|_| ())
}

/// [`openat2`] without libc (no `errno`).
pub fn openat2_raw(
    dirfd: RawFd,
    path: &CStr,
    flags: libc::c_int,
    resolve: u64,
) -> SysResult<RawFd> {
    openat2_mode_raw(dirfd, path, flags, 0, resolve)
}

/// [`openat2_mode`] without libc (no `errno`).
fn openat2_mode_raw(
    dirfd: RawFd,
    path: &CStr,
    flags: libc::c_int,
    mode: libc::mode_t,
    resolve: u64,
) -> SysResult<RawFd> {
    #[repr(C)]
    struct OpenHow {
        flags: u64,
        mode: u64,
        resolve: u64,
    }
    let how = OpenHow {
        flags: (flags | libc::O_CLOEXEC) as u64,
        mode: u64::from(mode),
        resolve,
    };
    // The kernel reads the NUL-terminated path and `how` (of the size given) during the call.
    let r = raw_syscall6(
        libc::SYS_openat2,
        [
            dirfd as usize,
            path.as_ptr() as usize,
            &how as *const OpenHow as usize,
            std::mem::size_of::<OpenHow>(),
            0,
            0,
        ],
    );
    raw_result(r).map(|fd| fd as RawFd)
}

/// [`open_tree_clone`] without libc (no `errno`).
pub fn open_tree_clone_raw(fd: RawFd) -> SysResult<RawFd> {
    let flags = OPEN_TREE_CLONE
        | libc::O_CLOEXEC as libc::c_uint
        | libc::AT_RECURSIVE as libc::c_uint
        | libc::AT_EMPTY_PATH as libc::c_uint;
    let r = raw_syscall3(
        libc::SYS_open_tree,
        fd as usize,
        c"".as_ptr() as usize,
        flags as usize,
    );
    raw_result(r).map(|fd| fd as RawFd)
}

/// [`mount_setattr_fd`] without libc (no `errno`), also setting the propagation type
/// (`MS_PRIVATE` and the like; 0: unchanged).
pub fn mount_setattr_fd_raw(
    fd: RawFd,
    recursive: bool,
    attr_set: u64,
    propagation: u64,
) -> SysResult<()> {
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
        propagation,
        userns_fd: 0,
    };
    let flags = libc::AT_EMPTY_PATH | if recursive { libc::AT_RECURSIVE } else { 0 };
    let r = raw_syscall6(
        libc::SYS_mount_setattr,
        [
            fd as usize,
            c"".as_ptr() as usize,
            flags as usize,
            &attr as *const MountAttr as usize,
            std::mem::size_of::<MountAttr>(),
            0,
        ],
    );
    raw_result(r).map(|_| ())
}

/// CPU time the calling process has used so far, in nanoseconds (0 if the clock is missing).
pub fn process_cpu_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes into the valid timespec.
    if unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) } != 0 {
        return 0;
    }
    (ts.tv_sec.max(0) as u64) * 1_000_000_000 + ts.tv_nsec.max(0) as u64
}

/// CPU time host process `pid` has used so far, in nanoseconds, counting every thread it ever
/// had (exited ones included), as the kernel's process CPU clock of that pid keeps it:
/// `(sched, prof)`, the scheduler's runtime (`CPUCLOCK_SCHED`) and user + system time
/// (`CPUCLOCK_PROF`, what `RLIMIT_CPU` is checked against).
pub fn process_cpu_ns_of(pid: libc::pid_t) -> SysResult<(u64, u64)> {
    if pid <= 0 {
        return Err(libc::EINVAL);
    }
    // MAKE_PROCESS_CPUCLOCK(pid, clock): ((~pid) << 3) | clock; CPUCLOCK_PROF 0, SCHED 2.
    let clock = |which: libc::clockid_t| -> SysResult<u64> {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        let id: libc::clockid_t = ((!pid) << 3) | which;
        // SAFETY: clock_gettime writes into the valid timespec; an unknown clock is EINVAL.
        check(unsafe { libc::clock_gettime(id, &mut ts) })?;
        Ok((ts.tv_sec.max(0) as u64) * 1_000_000_000 + ts.tv_nsec.max(0) as u64)
    };
    Ok((clock(2)?, clock(0)?))
}

/// `read` until `buf` is full, without libc (no `errno`, see [`raw_syscall3`]), retried on
/// EINTR: `Ok(false)` at end of file before it is full.
pub fn read_exact_raw(fd: RawFd, buf: &mut [u8]) -> SysResult<bool> {
    let mut got = 0;
    while got < buf.len() {
        let rest = &mut buf[got..];
        let r = raw_syscall3(
            libc::SYS_read,
            fd as usize,
            rest.as_mut_ptr() as usize,
            rest.len(),
        );
        if r == 0 {
            return Ok(false);
        }
        if r == -(libc::EINTR as isize) {
            continue;
        }
        if r < 0 {
            return Err(-r as Errno);
        }
        got += r as usize;
    }
    Ok(true)
}

/// `execve` without libc (no `errno`, see [`raw_syscall3`]); returns the errno of the failure.
/// `path` and the elements of `argv` and `envp` are C strings the kernel reads (a bad pointer
/// is EFAULT, nothing worse); both arrays must end with a null pointer.
pub fn execve_raw(
    path: *const libc::c_char,
    argv: &[*const libc::c_char],
    envp: &[*const libc::c_char],
) -> Errno {
    if argv.last().is_none_or(|p| !p.is_null()) || envp.last().is_none_or(|p| !p.is_null()) {
        return libc::EFAULT;
    }
    let r = raw_syscall3(
        libc::SYS_execve,
        path as usize,
        argv.as_ptr() as usize,
        envp.as_ptr() as usize,
    );
    (-r) as Errno
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

/// What identifies the entry at `path` itself (no symlink followed): its device, inode and
/// mount id (`statx`). Another entry put in its place, or a mount over it, changes it. A
/// kernel that does not report the mount id (before 5.8) is an error (`EOPNOTSUPP`).
pub fn entry_id(path: &CStr) -> SysResult<[u64; 3]> {
    entry_id_at(libc::AT_FDCWD, path, libc::AT_SYMLINK_NOFOLLOW)
}

/// [`entry_id`] of the object `fd` refers to (an `O_PATH` descriptor works).
pub fn entry_id_fd(fd: RawFd) -> SysResult<[u64; 3]> {
    entry_id_at(fd, c"", libc::AT_EMPTY_PATH | libc::AT_SYMLINK_NOFOLLOW)
}

fn entry_id_at(dirfd: RawFd, path: &CStr, flags: libc::c_int) -> SysResult<[u64; 3]> {
    const STATX_MNT_ID: u32 = 0x1000;
    // SAFETY: plain old data; zeroed is a valid value.
    let mut st: libc::statx = unsafe { std::mem::zeroed() };
    // SAFETY: path is NUL-terminated and st a valid out-pointer of the right size.
    check(unsafe {
        libc::statx(
            dirfd,
            path.as_ptr(),
            flags,
            libc::STATX_INO | STATX_MNT_ID,
            &mut st,
        )
    })?;
    if st.stx_mask & (libc::STATX_INO | STATX_MNT_ID) != libc::STATX_INO | STATX_MNT_ID {
        return Err(libc::EOPNOTSUPP);
    }
    let dev = (u64::from(st.stx_dev_major) << 32) | u64::from(st.stx_dev_minor);
    Ok([dev, st.stx_ino, st.stx_mnt_id])
}

/// `chroot(path)`.
pub fn chroot(path: &CStr) -> SysResult<()> {
    // SAFETY: path is NUL-terminated.
    check(unsafe { libc::chroot(path.as_ptr()) }).map(|_| ())
}

/// `umask(mask)`: the calling thread's file mode creation mask (shared with every thread of
/// its `fs_struct`); returns the previous one.
pub fn umask(mask: libc::mode_t) -> libc::mode_t {
    // SAFETY: umask has no preconditions and cannot fail.
    unsafe { libc::umask(mask) }
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

/// `flock(fd, LOCK_EX | LOCK_NB)`: EWOULDBLOCK when another open file description holds it.
pub fn flock_exclusive_nb(fd: RawFd) -> SysResult<()> {
    // SAFETY: integer arguments only.
    check(unsafe { libc::flock(fd, libc::LOCK_EX | libc::LOCK_NB) }).map(|_| ())
}

/// `fchownat(dir, name, uid, gid, AT_SYMLINK_NOFOLLOW)`: the entry itself, never what a
/// symlink points to.
pub fn lchown_at(dir: RawFd, name: &CStr, uid: libc::uid_t, gid: libc::gid_t) -> SysResult<()> {
    // SAFETY: name is NUL-terminated.
    check(unsafe { libc::fchownat(dir, name.as_ptr(), uid, gid, libc::AT_SYMLINK_NOFOLLOW) })
        .map(|_| ())
}

/// The calling thread's capability sets (capget, version 3): ([effective; 2], [permitted; 2]).
fn thread_caps() -> SysResult<([u32; 2], [u32; 2])> {
    let header = CapHeader {
        version: LINUX_CAPABILITY_VERSION_3,
        pid: 0,
    };
    let mut data = [CapData::default(); 2];
    // SAFETY: header and data are valid, correctly sized capget structures (version 3 takes two
    // data elements).
    check_long(unsafe {
        libc::syscall(
            libc::SYS_capget,
            &header as *const CapHeader,
            data.as_mut_ptr(),
        )
    })?;
    Ok((
        [data[0].effective, data[1].effective],
        [data[0].permitted, data[1].permitted],
    ))
}

#[repr(C)]
struct CapHeader {
    version: u32,
    pid: i32,
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

const LINUX_CAPABILITY_VERSION_3: u32 = 0x2008_0522;

/// Make this thread (only this one: raw syscalls, which the kernel applies per thread; glibc's
/// wrappers would broadcast to every thread of the process) look like `uid` to the kernel's
/// ownership of new user namespaces, and nothing else: effective uid `uid`, while the real and
/// saved uids stay 0, the file-system uid goes back to 0 and the effective capabilities are
/// raised again from the permitted set. A user namespace this thread then creates is owned by
/// `uid`. Only for a thread whose real uid is 0; [`thread_owner_reset`] undoes it.
pub fn thread_owner_set(uid: libc::uid_t) -> SysResult<()> {
    const KEEP: libc::c_long = -1;
    // SAFETY: plain integers (-1 keeps the real and saved ids).
    check_long(unsafe { libc::syscall(libc::SYS_setresuid, KEEP, uid as libc::c_long, KEEP) })?;
    let (_, permitted) = thread_caps()?;
    let header = CapHeader {
        version: LINUX_CAPABILITY_VERSION_3,
        pid: 0,
    };
    let mut data = [CapData::default(); 2];
    for (d, p) in data.iter_mut().zip(permitted) {
        d.effective = p;
        d.permitted = p;
    }
    // SAFETY: valid capset structures; effective == permitted is always allowed.
    check_long(unsafe {
        libc::syscall(libc::SYS_capset, &header as *const CapHeader, data.as_ptr())
    })?;
    // setfsuid reports no error: it returns the previous value. Ask again to check.
    // SAFETY: plain integers.
    unsafe { libc::syscall(libc::SYS_setfsuid, 0 as libc::c_long) };
    // SAFETY: -1 is an invalid id, so this only returns the current fsuid.
    let now = unsafe { libc::syscall(libc::SYS_setfsuid, -1 as libc::c_long) };
    if now != 0 {
        return Err(libc::EPERM);
    }
    Ok(())
}

/// Undo [`thread_owner_set`]: effective (and file-system) uid 0 again; the kernel refills the
/// effective capabilities from the permitted set when the effective uid returns to 0.
pub fn thread_owner_reset() -> SysResult<()> {
    const KEEP: libc::c_long = -1;
    // SAFETY: plain integers.
    check_long(unsafe { libc::syscall(libc::SYS_setresuid, KEEP, 0 as libc::c_long, KEEP) })?;
    let (effective, permitted) = thread_caps()?;
    if effective != permitted {
        return Err(libc::EPERM);
    }
    Ok(())
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

// ---------------------------------------------------------------------------------------------
// rootfs (realprog branch): the root built from descriptors (new mount API, openat2)
// ---------------------------------------------------------------------------------------------

/// `openat2` resolve flags (uapi/linux/openat2.h).
pub const RESOLVE_NO_MAGICLINKS: u64 = 0x02;
/// Fail on any symlink on the way (including the last component).
pub const RESOLVE_NO_SYMLINKS: u64 = 0x04;
/// Resolve as if `dirfd` were the root (`..` and absolute paths stay inside).
pub const RESOLVE_IN_ROOT: u64 = 0x10;
/// openat2: resolution may not leave the starting directory.
pub const RESOLVE_BENEATH: u64 = 0x08;

/// `open_tree` flags (uapi/linux/mount.h).
const OPEN_TREE_CLONE: libc::c_uint = 1;
/// `move_mount` flags.
const MOVE_MOUNT_F_EMPTY_PATH: libc::c_uint = 0x04;
const MOVE_MOUNT_T_EMPTY_PATH: libc::c_uint = 0x40;
/// `fsconfig` commands.
const FSCONFIG_SET_FLAG: libc::c_uint = 0;
const FSCONFIG_SET_STRING: libc::c_uint = 1;
const FSCONFIG_CMD_CREATE: libc::c_uint = 6;
/// `fsopen` / `fsmount` close-on-exec flags.
const FSOPEN_CLOEXEC: libc::c_uint = 1;
const FSMOUNT_CLOEXEC: libc::c_uint = 1;

/// `openat2(dirfd, path, {flags | O_CLOEXEC, 0, resolve})`.
pub fn openat2(dirfd: RawFd, path: &CStr, flags: libc::c_int, resolve: u64) -> SysResult<RawFd> {
    openat2_mode(dirfd, path, flags, 0, resolve)
}

/// `openat2(dirfd, path, {flags | O_CLOEXEC, mode, resolve})` (made without libc: the same
/// call serves the setup process, which must not touch `errno`).
pub fn openat2_mode(
    dirfd: RawFd,
    path: &CStr,
    flags: libc::c_int,
    mode: libc::mode_t,
    resolve: u64,
) -> SysResult<RawFd> {
    openat2_mode_raw(dirfd, path, flags, mode, resolve)
}

/// `open_tree(fd, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE | AT_EMPTY_PATH)`: a
/// detached copy of the mount tree at `fd` (an `O_PATH` descriptor).
pub fn open_tree_clone(fd: RawFd) -> SysResult<RawFd> {
    open_tree_clone_raw(fd)
}

/// `mount_setattr(fd, "", AT_EMPTY_PATH [| AT_RECURSIVE], {attr_set})` on the mount at `fd`
/// (attached or detached).
pub fn mount_setattr_fd(fd: RawFd, recursive: bool, attr_set: u64) -> SysResult<()> {
    mount_setattr_fd_raw(fd, recursive, attr_set, 0)
}

/// `move_mount(from, "", to, "", F_EMPTY_PATH | T_EMPTY_PATH)`: attach the mount `from` (a
/// detached tree or a fresh `fsmount`) on the object `to` refers to.
pub fn move_mount_fd(from: RawFd, to: RawFd) -> SysResult<()> {
    // SAFETY: empty NUL-terminated paths with the EMPTY_PATH flags; plain integers otherwise.
    let r = unsafe {
        libc::syscall(
            libc::SYS_move_mount,
            from,
            c"".as_ptr(),
            to,
            c"".as_ptr(),
            MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH,
        )
    };
    check_long(r).map(|_| ())
}

/// `fsopen(fstype, FSOPEN_CLOEXEC)`: a file system context.
pub fn fsopen(fstype: &CStr) -> SysResult<RawFd> {
    // SAFETY: fstype is NUL-terminated.
    let r = unsafe { libc::syscall(libc::SYS_fsopen, fstype.as_ptr(), FSOPEN_CLOEXEC) };
    check_long(r).map(|fd| fd as RawFd)
}

/// `fsconfig(fd, SET_STRING, key, value)`, or `SET_FLAG` without a value.
pub fn fsconfig_set(fd: RawFd, key: &CStr, value: Option<&CStr>) -> SysResult<()> {
    let (cmd, v) = match value {
        Some(v) => (FSCONFIG_SET_STRING, v.as_ptr()),
        None => (FSCONFIG_SET_FLAG, std::ptr::null()),
    };
    // SAFETY: key is NUL-terminated; v is NULL or NUL-terminated, as the command requires.
    let r = unsafe { libc::syscall(libc::SYS_fsconfig, fd, cmd, key.as_ptr(), v, 0) };
    check_long(r).map(|_| ())
}

/// `fsconfig(fd, CMD_CREATE)` then `fsmount(fd, FSMOUNT_CLOEXEC, attrs)`: a detached mount.
pub fn fsmount(fd: RawFd, attrs: u64) -> SysResult<RawFd> {
    // SAFETY: the create command takes no pointers.
    let r = unsafe {
        libc::syscall(
            libc::SYS_fsconfig,
            fd,
            FSCONFIG_CMD_CREATE,
            std::ptr::null::<libc::c_char>(),
            std::ptr::null::<libc::c_void>(),
            0,
        )
    };
    check_long(r)?;
    // SAFETY: plain integers.
    let r = unsafe {
        libc::syscall(
            libc::SYS_fsmount,
            fd,
            FSMOUNT_CLOEXEC,
            attrs as libc::c_uint,
        )
    };
    check_long(r).map(|fd| fd as RawFd)
}

/// `mkdirat(dirfd, name, mode)` (an existing entry is an error).
pub fn mkdirat(dirfd: RawFd, name: &CStr, mode: libc::mode_t) -> SysResult<()> {
    // SAFETY: name is NUL-terminated.
    check(unsafe { libc::mkdirat(dirfd, name.as_ptr(), mode) }).map(|_| ())
}

/// `openat(dirfd, name, flags | O_CLOEXEC | O_NOFOLLOW, mode)`.
pub fn openat(
    dirfd: RawFd,
    name: &CStr,
    flags: libc::c_int,
    mode: libc::mode_t,
) -> SysResult<RawFd> {
    // SAFETY: name is NUL-terminated; mode is passed as the variadic argument openat expects.
    check(unsafe {
        libc::openat(
            dirfd,
            name.as_ptr(),
            flags | libc::O_CLOEXEC | libc::O_NOFOLLOW,
            mode as libc::c_uint,
        )
    })
}

/// `symlinkat(target, dirfd, name)`.
pub fn symlinkat(target: &CStr, dirfd: RawFd, name: &CStr) -> SysResult<()> {
    // SAFETY: both strings are NUL-terminated.
    check(unsafe { libc::symlinkat(target.as_ptr(), dirfd, name.as_ptr()) }).map(|_| ())
}

/// `fchdir(fd)`.
pub fn fchdir(fd: RawFd) -> SysResult<()> {
    // SAFETY: plain integer.
    check(unsafe { libc::fchdir(fd) }).map(|_| ())
}

/// Add a path-beneath landlock rule for the object `fd` refers to (an `O_PATH` descriptor).
pub fn landlock_add_fd_rule(ruleset: RawFd, fd: RawFd, allowed: u64) -> SysResult<()> {
    #[repr(C, packed)]
    struct PathBeneath {
        allowed_access: u64,
        parent_fd: i32,
    }
    const LANDLOCK_RULE_PATH_BENEATH: u32 = 1;
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
    check_long(r).map(|_| ())
}

/// Whether the kernel has the calls the root is built with (`open_tree`/`move_mount`/`fsopen`
/// 5.2, `openat2` 5.6, `mount_setattr` 5.12): each is probed with a bad descriptor, which
/// fails with `EBADF` (or `EINVAL`) where the call exists and `ENOSYS` where it does not.
/// Returns the name of the first missing call.
pub fn rootfs_api_missing() -> Option<&'static str> {
    let probes: [(&'static str, SysResult<()>); 4] = [
        ("open_tree", open_tree_clone(-1).map(|_| ())),
        ("openat2", openat2(-1, c"x", libc::O_PATH, 0).map(|_| ())),
        ("mount_setattr", mount_setattr_fd(-1, false, 0)),
        ("move_mount", move_mount_fd(-1, -1)),
    ];
    probes
        .into_iter()
        .find(|(_, r)| *r == Err(libc::ENOSYS))
        .map(|(name, _)| name)
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
pub fn open_tree_clone_path(path: &CStr) -> SysResult<RawFd> {
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
