//! `GET /metrics`: the server's own metrics in the Prometheus text format.
//!
//! Hand-rolled rather than built on a metrics crate: there are a handful of
//! families, all counters, gauges or one histogram, and the text format is
//! simple; a crate would add a dependency and a second registry idiom for
//! no gain. The output is checked by parsing it with our own text parser.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use parking_lot::Mutex;

use super::AppState;
use crate::storage::{Storage, StorageError};
use crate::tenant::TenantId;

/// Upper bounds (seconds) of the HTTP latency histogram's buckets.
const HTTP_BUCKETS: [f64; 11] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// A fixed-bucket histogram.
#[derive(Debug, Clone, Default)]
struct Histogram {
    /// Non-cumulative counts per bucket; the last slot is `+Inf`.
    counts: [u64; HTTP_BUCKETS.len() + 1],
    sum: f64,
    count: u64,
}

impl Histogram {
    fn observe(&mut self, v: f64) {
        let i = HTTP_BUCKETS
            .iter()
            .position(|&b| v <= b)
            .unwrap_or(HTTP_BUCKETS.len());
        if let Some(c) = self.counts.get_mut(i) {
            *c += 1;
        }
        self.sum += v;
        self.count += 1;
    }
}

/// Counters the request paths update; gauges are read from storage when
/// `/metrics` is scraped.
#[derive(Debug, Default)]
pub struct Metrics {
    received: Mutex<BTreeMap<TenantId, u64>>,
    /// Exemplars received and not stored (invalid, out of order, for an
    /// unknown series, or exemplar storage off).
    exemplars_discarded: Mutex<BTreeMap<TenantId, u64>>,
    rejected: Mutex<BTreeMap<(TenantId, &'static str), u64>>,
    /// Keyed by matched route (bounded by the router) and status code.
    http: Mutex<BTreeMap<(String, u16), Histogram>>,
    /// Keyed by tenant and the limit's config name.
    limit_hits: Mutex<BTreeMap<(TenantId, &'static str), u64>>,
    /// Keyed by query endpoint (a fixed set, see [`query_endpoint`]).
    query: Mutex<BTreeMap<&'static str, Histogram>>,
    /// Whether the last config reload was refused.
    last_reload_failed: std::sync::atomic::AtomicBool,
    /// When the config was last applied (start or reload), Unix seconds.
    last_reload_success_s: std::sync::atomic::AtomicI64,
    /// Per-tenant daily usage (see `usage.rs`).
    usage: super::usage::Usage,
}

impl crate::write::WriteCounters for Metrics {
    fn received(&self, tenant: &TenantId, n: u64) {
        self.add_received(tenant, n);
    }
    fn rejected(&self, tenant: &TenantId, reason: &'static str, n: u64) {
        self.add_rejected(tenant, reason, n);
    }
    fn stored(&self, tenant: &TenantId, samples: u64, series: u64) {
        self.add_stored(tenant, samples, series);
    }
    fn storage_failure(&self, tenant: &TenantId, e: &StorageError, n: u64) {
        self.add_storage_failure(tenant, e, n);
    }
    fn exemplars_discarded(&self, tenant: &TenantId, n: u64) {
        self.add_exemplars_discarded(tenant, n);
    }
}

impl Metrics {
    /// Per-tenant daily usage.
    pub fn usage(&self) -> &super::usage::Usage {
        &self.usage
    }

    /// Counts what storage accepted from one request, for usage.
    pub fn add_stored(&self, tenant: &TenantId, samples: u64, series: u64) {
        self.usage.add_stored(tenant, samples, series);
    }

    /// Records a config load or reload attempt.
    pub fn record_reload(&self, ok: bool) {
        use std::sync::atomic::Ordering::Relaxed;
        self.last_reload_failed.store(!ok, Relaxed);
        if ok {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs() as i64);
            self.last_reload_success_s.store(now, Relaxed);
        }
    }

    /// Counts samples received (decoded) for a tenant.
    pub fn add_received(&self, tenant: &TenantId, n: u64) {
        if n > 0 {
            *self.received.lock().entry(tenant.clone()).or_default() += n;
        }
    }

    /// Counts exemplars a tenant sent that were not stored.
    pub fn add_exemplars_discarded(&self, tenant: &TenantId, n: u64) {
        if n > 0 {
            *self
                .exemplars_discarded
                .lock()
                .entry(tenant.clone())
                .or_default() += n;
        }
    }

    /// Counts samples rejected for a tenant, by reason. A reason that is
    /// a limit also counts one hit of that limit (once per call, which is
    /// once per request).
    pub fn add_rejected(&self, tenant: &TenantId, reason: &'static str, n: u64) {
        self.usage.add_rejected(tenant, reason, n);
        if n > 0 {
            *self
                .rejected
                .lock()
                .entry((tenant.clone(), reason))
                .or_default() += n;
            if let Some(limit) = ingest_limit(reason) {
                self.add_limit_hit(tenant, limit);
            }
        }
    }

    /// Counts one request a tenant limit refused (wholly or in part);
    /// `limit` is the limit's config key.
    pub fn add_limit_hit(&self, tenant: &TenantId, limit: &'static str) {
        *self
            .limit_hits
            .lock()
            .entry((tenant.clone(), limit))
            .or_default() += 1;
    }

    /// Per-tenant usage: daily totals summed, and what each tenant occupies.
    fn render_usage(&self, out: &mut String, storage: &crate::storage::Storage) {
        self.usage.sync_reads(storage);
        let rows: Vec<(TenantId, super::usage::DayUsage, crate::storage::Footprint)> = self
            .usage
            .tenants(storage)
            .into_iter()
            .map(|t| {
                let total = self.usage.total(&t);
                let fp = storage.footprint(&t);
                (t, total, fp)
            })
            .collect();
        let series: [(
            &str,
            &str,
            &str,
            fn(&super::usage::DayUsage, &crate::storage::Footprint) -> u64,
        ); 6] = [
            (
                "tessera_tenant_samples_ingested_total",
                "counter",
                "Samples stored for the tenant, over the days kept (survives restarts).",
                |u, _| u.samples_ingested,
            ),
            (
                "tessera_tenant_series_created_total",
                "counter",
                "Series created for the tenant, over the days kept.",
                |u, _| u.series_created,
            ),
            (
                "tessera_tenant_queries_total",
                "counter",
                "Query requests of the tenant (instant, range, remote read), over the days kept.",
                |u, _| u.queries,
            ),
            (
                "tessera_tenant_samples_read_total",
                "counter",
                "Samples read by the tenant's queries, over the days kept.",
                |u, _| u.samples_read,
            ),
            (
                "tessera_tenant_samples_in_blocks",
                "gauge",
                "Samples in the tenant's local blocks.",
                |_, f| f.samples_in_blocks,
            ),
            (
                "tessera_tenant_disk_bytes",
                "gauge",
                "Bytes the tenant's data takes on local disk (WAL, blocks, metadata).",
                |_, f| f.bytes_on_disk,
            ),
        ];
        for (name, kind, help, get) in series {
            family(out, name, kind, help);
            for (t, u, f) in &rows {
                let _ = writeln!(
                    out,
                    "{name}{{tenant=\"{}\"}} {}",
                    esc(t.as_str()),
                    get(u, f)
                );
            }
        }
    }

    /// Counts a query that failed on a query limit, if `e` is one.
    pub fn add_query_error(&self, tenant: &TenantId, e: &crate::promql::QueryError) {
        use crate::promql::QueryError;
        let limit = match e {
            QueryError::TooManySamples(_) => "max_samples_per_query",
            QueryError::TooManySeries(_) => "max_series_per_query",
            QueryError::Timeout(_) => "query_timeout",
            _ => return,
        };
        self.add_limit_hit(tenant, limit);
    }

    /// Counts a write storage refused: a full disk rejects all `n`
    /// samples of the request under reason `disk_full`.
    pub fn add_storage_failure(&self, tenant: &TenantId, e: &StorageError, n: u64) {
        if e.is_disk_full() {
            self.add_rejected(tenant, "disk_full", n);
        }
    }

    fn observe_http(&self, route: String, code: u16, secs: f64) {
        if let Some(endpoint) = query_endpoint(&route) {
            self.query.lock().entry(endpoint).or_default().observe(secs);
        }
        self.http
            .lock()
            .entry((route, code))
            .or_default()
            .observe(secs);
    }

    /// Renders every family in the text format (0.0.4).
    pub(crate) fn render(&self, storage: Option<&Storage>) -> String {
        let mut out = String::new();
        family(
            &mut out,
            "tessera_build_info",
            "gauge",
            "Build information; always 1.",
        );
        let _ = writeln!(
            out,
            "tessera_build_info{{version=\"{}\"}} 1",
            env!("CARGO_PKG_VERSION")
        );
        family(
            &mut out,
            "tessera_samples_received_total",
            "counter",
            "Samples received by tenant, before validation.",
        );
        for (t, n) in self.received.lock().iter() {
            let _ = writeln!(
                out,
                "tessera_samples_received_total{{tenant=\"{}\"}} {n}",
                esc(t.as_str())
            );
        }
        family(
            &mut out,
            "tessera_samples_rejected_total",
            "counter",
            "Samples rejected by tenant and reason.",
        );
        for ((t, r), n) in self.rejected.lock().iter() {
            let _ = writeln!(
                out,
                "tessera_samples_rejected_total{{tenant=\"{}\",reason=\"{r}\"}} {n}",
                esc(t.as_str())
            );
        }
        family(
            &mut out,
            "tessera_exemplars_discarded_total",
            "counter",
            "Exemplars received by tenant and not stored: invalid labels, out of order, no such series, or max_exemplars 0.",
        );
        for (t, n) in self.exemplars_discarded.lock().iter() {
            let _ = writeln!(
                out,
                "tessera_exemplars_discarded_total{{tenant=\"{}\"}} {n}",
                esc(t.as_str())
            );
        }
        family(
            &mut out,
            "tessera_panics_total",
            "counter",
            "Panics caught in request handlers and query threads (each answered 500); any is a bug.",
        );
        let _ = writeln!(out, "tessera_panics_total {}", crate::panics::caught());
        use std::sync::atomic::Ordering::Relaxed;
        family(
            &mut out,
            "tessera_config_last_reload_successful",
            "gauge",
            "Whether the last configuration reload attempt was successful (1) or refused (0).",
        );
        let ok = u8::from(!self.last_reload_failed.load(Relaxed));
        let _ = writeln!(out, "tessera_config_last_reload_successful {ok}");
        family(
            &mut out,
            "tessera_config_last_reload_success_timestamp_seconds",
            "gauge",
            "When the configuration was last applied (start or reload), Unix seconds.",
        );
        let ts = self.last_reload_success_s.load(Relaxed);
        let _ = writeln!(
            out,
            "tessera_config_last_reload_success_timestamp_seconds {ts}"
        );
        self.render_limits(&mut out);
        if let Some(s) = storage {
            self.render_usage(&mut out, s);
            render_storage(&mut out, s);
        }
        self.render_http(&mut out);
        self.render_query(&mut out);
        out
    }

    fn render_limits(&self, out: &mut String) {
        family(
            out,
            "tessera_limit_hits_total",
            "counter",
            "Requests a tenant limit refused wholly or in part, by tenant and limit (config key).",
        );
        for ((t, l), n) in self.limit_hits.lock().iter() {
            let _ = writeln!(
                out,
                "tessera_limit_hits_total{{tenant=\"{}\",limit=\"{l}\"}} {n}",
                esc(t.as_str())
            );
        }
    }

    fn render_query(&self, out: &mut String) {
        let name = "tessera_query_duration_seconds";
        family(
            out,
            name,
            "histogram",
            "Query API latency by endpoint, whatever the outcome.",
        );
        for (endpoint, h) in self.query.lock().iter() {
            write_histogram(out, name, &format!("endpoint=\"{endpoint}\""), h);
        }
    }

    fn render_http(&self, out: &mut String) {
        let name = "tessera_http_request_duration_seconds";
        family(
            out,
            name,
            "histogram",
            "HTTP request latency by matched route and status code.",
        );
        for ((route, code), h) in self.http.lock().iter() {
            let l = format!("route=\"{}\",code=\"{code}\"", esc(route));
            write_histogram(out, name, &l, h);
        }
    }
}

/// One histogram's `_bucket`, `_sum` and `_count` lines under labels `l`.
fn write_histogram(out: &mut String, name: &str, l: &str, h: &Histogram) {
    let mut cum = 0;
    for (i, b) in HTTP_BUCKETS.iter().enumerate() {
        cum += h.counts.get(i).copied().unwrap_or(0);
        let _ = writeln!(out, "{name}_bucket{{{l},le=\"{b}\"}} {cum}");
    }
    let _ = writeln!(out, "{name}_bucket{{{l},le=\"+Inf\"}} {}", h.count);
    let _ = writeln!(out, "{name}_sum{{{l}}} {}", h.sum);
    let _ = writeln!(out, "{name}_count{{{l}}} {}", h.count);
}

/// The config key of the ingest limit behind a rejection reason.
fn ingest_limit(reason: &str) -> Option<&'static str> {
    Some(match reason {
        "rate_limited" => "ingestion_rate",
        "series_limit" => "max_series_per_tenant",
        "metric_series_limit" => "max_series_per_metric",
        "label_names_limit" => "max_label_names_per_series",
        "label_name_length" => "max_label_name_length",
        "label_value_length" => "max_label_value_length",
        _ => return None,
    })
}

