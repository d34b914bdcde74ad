//! OTLP metrics into Prometheus series, as Prometheus 3 translates them.
//!
//! Reproduces `FromMetrics` in Prometheus's
//! `storage/remote/otlptranslator/prometheusremotewrite` (with
//! `createAttributes`, `addResourceTargetInfo`, the number, histogram and
//! summary converters) at its defaults: no namespace, no scope labels,
//! target info on, delta temporality refused. A metric or data point that
//! cannot be translated is refused on its own with a reason, as upstream
//! joins its errors; the rest of the request is kept. Exemplars are
//! converted by `exemplar.rs` and attached here as upstream attaches them:
//! to a sum's series, to the `_bucket` series holding their value, to an
//! exponential histogram's series; a gauge's are not kept (upstream's
//! `addGaugeNumberDataPoints` takes none), which is counted and said.

use std::collections::BTreeMap;

use super::exemplar::{self, bucket_of};
use super::histogram::exponential_to_native;
use super::naming::{label_name, metric_name, unit_name, NameType};
use super::points::{exemplar_count, ms, point_count, point_times};
use super::proto::Exemplar as OtlpExemplar;
use super::proto::*;
use super::value::value_string;
use super::OtlpSettings;
use crate::model::{stale_nan, Exemplar, HistogramSample, Sample};

/// Resource attributes that identify the target (`job`, `instance`).
const SERVICE_NAME: &str = "service.name";
const SERVICE_NAMESPACE: &str = "service.namespace";
const SERVICE_INSTANCE_ID: &str = "service.instance.id";

/// `target_info` is repeated at this interval between a resource's first
/// and last data point (half of the default lookback delta, as upstream).
const TARGET_INFO_INTERVAL_MS: i64 = 150_000;

/// Most `target_info` samples one resource of one request makes (a week).
const MAX_TARGET_INFO_SAMPLES: i64 = 4032;

/// Most exemplar notes a translation keeps (the rest are only counted).
const MAX_EXEMPLAR_NOTES: usize = 10;

/// One series of a request with its points.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct OtlpSeries {
    /// Labels, `__name__` included, sorted by name.
    pub labels: Vec<(String, String)>,
    /// Float samples.
    pub samples: Vec<Sample>,
    /// Start timestamps of `samples` (0: none), or empty.
    pub start_times: Vec<i64>,
    /// Native histograms.
    pub histograms: Vec<HistogramSample>,
    /// Exemplars, oldest first.
    pub exemplars: Vec<Exemplar>,
}

/// Metadata of one translated metric.
#[derive(Debug, Clone, PartialEq)]
pub struct OtlpMetadata {
    /// The Prometheus metric family name.
    pub metric: String,
    /// `counter`, `gauge`, `histogram` or `summary`.
    pub kind: &'static str,
    /// The description.
    pub help: String,
    /// The unit (`UnitNamer`).
    pub unit: String,
}

/// Data points (or whole metrics) that could not be translated.
#[derive(Debug, Clone, PartialEq)]
pub struct OtlpRefusal {
    /// The OTLP metric name.
    pub metric: String,
    /// Why.
    pub reason: String,
    /// Data points refused.
    pub points: u64,
    /// Exemplars on those points.
    pub exemplars: u64,
}

/// A translated request.
#[derive(Debug, Default)]
pub struct Translated {
    /// Series in order of appearance (a label set may appear more than once).
    pub series: Vec<OtlpSeries>,
    /// One entry per translated metric.
    pub metadata: Vec<OtlpMetadata>,
    /// What could not be translated.
    pub refused: Vec<OtlpRefusal>,
    /// Exemplars not kept: invalid, or on a gauge.
    pub exemplars_refused: u64,
    /// The first notes about exemplars (why some were refused, that some
    /// lost their attributes), each naming its metric.
    pub exemplar_notes: Vec<String>,
    /// Data points in the request.
    pub data_points: u64,
}

/// Labels a resource gives every data point.
struct ResourceLabels {
    job: Option<String>,
    instance: Option<String>,
    promoted: Vec<(String, String)>,
}

