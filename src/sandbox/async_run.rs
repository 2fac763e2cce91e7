//! Runs on a tokio runtime (the `tokio` feature): the same sandbox, supervised by the runtime's
//! reactor instead of a poll loop. The pidfd and the non-blocking pipes are registered with
//! `AsyncFd`, so any number of sandboxes share the runtime's threads; none gets a thread of its
//! own. Dropping a future of [`Sandbox::run_async`] or an [`AsyncChild`] kills the sandbox at
//! once and reaps it on the runtime's blocking pool (the reap waits for the kernel to tear the
//! whole PID namespace down, which is not for a runtime thread to wait on).
//!
//! The clone and the id maps (well under a millisecond) run on the calling task; the child's
//! setup until `execve` is awaited.

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::time::{Duration, Instant};

use tokio::io::Interest;
use tokio::io::unix::AsyncFd;
use tokio::net::unix::pipe;

use super::child::RECORD_LEN;
use super::outcome::Outcome;
use super::spawn::{self, Captured, ExecData, Output, Started};
use super::{Command, Sandbox};
use crate::error::{Error, Result};
use crate::sys;

/// How long to keep reading output after the sandbox ended, in case a pipe end is still held
/// outside it.
const DRAIN: Duration = Duration::from_secs(2);

/// Register an fd with the runtime's reactor (as a non-blocking fd).
fn register<T: AsRawFd>(fd: T, interest: Interest, what: &'static str) -> Result<AsyncFd<T>> {
    sys::set_nonblocking(fd.as_raw_fd(), true)
        .map_err(|e| Error::sys("fcntl", spawn::os_err(e)))?;
    // SAFETY: callers pass an `OwnedFd` (moved into the AsyncFd, open until it is dropped) or a
    // `BorrowedFd<'a>` (open for 'a, which the AsyncFd cannot outlive); `as_raw_fd` of either
    // always returns the same fd.
    unsafe { AsyncFd::register_with_interest(fd, interest) }.map_err(|e| Error::sys(what, e.into()))
}

/// Read from a registered fd; a missing fd never becomes ready (a disabled `select!` branch
/// still builds its future).
async fn read_some<T: AsRawFd>(fd: Option<&AsyncFd<T>>, buf: &mut [u8]) -> io::Result<usize> {
    let Some(fd) = fd else {
        return std::future::pending().await;
    };
    fd.async_io(Interest::READABLE, |f| {
        sys::retry(|| sys::read(f.as_raw_fd(), buf)).map_err(spawn::os_err)
    })
    .await
}

async fn write_some(fd: Option<&AsyncFd<OwnedFd>>, data: &[u8]) -> io::Result<usize> {
    let Some(fd) = fd else {
        return std::future::pending().await;
    };
    fd.async_io(Interest::WRITABLE, |f| {
        sys::retry(|| sys::write_nosigpipe(f.as_raw_fd(), data)).map_err(spawn::os_err)
    })
    .await
}

async fn sleep_until_opt(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}

/// Launch the sandbox on a launcher thread (see `launcher`) and wait, without blocking the
/// runtime, until its program runs. A future dropped meanwhile leaves the launch to finish
/// there, where the unclaimed sandbox is killed and reaped.
async fn start(sb: &Sandbox, cmd: &Command, deadline: Instant) -> Result<Started> {
    let (sb, cmd) = (sb.clone(), spawn::absolute_sources(cmd));
    let mut started = super::launcher::call_async(move || {
        let exec = ExecData::new(&sb, &cmd)?;
        spawn::start(&sb, &exec, deadline)
    })
    .await?;
    started.reap_off_thread = true;
    Ok(started)
}

impl Sandbox {
    /// [`Sandbox::run`] on a tokio runtime: feed `stdin`, capture stdout and stderr (cut at the
    /// output limit), enforce the wall time, and return the outcome. Needs a runtime with IO and
    /// time enabled. Dropping the future kills the sandbox and reaps it.
    pub async fn run_async(&self, cmd: &Command, stdin: &[u8]) -> Result<Outcome> {
        let begin = Instant::now();
        let deadline = begin + self.limits().wall_time;
        let started = match start(self, cmd, deadline).await {
            Ok(s) => s,
            Err(e) if spawn::is_setup_timeout(&e) => {
                return Ok(spawn::timed_out_in_setup(self, begin.elapsed()));
            }
            Err(e) => return Err(e),
        };
        supervise(self, started, stdin, begin, deadline).await
    }
}

