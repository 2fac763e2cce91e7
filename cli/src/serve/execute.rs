//! Running one submission: the only place the service touches the sandbox.
//!
//! A job gets a private directory under the work directory with the source file and the
//! additional files. The compile step runs in its own sandbox with Judge0's compile limits
//! (the maxima), then the run step in a fresh sandbox over the same directory, bound
//! read-write at /box. As root, the directory belongs to the sandbox's host uid so the
//! program can write into it; unprivileged, it is ours (the sandbox maps to our uid). The
//! host never reads a file the program could have written (output comes from pipes) and
//! deletes the whole directory afterwards.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use runcell::{Command, Job, Network, Outcome, Profile, Sandbox, Verdict, WarmConfig, WarmPool};

use super::files::{ZipLimits, extract};
use super::languages::{Language, Languages};
use super::model::{RunResult, Submission, outputs_match, status, status_for_signal};

/// Compile-step limits: Judge0 compiles with its maxima.
#[derive(Debug, Clone, Copy)]
pub struct CompileLimits {
    pub cpu_time: f64,
    pub wall_time: f64,
    pub memory_kb: i64,
    pub processes: i64,
    pub file_size_kb: i64,
    /// RLIMIT_STACK of the compiler, KB (Judge0's `max_stack_limit`).
    pub stack_kb: i64,
}

/// Everything a run needs besides the submission.
#[derive(Debug, Clone)]
pub struct Executor {
    pub langs: Arc<Languages>,
    /// Parent of the job directories.
    pub work_dir: PathBuf,
    /// Name prefix of this process's job directories (`job-PID-START-`, see
    /// [`super::jobdirs`]).
    pub job_prefix: String,
    /// Bytes kept of stdout and of stderr.
    pub output_limit: u64,
    pub compile: CompileLimits,
    pub zip: ZipLimits,
    /// Memory is enforced with RLIMIT_AS (no cgroups): runtimes get their floor.
    pub rlimit_memory: bool,
    /// Built sandboxes by language and limits: a job's directory is bound per run
    /// (`Command::bind`), so submissions with the same limits reuse one `Sandbox` (no
    /// rebuild: seccomp compiled once, the cgroup pool kept warm).
    pub sandboxes: SandboxCache,
    /// Preloaded Python cells for the submissions that can run in one (see [`WarmPython`]).
    pub warm: Option<Arc<WarmPython>>,
}

/// Warm cells with a preloaded Python interpreter (`warm_python` cells), built for the Python
/// language's run step with the default limits. A submission runs in one when nothing about
/// it needs what a cell does not have; it runs cold otherwise (and whenever no cell can be
/// had), with the same result.
///
/// One pool per worker thread (worker `i` takes its cells from pool `i` modulo their number):
/// a pool sets its cells up one after another on its own refill thread (launch, then the
/// interpreter's start, ~12 ms of CPU), so one pool for the whole process could not refill
/// faster than about one cell per such setup, and the submissions beyond that rate set their
/// cells up on the spot, on the worker. With a pool each, every worker has the setup of its
/// next cell running while it runs its current job: a two-stage pipeline per worker.
pub struct WarmPython {
    pools: Vec<WarmPool>,
    /// Judge0 id of the language the cells run.
    language_id: i64,
    /// The run step's sandbox key the cells were built for (limits, stack limit included):
    /// only submissions with exactly these limits run warm.
    key: String,
}

impl std::fmt::Debug for WarmPython {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WarmPython")
            .field("language_id", &self.language_id)
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

impl WarmPython {
    /// Ready cells, cells started, setup failures, warm and cold runs of the pools, summed
    /// (the last setup error is one pool's).
    pub fn stats(&self) -> runcell::WarmStats {
        let mut all = runcell::WarmStats::default();
        for p in &self.pools {
            let st = p.stats();
            all.ready += st.ready;
            all.cells_started += st.cells_started;
            all.setup_failures += st.setup_failures;
            all.warm_runs += st.warm_runs;
            all.cold_runs += st.cold_runs;
            all.last_setup_error = all.last_setup_error.or(st.last_setup_error);
            all.idle_memory = match (all.idle_memory, st.idle_memory) {
                (Some(a), Some(b)) => Some(a + b),
                (a, b) => a.or(b),
            };
        }
        all
    }
}

/// Whether `args` (already [`sanitize`]d) split on blanks are exactly the words bash would
/// make of them: no quoting, escapes, globs, braces, tildes, comments or expansions.
fn plain_words(args: &str) -> Option<Vec<String>> {
    let plain = |c: char| c.is_ascii_alphanumeric() || "-_.,:=+/@%^".contains(c);
    args.split_ascii_whitespace()
        .map(|w| w.chars().all(plain).then(|| w.to_string()))
        .collect()
}

/// Sandboxes keyed by language and step limits (bounded; see [`Executor::sandboxes`]). Clones
/// of an `Executor` share it.
#[derive(Default, Clone)]
pub struct SandboxCache(Arc<std::sync::Mutex<std::collections::HashMap<String, Sandbox>>>);

impl std::fmt::Debug for SandboxCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SandboxCache")
    }
}

