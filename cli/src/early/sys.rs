//! The system calls of the early path (see the parent module): `syscall` instructions inline,
//! no libc. Before libc has started there is no thread-local storage (so no `errno`), and in
//! a static build libc's own functions may not be resolved yet: nothing here calls anything.
//! Every function returns the kernel's result as it is: `Ok` or `Err(errno)`.

use core::arch::asm;
use core::mem::{MaybeUninit, size_of};

/// A raw system call with up to six arguments.
///
/// # Safety
/// The arguments must be valid for system call `n`: every pointer the kernel reads or writes
/// through must be valid for the length the call is given.
#[inline(always)]
unsafe fn syscall6(n: i64, a: [usize; 6]) -> Result<usize, i32> {
    let ret: isize;
    // SAFETY: the x86_64 Linux system call convention (number in rax, arguments in rdi, rsi,
    // rdx, r10, r8, r9; rcx and r11 clobbered, the red zone untouched as no stack is used);
    // what the arguments point to is the caller's contract.
    unsafe {
        asm!(
            "syscall",
            inlateout("rax") n as isize => ret,
            in("rdi") a[0],
            in("rsi") a[1],
            in("rdx") a[2],
            in("r10") a[3],
            in("r8") a[4],
            in("r9") a[5],
            lateout("rcx") _,
            lateout("r11") _,
            options(nostack),
        );
    }
    if (-4095..0).contains(&ret) {
        Err(-ret as i32)
    } else {
        Ok(ret as usize)
    }
}

/// The file type bits of `fd`'s `st_mode` (`S_IFREG`, `S_IFCHR`, ...).
pub fn file_type(fd: i32) -> Result<u32, i32> {
    let mut st = MaybeUninit::<libc::stat>::uninit();
    // SAFETY: fstat writes one `struct stat` to the pointer, which has room for one.
    unsafe {
        syscall6(
            libc::SYS_fstat,
            [fd as usize, st.as_mut_ptr() as usize, 0, 0, 0, 0],
        )
    }?;
    // SAFETY: the kernel filled the struct (the call succeeded).
    Ok(unsafe { st.assume_init() }.st_mode & libc::S_IFMT)
}

/// Is `fd` a terminal (`TCGETS` succeeds, as `isatty` asks)?
pub fn is_terminal(fd: i32) -> bool {
    let mut t = MaybeUninit::<libc::termios>::uninit();
    // SAFETY: TCGETS writes one `struct termios` to the pointer, which has room for one.
    unsafe {
        syscall6(
            libc::SYS_ioctl,
            [
                fd as usize,
                libc::TCGETS as usize,
                t.as_mut_ptr() as usize,
                0,
                0,
                0,
            ],
        )
    }
    .is_ok()
}

/// Is `fd` an open descriptor (`F_GETFD` succeeds)?
pub fn is_open(fd: i32) -> bool {
    // SAFETY: F_GETFD reads a descriptor's flags; no pointer.
    unsafe {
        syscall6(
            libc::SYS_fcntl,
            [fd as usize, libc::F_GETFD as usize, 0, 0, 0, 0],
        )
    }
    .is_ok()
}

/// A close-on-exec unix stream socket.
pub fn unix_stream_socket() -> Result<i32, i32> {
    let ty = (libc::SOCK_STREAM | libc::SOCK_CLOEXEC) as usize;
    // SAFETY: socket takes no pointer.
    unsafe { syscall6(libc::SYS_socket, [libc::AF_UNIX as usize, ty, 0, 0, 0, 0]) }
        .map(|fd| fd as i32)
}

/// Connect `fd` to the unix socket address `addr`, of which the first `len` bytes count.
pub fn connect(fd: i32, addr: &libc::sockaddr_un, len: u32) -> Result<(), i32> {
    let len = (len as usize).min(size_of::<libc::sockaddr_un>());
    // SAFETY: the kernel reads at most `len` bytes of `addr`, which has that many.
    unsafe {
        syscall6(
            libc::SYS_connect,
            [fd as usize, addr as *const _ as usize, len, 0, 0, 0],
        )
    }
    .map(drop)
}

