//! A results cache for range queries, per tenant scope and policy: the
//! idea of Mimir's query-frontend results cache and VictoriaMetrics'
//! rollup cache, without their staleness.
//!
//! An entry holds a query's matrix over a contiguous run of steps,
//! together with the [`ChangeMark`] of every tenant it read, taken before
//! it was computed. A later request for the same key and step grid reuses
//! the steps that are still true and computes only the others (typically
//! the newest few of a dashboard's moving window). A step at `T` reads
//! samples at or before `T` only (queries with `@`, negative offsets or
//! `range()` are never cached), so a write or deletion of a sample at `t`
//! after the mark can change only steps at `t` or later: those are dropped
//! and recomputed. Retention, deleted tenants and blocks coming or going
//! read as "everything changed" (see [`crate::storage::changes`]). Keys
//! carry the tenants, the caller's policy and the engine settings, so no
//! entry is ever served to another tenant or another policy.
//!
//! An entry with annotations (warnings, infos) is only reused whole: an
//! annotation belongs to the range it was computed over, and the
//! annotations of a range are the union of its parts'. Splitting a query into parts lets each part
//! stay under the sample limit where the whole range might not.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::Mutex;

use super::error::QueryError;
use super::value::{QueryOutput, RangeSeries, Value};
use super::Annotations;
use crate::model::Labels;
use crate::storage::changes::ChangeMark;
use crate::storage::Storage;
use crate::tenant::TenantId;

/// The default size bound (`query.results_cache_max_bytes`).
pub const DEFAULT_MAX_BYTES: usize = 128 << 20;

/// One cached run of steps.
struct Entry {
    start: i64,
    end: i64,
    step: i64,
    marks: Vec<ChangeMark>,
    series: Vec<RangeSeries>,
    annotations: Annotations,
    bytes: usize,
    used: u64,
}

#[derive(Default)]
struct State {
    entries: HashMap<String, Entry>,
    bytes: usize,
    tick: u64,
}

/// Counters of [`ResultsCache`] use, for `/metrics`.
#[derive(Debug, Default)]
pub struct CacheStats {
    /// Requests answered entirely from the cache.
    pub hits: AtomicU64,
    /// Requests that reused some steps and computed the rest.
    pub partial_hits: AtomicU64,
    /// Requests computed in full.
    pub misses: AtomicU64,
    /// Steps computed (all requests through the cache).
    pub steps_computed: AtomicU64,
    /// Steps served from entries.
    pub steps_reused: AtomicU64,
}

/// The range-query results cache of one server.
pub struct ResultsCache {
    max_bytes: usize,
    state: Mutex<State>,
    /// Use counters.
    pub stats: CacheStats,
}

/// What a cached range query asks for.
pub struct CachedRange<'a> {
    /// Everything that makes two requests' answers equal besides the time
    /// range: tenants, policy, engine settings, step and query text.
    pub key: String,
    /// The tenants the scope reads.
    pub tenants: &'a [TenantId],
    /// First step (ms).
    pub start: i64,
    /// Last step (ms), inclusive.
    pub end: i64,
    /// Step (ms), positive.
    pub step: i64,
}

/// Computes the query over `[start, end]` on the request's step grid.
pub type Compute<'f> = dyn FnMut(i64, i64) -> Result<QueryOutput, QueryError> + 'f;

impl Default for ResultsCache {
    /// A cache that is off (tests and embedders opt in).
    fn default() -> ResultsCache {
        ResultsCache::new(0)
    }
}

impl ResultsCache {
    /// A cache holding at most about `max_bytes` of results (0: off).
    pub fn new(max_bytes: usize) -> ResultsCache {
        ResultsCache {
            max_bytes,
            state: Mutex::new(State::default()),
            stats: CacheStats::default(),
        }
    }

    /// Whether the cache stores anything.
    pub fn enabled(&self) -> bool {
        self.max_bytes > 0
    }

    /// Bytes held now (estimated).
    pub fn bytes(&self) -> usize {
        self.state.lock().bytes
    }

