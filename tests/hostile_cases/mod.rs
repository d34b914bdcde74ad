//! Pieces of the hostile-input suite (`tests/hostile.rs`).

pub mod cases;
pub mod otlp;
pub mod raw;
