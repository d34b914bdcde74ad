//! The fuzz targets' bodies, shared by the cargo-fuzz binaries and by
//! `tests/fuzz_regressions.rs`, which replays the seed corpus and every
//! kept crash input in the server's own test run.

#[path = "targets.rs"]
mod targets;

pub use targets::*;
