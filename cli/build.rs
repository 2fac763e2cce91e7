//! Build script of the `runcell` binary.
//!
//! The entry point: on x86_64 Linux with glibc the binary starts at `runcell_entry`
//! (src/early), which lets the warm client's common case run before libc starts, then jumps to
//! libc's `_start`. Only where that code is known sound: a dynamically linked build (the
//! loader has relocated everything and resolved libc first) or a static one at opt-level 2 or
//! 3 (the configuration `.ci/check-early-entry.py` checks the machine code of; unoptimised
//! code calls out for copies and comparisons, which a static binary cannot do that early).
//!
//! `RUNCELL_NO_PIE=1` at build time links `runcell` as a position-dependent executable: the
//! dynamic loader then has no relative relocations to apply to the 100 MB binary (about
//! 27,000, and a copy-on-write fault on every page of `.data.rel.ro` they touch), which
//! takes ~0.3 ms off every invocation's start-up (`runcell --version` 1.54 -> 1.24 ms
//! task-clock, 274 -> 142 page faults). Off by default: the binary's own code and data then
//! sit at fixed addresses (no ASLR for them), and the same binary serves HTTP (`serve`).
fn main() {
    println!("cargo:rerun-if-env-changed=RUNCELL_NO_PIE");
    if std::env::var_os("RUNCELL_NO_PIE").is_some_and(|v| v == "1") {
        println!("cargo:rustc-link-arg-bins=-no-pie");
    }
    let var = |k: &str| std::env::var(k).unwrap_or_default();
    let static_build = var("CARGO_CFG_TARGET_FEATURE")
        .split(',')
        .any(|f| f == "crt-static");
    let optimised = matches!(var("OPT_LEVEL").as_str(), "2" | "3");
    if var("CARGO_CFG_TARGET_ARCH") == "x86_64"
        && var("CARGO_CFG_TARGET_OS") == "linux"
        && var("CARGO_CFG_TARGET_ENV") == "gnu"
        && (!static_build || optimised)
    {
        println!("cargo:rustc-link-arg-bins=-Wl,--entry=runcell_entry");
    }
}
