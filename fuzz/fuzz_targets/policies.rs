//! Fuzz the policy loaders: any text as a profile TOML and as a seccomp policy TOML.
//!
//! Invariants (a violation panics, which libFuzzer reports):
//! - nothing panics, whatever the input;
//! - a profile that loads has limits that validate;
//! - a seccomp policy that loads either compiles or fails with an error, with and without
//!   network, and every compiled program is non-empty and within the kernel's 4096
//!   instructions.
#![no_main]

use libfuzzer_sys::fuzz_target;
use runcell::Profile;
use runcell::sandbox::seccomp::SeccompPolicy;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(p) = Profile::from_toml_str(text, "fuzz.toml") {
        assert!(
            p.limits.validate().is_ok(),
            "a loaded profile has bad limits"
        );
    }
    if let Ok(policy) = SeccompPolicy::from_toml_str(text, "fuzz.toml") {
        for network in [false, true] {
            if let Ok(c) = policy.compile(network) {
                for prog in &c.programs {
                    assert!(!prog.is_empty() && prog.len() <= 4096, "bad BPF length");
                }
            }
        }
    }
});
