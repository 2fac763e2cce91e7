//! `runcell warm --socket PATH` (a resident pool of warm cells on a local socket) and its
//! client, `runcell run --warm PATH -- PROGRAM...` (DESIGN §5).
//!
//! A one-shot `runcell run` pays for a whole sandbox setup on every invocation (profile and
//! policies parsed, cgroup made and removed, namespaces, mounts). The server does all of that
//! ahead of time in warm cells (`runcell::WarmPool`): each job takes a cell that was set up in
//! the background for it alone and is destroyed after it, never reused. The client only
//! connects, hands over its standard streams and the program's argv, and waits for the exit
//! status. The server copies between the client's descriptors and the cell's pipes, as `run`
//! does with its own (a terminal is never handed to the sandbox; the output limit holds).
//!
//! Protocol (one connection per job, stream socket, native byte order, both ends this binary):
//! - request: `RCW1`, flags (u32; bit 0: send the JSON report), argv length (u32), with the
//!   client's stdin, stdout and stderr attached (`SCM_RIGHTS`, in the first bytes); then the
//!   argv, each argument followed by a NUL byte. After it the client sends nothing: anything
//!   readable on the connection (more bytes, or its end when the client exits or is killed)
//!   cancels the job, which is killed at once (`WarmPool::run_with_cancel`).
//! - reply: `RCR1`, kind (u32: 0 outcome, 1 error), status (i32: the shell status of `run`),
//!   text length (u32), then the text (the report when asked for, or the error message).
//!
//! The socket is made mode 0600 and the server serves only connections whose peer has its own
//! effective uid (`SO_PEERCRED`), so the server never runs a job for anyone its own user could
//! not run it for. The jobs run in the server's configuration (its profile and options, chosen
//! at `runcell warm`); the client takes no sandbox options.

use std::ffi::OsString;
use std::io::{IoSlice, IoSliceMut, Read, Write};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::FileTypeExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::Args;
use nix::sys::signal::{SigSet, Signal};
use nix::sys::socket::{
    ControlMessage, ControlMessageOwned, MsgFlags, getsockopt, recvmsg, sendmsg,
    sockopt::PeerCredentials,
};
use nix::sys::stat::SFlag;
use runcell::{Command, Input, Output, WarmConfig, WarmPool};

use crate::RUNCELL_FAILED;
use crate::run::{RunOpts, fail, write_report};

pub(crate) const REQUEST: [u8; 4] = *b"RCW1";
pub(crate) const REPLY: [u8; 4] = *b"RCR1";
/// Request flag: send the JSON report with the outcome.
pub(crate) const WANT_REPORT: u32 = 1;
/// Largest argv a request may carry (Linux's own limit for one argument string is 128 KiB,
/// for all of them 1/4 of the stack limit; a job over this is refused, not truncated).
pub(crate) const MAX_ARGV: usize = 1 << 20;
/// How long a connection may take to send its request.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest reply text the client accepts.
const MAX_TEXT: usize = 16 << 20;
/// Jobs served at once: twice the cells (a job that finds no ready cell runs cold), at least 8.
fn job_threads(cells: u16) -> usize {
    (usize::from(cells) * 2).max(8)
}

#[derive(Args)]
pub struct WarmArgs {
    /// The socket to listen on (created mode 0600; a stale socket file at the path is
    /// replaced, anything else is an error).
    #[arg(long, value_name = "PATH")]
    pub socket: PathBuf,
    /// Cells kept set up ahead of time (each serves one job, then is replaced).
    #[arg(long, value_name = "N", default_value_t = 2, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub cells: u16,
    #[command(flatten)]
    pub opts: RunOpts,
}

