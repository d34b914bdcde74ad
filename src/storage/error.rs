//! The storage layer's single error type.

use std::path::PathBuf;

use crate::tenant::TenantIdError;

/// Everything that can go wrong inside the storage engine.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// An operating-system I/O failure, with the file it concerned.
    #[error("I/O error on {path}: {source}")]
    Io {
        /// The file or directory involved.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// Bytes on disk (or handed to a decoder) are not what the format allows.
    #[error("data corruption in {file} at offset {offset}: {reason}")]
    DataCorruption {
        /// The file holding the bad bytes (or a description of the buffer).
        file: String,
        /// Byte offset of the first bad byte.
        offset: u64,
        /// What was wrong.
        reason: String,
    },
    /// The tenant id was refused.
    #[error("invalid tenant id: {0}")]
    InvalidTenant(#[from] TenantIdError),
    /// A label matcher could not be built (bad regex, for example).
    #[error("invalid matcher: {0}")]
    InvalidMatcher(String),
    /// Every matcher of a selector matches the empty string, so it would select everything.
    #[error("vector selector must contain at least one non-empty matcher")]
    EmptyMatchers,
    /// A configuration value was out of range.
    #[error("invalid configuration: {0}")]
    Config(String),

    /// A request to the object store failed (the store is down, refused
    /// the credentials, or the object is missing).
    #[error("object storage error on {path}: {source}")]
    ObjectStore {
        /// The object (or prefix) involved.
        path: String,
        /// The underlying error.
        #[source]
        source: object_store::Error,
    },
    /// The storage was closed, or poisoned by an earlier I/O failure.
    #[error("storage is closed")]
    Closed,
    /// In cluster mode, the log or a partition's owner could not be
    /// reached or did not answer in time (transient: retry).
    #[error("cluster: {0}")]
    Cluster(String),
    /// In cluster mode, a read would gather more samples from the
    /// partition owners than a query may hold (the query's sample limit).
    #[error("query processing would load too many samples into memory in query execution (max samples per query: {0})")]
    TooManySamples(usize),
}

impl StorageError {
    /// Wraps an I/O error with the path it concerned.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> StorageError {
        StorageError::Io {
            path: path.into(),
            source,
        }
    }

    /// Wraps an object store error with the object it concerned.
    pub fn object_store(path: impl std::fmt::Display, source: object_store::Error) -> StorageError {
        StorageError::ObjectStore {
            path: path.to_string(),
            source,
        }
    }

    /// A corruption error for `file` at `offset`.
    pub fn corruption(
        file: impl Into<String>,
        offset: u64,
        reason: impl Into<String>,
    ) -> StorageError {
        StorageError::DataCorruption {
            file: file.into(),
            offset,
            reason: reason.into(),
        }
    }

    /// Whether this error means the disk is full (writes may succeed later).
    pub fn is_disk_full(&self) -> bool {
        matches!(self, StorageError::Io { source, .. } if source.raw_os_error() == Some(crate::storage::fault::ENOSPC))
    }
}

/// Result alias for the storage layer.
pub type Result<T, E = StorageError> = std::result::Result<T, E>;
