//! OTLP metrics: decoding `ExportMetricsServiceRequest` bodies (protobuf or
//! JSON, gzip or not) and translating them into Prometheus series the way
//! Prometheus 3 does (`storage/remote/otlptranslator`).
//!
//! `decode` bounds a body before anything sized by it is allocated,
//! `json` maps OTLP/JSON onto the protobuf messages in `proto`, `naming`
//! builds metric, unit and label names, `histogram` turns exponential
//! histograms into native ones, `exemplar` converts exemplars, `value`
//! writes attribute values as label values, `points` counts a metric's
//! points and exemplars, and `translate` does the rest.

pub mod decode;
pub mod exemplar;
pub mod histogram;
pub mod json;
pub mod naming;
mod points;
pub mod proto;
pub mod translate;
mod value;

use serde::Deserialize;

pub use decode::{decode, gunzip, prescan, OtlpFormat};
pub use naming::TranslationStrategy;
pub use translate::{translate, OtlpSeries, Translated};

/// How OTLP is translated for a tenant (`otlp:` in `limits:` or
/// `tenants.<id>:`), Prometheus's `otlp:` settings of the same names.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OtlpSettings {
    /// Metric and label name translation.
    pub translation_strategy: TranslationStrategy,
    /// Resource attributes copied onto every series as labels.
    pub promote_resource_attributes: Vec<String>,
    /// Promote every resource attribute but the ignored ones.
    pub promote_all_resource_attributes: bool,
    /// Not promoted when `promote_all_resource_attributes` is set.
    pub ignore_resource_attributes: Vec<String>,
    /// Keep `service.name`, `service.namespace`, `service.instance.id` on
    /// `target_info` as well as in `job` and `instance`.
    pub keep_identifying_resource_attributes: bool,
}
