//! The read seam: where a query's series come from. On one node that is
//! [`Storage`] itself (a [`Querier`] per tenant and range); in cluster mode
//! it is the fan-out to the owners of the tenant's partitions
//! (`cluster::reads`). The PromQL scope reads only through this trait, so
//! both paths run the same engine, policy and tenant checks.

use crate::model::Labels;
use crate::storage::error::Result;
use crate::storage::index::Matcher;
use crate::storage::{ExemplarSeries, MetricMetadata, Querier, SeriesValues, Storage, TsdbStatus};
use crate::tenant::TenantId;

/// A callback taking one series and its values: float samples and native
/// histograms in time order, and the `(t, st)` pairs of its samples that
/// have a start timestamp (empty unless asked for); it returns `false` to
/// stop.
pub type EachSeries<'f> = dyn FnMut(Labels, SeriesValues) -> bool + 'f;

/// What a [`SeriesMap`] made of one series, with the counts of what the
/// series had in range (for the caller's limits).
pub struct Mapped {
    /// Float samples the series had in range.
    pub samples: usize,
    /// Native histogram samples it had in range.
    pub histograms: usize,
    /// The map's result.
    pub value: Box<dyn std::any::Any + Send>,
}

/// A computation on one series' values that needs nothing but them: a
/// reader may run it on the thread that decoded the series, so the values
/// are used where they are still in cache and freed there, and only the
/// result travels to the caller.
pub type SeriesMap<'m> = dyn Fn(&Labels, SeriesValues) -> Box<dyn std::any::Any + Send> + Sync + 'm;

/// A callback taking one series and what a [`SeriesMap`] made of it; it
/// returns `false` to stop.
pub type EachMapped<'f> = dyn FnMut(Labels, Mapped) -> bool + 'f;

/// One tenant's series over one time range.
pub trait TenantReader {
    /// Calls `f` with each series matching all `matchers` that has samples
    /// in range, in label order; with `with_st`, also its start timestamps.
    fn select_each_st(
        &self,
        matchers: &[Matcher],
        with_st: bool,
        f: &mut EachSeries<'_>,
    ) -> Result<()>;
    /// [`TenantReader::select_each_st`] that hands `f` what `map` made of
    /// each series rather than its values. `map` may run on other threads,
    /// several series at once; `f` still sees the series one at a time, in
    /// label order. By default `map` runs on the caller's thread.
    fn select_each_mapped(
        &self,
        matchers: &[Matcher],
        with_st: bool,
        map: &SeriesMap<'_>,
        f: &mut EachMapped<'_>,
    ) -> Result<()> {
        self.select_each_st(matchers, with_st, &mut |l, v| {
            let m = mapped(map, &l, v);
            f(l, m)
        })
    }
    /// Label sets of matching series with samples in range.
    fn select_labels(&self, matchers: &[Matcher]) -> Result<Vec<Labels>>;
    /// Label names of matching series, sorted, at most `limit`.
    fn label_names(&self, matchers: &[Matcher], limit: Option<usize>) -> Result<Vec<String>>;
    /// Values of `name` on matching series, sorted, at most `limit`.
    fn label_values(
        &self,
        name: &str,
        matchers: &[Matcher],
        limit: Option<usize>,
    ) -> Result<Vec<String>>;
}

/// `map` applied to the series `labels`, `v`, with `v`'s counts.
pub(crate) fn mapped(map: &SeriesMap<'_>, labels: &Labels, v: SeriesValues) -> Mapped {
    let (samples, histograms) = (v.samples.len(), v.histograms.len());
    Mapped {
        samples,
        histograms,
        value: map(labels, v),
    }
}

/// Where series come from: one reader per tenant and range.
pub trait ReadSource: Send + Sync {
    /// A reader of `tenant`'s data in `[mint, maxt]` (inclusive, ms).
    fn reader<'a>(&'a self, tenant: &TenantId, mint: i64, maxt: i64) -> Box<dyn TenantReader + 'a>;

    /// `tenant`'s exemplars in `[start, end]` of series matching every
    /// matcher, series in label order.
    fn exemplars(
        &self,
        tenant: &TenantId,
        matchers: &[Matcher],
        start: i64,
        end: i64,
    ) -> Result<Vec<ExemplarSeries>>;

    /// `tenant`'s metric metadata (of `metric` only, if given), sorted by
    /// metric name. Not narrowed by any policy: the caller filters.
    fn metadata(&self, tenant: &TenantId, metric: Option<&str>) -> Result<Vec<MetricMetadata>>;

    /// `tenant`'s head cardinality statistics, top `limit` of each list.
    fn tsdb_status(&self, tenant: &TenantId, limit: usize) -> Result<TsdbStatus>;
}

impl TenantReader for Querier {
    fn select_each_st(
        &self,
        matchers: &[Matcher],
        with_st: bool,
        f: &mut EachSeries<'_>,
    ) -> Result<()> {
        self.select_each_values(matchers, with_st, |l, v| f(l, v))
    }

    fn select_each_mapped(
        &self,
        matchers: &[Matcher],
        with_st: bool,
        map: &SeriesMap<'_>,
        f: &mut EachMapped<'_>,
    ) -> Result<()> {
        self.select_mapped(matchers, with_st, &|l, v| mapped(map, l, v), f)
    }

    fn select_labels(&self, matchers: &[Matcher]) -> Result<Vec<Labels>> {
        Querier::select_labels(self, matchers)
    }

    fn label_names(&self, matchers: &[Matcher], limit: Option<usize>) -> Result<Vec<String>> {
        Querier::label_names(self, matchers, limit)
    }

    fn label_values(
        &self,
        name: &str,
        matchers: &[Matcher],
        limit: Option<usize>,
    ) -> Result<Vec<String>> {
        Querier::label_values(self, name, matchers, limit)
    }
}

impl ReadSource for Storage {
    fn reader<'a>(&'a self, tenant: &TenantId, mint: i64, maxt: i64) -> Box<dyn TenantReader + 'a> {
        Box::new(self.querier(tenant, mint, maxt))
    }

    fn exemplars(
        &self,
        tenant: &TenantId,
        matchers: &[Matcher],
        start: i64,
        end: i64,
    ) -> Result<Vec<ExemplarSeries>> {
        Ok(Storage::exemplars(self, tenant, matchers, start, end))
    }

    fn metadata(&self, tenant: &TenantId, metric: Option<&str>) -> Result<Vec<MetricMetadata>> {
        let mut out = Storage::metadata(self, tenant, metric, None);
        out.sort_by(|a, b| a.metric.cmp(&b.metric));
        Ok(out)
    }

    fn tsdb_status(&self, tenant: &TenantId, limit: usize) -> Result<TsdbStatus> {
        Ok(Storage::tsdb_status(self, tenant, limit))
    }
}