    /// The cache's counters in the Prometheus text format.
    pub fn metrics_text(&self) -> String {
        let s = &self.stats;
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let mut out = String::new();
        out.push_str("# HELP tessera_query_results_cache_requests_total Range queries through the results cache, by outcome.\n");
        out.push_str("# TYPE tessera_query_results_cache_requests_total counter\n");
        for (outcome, c) in [
            ("hit", &s.hits),
            ("partial", &s.partial_hits),
            ("miss", &s.misses),
        ] {
            out.push_str(&format!(
                "tessera_query_results_cache_requests_total{{outcome=\"{outcome}\"}} {}\n",
                get(c)
            ));
        }
        out.push_str("# HELP tessera_query_results_cache_steps_total Range-query steps through the results cache, reused or computed.\n");
        out.push_str("# TYPE tessera_query_results_cache_steps_total counter\n");
        out.push_str(&format!(
            "tessera_query_results_cache_steps_total{{source=\"cache\"}} {}\n",
            get(&s.steps_reused)
        ));
        out.push_str(&format!(
            "tessera_query_results_cache_steps_total{{source=\"computed\"}} {}\n",
            get(&s.steps_computed)
        ));
        out.push_str("# HELP tessera_query_results_cache_bytes Estimated bytes of results held.\n");
        out.push_str("# TYPE tessera_query_results_cache_bytes gauge\n");
        out.push_str(&format!(
            "tessera_query_results_cache_bytes {}\n",
            self.bytes()
        ));
        out
    }

    /// Whether a query's steps depend only on data at or before their own
    /// time: no `@` (which also covers `start()`/`end()`), no negative or
    /// computed offset, no `range()`. Judged on the text, erring towards
    /// "no" (an `@` inside a label value also says no).
    pub fn cacheable(query: &str) -> bool {
        if query.contains('@') || query.contains("range(") || query.contains("range (") {
            return false;
        }
        let mut rest = query;
        while let Some(i) = rest.find("offset") {
            let after = rest[i + "offset".len()..].trim_start();
            if !after.starts_with(|c: char| c.is_ascii_digit()) {
                return false;
            }
            rest = after;
        }
        true
    }

    /// Answers `req` from the cache where its steps are still true and
    /// with `compute` elsewhere, then keeps the whole answer.
    pub fn range_query(
        &self,
        storage: &Storage,
        req: &CachedRange<'_>,
        compute: &mut Compute<'_>,
    ) -> Result<QueryOutput, QueryError> {
        // Before anything is read: a change after this is seen next time.
        let marks: Vec<ChangeMark> = req.tenants.iter().map(|t| storage.change_mark(t)).collect();
        let reuse = self.reusable(storage, req);
        let (parts, reused) = match reuse {
            Some((lo, hi, cached, noted)) => {
                let mut parts = Vec::new();
                if req.start < lo {
                    parts.push(compute(req.start, lo - req.step)?);
                }
                if hi < req.end {
                    parts.push(compute(hi + req.step, req.end)?);
                }
                let counter = if parts.is_empty() {
                    &self.stats.hits
                } else {
                    &self.stats.partial_hits
                };
                counter.fetch_add(1, Ordering::Relaxed);
                ((parts, cached, noted), (hi - lo) / req.step + 1)
            }
            None => {
                self.stats.misses.fetch_add(1, Ordering::Relaxed);
                (
                    (
                        vec![compute(req.start, req.end)?],
                        Vec::new(),
                        Annotations::default(),
                    ),
                    0,
                )
            }
        };
        let total = (req.end - req.start) / req.step + 1;
        self.stats
            .steps_reused
            .fetch_add(reused as u64, Ordering::Relaxed);
        self.stats
            .steps_computed
            .fetch_add((total - reused) as u64, Ordering::Relaxed);
        let (computed, cached, mut annotations) = parts;
        let mut by_labels: BTreeMap<Labels, RangeSeries> = BTreeMap::new();
        for out in computed {
            for w in out.annotations.warnings {
                annotations.warn(w);
            }
            for i in out.annotations.infos {
                annotations.info(i);
            }
            match out.value {
                Value::Matrix(m) => m.into_iter().for_each(|s| add(&mut by_labels, s)),
                other => {
                    // Not a range query's answer: hand it back untouched.
                    return Ok(QueryOutput {
                        value: other,
                        annotations,
                    });
                }
            }
        }
        cached.into_iter().for_each(|s| add(&mut by_labels, s));
        let mut series: Vec<RangeSeries> = by_labels.into_values().collect();
        for s in &mut series {
            s.samples.sort_by_key(|p| p.t);
            s.histograms.sort_by_key(|p| p.t);
        }
        self.store(req, marks, &series, &annotations);
        Ok(QueryOutput {
            value: Value::Matrix(series),
            annotations,
        })
    }