/// How many distinct (language, limits) sandboxes are kept.
const SANDBOX_CACHE: usize = 64;

/// Characters Judge0 strips from compiler options and arguments before they reach the shell.
fn sanitize(s: &str) -> String {
    s.trim()
        .chars()
        .filter(|c| !matches!(c, '$' | '&' | ';' | '<' | '>' | '|' | '`' | '\n' | '\r'))
        .collect()
}

/// Limits of one step.
struct Step {
    cpu: f64,
    wall: f64,
    memory_kb: i64,
    processes: i64,
    file_size_kb: i64,
    network: bool,
    /// RLIMIT_STACK in KiB, soft and hard, as Judge0's isolate `--stack` (0: unlimited,
    /// negative: this process's own); the library lowers it to this process's own hard limit
    /// when that is lower.
    stack_kb: i64,
}

/// The run step's limits of a submission.
fn run_step(s: &Submission) -> Step {
    Step {
        cpu: s.cpu_time_limit + s.cpu_extra_time,
        wall: s.wall_time_limit,
        memory_kb: s.memory_limit,
        processes: s.max_processes_and_or_threads,
        file_size_kb: s.max_file_size,
        network: s.enable_network,
        stack_kb: s.stack_limit,
    }
}

/// The sandbox cache's key of a language's step.
fn sandbox_key(lang: &Language, step: &Step) -> String {
    format!(
        "{}|{}|{}|{}|{}|{}|{}|{}|{}",
        lang.id,
        lang.profile,
        step.cpu,
        step.wall,
        step.memory_kb,
        step.processes,
        step.file_size_kb,
        step.network,
        step.stack_kb
    )
}

/// Whether memory limits go through RLIMIT_AS on this host (probed once at startup).
pub fn memory_is_rlimit() -> bool {
    Sandbox::builder()
        .build()
        .map(|s| {
            s.enforced()
                .limit_mechanisms
                .get("memory")
                .is_some_and(|m| *m == "rlimit")
        })
        .unwrap_or(true)
}

impl Executor {
    /// The sandbox for a step (cached by language and limits); the job directory is not part
    /// of it: [`job_command`] binds it per run.
    fn sandbox(&self, lang: &Language, step: &Step) -> runcell::Result<Sandbox> {
        let key = sandbox_key(lang, step);
        let mut cache = self.sandboxes.0.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(sb) = cache.get(&key) {
            return Ok(sb.clone());
        }
        let sb = self.build_sandbox(lang, step)?;
        if cache.len() >= SANDBOX_CACHE {
            cache.clear();
        }
        cache.insert(key, sb.clone());
        Ok(sb)
    }

    /// Start one pool of preloaded Python cells per entry of `sizes` (that many cells each)
    /// for `lang` with the run step of a submission with these defaults (stack limit
    /// included). Refused (the caller runs everything cold) when a pool's first cell fails.
    pub fn start_warm(
        &mut self,
        lang: &Language,
        defaults: &Submission,
        sizes: &[usize],
    ) -> Result<(), String> {
        let step = run_step(defaults);
        // A cold run's program is exec'd by `bash -c`, which leaves PWD and SHLVL=0 in its
        // environment: the cells' interpreter gets the same.
        let sb = self
            .sandbox(lang, &step)
            .and_then(|sb| sb.to_builder().env("PWD", "/box").env("SHLVL", "0").build())
            .map_err(|e| e.to_string())?;
        // The cells' own job directories are made in the work directory (named
        // runcell-ws-PID-..., removed by a later start if this process is killed).
        let pools = sizes
            .iter()
            .map(|&size| {
                sb.warm_pool(
                    WarmConfig::new(size)
                        .python(&[])
                        .workspace_in("/box", &self.work_dir),
                )
                .map_err(|e| e.to_string())
            })
            .collect::<Result<Vec<_>, _>>()?;
        if pools.is_empty() {
            return Err("no warm pool to start".into());
        }
        self.warm = Some(Arc::new(WarmPython {
            pools,
            language_id: lang.id,
            key: sandbox_key(lang, &step),
        }));
        Ok(())
    }

