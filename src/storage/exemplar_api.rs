//! The exemplar face of [`Storage`]: storing a request's exemplars after
//! its samples, and reading them back for `/api/v1/query_exemplars`.

use super::exemplars::{ExemplarInput, ExemplarOutcome, ExemplarSeries, ExemplarStats};
use super::index::Matcher;
use super::{Result, Storage};
use crate::tenant::TenantId;

impl Storage {
    /// Stores exemplars of `tenant`'s existing series in its bounded
    /// buffer and logs them in its WAL. Refusals (unknown series, out of
    /// order, storage off) are counted in the outcome, never an error; an
    /// `Err` is an I/O failure and means none of the batch was stored.
    pub fn append_exemplars(
        &self,
        tenant: &TenantId,
        batch: &[ExemplarInput<'_>],
    ) -> Result<ExemplarOutcome> {
        self.check_open()?;
        match self.partition(tenant) {
            Some(p) => p.append_exemplars(batch),
            // No partition means no series: nothing to attach them to.
            None => Ok(ExemplarOutcome {
                unknown_series: batch.iter().map(|b| b.exemplars.len() as u64).sum(),
                ..Default::default()
            }),
        }
    }

    /// `tenant`'s exemplars in `[start, end]` (ms, inclusive) of series
    /// matching every one of `matchers`, series in label order.
    pub fn exemplars(
        &self,
        tenant: &TenantId,
        matchers: &[Matcher],
        start: i64,
        end: i64,
    ) -> Vec<ExemplarSeries> {
        self.partition(tenant)
            .map(|p| p.select_exemplars(matchers, start, end))
            .unwrap_or_default()
    }

    /// How full each open tenant's exemplar buffer is.
    pub fn exemplar_stats(&self) -> Vec<(TenantId, ExemplarStats)> {
        let mut out: Vec<(TenantId, ExemplarStats)> = self
            .inner
            .tenants
            .read()
            .iter()
            .map(|(t, p)| (t.clone(), p.exemplar_stats()))
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }
}
