//! Pieces of the hostile-input suite (`tests/hostile.rs`).

pub mod cases;
pub mod federate;
pub mod otlp;
pub mod raw;
