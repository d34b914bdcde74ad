//! OTLP metrics through the write pipeline: translation, then the same
//! path as remote write (rate limit, append, rejection counting, metadata,
//! exemplars), answered as an OTLP partial success.

use std::collections::HashMap;

use parking_lot::RwLock;

use super::{Decoded, Pipeline, Refused, WriteError, WriteReport};
use crate::ingest::otlp::proto::ExportMetricsServiceRequest;
use crate::ingest::otlp::{translate, OtlpSettings};
use crate::model::LabelRef;
use crate::storage::{ExemplarInput, MetricMetadata, SeriesInput};
use crate::tenant::TenantId;

/// The OTLP settings of every tenant: defaults and per-tenant overrides,
/// replaced whole by a reload.
#[derive(Debug, Default)]
pub struct OtlpConfigs {
    inner: RwLock<(OtlpSettings, HashMap<TenantId, OtlpSettings>)>,
}

impl OtlpConfigs {
    /// Settings with `defaults` for tenants without an override.
    pub fn new(defaults: OtlpSettings, overrides: HashMap<TenantId, OtlpSettings>) -> OtlpConfigs {
        OtlpConfigs {
            inner: RwLock::new((defaults, overrides)),
        }
    }

    /// The settings that apply to `tenant`.
    pub fn get(&self, tenant: &TenantId) -> OtlpSettings {
        let (defaults, overrides) = &*self.inner.read();
        overrides.get(tenant).unwrap_or(defaults).clone()
    }

    /// Replaces every setting (a config reload).
    pub fn set(&self, defaults: OtlpSettings, overrides: HashMap<TenantId, OtlpSettings>) {
        *self.inner.write() = (defaults, overrides);
    }
}

/// What an OTLP export did: the partial-success figures and the written
/// counts behind them. Exemplars are not data points: those not stored
/// are only described in the message (OTLP's "warning" form of a partial
/// success when no point was refused).
#[derive(Debug, Default, Clone, PartialEq)]
pub struct OtlpReport {
    /// Data points refused (in translation) plus samples storage refused.
    pub rejected_data_points: u64,
    /// The first reasons (points, then exemplars), joined; empty when
    /// everything was stored.
    pub error_message: String,
    /// The pipeline's report.
    pub write: WriteReport,
}

impl Pipeline<'_> {
    /// Translates and stores one OTLP export for `tenant`.
    pub fn write_otlp(
        &self,
        tenant: &TenantId,
        req: &ExportMetricsServiceRequest,
        settings: &OtlpSettings,
    ) -> Result<OtlpReport, WriteError> {
        let t = translate(req, settings);
        let refs: Vec<Vec<LabelRef<'_>>> = t
            .series
            .iter()
            .map(|s| s.labels.iter().map(|(n, v)| LabelRef::new(n, v)).collect())
            .collect();
        let inputs: Vec<SeriesInput<'_>> = t
            .series
            .iter()
            .zip(&refs)
            .map(|(s, labels)| SeriesInput {
                labels,
                samples: &s.samples,
                histograms: &s.histograms,
            })
            .collect();
        let any_start = t.series.iter().any(|s| !s.start_times.is_empty());
        let start_times = any_start.then(|| {
            t.series
                .iter()
                .map(|s| s.start_times.as_slice())
                .collect::<Vec<_>>()
        });
        let metadata = t
            .metadata
            .iter()
            .map(|m| MetricMetadata {
                metric: m.metric.clone(),
                kind: m.kind.to_string(),
                help: m.help.clone(),
                unit: m.unit.clone(),
            })
            .collect();
        let refused = t
            .refused
            .iter()
            .map(|r| Refused {
                series: format!("of metric {:?}", r.metric),
                reason: r.reason.clone(),
                samples: r.points,
                exemplars: r.exemplars,
            })
            .collect();
        let exemplars = t
            .series
            .iter()
            .zip(&refs)
            .filter(|(s, _)| !s.exemplars.is_empty())
            .map(|(s, labels)| ExemplarInput {
                labels,
                exemplars: &s.exemplars,
            })
            .collect();
        let decoded = Decoded {
            inputs,
            start_times,
            metadata,
            refused,
            exemplars,
            exemplars_invalid: t.exemplars_refused,
        };
        let write = self.write(tenant, decoded)?;
        let mut notes = write.reasons.clone();
        notes.extend(t.exemplar_notes.iter().cloned());
        if !write.exemplar_refusals.is_empty() {
            notes.push(format!(
                "exemplars not stored: {}",
                write.exemplar_refusals.join(", ")
            ));
        }
        Ok(OtlpReport {
            rejected_data_points: write.samples_rejected,
            error_message: notes.join("; "),
            write,
        })
    }
}