/// Whether init's records hold the program's exit status.
fn has_exit(records: &[u8]) -> bool {
    records.chunks_exact(RECORD_LEN).any(|c| {
        let mut rec = [0u8; RECORD_LEN];
        rec.copy_from_slice(c);
        super::child::decode(&rec).0 == super::child::REC_EXIT_STATUS
    })
}

/// Supervise a started sandbox (a cold launch or a warm cell's handover) on the runtime: feed
/// `stdin`, capture stdout and stderr under the cap, end it at `deadline`, and turn what
/// happened into an `Outcome`. Dropping the future drops `started`, which kills the sandbox
/// and has it reaped off the runtime's threads.
pub(super) async fn supervise(
    sb: &Sandbox,
    mut started: Started,
    stdin: &[u8],
    begin: Instant,
    deadline: Instant,
) -> Result<Outcome> {
    started.reap_off_thread = true;
    // The run is over at init's exit record; init's own exit and the namespaces' teardown
    // are the reaper's (a warm cell's pool has its own).
    if started.reaper.is_none() {
        started.reaper = sb.reaper();
    }
    let cap = sb.limits().output;
    let take = |fd: Option<OwnedFd>, interest, what| fd.map(|f| register(f, interest, what));
    let mut input = take(
        started.stdin.take(),
        Interest::WRITABLE,
        "register stdin pipe",
    )
    .transpose()?
    .filter(|_| !stdin.is_empty());
    let mut out = take(
        started.stdout.take(),
        Interest::READABLE,
        "register stdout pipe",
    )
    .transpose()?;
    let mut err = take(
        started.stderr.take(),
        Interest::READABLE,
        "register stderr pipe",
    )
    .transpose()?;
    // Borrowed like the pidfd: dropped (deregistered) before `started` is reaped.
    let mut status = Some(register(
        started.status.as_fd(),
        Interest::READABLE,
        "register status pipe",
    )?);
    // Borrows the pidfd: dropped (deregistered) before `started` is reaped or dropped.
    let pidfd = register(started.pidfd.as_fd(), Interest::READABLE, "register pidfd")?;

    let mut got = [Captured::default(), Captured::default()];
    let (mut out_buf, mut err_buf) = (vec![0u8; 1 << 16], vec![0u8; 1 << 16]);
    let mut status_buf = [0u8; RECORD_LEN * 4];
    let mut records = Vec::new();
    let mut offset = 0;
    let mut exited = false;
    let mut wall_killed = false;
    let mut output_killed = false;
    let mut drain_until: Option<Instant> = None;
    let wall = Some(deadline);

    while !(exited && out.is_none() && err.is_none() && status.is_none()) {
        tokio::select! {
            r = pidfd.readable(), if !exited => {
                let _ready = r.map_err(|e| Error::sys("poll pidfd", e))?;
                exited = true;
                input = None;
                drain_until = Some(Instant::now() + DRAIN);
            }
            r = read_some(out.as_ref(), &mut out_buf) => match r {
                Ok(0) => out = None,
                Ok(n) => {
                    if got[0].take(&out_buf[..n], cap, Output::Capture, deadline) && !output_killed {
                        started.end()?;
                        output_killed = true;
                    }
                }
                Err(e) => return Err(Error::sys("read output pipe", e)),
            },
            r = read_some(err.as_ref(), &mut err_buf) => match r {
                Ok(0) => err = None,
                Ok(n) => {
                    if got[1].take(&err_buf[..n], cap, Output::Capture, deadline) && !output_killed {
                        started.end()?;
                        output_killed = true;
                    }
                }
                Err(e) => return Err(Error::sys("read output pipe", e)),
            },
            r = read_some(status.as_ref(), &mut status_buf) => match r {
                Ok(0) | Err(_) => status = None,
                Ok(n) => {
                    records.extend_from_slice(&status_buf[..n]);
                    // init has reported the program's exit, which it does once every process
                    // of the sandbox is reaped: the run is over; init's own exit and the
                    // namespaces' teardown are the reaper's.
                    if !exited && started.reaper.is_some() && has_exit(&records) {
                        exited = true;
                        status = None;
                        input = None;
                        drain_until = Some(Instant::now() + DRAIN);
                    }
                }
            },
            r = write_some(input.as_ref(), &stdin[offset.min(stdin.len())..]) => match r {
                Ok(n) => {
                    offset += n;
                    if offset >= stdin.len() {
                        input = None;
                    }
                }
                // EPIPE: the program does not want more input.
                Err(_) => input = None,
            },
            _ = sleep_until_opt(wall), if !exited && !wall_killed => {
                started.end()?;
                wall_killed = true;
            }
            _ = sleep_until_opt(started.escalation()), if !exited => {
                started.kill();
            }
            _ = sleep_until_opt(drain_until) => break,
        }
    }
    drop((pidfd, input, out, err, status));
    spawn::finish(
        sb,
        &mut started,
        &records,
        begin,
        wall_killed,
        output_killed,
        got,
    )
}

