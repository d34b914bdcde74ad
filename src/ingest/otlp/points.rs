//! What a metric holds: its data points, their times and exemplars.

use super::proto::{Metric, MetricData};

/// Nanoseconds to milliseconds (`convertTimeStamp`).
pub(super) fn ms(ns: u64) -> i64 {
    (ns / 1_000_000) as i64
}

pub(super) fn point_count(m: &Metric) -> u64 {
    match &m.data {
        Some(MetricData::Gauge(g)) => g.data_points.len() as u64,
        Some(MetricData::Sum(s)) => s.data_points.len() as u64,
        Some(MetricData::Histogram(h)) => h.data_points.len() as u64,
        Some(MetricData::ExponentialHistogram(h)) => h.data_points.len() as u64,
        Some(MetricData::Summary(s)) => s.data_points.len() as u64,
        None => 0,
    }
}

/// Data point times in ms (`findMinAndMaxTimestamps`).
pub(super) fn point_times(m: &Metric) -> Vec<i64> {
    match &m.data {
        Some(MetricData::Gauge(g)) => g.data_points.iter().map(|p| ms(p.time_unix_nano)).collect(),
        Some(MetricData::Sum(s)) => s.data_points.iter().map(|p| ms(p.time_unix_nano)).collect(),
        Some(MetricData::Histogram(h)) => {
            h.data_points.iter().map(|p| ms(p.time_unix_nano)).collect()
        }
        Some(MetricData::ExponentialHistogram(h)) => {
            h.data_points.iter().map(|p| ms(p.time_unix_nano)).collect()
        }
        Some(MetricData::Summary(s)) => {
            s.data_points.iter().map(|p| ms(p.time_unix_nano)).collect()
        }
        None => Vec::new(),
    }
}

/// Exemplars a metric's points carry (counted as discarded when the
/// metric or point is refused, as remote write counts those of a refused
/// series).
pub(super) fn exemplar_count(m: &Metric) -> u64 {
    let n = match &m.data {
        Some(MetricData::Gauge(g)) => g.data_points.iter().map(|p| p.exemplars.len()).sum(),
        Some(MetricData::Sum(s)) => s.data_points.iter().map(|p| p.exemplars.len()).sum(),
        Some(MetricData::Histogram(h)) => h.data_points.iter().map(|p| p.exemplars.len()).sum(),
        Some(MetricData::ExponentialHistogram(h)) => {
            h.data_points.iter().map(|p| p.exemplars.len()).sum()
        }
        Some(MetricData::Summary(_)) | None => 0,
    };
    n as u64
}
