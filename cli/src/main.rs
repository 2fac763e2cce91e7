//! The `runcell` command line (DESIGN §5). Thin: parses flags, calls the library.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use runcell::sandbox::limits::{parse_secs, parse_size};
use runcell::{Command, Input, Network, Output, Profile, Report, Sandbox, SandboxBuilder};

mod serve;

/// Exit status when runcell itself fails (bad flag, bad profile, setup error).
const RUNCELL_FAILED: u8 = 125;

#[derive(Parser)]
#[command(
    name = "runcell",
    version,
    about = "Run untrusted code in a hardened, disposable Linux sandbox"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run PROGRAM in a sandbox; runcell's stdin is the program's stdin.
    Run {
        #[command(flatten)]
        opts: RunOpts,
        /// The program and its arguments (after `--`).
        #[arg(required = true, last = true, value_name = "PROGRAM")]
        program: Vec<String>,
    },
    /// Statically analyze Python files (FILE may be - for stdin).
    #[cfg(feature = "analyze")]
    Analyze {
        /// A rule file to use instead of the default rules.
        #[arg(long)]
        rules: Option<PathBuf>,
        /// Output format.
        #[arg(long, default_value = "text", value_parser = ["text", "json"])]
        format: String,
        #[arg(required = true, value_name = "FILE")]
        files: Vec<String>,
    },
    /// Render user merge sections into a template and run it over partial outputs.
    #[cfg(feature = "aggregate")]
    Aggregate {
        /// The sections file.
        #[arg(long)]
        sections: PathBuf,
        /// Directory of partial outputs, mounted read-only at /inputs.
        #[arg(long)]
        inputs: PathBuf,
        /// A host template instead of the default one.
        #[arg(long)]
        template: Option<PathBuf>,
        #[command(flatten)]
        opts: RunOpts,
    },
    /// Serve the Judge0- and Piston-compatible HTTP API (with in-process workers).
    Serve(serve::ServeArgs),
    /// Run jobs from a database shared with `serve` API nodes.
    Worker(serve::WorkerArgs),
}

/// Options shared by `run` and `aggregate` (each also settable in a profile).
#[derive(Args, Clone, Default)]
struct RunOpts {
    /// Profile name (looked up in the built-ins and policies/profiles) or path.
    #[arg(long)]
    profile: Option<String>,
    /// Bind a host path read-only: SRC[:DST].
    #[arg(long = "ro-bind", value_name = "SRC[:DST]")]
    ro_bind: Vec<String>,
    /// Bind a host path read-write: SRC[:DST].
    #[arg(long, value_name = "SRC[:DST]")]
    bind: Vec<String>,
    /// Mount a tmpfs: DST[:SIZE].
    #[arg(long, value_name = "DST[:SIZE]")]
    tmpfs: Vec<String>,
    /// Working directory inside the sandbox.
    #[arg(long)]
    workdir: Option<PathBuf>,
    /// Set an environment variable: KEY=VALUE.
    #[arg(long, value_name = "KEY=VALUE")]
    env: Vec<String>,
    /// Wall-time limit in seconds.
    #[arg(long = "wall-time", value_name = "SECS")]
    wall_time: Option<String>,
    /// CPU-time limit in seconds.
    #[arg(long = "cpu-time", value_name = "SECS")]
    cpu_time: Option<String>,
    /// Memory limit (K, M, G suffixes).
    #[arg(long, value_name = "SIZE")]
    memory: Option<String>,
    /// Process limit.
    #[arg(long, value_name = "N")]
    pids: Option<u64>,
    /// Limit of stdout and of stderr each.
    #[arg(long = "output-limit", value_name = "SIZE")]
    output_limit: Option<String>,
    /// Largest file the program may write.
    #[arg(long = "file-size", value_name = "SIZE")]
    file_size: Option<String>,
    /// none or loopback.
    #[arg(long, value_parser = ["none", "loopback"])]
    network: Option<String>,
    /// Write the JSON report to PATH (- for stderr).
    #[arg(long, value_name = "PATH")]
    report: Option<String>,
}

fn split_pair(s: &str) -> (String, Option<String>) {
    match s.split_once(':') {
        Some((a, b)) => (a.to_string(), Some(b.to_string())),
        None => (s.to_string(), None),
    }
}

impl RunOpts {
    fn builder(&self) -> runcell::Result<SandboxBuilder> {
        let profile = Profile::resolve(self.profile.as_deref().unwrap_or("default"))?;
        let mut b = Sandbox::builder().profile(profile);
        for m in &self.ro_bind {
            let (src, dst) = split_pair(m);
            b = b.ro_bind(&src, dst.unwrap_or_else(|| src.clone()));
        }
        for m in &self.bind {
            let (src, dst) = split_pair(m);
            b = b.bind(&src, dst.unwrap_or_else(|| src.clone()));
        }
        for m in &self.tmpfs {
            let (dst, size) = split_pair(m);
            let size = match size {
                Some(s) => parse_size(&s)?,
                None => 64 << 20,
            };
            b = b.tmpfs(dst, size);
        }
        if let Some(w) = &self.workdir {
            b = b.workdir(w);
        }
        for kv in &self.env {
            let Some((k, v)) = kv.split_once('=') else {
                return Err(runcell::Error::Config {
                    what: format!("--env expects KEY=VALUE, got {kv:?}"),
                });
            };
            b = b.env(k, v);
        }
        if let Some(s) = &self.wall_time {
            b = b.wall_time(parse_secs(s)?);
        }
        if let Some(s) = &self.cpu_time {
            b = b.cpu_time(parse_secs(s)?);
        }
        if let Some(s) = &self.memory {
            b = b.memory(parse_size(s)?);
        }
        if let Some(n) = self.pids {
            b = b.pids(n);
        }
        if let Some(s) = &self.output_limit {
            b = b.output_limit(parse_size(s)?);
        }
        if let Some(s) = &self.file_size {
            b = b.file_size(parse_size(s)?);
        }
        if let Some(n) = &self.network {
            b = b.network(if n == "loopback" {
                Network::Loopback
            } else {
                Network::None
            });
        }
        Ok(b)
    }
}

