//! The sandbox's PID 1: `runcell-init` (src/sandbox/init/init.c), a freestanding static program
//! of a few KiB built by build.rs and embedded here.
//!
//! The setup process shares the host's memory (a `CLONE_VM` child: no page tables are copied, so
//! a run costs the same from a 10 MiB host as from a 10 GiB one). It must not stay the
//! namespace's init, or the sandbox could read the host's heap and environment through
//! `/proc/1/mem` and `/proc/1/environ`. So, after building the root and before anything of the
//! sandbox runs, it executes this program from a sealed memfd: PID 1 then holds nothing of the
//! host. init releases the program's process (which has been waiting for it), reaps every
//! process of the namespace, relays a seccomp notification as a violation, and reports the
//! program's wait status on the status pipe (the same 16-byte records as `child::encode`).

use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::sync::OnceLock;

use crate::error::{Error, Result};
use crate::sys;

/// The init executable, as built for the target.
static INIT: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/runcell-init"));

/// The process-wide sealed memfd holding [`INIT`] (close-on-exec: it never reaches a program
/// the host starts itself). Created on first use.
pub(crate) fn fd() -> Result<RawFd> {
    static FD: OnceLock<std::result::Result<OwnedFd, (&'static str, sys::Errno)>> = OnceLock::new();
    match FD.get_or_init(create) {
        Ok(fd) => Ok(fd.as_raw_fd()),
        Err((what, errno)) => Err(Error::sys(what, std::io::Error::from_raw_os_error(*errno))),
    }
}

fn create() -> std::result::Result<OwnedFd, (&'static str, sys::Errno)> {
    let fd = sys::memfd_exec(c"runcell-init").map_err(|e| ("memfd_create", e))?;
    sys::write_all(fd.as_raw_fd(), INIT).map_err(|e| ("write runcell-init", e))?;
    // Nothing can change it afterwards: every run executes exactly these bytes.
    sys::seal_all(fd.as_raw_fd()).map_err(|e| ("seal runcell-init", e))?;
    Ok(fd)
}

#[cfg(test)]
mod tests {
    #[test]
    fn init_is_a_small_static_elf() {
        assert_eq!(&super::INIT[..4], b"\x7fELF");
        assert!(super::INIT.len() < 64 * 1024, "{} bytes", super::INIT.len());
        assert!(super::fd().is_ok());
    }
}
