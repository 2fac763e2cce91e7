//! Warm cells: sandboxes set up ahead of time, each used for exactly one job.
//!
//! A [`WarmPool`] keeps a few *cells* of one [`Sandbox`] ready in the background. A cell is a
//! cold launch stopped just before the program's `execve`: its namespaces, root, limits,
//! cgroup leaf, runcell-init as PID 1, and the program's process with rlimits applied,
//! capabilities dropped, no_new_privs, landlock and seccomp installed. That process then
//! reports itself *armed* and blocks reading its sync pipe. [`WarmPool::run`] takes one cell,
//! writes the job to that pipe (argv, environment and the exec candidates on the sandbox's
//! PATH, as NUL-terminated strings; the process reads them into room allocated for it before
//! the clone and execs without allocating), and supervises the run exactly like
//! [`Sandbox::run`]. The cell is destroyed with its job; a background thread starts a
//! new one.
//!
//! # What a warm cell holds before its job
//!
//! Everything a cell holds was created for it alone, from the sandbox's prepared plan, and
//! nothing of it was ever visible to another job:
//!
//! - fresh user, PID, mount, network, IPC, UTS and cgroup namespaces (never shared or reused);
//! - a fresh root: a new tmpfs with the sandbox's read-only binds, its own `/tmp`, `/proc`,
//!   `/dev`, working directory; nothing in it has been written by any program;
//! - a cgroup leaf taken from the sandbox's pool, checked empty and reset when taken, exactly
//!   as for a cold run (peak memory counts from its acquisition, which includes the cell's own
//!   setup: well under a MiB);
//! - two processes: runcell-init (PID 1, a fresh exec from the sealed memfd) and the program's
//!   process, which has run only runcell's own setup code and holds no descriptor but its
//!   fresh stdio pipes, the exec pipe and the sync pipe;
//! - the program's process shares the *host's* memory (a `CLONE_VM` child), as in every cold
//!   launch until `execve`; no job code runs before that exec replaces it.
//!
//! So two jobs in two cells share no file, environment, memory, process, or descriptor, and
//! nothing a job could write survives it: the cell (namespaces, root, leaf contents) is torn
//! down with the job and never handed out again.
//!
//! # Preloaded cells
//!
//! With [`WarmConfig::preload`] (or [`WarmConfig::python`]) a cell goes one step further: its
//! program is executed at setup, does its slow start (an interpreter importing modules),
//! writes one NUL byte to stdout, and blocks reading stdin. Before its job such a cell holds,
//! in addition, that one program's process, started from the pool's fixed command with the
//! sandbox's environment, which has run only that command's own code: no byte of any job has
//! reached it (stdin is still empty), and it is destroyed with its job. What it loaded (the
//! modules, its heap) is part of the job's process and counts toward the job's memory limit.
//!
//! # Limits
//!
//! The wall-time limit counts from the handover. CPU time is reported for the job only: the
//! program process's CPU time before its job (its own confinement) is measured by that process
//! and subtracted; `RLIMIT_CPU` (whole seconds) still includes those microseconds. A preloaded
//! cell's program starts with `RLIMIT_CPU` raised by [`WarmConfig::preload_cpu`]; at the
//! handover the host lowers it (`prlimit`) to the CPU time the program used so far plus the
//! job's limit, and leaves that use out of the report. "Used so far" is the kernel's CPU
//! clock of the whole process (`clock_gettime` on that pid's process clock), threads that
//! have exited included, as `RLIMIT_CPU` counts it; if it cannot be read the handover fails.
//! `RLIMIT_CPU` is per process: a process the job forks starts its own count (with the
//! lowered limit, so up to the preload's use plus the job's limit), as in a cold run where
//! each child gets the full limit; the wall time and the cgroup (process count, memory, CPU
//! quota when set) bound the job as a whole. Memory, process count and output limits
//! are the cell's cgroup and rlimits, which cover every process of the job.
//!
//! # Async
//!
//! With the `tokio` feature, [`WarmPool::run_async`], [`WarmPool::run_job_async`],
//! [`WarmPool::cell_async`] and [`WarmCell::run_async`] / [`WarmCell::run_job_async`] do the
//! same on a runtime: the handover on its blocking pool, the supervision on its reactor.
//! Dropping the future kills the job (or the cell being handed it) and leaves nothing.
//!
//! # Job directories
//!
//! With [`WarmConfig::workspace`] each cell is launched with a job directory of its own: a
//! fresh, empty host directory (a [`Workspace`] under a host-only 0700 directory) made for
//! that cell, for host ids leased for that cell alone, and bound read-write at the
//! configured path, which is the cell's working directory (so the landlock rules cover it
//! like any read-write bind: they are added after the mount exists). Until the handover the
//! directory stays the host's, mode 0711, so nothing in the cell (a preload included) can
//! create anything in it before the caller's files are there (an unprivileged host's
//! sandboxes are the host user, who owns it throughout). The caller takes a cell
//! ([`WarmPool::cell`]), writes the job's files into [`WarmCell::workspace`], and runs the job;
//! at the handover the tree is handed to the cell's ids (what the host wrote included),
//! and the directory is removed once the cell is reaped. No directory serves two cells.
//!
//! # What runs cold
//!
//! A command with mounts of its own or a working directory other than the cells' needs a
//! root the cell does not have, and one carrying host ids its caller leased
//! ([`Command::host_ids`]) must run as those ids: each runs as a cold launch, as does any job that finds no ready
//! cell ([`WarmStats`] counts both kinds).
//!
//! ```
//! use runcell::{Command, Sandbox, Verdict, WarmConfig};
//!
//! let sandbox = Sandbox::builder().build()?;
//! let pool = sandbox.warm_pool(WarmConfig::new(2))?;
//! let outcome = pool.run(&Command::new("sh").args(["-c", "cat; echo !"]), b"hi")?;
//! assert_eq!(outcome.verdict, Verdict::Ok);
//! assert_eq!(outcome.stdout, b"hi!\n");
//! drop(pool); // every idle cell is killed and reaped here
//! # Ok::<(), runcell::Error>(())
//! ```

use std::cell::UnsafeCell;
use std::collections::VecDeque;
use std::ffi::CString;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::child::{self, RECORD_LEN};
use super::outcome::Outcome;
use super::reaper::{Reap, Reaper};
use super::spawn::{self, ExecData, Input, Output, Started};
use super::{Command, Sandbox, Workspace};
use crate::error::{Error, Result};
use crate::sys;

/// The end of [`WarmConfig::python`]'s program: ready byte, then one framed job on stdin (see
/// [`Job`]): the script's name, its arguments and its code, each length-prefixed, read with
/// `os.read` (nothing buffered past the frame), so everything after the frame is the
/// program's own `sys.stdin`. The job then runs like `python3 NAME ARGS...` (or `python3 -`
/// for the name `-`): a fresh `__main__` module in `sys.modules`, `sys.argv`, `__file__`
/// (absolute, as Python 3.9+ sets it), `sys.path[0]`, `__loader__`, and the code as a lazy
/// `linecache` entry for that path (put there when `linecache` is imported, by a finder
/// first in `sys.meta_path` until then), so that warnings and `inspect` quote it as they
/// quote a script file; an uncaught exception puts the code in `linecache` before the
/// `traceback` module prints it.
///
/// Only what every job needs is loaded before the job (`sys`, `os`, and the loader class,
/// which the interpreter's own import system already holds): `tokenize` (a PEP 263
/// declaration), `linecache` and `traceback` (an uncaught exception) and `resource` (a stack
/// limit) are imported when a job needs them, so an idle cell costs no more CPU than
/// `python3` starting (the cell's preload modules aside).
const PYTHON_RUNNER: &str = r#"try:
    from _frozen_importlib_external import SourceFileLoader as _runcell_loader
except ImportError:
    from importlib.machinery import SourceFileLoader as _runcell_loader
sys.stdout.write('\0')
sys.stdout.flush()
def _runcell_read(n):
    b = bytearray()
    while len(b) < n:
        c = os.read(0, min(n - len(b), 1 << 20))
        if not c:
            os.write(2, b'runcell: the job frame ended early\n')
            os._exit(125)
        b += c
    return bytes(b)
def _runcell_text(code):
    # As the tokenizer reads a script: the encoding a PEP 263 line (line 1 or 2) declares,
    # else UTF-8 (a BOM dropped).
    enc = 'utf-8-sig'
    i = code.find(b'\n') + 1
    j = code.find(b'\n', i) if i else -1
    if b'coding' in (code[:j] if j >= 0 else code):
        import io, tokenize
        try:
            enc = tokenize.detect_encoding(io.BytesIO(code).readline)[0]
        except SyntaxError:
            pass
    return code.decode(enc, 'replace')
def _runcell_non_utf8(code, filename):
    # What the file tokenizer says of a script with bytes that are not UTF-8 and no declared
    # encoding (compile() of bytes says it otherwise), or None.
    if code.startswith(b'\xef\xbb\xbf'):
        return None
    for n, line in enumerate(code.splitlines(), 1):
        if n <= 2 and b'coding' in line:
            import tokenize
            if tokenize.cookie_re.match(line.decode('latin-1')):
                return None
        try:
            line.decode('utf-8')
        except UnicodeDecodeError as e:
            return ("Non-UTF-8 code starting with '\\x%.2x' in file %s on line %d, but no "
                    "encoding declared; see https://peps.python.org/pep-0263/ for details"
                    % (line[e.start], filename, n))
    return None
