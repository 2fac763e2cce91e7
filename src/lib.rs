//! # runcell
//!
//! Run untrusted code on Linux in a hardened, fast, disposable sandbox.
//!
//! A [`Sandbox`] is built once from a [`Profile`] plus builder calls (validated, prepared,
//! immutable, `Send + Sync`) and then runs any number of programs, each in fresh user, PID,
//! mount, network, IPC, UTS and cgroup namespaces, on a minimal read-only root, with rlimits,
//! no capabilities, no_new_privs, landlock and seccomp. A run returns an [`Outcome`] whose
//! [`Verdict`] says how it ended.
//!
//! ```no_run
//! use std::time::Duration;
//! use runcell::{Command, Profile, Sandbox, Verdict};
//!
//! let sandbox = Sandbox::builder()
//!     .profile(Profile::named("python")?)
//!     .wall_time(Duration::from_secs(5))
//!     .build()?;
//! let outcome = sandbox.run(&Command::new("python3").arg("-"), b"print(6 * 7)")?;
//! assert_eq!(outcome.verdict, Verdict::Ok);
//! assert_eq!(outcome.stdout, b"42\n");
//! # Ok::<(), runcell::Error>(())
//! ```
//!
//! With the default features the crate also has [`analyze`] (static analysis of Python) and
//! [`aggregate`] (sectioned aggregation templates).

pub mod error;
pub mod profile;
pub mod sandbox;
mod sys;

#[cfg(feature = "analyze")]
pub mod analyze;

#[cfg(feature = "aggregate")]
pub mod aggregate;

pub use error::{Error, Result};
pub use profile::{Network, Profile};
#[cfg(feature = "tokio")]
pub use sandbox::AsyncChild;
pub use sandbox::{
    CgroupMode, Child, Command, Enforced, Input, Limits, Outcome, Output, Report, Sandbox,
    SandboxBuilder, Verdict, Violation, WORKSPACE_DIR, Workspace,
};
