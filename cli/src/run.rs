//! `runcell run [OPTIONS] -- PROGRAM [ARGS...]` and the options it shares with `aggregate`.

use std::ffi::OsString;
use std::io::Write;
use std::os::fd::AsFd;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use runcell::sandbox::LandlockRequire;
use runcell::{
    CgroupMode, Command, Input, Limits, Network, Output, Profile, Report, Sandbox, SandboxBuilder,
};

use crate::{RUNCELL_FAILED, units};

#[derive(Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub opts: RunOpts,
    /// Run in a warm cell of the `runcell warm` server listening at PATH (its profile and
    /// options apply: no sandbox option may be given here, --report may).
    #[arg(long, value_name = "PATH", help_heading = "Profile")]
    pub warm: Option<PathBuf>,
    /// The program and its arguments (after `--`; any bytes, not only UTF-8).
    #[arg(required = true, last = true, value_name = "PROGRAM", value_parser = clap::value_parser!(OsString))]
    pub program: Vec<OsString>,
}

/// Options shared by `run` and `aggregate` (each also settable in a profile). Unset options
/// keep the profile's value.
#[derive(Args, Clone, Default, PartialEq)]
pub struct RunOpts {
    /// A built-in profile name (see `runcell profile list`) or a profile file: a path
    /// containing `/` or ending in `.toml` (e.g. ./mine.toml). [default: default]
    #[arg(long, value_name = "NAME|PATH", help_heading = "Profile")]
    pub profile: Option<String>,