    /// The still-true steps `[lo, hi]` of `req`'s entry, its series cut to
    /// them and its annotations, if there are any (an annotated entry only
    /// when all of it is still true and asked for).
    fn reusable(
        &self,
        storage: &Storage,
        req: &CachedRange<'_>,
    ) -> Option<(i64, i64, Vec<RangeSeries>, Annotations)> {
        if !self.enabled() {
            return None;
        }
        let mut st = self.state.lock();
        st.tick += 1;
        let tick = st.tick;
        let e = st.entries.get_mut(&req.key)?;
        if e.step != req.step || (req.start - e.start).rem_euclid(req.step) != 0 {
            return None;
        }
        let changed = req
            .tenants
            .iter()
            .zip(&e.marks)
            .filter_map(|(t, m)| storage.changed_since(t, *m))
            .min()
            .unwrap_or(i64::MAX);
        let lo = req.start.max(e.start);
        // The last step before the earliest change.
        let mut hi = req.end.min(e.end);
        if changed <= hi {
            hi = changed.saturating_sub(1);
            hi -= (hi - lo).rem_euclid(req.step);
        }
        if changed <= lo || hi < lo || e.marks.len() != req.tenants.len() {
            return None;
        }
        let noted = !e.annotations.warnings.is_empty() || !e.annotations.infos.is_empty();
        if noted && (lo, hi) != (e.start, e.end) {
            return None;
        }
        e.used = tick;
        let cut = e
            .series
            .iter()
            .filter_map(|s| {
                let samples: Vec<_> = s
                    .samples
                    .iter()
                    .filter(|p| p.t >= lo && p.t <= hi)
                    .copied()
                    .collect();
                let histograms: Vec<_> = s
                    .histograms
                    .iter()
                    .filter(|p| p.t >= lo && p.t <= hi)
                    .cloned()
                    .collect();
                (!samples.is_empty() || !histograms.is_empty()).then(|| RangeSeries {
                    labels: s.labels.clone(),
                    samples,
                    histograms,
                })
            })
            .collect();
        Some((lo, hi, cut, e.annotations.clone()))
    }

    fn store(
        &self,
        req: &CachedRange<'_>,
        marks: Vec<ChangeMark>,
        series: &[RangeSeries],
        annotations: &Annotations,
    ) {
        if !self.enabled() {
            return;
        }
        let bytes = series.iter().map(size_of_series).sum::<usize>() + req.key.len() + 64;
        if bytes > self.max_bytes / 4 {
            return;
        }
        let mut st = self.state.lock();
        st.tick += 1;
        let entry = Entry {
            start: req.start,
            end: req.end,
            step: req.step,
            marks,
            series: series.to_vec(),
            annotations: annotations.clone(),
            bytes,
            used: st.tick,
        };
        if let Some(old) = st.entries.insert(req.key.clone(), entry) {
            st.bytes -= old.bytes;
        }
        st.bytes += bytes;
        while st.bytes > self.max_bytes {
            let Some(victim) = st
                .entries
                .iter()
                .min_by_key(|(_, e)| e.used)
                .map(|(k, _)| k.clone())
            else {
                break;
            };
            if let Some(e) = st.entries.remove(&victim) {
                st.bytes -= e.bytes;
            }
        }
    }
}

fn add(by_labels: &mut BTreeMap<Labels, RangeSeries>, s: RangeSeries) {
    match by_labels.get_mut(&s.labels) {
        Some(have) => {
            have.samples.extend(s.samples);
            have.histograms.extend(s.histograms);
        }
        None => {
            by_labels.insert(s.labels.clone(), s);
        }
    }
}

fn size_of_series(s: &RangeSeries) -> usize {
    let labels: usize = s
        .labels
        .iter()
        .map(|l| l.name.len() + l.value.len() + 16)
        .sum();
    labels + s.samples.len() * 16 + s.histograms.len() * 256 + 64
}

#[cfg(test)]
mod tests {
    use super::ResultsCache;

    #[test]
    fn only_queries_whose_steps_read_their_own_past_are_cacheable() {
        for q in [
            "sum(rate(x[5m]))",
            "x offset 5m",
            "avg_over_time(x[1h] offset 1d)",
            "max_over_time(rate(x[1m])[10m:30s])",
        ] {
            assert!(ResultsCache::cacheable(q), "{q}");
        }
        for q in [
            "x @ 1700000000",
            "x @ end()",
            "x offset -5m",
            "x offset (1m - 2m)",
            "x offset step()",
            "range()",
            "x * range ()",
        ] {
            assert!(!ResultsCache::cacheable(q), "{q}");
        }
    }
}
