//! The warm client's path before libc starts: `runcell run --warm PATH -- PROGRAM...` in its
//! common shape sends its request and exits with the job's status without ever starting glibc
//! or the Rust runtime.
//!
//! Why: on this project's machines a process's start-up costs more than the whole of what the
//! warm client does. glibc's start-up asks the CPU what it is (`cpuid`, which traps to the
//! hypervisor in a VM: ~7 us each here, ~0.5 ms per start), and a static-pie `runcell` first
//! applies ~28,000 relocations (a copy-on-write fault on each of ~125 pages). A warm `/bin/true`
//! took ~2.7 ms, of which ~1 ms was the client starting; a client that starts with neither
//! (the same requests, from a freestanding C prototype) took ~1.7 ms.
//!
//! How: the binary's ELF entry point is `runcell_entry` (cli/build.rs), which calls
//! [`early_main`] with the initial stack (argc, argv, envp, as the kernel laid them out) and
//! then jumps to libc's own `_start`, which starts the process as usual. `early_main` returns
//! (and the process goes on normally) unless the command line is one `warm::fast_args` takes,
//! stdin is a regular file, a character device that is not a terminal, or a pipe, fds 1 and 2
//! are open, and the socket path fits an address. Then it connects and sends the request
//! exactly as `warm::client` does (a pipe on stdin relayed through a pipe of the job's own,
//! by the same steps as `warm::relay_stdin`), peeks at the reply, and for the common reply
//! (an outcome, no text) takes it and exits with its status as `warm::client` would. A
//! terminal or a socket on stdin is left to the usual start.
//! Anything else after the connection (a failed send, a report asked for, an error reply, a
//! short read) is handed to `main` (the connection and what happened, in [`take`]), which
//! goes on from there with the ordinary client code, so errors read the same whichever path
//! ran. A failed connect is not handed over: `main` starts again from the beginning and
//! reports it.
//!
//! Constraints on this code, which runs before the process is set up: no libc call (there is
//! no thread-local storage yet, so no `errno`; in a static build libc's IFUNCs, `memcpy` and
//! `memcmp` among them, are not resolved yet), no allocation, no panic, no formatting, and no
//! data that needs a relocation (vtables, tables of pointers: a static-pie binary has not
//! relocated itself yet). Byte loops use volatile accesses so that the compiler does not turn
//! them into `memcpy`/`strlen` calls. `.ci/check-early-entry.py` checks the built static
//! binary: the early code calls and jumps only within itself (and to `_start`), and reads no
//! relocated data. Only the configurations so checked get the entry (cli/build.rs: a
//! dynamically linked build, where the loader has done all of that first, or an optimised
//! static one); the module is built for x86_64 Linux with glibc.

mod sys;

use std::os::fd::{FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicI32, AtomicU32, Ordering};

use sys::{Arg, Argv};

use crate::warm::{MAX_ARGV, REPLY, REQUEST, WANT_REPORT};

// The process's entry point (`-Wl,--entry=runcell_entry`, cli/build.rs). The kernel starts a
// process with `rsp` at argc (16-byte aligned) and `rdx` holding a function for `atexit`
// (0 from the kernel; the dynamic loader's `_dl_fini` when it ran first), which libc's `_start`
// takes. Both are kept in callee-saved registers across the call and restored for `_start`.
// `endbr64` (a no-op without CET) because the dynamic loader reaches the entry by an indirect
// jump; the CFI marks the return address undefined, as libc's `_start` does, so unwinders and
// profilers stop here.
core::arch::global_asm!(
    ".globl runcell_entry",
    ".type runcell_entry, @function",
    "runcell_entry:",
    ".cfi_startproc",
    ".cfi_undefined rip",
    "endbr64",
    "mov r12, rsp",
    "mov r13, rdx",
    "mov rdi, rsp",
    "and rsp, -16",
    "call {early}",
    "mov rsp, r12",
    "mov rdx, r13",
    "jmp _start",
    ".cfi_endproc",
    ".size runcell_entry, . - runcell_entry",
    early = sym early_main,
);

