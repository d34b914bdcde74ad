//! The write pipeline: what happens between a decoded request and storage.
//!
//! The write-side twin of `promql/`. Every ingest path (remote write, text
//! import, Pushgateway-style push, OTLP) decodes its body in `ingest/` and
//! hands the result to a [`Pipeline`], which takes the request from the
//! tenant's ingestion rate, appends through the one append seam (storage on
//! a single node, the log in cluster mode), counts what was received,
//! stored and refused (by reason), records metadata, hands exemplars on,
//! and returns a typed [`WriteReport`] or [`WriteError`]. `api/` keeps only
//! headers, bodies and statuses; this module knows no HTTP.

pub mod otlp;
pub mod push;
mod push_groups;
pub mod text;

use crate::cluster::Cluster;
use crate::storage::{
    AppendOutcome, MetricMetadata, RejectReason, SeriesInput, Storage, StorageError,
};
use crate::tenant::limits::RateLimiter;
use crate::tenant::TenantId;

pub use push_groups::PushGroups;

/// How many rejection reasons a report lists.
pub const MAX_REASONS: usize = 10;

/// Where the pipeline counts what it received, stored and refused (the
/// server's `/metrics` and usage implement it).
pub trait WriteCounters: Send + Sync {
    /// Samples received (decoded) for a tenant.
    fn received(&self, tenant: &TenantId, n: u64);
    /// Samples refused for a tenant under a reason's metric name.
    fn rejected(&self, tenant: &TenantId, reason: &'static str, n: u64);
    /// Samples and series storage accepted.
    fn stored(&self, tenant: &TenantId, samples: u64, series: u64);
    /// A failed append of `n` samples (a full disk counts them all).
    fn storage_failure(&self, tenant: &TenantId, e: &StorageError, n: u64);
    /// Exemplars that were not stored.
    fn exemplars_discarded(&self, tenant: &TenantId, n: u64);
}

/// Why a write was refused as a whole.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// The request is over the tenant's ingestion rate; nothing was stored.
    /// `retry_after` is when it would fit, `None` when it never can (it is
    /// larger than the tenant's burst).
    #[error("{message}")]
    RateLimited {
        /// Why, for the sender.
        message: String,
        /// When to retry, if retrying can help.
        retry_after: Option<std::time::Duration>,
    },
    /// The body is malformed or breaks the endpoint's rules; nothing stored.
    #[error("{0}")]
    Invalid(String),
    /// The body is over a size or count limit; nothing stored.
    #[error("{0}")]
    TooLarge(String),
    /// Storage (or the cluster log) failed; nothing of the batch was stored.
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// A series the decoder refused before storage saw it.
#[derive(Debug, Clone)]
pub struct Refused {
    /// The series, described for the sender.
    pub series: String,
    /// Why.
    pub reason: String,
    /// Samples (floats and histograms) it carried.
    pub samples: u64,
    /// Exemplars it carried.
    pub exemplars: u64,
}

/// One decoded request, ready to store.
#[derive(Debug, Default)]
pub struct Decoded<'a> {
    /// Series with at least one sample or histogram.
    pub inputs: Vec<SeriesInput<'a>>,
    /// Start timestamps, one slice per input (empty: none), if any are set.
    pub start_times: Option<Vec<&'a [i64]>>,
    /// Metadata the request carried.
    pub metadata: Vec<MetricMetadata>,
    /// Series refused while decoding.
    pub refused: Vec<Refused>,
    /// Exemplars of the stored series, validated.
    pub exemplars: Vec<crate::storage::ExemplarInput<'a>>,
    /// Exemplars the decoder found invalid (counted as discarded).
    pub exemplars_invalid: u64,
}

/// What one request did.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct WriteReport {
    /// Float samples written (stored or identical duplicates).
    pub samples_written: u64,
    /// Native histogram samples written.
    pub histograms_written: u64,
    /// Exemplars written.
    pub exemplars_written: u64,
    /// Exemplars not stored (refused by the decoder or by storage).
    pub exemplars_discarded: u64,
    /// Why storage did not store some of them, by reason with counts
    /// (`2 out of order ...`); empty when it stored all it was given.
    pub exemplar_refusals: Vec<String>,
    /// Samples and histograms refused.
    pub samples_rejected: u64,
    /// Series refused whole while decoding.
    pub series_refused: usize,
    /// The first [`MAX_REASONS`] problems, each naming its series.
    pub reasons: Vec<String>,
}

impl WriteReport {
    /// Whether everything the request carried was written.
    pub fn is_complete(&self) -> bool {
        self.samples_rejected == 0 && self.series_refused == 0
    }
}

/// What the exemplar hand-off did.
#[derive(Debug, Default)]
struct ExemplarsStored {
    written: u64,
    discarded: u64,
    refusals: Vec<String>,
}

