//! Tessera's side: storage in a temporary directory, bulk loading, and
//! timed in-process queries through `Engine`.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;
use std::time::Duration;

use tessera::model::{LabelRef, Labels, Sample};
use tessera::promql::{Engine, TenantScope, Value};
use tessera::storage::{SeriesInput, Storage, StorageConfig, SyncPolicy};
use tessera::tenant::TenantId;

use super::data::Shape;
use super::measure::{median, peak_above_mib, reset_peak, timed, Digest, Query};

/// Series per append call.
const BATCH_SERIES: usize = 1000;

/// One timed Tessera query.
pub struct TessTiming {
    /// Median wall time of `Engine::range_query` / `instant_query`.
    pub time: Duration,
    /// Peak RSS above the RSS before the last run, in MiB.
    pub peak_mib: Option<f64>,
    /// The result.
    pub digest: Digest,
}

/// Opens storage in `dir` without background maintenance or WAL fsyncs
/// (a bench load, not a durability test).
pub fn open(dir: &Path) -> Storage {
    let mut cfg = StorageConfig::new(dir);
    cfg.wal.sync = SyncPolicy::None;
    cfg.maintenance_interval = None;
    Storage::open(cfg).expect("open storage").0
}

/// Appends every sample of `shape` to `tenant`, each series' whole span in
/// one input (Tessera's head accepts any in-order series history). Returns
/// the number of samples.
pub fn load(st: &Storage, tenant: &TenantId, shape: &dyn Shape) -> u64 {
    let (from, to) = shape.span();
    let mut total = 0;
    let ids: Vec<usize> = (0..shape.count()).collect();
    for chunk in ids.chunks(BATCH_SERIES) {
        let labels: Vec<Labels> = chunk.iter().map(|&s| shape.labels(s)).collect();
        let samples: Vec<Vec<Sample>> = chunk.iter().map(|&s| shape.samples(s, from, to)).collect();
        let refs: Vec<Vec<LabelRef<'_>>> = labels.iter().map(|l| l.refs()).collect();
        let batch: Vec<SeriesInput<'_>> = refs
            .iter()
            .zip(&samples)
            .map(|(l, s)| SeriesInput {
                labels: l,
                samples: s,
                histograms: &[],
            })
            .collect();
        let out = st.append(tenant, &batch).expect("append");
        assert_eq!(out.rejected, 0, "every sample is accepted");
        total += samples.iter().map(|s| s.len() as u64).sum::<u64>();
    }
    total
}

/// Runs `q` once to warm up, then `runs` times. A panic (an engine that is
/// still a stub) or an error is returned as text.
pub fn time_query(
    engine: &Engine,
    scope: &TenantScope<'_>,
    q: &Query,
    runs: usize,
) -> Result<TessTiming, String> {
    run(engine, scope, q)?;
    let (mut times, mut digest, mut base) = (Vec::new(), Digest::default(), None);
    for _ in 0..runs.max(1) {
        base = reset_peak("self");
        let (t, r) = timed(|| run(engine, scope, q));
        digest = r?;
        times.push(t);
    }
    Ok(TessTiming {
        time: median(times),
        peak_mib: peak_above_mib("self", base),
        digest,
    })
}

fn run(engine: &Engine, scope: &TenantScope<'_>, q: &Query) -> Result<Digest, String> {
    let out = catch_unwind(AssertUnwindSafe(|| match q.range {
        Some((start, end, step)) => engine.range_query(scope, &q.expr, start, end, step),
        None => engine.instant_query(scope, &q.expr, q.time_ms),
    }));
    match out {
        Ok(Ok(out)) => Ok(digest(&out.value)),
        Ok(Err(e)) => Err(format!("error: {e}")),
        Err(p) => Err(format!(
            "panicked: {}",
            p.downcast_ref::<&str>()
                .copied()
                .or(p.downcast_ref::<String>().map(String::as_str))
                .unwrap_or("?")
        )),
    }
}

fn digest(v: &Value) -> Digest {
    let mut d = Digest::default();
    match v {
        Value::Matrix(m) => {
            for s in m {
                d.series += 1;
                s.samples.iter().for_each(|x| d.add(x.v));
            }
        }
        Value::Vector(vec) => {
            for s in vec {
                d.series += 1;
                d.add(s.v);
            }
        }
        Value::Scalar { v, .. } => {
            d.series = 1;
            d.add(*v);
        }
        Value::String { .. } => {}
    }
    d
}
