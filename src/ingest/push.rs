//! Pushgateway-compatible grouping paths:
//! `/metrics/job/<job>{/<label>/<value>}`, with `<label>@base64/<value>`.
//!
//! STUB: to be implemented. The API below is fixed; the HTTP layer depends on it.

use super::IngestError;

/// Parses the part of the path after `/metrics/` (e.g.
/// `job/backup/instance@base64/aG9zdA`) into grouping labels, `job` first
/// and the rest in path order. Refuses a missing or empty job, an odd
/// number of segments, invalid base64, duplicate names, and invalid label names.
pub fn parse_grouping_path(rest: &str) -> Result<Vec<(String, String)>, IngestError> {
    let _ = rest;
    todo!()
}
