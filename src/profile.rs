//! Profiles: the serde model of `policies/profiles/*.toml`.
//!
//! A profile is the whole default configuration of a sandbox: mounts, environment, limits,
//! network, seccomp policy, landlock requirements. The built-in profiles are embedded in the
//! crate, so `Profile::named("python")` works without the repository's files; a host can load
//! its own with [`Profile::load`]. A profile may `extends` another: its mounts are appended and
//! its env, limits and scalars override.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::error::{Error, Result};
use crate::sandbox::CgroupMode;
use crate::sandbox::LandlockRequire;
use crate::sandbox::fork::PerProcess;
use crate::sandbox::{HostIdRange, HostIds};
use crate::sandbox::{Limits, parse_secs, parse_size, secs_f64};
use crate::sandbox::{Mount, MountKind};

/// Network access of a sandbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Network {
    /// An empty network namespace: no interface but a down `lo`.
    None,
    /// A private network namespace with `lo` up (the host's network stays unreachable).
    Loopback,
}

impl Network {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Network::None => "none",
            Network::Loopback => "loopback",
        }
    }
}

/// A resolved profile: every value present.
///
/// Get one with [`Profile::named`] (built-in), [`Profile::load`] (a file),
/// [`Profile::from_toml_str`] or [`Profile::resolve`] (what `--profile` accepts), and hand it
/// to [`SandboxBuilder::profile`](crate::SandboxBuilder::profile).
///
/// ```
/// use runcell::Profile;
///
/// let p = Profile::named("python")?;
/// assert_eq!(p.name, "python");
/// let custom = Profile::from_toml_str(
///     "extends = \"python\"\n[limits]\nmemory = \"128M\"\nwall_time = 2.5\n",
///     "inline",
/// )?;
/// assert_eq!(custom.limits.memory, 128 << 20);
/// assert_eq!(custom.mounts, p.mounts);
/// # Ok::<(), runcell::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Profile {
    /// Name of the profile (the built-in name, or the file's stem).
    pub name: String,
    /// Free text saying what the profile is for.
    pub description: String,
    /// Hostname inside the sandbox (default `runcell`).
    pub hostname: String,
    /// Working directory inside the sandbox (default `/tmp`); gets its own tmpfs unless a
    /// mount covers it.
    pub workdir: PathBuf,
    /// Network of the sandbox (default none).
    pub network: Network,
    /// Seccomp policy: a built-in name (`default`, `strict`), a path, or `none`.
    pub seccomp: String,
    /// uid of the program inside the sandbox (never 0; default 1000).
    pub uid: u32,
    /// gid of the program inside the sandbox (never 0; default 1000).
    pub gid: u32,
    /// Host ids the sandbox's uid/gid map to when the host runs as root: by default each run
    /// leases its own from [`HostIdRange::DEFAULT`] (keys `host_id_range = "FIRST-LAST"`, or
    /// `host_uid`/`host_gid` for fixed ids). An unprivileged host maps to itself.
    pub host_ids: HostIds,
    /// Mount a private tmpfs at /dev/shm.
    pub dev_shm: bool,
    /// A new devpts instance at /dev/pts and /dev/ptmx (programs that need a terminal).
    pub devpts: bool,
    /// Whether limits go through cgroups (`auto`: when the host offers them).
    pub cgroups: CgroupMode,
    /// Resource limits.
    pub limits: Limits,
    /// The program's whole environment (nothing is inherited from the host).
    pub env: BTreeMap<String, String>,
    /// Mounts of the sandbox's root, in order.
    pub mounts: Vec<Mount>,
    /// Landlock features that must be enforced (building fails where the kernel lacks one,
    /// unless `landlock_best_effort`).
    pub landlock_require: LandlockRequire,
    /// Enforce what the kernel supports instead of failing when a required landlock feature
    /// is missing.
    pub landlock_best_effort: bool,
}

const BUILTIN: &[(&str, &str)] = &[
    ("default", include_str!("../policies/profiles/default.toml")),
    ("python", include_str!("../policies/profiles/python.toml")),
    ("node", include_str!("../policies/profiles/node.toml")),
    ("c", include_str!("../policies/profiles/c.toml")),
    ("cpp", include_str!("../policies/profiles/cpp.toml")),
    ("java", include_str!("../policies/profiles/java.toml")),
];