    /// Bind a host path read-only (nosuid, nodev) at DST (default: the same path). Two values
    /// (`--ro-bind SRC DST`, as bubblewrap takes them) are used as they are, so any path
    /// works, `:` included; one value is split at its first `:`.
    #[arg(long = "ro-bind", value_names = ["SRC[:DST]", "DST"], num_args = 1..=2, action = clap::ArgAction::Append, value_parser = clap::value_parser!(OsString), help_heading = "Files")]
    pub ro_bind: Vec<OsString>,
    /// Bind a host path read-write (a weakening: the program can change those files); the
    /// same forms as --ro-bind.
    #[arg(long, value_names = ["SRC[:DST]", "DST"], num_args = 1..=2, action = clap::ArgAction::Append, value_parser = clap::value_parser!(OsString), help_heading = "Files")]
    pub bind: Vec<OsString>,
    /// --ro-bind and --bind as given, one entry per flag (see [`RunOpts::group_binds`]).
    #[arg(skip)]
    pub bind_groups: Vec<(bool, Vec<OsString>)>,
    /// Mount a fresh tmpfs at DST (default size 64M).
    #[arg(long, value_name = "DST[:SIZE]", help_heading = "Files")]
    pub tmpfs: Vec<String>,
    /// Working directory inside the sandbox (gets its own tmpfs unless a mount covers it).
    #[arg(
        long,
        visible_alias = "chdir",
        value_name = "DIR",
        help_heading = "Files"
    )]
    pub workdir: Option<PathBuf>,
    /// Size of the private /tmp (and of the working directory's tmpfs).
    #[arg(long = "tmp-size", value_name = "SIZE", value_parser = units::size, allow_hyphen_values = true, help_heading = "Files")]
    pub tmp_size: Option<u64>,
    /// Mount a private /dev/shm (the built-in profiles already do).
    #[arg(long = "dev-shm", help_heading = "Files")]
    pub dev_shm: bool,
    /// A pseudo-terminal device: a new devpts instance at /dev/pts and /dev/ptmx.
    #[arg(long, help_heading = "Files")]
    pub pty: bool,

    /// Set an environment variable (the environment starts from the profile's [env]).
    #[arg(long, value_name = "KEY=VALUE", help_heading = "Environment")]
    pub env: Vec<String>,
    /// Start from an empty environment instead of the profile's (--env still applies).
    #[arg(
        long = "clear-env",
        visible_alias = "clearenv",
        help_heading = "Environment"
    )]
    pub clear_env: bool,
    /// Hostname inside the sandbox.
    #[arg(long, value_name = "NAME", help_heading = "Environment")]
    pub hostname: Option<String>,
    /// uid of the program inside the sandbox (not 0).
    #[arg(long, value_name = "N", help_heading = "Environment")]
    pub uid: Option<u32>,
    /// gid of the program inside the sandbox (not 0).
    #[arg(long, value_name = "N", help_heading = "Environment")]
    pub gid: Option<u32>,
    /// Fixed host uid the sandbox maps to when runcell runs as root (not 0), instead of one
    /// leased per run from the host id range; --host-gid defaults to the same number.
    #[arg(long = "host-uid", value_name = "N", help_heading = "Environment")]
    pub host_uid: Option<u32>,
    /// Fixed host gid the sandbox maps to when runcell runs as root (not 0); --host-uid
    /// defaults to the same number.
    #[arg(long = "host-gid", value_name = "N", help_heading = "Environment")]
    pub host_gid: Option<u32>,
    /// When runcell runs as root, lease the run's host uid (and the gid of the same number)
    /// from this range, unique among the sandboxes running on the host (default 80000-96383).
    #[arg(long = "host-id-range", value_name = "FIRST-LAST", conflicts_with_all = ["host_uid", "host_gid"], help_heading = "Environment")]
    pub host_id_range: Option<String>,

    /// Wall-clock limit; the whole tree is killed at it.
    #[arg(long = "wall-time", value_name = "SECS", value_parser = units::secs, allow_hyphen_values = true, help_heading = "Limits")]
    pub wall_time: Option<Duration>,
    /// CPU-time limit (user + system).
    #[arg(long = "cpu-time", value_name = "SECS", value_parser = units::secs, allow_hyphen_values = true, help_heading = "Limits")]
    pub cpu_time: Option<Duration>,
    /// Memory limit (of the whole sandbox with cgroups, per process without).
    #[arg(long, value_name = "SIZE", value_parser = units::size, allow_hyphen_values = true, help_heading = "Limits")]
    pub memory: Option<u64>,
    /// Processes (and threads) at once.
    #[arg(
        long,
        value_name = "N",
        allow_hyphen_values = true,
        help_heading = "Limits"
    )]
    pub pids: Option<u64>,
    /// CPU bandwidth of the whole sandbox in CPUs (0.5 = half a core); needs cgroups.
    #[arg(long = "cpu-quota", value_name = "CPUS", value_parser = units::cpus, allow_hyphen_values = true, help_heading = "Limits")]
    pub cpu_quota: Option<u32>,
    /// Limit of stdout and of stderr, each.
    #[arg(long = "output-limit", value_name = "SIZE", value_parser = units::size, allow_hyphen_values = true, help_heading = "Limits")]
    pub output_limit: Option<u64>,
    /// Largest file the program may write.
    #[arg(long = "file-size", value_name = "SIZE", value_parser = units::size, allow_hyphen_values = true, help_heading = "Limits")]
    pub file_size: Option<u64>,
    /// Open file descriptors per process.
    #[arg(
        long = "open-files",
        value_name = "N",
        allow_hyphen_values = true,
        help_heading = "Limits"
    )]
    pub open_files: Option<u64>,
    /// Whether limits go through cgroups: auto (when this process may create them), off, or
    /// require (fail when unavailable).
    #[arg(long, value_name = "MODE", value_parser = ["auto", "off", "require"], help_heading = "Limits")]
    pub cgroups: Option<String>,
    /// Create the sandbox's cgroups under this delegated cgroup v2 directory.
    #[arg(long = "cgroup-v2-base", value_name = "DIR", help_heading = "Limits")]
    pub cgroup_v2_base: Option<PathBuf>,

    /// Network: none, or loopback (a private `lo`; the host's network stays unreachable).
    #[arg(long, value_parser = ["none", "loopback"], help_heading = "Security")]
    pub network: Option<String>,
    /// seccomp policy: a built-in name (default, strict), a file (contains / or ends in
    /// .toml), or none (a weakening).
    #[arg(long, value_name = "POLICY", help_heading = "Security")]
    pub seccomp: Option<String>,
    /// Landlock features that must be enforced (comma-separated: fs, net, scope).
    #[arg(long = "landlock-require", value_name = "FEATURES", value_delimiter = ',', value_parser = ["fs", "net", "scope"], help_heading = "Security")]
    pub landlock_require: Option<Vec<String>>,
    /// Enforce the landlock features the kernel has instead of failing (a weakening).
    #[arg(long = "landlock-best-effort", help_heading = "Security")]
    pub landlock_best_effort: bool,
    /// Turn landlock off (a weakening).
    #[arg(long = "no-landlock", help_heading = "Security")]
    pub no_landlock: bool,
    /// Let the program create namespaces (a weakening, for a sandbox inside a sandbox; the
    /// seccomp policy must allow the calls too).
    #[arg(long = "allow-nested-namespaces", help_heading = "Security")]
    pub allow_nested_namespaces: bool,

    /// Write the JSON report to PATH (- for stderr).
    #[arg(long, value_name = "PATH", help_heading = "Output")]
    pub report: Option<String>,
}

