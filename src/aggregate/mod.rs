//! Sectioned aggregation templates.
//!
//! A compute network splits a grouped job across nodes; each node returns a partial output
//! file, and the job's owner supplies merge logic as three sections of Python in a *sections
//! file*. The host injects them into its own fixed *template* and runs the result in a
//! [`Sandbox`](crate::Sandbox). This module makes that safe and checkable:
//!
//! 1. [`Sections::parse`] splits the file at the markers and checks every section on its own:
//!    it must parse as a complete block of Python, keep its indentation consistent, avoid the
//!    constructs that reach into the template ([`rules`]) and pass the static
//!    [`analyzer`](crate::analyze) with nothing of warning or above. Errors name the section and
//!    the 1-based line in the user's file.
//! 2. [`Template`] (the built-in [`DEFAULT_TEMPLATE`] or a host's, validated on load) has one
//!    `{{before}}`, `{{loop}}` and `{{after}}` placeholder line each.
//! 3. [`Sections::render`] puts each section at its placeholder, re-indented, and
//!    [`verify`] proves with tree-sitter that every section statement sits in its
//!    placeholder's block and that the rest is exactly the template. Nothing runs otherwise.
//! 4. [`Aggregation::run`] mounts the inputs read-only at `/inputs` and runs the script with
//!    `python3 -`, after an in-sandbox guard has repeated the structural check with CPython.
//!
//! ```no_run
//! use runcell::aggregate::{Aggregation, Sections, Template};
//!
//! let sections = Sections::parse(
//!     "###Code Before Loop###\ntotal = 0\n###Loop Code###\ntotal += int(content)\n\
//!      ###Code After For Loop###\nprint(total)\n",
//! )?;
//! let job = Aggregation::new(&sections, &Template::default())?;
//! let outcome = job.run(&Aggregation::default_sandbox()?, "/srv/job-17/parts")?;
//! print!("{}", String::from_utf8_lossy(&outcome.stdout));
//! # Ok::<(), runcell::aggregate::Error>(())
//! ```

mod error;
mod fragment;
mod python;
mod render;
pub mod rules;
mod run;
mod sections;
mod template;
pub mod verify;

pub use error::{Error, Section};
pub use render::{Origin, Rendered};
pub use run::{Aggregation, INPUTS_MOUNT, check_inputs};
pub use sections::{SectionCode, Sections};
pub use template::{DEFAULT_TEMPLATE, Template};

/// Largest sections file or template accepted, in bytes (1 MiB).
pub const MAX_SOURCE_BYTES: usize = 1 << 20;