    /// Run `s` in a warm cell of worker `slot`'s pool if it can run in one (`None`: run it
    /// cold).
    fn try_warm(&self, s: &Submission, lang: &Language, slot: usize) -> Option<RunResult> {
        let w = self.warm.as_ref()?;
        let eligible = w.language_id == lang.id
            && !lang.is_project
            && lang.compile_cmd.is_none()
            && s.additional_files.is_none()
            && s.number_of_runs <= 1
            && sandbox_key(lang, &run_step(s)) == w.key;
        if !eligible {
            return None;
        }
        let args = plain_words(&sanitize(s.command_line_arguments.as_deref().unwrap_or("")))?;
        let cell = match w.pools[slot % w.pools.len()].cell() {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(error = %e, "no warm cell: running cold");
                return None;
            }
        };
        let source = s.source_code.clone().unwrap_or_default();
        if let Some(ws) = cell.workspace()
            && let Err(e) = ws.write(&lang.source_file, &source)
        {
            return Some(RunResult::internal(format!("warm cell: {e}")));
        }
        // `exec 2>&1` of a cold run: file descriptor 2 made a copy of 1 before the code runs.
        let job = Job::new(source)
            .script(&lang.source_file)
            .args(args)
            .stderr_to_stdout(s.redirect_stderr_to_stdout);
        let stdin = s.stdin.as_deref().unwrap_or_default();
        match cell.run_job(&job, stdin) {
            Ok(o) => {
                let mut r = judge(s, &o);
                r.time = Some(o.cpu_time.as_secs_f64());
                r.wall_time = Some(o.wall_time.as_secs_f64());
                r.memory = Some(o.max_memory_kib.unwrap_or(o.max_rss_kib) as i64);
                Some(r)
            }
            Err(e) => Some(RunResult::internal(format!("run step (warm cell): {e}"))),
        }
    }

    fn build_sandbox(&self, lang: &Language, step: &Step) -> runcell::Result<Sandbox> {
        let mut p = Profile::named(&lang.profile)?;
        for k in &lang.env_remove {
            p.env.remove(k);
        }
        for (k, v) in &lang.env {
            p.env.insert(k.clone(), v.clone());
        }
        let mut mem_kb = step.memory_kb.max(1024) as u64;
        if self.rlimit_memory
            && let Some(floor) = lang.rlimit_memory_kb
        {
            mem_kb = mem_kb.max(floor);
        }
        let b = Sandbox::builder()
            .profile(p)
            .cpu_time(Duration::from_secs_f64(step.cpu.max(0.001)))
            .wall_time(Duration::from_secs_f64(step.wall.max(0.001)))
            .memory(mem_kb * 1024)
            .pids(step.processes.max(1) as u64)
            .file_size((step.file_size_kb.max(1) as u64) * 1024)
            .output_limit(self.output_limit)
            .network(if step.network {
                Network::Loopback
            } else {
                Network::None
            });
        // After the profile, which carries limits of its own.
        let b = match step.stack_kb {
            0 => b.stack(u64::MAX),
            kb if kb > 0 => b.stack(kb as u64 * 1024),
            _ => b,
        };
        b.build()
    }

    /// Run a submission to its result on worker `slot` (which warm pool it may take a cell
    /// from). Never panics; setup failures are Internal Error.
    pub fn execute(&self, s: &Submission, slot: usize) -> RunResult {
        let Some(lang) = self.langs.get(s.language_id) else {
            return RunResult::internal(format!("language {} is not configured", s.language_id));
        };
        if let Some(r) = self.try_warm(s, lang, slot) {
            return r;
        }
        let dir = match self.prepare(s, lang) {
            Ok(d) => d,
            Err(e) => return RunResult::internal(e),
        };
        let result = self.run_in(s, lang, &dir);
        remove_job_dir(&dir);
        result
    }

    /// Create the job directory with the source and additional files.
    fn prepare(&self, s: &Submission, lang: &Language) -> Result<PathBuf, String> {
        std::fs::create_dir_all(&self.work_dir)
            .map_err(|e| format!("work dir {}: {e}", self.work_dir.display()))?;
        let dir = tempfile::Builder::new()
            .prefix(&self.job_prefix)
            .tempdir_in(&self.work_dir)
            .map_err(|e| format!("job dir under {}: {e}", self.work_dir.display()))?
            .keep();
        let fill = || -> Result<(), String> {
            if !lang.is_project {
                let src = dir.join(&lang.source_file);
                std::fs::write(&src, s.source_code.as_deref().unwrap_or_default())
                    .map_err(|e| format!("{}: {e}", src.display()))?;
            }
            if let Some(zip) = &s.additional_files {
                extract(zip, Some(&dir), self.zip)?;
            }
            open_dirs(&dir).map_err(|e| format!("{}: {e}", dir.display()))
        };
        match fill() {
            Ok(()) => Ok(dir),
            Err(e) => {
                remove_job_dir(&dir);
                Err(e)
            }
        }
    }

    fn run_in(&self, s: &Submission, lang: &Language, dir: &Path) -> RunResult {
        // Compile.
        let compile_cmd = lang
            .compile_cmd
            .as_ref()
            .filter(|_| !lang.is_project || dir.join("compile").is_file());
        if let Some(cmd) = compile_cmd {
            let opts = sanitize(s.compiler_options.as_deref().unwrap_or(""));
            let script = format!("exec 2>&1; {}", cmd.replace("%s", &opts));
            let step = Step {
                cpu: self.compile.cpu_time,
                wall: self.compile.wall_time,
                memory_kb: self.compile.memory_kb,
                processes: self.compile.processes,
                file_size_kb: self.compile.file_size_kb,
                network: false,
                stack_kb: self.compile.stack_kb,
            };
            let out = self
                .sandbox(lang, &step)
                .and_then(|sb| sb.run(&with_own_ids(&sb, dir, job_command(dir, &script))?, b""));
            match out {
                Err(e) => return RunResult::internal(format!("compile step: {e}")),
                Ok(o) if o.verdict != Verdict::Ok => {
                    let mut output = o.stdout.clone();
                    if matches!(o.verdict, Verdict::WallTimeLimit | Verdict::CpuTimeLimit) {
                        output = b"Compilation time limit exceeded.".to_vec();
                    }
                    return RunResult {
                        status_id: status::COMPILE_ERROR,
                        compile_output: Some(output).filter(|o| !o.is_empty()),
                        exit_code: o.exit_code.map(i64::from),
                        ..Default::default()
                    };
                }
                Ok(o) => {
                    let compile_output = Some(o.stdout).filter(|o| !o.is_empty());
                    let mut r = self.run_steps(s, lang, dir);
                    r.compile_output = compile_output;
                    return r;
                }
            }
        }
        self.run_steps(s, lang, dir)
    }

    /// The run step, `number_of_runs` times (times and memory averaged, as Judge0 does).
    fn run_steps(&self, s: &Submission, lang: &Language, dir: &Path) -> RunResult {
        let step = run_step(s);
        let sb = match self.sandbox(lang, &step) {
            Ok(sb) => sb,
            Err(e) => return RunResult::internal(format!("run step: {e}")),
        };
        let args = sanitize(s.command_line_arguments.as_deref().unwrap_or(""));
        let cmd = direct_command(s, lang, &args, dir).unwrap_or_else(|| {
            let script = format!(
                "{}exec {} {}",
                if s.redirect_stderr_to_stdout {
                    "exec 2>&1; "
                } else {
                    ""
                },
                lang.run_cmd,
                args
            );
            job_command(dir, &script)
        });
        let stdin = s.stdin.as_deref().unwrap_or_default();
        let runs = s.number_of_runs.max(1);
        let (mut times, mut walls, mut mems) = (Vec::new(), Vec::new(), Vec::new());
        let mut last = RunResult::default();
        for _ in 0..runs {
            let o = match with_own_ids(&sb, dir, cmd.clone()).and_then(|cmd| sb.run(&cmd, stdin)) {
                Ok(o) => o,
                Err(e) => return RunResult::internal(format!("run step: {e}")),
            };
            last = judge(s, &o);
            times.push(o.cpu_time.as_secs_f64());
            walls.push(o.wall_time.as_secs_f64());
            mems.push(o.max_memory_kib.unwrap_or(o.max_rss_kib) as f64);
            if last.status_id != status::ACCEPTED {
                break;
            }
        }
        let avg = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
        last.time = Some(avg(&times));
        last.wall_time = Some(avg(&walls));
        last.memory = Some(avg(&mems).round() as i64);
        last
    }
}