impl Sandbox {
    /// [`Sandbox::spawn`] on a tokio runtime: start the program and hand over its stdio as
    /// tokio pipes. Output is not captured (read it from `stdout`/`stderr`); the output limit
    /// is not enforced on it.
    pub async fn spawn_async(&self, cmd: &Command) -> Result<AsyncChild> {
        let begin = Instant::now();
        let deadline = begin + self.limits().wall_time;
        let mut started = start(self, cmd, deadline).await?;
        let stdin = started
            .stdin
            .take()
            .map(pipe::Sender::from_owned_fd)
            .transpose()
            .map_err(|e| Error::sys("register stdin pipe", e))?;
        let stdout = started
            .stdout
            .take()
            .map(pipe::Receiver::from_owned_fd)
            .transpose()
            .map_err(|e| Error::sys("register stdout pipe", e))?;
        let stderr = started
            .stderr
            .take()
            .map(pipe::Receiver::from_owned_fd)
            .transpose()
            .map_err(|e| Error::sys("register stderr pipe", e))?;
        Ok(AsyncChild {
            started,
            sandbox: self.clone(),
            begin,
            deadline,
            stdin,
            stdout,
            stderr,
        })
    }
}

/// A running sandbox started with [`Sandbox::spawn_async`]. Dropping it kills the sandbox and
/// reaps it.
pub struct AsyncChild {
    started: Started,
    sandbox: Sandbox,
    begin: Instant,
    deadline: Instant,
    /// The program's stdin; drop it to send end of file. Writing to it after the program
    /// closed its end raises SIGPIPE unless the host ignores that signal (Rust binaries do).
    pub stdin: Option<pipe::Sender>,
    /// The program's stdout.
    pub stdout: Option<pipe::Receiver>,
    /// The program's stderr.
    pub stderr: Option<pipe::Receiver>,
}

impl std::fmt::Debug for AsyncChild {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AsyncChild")
            .field("pid", &self.started.pid)
            .finish()
    }
}

impl AsyncChild {
    /// Host pid of the sandbox's init process (PID 1 inside).
    pub fn pid(&self) -> u32 {
        self.started.pid as u32
    }

    /// Kill the whole sandbox now.
    pub fn kill(&mut self) -> Result<()> {
        self.started.try_kill()
    }

    /// Wait for the sandbox to end (killing it at the wall-time limit). Closes `stdin` first.
    pub async fn wait(mut self) -> Result<Outcome> {
        self.stdin = None;
        let mut wall_killed = false;
        {
            let pidfd: AsyncFd<BorrowedFd<'_>> = register(
                self.started.pidfd.as_fd(),
                Interest::READABLE,
                "register pidfd",
            )?;
            tokio::select! {
                r = pidfd.readable() => {
                    let _ready = r.map_err(|e| Error::sys("poll pidfd", e))?;
                }
                _ = tokio::time::sleep_until(self.deadline.into()) => {
                    self.started.end()?;
                    wall_killed = true;
                }
            }
            if wall_killed || self.started.escalation().is_some() {
                tokio::select! {
                    r = pidfd.readable() => {
                        let _ready = r.map_err(|e| Error::sys("poll pidfd", e))?;
                    }
                    _ = sleep_until_opt(self.started.escalation()) => {
                        self.started.kill();
                        let _ready =
                            pidfd.readable().await.map_err(|e| Error::sys("poll pidfd", e))?;
                    }
                }
            }
        }
        let records = self.started.records_after_exit();
        spawn::finish(
            &self.sandbox,
            &mut self.started,
            &records,
            self.begin,
            wall_killed,
            false,
            Default::default(),
        )
    }
}