fn write_report(path: Option<&str>, json: &str) {
    match path {
        None => {}
        Some("-") => {
            let _ = writeln!(std::io::stderr(), "{json}");
        }
        Some(p) => {
            if let Err(e) = std::fs::write(p, format!("{json}\n")) {
                eprintln!("runcell: cannot write report {p}: {e}");
            }
        }
    }
}

fn fail(report: Option<&str>, e: &dyn std::fmt::Display) -> ExitCode {
    let msg = e.to_string().replace('\n', " ");
    eprintln!("runcell: {msg}");
    if let Ok(json) = serde_json::to_string_pretty(&Report::setup_error(msg)) {
        write_report(report, &json);
    }
    ExitCode::from(RUNCELL_FAILED)
}

fn run(opts: &RunOpts, program: &[String]) -> ExitCode {
    let report = opts.report.as_deref();
    let sandbox = match opts.builder().and_then(SandboxBuilder::build) {
        Ok(s) => s,
        Err(e) => return fail(report, &e),
    };
    let Some((prog, args)) = program.split_first() else {
        return fail(report, &"no program given");
    };
    let cmd = Command::new(prog).args(args);
    let _ = std::io::stdout().flush();
    match sandbox.run_with(&cmd, Input::Fd(0), Output::Fd(1), Output::Fd(2)) {
        Ok(outcome) => {
            write_report(report, &outcome.report_json());
            ExitCode::from(outcome.shell_status().clamp(0, 255) as u8)
        }
        Err(e) => fail(report, &e),
    }
}

#[cfg(feature = "analyze")]
fn analyze(rules: Option<&std::path::Path>, format: &str, files: &[String]) -> ExitCode {
    use std::io::Read;
    let rules = match rules {
        Some(p) => match runcell::analyze::Rules::load(p) {
            Ok(r) => r,
            Err(e) => {
                eprintln!("runcell: {e}");
                return ExitCode::from(2);
            }
        },
        None => runcell::analyze::Rules::default(),
    };
    let mut reports = Vec::new();
    for f in files {
        let mut bytes = Vec::new();
        let read = if f == "-" {
            std::io::stdin().read_to_end(&mut bytes).map(|_| ())
        } else {
            std::fs::File::open(f).and_then(|mut h| h.read_to_end(&mut bytes).map(|_| ()))
        };
        if let Err(e) = read {
            eprintln!("runcell: cannot read {f}: {e}");
            return ExitCode::from(2);
        }
        let text = String::from_utf8_lossy(&bytes);
        reports.push((f.clone(), runcell::analyze::python(&text, &rules)));
    }
    let out = if format == "json" {
        runcell::analyze::render_json(&reports)
    } else {
        runcell::analyze::render_text(&reports)
    };
    print!("{out}");
    if reports.iter().any(|(_, r)| r.is_blocking()) {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

#[cfg(feature = "aggregate")]
fn aggregate(
    sections: &std::path::Path,
    inputs: &std::path::Path,
    template: Option<&std::path::Path>,
    opts: &RunOpts,
) -> ExitCode {
    let report = opts.report.as_deref();
    let mut opts = opts.clone();
    if opts.profile.is_none() {
        opts.profile = Some("python".into());
    }
    let sandbox = match opts.builder().and_then(SandboxBuilder::build) {
        Ok(s) => s,
        Err(e) => return fail(report, &e),
    };
    match runcell::aggregate::cli(sections, inputs, template, &sandbox) {
        Ok(outcome) => {
            let _ = std::io::stdout().write_all(&outcome.stdout);
            let _ = std::io::stderr().write_all(&outcome.stderr);
            write_report(report, &outcome.report_json());
            ExitCode::from(outcome.shell_status().clamp(0, 255) as u8)
        }
        Err(e) => fail(report, &e),
    }
}

/// Make sure fds 0, 1 and 2 are open (on /dev/null if the caller closed them), so that no
/// pipe runcell creates can land on a standard stream number and be mistaken for one.
fn ensure_std_fds() {
    use std::os::fd::IntoRawFd;
    for fd in 0..3 {
        if std::path::Path::new(&format!("/proc/self/fd/{fd}")).exists() {
            continue;
        }
        let f = if fd == 0 {
            std::fs::File::open("/dev/null")
        } else {
            std::fs::OpenOptions::new().write(true).open("/dev/null")
        };
        // The lowest free number is the one that was missing; keep it open for good.
        if let Ok(f) = f {
            let _ = f.into_raw_fd();
        }
    }
}

fn main() -> ExitCode {
    ensure_std_fds();
    let argv: Vec<String> = std::env::args().collect();
    let usage_status = if argv.get(1).map(String::as_str) == Some("analyze") {
        2
    } else {
        RUNCELL_FAILED
    };
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { usage_status } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    match &cli.cmd {
        Cmd::Run { opts, program } => run(opts, program),
        #[cfg(feature = "analyze")]
        Cmd::Analyze {
            rules,
            format,
            files,
        } => analyze(rules.as_deref(), format, files),
        #[cfg(feature = "aggregate")]
        Cmd::Aggregate {
            sections,
            inputs,
            template,
            opts,
        } => aggregate(sections, inputs, template.as_deref(), opts),
        Cmd::Serve(args) => serve::serve(args),
        Cmd::Worker(args) => serve::worker(args),
    }
}