/// The run step's program exec'd directly (no `bash -c`, ~1 ms of CPU less per run) when the
/// shell would do nothing but split words: stdout and stderr apart, and the run command and
/// the arguments plain words (see [`plain_words`]). Its environment is what `bash -c 'exec
/// ...'` leaves (`PWD`, `SHLVL=0`), so the program sees the same as through the shell.
fn direct_command(s: &Submission, lang: &Language, args: &str, dir: &Path) -> Option<Command> {
    if s.redirect_stderr_to_stdout {
        return None;
    }
    let mut words = plain_words(&lang.run_cmd)?;
    words.extend(plain_words(args)?);
    let (program, rest) = words.split_first()?;
    // A program named without a slash is looked up on PATH by bash and by runcell alike.
    Some(
        Command::new(program)
            .args(rest)
            .env("PWD", "/box")
            .env("SHLVL", "0")
            .bind(dir, "/box")
            .current_dir("/box"),
    )
}

/// `bash -c script` run in the job directory, bound read-write at /box for this run only.
fn job_command(dir: &Path, script: &str) -> Command {
    Command::new("/bin/bash")
        .arg("-c")
        .arg(script)
        .bind(dir, "/box")
        .current_dir("/box")
}

/// Judge0's status for one run.
fn judge(s: &Submission, o: &Outcome) -> RunResult {
    let mut r = RunResult {
        stdout: Some(o.stdout.clone()).filter(|b| !b.is_empty()),
        stderr: Some(o.stderr.clone()).filter(|b| !b.is_empty()),
        exit_code: o.exit_code.map(i64::from),
        exit_signal: o.signal.map(i64::from),
        ..Default::default()
    };
    let over_cpu = o.cpu_time.as_secs_f64() > s.cpu_time_limit;
    let (status_id, message) = match o.verdict {
        Verdict::WallTimeLimit | Verdict::CpuTimeLimit => {
            (status::TLE, Some("Time limit exceeded".to_string()))
        }
        _ if over_cpu => (status::TLE, Some("Time limit exceeded".to_string())),
        Verdict::MemoryLimit => (
            status::OTHER,
            Some("Memory limit exceeded (killed by the out-of-memory killer)".to_string()),
        ),
        Verdict::OutputLimit => (
            status::OTHER,
            Some("Output limit exceeded: the run was killed".to_string()),
        ),
        Verdict::SecurityViolation => (
            status::OTHER,
            Some(format!(
                "Forbidden system call {}",
                o.violation
                    .as_ref()
                    .and_then(|v| v.name.clone())
                    .unwrap_or_else(|| "(unknown)".into())
            )),
        ),
        Verdict::Signaled => {
            let sig = o.signal.unwrap_or(0);
            (
                status_for_signal(sig),
                Some(format!("Caught fatal signal {sig}")),
            )
        }
        Verdict::ExitNonzero => {
            let code = o.exit_code.unwrap_or(0);
            if code == 126 && String::from_utf8_lossy(&o.stderr).contains("Exec format error") {
                (
                    status::EXEC_FORMAT,
                    Some("execve: Exec format error".to_string()),
                )
            } else {
                (
                    status::NZEC,
                    Some(format!("Exited with error status {code}")),
                )
            }
        }
        Verdict::Ok => match &s.expected_output {
            Some(exp) if !outputs_match(exp, &o.stdout) => (status::WRONG_ANSWER, None),
            _ => (status::ACCEPTED, None),
        },
        // A verdict this service does not know yet (`Verdict` is non-exhaustive).
        other => (
            status::INTERNAL,
            Some(format!("unexpected verdict {other}")),
        ),
    };
    r.status_id = status_id;
    r.message = message;
    r
}