/// Translates a request.
pub fn translate(req: &ExportMetricsServiceRequest, settings: &OtlpSettings) -> Translated {
    let mut out = Translated::default();
    for rm in &req.resource_metrics {
        let attrs = rm
            .resource
            .as_ref()
            .map(|r| r.attributes.as_slice())
            .unwrap_or_default();
        let points: u64 = rm
            .scope_metrics
            .iter()
            .flat_map(|s| &s.metrics)
            .map(point_count)
            .sum();
        out.data_points += points;
        let resource = match resource_labels(attrs, settings) {
            Ok(r) => r,
            Err(reason) => {
                let metrics = rm.scope_metrics.iter().flat_map(|s| &s.metrics);
                out.refused.push(OtlpRefusal {
                    metric: "(resource)".into(),
                    reason,
                    points,
                    exemplars: metrics.map(exemplar_count).sum(),
                });
                continue;
            }
        };
        let (mut first, mut last) = (i64::MAX, i64::MIN);
        for metric in rm.scope_metrics.iter().flat_map(|s| &s.metrics) {
            for t in point_times(metric) {
                first = first.min(t);
                last = last.max(t);
            }
            let mut cx = MetricCx {
                settings,
                resource: &resource,
                out: &mut out,
            };
            if let Err(reason) = cx.metric(metric) {
                out.refused.push(OtlpRefusal {
                    metric: metric.name.clone(),
                    reason,
                    points: point_count(metric),
                    exemplars: exemplar_count(metric),
                });
            }
        }
        if first <= last {
            if let Err(reason) = target_info(attrs, settings, &resource, first, last, &mut out) {
                out.refused.push(OtlpRefusal {
                    metric: "target_info".into(),
                    reason,
                    points: 0,
                    exemplars: 0,
                });
            }
        }
    }
    out
}

fn get<'a>(attrs: &'a [KeyValue], key: &str) -> Option<&'a KeyValue> {
    attrs.iter().find(|kv| kv.key == key)
}

/// `setResourceContext`: `job` from `service.namespace/service.name`,
/// `instance` from `service.instance.id`, and the promoted attributes.
fn resource_labels(attrs: &[KeyValue], s: &OtlpSettings) -> Result<ResourceLabels, String> {
    let text = |kv: &KeyValue| value_string(kv.value.as_ref());
    let job = get(attrs, SERVICE_NAME).map(|name| match get(attrs, SERVICE_NAMESPACE) {
        Some(ns) => format!("{}/{}", text(ns), text(name)),
        None => text(name),
    });
    let instance = get(attrs, SERVICE_INSTANCE_ID).map(text);
    let mut promoted = BTreeMap::new();
    for kv in attrs {
        let listed = s.promote_resource_attributes.contains(&kv.key);
        let ignored = s.ignore_resource_attributes.contains(&kv.key);
        if (s.promote_all_resource_attributes && !ignored) || listed {
            promoted.insert(label_name(&kv.key, s.translation_strategy)?, text(kv));
        }
    }
    Ok(ResourceLabels {
        job,
        instance,
        promoted: promoted.into_iter().collect(),
    })
}

/// Builds label sets for the points of one metric.
struct MetricCx<'a> {
    settings: &'a OtlpSettings,
    resource: &'a ResourceLabels,
    out: &'a mut Translated,
}

