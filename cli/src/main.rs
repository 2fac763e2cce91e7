//! The `runcell` command line (DESIGN §5). Thin: parses flags, calls the library.
//!
//! One module per subcommand; to add a subcommand, add a variant to [`Cmd`] and one arm to
//! `dispatch`.

#[cfg(feature = "aggregate")]
mod aggregate;
#[cfg(feature = "analyze")]
mod analyze;
#[cfg(feature = "analyze")]
mod analyze_cmd;
mod check;
#[cfg(all(target_arch = "x86_64", target_os = "linux", target_env = "gnu"))]
mod early;
mod profile;
mod run;
mod serve;
mod units;
mod warm;

use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

/// Exit status when runcell itself fails (bad flag, bad profile, setup error).
pub const RUNCELL_FAILED: u8 = 125;

#[derive(Parser)]
#[command(
    name = "runcell",
    version,
    about = "Run untrusted code in a hardened, disposable Linux sandbox",
    after_help = "Start with `runcell check` to see what this host supports."
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run PROGRAM in a sandbox; runcell's stdin is the program's stdin.
    Run(run::RunArgs),
    /// Report what this host supports and what runcell will enforce (exit 0 when the default
    /// profile can run).
    Check(check::CheckArgs),
    /// List or print the built-in profiles.
    #[command(subcommand)]
    Profile(profile::ProfileCmd),
    /// Statically analyze Python files (FILE may be - for stdin).
    #[cfg(feature = "analyze")]
    Analyze(analyze::AnalyzeArgs),
    /// Render user merge sections into a template and run it over partial outputs.
    #[cfg(feature = "aggregate")]
    Aggregate(aggregate::AggregateArgs),
    /// Serve the Judge0- and Piston-compatible HTTP API (with in-process workers).
    Serve(serve::ServeArgs),
    /// Run queued submissions from a shared database (a worker of a fleet).
    Worker(serve::WorkerArgs),
    /// Keep warm cells for `runcell run --warm PATH` behind a local socket (one per job).
    Warm(warm::WarmArgs),
}

fn dispatch(cmd: Cmd) -> ExitCode {
    match cmd {
        Cmd::Run(a) => run::main(&a),
        Cmd::Check(a) => check::main(&a),
        Cmd::Profile(c) => profile::main(&c),
        #[cfg(feature = "analyze")]
        Cmd::Analyze(a) => analyze::main(&a),
        #[cfg(feature = "aggregate")]
        Cmd::Aggregate(a) => aggregate::main(&a),
        Cmd::Serve(a) => serve::serve(&a),
        Cmd::Worker(a) => serve::worker(&a),
        Cmd::Warm(a) => warm::serve(&a),
    }
}