/// Make the directories of a freshly filled job directory traversable and writable by their
/// owner (an archive may carry restrictive modes). Only the host has written there yet.
fn open_dirs(dir: &Path) -> std::io::Result<()> {
    fn walk(p: &Path) -> std::io::Result<()> {
        let md = std::fs::symlink_metadata(p)?;
        if md.is_dir() {
            std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o755))?;
            for e in std::fs::read_dir(p)? {
                walk(&e?.path())?;
            }
        }
        Ok(())
    }
    walk(dir)
}

/// `cmd` over the job directory as a run of `sb` with host ids of its own: as root each run
/// leases a host uid, so the job directory (and whatever the previous step left there) is
/// handed to it first; an unprivileged service's runs are the service user itself.
fn with_own_ids(sb: &Sandbox, dir: &Path, cmd: Command) -> runcell::Result<Command> {
    let ids = sb.lease_host_ids()?;
    runcell::hand_over(dir, &ids)?;
    Ok(cmd.host_ids(&ids))
}

/// Delete a job directory whatever the program left in it (unwritable directories
/// included). Symbolic links are removed, never followed.
pub fn remove_job_dir(dir: &Path) {
    if std::fs::remove_dir_all(dir).is_ok() {
        return;
    }
    fn unlock(p: &Path) {
        use std::os::fd::AsRawFd;
        use std::os::unix::fs::OpenOptionsExt;
        // Opened without following a link (O_PATH | O_NOFOLLOW | O_DIRECTORY: no read
        // permission needed), then changed through the descriptor's /proc entry, which
        // names that very directory: a link is never made to lend its target's permissions.
        let dir = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_PATH | libc::O_NOFOLLOW | libc::O_DIRECTORY)
            .open(p);
        if let Ok(d) = dir {
            let _ = std::fs::set_permissions(
                format!("/proc/self/fd/{}", d.as_raw_fd()),
                std::fs::Permissions::from_mode(0o700),
            );
            if let Ok(rd) = std::fs::read_dir(p) {
                for e in rd.flatten() {
                    unlock(&e.path());
                }
            }
        }
    }
    unlock(dir);
    if let Err(e) = std::fs::remove_dir_all(dir) {
        tracing::warn!(dir = %dir.display(), error = %e, "cannot remove job directory");
    }
}