class _runcell_primer:
    # First in sys.meta_path until linecache is imported (a named script's job only): then
    # the job's code goes in its cache as a lazy entry (what linecache keeps for a module
    # whose loader has the source), so warnings and inspect quote the job's lines as they
    # quote a script file's when that file is not there (one that is there is read first).
    def __init__(self, filename, code):
        self.entry = (filename, (lambda: _runcell_text(code),))
    def find_spec(self, name, path=None, target=None):
        if name != 'linecache':
            return None
        try:
            sys.meta_path.remove(self)
        except ValueError:
            pass
        for f in sys.meta_path:
            find = getattr(f, 'find_spec', None)
            spec = find(name, path, target) if find else None
            if spec is not None:
                break
        else:
            return None
        loader = spec.loader
        if isinstance(loader, _runcell_loader):
            entry = self.entry
            def exec_module(module):
                del loader.exec_module
                loader.exec_module(module)
                module.cache.setdefault(*entry)
            loader.exec_module = exec_module
        return spec
def _runcell_job():
    h = _runcell_read(32)
    if h[:8] != b'RCJOB1\0\0':
        os.write(2, b'runcell: not a job frame\n')
        os._exit(125)
    name = os.fsdecode(_runcell_read(int.from_bytes(h[8:12], 'little')))
    args = [os.fsdecode(_runcell_read(int.from_bytes(_runcell_read(4), 'little')))
            for _ in range(int.from_bytes(h[12:16], 'little'))]
    code = _runcell_read(int.from_bytes(h[16:24], 'little'))
    flags = int.from_bytes(h[24:28], 'little')
    stack = int.from_bytes(h[28:32], 'little') * 1024
    if flags & 1:
        sys.stderr.flush()
        os.dup2(1, 2)
    if stack:
        import resource
        # As `ulimit -s KIB`: soft and hard, or the hard limit when that is lower.
        try:
            resource.setrlimit(resource.RLIMIT_STACK, (stack, stack))
        except (ValueError, OSError):
            hard = resource.getrlimit(resource.RLIMIT_STACK)[1]
            resource.setrlimit(resource.RLIMIT_STACK, (hard, hard))
    m = type(sys)('__main__')
    g = m.__dict__
    g['__builtins__'] = __builtins__
    if name == '-':
        filename = '<stdin>'
        sys.path[0] = ''
    else:
        filename = os.path.abspath(name)
        sys.path[0] = os.path.dirname(filename)
        g['__file__'] = filename
        g['__cached__'] = None
        g['__loader__'] = _runcell_loader('__main__', filename)
        primer = _runcell_primer(filename, code)
        if 'linecache' in sys.modules:
            sys.modules['linecache'].cache.setdefault(*primer.entry)
        else:
            sys.meta_path.insert(0, primer)
    sys.argv = [name] + args
    sys.modules['__main__'] = m
    # The runner's two frames below the job's: the job gets the depth a script gets.
    sys.setrecursionlimit(sys.getrecursionlimit() + 3)
    try:
        try:
            try:
                c = compile(code, filename, 'exec', dont_inherit=True)
            except SyntaxError as e:
                # The file tokenizer's words where compile() of bytes has its own.
                msg = _runcell_non_utf8(code, filename)
                if msg is None and e.lineno == 0 and str(e.msg).startswith('unknown encoding: '):
                    msg = 'encoding problem: ' + e.msg[len('unknown encoding: '):]
                if msg is None:
                    raise
                raise SyntaxError(msg) from None
            exec(c, g)
            return 0
        finally:
            g.clear()
    except SystemExit as e:
        if e.code is None:
            return 0
        if isinstance(e.code, int):
            return e.code
        print(e.code, file=sys.stderr)
        return 1
    except BaseException as e:
        e = e.with_traceback(e.__traceback__.tb_next)
        hook = sys.excepthook
        try:
            if filename != '<stdin>':
                import linecache
                try:
                    lines = _runcell_text(code).splitlines(True)
                    linecache.cache[filename] = (len(code), None, lines, filename)
                except BaseException:
                    pass
            if hook is sys.__excepthook__:
                # The same text as the built-in hook, with the lines from linecache (the
                # built-in hook reads only files: the code came with the job).
                import traceback
                hook = traceback.print_exception
        except BaseException:
            pass
        hook(type(e), e, e.__traceback__)
        return 1
_runcell_status = _runcell_job()
import atexit
atexit._run_exitfuncs()
for _runcell_f in (sys.stdout, sys.stderr):
    try:
        _runcell_f.flush()
    except BaseException:
        pass
os._exit(_runcell_status & 0xff)
"#;

/// The modules [`PYTHON_RUNNER`] needs before any job, imported with the preload.
const PYTHON_RUNNER_IMPORTS: &str = "import sys, os\n";

/// The magic bytes that open a job frame.
const FRAME_MAGIC: &[u8; 8] = b"RCJOB1\0\0";
/// Most bytes of a [`Job`]'s code.
pub const MAX_JOB_CODE: usize = 64 << 20;
/// Most bytes of a [`Job`]'s script name and arguments together (each counted with 4 more).
pub const MAX_JOB_ARGS: usize = 256 * 1024;

/// One job for a pool of framed preloaded cells ([`WarmConfig::python`]): the code to run,
/// the script name it runs as, and its arguments; the program's own stdin is given beside it
/// ([`WarmPool::run_job`]).
///
/// The cell reads the job as one length-prefixed frame at the head of its stdin (magic
/// `RCJOB1\0\0`; little-endian u32 name length, u32 argument count, u64 code length, u32
/// flags, u32 stack limit in KiB; the name; each argument as a u32 length and its bytes; the
/// code), then runs it; every byte
/// after the frame is the program's `sys.stdin`. Lengths, not delimiters, separate the
/// parts: no byte of the code, the arguments or the input can be taken for another part.
///
/// ```
/// use runcell::{Job, Profile, Sandbox, WarmConfig};
/// let sb = Sandbox::builder().profile(Profile::named("python")?).build()?;
/// let pool = sb.warm_pool(WarmConfig::new(1).python(&[]))?;
/// let job = Job::new("import sys; print(sys.argv, sys.stdin.read())")
///     .script("main.py")
///     .arg("x");
/// let o = pool.run_job(&job, b"input")?;
/// assert_eq!(o.stdout, b"['main.py', 'x'] input\n");
/// # Ok::<(), runcell::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    code: Vec<u8>,
    script: std::ffi::OsString,
    args: Vec<std::ffi::OsString>,
    stderr_to_stdout: bool,
    stack_kib: u32,
}

impl Job {
    /// A job running `code` like `python3 -` does (`sys.argv == ['-']`, tracebacks name
    /// `<stdin>`, no `__file__`); see [`Job::script`] to run it as a named script.
    pub fn new(code: impl Into<Vec<u8>>) -> Job {
        Job {
            code: code.into(),
            script: "-".into(),
            args: Vec::new(),
            stderr_to_stdout: false,
            stack_kib: 0,
        }
    }

    /// Run the code as the script `name` would run with `python3 NAME`: `sys.argv[0]` is
    /// `name`, `__file__` its absolute path from the working directory, `sys.path[0]` that
    /// directory, and tracebacks name that path and quote the code's lines. The file need not
    /// exist (the code comes with the job); `-` means `python3 -`.
    ///
    /// One difference remains: the runner's own two frames sit below the job's, so the
    /// recursion limit is raised by 3 to give the job a script's depth
    /// (`sys.getrecursionlimit()` says 1003 where a script sees 1000; a limit the job sets
    /// itself leaves it 3 frames fewer).
    pub fn script(mut self, name: impl Into<std::ffi::OsString>) -> Job {
        self.script = name.into();
        self
    }

    /// Send the program's stderr to its stdout (file descriptor 2 made a copy of 1 before the
    /// code runs, like `exec 2>&1`; the interpreter's streams are unbuffered in the python
    /// profile, so the two keep their order).
    pub fn stderr_to_stdout(mut self, on: bool) -> Job {
        self.stderr_to_stdout = on;
        self
    }

    /// Set the program's stack limit (`RLIMIT_STACK`, soft and hard) to `kib` KiB before the
    /// code runs, like `ulimit -s KIB` (the hard limit when that is lower); 0 leaves it.
    pub fn stack_limit_kib(mut self, kib: u32) -> Job {
        self.stack_kib = kib;
        self
    }

    /// Add one argument (`sys.argv[1:]`).
    pub fn arg(mut self, a: impl Into<std::ffi::OsString>) -> Job {
        self.args.push(a.into());
        self
    }

    /// Add arguments (`sys.argv[1:]`).
    pub fn args<I, S>(mut self, args: I) -> Job
    where
        I: IntoIterator<Item = S>,
        S: Into<std::ffi::OsString>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// The frame the cell reads (checked against the bounds).
    pub(crate) fn frame(&self) -> Result<Vec<u8>> {
        let name = self.script.as_bytes();
        if name.is_empty() || name.contains(&0) {
            return Err(Error::config(
                "job: the script name must be non-empty, without NUL bytes",
            ));
        }
        if self.args.iter().any(|a| a.as_bytes().contains(&0)) {
            return Err(Error::config("job: an argument contains a NUL byte"));
        }
        let arg_bytes = name.len() + self.args.iter().map(|a| a.len() + 4).sum::<usize>();
        if arg_bytes > MAX_JOB_ARGS || self.args.len() > JOB_STRINGS {
            return Err(Error::config(format!(
                "job: script name and arguments over {MAX_JOB_ARGS} bytes or {JOB_STRINGS} \
                 arguments"
            )));
        }
        if self.code.len() > MAX_JOB_CODE {
            return Err(Error::config(format!(
                "job: code of {} bytes is over the limit of {MAX_JOB_CODE}",
                self.code.len()
            )));
        }
        let mut out = Vec::with_capacity(32 + arg_bytes + self.code.len());
        out.extend_from_slice(FRAME_MAGIC);
        out.extend_from_slice(&(name.len() as u32).to_le_bytes());
        out.extend_from_slice(&(self.args.len() as u32).to_le_bytes());
        out.extend_from_slice(&(self.code.len() as u64).to_le_bytes());
        out.extend_from_slice(&u32::from(self.stderr_to_stdout).to_le_bytes());
        out.extend_from_slice(&self.stack_kib.to_le_bytes());
        out.extend_from_slice(name);
        for a in &self.args {
            out.extend_from_slice(&(a.len() as u32).to_le_bytes());
            out.extend_from_slice(a.as_bytes());
        }
        out.extend_from_slice(&self.code);
        Ok(out)
    }
}