/// `runcell warm`: serve jobs until SIGTERM, SIGINT or SIGHUP, then stop accepting, remove
/// the socket, kill the running jobs (their clients exit 125: the server stopped), tear the
/// cells down and exit 0.
pub fn serve(args: &WarmArgs) -> ExitCode {
    let report = args.opts.report.as_deref();
    if report.is_some() {
        return fail(
            None,
            &"--report belongs to the client (runcell run --warm PATH --report FILE)",
        );
    }
    // Before any thread exists: every thread of the process inherits the blocked set, so the
    // signals wait for `sigwait` below instead of killing the process with its cells.
    let mut signals = SigSet::empty();
    for s in [Signal::SIGTERM, Signal::SIGINT, Signal::SIGHUP] {
        signals.add(s);
    }
    if let Err(e) = signals.thread_block() {
        return fail(None, &format!("blocking signals: {e}"));
    }
    let listener = match listen(&args.socket) {
        Ok(l) => l,
        Err(e) => return fail(None, &format!("{}: {e}", args.socket.display())),
    };
    // The socket file this server made: only that one is removed when it stops (the path
    // may name another server's by then).
    let socket_id = file_id(&args.socket);
    let pool = match args
        .opts
        .builder("default")
        .and_then(|b| b.build())
        .and_then(|sb| sb.warm_pool(WarmConfig::new(usize::from(args.cells))))
    {
        Ok(p) => Arc::new(p),
        Err(e) => {
            remove_own_socket(&args.socket, socket_id);
            return fail(None, &e);
        }
    };
    eprintln!(
        "runcell warm: serving {} (profile {}, {} cells)",
        args.socket.display(),
        args.opts.profile.as_deref().unwrap_or("default"),
        args.cells
    );
    let stop = Arc::new(AtomicBool::new(false));
    let active: Arc<Active> = Arc::default();
    let mut threads = Vec::new();
    for _ in 0..job_threads(args.cells) {
        let (pool, stop, active) = (pool.clone(), stop.clone(), active.clone());
        let listener = match listener.try_clone() {
            Ok(l) => l,
            Err(e) => {
                remove_own_socket(&args.socket, socket_id);
                return fail(None, &e);
            }
        };
        let spawned = std::thread::Builder::new()
            .name("runcell-warm-job".into())
            .stack_size(256 << 10)
            .spawn(move || accept_loop(&listener, &pool, &active, &stop));
        match spawned {
            Ok(t) => threads.push(t),
            Err(e) => {
                remove_own_socket(&args.socket, socket_id);
                return fail(None, &format!("starting a job thread: {e}"));
            }
        }
    }
    let signal = signals.wait();
    // A second Ctrl-C (or SIGTERM) ends the process at once, as without runcell: the signals
    // are unblocked on this thread, which the kernel then delivers them to.
    let _ = signals.thread_unblock();
    stop.store(true, Ordering::SeqCst);
    // Wake the job threads: shutting the listening socket down makes accept() fail at once.
    let _ = nix::sys::socket::shutdown(listener.as_raw_fd(), nix::sys::socket::Shutdown::Both);
    remove_own_socket(&args.socket, socket_id);
    // The jobs still running are killed: their connections' reading side shut down is their
    // cancel (their clients are told the server stopped).
    for (_, c) in lock(&active).iter() {
        let _ = c.shutdown(std::net::Shutdown::Read);
    }
    for t in threads {
        let _ = t.join();
    }
    drop(pool);
    if let Ok(s) = signal {
        eprintln!("runcell warm: stopped ({s})");
    }
    ExitCode::SUCCESS
}

/// The device and inode of the file at `path` (not following a symlink).
fn file_id(path: &Path) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    std::fs::symlink_metadata(path)
        .ok()
        .map(|m| (m.dev(), m.ino()))
}

/// Remove the socket file at `path` if it is still the one this server made.
fn remove_own_socket(path: &Path, id: Option<(u64, u64)>) {
    if id.is_some() && file_id(path) == id {
        let _ = std::fs::remove_file(path);
    }
}

/// Listen at `path` (mode 0600). A socket file nobody listens on is replaced; a live
/// server's, or any other file, is an error. The socket is bound and listening under a
/// temporary name in the same directory first, then renamed over `path`: a client never
/// finds a socket there that is not listening yet (a connection between `bind` and `listen`
/// would be refused), and a stale one is replaced in one step.
fn listen(path: &Path) -> std::io::Result<UnixListener> {
    if let Ok(meta) = std::fs::symlink_metadata(path) {
        if !meta.file_type().is_socket() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::AlreadyExists,
                "exists and is not a socket",
            ));
        }
        match UnixStream::connect(path) {
            Ok(_) => {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::AddrInUse,
                    "a server is already listening there",
                ));
            }
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {}
            Err(e) => return Err(e),
        }
    }
    let name = path
        .file_name()
        .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a file name"))?;
    let mut tmp_name = OsString::from(".");
    tmp_name.push(name);
    tmp_name.push(format!(".{}.tmp", std::process::id()));
    let tmp = path.with_file_name(tmp_name);
    // The process is still single-threaded here: the umask applies to this bind alone.
    let old = nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o177));
    let l = UnixListener::bind(&tmp);
    nix::sys::stat::umask(old);
    let l = l?;
    if let Err(e) = std::fs::rename(&tmp, path) {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    Ok(l)
}