/// What the driver of a streaming stage receives: program output from the reader threads and
/// control from the client (stdin, end of stdin, kill).
#[derive(Debug)]
pub enum StageEvent {
    /// Output of stream 0 (stdout) or 1 (stderr).
    Out(usize, Vec<u8>),
    /// A stream reached end of file.
    Eof,
    /// Bytes for the program's stdin.
    Stdin(Vec<u8>),
    /// Close the program's stdin.
    CloseStdin,
    /// Kill the whole sandbox now.
    Kill,
}

/// Limits of a streaming stage.
#[derive(Debug, Clone, Copy)]
pub struct StageLimits {
    pub wall: Duration,
    pub cpu: Duration,
    pub memory_bytes: u64,
    pub processes: u64,
    pub output: u64,
}

/// The result of one streaming stage, in Piston's terms.
#[derive(Debug, Clone, Default)]
pub struct StageResult {
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    /// stdout and stderr interleaved in arrival order.
    pub output: Vec<u8>,
    pub code: Option<i32>,
    pub signal: Option<i32>,
    /// Piston's isolate status: TO, SG, RE, OL, EL, XX, or none.
    pub status: Option<&'static str>,
    pub message: Option<String>,
    pub cpu_ms: u64,
    pub wall_ms: u64,
    pub memory_bytes: Option<u64>,
}

impl StageResult {
    fn internal(message: String) -> StageResult {
        StageResult {
            status: Some("XX"),
            message: Some(message),
            ..Default::default()
        }
    }
}