/// How a [`WarmPool`] is sized and refilled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WarmConfig {
    size: usize,
    refill: bool,
    max_idle_memory: Option<u64>,
    setup_timeout: Duration,
    preload: Option<Command>,
    /// The preload reads a job frame (see [`Job`]) before the program's own stdin.
    framed: bool,
    preload_cpu: Duration,
    /// Each cell's own job directory: where it is bound (the cells' working directory) and
    /// the host directory it is created under (default: the system's temporary directory).
    workspace: Option<PathBuf>,
    workspace_parent: Option<PathBuf>,
}

impl WarmConfig {
    /// A pool that keeps `size` cells ready (at least 1), refilled as they are taken, with no
    /// memory cap and a 30 s limit on each cell's setup.
    pub fn new(size: usize) -> WarmConfig {
        WarmConfig {
            size: size.max(1),
            refill: true,
            max_idle_memory: None,
            setup_timeout: Duration::from_secs(30),
            preload: None,
            framed: false,
            preload_cpu: Duration::from_secs(30),
            workspace: None,
            workspace_parent: None,
        }
    }

    /// Preloaded cells: each cell starts `cmd` ahead of time, which does its slow start (an
    /// interpreter importing modules), writes one NUL byte to stdout to say it is ready, then
    /// reads its job from stdin. [`WarmPool::run`] of exactly this command takes such a cell
    /// and writes the job's input; any other command runs cold. The program is the same for
    /// every job and has run nothing of any job; what it loaded (modules, its heap) counts
    /// toward the job's memory limit. See [`WarmConfig::python`] for a ready-made one.
    pub fn preload(mut self, cmd: Command) -> WarmConfig {
        self.preload = Some(cmd);
        self.framed = false;
        self
    }

    /// Preloaded Python cells: `python3` imports `modules`, then runs one [`Job`] (code,
    /// script name, arguments) read as a frame from the head of its stdin, like `python3
    /// script.py ARGS...` (or `python3 -`), with the rest of stdin as the program's own
    /// (a fresh `__main__` module; the modules are in `sys.modules`, so importing them is
    /// free). Run jobs with [`WarmPool::run_job`]; [`WarmPool::run`] of
    /// [`WarmPool::preload_command`] runs its stdin as the code, like `python3 -`.
    ///
    /// At the end the job's namespace is cleared (its open files are closed), `atexit`
    /// handlers run and the standard streams are flushed, then the process exits at once
    /// (`os._exit`): the interpreter's own teardown (tens of milliseconds with numpy loaded)
    /// is skipped, as the cell is discarded anyway. Exit status and uncaught exceptions are as
    /// with `python3 -`.
    pub fn python(self, modules: &[&str]) -> WarmConfig {
        let mut code = String::from(PYTHON_RUNNER_IMPORTS);
        for m in modules {
            code.push_str(&format!("import {m}\n"));
        }
        code.push_str(PYTHON_RUNNER);
        let mut cfg = self.preload(Command::new("python3").arg("-c").arg(code));
        cfg.framed = true;
        cfg
    }

    /// CPU time a preloaded cell may use before its job (default 30 s): its `RLIMIT_CPU`
    /// until the handover, when the host lowers it to this CPU time plus the job's limit.
    pub fn preload_cpu(mut self, d: Duration) -> WarmConfig {
        self.preload_cpu = d;
        self
    }

    /// Give each cell a job directory of its own: a fresh, empty host directory (a
    /// [`Workspace`] made by the pool for that cell alone) bound read-write at `dir`, which is
    /// the cell's working directory (and its preloaded program's). Take a cell with
    /// [`WarmPool::cell`], write the job's files with [`WarmCell::workspace`], then run it;
    /// the directory is handed to the cell's host ids at the handover and removed with the
    /// cell. Commands may name `dir` as their working directory and still run warm.
    pub fn workspace(mut self, dir: impl Into<PathBuf>) -> WarmConfig {
        self.workspace = Some(dir.into());
        self
    }

    /// [`WarmConfig::workspace`], with the host directories created under `parent` (a
    /// private 0700 directory of the host works: the sandbox reaches each one through its
    /// bind only).
    pub fn workspace_in(
        mut self,
        dir: impl Into<PathBuf>,
        parent: impl Into<PathBuf>,
    ) -> WarmConfig {
        self.workspace = Some(dir.into());
        self.workspace_parent = Some(parent.into());
        self
    }

    /// Refill the pool as cells are taken (the default). Without it the pool is filled once
    /// and then serves cold launches when empty.
    pub fn refill(mut self, on: bool) -> WarmConfig {
        self.refill = on;
        self
    }

    /// Keep idle cells under this many bytes in all, as the kernel charges them to their
    /// cgroups (root tmpfs, page tables, kernel objects). Needs the sandbox's cgroups: without
    /// them a cell's memory cannot be measured, and [`Sandbox::warm_pool`] refuses it.
    pub fn max_idle_memory(mut self, bytes: u64) -> WarmConfig {
        self.max_idle_memory = Some(bytes);
        self
    }

    /// How long one cell's setup may take before it is abandoned (and counted as failed).
    pub fn setup_timeout(mut self, d: Duration) -> WarmConfig {
        self.setup_timeout = d;
        self
    }
}

/// Counters of a [`WarmPool`], for monitoring and tests.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WarmStats {
    /// Cells ready now.
    pub ready: usize,
    /// Cells fully set up since the pool was created.
    pub cells_started: u64,
    /// Cells whose setup failed (never handed out).
    pub setup_failures: u64,
    /// The last setup failure, as text.
    pub last_setup_error: Option<String>,
    /// Jobs run in a warm cell.
    pub warm_runs: u64,
    /// Jobs run as a cold launch (no ready cell, or a command a cell cannot take).
    pub cold_runs: u64,
    /// Bytes charged to the ready cells' cgroups when they were armed (with cgroups).
    pub idle_memory: Option<u64>,
}

/// Most bytes of one job's argv, environment and exec candidates a warm cell takes (larger
/// jobs run cold).
const JOB_BYTES: usize = 256 * 1024;
/// Most strings of one job (argv + environment + candidates) a warm cell takes.
const JOB_STRINGS: usize = 8190;

/// A warm cell's room for its job, allocated by the host before the cell is cloned, so that
/// the program's process has it whether it shares the host's memory (`CLONE_VM`, written in
/// place) or a copy of it (an unprivileged, non-dumpable host: written in the copy). Only that
/// process writes it, with `read(2)` from the sync pipe; the host never reads it.
pub(crate) struct Slot {
    buf: Box<[UnsafeCell<u8>]>,
    /// argv, NULL, envp, NULL, candidates, NULL: addresses into `buf`.
    ptrs: Box<[UnsafeCell<usize>]>,
}

// SAFETY: the cells are only written by the cell's program process (another process, with
// raw system calls); no thread of the host reads or writes them after construction.
unsafe impl Sync for Slot {}

/// `n` zeroed cells from the allocator's zeroed memory (untouched pages are not resident: a
/// cell costs the host only the pages its job's strings fill).
fn cells<T: Copy + Default>(n: usize) -> Box<[UnsafeCell<T>]> {
    let zeroed: Box<[T]> = vec![T::default(); n].into_boxed_slice();
    // SAFETY: `UnsafeCell<T>` has the same layout as `T` (repr(transparent)), so the slice
    // pointer keeps its length and the allocation its layout.
    unsafe { Box::from_raw(Box::into_raw(zeroed) as *mut [UnsafeCell<T>]) }
}

/// One job as the sync pipe carries it: four native-endian u32 (byte length, argc, envc,
/// number of candidates) then that many NUL-terminated strings in that order.
fn encode_job(argv: &[&[u8]], envp: &[Vec<u8>], candidates: &[CString]) -> Option<Vec<u8>> {
    let strings = argv.len() + envp.len() + candidates.len();
    let len: usize = argv.iter().map(|a| a.len() + 1).sum::<usize>()
        + envp.iter().map(|e| e.len() + 1).sum::<usize>()
        + candidates
            .iter()
            .map(|c| c.as_bytes().len() + 1)
            .sum::<usize>();
    if len > JOB_BYTES || strings > JOB_STRINGS || argv.is_empty() || candidates.is_empty() {
        return None;
    }
    let mut out = Vec::with_capacity(16 + len);
    for n in [len, argv.len(), envp.len(), candidates.len()] {
        out.extend_from_slice(&(n as u32).to_ne_bytes());
    }
    for s in argv.iter().copied().chain(envp.iter().map(Vec::as_slice)) {
        out.extend_from_slice(s);
        out.push(0);
    }
    for c in candidates {
        out.extend_from_slice(c.as_bytes_with_nul());
    }
    Some(out)
}

impl Slot {
    fn new() -> Slot {
        Slot {
            buf: cells(JOB_BYTES),
            ptrs: cells(JOB_STRINGS + 3),
        }
    }