/// Make sure fds 0, 1 and 2 are open (on /dev/null if the caller closed them), so that no
/// pipe runcell creates can land on a standard stream number and be mistaken for one.
fn ensure_std_fds() {
    use std::os::fd::IntoRawFd;
    for fd in 0..3 {
        // SAFETY: F_GETFD on any number only reads that descriptor's flags.
        if unsafe { libc::fcntl(fd, libc::F_GETFD) } != -1 {
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

/// A clap error as one line: `runcell: <message> (see runcell <sub> --help)`, without the
/// usage block and without tips (clap suggests `-- -1` for a negative number, which would
/// make `-1` the program).
fn one_line(e: &clap::Error, sub: Option<&str>) -> String {
    let text = e.to_string();
    // The message is the first paragraph (a list of missing arguments continues it on
    // indented lines); the usage block and tips follow after a blank line.
    let para: Vec<&str> = text
        .lines()
        .map(str::trim)
        .skip_while(|l| l.is_empty())
        .take_while(|l| !l.is_empty() && !l.starts_with("Usage:") && !l.starts_with("tip:"))
        .collect();
    let joined = if para.is_empty() {
        "invalid arguments".to_string()
    } else {
        para.join(" ")
    };
    let mut msg = joined
        .strip_prefix("error: ")
        .unwrap_or(&joined)
        .to_string();
    // Keep a "did you mean" tip; drop the others (the `-- VALUE` one misleads here).
    if let Some(tip) = text
        .lines()
        .map(str::trim)
        .find_map(|l| l.strip_prefix("tip: a similar"))
    {
        msg.push_str(&format!("; a similar{tip}"));
    }
    let help = match sub {
        Some(s) => format!("runcell {s} --help"),
        None => "runcell --help".to_string(),
    };
    format!("runcell: {msg} (see {help})")
}

fn main() -> ExitCode {
    // Arguments are not always UTF-8 (file names, program arguments): never panic on them.
    let argv: Vec<std::ffi::OsString> = std::env::args_os().collect();
    // The warm client's request already sent before libc started (src/early): read the reply.
    #[cfg(all(target_arch = "x86_64", target_os = "linux", target_env = "gnu"))]
    match early::take() {
        Some(early::Handover::Sent(conn)) => return warm::resume(&argv, conn, Ok(())),
        Some(early::Handover::SendFailed(conn, e)) => return warm::resume(&argv, conn, Err(e)),
        None => {}
    }
    ensure_std_fds();
    let sub = argv
        .get(1)
        .and_then(|s| s.to_str())
        .filter(|s| !s.starts_with('-'));
    // `analyze` keeps its own contract: 2 on a usage error.
    let usage_status = if sub == Some("analyze") {
        2
    } else {
        RUNCELL_FAILED
    };
    // The computed part of `run --help` (every built-in profile parsed) only when help can be
    // printed: building it costs more than the rest of a run's argument parsing.
    let wants_help = argv
        .iter()
        .skip(1)
        .any(|a| a == "--help" || a == "-h" || a == "help");
    if sub == Some("run") && !wants_help {
        // The warm client's one shape, without building the whole command line parser
        // (~0.15 ms of a ~1 ms client); anything else goes through clap as usual.
        if let Some((path, report, program)) = warm::fast_args(&argv) {
            return warm::client(&path, program, report);
        }
        run::prewarm(&argv);
    }
    let mut command = Cli::command();
    if wants_help {
        command = command.mut_subcommand("run", |c| c.after_long_help(run::long_help()));
    }
    let parsed = command.try_get_matches_from(&argv).and_then(|m| {
        let mut cli = Cli::from_arg_matches(&m)?;
        if let Some((_, sub)) = m.subcommand() {
            match &mut cli.cmd {
                Cmd::Run(a) => a.opts.group_binds(sub),
                Cmd::Warm(a) => a.opts.group_binds(sub),
                #[cfg(feature = "aggregate")]
                Cmd::Aggregate(a) => a.opts.group_binds(sub),
                _ => {}
            }
        }
        Ok(cli)
    });
    match parsed {
        Ok(cli) => dispatch(cli.cmd),
        Err(e) if !e.use_stderr() => {
            // --help and --version.
            let _ = e.print();
            ExitCode::SUCCESS
        }
        Err(e) if e.kind() == clap::error::ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            // `runcell` or `runcell profile` alone: name what is missing, in one line.
            let cmd = Cli::command();
            let (path, cmd) = match sub.and_then(|s| cmd.find_subcommand(s)) {
                Some(c) => (format!("runcell {}", c.get_name()), c.clone()),
                None => ("runcell".to_string(), cmd),
            };
            let names: Vec<&str> = cmd.get_subcommands().map(|c| c.get_name()).collect();
            eprintln!(
                "runcell: {path} needs a subcommand: {} (see {path} --help)",
                names.join(", ")
            );
            ExitCode::from(usage_status)
        }
        Err(e) => {
            eprintln!("{}", one_line(&e, sub));
            ExitCode::from(usage_status)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsString;

    /// Every argv the warm client's fast path takes means, to clap, exactly the same.
    #[test]
    fn the_warm_fast_path_agrees_with_clap() {
        let cases: &[&[&str]] = &[
            &["run", "--warm", "/w.sock", "--", "true"],
            &["run", "--warm=/w.sock", "--", "sh", "-c", "exit 3"],
            &[
                "run", "--report", "r.json", "--warm", "/w", "--", "a", "--", "-x",
            ],
            &["run", "--warm", "/w", "--report=-", "--", "p"],
            &["run", "--warm", "/w", "--report", "-", "--", "p"],
            &["run", "--warm", "/w", "--", "--report", "x"],
            // Taken by clap alone (the fast path declines):
            &["run", "--warm", "/w", "--memory", "1M", "--", "p"],
            &["run", "--warm", "/w", "--warm", "/v", "--", "p"],
            &["run", "--warm", "/w", "--"],
            &["run", "--warm", "--", "p"],
            &["run", "--warm", "-x", "--", "p"],
            &["run", "--warm=", "--", "p"],
            &["run", "--report", "r", "--", "p"],
            &["run", "--warm", "/w", "p"],
            &["run", "--", "p"],
            &["analyze", "--warm", "/w", "--", "p"],
        ];
        let mut fast = 0;
        for case in cases {
            let argv: Vec<OsString> = std::iter::once("runcell")
                .chain(case.iter().copied())
                .map(OsString::from)
                .collect();
            let Some((path, report, program)) = warm::fast_args(&argv) else {
                continue;
            };
            fast += 1;
            let cli = Cli::try_parse_from(&argv).unwrap_or_else(|e| panic!("{case:?}: {e}"));
            let Cmd::Run(a) = cli.cmd else {
                panic!("{case:?}: not run")
            };
            assert_eq!(a.warm.as_deref(), Some(path.as_path()), "{case:?}");
            assert_eq!(a.opts.report.as_deref(), report, "{case:?}");
            assert_eq!(a.program, program, "{case:?}");
            let rest = run::RunOpts {
                report: None,
                ..a.opts.clone()
            };
            assert!(
                rest == run::RunOpts::default(),
                "{case:?}: other options set"
            );
        }
        assert_eq!(fast, 6, "the fast path took a different number of cases");
    }
}
