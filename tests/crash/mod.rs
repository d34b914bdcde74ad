//! Kill -9 harness: the `tessera` binary as a restartable child process,
//! remote-write senders that log what was acknowledged, and a checker that
//! reads everything back through the query API.
//!
//! Shared by several test crates, each using a different part of it.
#![allow(dead_code)]

pub mod check;
pub mod load;
pub mod server;