    /// In the program's process, confined: report armed on `exec_fd` (with the CPU time of
    /// the setup), receive the job on `sync_fd`, and exec it like `execvp`. Returns the errno
    /// of the failure; end of file instead of a job (the pool dropped the cell) exits.
    ///
    /// From the armed record on, the launching thread goes on using the TLS this process runs
    /// on: only raw system calls (no `errno`) are made here, no allocation, no panic (every
    /// index is checked), and nothing of the launching frame is read.
    pub(crate) fn run_job(&self, exec_fd: libc::c_int, sync_fd: libc::c_int, cpu_ns: u64) -> i32 {
        let armed = child::encode(
            child::REC_ARMED,
            0,
            (cpu_ns >> 32) as u32 as i32,
            cpu_ns as u32,
        );
        if sys::write_all(exec_fd, &armed).is_err() {
            sys::exit(126);
        }
        let mut head = [0u8; 16];
        if !matches!(sys::read_exact_raw(sync_fd, &mut head), Ok(true)) {
            sys::exit(126);
        }
        let word = |i: usize| u32::from_ne_bytes([head[i], head[i + 1], head[i + 2], head[i + 3]]);
        let (len, argc, envc, ncand) = (
            word(0) as usize,
            word(4) as usize,
            word(8) as usize,
            word(12) as usize,
        );
        if len > self.buf.len() || argc + envc + ncand + 3 > self.ptrs.len() {
            return libc::E2BIG;
        }
        let base = self.buf.as_ptr() as *mut u8;
        // SAFETY: `buf` is JOB_BYTES of `UnsafeCell<u8>` (same layout as u8) that only this
        // process touches (see the type), and len <= JOB_BYTES was checked.
        let buf = unsafe { std::slice::from_raw_parts_mut(base, len) };
        if !matches!(sys::read_exact_raw(sync_fd, buf), Ok(true)) {
            sys::exit(126);
        }
        let ptrs = self.ptrs.as_ptr() as *mut usize;
        // SAFETY: as for `buf`: `ptrs` is JOB_STRINGS + 3 cells of usize, only used here.
        let ptrs = unsafe { std::slice::from_raw_parts_mut(ptrs, argc + envc + ncand + 3) };
        // argv, NULL, envp, NULL, candidates, NULL: each string starts after the previous NUL.
        let mut pos = 0;
        let mut slot = 0;
        for count in [argc, envc, ncand] {
            for _ in 0..count {
                let Some(nul) = buf.get(pos..).and_then(|b| b.iter().position(|&c| c == 0)) else {
                    return libc::EINVAL;
                };
                if let Some(p) = ptrs.get_mut(slot) {
                    *p = base as usize + pos;
                }
                slot += 1;
                pos += nul + 1;
            }
            if let Some(p) = ptrs.get_mut(slot) {
                *p = 0;
            }
            slot += 1;
        }
        // SAFETY: usize and pointers have the same size and layout; these are addresses of
        // NUL-terminated strings in `buf` (or 0), read only by the kernel in execve.
        let as_ptrs = unsafe {
            std::slice::from_raw_parts(ptrs.as_ptr() as *const *const libc::c_char, ptrs.len())
        };
        let argv = as_ptrs.get(..=argc).unwrap_or(&[]);
        let envp = as_ptrs.get(argc + 1..=argc + 1 + envc).unwrap_or(&[]);
        let cands = as_ptrs
            .get(argc + envc + 2..argc + envc + 2 + ncand)
            .unwrap_or(&[]);
        // Like execvp: try each candidate; remember EACCES over ENOENT.
        let mut err = libc::ENOENT;
        for &cand in cands {
            match sys::execve_raw(cand, argv, envp) {
                libc::ENOENT | libc::ENOTDIR => {}
                libc::EACCES => err = libc::EACCES,
                e => return e,
            }
        }
        err
    }
}

/// One armed cell. Field order matters: the sandbox is killed and reaped (`started`) before
/// the slot its program process may still read is freed.
struct Cell {
    started: Started,
    _slot: Option<Arc<Slot>>,
    /// The cell's own job directory (bound read-write at its working directory), removed
    /// after the cell is reaped.
    workspace: Option<Workspace>,
    /// A preloaded cell: its program's host pid, and a pidfd of it (the handover checks
    /// through it that the pid it changes the limit of is still that process).
    program: Option<(libc::pid_t, OwnedFd)>,
    /// Bytes charged to its cgroup once armed.
    memory: Option<u64>,
    /// Taken from the ready queue: counted against the pool's size until its job is over.
    busy: Option<Busy>,
}

/// A cell taken from the ready queue whose job is not over yet (or which is not dropped yet).
/// The refill thread counts it against the pool's size, so a cell taken just as the refill
/// thread finished another is replaced only once its job is over, not while it runs (a
/// refill competes with the job for the CPUs: on 2 cores it delayed a warm `/bin/true` by
/// 0.5-1.5 ms in a third of the runs).
struct Busy(Arc<Shared>);

impl Drop for Busy {
    fn drop(&mut self) {
        let mut st = self.0.lock();
        st.busy = st.busy.saturating_sub(1);
        drop(st);
        self.0.changed.notify_all();
    }
}

struct State {
    ready: VecDeque<Cell>,
    /// Cells taken from `ready` whose job is not over (see [`Busy`]).
    busy: usize,
    closed: bool,
    /// Cells set up when the pool is not refilled (the fill stops at `size`).
    launched: usize,
    stats: WarmStats,
}

struct Shared {
    sandbox: Sandbox,
    /// The sandbox cells are launched from: `sandbox`, or for preloaded cells the same with
    /// the CPU limit raised by the preload's allowance (lowered again at the handover).
    cells_from: Sandbox,
    config: WarmConfig,
    state: Mutex<State>,
    changed: Condvar,
    /// The pool's reaper: a finished job's cell is reaped there (its namespaces' teardown is
    /// not the caller's wait). Shut down when the pool is dropped.
    reaper: Reaper,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn reaper(&self) -> Option<std::sync::mpsc::Sender<Reap>> {
        self.reaper.running()
    }
}

/// A pool of warm cells of one [`Sandbox`]; see [`Sandbox::warm_pool`] and the module
/// documentation above for what a cell holds. Dropping the pool stops its refill thread and
/// kills and reaps every idle cell before it returns; a killed host takes every cell with it
/// (each cell's PID 1 has the parent-death signal of a launcher thread, which lives as long as
/// the host).
pub struct WarmPool {
    shared: Arc<Shared>,
    filler: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for WarmPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WarmPool")
            .field("config", &self.shared.config)
            .field("stats", &self.stats())
            .finish()
    }
}

/// Set up one cell, on a launcher thread.
fn make_cell(sb: &Sandbox, cfg: &WarmConfig) -> Result<Cell> {
    let timeout = cfg.setup_timeout;
    // A job directory of its own: a fresh, empty workspace, bound where the cells work, for
    // host ids leased for this cell alone. Until the handover it stays the host's (root's
    // on a root host), mode 0711: the cell's setup can enter it as the working directory,
    // nothing in the cell can create anything there before the caller's files; the
    // handover gives the tree to the cell's ids.
    let workspace = match &cfg.workspace {
        Some(dst) => {
            let parent = cfg
                .workspace_parent
                .clone()
                .unwrap_or_else(std::env::temp_dir);
            let ws = Workspace::new_in(sb, parent)?;
            {
                use std::os::unix::fs::PermissionsExt;
                // The fresh directory under the pool's own 0700 one: nobody else reaches it.
                std::fs::set_permissions(ws.path(), std::fs::Permissions::from_mode(0o711))
                    .map_err(|e| Error::sys("chmod warm cell job directory", e))?;
            }
            let ids = sb.lease_host_ids()?;
            Some((ws, dst.clone(), ids))
        }
        None => None,
    };
    let own = |cmd: Command| match &workspace {
        Some((ws, dst, ids)) => cmd.bind(ws.path(), dst).current_dir(dst).host_ids(ids),
        None => cmd,
    };
    let (slot, program, started) = match &cfg.preload {
        None => {
            let slot = Arc::new(Slot::new());
            let (sb2, slot2) = (sb.clone(), slot.clone());
            // The cell's own launch: the program is a placeholder (never executed; the job
            // brings its own argv).
            let cmd = own(Command::new("/"));
            let started = super::launcher::call(move || {
                let mut exec = ExecData::new(&sb2, &cmd)?;
                exec.warm = Some(slot2);
                spawn::start(&sb2, &exec, Instant::now() + timeout)
            })?;
            (Some(slot), None, started)
        }
        Some(cmd) => {
            let (sb2, cmd) = (sb.clone(), own(cmd.clone()));
            let started = super::launcher::call(move || {
                let exec = ExecData::new(&sb2, &cmd)?;
                spawn::start(&sb2, &exec, Instant::now() + timeout)
            })?;
            let program = preloaded(&started, Instant::now() + timeout)?;
            (None, Some(program), started)
        }
    };
    let memory = started.lease.as_ref().and_then(|l| {
        let dir = l.dirs().first()?;
        ["memory.usage_in_bytes", "memory.current"]
            .iter()
            .find_map(|f| std::fs::read_to_string(dir.join(f)).ok())
            .and_then(|s| s.trim().parse::<u64>().ok())
    });
    Ok(Cell {
        started,
        _slot: slot,
        workspace: workspace.map(|(ws, _, _)| ws),
        program,
        memory,
        busy: None,
    })
}

fn preload_error(what: String) -> Error {
    Error::Setup {
        step: child::Step::Exec,
        detail: Some(what),
        source: std::io::Error::from_raw_os_error(libc::EIO),
    }
}