/// `sendmsg` of `head` then `tail`, with `fds` attached (`SCM_RIGHTS`), without SIGPIPE:
/// the bytes sent (at least one when the descriptors went).
pub fn send_with_fds(fd: i32, head: &[u8], tail: &[u8], fds: [i32; 3]) -> Result<usize, i32> {
    /// One `SCM_RIGHTS` message of three descriptors, laid out as `CMSG_SPACE(12)` bytes.
    #[repr(C)]
    struct Rights {
        hdr: libc::cmsghdr,
        fds: [i32; 3],
        pad: u32,
    }
    let mut iov = [
        libc::iovec {
            iov_base: head.as_ptr() as *mut libc::c_void,
            iov_len: head.len(),
        },
        libc::iovec {
            iov_base: tail.as_ptr() as *mut libc::c_void,
            iov_len: tail.len(),
        },
    ];
    let mut rights = Rights {
        hdr: libc::cmsghdr {
            cmsg_len: size_of::<libc::cmsghdr>() + size_of::<[i32; 3]>(),
            cmsg_level: libc::SOL_SOCKET,
            cmsg_type: libc::SCM_RIGHTS,
        },
        fds,
        pad: 0,
    };
    let msg = libc::msghdr {
        msg_name: core::ptr::null_mut(),
        msg_namelen: 0,
        msg_iov: iov.as_mut_ptr(),
        msg_iovlen: iov.len(),
        msg_control: &mut rights as *mut Rights as *mut libc::c_void,
        msg_controllen: size_of::<Rights>(),
        msg_flags: 0,
    };
    // SAFETY: every pointer in `msg` (the two buffers, the iovecs, the control message) is
    // valid for the length given beside it for the whole call; the kernel only reads them.
    unsafe {
        syscall6(
            libc::SYS_sendmsg,
            [
                fd as usize,
                &msg as *const _ as usize,
                libc::MSG_NOSIGNAL as usize,
                0,
                0,
                0,
            ],
        )
    }
}

/// `send` of `buf` without SIGPIPE: the bytes sent.
pub fn send(fd: i32, buf: &[u8]) -> Result<usize, i32> {
    // SAFETY: the kernel reads at most `buf.len()` bytes from `buf`.
    unsafe {
        syscall6(
            libc::SYS_sendto,
            [
                fd as usize,
                buf.as_ptr() as usize,
                buf.len(),
                libc::MSG_NOSIGNAL as usize,
                0,
                0,
            ],
        )
    }
}

/// Wait for bytes on `fd` and copy up to `buf.len()` of them: taken, or left for the next
/// read with `peek` (`MSG_PEEK`). How many (0 at the end of the stream).
pub fn recv(fd: i32, buf: &mut [u8], peek: bool) -> Result<usize, i32> {
    let flags = if peek { libc::MSG_PEEK as usize } else { 0 };
    // SAFETY: the kernel writes at most `buf.len()` bytes to `buf`.
    unsafe {
        syscall6(
            libc::SYS_recvfrom,
            [
                fd as usize,
                buf.as_mut_ptr() as usize,
                buf.len(),
                flags,
                0,
                0,
            ],
        )
    }
}

/// Ignore SIGPIPE, as the Rust runtime does at start-up (so the usual start finds it the
/// same): a write to a pipe whose reader is gone then fails with EPIPE instead of killing the
/// process.
pub fn ignore_sigpipe() -> Result<(), i32> {
    /// The kernel's `struct sigaction` on x86_64 (handler, flags, restorer, mask).
    #[repr(C)]
    struct KernelSigaction {
        handler: usize,
        flags: u64,
        restorer: usize,
        mask: u64,
    }
    let act = KernelSigaction {
        handler: libc::SIG_IGN,
        flags: 0,
        restorer: 0,
        mask: 0,
    };
    // SAFETY: the kernel reads one `struct sigaction` of the size given (its mask: 8 bytes)
    // and writes no old action (NULL).
    unsafe {
        syscall6(
            libc::SYS_rt_sigaction,
            [
                libc::SIGPIPE as usize,
                &act as *const _ as usize,
                0,
                8,
                0,
                0,
            ],
        )
    }
    .map(drop)
}