/// One of the server's job threads: accept a connection, serve its job, again; ends when the
/// listening socket is shut down. Several take turns on the one socket (the kernel hands each
/// connection to one waiting thread): no thread is started per job, and a connection beyond
/// the threads waits in the listen backlog until one is free.
fn accept_loop(listener: &UnixListener, pool: &WarmPool, active: &Active, stop: &AtomicBool) {
    // SAFETY: geteuid has no preconditions.
    let euid = unsafe { libc::geteuid() };
    let own_ns = user_namespace("self");
    loop {
        let conn = match listener.accept() {
            Ok((c, _)) => c,
            Err(_) if stop.load(Ordering::SeqCst) => return,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                eprintln!("runcell warm: accept: {e}");
                std::thread::sleep(Duration::from_millis(10));
                continue;
            }
        };
        match getsockopt(&conn, PeerCredentials) {
            Ok(c) if c.uid() != euid => {
                let msg = format!("this server runs jobs for uid {euid} only");
                let _ = reply(&conn, 1, RUNCELL_FAILED.into(), msg.as_bytes());
            }
            Ok(c) if own_ns.is_none() || user_namespace(&c.pid().to_string()) != own_ns => {
                let msg = "this server runs no jobs for processes of other user namespaces \
                           (a sandbox's own jobs included)";
                let _ = reply(&conn, 1, RUNCELL_FAILED.into(), msg.as_bytes());
            }
            Ok(_) => serve_one(&conn, pool, active, stop),
            Err(e) => {
                let msg = format!("cannot identify the peer: {e}");
                let _ = reply(&conn, 1, RUNCELL_FAILED.into(), msg.as_bytes());
            }
        }
    }
}

/// The connections whose jobs run now (a second handle on each): stopping the server shuts
/// their reading side down, which cancels their jobs.
type Active = Mutex<Vec<(u64, UnixStream)>>;

/// The user namespace of process `pid` ("self" or a number in this process's PID namespace)
/// as the device and inode of `/proc/<pid>/ns/user`; `None` if it is gone or not visible.
///
/// A connecting peer (`SO_PEERCRED`'s pid) must be in the server's own user namespace. An
/// unprivileged server's sandboxes run as its own uid seen from here, so the uid check alone
/// would let a job whose sandbox can reach the socket (a bind of the directory holding it)
/// start jobs of its own, outside its limits; every sandbox is in a user namespace of its
/// own. A peer that is gone (or not visible) is refused. The pid is read right after
/// `accept`: for it to name another process, the peer would have to exit and its pid be
/// reused by then.
fn user_namespace(pid: &str) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(format!("/proc/{pid}/ns/user"))
        .ok()
        .map(|m| (m.dev(), m.ino()))
}

/// One job: read the request, run it in a warm cell, send the reply.
fn serve_one(conn: &UnixStream, pool: &WarmPool, active: &Active, stop: &AtomicBool) {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let id = NEXT.fetch_add(1, Ordering::Relaxed);
    match conn.try_clone() {
        Ok(c) => lock(active).push((id, c)),
        Err(e) => {
            let _ = reply(conn, 1, RUNCELL_FAILED.into(), e.to_string().as_bytes());
            return;
        }
    }
    /// Takes the connection out of the registry however the job ends (a panic included:
    /// a stop must not shut down a later connection through a stale entry, nor keep this
    /// one's client waiting).
    struct Registered<'a>(&'a Active, u64);
    impl Drop for Registered<'_> {
        fn drop(&mut self) {
            lock(self.0).retain(|(i, _)| *i != self.1);
        }
    }
    let _registered = Registered(active, id);
    // Registered before this check: a stop that came in between is seen here or shuts this
    // connection down.
    if !stop.load(Ordering::SeqCst) {
        run_one(conn, pool, stop);
    } else {
        let _ = reply(
            conn,
            1,
            RUNCELL_FAILED.into(),
            b"the warm server is stopping",
        );
    }
}