/// Whether the process of `pidfd` is still running (a pidfd polls readable once it exited).
fn running(pidfd: &OwnedFd) -> bool {
    let mut pfd = [libc::pollfd {
        fd: pidfd.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    }];
    loop {
        match sys::poll(&mut pfd, 0) {
            Ok(0) => return true,
            Err(libc::EINTR) => continue,
            _ => return false,
        }
    }
}

/// Wait for a preloaded program's ready byte; then its host pid and a pidfd of it.
fn preloaded(started: &Started, deadline: Instant) -> Result<(libc::pid_t, OwnedFd)> {
    let Some(out) = &started.stdout else {
        return Err(preload_error("no stdout pipe".into()));
    };
    let mut byte = [1u8; 1];
    let mut pfd = [libc::pollfd {
        fd: out.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    }];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match sys::poll(&mut pfd, left.as_millis().min(i32::MAX as u128) as i32) {
            Ok(0) => return Err(spawn::setup_timeout()),
            Ok(_) => break,
            Err(libc::EINTR) => continue,
            Err(e) => return Err(Error::sys("poll", spawn::os_err(e))),
        }
    }
    let n = sys::retry(|| sys::read(out.as_raw_fd(), &mut byte))
        .map_err(|e| Error::sys("read preload stdout", spawn::os_err(e)))?;
    if n != 1 || byte[0] != 0 {
        // Say why: what the program wrote to stderr (it has ended, or it is not a preload
        // program).
        started.kill();
        let mut err = vec![0u8; 2048];
        let got = started
            .stderr
            .as_ref()
            .and_then(|e| sys::set_nonblocking(e.as_raw_fd(), true).ok().map(|_| e))
            .and_then(|e| sys::read(e.as_raw_fd(), &mut err).ok())
            .unwrap_or(0);
        return Err(preload_error(format!(
            "the preload command did not write its ready byte: {}",
            String::from_utf8_lossy(&err[..got]).trim()
        )));
    }
    // Its host pid: the only child of the cell's init.
    let children = std::fs::read_to_string(format!("/proc/{0}/task/{0}/children", started.pid))
        .unwrap_or_default();
    let pid: libc::pid_t = children
        .split_whitespace()
        .next()
        .and_then(|p| p.parse().ok())
        .ok_or_else(|| preload_error("the preload program is gone".into()))?;
    let gone = || preload_error("the preload program is gone".into());
    let pidfd = sys::pidfd_open(pid).map_err(|_| gone())?;
    // SAFETY: a fresh descriptor nothing else owns.
    let pidfd = unsafe { OwnedFd::from_raw_fd(pidfd) };
    // The pidfd is the cell's program if the process it refers to, still running after the
    // check, had the cell's init as its parent: while it runs, `pid` is its alone.
    if parent(pid) != Some(started.pid) || !running(&pidfd) {
        return Err(gone());
    }
    Ok((pid, pidfd))
}

/// Parent pid of a host pid, from /proc/PID/stat.
fn parent(pid: libc::pid_t) -> Option<libc::pid_t> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may hold spaces and parentheses).
    let rest = &stat[stat.rfind(')')? + 2..];
    // rest starts at field 3 (state): ppid is field 4.
    rest.split_whitespace().nth(1)?.parse().ok()
}

/// Hand a preloaded cell its job: the CPU limit counts from now (the host lowers the
/// program's `RLIMIT_CPU` to what it used plus the job's limit, and the report leaves out what
/// it used), then the job's frame (framed cells) is written to its stdin, and the job's input
/// after it by the caller's supervision loop.
fn preload_handover(
    sb: &Sandbox,
    cell: Cell,
    frame: Option<&[u8]>,
    deadline: Instant,
) -> Result<Started> {
    let Cell {
        mut started,
        program,
        ..
    } = cell;
    let Some((pid, pidfd)) = program else {
        return Err(Error::sys("warm cell", spawn::os_err(libc::EINVAL)));
    };
    // `pid` is the program's while the program runs (a pid is reused only after its process
    // is reaped): checked through its pidfd before the limit is read and changed, and after.
    // Were it to end in between, the handover fails; for the pid to name another process
    // by then, init would have had to reap it and the kernel to hand out every other pid
    // first (pids are allocated in order), within those microseconds.
    let ended = || preload_error("the preloaded program ended before its job".into());
    if !running(&pidfd) {
        return Err(ended());
    }
    // The whole process's CPU time, exited threads included (what RLIMIT_CPU counts; the
    // live threads' schedstat would miss a thread the preload joined). The larger of the
    // scheduler's runtime and user + system time (RLIMIT_CPU is checked against the latter,
    // which is tick-sampled): the job gets at least its limit by either measure. Unreadable:
    // the handover fails rather than guess.
    let (sched, prof) = sys::process_cpu_ns_of(pid).map_err(|e| {
        Error::sys(
            "clock_gettime (process CPU clock of the preloaded program)",
            spawn::os_err(e),
        )
    })?;
    let used = sched.max(prof);
    let limit = Duration::from_nanos(used) + sb.limits().cpu_time;
    let soft = limit.as_secs() + u64::from(limit.subsec_nanos() > 0);
    // The program runs as the run's leased host uid, which owns its user namespace: a root
    // host changes the limit as that owner (root itself may lack CAP_SYS_RESOURCE, as in many
    // containers), this thread only and for this call only.
    let owner = started
        .ids
        .as_ref()
        .filter(|l| l.is_leased())
        .map(|l| l.uid());
    let mut window = super::host_ids::OwnerWindow::open(owner)?;
    let lowered = sys::prlimit(pid, libc::RLIMIT_CPU, soft, soft + 1);
    window.cloned()?;
    drop(window);
    lowered.map_err(|e| Error::sys("prlimit", spawn::os_err(e)))?;
    if !running(&pidfd) {
        return Err(ended());
    }
    // The report (the cgroup's or the rusage's CPU time) leaves out what the preload used.
    started.cpu_before = Duration::from_nanos(sched);
    if let Some(frame) = frame {
        // Without its stdin pipe the runner would take the program's own input for the job.
        let Some(fd) = &started.stdin else {
            return Err(preload_error(
                "the preloaded program has no stdin pipe for its job frame".into(),
            ));
        };
        write_by(fd.as_raw_fd(), frame, deadline)?;
    }
    Ok(started)
}

/// Write all of `data` to the cell's stdin pipe (the runner reads it meanwhile), never past
/// `deadline` (then the wall time is over: a setup timeout).
fn write_by(fd: libc::c_int, mut data: &[u8], deadline: Instant) -> Result<()> {
    sys::set_nonblocking(fd, true).map_err(|e| Error::sys("fcntl", spawn::os_err(e)))?;
    while !data.is_empty() {
        match sys::write_nosigpipe(fd, data) {
            Ok(n) => data = &data[n..],
            Err(libc::EINTR) => {}
            Err(libc::EAGAIN) => {
                let mut pfd = [libc::pollfd {
                    fd,
                    events: libc::POLLOUT,
                    revents: 0,
                }];
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Err(spawn::setup_timeout());
                }
                let ms = left.as_nanos().div_ceil(1_000_000).min(i32::MAX as u128) as i32;
                match sys::poll(&mut pfd, ms) {
                    Ok(_) | Err(libc::EINTR) => {}
                    Err(e) => return Err(Error::sys("poll", spawn::os_err(e))),
                }
            }
            Err(libc::EPIPE) => {
                return Err(preload_error(
                    "the preloaded program ended before reading its job".into(),
                ));
            }
            Err(e) => return Err(Error::sys("write job frame", spawn::os_err(e))),
        }
    }
    Ok(())
}

fn idle_memory(st: &State) -> Option<u64> {
    st.ready.iter().map(|c| c.memory).sum()
}

/// The refill thread: keep `size` cells ready (within the memory cap) until closed.
fn fill(shared: Arc<Shared>, mut last_memory: u64) {
    let cfg = &shared.config;
    let mut backoff = Duration::from_millis(20);
    loop {
        {
            let mut st = shared.lock();
            loop {
                if st.closed {
                    return;
                }
                let want = st.ready.len() + st.busy < cfg.size
                    && (cfg.refill || st.launched < cfg.size)
                    && cfg.max_idle_memory.is_none_or(|max| {
                        idle_memory(&st).unwrap_or(0).saturating_add(last_memory) <= max
                    });
                if want {
                    break;
                }
                st = shared.changed.wait(st).unwrap_or_else(|e| e.into_inner());
            }
            st.launched += 1;
        }
        let made = make_cell(&shared.cells_from, cfg);
        let mut st = shared.lock();
        match made {
            Ok(cell) => {
                backoff = Duration::from_millis(20);
                st.stats.cells_started += 1;
                last_memory = cell.memory.unwrap_or(0);
                if st.closed {
                    drop(st);
                    drop(cell);
                    return;
                }
                st.ready.push_back(cell);
                shared.changed.notify_all();
            }
            Err(e) => {
                st.stats.setup_failures += 1;
                st.stats.last_setup_error = Some(e.to_string());
                // A persistent failure (a bind source removed, cgroups exhausted) must not
                // spin: wait before the next attempt, or until the pool is closed.
                let (g, _) = shared
                    .changed
                    .wait_timeout_while(st, backoff, |s| !s.closed)
                    .unwrap_or_else(|e| e.into_inner());
                st = g;
                backoff = (backoff * 2).min(Duration::from_secs(2));
            }
        }
        drop(st);
    }
}