/// Signal names as Piston reports them.
pub fn signal_name(sig: i32) -> &'static str {
    match sig {
        1 => "SIGHUP",
        2 => "SIGINT",
        3 => "SIGQUIT",
        4 => "SIGILL",
        5 => "SIGTRAP",
        6 => "SIGABRT",
        7 => "SIGBUS",
        8 => "SIGFPE",
        9 => "SIGKILL",
        10 => "SIGUSR1",
        11 => "SIGSEGV",
        12 => "SIGUSR2",
        13 => "SIGPIPE",
        14 => "SIGALRM",
        15 => "SIGTERM",
        24 => "SIGXCPU",
        25 => "SIGXFSZ",
        31 => "SIGSYS",
        _ => "SIGNAL",
    }
}

/// Quote one argument for bash.
pub fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

fn reader(mut f: std::fs::File, stream: usize, tx: std::sync::mpsc::Sender<StageEvent>) {
    use std::io::Read;
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        match f.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if tx.send(StageEvent::Out(stream, buf[..n].to_vec())).is_err() {
                    break;
                }
            }
        }
    }
    let _ = tx.send(StageEvent::Eof);
}

impl Executor {
    /// A job directory holding `files` (the first one under the language's source name).
    pub fn prepare_files(
        &self,
        lang: &Language,
        files: &[(String, Vec<u8>)],
    ) -> Result<PathBuf, String> {
        std::fs::create_dir_all(&self.work_dir)
            .map_err(|e| format!("work dir {}: {e}", self.work_dir.display()))?;
        let dir = tempfile::Builder::new()
            .prefix(&self.job_prefix)
            .tempdir_in(&self.work_dir)
            .map_err(|e| format!("job dir under {}: {e}", self.work_dir.display()))?
            .keep();
        let fill = || -> Result<(), String> {
            for (i, (name, content)) in files.iter().enumerate() {
                let rel = if i == 0 && !lang.is_project {
                    PathBuf::from(&lang.source_file)
                } else {
                    let p = Path::new(name);
                    if name.is_empty()
                        || !p
                            .components()
                            .all(|c| matches!(c, std::path::Component::Normal(_)))
                    {
                        return Err(format!("file name {name:?} must be a plain relative path"));
                    }
                    p.to_path_buf()
                };
                let target = dir.join(&rel);
                if let Some(parent) = target.parent() {
                    std::fs::create_dir_all(parent).map_err(|e| format!("{name}: {e}"))?;
                }
                use std::io::Write;
                use std::os::unix::fs::OpenOptionsExt;
                std::fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(0o644)
                    .open(&target)
                    .and_then(|mut f| f.write_all(content))
                    .map_err(|e| format!("{name}: {e}"))?;
            }
            open_dirs(&dir).map_err(|e| format!("{}: {e}", dir.display()))
        };
        match fill() {
            Ok(()) => Ok(dir),
            Err(e) => {
                remove_job_dir(&dir);
                Err(e)
            }
        }
    }