/// No handover: `main` starts from the beginning.
const NONE: u32 = 0;
/// The request was sent on [`CONN`]; the reply is unread.
const SENT: u32 = 1;
/// Sending the request on [`CONN`] failed with [`ERRNO`] (the server may have replied why).
const SEND_FAILED: u32 = 2;

/// What the early path left for `main`. Written at most once, before `main` (one thread),
/// read once by [`take`]: plain integers in `.data`, nothing to relocate.
static STATE: AtomicU32 = AtomicU32::new(NONE);
static CONN: AtomicI32 = AtomicI32::new(-1);
static ERRNO: AtomicI32 = AtomicI32::new(0);

/// What the early path did, for `main` to go on from (see the module doc).
pub enum Handover {
    /// The request was sent on this connection; read the reply.
    Sent(OwnedFd),
    /// Sending the request on this connection failed.
    SendFailed(OwnedFd, std::io::Error),
}

/// The early path's handover, if it left one (once: later calls return `None`).
pub fn take() -> Option<Handover> {
    let state = STATE.swap(NONE, Ordering::Relaxed);
    if state == NONE {
        return None;
    }
    let fd = CONN.load(Ordering::Relaxed);
    if fd < 0 {
        return None;
    }
    // SAFETY: the early path opened this socket, recorded it here once and never closed it;
    // the swap above hands it out once, so this is its only owner.
    let conn = unsafe { OwnedFd::from_raw_fd(fd) };
    Some(match state {
        SEND_FAILED => Handover::SendFailed(
            conn,
            std::io::Error::from_raw_os_error(ERRNO.load(Ordering::Relaxed)),
        ),
        _ => Handover::Sent(conn),
    })
}

/// Called by `runcell_entry` with the initial stack; returns to let the process start as
/// usual, or exits with the job's status.
extern "C" fn early_main(sp: *const usize) {
    // SAFETY: `runcell_entry` passes the stack pointer the kernel started the process with.
    let argv = unsafe { Argv::from_stack(sp) };
    if let Some(job) = parse(&argv) {
        run(&job);
    }
}

/// The warm client's command line, as the early path reads it.
#[derive(Clone, Copy)]
struct Job<'a> {
    /// The server's socket.
    path: Arg,
    /// `--report` was given (the reply then carries the report, which `main` writes).
    report: bool,
    /// The program's argv: each argument and its NUL, as the kernel laid them out (the
    /// request's argv part as it is).
    program: &'a [u8],
}

/// `warm::fast_args` over the initial stack: `Some` only for a command line that
/// `fast_args` takes, with the same meaning (a test checks), and a report path that is ASCII
/// (`fast_args` wants UTF-8; the rest are left to it). `None` also when the program's
/// arguments do not lie one after the other (the kernel lays them out so).
fn parse<'a>(argv: &'a Argv) -> Option<Job<'a>> {
    if !argv.get(1)?.is(b"run") {
        return None;
    }
    let (mut warm, mut report): (Option<Arg>, Option<Arg>) = (None, None);
    let mut i = 2;
    loop {
        let a = argv.get(i)?;
        if a.is(b"--") {
            break;
        }
        let (name, value) = match a.find(b'=') {
            Some(eq) => (a.prefix(eq), a.suffix(eq + 1)),
            None => {
                i += 1;
                (a, argv.get(i)?)
            }
        };
        // `-` alone is a value (`--report -`: stderr); clap takes nothing else with a dash.
        if value.is_empty() || (value.byte(0) == Some(b'-') && !value.is(b"-")) {
            return None;
        }
        let slot = if name.is(b"--warm") {
            &mut warm
        } else if name.is(b"--report") {
            &mut report
        } else {
            return None;
        };
        if slot.replace(value).is_some() {
            return None;
        }
        i += 1;
    }
    let program = argv.span(i + 1)?;
    if let Some(r) = report
        && !r.is_ascii()
    {
        return None;
    }
    Some(Job {
        path: warm?,
        report: report.is_some(),
        program,
    })
}