/// A close-on-exec pipe: (read end, write end).
pub fn pipe() -> Result<(i32, i32), i32> {
    let mut fds = [-1i32; 2];
    // SAFETY: pipe2 writes two descriptors to the array, which holds two.
    unsafe {
        syscall6(
            libc::SYS_pipe2,
            [
                fds.as_mut_ptr() as usize,
                libc::O_CLOEXEC as usize,
                0,
                0,
                0,
                0,
            ],
        )
    }?;
    Ok((fds[0], fds[1]))
}

/// stdin opened again through `/proc/self/fd/0`, non-blocking and close-on-exec: a
/// descriptor of this process's own (a read on it never blocks, whoever else reads the pipe).
pub fn reopen_stdin_nonblocking() -> Result<i32, i32> {
    const PATH: &[u8] = b"/proc/self/fd/0\0";
    let flags = (libc::O_RDONLY | libc::O_NONBLOCK | libc::O_CLOEXEC) as usize;
    // SAFETY: the path is NUL-terminated; the kernel only reads it.
    unsafe {
        syscall6(
            libc::SYS_openat,
            [
                libc::AT_FDCWD as usize,
                PATH.as_ptr() as usize,
                flags,
                0,
                0,
                0,
            ],
        )
    }
    .map(|fd| fd as i32)
}

/// Set `fd`'s file status flags to `O_NONBLOCK` alone (as `fcntl(F_SETFL, O_NONBLOCK)`).
pub fn set_nonblocking(fd: i32) -> Result<(), i32> {
    let args = [
        fd as usize,
        libc::F_SETFL as usize,
        libc::O_NONBLOCK as usize,
        0,
        0,
        0,
    ];
    // SAFETY: F_SETFL takes an integer, no pointer.
    unsafe { syscall6(libc::SYS_fcntl, args) }.map(drop)
}

/// Wait without a timeout until `a` or `b` has one of its events: the two `revents`.
pub fn poll2(a: (i32, i16), b: (i32, i16)) -> Result<(i16, i16), i32> {
    let mut fds = [
        libc::pollfd {
            fd: a.0,
            events: a.1,
            revents: 0,
        },
        libc::pollfd {
            fd: b.0,
            events: b.1,
            revents: 0,
        },
    ];
    // SAFETY: the kernel reads and writes the two `pollfd`s of the array, which holds two.
    unsafe {
        syscall6(
            libc::SYS_poll,
            [fds.as_mut_ptr() as usize, 2, usize::MAX, 0, 0, 0],
        )
    }?;
    Ok((fds[0].revents, fds[1].revents))
}

/// Read up to `buf.len()` bytes from `fd`: how many (0 at its end).
pub fn read(fd: i32, buf: &mut [u8]) -> Result<usize, i32> {
    // SAFETY: the kernel writes at most `buf.len()` bytes to `buf`.
    unsafe {
        syscall6(
            libc::SYS_read,
            [fd as usize, buf.as_mut_ptr() as usize, buf.len(), 0, 0, 0],
        )
    }
}

/// Write `buf` to `fd` (a pipe's write end: the job's stdin): how many bytes went.
pub fn write(fd: i32, buf: &[u8]) -> Result<usize, i32> {
    // SAFETY: the kernel reads at most `buf.len()` bytes from `buf`.
    unsafe {
        syscall6(
            libc::SYS_write,
            [fd as usize, buf.as_ptr() as usize, buf.len(), 0, 0, 0],
        )
    }
}

