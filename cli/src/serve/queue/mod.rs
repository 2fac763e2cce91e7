//! Workers: threads that claim jobs from the store, run them and write the results back.

pub mod worker;