/// A bind's source and destination: two values as given, or one split at its first `:` (the
/// destination defaults to the source).
fn bind_pair(v: &[OsString]) -> (PathBuf, PathBuf) {
    use std::os::unix::ffi::{OsStrExt, OsStringExt};
    match v {
        [src, dst] => (PathBuf::from(src), PathBuf::from(dst)),
        [one, ..] => {
            let b = one.as_bytes();
            match b.iter().position(|&c| c == b':') {
                Some(i) => (
                    PathBuf::from(OsString::from_vec(b[..i].to_vec())),
                    PathBuf::from(OsString::from_vec(b[i + 1..].to_vec())),
                ),
                None => (PathBuf::from(one), PathBuf::from(one)),
            }
        }
        [] => (PathBuf::new(), PathBuf::new()),
    }
}

fn split_pair(s: &str) -> (String, Option<String>) {
    match s.split_once(':') {
        Some((a, b)) => (a.to_string(), Some(b.to_string())),
        None => (s.to_string(), None),
    }
}

fn config(what: String) -> runcell::Error {
    runcell::Error::Config { what }
}

impl RunOpts {
    /// Group the --ro-bind/--bind values by flag (clap's derive flattens them; a flag may carry
    /// one value or two).
    pub fn group_binds(&mut self, m: &clap::ArgMatches) {
        self.bind_groups.clear();
        for (id, read_only) in [("ro_bind", true), ("bind", false)] {
            if let Ok(Some(occ)) = m.try_get_occurrences::<OsString>(id) {
                for o in occ {
                    self.bind_groups.push((read_only, o.cloned().collect()));
                }
            }
        }
    }

    /// The sandbox builder these options describe; `default_profile` when --profile is unset.
    pub fn builder(&self, default_profile: &str) -> runcell::Result<SandboxBuilder> {
        let profile = Profile::resolve(self.profile.as_deref().unwrap_or(default_profile))?;
        let (uid, gid) = (profile.uid, profile.gid);
        let mut b = Sandbox::builder().profile(profile);
        for (read_only, m) in &self.bind_groups {
            let (src, dst) = bind_pair(m);
            b = if *read_only {
                b.ro_bind(src, dst)
            } else {
                b.bind(src, dst)
            };
        }
        for m in &self.tmpfs {
            let (dst, size) = split_pair(m);
            let size = match size {
                Some(s) => units::size(&s).map_err(|e| config(format!("--tmpfs {m}: {e}")))?,
                None => 64 << 20,
            };
            b = b.tmpfs(dst, size);
        }
        if let Some(w) = &self.workdir {
            b = b.workdir(w);
        }
        if self.clear_env {
            b = b.env_clear();
        }
        for kv in &self.env {
            let Some((k, v)) = kv.split_once('=') else {
                return Err(config(format!("--env expects KEY=VALUE, got {kv:?}")));
            };
            b = b.env(k, v);
        }
        if let Some(h) = &self.hostname {
            b = b.hostname(h);
        }
        if self.uid.is_some() || self.gid.is_some() {
            b = b.ids(self.uid.unwrap_or(uid), self.gid.unwrap_or(gid));
        }
        match (self.host_uid, self.host_gid) {
            (Some(u), g) => b = b.host_ids(u, g.unwrap_or(u)),
            (None, Some(g)) => b = b.host_ids(g, g),
            (None, None) => {}
        }
        if let Some(r) = &self.host_id_range {
            let range = runcell::HostIdRange::parse(r).map_err(|e| match e {
                runcell::Error::Config { what } => config(format!("--host-id-range: {what}")),
                e => e,
            })?;
            b = b.host_id_range(range);
        }
        if let Some(d) = self.wall_time {
            b = b.wall_time(d);
        }
        if let Some(d) = self.cpu_time {
            b = b.cpu_time(d);
        }
        if let Some(n) = self.memory {
            b = b.memory(n);
        }
        if let Some(n) = self.pids {
            b = b.pids(n);
        }
        if let Some(q) = self.cpu_quota {
            b = b.cpu_quota(q);
        }
        if let Some(n) = self.output_limit {
            b = b.output_limit(n);
        }
        if let Some(n) = self.file_size {
            b = b.file_size(n);
        }
        if let Some(n) = self.open_files {
            b = b.open_files(n);
        }
        if let Some(n) = self.tmp_size {
            b = b.tmp_size(n);
        }
        if self.dev_shm {
            b = b.dev_shm(true);
        }
        if self.pty {
            b = b.devpts(true);
        }
        if let Some(m) = &self.cgroups {
            b = b.cgroups(match m.as_str() {
                "off" => CgroupMode::Off,
                "require" => CgroupMode::Require,
                _ => CgroupMode::Auto,
            });
        }
        if let Some(d) = &self.cgroup_v2_base {
            b = b.cgroup_v2_base(d);
        }
        if let Some(n) = &self.network {
            b = b.network(if n == "loopback" {
                Network::Loopback
            } else {
                Network::None
            });
        }
        if let Some(p) = &self.seccomp {
            b = b.seccomp(p);
        }
        if let Some(features) = &self.landlock_require {
            let mut r = LandlockRequire::default();
            for f in features {
                match f.as_str() {
                    "fs" => r.fs = true,
                    "net" => r.net = true,
                    _ => r.scope = true,
                }
            }
            b = b.landlock_require(r);
        }
        if self.landlock_best_effort {
            b = b.landlock_best_effort(true);
        }
        if self.no_landlock {
            b = b.without_landlock();
        }
        if self.allow_nested_namespaces {
            b = b.allow_nested_namespaces();
        }
        Ok(b)
    }
}

