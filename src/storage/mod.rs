//! The embedded storage engine: tenant-partitioned heads, WAL, chunks,
//! label index and persistent blocks.

pub mod chunk;
pub mod error;
pub mod index;
pub(crate) mod varint;
pub mod wal;

pub use error::{Result, StorageError};