impl Sandbox {
    /// Start a pool of warm cells of this sandbox (see [`WarmPool`]). The first cell is set
    /// up before this returns, so a configuration that cannot start fails here; the others
    /// are set up by a background thread.
    pub fn warm_pool(&self, config: WarmConfig) -> Result<WarmPool> {
        if config.max_idle_memory.is_some() && self.prepared().cgroups.is_none() {
            return Err(Error::config(
                "warm pool: max_idle_memory needs the sandbox's cgroups (a cell's memory is \
                 measured there)",
            ));
        }
        let cells_from = match &config.preload {
            Some(_) => self
                .to_builder()
                .cpu_time(self.limits().cpu_time + config.preload_cpu)
                .build()?,
            None => self.clone(),
        };
        let first = make_cell(&cells_from, &config)?;
        let reaper = Reaper::started()?;
        let first_memory = first.memory.unwrap_or(0);
        let mut stats = WarmStats {
            cells_started: 1,
            ..WarmStats::default()
        };
        stats.idle_memory = first.memory;
        let shared = Arc::new(Shared {
            sandbox: self.clone(),
            cells_from,
            config,
            state: Mutex::new(State {
                ready: VecDeque::from([first]),
                busy: 0,
                closed: false,
                launched: 1,
                stats,
            }),
            changed: Condvar::new(),
            reaper,
        });
        let s = shared.clone();
        let filler = std::thread::Builder::new()
            .name("runcell-warm".into())
            .spawn(move || fill(s, first_memory))
            .map_err(|e| Error::sys("spawn warm-pool thread", e))?;
        Ok(WarmPool {
            shared,
            filler: Some(filler),
        })
    }
}

impl WarmPool {
    /// The sandbox whose cells this pool holds.
    pub fn sandbox(&self) -> &Sandbox {
        &self.shared.sandbox
    }

    /// [`Sandbox::run`] in a warm cell: `stdin` as standard input, stdout and stderr
    /// captured, limits counted from the handover. Runs cold when no cell is ready or the
    /// command needs its own root (see the module documentation).
    pub fn run(&self, cmd: &Command, stdin: &[u8]) -> Result<Outcome> {
        self.run_with(cmd, Input::Bytes(stdin), Output::Capture, Output::Capture)
    }

    /// [`Sandbox::run_with`] in a warm cell.
    pub fn run_with(
        &self,
        cmd: &Command,
        input: Input<'_>,
        out: Output<'_>,
        err: Output<'_>,
    ) -> Result<Outcome> {
        self.run_cancellable(cmd, input, out, err, None)
    }

    /// [`WarmPool::run_with`] that the caller can cancel: see [`Sandbox::run_with_cancel`]
    /// (`runcell warm` passes each client's connection).
    pub fn run_with_cancel(
        &self,
        cmd: &Command,
        input: Input<'_>,
        out: Output<'_>,
        err: Output<'_>,
        cancel: BorrowedFd<'_>,
    ) -> Result<Outcome> {
        self.run_cancellable(cmd, input, out, err, Some(cancel))
    }

    fn run_cancellable(
        &self,
        cmd: &Command,
        input: Input<'_>,
        out: Output<'_>,
        err: Output<'_>,
        cancel: Option<BorrowedFd<'_>>,
    ) -> Result<Outcome> {
        let sb = &self.shared.sandbox;
        spawn::check_stdio(input, out, err)?;
        // A job with host ids its caller leased (files handed over to them, e.g. a workspace)
        // must run as those ids, not as a cell's: it runs cold.
        if cmd.host_ids.is_some() {
            self.shared.lock().stats.cold_runs += 1;
            return spawn::run(sb, cmd, input, out, err, cancel);
        }
        if let Some(pre) = &self.shared.config.preload {
            if pre != cmd {
                self.shared.lock().stats.cold_runs += 1;
                return spawn::run(sb, cmd, input, out, err, cancel);
            }
            return self.cell()?.run_cancellable(cmd, input, out, err, cancel);
        }
        let job = plain_job(&self.shared, cmd)?;
        let cell = job.as_ref().and_then(|_| self.take());
        let (Some(cell), Some((exec, job))) = (cell, job) else {
            self.shared.lock().stats.cold_runs += 1;
            return spawn::run(sb, cmd, input, out, err, cancel);
        };
        run_cell(
            &self.shared,
            cell,
            Work::Exec(&exec, &job),
            input,
            out,
            err,
            cancel,
        )
    }

    /// Run `job` in a framed preloaded cell ([`WarmConfig::python`]) with `stdin` as the
    /// program's standard input, stdout and stderr captured; see [`Job`]. A pool whose cells
    /// are not framed refuses it; a job over the bounds ([`MAX_JOB_CODE`], [`MAX_JOB_ARGS`])
    /// is refused before anything runs. No ready cell: one is set up for it on the spot.
    pub fn run_job(&self, job: &Job, stdin: &[u8]) -> Result<Outcome> {
        self.run_job_with(job, Input::Bytes(stdin), Output::Capture, Output::Capture)
    }

    /// [`WarmPool::run_job`] with the stdio of [`Sandbox::run_with`].
    pub fn run_job_with(
        &self,
        job: &Job,
        input: Input<'_>,
        out: Output<'_>,
        err: Output<'_>,
    ) -> Result<Outcome> {
        spawn::check_stdio(input, out, err)?;
        let frame = job_frame(&self.shared, job)?;
        self.cell()?
            .run_cell(Work::Preloaded(Some(&frame)), input, out, err, None)
    }

    /// Take one cell for a job of the caller's making: a ready one, or one set up now (at a
    /// cold start's cost) when none is. With [`WarmConfig::workspace`] the caller writes the
    /// job's files into [`WarmCell::workspace`] first, then runs the job with
    /// [`WarmCell::run`] or [`WarmCell::run_job`]. Counted in [`WarmStats::warm_runs`] (a
    /// ready cell) or [`WarmStats::cold_runs`] (set up now).
    pub fn cell(&self) -> Result<WarmCell> {
        let cell = match self.take() {
            Some(cell) => cell,
            None => {
                self.shared.lock().stats.cold_runs += 1;
                make_cell(&self.shared.cells_from, &self.shared.config)?
            }
        };
        Ok(WarmCell {
            shared: self.shared.clone(),
            cell: Some(cell),
        })
    }

    /// The command that takes a preloaded cell (see [`WarmConfig::preload`]).
    pub fn preload_command(&self) -> Option<&Command> {
        self.shared.config.preload.as_ref()
    }

    /// Take a ready cell, counted as a warm run; it counts against the pool's size until its
    /// job is over (see [`Busy`]).
    fn take(&self) -> Option<Cell> {
        let mut st = self.shared.lock();
        let mut cell = st.ready.pop_front()?;
        st.busy += 1;
        st.stats.warm_runs += 1;
        cell.busy = Some(Busy(self.shared.clone()));
        Some(cell)
    }

    /// Counters and the number of ready cells.
    pub fn stats(&self) -> WarmStats {
        let st = self.shared.lock();
        let mut s = st.stats.clone();
        s.ready = st.ready.len();
        s.idle_memory = idle_memory(&st);
        s
    }

    /// Block until `n` cells are ready (at most the pool's size) or `timeout` passes; true when
    /// they are. For benchmarks and tests that want a full pool.
    pub fn wait_ready(&self, n: usize, timeout: Duration) -> bool {
        let n = n.min(self.shared.config.size);
        let st = self.shared.lock();
        let (st, _) = self
            .shared
            .changed
            .wait_timeout_while(st, timeout, |s| s.ready.len() < n && !s.closed)
            .unwrap_or_else(|e| e.into_inner());
        st.ready.len() >= n
    }
}

/// The frame of `job` for this pool's cells (which must be framed).
fn job_frame(shared: &Shared, job: &Job) -> Result<Vec<u8>> {
    if !shared.config.framed {
        return Err(Error::config(
            "warm pool: run_job needs framed preloaded cells (WarmConfig::python)",
        ));
    }
    job.frame()
}

/// A plain cell's job for `cmd`: its exec data and the bytes the cell reads. `None` when a
/// cell cannot take it: mounts of its own, another working directory than the cells', host
/// ids of its own, or over the job bounds.
fn plain_job(shared: &Shared, cmd: &Command) -> Result<Option<(ExecData, Vec<u8>)>> {
    let sb = &shared.sandbox;
    let exec = ExecData::new(sb, cmd)?;
    let workdir = match &shared.config.workspace {
        Some(dst) => dst.as_os_str().as_bytes(),
        None => sb.prepared().workdir.to_bytes(),
    };
    let own_dir = cmd
        .dir
        .as_ref()
        .is_some_and(|d| d.as_os_str().as_bytes() != workdir);
    if exec.has_run_plan() || own_dir || cmd.host_ids.is_some() {
        return Ok(None);
    }
    let mut argv: Vec<&[u8]> = vec![cmd.program.as_bytes()];
    argv.extend(cmd.args.iter().map(|a| a.as_bytes()));
    let envp: Vec<Vec<u8>> = cmd
        .environment(&sb.prepared().env)?
        .into_iter()
        .map(|(mut k, v)| {
            k.push(b'=');
            k.extend_from_slice(&v);
            k
        })
        .collect();
    let job = encode_job(&argv, &envp, exec.c_parts().0);
    Ok(job.map(|j| (exec, j)))
}

/// What a cell is given.
enum Work<'a> {
    /// A plain cell: the job's exec data and the bytes the cell reads.
    Exec(&'a ExecData, &'a [u8]),
    /// A preloaded cell: the frame written before the input (framed cells).
    Preloaded(Option<&'a [u8]>),
}

/// A finished job's cell: its workspace is removed on the pool's reaper once every process of
/// the cell is gone (its init's pidfd is readable only after the kernel has killed the whole
/// PID namespace), whichever is dropped first, and the refill thread is woken.
struct AfterJob {
    shared: Arc<Shared>,
    workspace: Option<Workspace>,
    /// The cell's init (a duplicate of its pidfd).
    init: Option<std::os::fd::OwnedFd>,
    /// A cell from the ready queue: its place in the pool is free once the job is over.
    busy: Option<Busy>,
}