/// The part of `run --help` that is computed: built-in profiles, default limits, the profile
/// format and the exit codes.
pub fn long_help() -> String {
    let mut s = String::from("Built-in profiles (runcell profile show NAME prints one):\n");
    for name in runcell::profile::builtin_names() {
        let desc = Profile::named(name)
            .map(|p| p.description)
            .unwrap_or_default();
        s.push_str(&format!("  {name:<8} {desc}\n"));
    }
    let l = Limits::default();
    s.push_str(&format!(
        "\nDefault limits (profile `default`): wall time {} s, CPU time {} s, memory {} MiB, \
         {} processes, output {} KiB per stream, file size {} MiB, {} open files, /tmp {} MiB.\n",
        l.wall_time.as_secs_f64(),
        l.cpu_time.as_secs_f64(),
        l.memory >> 20,
        l.pids,
        l.output >> 10,
        l.file_size >> 20,
        l.open_files,
        l.tmp_size >> 20,
    ));
    s.push_str(
        "\nProfiles are TOML: the keys are documented at the top of `runcell profile show \
         default`; a file may `extends = \"NAME\"` a built-in. SIZE takes K, M, G, T (binary); \
         SECS takes decimals (0.5).\n\
         \nExit status: the program's exit code; 128+N when it was killed by signal N (a \
         limit kills with SIGKILL: 137, also for a run ended at the wall-time or output limit \
         whose program exited on its own as the kill was sent); 125 when runcell itself failed (bad flag, bad \
         profile, setup error), with a one-line error on stderr. --report gives the verdict \
         (ok, exit_nonzero, signaled, wall_time_limit, cpu_time_limit, memory_limit, \
         output_limit, security_violation, setup_error).\n\
         \nExample: echo 'print(6 * 7)' | runcell run --profile python -- python3 -",
    );
    s
}