/// The query endpoint a matched route is, if it is one.
fn query_endpoint(route: &str) -> Option<&'static str> {
    Some(match route {
        "/api/v1/query" => "query",
        "/api/v1/query_range" => "query_range",
        "/api/v1/series" => "series",
        "/api/v1/labels" => "labels",
        "/api/v1/label/{name}/values" => "label_values",
        "/api/v1/query_exemplars" => "query_exemplars",
        "/federate" => "federate",
        _ => return None,
    })
}

/// What the last start's WAL replay did, and failed maintenance rounds.
fn render_lifecycle(out: &mut String, s: &Storage) {
    let r = s.open_report();
    family(
        out,
        "tessera_wal_replay_duration_seconds",
        "gauge",
        "Time the last start spent opening the data directory and replaying WALs.",
    );
    let _ = writeln!(
        out,
        "tessera_wal_replay_duration_seconds {}",
        r.elapsed.as_secs_f64()
    );
    family(
        out,
        "tessera_wal_replayed_samples",
        "gauge",
        "Samples replayed from WALs at the last start.",
    );
    let _ = writeln!(out, "tessera_wal_replayed_samples {}", r.samples);
    family(
        out,
        "tessera_wal_repairs_total",
        "counter",
        "Torn or corrupt WAL tails cut off at the last start.",
    );
    let _ = writeln!(out, "tessera_wal_repairs_total {}", r.repairs);
    family(
        out,
        "tessera_compaction_failures_total",
        "counter",
        "Compactions that failed (each also fails its maintenance round).",
    );
    let _ = writeln!(
        out,
        "tessera_compaction_failures_total {}",
        s.compaction_failures()
    );
    family(
        out,
        "tessera_storage_maintenance_failures_total",
        "counter",
        "Background flush, compaction or retention rounds that failed.",
    );
    let _ = writeln!(
        out,
        "tessera_storage_maintenance_failures_total {}",
        s.maintenance_failures()
    );
}