impl AfterJob {
    fn new(shared: &Arc<Shared>, cell: &mut Cell) -> AfterJob {
        let workspace = cell.workspace.take();
        AfterJob {
            shared: shared.clone(),
            busy: cell.busy.take(),
            init: workspace
                .as_ref()
                .and_then(|_| cell.started.pidfd.try_clone().ok()),
            workspace,
        }
    }
}

impl Drop for AfterJob {
    fn drop(&mut self) {
        if let Some(ws) = self.workspace.take() {
            let init = self.init.take();
            let remove: Box<dyn FnOnce() + Send> = Box::new(move || {
                if let Some(init) = init {
                    let mut pfd = [libc::pollfd {
                        fd: init.as_raw_fd(),
                        events: libc::POLLIN,
                        revents: 0,
                    }];
                    while let Err(libc::EINTR) = sys::poll(&mut pfd, -1) {}
                }
                drop(ws)
            });
            match self.shared.reaper() {
                Some(r) => {
                    if let Err(std::sync::mpsc::SendError(remove)) = r.send(remove) {
                        remove();
                    }
                }
                None => remove(),
            }
        }
        // Refilled once the job is over: a refill during the job would compete with it.
        match self.busy.take() {
            Some(busy) => drop(busy),
            None => self.shared.changed.notify_all(),
        }
    }
}

/// Hand `cell` its job and supervise it like a cold run.
fn run_cell(
    shared: &Arc<Shared>,
    mut cell: Cell,
    work: Work<'_>,
    input: Input<'_>,
    out: Output<'_>,
    err: Output<'_>,
    cancel: Option<BorrowedFd<'_>>,
) -> Result<Outcome> {
    let sb = &shared.sandbox;
    let after = AfterJob::new(shared, &mut cell);
    let reaper = shared.reaper();
    let mut exec_pipe = None;
    let exec = match &work {
        Work::Exec(exec, _) => Some(*exec),
        Work::Preloaded(_) => None,
    };
    let o = spawn::run_started(sb, input, out, err, cancel, |deadline| {
        give(
            sb,
            cell,
            after.workspace.as_ref(),
            work,
            deadline,
            Some(&mut exec_pipe),
        )
        .map(|mut s| {
            s.reaper = reaper;
            s
        })
    });
    drop(after);
    match exec {
        Some(exec) => exec_result(sb, exec, exec_pipe, shared.reaper(), o),
        None => o,
    }
}

/// Hand a cell its job: the workspace (if any) to the cell's host ids, then the job itself.
fn give(
    sb: &Sandbox,
    cell: Cell,
    workspace: Option<&Workspace>,
    work: Work<'_>,
    deadline: Instant,
    exec_pipe: Option<&mut Option<Pending>>,
) -> Result<Started> {
    if let (Some(ws), Some(ids)) = (workspace, &cell.started.ids) {
        ws.hand_over(ids)?;
    }
    match work {
        Work::Exec(exec, job) => handover(sb, cell, exec, job, deadline, exec_pipe),
        Work::Preloaded(frame) => preload_handover(sb, cell, frame, deadline),
    }
}

/// One cell taken from a [`WarmPool`] ([`WarmPool::cell`]) for one job. With
/// [`WarmConfig::workspace`] it has a directory of its own, empty until the caller writes the
/// job's files into it ([`WarmCell::workspace`]): bound read-write at the configured path,
/// which is the job's working directory, handed to the cell's host ids at the handover, and
/// removed with the cell. Dropping a cell without running a job kills and reaps it.
pub struct WarmCell {
    shared: Arc<Shared>,
    cell: Option<Cell>,
}

impl std::fmt::Debug for WarmCell {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WarmCell")
            .field("pid", &self.cell.as_ref().map(|c| c.started.pid))
            .field(
                "workspace",
                &self.workspace().map(|w| w.path().to_path_buf()),
            )
            .finish()
    }
}

impl WarmCell {
    /// The cell's own job directory (with [`WarmConfig::workspace`]): write the job's files
    /// here before the run ([`Workspace::write`]; host-side, beneath the directory, never
    /// through a symlink). Nothing else has written into it: it was created empty for this
    /// cell, under a host-only 0700 directory, and stays the host's (mode 0711) until the
    /// handover gives it to host ids leased for this cell alone; the cell's processes have
    /// run nothing but runcell's setup (and, in a preloaded cell, the pool's own preload
    /// command, which on a root host cannot write to it) in it.
    pub fn workspace(&self) -> Option<&Workspace> {
        self.cell.as_ref()?.workspace.as_ref()
    }

    /// Run `cmd` in this cell ([`WarmPool::run`]'s rules, but never cold): a plain cell takes
    /// any command without mounts, host ids or a working directory of its own (the cells' is
    /// allowed); a preloaded cell only its preload command (the input is then the code of a
    /// framed cell). Anything else is `Error::Config` and the cell is destroyed.
    pub fn run(self, cmd: &Command, stdin: &[u8]) -> Result<Outcome> {
        self.run_with(cmd, Input::Bytes(stdin), Output::Capture, Output::Capture)
    }

    /// [`WarmCell::run`] with the stdio of [`Sandbox::run_with`].
    pub fn run_with(
        self,
        cmd: &Command,
        input: Input<'_>,
        out: Output<'_>,
        err: Output<'_>,
    ) -> Result<Outcome> {
        self.run_cancellable(cmd, input, out, err, None)
    }

    fn run_cancellable(
        self,
        cmd: &Command,
        input: Input<'_>,
        out: Output<'_>,
        err: Output<'_>,
        cancel: Option<BorrowedFd<'_>>,
    ) -> Result<Outcome> {
        spawn::check_stdio(input, out, err)?;
        let shared = self.shared.clone();
        match &shared.config.preload {
            Some(pre) if pre != cmd => Err(Error::config(
                "warm cell: a preloaded cell runs only its preload command",
            )),
            Some(_) if shared.config.framed => {
                // The input is the code, run like `python3 -`.
                let Input::Bytes(code) = input else {
                    return Err(Error::config(
                        "warm cell: the code of a framed preloaded cell comes as bytes (see \
                         WarmCell::run_job)",
                    ));
                };
                let frame = Job::new(code).frame()?;
                self.run_cell(
                    Work::Preloaded(Some(&frame)),
                    Input::Bytes(b""),
                    out,
                    err,
                    cancel,
                )
            }
            Some(_) => self.run_cell(Work::Preloaded(None), input, out, err, cancel),
            None => match plain_job(&shared, cmd)? {
                Some((exec, job)) => {
                    self.run_cell(Work::Exec(&exec, &job), input, out, err, cancel)
                }
                None => Err(Error::config(
                    "warm cell: the command needs mounts, host ids or a working directory of \
                     its own, or is over the job bounds",
                )),
            },
        }
    }

    /// [`WarmPool::run_job`] in this cell.
    pub fn run_job(self, job: &Job, stdin: &[u8]) -> Result<Outcome> {
        self.run_job_with(job, Input::Bytes(stdin), Output::Capture, Output::Capture)
    }

    /// [`WarmPool::run_job_with`] in this cell.
    pub fn run_job_with(
        self,
        job: &Job,
        input: Input<'_>,
        out: Output<'_>,
        err: Output<'_>,
    ) -> Result<Outcome> {
        spawn::check_stdio(input, out, err)?;
        let frame = job_frame(&self.shared, job)?;
        self.run_cell(Work::Preloaded(Some(&frame)), input, out, err, None)
    }

    fn run_cell(
        mut self,
        work: Work<'_>,
        input: Input<'_>,
        out: Output<'_>,
        err: Output<'_>,
        cancel: Option<BorrowedFd<'_>>,
    ) -> Result<Outcome> {
        let Some(cell) = self.cell.take() else {
            return Err(Error::sys("warm cell", spawn::os_err(libc::EINVAL)));
        };
        run_cell(&self.shared, cell, work, input, out, err, cancel)
    }
}

/// A job for a cell, owned (it crosses to the runtime's blocking pool for the handover).
#[cfg(feature = "tokio")]
enum OwnedWork {
    Exec(Command, Vec<u8>),
    Preloaded(Option<Vec<u8>>),
}

/// [`run_cell`] on a tokio runtime: the handover (a few writes and one wait for the exec, or a
/// preloaded cell's checks and frame) on the blocking pool, the supervision on the reactor.
/// Dropping the future at any point kills the cell and leaves nothing: a handover under way
/// finishes on the blocking pool, where its result (the cell) is dropped, killed and reaped;
/// the workspace goes once every process of the cell is gone.
#[cfg(feature = "tokio")]
async fn run_cell_async(
    shared: &Arc<Shared>,
    mut cell: Cell,
    work: OwnedWork,
    stdin: &[u8],
) -> Result<Outcome> {
    let sb = shared.sandbox.clone();
    let begin = Instant::now();
    let deadline = begin + sb.limits().wall_time;
    let after = AfterJob::new(shared, &mut cell);
    let reaper = shared.reaper();
    let task = tokio::task::spawn_blocking(move || {
        let given = (|| {
            let exec;
            let work = match &work {
                OwnedWork::Exec(cmd, job) => {
                    exec = ExecData::new(&sb, cmd)?;
                    Work::Exec(&exec, job)
                }
                OwnedWork::Preloaded(frame) => Work::Preloaded(frame.as_deref()),
            };
            // Waits for the exec: a future dropped during the job must find the launch's stack
            // free, so that the cell is reaped off the runtime's threads.
            give(&sb, cell, after.workspace.as_ref(), work, deadline, None)
        })();
        let given = given.map(|mut s| {
            s.reaper = reaper;
            s
        });
        (given, after)
    });
    let (given, after) = task
        .await
        .map_err(|e| Error::sys("warm cell handover", std::io::Error::other(e)))?;
    let _after = after;
    let sb = &shared.sandbox;
    let started = match given {
        Ok(s) => s,
        Err(e) if spawn::is_setup_timeout(&e) => {
            return Ok(spawn::timed_out_in_setup(sb, begin.elapsed()));
        }
        Err(e) => return Err(e),
    };
    super::async_run::supervise(sb, started, stdin, begin, deadline).await
}

