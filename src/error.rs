//! The crate's error type: every failure names what failed (syscall, path, errno, file, key).

use std::path::PathBuf;

use crate::sandbox::SetupStep as Step;

/// Everything that can go wrong before or while running a sandbox.
///
/// A program that runs and fails (non-zero exit, signal, limit) is not an error: it is an
/// [`Outcome`](crate::Outcome) with a [`Verdict`](crate::Verdict).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A builder value is out of range or inconsistent (a limit of zero, a relative mount
    /// destination, ...). Nothing ran.
    #[error("invalid configuration: {what}")]
    Config {
        /// What is wrong, naming the setting.
        what: String,
    },

    /// A host path the configuration refers to does not exist or cannot be inspected.
    #[error("{what} {path}: {source}")]
    Path {
        /// What the path is for (`profile`, `bind source`, ...).
        what: &'static str,
        /// The host path.
        path: PathBuf,
        /// Why it could not be used.
        #[source]
        source: std::io::Error,
    },

    /// A profile file could not be read or parsed.
    #[error("profile {origin}: {message}")]
    Profile {
        /// The file (or built-in name) the profile came from.
        origin: String,
        /// What is wrong, with the line, column and key where known.
        message: String,
    },

    /// The program was not found on the sandbox's PATH (or at the given path inside the sandbox).
    #[error("program not found in the sandbox: {program}")]
    ProgramNotFound {
        /// The program as given to [`Command::new`](crate::Command::new).
        program: String,
    },

    /// The program exists inside the sandbox but cannot be executed.
    #[error("program {program} cannot be executed in the sandbox: {source}")]
    NotExecutable {
        /// The program as given to [`Command::new`](crate::Command::new).
        program: String,
        /// The errno of `execve`.
        #[source]
        source: std::io::Error,
    },

    /// The kernel lacks a confinement feature the configuration requires (and best effort was
    /// not asked for).
    #[error("kernel does not support {feature} (required by the sandbox policy)")]
    Unsupported {
        /// The missing feature and, where known, why it is missing.
        feature: String,
    },

    /// A host-side system call failed while preparing, starting or supervising the sandbox.
    #[error("{syscall} failed: {source}")]
    Sys {
        /// The system call (or libc function) that failed.
        syscall: &'static str,
        /// Its errno.
        #[source]
        source: std::io::Error,
    },

    /// A step of the child's setup failed, before the program was executed.
    #[error("sandbox setup failed at {step}{}: {source}", detail.as_deref().map(|d| format!(" ({d})")).unwrap_or_default())]
    Setup {
        /// The step of the child's setup sequence that failed.
        step: Step,
        /// What the step was working on (a mount, a path), when known.
        detail: Option<String>,
        /// The errno of the failed call.
        #[source]
        source: std::io::Error,
    },

    /// A cgroup of the sandbox could not be created, configured, joined, read or removed.
    #[error("cgroup {what} {path}: {source}")]
    Cgroup {
        /// The operation (`create`, `configure`, `join`, `read`, `remove`, ...).
        what: &'static str,
        /// The cgroup directory or control file.
        path: PathBuf,
        /// The errno of the failed operation.
        #[source]
        source: std::io::Error,
    },

    /// Every host id of the range is leased by a sandbox running on this host (in this or
    /// another runcell process): the range bounds how many sandboxes a root host runs at once.
    /// Nothing was started.
    #[error(
        "every host id of the range {range} is leased by a running sandbox (widen the range: \
         host_id_range, SandboxBuilder::host_id_range, --host-id-range)"
    )]
    HostIdsExhausted {
        /// The configured range.
        range: crate::sandbox::HostIdRange,
    },

    /// The run was cancelled by its caller (the `cancel` descriptor of
    /// [`Sandbox::run_with_cancel`](crate::Sandbox::run_with_cancel) or
    /// [`WarmPool::run_with_cancel`](crate::sandbox::WarmPool::run_with_cancel) became readable
    /// or hung up): its whole process tree was killed and reaped, its cgroup removed.
    #[error("the run was cancelled by its caller; its processes were killed")]
    Cancelled,

    /// A seccomp policy could not be loaded or compiled.
    #[error(transparent)]
    Seccomp(#[from] crate::sandbox::seccomp::SeccompError),
}

impl Error {
    pub(crate) fn sys(syscall: &'static str, source: std::io::Error) -> Self {
        Error::Sys { syscall, source }
    }

    pub(crate) fn config(what: impl Into<String>) -> Self {
        Error::Config { what: what.into() }
    }
}

/// Shorthand for results of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