pub fn write_report(path: Option<&str>, json: &str) {
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

/// Report a failure of runcell itself: one line on stderr, a `setup_error` report, exit 125.
pub fn fail(report: Option<&str>, e: &dyn std::fmt::Display) -> ExitCode {
    let msg = e.to_string().replace('\n', " ");
    eprintln!("runcell: {msg}");
    if let Ok(json) = serde_json::to_string_pretty(&Report::setup_error(msg)) {
        write_report(report, &json);
    }
    ExitCode::from(RUNCELL_FAILED)
}

/// Parse the run's built-in profile and its built-in seccomp policy, and compile the policy,
/// on a thread of their own while the main thread parses the arguments: the library caches
/// each per process, and a one-shot `runcell run` otherwise pays for them in series (~0.3 ms
/// of TOML on a fresh process). The caches never wait: a build that gets there first parses
/// again itself (the same result, the work done twice), so this can only save time. Only
/// built-in names: a profile file is read by the run itself, after its arguments were checked.
pub fn prewarm(argv: &[OsString]) {
    let Some(name) = builtin_profile_arg(argv) else {
        return;
    };
    let _ = std::thread::Builder::new()
        .name("runcell-prewarm".into())
        .stack_size(256 << 10)
        .spawn(move || {
            let Ok(profile) = Profile::named(&name) else {
                return;
            };
            if let Ok(policy) = runcell::sandbox::seccomp::SeccompPolicy::named(&profile.seccomp) {
                let _ = policy.compile(profile.network == Network::Loopback);
            }
        });
}

/// The built-in profile `runcell run` ARGV asks for: the last `--profile NAME` or
/// `--profile=NAME` before `--` (clap refuses a second one, so any pick is fine then),
/// `default` without one; `None` for a profile file or an unknown name.
fn builtin_profile_arg(argv: &[OsString]) -> Option<String> {
    let mut name = "default".to_string();
    let mut it = argv.iter().skip(2);
    while let Some(a) = it.next() {
        let Some(a) = a.to_str() else { continue };
        if a == "--" {
            break;
        }
        if a == "--warm" || a.starts_with("--warm=") {
            // The server has parsed its own.
            return None;
        }
        if a == "--profile" {
            name = it.next()?.to_str()?.to_string();
        } else if let Some(v) = a.strip_prefix("--profile=") {
            name = v.to_string();
        }
    }
    runcell::profile::builtin_names()
        .contains(&name.as_str())
        .then_some(name)
}

pub fn main(args: &RunArgs) -> ExitCode {
    let opts = &args.opts;
    let report = opts.report.as_deref();
    if let Some(path) = &args.warm {
        let sandbox_opts = RunOpts {
            report: None,
            ..opts.clone()
        };
        if sandbox_opts != RunOpts::default() {
            return fail(
                report,
                &"--warm takes no sandbox options: the server's profile and options apply \
                  (see runcell warm --help)",
            );
        }
        return crate::warm::client(path, &args.program, report);
    }
    // One run per invocation: a single cgroup leaf, no pool (see `single_run`).
    let sandbox = match opts
        .builder("default")
        .and_then(|b| b.single_run(true).build())
    {
        Ok(s) => s,
        Err(e) => return fail(report, &e),
    };
    let Some((prog, rest)) = args.program.split_first() else {
        return fail(report, &"no program given");
    };
    let cmd = Command::new(prog).args(rest);
    let _ = std::io::stdout().flush();
    let (stdin, stdout, stderr) = (std::io::stdin(), std::io::stdout(), std::io::stderr());
    match sandbox.run_with(
        &cmd,
        Input::Fd(stdin.as_fd()),
        Output::Fd(stdout.as_fd()),
        Output::Fd(stderr.as_fd()),
    ) {
        Ok(outcome) => {
            if report.is_some() {
                write_report(report, &outcome.report_json());
            }
            ExitCode::from(outcome.shell_status().clamp(0, 255) as u8)
        }
        Err(e) => fail(report, &e),
    }
}

#[cfg(test)]
mod tests {
    use super::builtin_profile_arg;
    use std::ffi::OsString;

    fn argv(a: &[&str]) -> Vec<OsString> {
        ["runcell", "run"]
            .iter()
            .chain(a)
            .map(OsString::from)
            .collect()
    }

    #[test]
    fn the_prewarmed_profile_is_the_one_clap_takes() {
        let got = |a: &[&str]| builtin_profile_arg(&argv(a));
        assert_eq!(got(&["--", "python3", "-"]).as_deref(), Some("default"));
        assert_eq!(
            got(&["--profile", "python", "--", "x"]).as_deref(),
            Some("python")
        );
        assert_eq!(got(&["--profile=node", "--", "x"]).as_deref(), Some("node"));
        // Two are a usage error for clap; prewarming either is harmless.
        assert_eq!(
            got(&["--profile", "c", "--profile=java", "--", "x"]).as_deref(),
            Some("java")
        );
        // The program's own arguments are not runcell's.
        assert_eq!(
            got(&["--", "prog", "--profile", "python"]).as_deref(),
            Some("default")
        );
        // Files and unknown names are left to the run.
        assert_eq!(got(&["--profile", "./mine.toml", "--", "x"]), None);
        assert_eq!(got(&["--profile", "nosuch", "--", "x"]), None);
        assert_eq!(got(&["--profile"]), None);
        assert_eq!(got(&["--warm", "/run/w.sock", "--", "x"]), None);
        assert_eq!(got(&["--warm=/run/w.sock", "--", "x"]), None);
    }
}