    /// Run `script` (bash) in a fresh sandbox over `dir`, streaming: `on_data` sees every
    /// chunk of output as it arrives; `events` carries the output and the client's control
    /// (its sender side is `tx`, given to whoever feeds stdin). `stdin` is written first; it
    /// is then closed unless `interactive`.
    #[allow(clippy::too_many_arguments)]
    pub fn stage(
        &self,
        lang: &Language,
        dir: &Path,
        script: &str,
        limits: StageLimits,
        stdin: &[u8],
        interactive: bool,
        tx: std::sync::mpsc::Sender<StageEvent>,
        events: std::sync::mpsc::Receiver<StageEvent>,
        on_data: &mut dyn FnMut(usize, &[u8]),
    ) -> StageResult {
        let step = Step {
            cpu: limits.cpu.as_secs_f64(),
            wall: limits.wall.as_secs_f64(),
            memory_kb: (limits.memory_bytes / 1024) as i64,
            processes: limits.processes as i64,
            file_size_kb: self.compile.file_size_kb,
            network: false,
            // Piston has no stack limit: the host's own.
            stack_kb: -1,
        };
        let sb = match self.sandbox(lang, &step) {
            Ok(sb) => sb,
            Err(e) => return StageResult::internal(e.to_string()),
        };
        let mut child =
            match with_own_ids(&sb, dir, job_command(dir, script)).and_then(|cmd| sb.spawn(&cmd)) {
                Ok(c) => c,
                Err(e) => return StageResult::internal(e.to_string()),
            };
        let begin = std::time::Instant::now();
        let deadline = begin + limits.wall;
        for (i, f) in [child.stdout.take(), child.stderr.take()]
            .into_iter()
            .enumerate()
        {
            match f {
                Some(f) => {
                    let tx = tx.clone();
                    std::thread::spawn(move || reader(f, i, tx));
                }
                None => {
                    let _ = tx.send(StageEvent::Eof);
                }
            }
        }
        drop(tx);
        // stdin is written by its own thread so a program that does not read cannot block us.
        let (wtx, wrx) = std::sync::mpsc::channel::<Vec<u8>>();
        if let Some(mut input) = child.stdin.take() {
            std::thread::spawn(move || {
                use std::io::Write;
                for chunk in wrx {
                    if input.write_all(&chunk).is_err() {
                        break;
                    }
                }
            });
        }
        let mut wtx = Some(wtx);
        if !stdin.is_empty()
            && let Some(w) = &wtx
        {
            let _ = w.send(stdin.to_vec());
        }
        if !interactive {
            wtx = None;
        }
        let mut r = StageResult::default();
        let mut eofs = 0;
        let mut timed_out = false;
        let mut killed = false;
        while eofs < 2 {
            let wait = if timed_out || killed {
                Duration::from_secs(3600)
            } else {
                deadline.saturating_duration_since(std::time::Instant::now())
            };
            match events.recv_timeout(wait) {
                Ok(StageEvent::Out(stream, data)) => {
                    let (buf, over, msg) = if stream == 0 {
                        (&mut r.stdout, "OL", "stdout length exceeded")
                    } else {
                        (&mut r.stderr, "EL", "stderr length exceeded")
                    };
                    if killed || timed_out {
                        continue;
                    }
                    if (buf.len() + data.len()) as u64 > limits.output {
                        r.status = Some(over);
                        r.message = Some(msg.into());
                        killed = true;
                        let _ = child.kill();
                        continue;
                    }
                    buf.extend_from_slice(&data);
                    r.output.extend_from_slice(&data);
                    on_data(stream, &data);
                }
                Ok(StageEvent::Eof) => eofs += 1,
                Ok(StageEvent::Stdin(data)) => {
                    if let Some(w) = &wtx {
                        let _ = w.send(data);
                    }
                }
                Ok(StageEvent::CloseStdin) => wtx = None,
                Ok(StageEvent::Kill) => {
                    if !killed {
                        killed = true;
                        r.message = Some("killed on request".into());
                        let _ = child.kill();
                    }
                }
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                    timed_out = true;
                    let _ = child.kill();
                }
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break,
            }
        }
        drop(wtx);
        let o = match child.wait() {
            Ok(o) => o,
            Err(e) => return StageResult::internal(e.to_string()),
        };
        r.code = o.exit_code;
        r.signal = o.signal;
        r.cpu_ms = o.cpu_time.as_millis() as u64;
        r.wall_ms = o.wall_time.as_millis() as u64;
        r.memory_bytes = Some(o.max_memory_kib.unwrap_or(o.max_rss_kib) * 1024);
        if r.status.is_none() {
            let (status, message) = match o.verdict {
                _ if timed_out => (Some("TO"), Some("Time limit exceeded".to_string())),
                Verdict::WallTimeLimit | Verdict::CpuTimeLimit => {
                    (Some("TO"), Some("Time limit exceeded".to_string()))
                }
                Verdict::MemoryLimit => (Some("SG"), Some("Memory limit exceeded".to_string())),
                Verdict::SecurityViolation => (
                    Some("SG"),
                    Some(format!(
                        "Forbidden system call {}",
                        o.violation
                            .as_ref()
                            .and_then(|v| v.name.clone())
                            .unwrap_or_default()
                    )),
                ),
                Verdict::Signaled => (
                    Some("SG"),
                    r.message
                        .clone()
                        .or_else(|| o.signal.map(|s| format!("Caught fatal signal {s}"))),
                ),
                Verdict::ExitNonzero => (
                    Some("RE"),
                    Some(format!(
                        "Exited with error status {}",
                        o.exit_code.unwrap_or(0)
                    )),
                ),
                _ => (None, None),
            };
            r.status = status;
            r.message = message;
        }
        if matches!(r.status, Some("TO" | "OL" | "EL")) {
            r.signal = Some(9);
        }
        r
    }
}