/// Send the job and, for the common reply, exit with its status; otherwise return, with or
/// without a handover (module doc).
fn run(job: &Job) {
    // As the usual client: a regular file or a non-terminal character device goes over as it
    // is; a pipe is relayed through a pipe of the job's own (below). A terminal or a socket
    // (also relayed by the usual client) is left to it.
    let relayed = match sys::file_type(0) {
        Ok(libc::S_IFREG) => false,
        Ok(libc::S_IFCHR) if !sys::is_terminal(0) => false,
        Ok(libc::S_IFIFO) => true,
        _ => return,
    };
    if !sys::is_open(1) || !sys::is_open(2) || job.program.len() > MAX_ARGV {
        return;
    }
    let Some((addr, addr_len)) = sys::unix_address(job.path) else {
        return;
    };
    let Ok(fd) = sys::unix_stream_socket() else {
        return;
    };
    if sys::connect(fd, &addr, addr_len).is_err() {
        sys::close(fd);
        return;
    }
    let flags = if job.report { WANT_REPORT } else { 0 }.to_ne_bytes();
    let len = (job.program.len() as u32).to_ne_bytes();
    let [r0, r1, r2, r3] = REQUEST;
    let head = [
        r0, r1, r2, r3, flags[0], flags[1], flags[2], flags[3], len[0], len[1], len[2], len[3],
    ];
    let pipe = if relayed {
        match sys::pipe() {
            Ok(p) => Some(p),
            Err(_) => {
                sys::close(fd);
                return;
            }
        }
    } else {
        None
    };
    let stdin = pipe.map_or(0, |(read_end, _)| read_end);
    CONN.store(fd, Ordering::Relaxed);
    let sent = send_request(fd, &head, job.program, stdin);
    if let Some((read_end, write_end)) = pipe {
        // The server has its own copy of the read end (or the request failed).
        sys::close(read_end);
        if sent.is_ok() {
            relay(fd, write_end);
        }
        // The job's stdin ends here.
        sys::close(write_end);
    }
    if let Err(errno) = sent {
        ERRNO.store(errno, Ordering::Relaxed);
        STATE.store(SEND_FAILED, Ordering::Relaxed);
        return;
    }
    STATE.store(SENT, Ordering::Relaxed);
    if job.report {
        return;
    }
    let mut h = [0u8; 16];
    if sys::recv(fd, &mut h, true) != Ok(h.len()) {
        return;
    }
    let word = |i: usize| u32::from_ne_bytes([h[i], h[i + 1], h[i + 2], h[i + 3]]);
    let (magic, kind, status, text_len) = (word(0), word(4), word(8) as i32, word(12));
    if magic == u32::from_ne_bytes(REPLY) && kind == 0 && text_len == 0 {
        // Take the reply (unread bytes at close would reset the server's end), then exit as
        // `warm::client` does for an outcome.
        let _ = sys::recv(fd, &mut h, false);
        sys::exit(status.clamp(0, 255) as u8);
    }
}

/// The request's header and argv, the descriptors with the first byte; the rest (when the
/// socket buffer took only part) sent after it, as `warm::client` does.
fn send_request(fd: i32, head: &[u8; 12], program: &[u8], stdin: i32) -> Result<(), i32> {
    let mut sent = sys::send_with_fds(fd, head, program, [stdin, 1, 2])?;
    let total = head.len() + program.len();
    while sent < total {
        let n = if sent < head.len() {
            sys::send(fd, head.get(sent..).unwrap_or_default())?
        } else {
            sys::send(fd, program.get(sent - head.len()..).unwrap_or_default())?
        };
        if n == 0 {
            return Err(libc::EPIPE);
        }
        sent += n;
    }
    Ok(())
}

/// Copy stdin into the job's pipe (`pipe`, its write end) until stdin ends, the job stops
/// reading (EPIPE), or the reply is readable on `conn`: `warm::relay_stdin`, step for step
/// (stdin read through a non-blocking descriptor of its own where `/proc` gives one, so
/// another reader taking the input first never leaves this process blocked in a read while
/// the reply waits).
fn relay(conn: i32, pipe: i32) {
    let own = sys::reopen_stdin_nonblocking().ok();
    let src = own.unwrap_or(0);
    // A job that stops reading its stdin closes the pipe's read end: the write must fail
    // (EPIPE, the relay's end) rather than kill the client, as in the usual start.
    if sys::ignore_sigpipe().is_ok()
        && sys::set_nonblocking(pipe).is_ok()
        && let Some(buf) = sys::relay_buffer()
    {
        copy(conn, src, pipe, buf);
    }
    if let Some(fd) = own {
        sys::close(fd);
    }
}