impl MetricCx<'_> {
    /// `createAttributes`: point attributes (sorted by key, names
    /// translated, colliding names joined with `;`), promoted resource
    /// attributes where not already set, then `job` and `instance`.
    fn base_labels(&self, attrs: &[KeyValue]) -> Result<BTreeMap<String, String>, String> {
        let strategy = self.settings.translation_strategy;
        let mut sorted: Vec<&KeyValue> = attrs.iter().filter(|kv| kv.key != "__name__").collect();
        sorted.sort_by(|a, b| a.key.cmp(&b.key));
        let mut labels: BTreeMap<String, String> = BTreeMap::new();
        for kv in sorted {
            let value = value_string(kv.value.as_ref());
            let name = if strategy.escapes() {
                label_name(&kv.key, strategy)?
            } else {
                kv.key.clone()
            };
            match labels.get_mut(&name) {
                Some(existing) if !existing.is_empty() && strategy.escapes() => {
                    existing.push(';');
                    existing.push_str(&value);
                }
                _ => {
                    labels.insert(name, value);
                }
            }
        }
        for (k, v) in &self.resource.promoted {
            if labels.get(k).is_none_or(|x| x.is_empty()) {
                labels.insert(k.clone(), v.clone());
            }
        }
        if let Some(job) = self.resource.job.as_ref().filter(|j| !j.is_empty()) {
            labels.insert("job".into(), job.clone());
        }
        if let Some(i) = self.resource.instance.as_ref().filter(|i| !i.is_empty()) {
            labels.insert("instance".into(), i.clone());
        }
        Ok(labels)
    }

    /// Adds a float series `name` (plus `extra`) with one sample, on
    /// `labels` (given owned, so the last series of a point takes its base
    /// labels without a copy).
    fn float(
        &mut self,
        mut labels: BTreeMap<String, String>,
        name: &str,
        extra: Option<(&str, String)>,
        t: i64,
        st: i64,
        v: f64,
    ) {
        if let Some((k, val)) = extra {
            labels.insert(k.to_string(), val);
        }
        labels.insert("__name__".into(), name.to_string());
        self.out.series.push(OtlpSeries {
            labels: finish(labels),
            samples: vec![Sample::new(t, v)],
            start_times: if st > 0 { vec![st] } else { Vec::new() },
            histograms: Vec::new(),
            exemplars: Vec::new(),
        });
    }

    /// Converts a point's exemplars, counting and noting the refused ones.
    fn exemplars(&mut self, name: &str, exemplars: &[OtlpExemplar], t: i64) -> Vec<Exemplar> {
        let c = exemplar::convert(exemplars, t);
        self.out.exemplars_refused += c.refused.len() as u64;
        for reason in c.refused {
            self.note(format!("exemplar of {name} refused: {reason}"));
        }
        if c.trimmed > 0 {
            self.note(format!(
                "{} exemplars of {name} kept without their attributes: the labels would be longer than 128 runes",
                c.trimmed
            ));
        }
        c.kept
    }

    fn note(&mut self, note: String) {
        if self.out.exemplar_notes.len() < MAX_EXEMPLAR_NOTES {
            self.out.exemplar_notes.push(note);
        }
    }

    /// Gives the series added last `exemplars`, oldest first (so that
    /// storage, which refuses an exemplar not newer than its series'
    /// newest, keeps all of a point's).
    fn attach(&mut self, mut exemplars: Vec<Exemplar>) {
        exemplars.sort_by_key(|e| e.t);
        if let Some(s) = self.out.series.last_mut() {
            s.exemplars = exemplars;
        }
    }

    fn metric(&mut self, m: &Metric) -> Result<(), String> {
        let strategy = self.settings.translation_strategy;
        let (kind, temporality) = match &m.data {
            None => return Err("metric has no data".into()),
            Some(MetricData::Gauge(_)) => (NameType::Gauge, None),
            Some(MetricData::Sum(s)) if s.is_monotonic => {
                (NameType::MonotonicCounter, Some(s.aggregation_temporality))
            }
            Some(MetricData::Sum(s)) => (
                NameType::NonMonotonicCounter,
                Some(s.aggregation_temporality),
            ),
            Some(MetricData::Histogram(h)) => (NameType::Other, Some(h.aggregation_temporality)),
            Some(MetricData::ExponentialHistogram(h)) => {
                (NameType::Other, Some(h.aggregation_temporality))
            }
            Some(MetricData::Summary(_)) => (NameType::Other, None),
        };
        if let Some(t) = temporality.filter(|t| *t != TEMPORALITY_CUMULATIVE) {
            let what = match t {
                TEMPORALITY_DELTA => "delta",
                TEMPORALITY_UNSPECIFIED => "unspecified",
                _ => "unknown",
            };
            return Err(format!(
                "invalid temporality and type combination for metric {:?}: {what} temporality is not accepted (only cumulative, as Prometheus 3 by default)",
                m.name
            ));
        }
        let name = metric_name(&m.name, &m.unit, kind, strategy)?;
        let prom_kind = match &m.data {
            Some(MetricData::Sum(s)) if s.is_monotonic => "counter",
            Some(MetricData::Gauge(_) | MetricData::Sum(_)) => "gauge",
            Some(MetricData::Summary(_)) => "summary",
            _ => "histogram",
        };
        self.out.metadata.push(OtlpMetadata {
            metric: name.clone(),
            kind: prom_kind,
            help: m.description.clone(),
            unit: unit_name(&m.unit),
        });
        match &m.data {
            Some(MetricData::Gauge(g)) => self.numbers(&name, &g.data_points, false),
            Some(MetricData::Sum(s)) => self.numbers(&name, &s.data_points, true),
            Some(MetricData::Histogram(h)) => self.histograms(&name, &h.data_points),
            Some(MetricData::ExponentialHistogram(h)) => self.exponential(m, &name, &h.data_points),
            Some(MetricData::Summary(s)) => self.summaries(&name, &s.data_points),
            None => Ok(()),
        }
    }

    /// `addGaugeNumberDataPoints`, `addSumNumberDataPoints`; only a sum's
    /// exemplars are kept, as upstream (`sum`), a gauge's are counted as
    /// refused.
    fn numbers(&mut self, name: &str, points: &[NumberDataPoint], sum: bool) -> Result<(), String> {
        for p in points {
            let base = self.base_labels(&p.attributes)?;
            let v = match p.value {
                Some(NumberValue::AsDouble(f)) => f,
                Some(NumberValue::AsInt(i)) => i as f64,
                None => 0.0,
            };
            let v = recorded(p.flags, v);
            let (t, st) = (ms(p.time_unix_nano), ms(p.start_time_unix_nano));
            self.float(base, name, None, t, st, v);
            if sum {
                let kept = self.exemplars(name, &p.exemplars, t);
                self.attach(kept);
            } else if !p.exemplars.is_empty() {
                self.out.exemplars_refused += p.exemplars.len() as u64;
                self.note(format!(
                    "{} exemplars of gauge {name} not kept: as Prometheus, only sums and histograms keep exemplars",
                    p.exemplars.len()
                ));
            }
        }
        Ok(())
    }

    /// `addHistogramDataPoints`: `_sum` (when recorded), `_count`, and
    /// cumulative `_bucket`s with `le`, `+Inf` last.
    fn histograms(&mut self, name: &str, points: &[HistogramDataPoint]) -> Result<(), String> {
        for p in points {
            let base = self.base_labels(&p.attributes)?;
            let (t, st) = (ms(p.time_unix_nano), ms(p.start_time_unix_nano));
            if let Some(sum) = p.sum {
                self.float(
                    base.clone(),
                    &format!("{name}_sum"),
                    None,
                    t,
                    st,
                    recorded(p.flags, sum),
                );
            }
            let count = recorded(p.flags, p.count as f64);
            self.float(base.clone(), &format!("{name}_count"), None, t, st, count);
            let bucket = format!("{name}_bucket");
            let n = p.explicit_bounds.len().min(p.bucket_counts.len());
            let bounds = &p.explicit_bounds[..n];
            let mut by_bucket: Vec<Vec<Exemplar>> = vec![Vec::new(); n + 1];
            for x in self.exemplars(&bucket, &p.exemplars, t) {
                by_bucket[bucket_of(x.value, bounds)].push(x);
            }
            let mut by_bucket = by_bucket.into_iter();
            let mut cumulative: u64 = 0;
            for (bound, n) in bounds.iter().zip(&p.bucket_counts) {
                cumulative = cumulative.saturating_add(*n);
                let le = Some(("le", go_float(*bound)));
                let v = recorded(p.flags, cumulative as f64);
                self.float(base.clone(), &bucket, le, t, st, v);
                self.attach(by_bucket.next().unwrap_or_default());
            }
            self.float(base, &bucket, Some(("le", "+Inf".into())), t, st, count);
            self.attach(by_bucket.next().unwrap_or_default());
        }
        Ok(())
    }

    /// `addSummaryDataPoints`: `_sum`, `_count`, and one series per
    /// quantile with a `quantile` label.
    fn summaries(&mut self, name: &str, points: &[SummaryDataPoint]) -> Result<(), String> {
        for p in points {
            let base = self.base_labels(&p.attributes)?;
            let (t, st) = (ms(p.time_unix_nano), ms(p.start_time_unix_nano));
            self.float(
                base.clone(),
                &format!("{name}_sum"),
                None,
                t,
                st,
                recorded(p.flags, p.sum),
            );
            let count = recorded(p.flags, p.count as f64);
            self.float(base.clone(), &format!("{name}_count"), None, t, st, count);
            for q in &p.quantile_values {
                let label = Some(("quantile", go_float(q.quantile)));
                let v = recorded(p.flags, q.value);
                self.float(base.clone(), name, label, t, st, v);
            }
        }
        Ok(())
    }

    /// `addExponentialHistogramDataPoints`: one native histogram per point;
    /// a point that cannot be converted is refused alone.
    fn exponential(
        &mut self,
        m: &Metric,
        name: &str,
        points: &[ExponentialHistogramDataPoint],
    ) -> Result<(), String> {
        for p in points {
            let h = match exponential_to_native(p) {
                Ok(h) => h,
                Err(reason) => {
                    self.out.refused.push(OtlpRefusal {
                        metric: m.name.clone(),
                        reason,
                        points: 1,
                        exemplars: p.exemplars.len() as u64,
                    });
                    continue;
                }
            };
            let mut labels = self.base_labels(&p.attributes)?;
            labels.insert("__name__".into(), name.to_string());
            let t = ms(p.time_unix_nano);
            let exemplars = self.exemplars(name, &p.exemplars, t);
            self.out.series.push(OtlpSeries {
                labels: finish(labels),
                samples: Vec::new(),
                start_times: Vec::new(),
                histograms: vec![HistogramSample { t, h }],
                exemplars: Vec::new(),
            });
            self.attach(exemplars);
        }
        Ok(())
    }
}