/// Names of the built-in profiles: `default`, `python`, `node`, `c`, `cpp`, `java`.
pub fn builtin_names() -> Vec<&'static str> {
    BUILTIN.iter().map(|(n, _)| *n).collect()
}

/// The TOML text of a built-in profile (what `runcell profile show NAME` prints), to copy and
/// adapt into a file of your own.
pub fn builtin_source(name: &str) -> Option<&'static str> {
    BUILTIN.iter().find(|(n, _)| *n == name).map(|(_, t)| *t)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    extends: Option<String>,
    description: Option<String>,
    hostname: Option<String>,
    workdir: Option<PathBuf>,
    network: Option<Network>,
    seccomp: Option<String>,
    uid: Option<u32>,
    gid: Option<u32>,
    host_uid: Option<u32>,
    host_gid: Option<u32>,
    host_id_range: Option<String>,
    dev_shm: Option<bool>,
    devpts: Option<bool>,
    cgroups: Option<String>,
    limits: Option<LimitsFile>,
    env: Option<BTreeMap<String, String>>,
    #[serde(default)]
    mounts: Vec<MountFile>,
    landlock: Option<LandlockFile>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Num {
    Int(u64),
    Float(f64),
    Str(String),
}

impl Num {
    fn size(&self) -> Result<u64> {
        match self {
            Num::Int(n) => Ok(*n),
            Num::Float(f) if *f >= 0.0 && f.fract() == 0.0 => Ok(*f as u64),
            Num::Float(f) => Err(Error::config(format!("size must be whole bytes, got {f}"))),
            Num::Str(s) => parse_size(s),
        }
    }
    fn secs(&self) -> Result<Duration> {
        match self {
            Num::Int(n) => Ok(Duration::from_secs(*n)),
            Num::Float(f) => {
                secs_f64(*f).ok_or_else(|| Error::config(format!("time out of range: {f}")))
            }
            Num::Str(s) => parse_secs(s),
        }
    }
    fn count(&self) -> Result<u64> {
        match self {
            Num::Int(n) => Ok(*n),
            _ => Err(Error::config("expected a whole number")),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LimitsFile {
    wall_time: Option<Num>,
    cpu_time: Option<Num>,
    memory: Option<Num>,
    pids: Option<Num>,
    cpu_quota: Option<Num>,
    output: Option<Num>,
    file_size: Option<Num>,
    open_files: Option<Num>,
    tmp_size: Option<Num>,
    stack: Option<Num>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "kebab-case")]
enum MountType {
    RoBind,
    Bind,
    Tmpfs,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MountFile {
    #[serde(rename = "type")]
    kind: MountType,
    src: Option<PathBuf>,
    dst: Option<PathBuf>,
    size: Option<Num>,
    #[serde(default)]
    optional: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LandlockFile {
    #[serde(default)]
    require: Vec<String>,
    #[serde(default)]
    best_effort: bool,
}

impl Profile {
    /// The secure baseline of DESIGN §4 without any mount: what a profile file starts from.
    pub(crate) fn base() -> Profile {
        let mut env = BTreeMap::new();
        env.insert("PATH".into(), "/usr/local/bin:/usr/bin:/bin".into());
        env.insert("HOME".into(), "/tmp".into());
        env.insert("LANG".into(), "C.UTF-8".into());
        Profile {
            name: "base".into(),
            description: String::new(),
            hostname: "runcell".into(),
            workdir: PathBuf::from("/tmp"),
            network: Network::None,
            seccomp: "default".into(),
            uid: 1000,
            gid: 1000,
            host_ids: HostIds::default(),
            dev_shm: false,
            devpts: false,
            cgroups: CgroupMode::Auto,
            limits: Limits::default(),
            env,
            mounts: Vec::new(),
            landlock_require: LandlockRequire {
                fs: true,
                net: false,
                scope: false,
            },
            landlock_best_effort: false,
        }
    }

    /// A built-in profile by name: `default` (anything under the host's `/usr`), `python`,
    /// `node`, `c`, `cpp`, `java` (see [`builtin_names`]). The profiles are embedded in the
    /// crate; no file is read.
    pub fn named(name: &str) -> Result<Profile> {
        // Parsed once per process: every default `Sandbox::builder()` starts from `default`.
        // Per process: a forked copy of the host never waits on its parent's lock.
        static PARSED: PerProcess<std::sync::Mutex<Vec<(String, Profile)>>> = PerProcess::new();
        let lock = || {
            PARSED
                .get_or_init(|| std::sync::Mutex::new(Vec::new()))
                .lock()
                .unwrap_or_else(|e| e.into_inner())
        };
        if let Some((_, p)) = lock().iter().find(|(n, _)| n == name) {
            return Ok(p.clone());
        }
        let p = Self::named_depth(name, 0)?;
        let mut parsed = lock();
        if !parsed.iter().any(|(n, _)| n == name) {
            parsed.push((name.to_string(), p.clone()));
        }
        Ok(p)
    }

    fn named_depth(name: &str, depth: usize) -> Result<Profile> {
        let text = BUILTIN
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, t)| *t)
            .ok_or_else(|| Error::Profile {
                origin: name.to_string(),
                message: format!(
                    "no built-in profile of that name (built-in: {})",
                    builtin_names().join(", ")
                ),
            })?;
        Self::parse_depth(text, &format!("built-in profile {name}"), name, None, depth)
    }

    /// Load a profile file.
    pub fn load(path: impl AsRef<Path>) -> Result<Profile> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| Error::Path {
            what: "profile",
            path: path.to_path_buf(),
            source: e,
        })?;
        let name = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "custom".into());
        Self::parse_depth(&text, &path.display().to_string(), &name, path.parent(), 0)
    }

    /// Parse profile text; `origin` names it in errors.
    pub fn from_toml_str(text: &str, origin: &str) -> Result<Profile> {
        Self::parse_depth(text, origin, origin, None, 0)
    }

    /// What `--profile` accepts: a path when it contains `/` or ends in `.toml` (use
    /// `./NAME.toml` for a file in the current directory), otherwise a built-in name. A bare
    /// name never reads a file, so a file planted in the current directory cannot replace a
    /// built-in profile.
    pub fn resolve(name_or_path: &str) -> Result<Profile> {
        if name_or_path.contains('/') || name_or_path.ends_with(".toml") {
            Self::load(name_or_path)
        } else {
            Self::named(name_or_path)
        }
    }

    fn parse_depth(
        text: &str,
        origin: &str,
        name: &str,
        dir: Option<&Path>,
        depth: usize,
    ) -> Result<Profile> {
        let perr = |message: String| Error::Profile {
            origin: origin.to_string(),
            message,
        };
        let file: File = toml::from_str(text).map_err(|e| perr(describe_toml_error(text, &e)))?;
        let mut p = match &file.extends {
            None => Profile::base(),
            Some(_) if depth > 8 => {
                return Err(perr("profiles extend each other too deeply".into()));
            }
            Some(parent) => {
                let candidate = dir.map(|d| d.join(format!("{parent}.toml")));
                match candidate {
                    Some(c) if c.is_file() => {
                        let t = std::fs::read_to_string(&c).map_err(|e| Error::Path {
                            what: "profile",
                            path: c.clone(),
                            source: e,
                        })?;
                        Self::parse_depth(&t, &c.display().to_string(), parent, dir, depth + 1)?
                    }
                    _ => Self::named_depth(parent, depth + 1)
                        .map_err(|e| perr(format!("key `extends`: {e}")))?,
                }
            }
        };
        p.name = name.to_string();
        let keyed = |key: &str, r: Result<()>| -> Result<()> {
            r.map_err(|e| perr(format!("key `{key}`: {}", strip_config(&e))))
        };
        if let Some(v) = file.description {
            p.description = v;
        }
        if let Some(v) = file.hostname {
            p.hostname = v;
        }
        if let Some(v) = file.workdir {
            p.workdir = v;
        }
        if let Some(v) = file.network {
            p.network = v;
        }
        if let Some(v) = file.seccomp {
            p.seccomp = v;
        }
        if let Some(v) = file.uid {
            p.uid = v;
        }
        if let Some(v) = file.gid {
            p.gid = v;
        }
        match (file.host_id_range, file.host_uid, file.host_gid) {
            (Some(_), Some(_), _) | (Some(_), _, Some(_)) => {
                return Err(perr(
                    "keys `host_id_range` and `host_uid`/`host_gid` exclude each other".into(),
                ));
            }
            (Some(r), None, None) => {
                keyed(
                    "host_id_range",
                    HostIdRange::parse(&r).map(|r| p.host_ids = HostIds::Range(r)),
                )?;
            }
            // One of the pair alone: the other takes the same number.
            (None, Some(uid), gid) => {
                p.host_ids = HostIds::Fixed {
                    uid,
                    gid: gid.unwrap_or(uid),
                }
            }
            (None, None, Some(gid)) => p.host_ids = HostIds::Fixed { uid: gid, gid },
            (None, None, None) => {}
        }
        if let Some(v) = file.dev_shm {
            p.dev_shm = v;
        }
        if let Some(v) = file.devpts {
            p.devpts = v;
        }
        if let Some(v) = file.cgroups {
            p.cgroups = match v.as_str() {
                "auto" => CgroupMode::Auto,
                "off" => CgroupMode::Off,
                "require" => CgroupMode::Require,
                _ => {
                    return Err(perr(format!(
                        "key `cgroups`: expected \"auto\", \"off\" or \"require\", found {v:?}"
                    )));
                }
            };
        }
        if let Some(env) = file.env {
            for (k, v) in env {
                p.env.insert(k, v);
            }
        }
        if let Some(l) = file.limits {
            let lim = &mut p.limits;
            macro_rules! set {
                ($field:ident, $conv:ident) => {
                    if let Some(v) = &l.$field {
                        keyed(
                            concat!("limits.", stringify!($field)),
                            v.$conv().map(|x| lim.$field = x),
                        )?;
                    }
                };
            }
            set!(wall_time, secs);
            set!(cpu_time, secs);
            set!(memory, size);
            set!(pids, count);
            if let Some(v) = &l.cpu_quota {
                keyed(
                    "limits.cpu_quota",
                    v.count().and_then(|x| {
                        let q = u32::try_from(x)
                            .map_err(|_| Error::config("CPU quota out of range"))?;
                        lim.cpu_quota = Some(q);
                        Ok(())
                    }),
                )?;
            }
            set!(output, size);
            set!(file_size, size);
            set!(open_files, count);
            set!(tmp_size, size);
            if let Some(v) = &l.stack {
                keyed("limits.stack", v.size().map(|x| lim.stack = Some(x)))?;
            }
        }
        for (i, m) in file.mounts.iter().enumerate() {
            let key = format!("mounts[{i}]");
            let mount = match m.kind {
                MountType::RoBind | MountType::Bind => {
                    let src = m
                        .src
                        .clone()
                        .ok_or_else(|| perr(format!("{key}: `src` is required for a bind")))?;
                    Mount {
                        kind: if matches!(m.kind, MountType::RoBind) {
                            MountKind::RoBind
                        } else {
                            MountKind::Bind
                        },
                        dst: m.dst.clone().unwrap_or_else(|| src.clone()),
                        src,
                        optional: m.optional,
                    }
                }
                MountType::Tmpfs => {
                    let dst = m
                        .dst
                        .clone()
                        .ok_or_else(|| perr(format!("{key}: `dst` is required for a tmpfs")))?;
                    let size = match &m.size {
                        Some(s) => s
                            .size()
                            .map_err(|e| perr(format!("{key}.size: {}", strip_config(&e))))?,
                        None => p.limits.tmp_size,
                    };
                    Mount {
                        kind: MountKind::Tmpfs { size },
                        src: PathBuf::new(),
                        dst,
                        optional: false,
                    }
                }
            };
            p.mounts.retain(|old| old.dst != mount.dst);
            p.mounts.push(mount);
        }
        if let Some(ll) = file.landlock {
            let mut req = LandlockRequire::default();
            for f in &ll.require {
                match f.as_str() {
                    "fs" => req.fs = true,
                    "net" => req.net = true,
                    "scope" => req.scope = true,
                    other => {
                        return Err(perr(format!(
                            "key `landlock.require`: unknown feature {other:?} (expected fs, net, scope)"
                        )));
                    }
                }
            }
            p.landlock_require = req;
            p.landlock_best_effort = ll.best_effort;
        }
        p.limits.validate().map_err(|e| perr(strip_config(&e)))?;
        Ok(p)
    }
}

