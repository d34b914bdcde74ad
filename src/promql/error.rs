//! Query errors (with Prometheus's error types) and annotations.

use std::fmt;

/// Why a query failed. `error_type()` gives the API's `errorType`.
#[derive(Debug, Clone, PartialEq)]
pub enum QueryError {
    /// The query does not parse or fails a semantic check (`bad_data`).
    BadData(String),
    /// Evaluation failed (`execution`), e.g. a matching error.
    Execution(String),
    /// The query ran past its timeout (`timeout`).
    Timeout(String),
    /// The query would hold more than this many samples (`execution`).
    TooManySamples(usize),
    /// A selector matched more series than allowed (`execution`).
    TooManySeries(usize),
    /// A feature this server does not have yet (`execution`), e.g. native histograms.
    Unsupported(String),
    /// Storage failed while reading (`internal`).
    Storage(String),
    /// Storage or a cluster peer could not be read for now: the object
    /// store is down, a peer or the log is unreachable (`unavailable`,
    /// HTTP 503: worth retrying).
    Unavailable(String),
    /// The caller's access policy does not allow this (HTTP 403).
    Forbidden(String),
    /// The query was stopped from outside, e.g. its client went away (`canceled`).
    Canceled,
    /// A bug or a resource failure on our side (`internal`), e.g. a panic.
    Internal(String),
    /// A Tessera limit that Prometheus does not have was exceeded
    /// (`execution`); the message names the limit and its setting.
    Limit(String),
}

impl QueryError {
    /// The `errorType` string of Prometheus's API for this error.
    pub fn error_type(&self) -> &'static str {
        match self {
            QueryError::BadData(_) => "bad_data",
            QueryError::Timeout(_) => "timeout",
            QueryError::Storage(_) | QueryError::Internal(_) => "internal",
            QueryError::Forbidden(_) => "forbidden",
            QueryError::Unavailable(_) => "unavailable",
            QueryError::Canceled => "canceled",
            _ => "execution",
        }
    }
}

impl fmt::Display for QueryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            QueryError::BadData(m)
            | QueryError::Execution(m)
            | QueryError::Storage(m)
            | QueryError::Unavailable(m)
            | QueryError::Internal(m)
            | QueryError::Limit(m)
            | QueryError::Forbidden(m) => f.write_str(m),
            QueryError::Canceled => f.write_str("query was canceled"),
            QueryError::Timeout(m) => write!(f, "query timed out in {m}"),
            QueryError::TooManySamples(n) => write!(
                f,
                "query processing would load too many samples into memory in query execution (max samples per query: {n})"
            ),
            QueryError::TooManySeries(n) => {
                write!(
                    f,
                    "query would select more than {n} series in one selector (max series per query)"
                )
            }
            QueryError::Unsupported(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for QueryError {}

/// Warnings and infos raised during evaluation, texts as Prometheus words
/// them ("PromQL warning: ..." / "PromQL info: ...", with a position).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Annotations {
    /// Warnings, de-duplicated, in the order raised.
    pub warnings: Vec<String>,
    /// Infos, de-duplicated, in the order raised.
    pub infos: Vec<String>,
}

impl Annotations {
    /// Adds a warning unless already present.
    pub fn warn(&mut self, msg: String) {
        if !self.warnings.contains(&msg) {
            self.warnings.push(msg);
        }
    }

    /// Adds an info unless already present.
    pub fn info(&mut self, msg: String) {
        if !self.infos.contains(&msg) {
            self.infos.push(msg);
        }
    }
}

impl From<crate::storage::StorageError> for QueryError {
    /// A store or cluster peer that is down (or a closed storage) is
    /// transient; a fan-out past the sample limit is Prometheus's error;
    /// bad matchers are the caller's; any other storage failure is
    /// internal.
    fn from(e: crate::storage::StorageError) -> QueryError {
        use crate::storage::StorageError;
        match e {
            StorageError::ObjectStore {
                source: object_store::Error::NotFound { .. },
                ..
            } => QueryError::Storage(e.to_string()),
            StorageError::ObjectStore { .. } => {
                QueryError::Unavailable(format!("object storage unavailable, retry later: {e}"))
            }
            StorageError::Closed | StorageError::Cluster(_) => {
                QueryError::Unavailable(e.to_string())
            }
            StorageError::TooManySamples(n) => QueryError::TooManySamples(n),
            StorageError::InvalidTenant(_)
            | StorageError::InvalidMatcher(_)
            | StorageError::EmptyMatchers => QueryError::BadData(e.to_string()),
            _ => QueryError::Storage(e.to_string()),
        }
    }
}
