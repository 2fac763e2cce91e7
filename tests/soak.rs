//! A short soak in `cargo test`: a few hundred mixed sandboxes from 8 threads, then from the
//! async API, with every verdict, survivor and host resource checked (examples/soak/harness.rs;
//! `cargo run --release --example soak -- 20000 8` is the long version).

#[path = "../examples/soak/harness.rs"]
mod harness;

use harness::Soak;

#[test]
fn soak_threads_and_async() {
    let soak = Soak::measure(220, |s| harness::run_threads(s, 220, 8));
    soak.print();
    assert!(soak.ok(8 << 10), "threads soak failed: {soak:#?}");
    #[cfg(feature = "tokio")]
    {
        let soak = Soak::measure(110, |s| harness::run_async(s, 110, 32));
        soak.print();
        assert!(soak.ok(8 << 10), "async soak failed: {soak:#?}");
    }
}