fn strip_config(e: &Error) -> String {
    match e {
        Error::Config { what } => what.clone(),
        other => other.to_string(),
    }
}

/// "line L, column C, key `K`: message" from a toml error.
fn describe_toml_error(text: &str, e: &toml::de::Error) -> String {
    let msg = e.message().trim().to_string();
    let Some(span) = e.span() else {
        return msg;
    };
    let start = span.start.min(text.len());
    let before = &text[..start];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = text[line_start..start].chars().count() + 1;
    let line_text = text[line_start..].lines().next().unwrap_or("");
    // The key is what stands before `=` on that line, qualified by the last [table] header.
    let key = line_text.split_once('=').map(|(k, _)| k.trim().to_string());
    let table = before
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| l.starts_with('['))
        .map(|l| l.trim_matches(|c| c == '[' || c == ']').to_string());
    match (key, table) {
        (Some(k), Some(t)) if !k.is_empty() => {
            format!("line {line}, column {column}, key `{t}.{k}`: {msg}")
        }
        (Some(k), None) if !k.is_empty() => {
            format!("line {line}, column {column}, key `{k}`: {msg}")
        }
        _ => format!("line {line}, column {column}: {msg}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtins_parse() {
        for n in builtin_names() {
            let p = Profile::named(n).unwrap();
            assert!(!p.mounts.is_empty(), "{n}");
        }
    }

    #[test]
    fn malformed_profile_names_line_and_key() {
        let err = Profile::from_toml_str("hostname = \"x\"\n[limits]\npids = \"many\"\n", "t.toml")
            .unwrap_err()
            .to_string();
        assert!(err.contains("t.toml"), "{err}");
        assert!(err.contains("limits.pids"), "{err}");
        let err = Profile::from_toml_str("bogus = 1\n", "t.toml")
            .unwrap_err()
            .to_string();
        assert!(err.contains("line 1") && err.contains("bogus"), "{err}");
        let err = Profile::from_toml_str("[limits]\nwall_time = 0\n", "t.toml")
            .unwrap_err()
            .to_string();
        assert!(err.contains("wall time"), "{err}");
    }

    #[test]
    fn resolve_is_a_builtin_name_or_an_explicit_path() {
        assert_eq!(
            Profile::resolve("python").unwrap(),
            Profile::named("python").unwrap()
        );
        let e = Profile::resolve("no-such-profile").unwrap_err();
        assert!(matches!(e, Error::Profile { .. }), "{e}");
        // A name with `.toml` or `/` is a path (and these do not exist).
        for p in ["no-such-profile.toml", "./python", "policies/profiles/nope"] {
            let e = Profile::resolve(p).unwrap_err();
            assert!(matches!(e, Error::Path { .. }), "{p}: {e}");
        }
        for n in builtin_names() {
            assert!(
                builtin_source(n).is_some_and(|t| t.contains("description")),
                "{n}"
            );
        }
        assert!(builtin_source("nope").is_none());
    }

    #[test]
    fn extends_builtin() {
        let p = Profile::from_toml_str(
            "extends = \"default\"\n[limits]\nmemory = \"128M\"\n[[mounts]]\ntype = \"tmpfs\"\ndst = \"/work\"\n",
            "x",
        )
        .unwrap();
        assert_eq!(p.limits.memory, 128 << 20);
        assert!(p.mounts.iter().any(|m| m.dst == Path::new("/usr")));
        assert!(p.mounts.iter().any(|m| m.dst == Path::new("/work")));
    }
}