/// The pipeline for one request, borrowing the server's shared parts.
#[derive(Clone, Copy)]
pub struct Pipeline<'a> {
    storage: &'a Storage,
    limiter: &'a RateLimiter,
    counters: &'a dyn WriteCounters,
    cluster: Option<&'a Cluster>,
    push_groups: &'a PushGroups,
}

impl<'a> Pipeline<'a> {
    /// A pipeline over open storage, the rate limiter, the counters, the
    /// cluster (if any) and the push-group registry.
    pub fn new(
        storage: &'a Storage,
        limiter: &'a RateLimiter,
        counters: &'a dyn WriteCounters,
        cluster: Option<&'a Cluster>,
        push_groups: &'a PushGroups,
    ) -> Pipeline<'a> {
        Pipeline {
            storage,
            limiter,
            counters,
            cluster,
            push_groups,
        }
    }

    /// The storage written to.
    pub fn storage(&self) -> &'a Storage {
        self.storage
    }

    /// Counts `n` received samples and takes them from the tenant's
    /// ingestion rate, or refuses the whole request before anything of it
    /// is stored.
    pub fn admit(&self, tenant: &TenantId, n: u64) -> Result<(), WriteError> {
        self.counters.received(tenant, n);
        self.take_rate(tenant, n)
    }

    fn take_rate(&self, tenant: &TenantId, n: u64) -> Result<(), WriteError> {
        if let Err(limit) = self.limiter.try_take(tenant, n) {
            let reason = RejectReason::RateLimited(limit.rate as u64);
            self.counters.rejected(tenant, reason.metric_name(), n);
            let retry_after = self.limiter.wait_for(tenant, n);
            let mut message = reason.to_string();
            if retry_after.is_none() {
                let burst = self.limiter.burst(tenant);
                message.push_str(&format!(
                    "; the request's {n} samples are more than the burst of {burst} and never fit: split it"
                ));
            }
            return Err(WriteError::RateLimited {
                message,
                retry_after,
            });
        }
        Ok(())
    }

    /// Appends admitted series through the seam, counting what was stored
    /// and what storage refused by reason.
    pub fn append(
        &self,
        tenant: &TenantId,
        inputs: &[SeriesInput<'_>],
        start_times: Option<&[&[i64]]>,
    ) -> Result<AppendOutcome, WriteError> {
        let n: u64 = inputs.iter().map(|i| i.samples.len() as u64).sum();
        let outcome = self
            .append_seam(tenant, inputs, start_times)
            .inspect_err(|e| self.counters.storage_failure(tenant, e, n))?;
        for (reason, n) in &outcome.rejected_by_reason {
            self.counters.rejected(tenant, reason, *n);
        }
        self.counters
            .stored(tenant, outcome.accepted, outcome.series_created);
        Ok(outcome)
    }

    /// The one path every write takes into storage (blocking): the storage
    /// on a single node; in cluster mode the log, acknowledged by the stream
    /// before this returns (the owners' storage validates and counts what
    /// it refuses).
    fn append_seam(
        &self,
        tenant: &TenantId,
        inputs: &[SeriesInput<'_>],
        start_times: Option<&[&[i64]]>,
    ) -> Result<AppendOutcome, StorageError> {
        match (self.cluster, start_times) {
            (Some(c), st) => self.publish(c, tenant, inputs, st),
            (None, None) => self.storage.append(tenant, inputs),
            (None, Some(st)) => self.storage.append_with_start_times(tenant, inputs, st),
        }
    }

    /// Cluster mode: bad labels are refused here, as storage would, so the
    /// writer gets its partial-write answer; everything else an owner
    /// decides later.
    fn publish(
        &self,
        c: &Cluster,
        tenant: &TenantId,
        inputs: &[SeriesInput<'_>],
        st: Option<&[&[i64]]>,
    ) -> Result<AppendOutcome, StorageError> {
        let describe = |input: &SeriesInput<'_>| crate::model::describe_label_refs(input.labels);
        let mut outcome = AppendOutcome::default();
        let mut good = Vec::with_capacity(inputs.len());
        let mut good_st = Vec::with_capacity(inputs.len());
        for (i, input) in inputs.iter().enumerate() {
            let n = input.samples.len() + input.histograms.len();
            match self.storage.check_labels(tenant, input.labels) {
                Ok(()) if n == 0 => {}
                Ok(()) => {
                    good.push(*input);
                    good_st.push(st.and_then(|s| s.get(i).copied()).unwrap_or(&[]));
                }
                Err(reason) => outcome.reject(reason, n as u64, || describe(input), None),
            }
        }
        let too_large = c.publish(tenant, &good, st.map(|_| good_st.as_slice()))?;
        outcome.accepted = good.iter().map(|s| s.samples.len() as u64).sum();
        outcome.histograms_accepted = good.iter().map(|s| s.histograms.len() as u64).sum();
        for i in too_large {
            // A histogram whose encoding does not fit in one log message.
            let input = &good[i];
            let n = input.histograms.len() as u64;
            outcome.histograms_accepted -= n;
            outcome.reject(
                RejectReason::HistogramTooLargeForLog {
                    limit: crate::cluster::MAX_HISTOGRAM_BYTES,
                },
                n,
                || describe(input),
                None,
            );
        }
        Ok(outcome)
    }

    /// Records metadata (the latest entry per metric wins): in storage on
    /// a single node; in cluster mode through the log, so the owner of the
    /// partition the metric's name hashes to holds it for every node.
    pub fn record_metadata(
        &self,
        tenant: &TenantId,
        entries: &[MetricMetadata],
    ) -> Result<(), WriteError> {
        match self.cluster {
            Some(c) => Ok(c.publish_extras(tenant, entries, &[])?),
            None => Ok(self.storage.record_metadata(tenant, entries)?),
        }
    }

    /// The exemplar hand-off: every ingest path passes the exemplars it
    /// decoded here, after their samples are stored. They go to the
    /// tenant's exemplar storage; every one not stored (refused by it, or
    /// `invalid` ones the decoder already refused) is counted in
    /// `tessera_exemplars_discarded_total`, and the request still succeeds
    /// for its samples. Returns how many were written (stored, or already
    /// held: Prometheus counts a duplicate as written). In cluster mode they
    /// go through the log after the samples, and the owner of each series'
    /// partition stores them; as for samples, what it refuses later is not
    /// reported back (every published exemplar counts as written).
    pub fn exemplars(
        &self,
        tenant: &TenantId,
        inputs: &[crate::storage::ExemplarInput<'_>],
        invalid: u64,
    ) -> Result<u64, WriteError> {
        Ok(self.store_exemplars(tenant, inputs, invalid)?.written)
    }

    /// [`Pipeline::exemplars`], saying what storage refused and why.
    fn store_exemplars(
        &self,
        tenant: &TenantId,
        inputs: &[crate::storage::ExemplarInput<'_>],
        invalid: u64,
    ) -> Result<ExemplarsStored, WriteError> {
        let sent: u64 = inputs.iter().map(|i| i.exemplars.len() as u64).sum();
        let mut done = ExemplarsStored::default();
        if let (true, Some(c)) = (sent > 0, self.cluster) {
            // The owners store them when they consume the log.
            c.publish_extras(tenant, &[], inputs)?;
            done.written = sent;
        } else if sent > 0 {
            let o = self.storage.append_exemplars(tenant, inputs)?;
            done.written = o.stored + o.duplicates;
            done.discarded = o.discarded();
            let reasons = [
                (
                    o.out_of_order,
                    "out of order (not newer than their series' newest exemplar)",
                ),
                (o.unknown_series, "for series that stored no sample"),
                (o.disabled, "not kept: the tenant's max_exemplars is 0"),
            ];
            done.refusals = reasons
                .iter()
                .filter(|(n, _)| *n > 0)
                .map(|(n, why)| format!("{n} {why}"))
                .collect();
        }
        done.discarded += invalid;
        self.counters.exemplars_discarded(tenant, done.discarded);
        Ok(done)
    }

    /// Stores one decoded request as remote write does: counts it, takes
    /// it from the rate (a refusal stores nothing), appends, records
    /// metadata, hands exemplars on and reports a partial write.
    pub fn write(&self, tenant: &TenantId, d: Decoded<'_>) -> Result<WriteReport, WriteError> {
        let decoded: u64 = d.inputs.iter().map(|s| s.samples.len() as u64).sum();
        let histograms: u64 = d.inputs.iter().map(|s| s.histograms.len() as u64).sum();
        let refused: u64 = d.refused.iter().map(|r| r.samples).sum();
        self.counters
            .received(tenant, decoded + refused + histograms);
        self.counters.rejected(tenant, "invalid_series", refused);
        // After decoding (the sample count is needed), before anything is stored.
        self.take_rate(tenant, decoded)?;
        let outcome = self.append(tenant, &d.inputs, d.start_times.as_deref())?;
        self.record_metadata(tenant, &d.metadata)?;
        let invalid = d.exemplars_invalid + d.refused.iter().map(|r| r.exemplars).sum::<u64>();
        let ex = self.store_exemplars(tenant, &d.exemplars, invalid)?;
        let histograms_written = outcome.histograms_accepted + outcome.histogram_duplicates_ignored;
        let mut report = WriteReport {
            samples_written: outcome.accepted + outcome.duplicates_ignored - histograms_written,
            histograms_written,
            exemplars_written: ex.written,
            exemplars_discarded: ex.discarded,
            exemplar_refusals: ex.refusals,
            samples_rejected: outcome.rejected + refused,
            series_refused: d.refused.len(),
            reasons: Vec::new(),
        };
        report.reasons = d
            .refused
            .iter()
            .map(|r| format!("{} for series {}", r.reason, r.series))
            .chain(outcome.rejections.iter().map(|r| r.to_string()))
            .take(MAX_REASONS)
            .collect();
        Ok(report)
    }

    /// The push-group registry.
    pub(crate) fn push_groups(&self) -> &'a PushGroups {
        self.push_groups
    }
}