/// Per-tenant gauges read from storage, and the WAL fsync summary.
fn render_storage(out: &mut String, s: &Storage) {
    render_lifecycle(out, s);
    let tenants = s.tenant_ids();
    let stats: Vec<_> = tenants.iter().map(|t| (t, s.head_stats(t))).collect();
    family(
        out,
        "tessera_active_series",
        "gauge",
        "Series in the head, by tenant.",
    );
    for (t, h) in &stats {
        let _ = writeln!(
            out,
            "tessera_active_series{{tenant=\"{}\"}} {}",
            esc(t.as_str()),
            h.num_series
        );
    }
    family(
        out,
        "tessera_head_chunks",
        "gauge",
        "Chunks in the head, by tenant.",
    );
    for (t, h) in &stats {
        let _ = writeln!(
            out,
            "tessera_head_chunks{{tenant=\"{}\"}} {}",
            esc(t.as_str()),
            h.num_chunks
        );
    }
    family(
        out,
        "tessera_blocks",
        "gauge",
        "Persistent blocks, by tenant.",
    );
    for t in &tenants {
        let _ = writeln!(
            out,
            "tessera_blocks{{tenant=\"{}\"}} {}",
            esc(t.as_str()),
            s.blocks(t).len()
        );
    }
    family(
        out,
        "tessera_exemplars_in_storage",
        "gauge",
        "Exemplars held in the tenant's circular buffer (at most its max_exemplars).",
    );
    for (t, e) in s.exemplar_stats() {
        let t = esc(t.as_str());
        let _ = writeln!(
            out,
            "tessera_exemplars_in_storage{{tenant=\"{t}\"}} {}",
            e.stored
        );
    }
    let (count, total) = s.wal_fsync_stats();
    let name = "tessera_wal_fsync_duration_seconds";
    family(
        out,
        name,
        "summary",
        "Time spent in WAL fsyncs, over all tenants.",
    );
    let _ = writeln!(out, "{name}_sum {}", total.as_secs_f64());
    let _ = writeln!(out, "{name}_count {count}");
    super::metrics_bucket::render(out, s);
}