fn lock(active: &Active) -> std::sync::MutexGuard<'_, Vec<(u64, UnixStream)>> {
    active.lock().unwrap_or_else(|e| e.into_inner())
}

fn run_one(conn: &UnixStream, pool: &WarmPool, stop: &AtomicBool) {
    // A client sends its request right after connecting: one that does not is not let hold
    // a job thread (the reads fail at the deadline, the connection is answered and closed).
    let request = read_request(conn);
    let _ = conn.set_read_timeout(None);
    let (flags, fds, argv) = match request {
        Ok(r) => r,
        Err(e) => {
            let _ = reply(conn, 1, RUNCELL_FAILED.into(), e.as_bytes());
            return;
        }
    };
    let Some((prog, rest)) = argv.split_first() else {
        let _ = reply(conn, 1, RUNCELL_FAILED.into(), b"no program given");
        return;
    };
    let cmd = Command::new(prog).args(rest);
    let [stdin, stdout, stderr] = &fds;
    match pool.run_with_cancel(
        &cmd,
        Input::Fd(stdin.as_fd()),
        Output::Fd(stdout.as_fd()),
        Output::Fd(stderr.as_fd()),
        conn.as_fd(),
    ) {
        Ok(o) => {
            let text = if flags & WANT_REPORT != 0 {
                o.report_json().into_bytes()
            } else {
                Vec::new()
            };
            let _ = reply(conn, 0, o.shell_status(), &text);
        }
        Err(runcell::Error::Cancelled) if stop.load(Ordering::SeqCst) => {
            let _ = reply(
                conn,
                1,
                RUNCELL_FAILED.into(),
                b"the warm server stopped; the job was killed",
            );
        }
        // The client is gone: nobody to tell.
        Err(runcell::Error::Cancelled) => {}
        Err(e) => {
            let _ = reply(conn, 1, RUNCELL_FAILED.into(), e.to_string().as_bytes());
        }
    }
}

type Request = (u32, [OwnedFd; 3], Vec<OsString>);

fn read_request(conn: &UnixStream) -> Result<Request, String> {
    let deadline = Instant::now() + REQUEST_TIMEOUT;
    let err = |e: &dyn std::fmt::Display| format!("reading the request: {e}");
    let mut head = [0u8; 12];
    // Room for the most descriptors one message can carry (SCM_MAX_FD): the control data is
    // never truncated, so every descriptor received is owned below and closed if unwanted
    // (with a truncated buffer nix returns no message at all, and those would leak).
    let mut space = nix::cmsg_space!([RawFd; 253]);
    set_timeout(conn, deadline).map_err(|e| err(&e))?;
    let (got, fds) = {
        let mut iov = [IoSliceMut::new(&mut head)];
        let msg = recvmsg::<()>(
            conn.as_raw_fd(),
            &mut iov,
            Some(&mut space),
            MsgFlags::MSG_CMSG_CLOEXEC,
        )
        .map_err(|e| err(&e))?;
        let mut fds: Vec<OwnedFd> = Vec::new();
        for c in msg.cmsgs().map_err(|e| err(&e))? {
            if let ControlMessageOwned::ScmRights(raw) = c {
                // SAFETY: SCM_RIGHTS installed these descriptors in this process just now;
                // nothing else owns them.
                fds.extend(
                    raw.into_iter()
                        .map(|fd| unsafe { OwnedFd::from_raw_fd(fd) }),
                );
            }
        }
        (msg.bytes, fds)
    };
    let Ok(fds) = <[OwnedFd; 3]>::try_from(fds) else {
        return Err(
            "the request must carry exactly three descriptors (stdin, stdout, stderr)".into(),
        );
    };
    if got < head.len() {
        read_until(conn, &mut head[got..], deadline).map_err(|e| err(&e))?;
    }
    if head[..4] != REQUEST {
        return Err("not a runcell warm request (or another version of runcell)".into());
    }
    let flags = u32::from_ne_bytes([head[4], head[5], head[6], head[7]]);
    let len = u32::from_ne_bytes([head[8], head[9], head[10], head[11]]) as usize;
    if len > MAX_ARGV {
        return Err(format!("the arguments exceed {MAX_ARGV} bytes"));
    }
    let mut body = vec![0u8; len];
    read_until(conn, &mut body, deadline).map_err(|e| err(&e))?;
    let Some(body) = body.strip_suffix(b"\0") else {
        return Err("malformed arguments".into());
    };
    let argv = body
        .split(|&b| b == 0)
        .map(|a| OsString::from_vec(a.to_vec()))
        .collect();
    Ok((flags, fds, argv))
}