/// The relay's buffer: 64 KiB, as the usual client's, in `.bss` (nothing to relocate, and
/// only the pages a read fills are ever touched).
pub struct RelayBuffer(core::cell::UnsafeCell<[u8; 64 << 10]>);

// SAFETY: handed out once (`relay_buffer`), so never shared.
unsafe impl Sync for RelayBuffer {}

static RELAY_BUFFER: RelayBuffer = RelayBuffer(core::cell::UnsafeCell::new([0; 64 << 10]));
static RELAY_BUFFER_TAKEN: core::sync::atomic::AtomicBool =
    core::sync::atomic::AtomicBool::new(false);

/// The relay's buffer; `None` after the first call.
pub fn relay_buffer() -> Option<&'static mut [u8]> {
    if RELAY_BUFFER_TAKEN.swap(true, core::sync::atomic::Ordering::Relaxed) {
        return None;
    }
    // SAFETY: the flag above hands the buffer out once, so this is its only reference.
    Some(unsafe { &mut *RELAY_BUFFER.0.get() })
}

/// Close `fd`.
pub fn close(fd: i32) {
    // SAFETY: close takes no pointer; `fd` is one this path opened and owns.
    let _ = unsafe { syscall6(libc::SYS_close, [fd as usize, 0, 0, 0, 0, 0]) };
}

/// End the process with `status`, at once (nothing buffered to flush on this path).
pub fn exit(status: u8) -> ! {
    // SAFETY: exit_group takes no pointer and does not return.
    unsafe {
        asm!(
            "syscall",
            in("rax") libc::SYS_exit_group,
            in("rdi") usize::from(status),
            options(noreturn, nostack),
        );
    }
}

/// The initial stack's argument vector: `argc` pointers to NUL-terminated strings.
pub struct Argv {
    argc: usize,
    argv: *const *const u8,
}

impl Argv {
    /// The argument vector of the stack the kernel started the process with.
    ///
    /// # Safety
    /// `sp` must be that stack pointer (argc, then argc string pointers, then NULL), its
    /// strings unchanged for as long as the `Argv` is used.
    pub unsafe fn from_stack(sp: *const usize) -> Argv {
        // SAFETY: the caller's contract: argc at sp, the pointers right after it.
        unsafe { Argv::new(sp.read(), sp.add(1).cast()) }
    }

    /// An argument vector of `argc` strings at `argv`.
    ///
    /// # Safety
    /// `argv` must point to `argc` pointers to NUL-terminated strings that stay valid and
    /// unchanged for as long as the `Argv` is used.
    pub unsafe fn new(argc: usize, argv: *const *const u8) -> Argv {
        Argv { argc, argv }
    }

    /// Argument `i`.
    pub fn get(&self, i: usize) -> Option<Arg> {
        if i >= self.argc {
            return None;
        }
        // SAFETY: i < argc, so the pointer is one of the vector's (the constructor's contract).
        let ptr = unsafe { self.argv.add(i).read() };
        if ptr.is_null() {
            return None;
        }
        let mut len = 0;
        // SAFETY: the string is NUL-terminated: every byte up to and including the NUL is
        // readable. Volatile, so that the loop stays a loop (not a call to `strlen`).
        while unsafe { ptr.add(len).read_volatile() } != 0 {
            len += 1;
        }
        Some(Arg { ptr, len })
    }

    /// Arguments `first..argc` with their NULs, when they lie one after the other in memory
    /// (the kernel lays them out so); `None` when there are none or they do not.
    pub fn span(&self, first: usize) -> Option<&[u8]> {
        let start = self.get(first)?;
        let mut end = start;
        for i in first + 1..self.argc {
            let a = self.get(i)?;
            if a.ptr != end.ptr.wrapping_add(end.len + 1) {
                return None;
            }
            end = a;
        }
        let len = end.ptr as usize - start.ptr as usize + end.len + 1;
        // SAFETY: the bytes from the first string to the last one's NUL are those strings and
        // their NULs (checked adjacent above), all readable and unchanged while `self` is used.
        Some(unsafe { core::slice::from_raw_parts(start.ptr, len) })
    }
}

