//! Builds `runcell-init`, the sandbox's PID 1 (src/sandbox/init/init.c): a freestanding static
//! executable with no libc, embedded in the library and executed from a sealed memfd, so that
//! PID 1 of a sandbox is never a copy of the host process.

use std::env;
use std::path::PathBuf;
use std::process::Command;

fn main() {
    let src = "src/sandbox/init/init.c";
    println!("cargo:rerun-if-changed={src}");
    let out =
        PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR")).join("runcell-init");
    // The target's C compiler, as cc-rs finds it (CC, CC_<target>, cross prefixes, ...).
    let compiler = cc::Build::new().opt_level(2).get_compiler();
    let mut cmd = Command::new(compiler.path());
    cmd.args([
        "-static",
        "-nostdlib",
        "-ffreestanding",
        "-fno-stack-protector",
        "-fno-asynchronous-unwind-tables",
        "-fno-pie",
        "-no-pie",
        "-Os",
        "-Wall",
        "-Wextra",
        "-Werror",
        "-s",
        "-Wl,--build-id=none",
        "-o",
    ])
    .arg(&out)
    .arg(src);
    let status = cmd.status().unwrap_or_else(|e| {
        panic!(
            "runcell: cannot run the C compiler {:?}: {e}",
            compiler.path()
        )
    });
    assert!(
        status.success(),
        "runcell: building {src} failed ({status})"
    );
}