#[cfg(feature = "tokio")]
impl WarmPool {
    /// [`WarmPool::run`] on a tokio runtime (feature `tokio`): the handover on the runtime's
    /// blocking pool, the supervision on its reactor, like [`Sandbox::run_async`] (which is
    /// what runs when the job runs cold). Dropping the future kills the job (or the cell it was
    /// being given to) and leaves nothing behind.
    pub async fn run_async(&self, cmd: &Command, stdin: &[u8]) -> Result<Outcome> {
        let sb = &self.shared.sandbox;
        if cmd.host_ids.is_some() {
            self.shared.lock().stats.cold_runs += 1;
            return sb.run_async(cmd, stdin).await;
        }
        if let Some(pre) = &self.shared.config.preload {
            if pre != cmd {
                self.shared.lock().stats.cold_runs += 1;
                return sb.run_async(cmd, stdin).await;
            }
            return self.cell_async().await?.run_async(cmd, stdin).await;
        }
        // Only the bytes: the exec data (raw pointers) must not live across an await.
        let job = plain_job(&self.shared, cmd)?.map(|(_, job)| job);
        let cell = job.as_ref().and_then(|_| self.take());
        let (Some(cell), Some(job)) = (cell, job) else {
            self.shared.lock().stats.cold_runs += 1;
            return sb.run_async(cmd, stdin).await;
        };
        run_cell_async(&self.shared, cell, OwnedWork::Exec(cmd.clone(), job), stdin).await
    }

    /// [`WarmPool::run_job`] on a tokio runtime (see [`WarmPool::run_async`]).
    pub async fn run_job_async(&self, job: &Job, stdin: &[u8]) -> Result<Outcome> {
        let frame = job_frame(&self.shared, job)?;
        let mut cell = self.cell_async().await?;
        let Some(c) = cell.cell.take() else {
            return Err(Error::sys("warm cell", spawn::os_err(libc::EINVAL)));
        };
        run_cell_async(&self.shared, c, OwnedWork::Preloaded(Some(frame)), stdin).await
    }

    /// [`WarmPool::cell`] on a tokio runtime: a cell set up on the spot (none ready) is set up
    /// on the blocking pool.
    pub async fn cell_async(&self) -> Result<WarmCell> {
        if let Some(cell) = self.take() {
            return Ok(WarmCell {
                shared: self.shared.clone(),
                cell: Some(cell),
            });
        }
        self.shared.lock().stats.cold_runs += 1;
        let (sb, cfg) = (self.shared.cells_from.clone(), self.shared.config.clone());
        let cell = tokio::task::spawn_blocking(move || make_cell(&sb, &cfg))
            .await
            .map_err(|e| Error::sys("warm cell setup", std::io::Error::other(e)))??;
        Ok(WarmCell {
            shared: self.shared.clone(),
            cell: Some(cell),
        })
    }
}

#[cfg(feature = "tokio")]
impl WarmCell {
    /// [`WarmCell::run`] on a tokio runtime (see [`WarmPool::run_async`]).
    pub async fn run_async(mut self, cmd: &Command, stdin: &[u8]) -> Result<Outcome> {
        let shared = self.shared.clone();
        let work = match &shared.config.preload {
            Some(pre) if pre != cmd => {
                return Err(Error::config(
                    "warm cell: a preloaded cell runs only its preload command",
                ));
            }
            Some(_) if shared.config.framed => {
                let frame = Job::new(stdin).frame()?;
                let Some(cell) = self.cell.take() else {
                    return Err(Error::sys("warm cell", spawn::os_err(libc::EINVAL)));
                };
                return run_cell_async(&shared, cell, OwnedWork::Preloaded(Some(frame)), b"").await;
            }
            Some(_) => OwnedWork::Preloaded(None),
            None => match plain_job(&shared, cmd)?.map(|(_, job)| job) {
                Some(job) => OwnedWork::Exec(cmd.clone(), job),
                None => {
                    return Err(Error::config(
                        "warm cell: the command needs mounts, host ids or a working directory \
                         of its own, or is over the job bounds",
                    ));
                }
            },
        };
        let Some(cell) = self.cell.take() else {
            return Err(Error::sys("warm cell", spawn::os_err(libc::EINVAL)));
        };
        run_cell_async(&shared, cell, work, stdin).await
    }

    /// [`WarmCell::run_job`] on a tokio runtime (see [`WarmPool::run_async`]).
    pub async fn run_job_async(mut self, job: &Job, stdin: &[u8]) -> Result<Outcome> {
        let frame = job_frame(&self.shared, job)?;
        let Some(cell) = self.cell.take() else {
            return Err(Error::sys("warm cell", spawn::os_err(libc::EINVAL)));
        };
        let shared = self.shared.clone();
        run_cell_async(&shared, cell, OwnedWork::Preloaded(Some(frame)), stdin).await
    }
}

impl Drop for WarmCell {
    /// A cell never given a job is killed and reaped here (then its workspace removed).
    fn drop(&mut self) {
        if let Some(cell) = self.cell.take() {
            drop(cell);
            self.shared.changed.notify_all();
        }
    }
}

/// Hand `job` (encoded `exec`) to `cell`. With `exec_pipe`, return at once and leave the exec
/// pipe there for [`exec_result`] once the job is over (the supervision starts while the
/// program execs: one wake-up of the host less; the launch's stack stays alive until then);
/// otherwise wait until its program was executed (or failed to be).
fn handover(
    sb: &Sandbox,
    cell: Cell,
    exec: &ExecData,
    job: &[u8],
    deadline: Instant,
    exec_pipe: Option<&mut Option<Pending>>,
) -> Result<Started> {
    // The room the program's process reads its job from outlives the process: `started`,
    // declared after it, is dropped (killed and reaped) first on every early return.
    let slot = cell._slot;
    let mut started = cell.started;
    let Some(exec_r) = started.armed.take() else {
        return Err(Error::sys("warm cell", spawn::os_err(libc::EINVAL)));
    };
    // A blocking pipe: the program's process reads while this writes (jobs over the pipe's
    // capacity), and a cell killed from outside is EPIPE.
    let mut rest = job;
    while !rest.is_empty() {
        match sys::write_nosigpipe(started.sync_fd(), rest) {
            Ok(n) => rest = &rest[n..],
            Err(libc::EINTR) => {}
            Err(e) => return Err(Error::sys("write sync pipe", spawn::os_err(e))),
        }
    }
    if let Some(pending) = exec_pipe {
        *pending = Some(Pending {
            exec: exec_r,
            _slot: slot,
        });
        return Ok(started);
    }
    let mut rec = [0u8; RECORD_LEN];
    match spawn::read_record(&exec_r, &mut rec, deadline) {
        Ok(false) => {
            started.launched();
            Ok(started)
        }
        Ok(true) => Err(spawn::exec_failed(sb, exec, &mut started, &rec)),
        Err(e) => Err(e),
    }
}

/// A job handed over without waiting for its exec: the exec pipe, and the room the program's
/// process reads its job from until it execs (freed only once the job is over).
struct Pending {
    exec: OwnedFd,
    _slot: Option<Arc<Slot>>,
}

/// After a job handed over without waiting for its exec (every process of it is gone): its
/// outcome, or the error its program process reported instead of executing the program.
fn exec_result(
    sb: &Sandbox,
    exec: &ExecData,
    pending: Option<Pending>,
    reaper: Option<std::sync::mpsc::Sender<Reap>>,
    outcome: Result<Outcome>,
) -> Result<Outcome> {
    let Some(Pending { exec: fd, _slot }) = pending else {
        return outcome;
    };
    // The job's room (320 KiB) is freed on the pool's reaper: freeing it here gave memory back
    // to the kernel (madvise, a TLB shootdown) on the caller's path.
    if let (Some(slot), Some(r)) = (_slot, reaper) {
        let _ = r.send(Box::new(move || drop(slot)));
    }
    let mut rec = [0u8; RECORD_LEN];
    // Non-blocking: nothing holds the pipe's other end any more (it closed at the exec).
    let got = sys::set_nonblocking(fd.as_raw_fd(), true)
        .and_then(|_| sys::retry(|| sys::read(fd.as_raw_fd(), &mut rec)));
    match got {
        Ok(RECORD_LEN) => {
            let (_, step, errno, index) = child::decode(&rec);
            Err(spawn::setup_error(sb, exec, step, errno, index))
        }
        _ => outcome,
    }
}

impl Drop for WarmPool {
    /// Stop refilling, then kill and reap every idle cell (and one being set up).
    fn drop(&mut self) {
        let cells = {
            let mut st = self.shared.lock();
            st.closed = true;
            self.shared.changed.notify_all();
            std::mem::take(&mut st.ready)
        };
        drop(cells);
        if let Some(t) = self.filler.take() {
            let _ = t.join();
        }
        // Every finished job's cell reaped before the pool is gone.
        self.shared.reaper.shutdown();
    }
}