/// Part of an argument: `len` bytes at `ptr`, inside a NUL-terminated string of an [`Argv`].
#[derive(Clone, Copy)]
pub struct Arg {
    ptr: *const u8,
    len: usize,
}

impl Arg {
    /// Byte `i`, if `i < len`.
    pub fn byte(&self, i: usize) -> Option<u8> {
        // SAFETY: i < len: inside the string. Volatile: no `memcmp`/`memchr` made of the
        // loops over it.
        (i < self.len).then(|| unsafe { self.ptr.add(i).read_volatile() })
    }

    /// No bytes.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The same bytes as `lit`.
    pub fn is(&self, lit: &[u8]) -> bool {
        if self.len != lit.len() {
            return false;
        }
        let mut i = 0;
        while i < self.len {
            if self.byte(i) != lit.get(i).copied() {
                return false;
            }
            i += 1;
        }
        true
    }

    /// Every byte ASCII.
    pub fn is_ascii(&self) -> bool {
        let mut i = 0;
        while let Some(b) = self.byte(i) {
            if !b.is_ascii() {
                return false;
            }
            i += 1;
        }
        true
    }

    /// The index of the first `c`.
    pub fn find(&self, c: u8) -> Option<usize> {
        let mut i = 0;
        while let Some(b) = self.byte(i) {
            if b == c {
                return Some(i);
            }
            i += 1;
        }
        None
    }

    /// The first `n` bytes (at most all of them).
    pub fn prefix(&self, n: usize) -> Arg {
        Arg {
            ptr: self.ptr,
            len: n.min(self.len),
        }
    }

    /// The bytes from `n` on (none when `n >= len`).
    pub fn suffix(&self, n: usize) -> Arg {
        let n = n.min(self.len);
        Arg {
            ptr: self.ptr.wrapping_add(n),
            len: self.len - n,
        }
    }

    /// A copy of the bytes (tests).
    #[cfg(test)]
    pub fn to_vec(self) -> Vec<u8> {
        (0..self.len).filter_map(|i| self.byte(i)).collect()
    }
}

/// The address of the unix socket at path `path` and its length, as `UnixStream::connect`
/// makes it; `None` when the path is empty or does not fit (`connect` would fail too).
pub fn unix_address(path: Arg) -> Option<(libc::sockaddr_un, u32)> {
    let mut addr = MaybeUninit::<libc::sockaddr_un>::uninit();
    let p = addr.as_mut_ptr();
    // SAFETY: a raw pointer to a field of the uninitialised struct, for writing.
    let sun_path = unsafe { core::ptr::addr_of_mut!((*p).sun_path) }.cast::<u8>();
    let room = size_of::<[libc::c_char; 108]>();
    if path.is_empty() || path.len >= room {
        return None;
    }
    let mut i = 0;
    while i < room {
        // Every byte written (the address is copied whole by `connect`'s caller contract,
        // not read past its length by the kernel, but the struct is then initialised).
        // SAFETY: i < room: inside `sun_path`. Volatile: not turned into `memcpy`/`memset`.
        unsafe { sun_path.add(i).write_volatile(path.byte(i).unwrap_or(0)) };
        i += 1;
    }
    // SAFETY: the family field, for writing.
    unsafe { core::ptr::addr_of_mut!((*p).sun_family).write(libc::AF_UNIX as libc::sa_family_t) };
    // SAFETY: both fields (the whole struct) are written above.
    let addr = unsafe { addr.assume_init() };
    let len = size_of::<libc::sa_family_t>() + path.len + 1;
    Some((addr, len as u32))
}