/// The value, or the stale marker when the point has no recorded value.
fn recorded(flags: u32, v: f64) -> f64 {
    if flags & FLAG_NO_RECORDED_VALUE != 0 {
        stale_nan()
    } else {
        v
    }
}

/// Go's `strconv.FormatFloat(f, 'f', -1, 64)`, as `le` and `quantile`
/// values are written upstream.
fn go_float(f: f64) -> String {
    if f.is_infinite() {
        return if f > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        };
    }
    if f.is_nan() {
        return "NaN".into();
    }
    format!("{f}")
}

/// Labels with empty values dropped (a label set never holds one), as
/// sorted pairs.
fn finish(labels: BTreeMap<String, String>) -> Vec<(String, String)> {
    labels.into_iter().filter(|(_, v)| !v.is_empty()).collect()
}

/// `addResourceTargetInfo`: a `target_info` series of value 1 carrying the
/// resource's non-identifying attributes, from the first to the last data
/// point of the resource, when the resource has such attributes and a
/// `job` or `instance`.
fn target_info(
    attrs: &[KeyValue],
    s: &OtlpSettings,
    resource: &ResourceLabels,
    first: i64,
    last: i64,
    out: &mut Translated,
) -> Result<(), String> {
    let identifying = [SERVICE_NAMESPACE, SERVICE_NAME, SERVICE_INSTANCE_ID];
    let others = attrs
        .iter()
        .filter(|kv| !identifying.contains(&kv.key.as_str()))
        .count();
    if others == 0 {
        return Ok(());
    }
    let kept: Vec<KeyValue> = attrs
        .iter()
        .filter(|kv| {
            s.keep_identifying_resource_attributes || !identifying.contains(&kv.key.as_str())
        })
        .cloned()
        .collect();
    let unpromoted = ResourceLabels {
        job: resource.job.clone(),
        instance: resource.instance.clone(),
        promoted: Vec::new(),
    };
    let mut cx = MetricCx {
        settings: s,
        resource: &unpromoted,
        out,
    };
    let base = cx.base_labels(&kept)?;
    if !base.contains_key("job") && !base.contains_key("instance") {
        return Ok(());
    }
    cx.out.metadata.push(OtlpMetadata {
        metric: "target_info".into(),
        kind: "gauge",
        help: "Target metadata".into(),
        unit: String::new(),
    });
    // Bounded: a resource whose points span years would otherwise make
    // millions of samples from one request.
    let repeats = (last - first) / TARGET_INFO_INTERVAL_MS;
    if repeats > MAX_TARGET_INFO_SAMPLES {
        return Err(format!(
            "the resource's data points span {} hours; target_info is written only for spans up to {} hours",
            (last - first) / 3_600_000,
            MAX_TARGET_INFO_SAMPLES * TARGET_INFO_INTERVAL_MS / 3_600_000
        ));
    }
    let mut t = first;
    while t < last {
        cx.float(base.clone(), "target_info", None, t, 0, 1.0);
        t = t.saturating_add(TARGET_INFO_INTERVAL_MS);
    }
    cx.float(base, "target_info", None, last, 0, 1.0);
    Ok(())
}