/// The socket's receive timeout: what is left until `deadline` (SO_RCVTIMEO restarts with
/// every read, so it is set again before each one: the whole request has one deadline).
fn set_timeout(conn: &UnixStream, deadline: Instant) -> std::io::Result<()> {
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        return Err(std::io::ErrorKind::TimedOut.into());
    }
    conn.set_read_timeout(Some(left))
}

/// Fill `buf` from `conn` by `deadline`.
fn read_until(conn: &UnixStream, mut buf: &mut [u8], deadline: Instant) -> std::io::Result<()> {
    let mut r: &UnixStream = conn;
    while !buf.is_empty() {
        set_timeout(conn, deadline)?;
        match r.read(buf) {
            Ok(0) => return Err(std::io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => buf = &mut buf[n..],
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

fn reply(conn: &UnixStream, kind: u32, status: i32, text: &[u8]) -> std::io::Result<()> {
    let mut msg = Vec::with_capacity(16 + text.len());
    msg.extend_from_slice(&REPLY);
    msg.extend_from_slice(&kind.to_ne_bytes());
    msg.extend_from_slice(&status.to_ne_bytes());
    msg.extend_from_slice(&(text.len() as u32).to_ne_bytes());
    msg.extend_from_slice(text);
    let mut w: &UnixStream = conn;
    w.write_all(&msg)
}

/// `runcell run --warm PATH [--report FILE] -- PROGRAM [ARGS...]` (each option also as
/// `--opt=VALUE`, in either order, at most once), read without clap: `(PATH, FILE, program)`.
/// `None` for anything else, which clap then parses (and reports errors of) as usual: so this
/// accepts nothing clap would not, with the same meaning (a value never starts with `-`, the
/// program is everything after `--`, not empty).
pub fn fast_args(argv: &[OsString]) -> Option<(PathBuf, Option<&str>, &[OsString])> {
    if argv.get(1)?.as_bytes() != b"run" {
        return None;
    }
    let (mut warm, mut report) = (None, None);
    let mut i = 2;
    loop {
        let a = argv.get(i)?.as_bytes();
        if a == b"--" {
            break;
        }
        let (name, inline) = match a.iter().position(|&c| c == b'=') {
            Some(eq) => (&a[..eq], Some(&a[eq + 1..])),
            None => (a, None),
        };
        let value: &[u8] = match inline {
            Some(v) => v,
            None => {
                i += 1;
                argv.get(i)?.as_bytes()
            }
        };
        // `-` alone is a value (`--report -`: stderr); clap takes nothing else with a dash.
        if value.is_empty() || (value.starts_with(b"-") && value != b"-") {
            return None;
        }
        let slot = match name {
            b"--warm" => &mut warm,
            b"--report" => &mut report,
            _ => return None,
        };
        if slot.replace(value).is_some() {
            return None;
        }
        i += 1;
    }
    let program = &argv[i + 1..];
    if program.is_empty() {
        return None;
    }
    let warm = PathBuf::from(OsString::from_vec(warm?.to_vec()));
    let report = match report {
        Some(r) => Some(std::str::from_utf8(r).ok()?),
        None => None,
    };
    Some((warm, report, program))
}

/// `runcell run --warm PATH -- PROGRAM...`: the job in a cell of the server at PATH, on this
/// process's standard streams (the server copies them); exits with the program's shell
/// status, as `run` does.
pub fn client(path: &Path, program: &[OsString], report: Option<&str>) -> ExitCode {
    outcome(path, report, request(path, program, report.is_some()))
}

/// The client, from where the early path (src/early) handed over: the request was sent on
/// `conn`, or sending it failed with `sent`'s error. `argv` is the command line, which
/// `fast_args` takes (the early path takes only such).
pub fn resume(argv: &[OsString], conn: OwnedFd, sent: std::io::Result<()>) -> ExitCode {
    let Some((path, report, _)) = fast_args(argv) else {
        return fail(None, &"the warm client's command line was not its own");
    };
    let sent = sent.map_err(|e| format!("sending the request: {e}"));
    let conn = UnixStream::from(conn);
    outcome(&path, report, read_result(&conn, sent, None))
}

/// Exit as the reply says: the shell status of an outcome (and its report), or 125 and the
/// error.
fn outcome(
    path: &Path,
    report: Option<&str>,
    result: Result<(u32, i32, Vec<u8>), String>,
) -> ExitCode {
    match result {
        Ok((0, status, text)) => {
            if report.is_some() {
                write_report(report, &String::from_utf8_lossy(&text));
            }
            ExitCode::from(status.clamp(0, 255) as u8)
        }
        Ok((_, _, text)) => fail(
            report,
            &format!(
                "warm server {}: {}",
                path.display(),
                String::from_utf8_lossy(&text)
            ),
        ),
        Err(e) => fail(report, &format!("warm server {}: {e}", path.display())),
    }
}

fn request(
    path: &Path,
    program: &[OsString],
    want_report: bool,
) -> Result<(u32, i32, Vec<u8>), String> {
    let conn = UnixStream::connect(path).map_err(|e| format!("cannot connect: {e}"))?;
    // The whole request in one buffer: the header, then the argv, sent at once.
    let mut msg = Vec::with_capacity(12 + program.iter().map(|a| a.len() + 1).sum::<usize>());
    msg.extend_from_slice(&REQUEST);
    msg.extend_from_slice(&u32::from(want_report).to_ne_bytes());
    msg.extend_from_slice(&[0; 4]);
    for a in program {
        if a.as_bytes().contains(&0) {
            return Err("an argument contains a NUL byte".into());
        }
        msg.extend_from_slice(a.as_bytes());
        msg.push(0);
    }
    let argv_len = msg.len() - 12;
    if argv_len > MAX_ARGV {
        return Err(format!("the arguments exceed {MAX_ARGV} bytes"));
    }
    msg[8..12].copy_from_slice(&(argv_len as u32).to_ne_bytes());
    // stdin: handed over as it is only when reading it can never block or take input meant
    // for someone else (a regular file, /dev/null); a terminal, a pipe or a socket goes
    // through a pipe of this job's own that this process fills, so the server never reads a
    // descriptor others read too (a terminal: the shell's input; a shared pipe: a read that
    // blocks the server's loop) and job control still applies to this process.
    let relay = if stdin_is_plain() {
        None
    } else {
        Some(std::io::pipe().map_err(|e| format!("making the stdin pipe: {e}"))?)
    };
    let stdin_fd = relay.as_ref().map_or(0, |(r, _)| r.as_raw_fd());
    let std_fds = [stdin_fd, 1, 2];
    // The descriptors go with the first byte; a request larger than the socket buffer is
    // sent in parts after it.
    let mut w: &UnixStream = &conn;
    let sent = sendmsg::<()>(
        conn.as_raw_fd(),
        &[IoSlice::new(&msg)],
        &[ControlMessage::ScmRights(&std_fds)],
        MsgFlags::empty(),
        None,
    )
    .map_err(std::io::Error::from)
    .and_then(|n| w.write_all(&msg[n..]))
    .map_err(|e| format!("sending the request: {e}"));
    read_result(&conn, sent, relay)
}

/// After the request went (or failed to): relay stdin if it goes through a pipe of the job's
/// own, then read the reply.
fn read_result(
    conn: &UnixStream,
    sent: Result<(), String>,
    relay: Option<(std::io::PipeReader, std::io::PipeWriter)>,
) -> Result<(u32, i32, Vec<u8>), String> {
    let mut r: &UnixStream = conn;
    if let Err(e) = sent {
        // A server that refused the request may have said why before closing.
        return read_reply(&mut r).map_err(|_| e);
    }
    if let Some((read_end, write_end)) = relay {
        // The server has its own copy of the read end.
        drop(read_end);
        relay_stdin(conn, write_end);
    }
    read_reply(&mut r)
}

/// Is stdin a regular file or a character device other than a terminal (reads never block)?
fn stdin_is_plain() -> bool {
    use std::io::IsTerminal;
    let stdin = std::io::stdin();
    let Ok(st) = nix::sys::stat::fstat(&stdin) else {
        return false;
    };
    match SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT {
        SFlag::S_IFREG => true,
        SFlag::S_IFCHR => !stdin.is_terminal(),
        _ => false,
    }
}

/// Copy stdin into the job's pipe until stdin ends, the job stops reading (EPIPE), or the
/// server's reply is readable on `conn`. stdin is read through a descriptor of its own
/// (`/proc/self/fd/0` reopened non-blocking) where it can be, so that another reader taking
/// the input first never leaves this process blocked in a read while the reply waits.
fn relay_stdin(conn: &UnixStream, pipe: std::io::PipeWriter) {
    use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
    use std::os::unix::fs::OpenOptionsExt;
    let own = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open("/proc/self/fd/0")
        .ok();
    let stdin = std::io::stdin();
    let src = own.as_ref().map_or_else(|| stdin.as_fd(), |f| f.as_fd());
    let pipe = OwnedFd::from(pipe);
    if nix::fcntl::fcntl(
        &pipe,
        nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK),
    )
    .is_err()
    {
        return;
    }
    let mut buf = vec![0u8; 64 << 10];
    let (mut start, mut end) = (0, 0);
    let mut src_open = true;
    loop {
        let want_src = src_open && start == end;
        let mut fds = vec![PollFd::new(conn.as_fd(), PollFlags::POLLIN)];
        if want_src {
            fds.push(PollFd::new(src, PollFlags::POLLIN));
        } else if start < end {
            fds.push(PollFd::new(pipe.as_fd(), PollFlags::POLLOUT));
        } else {
            // stdin ended and everything was written: only the reply is left.
            return;
        }
        match poll(&mut fds, PollTimeout::NONE) {
            Ok(_) => {}
            Err(nix::errno::Errno::EINTR) => continue,
            Err(_) => return,
        }
        if fds[0].any().unwrap_or(true) {
            // The reply (or the server's end): the job is over.
            return;
        }
        if !fds[1].any().unwrap_or(false) {
            continue;
        }
        if want_src {
            match nix::unistd::read(src, &mut buf) {
                Ok(0) => src_open = false,
                Ok(n) => (start, end) = (0, n),
                Err(nix::errno::Errno::EAGAIN | nix::errno::Errno::EINTR) => {}
                Err(_) => src_open = false,
            }
            if !src_open {
                // End of input: the job's stdin ends when this end is closed.
                return;
            }
        } else {
            match nix::unistd::write(&pipe, &buf[start..end]) {
                Ok(n) => start += n,
                Err(nix::errno::Errno::EAGAIN | nix::errno::Errno::EINTR) => {}
                // EPIPE: the job closed its stdin (or ended); the rest is not wanted.
                Err(_) => return,
            }
        }
    }
}

fn read_reply(r: &mut &UnixStream) -> Result<(u32, i32, Vec<u8>), String> {
    let mut h = [0u8; 16];
    r.read_exact(&mut h).map_err(|e| match e.kind() {
        std::io::ErrorKind::UnexpectedEof => {
            "the server closed the connection without a result (it stopped?)".to_string()
        }
        _ => format!("reading the result: {e}"),
    })?;
    if h[..4] != REPLY {
        return Err("not a runcell warm reply (another version of runcell?)".into());
    }
    let kind = u32::from_ne_bytes([h[4], h[5], h[6], h[7]]);
    let status = i32::from_ne_bytes([h[8], h[9], h[10], h[11]]);
    let len = u32::from_ne_bytes([h[12], h[13], h[14], h[15]]) as usize;
    if len > MAX_TEXT {
        return Err("the reply is too large".into());
    }
    let mut text = vec![0u8; len];
    r.read_exact(&mut text)
        .map_err(|e| format!("reading the result: {e}"))?;
    Ok((kind, status, text))
}