pub(crate) fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

/// Escapes a label value for the text format.
pub(crate) fn esc(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// `GET /metrics`.
pub(crate) async fn metrics(
    _access: super::MetricsAccess,
    State(state): State<AppState>,
) -> Response {
    let mut body = state.metrics().render(state.storage().as_deref());
    if let Some(c) = state.cluster() {
        body.push_str(&c.metrics_text());
    }
    body.push_str(&state.results_cache().metrics_text());
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        body,
    )
        .into_response()
}

/// Middleware timing every request under its matched route path (never the
/// raw URI, so a scan of random paths cannot blow up the label set).
pub(crate) async fn track(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".to_string());
    let started = Instant::now();
    let resp = next.run(req).await;
    let secs = started.elapsed().as_secs_f64();
    state
        .metrics()
        .observe_http(route, resp.status().as_u16(), secs);
    resp
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use crate::api::{AppState, Reader};
    use crate::auth::{Caller, Policy};
    use crate::tenant::TenantId;

    #[test]
    fn a_refused_query_slot_is_a_limit_hit() {
        let state = AppState::new();
        let t = TenantId::new("busy").unwrap();
        let mut policy = Policy::permissive();
        policy.limits.max_concurrent_queries = Some(1);
        let reader = Reader(
            Caller {
                tenant: t.clone(),
                tenants: vec![t],
                policy: Arc::new(policy),
                credential: "none".into(),
            },
            None,
        );
        let held = state.query_slot(&reader).unwrap();
        assert!(state.query_slot(&reader).is_err());
        drop(held);
        let again = state.query_slot(&reader);
        assert!(again.is_ok());
        let body = state.metrics().render(None);
        let line = "tessera_limit_hits_total{tenant=\"busy\",limit=\"max_concurrent_queries\"} 1";
        assert!(body.lines().any(|l| l == line), "{body}");
    }

    #[test]
    fn only_limit_reasons_are_limit_hits() {
        let m = super::Metrics::default();
        let t = TenantId::new("t").unwrap();
        m.add_rejected(&t, "out_of_order", 5);
        m.add_rejected(&t, "series_limit", 5);
        m.add_rejected(&t, "series_limit", 0);
        let body = m.render(None);
        assert!(body
            .contains("tessera_limit_hits_total{tenant=\"t\",limit=\"max_series_per_tenant\"} 1"));
        assert!(!body.contains("limit=\"out_of_order\""));
    }
}
