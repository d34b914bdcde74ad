//! Synthetic data shapes for benchmarks and tests.
//!
//! STUB: to be implemented.
