//! The sandbox's root file system, built from file descriptors from one ordered plan.
//!
//! [`plan`] turns the configured mounts and the fixed parts of the root into a validated,
//! ordered [`RootPlan`] (in the parent, once per `Sandbox`); [`apply`] is the child side, split
//! in two around the uid/gid switch.

pub(crate) mod apply;
pub(crate) mod plan;
pub(crate) mod template;

pub(crate) use self::apply::{assemble, assemble_in_template, open_sources};
pub(crate) use self::plan::{Access, FixedRoot, PathRule, RootPlan, identity_files};
pub use self::plan::{Mount, MountKind};