/// The relay's loop (see [`relay`]).
fn copy(conn: i32, src: i32, pipe: i32, buf: &mut [u8]) {
    let (mut start, mut end) = (0usize, 0usize);
    let mut src_open = true;
    loop {
        let want_src = src_open && start == end;
        let second = if want_src {
            (src, libc::POLLIN)
        } else if start < end {
            (pipe, libc::POLLOUT)
        } else {
            // stdin ended and everything was written: only the reply is left.
            return;
        };
        match sys::poll2((conn, libc::POLLIN), second) {
            // The reply (or the server's end): the job is over.
            Ok((c, _)) if c != 0 => return,
            Ok((_, 0)) | Err(libc::EINTR) => continue,
            Ok(_) => {}
            Err(_) => return,
        }
        if want_src {
            match sys::read(src, buf) {
                Ok(0) => src_open = false,
                Ok(n) => (start, end) = (0, n),
                Err(libc::EAGAIN | libc::EINTR) => {}
                Err(_) => src_open = false,
            }
            if !src_open {
                // End of input: the job's stdin ends when the pipe is closed.
                return;
            }
        } else {
            let Some(pending) = buf.get(start..end) else {
                return;
            };
            match sys::write(pipe, pending) {
                Ok(n) => start += n,
                Err(libc::EAGAIN | libc::EINTR) => {}
                // EPIPE: the job closed its stdin (or ended); the rest is not wanted.
                Err(_) => return,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::{CString, OsString};
    use std::os::unix::ffi::OsStringExt;

    /// What a parser made of a command line: the socket path, the report path, the program's
    /// argv as sent (each argument and its NUL).
    type Parsed = (Vec<u8>, Option<Vec<u8>>, Vec<u8>);

    /// Runs `parse` over `args` laid out as the kernel does (one buffer, each string after
    /// the last) or each string in its own allocation.
    fn early(args: &[&[u8]], contiguous: bool) -> Option<Parsed> {
        let mut strings: Vec<CString> = Vec::new();
        let mut buf: Vec<u8> = Vec::new();
        let mut offsets = Vec::new();
        for a in args {
            offsets.push(buf.len());
            buf.extend_from_slice(a);
            buf.push(0);
            strings.push(CString::new(*a).ok()?);
        }
        let mut ptrs: Vec<*const u8> = if contiguous {
            offsets.iter().map(|&o| buf[o..].as_ptr()).collect()
        } else {
            strings.iter().map(|s| s.as_ptr().cast()).collect()
        };
        ptrs.push(std::ptr::null());
        // SAFETY: `ptrs` holds args.len() pointers to NUL-terminated strings, then NULL, all
        // alive until the end of this function.
        let argv = unsafe { Argv::new(args.len(), ptrs.as_ptr()) };
        let job = parse(&argv)?;
        let report = job.report.then(|| report_of(args));
        Some((job.path.to_vec(), report, job.program.to_vec()))
    }

    /// The value of `--report` in `args` (the early parser only says whether it was given).
    fn report_of(args: &[&[u8]]) -> Vec<u8> {
        for (i, a) in args.iter().enumerate() {
            if *a == b"--" {
                break;
            }
            if let Some(v) = a.strip_prefix(b"--report=") {
                return v.to_vec();
            }
            if *a == b"--report" {
                return args[i + 1].to_vec();
            }
        }
        panic!("no --report in {args:?}")
    }

    fn fast(args: &[&[u8]]) -> Option<Parsed> {
        let argv: Vec<OsString> = args
            .iter()
            .map(|a| OsString::from_vec(a.to_vec()))
            .collect();
        let (path, report, program) = crate::warm::fast_args(&argv)?;
        let mut joined = Vec::new();
        for p in program {
            joined.extend_from_slice(p.as_encoded_bytes());
            joined.push(0);
        }
        Some((
            path.into_os_string().into_vec(),
            report.map(|r| r.as_bytes().to_vec()),
            joined,
        ))
    }

    const WORDS: &[&[u8]] = &[
        b"run",
        b"--warm",
        b"--report",
        b"--",
        b"-",
        b"/w.sock",
        b"--warm=/w",
        b"--report=-",
        b"--report=r.json",
        b"--warm=",
        b"-x",
        b"p",
        b"--memory",
        b"1M",
        b"=",
        b"--warm=a=b",
        b"r\xc3\xa9",
        b"--report=r\xff",
        b"",
        b"analyze",
        b"--warm=-",
        b"--report=",
    ];

    /// Every command line the early path takes, `warm::fast_args` takes with the same
    /// meaning; and the early path takes every one `fast_args` takes with an ASCII report.
    #[test]
    fn the_early_parser_agrees_with_fast_args() {
        let mut cases: Vec<Vec<&[u8]>> = vec![
            vec![b"runcell", b"run", b"--warm", b"/w.sock", b"--", b"true"],
            vec![
                b"runcell",
                b"run",
                b"--warm=/w",
                b"--",
                b"sh",
                b"-c",
                b"exit 3",
            ],
            vec![
                b"runcell",
                b"run",
                b"--report",
                b"r.json",
                b"--warm",
                b"/w",
                b"--",
                b"a",
                b"--",
            ],
            vec![
                b"runcell",
                b"run",
                b"--warm",
                b"/w",
                b"--report=-",
                b"--",
                b"p",
                b"",
            ],
            vec![
                b"runcell",
                b"run",
                b"--warm",
                b"/w",
                b"--",
                b"--report",
                b"x",
            ],
            vec![
                b"runcell",
                b"run",
                b"--warm",
                b"/w",
                b"--report=r\xc3\xa9",
                b"--",
                b"p",
            ],
            vec![b"runcell", b"run", b"--warm", b"/w", b"--"],
            vec![
                b"runcell", b"run", b"--warm", b"/w", b"--warm", b"/v", b"--", b"p",
            ],
            vec![b"runcell", b"run"],
            vec![b"runcell"],
            vec![],
        ];
        // Every short command line over the words above (a deterministic sweep).
        let n = WORDS.len();
        for len in 1..=4usize {
            for mut k in 0..n.pow(len as u32) {
                let mut c: Vec<&[u8]> = vec![b"runcell", b"run"];
                for _ in 0..len {
                    c.push(WORDS[k % n]);
                    k /= n;
                }
                c.push(b"--");
                c.push(b"p");
                cases.push(c);
            }
        }
        let mut taken = 0;
        for c in &cases {
            let e = early(c, true);
            let f = fast(c);
            match (&e, &f) {
                (Some(e), Some(f)) => {
                    assert_eq!(e, f, "{c:?}");
                    taken += 1;
                }
                (Some(_), None) => panic!("{c:?}: the early path takes what fast_args does not"),
                (None, Some((_, report, _))) => assert!(
                    report.as_ref().is_some_and(|r| !r.is_ascii()),
                    "{c:?}: fast_args takes it, the early path does not"
                ),
                (None, None) => {}
            }
        }
        assert!(taken > 100, "only {taken} command lines taken");
    }

    /// The program's arguments go as the kernel laid them out: each with its NUL.
    #[test]
    fn the_program_span_is_every_argument_with_its_nul() {
        let c: &[&[u8]] = &[
            b"runcell", b"run", b"--warm", b"/s", b"--", b"sh", b"", b"-c",
        ];
        let (path, report, program) = early(c, true).expect("taken");
        assert_eq!(path, b"/s");
        assert!(report.is_none());
        assert_eq!(program, b"sh\0\0-c\0");
        // Arguments that do not lie one after the other: not taken (one argument always does).
        assert!(early(c, false).is_none());
        let one: &[&[u8]] = &[b"runcell", b"run", b"--warm=/s", b"--", b"true"];
        assert_eq!(early(one, false).map(|j| j.2), Some(b"true\0".to_vec()));
    }
}
