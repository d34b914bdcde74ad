//! Tessera: a multi-tenant time-series database that speaks the Prometheus APIs.
//!
//! The crate is organised by layer; see `ARCHITECTURE.md` for the code map and
//! the invariants each layer keeps.
#![warn(missing_docs)]

pub mod api;
pub mod auth;
pub mod cluster;
pub mod config;
pub mod duration;
pub mod ingest;
pub mod loadgen;
pub mod model;
pub mod panics;
pub mod promql;
pub mod reload;
pub mod server;
pub mod storage;
pub mod synth;
pub mod tenant;
pub mod threads;
pub mod write;
