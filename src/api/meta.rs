//! Metadata and status endpoints of the Prometheus API: series, label
//! names and values, metric metadata, query formatting, build
//! and runtime info, flags, and the empty rules/alerts lists Grafana asks
//! for. All of them read only the caller's tenant.

use std::fmt::Write as _;

use axum::extract::{Path, State};
use axum::response::Response;

use super::query::{json_labels, json_response, json_str, not_ready};
use super::{ApiError, AppState, Params, Reader};
use crate::model::Labels;
use crate::storage::Storage;

/// The Prometheus version `buildinfo` reports; see the README.
pub const COMPAT_VERSION: &str = "3.0.0";

pub(super) fn success(data: &str) -> Response {
    json_response(format!("{{\"status\":\"success\",\"data\":{data}}}"))
}

fn success_warn(data: &str, warnings: &[String]) -> Response {
    let mut s = format!("{{\"status\":\"success\",\"data\":{data}");
    if !warnings.is_empty() {
        s.push_str(",\"warnings\":[");
        for (i, w) in warnings.iter().enumerate() {
            if i > 0 {
                s.push(',');
            }
            json_str(&mut s, w);
        }
        s.push(']');
    }
    s.push('}');
    json_response(s)
}

/// `match[]` selectors, checked to parse (none when absent).
fn match_sets(p: &Params) -> Result<Vec<String>, ApiError> {
    p.all("match[]")
        .into_iter()
        .map(|m| {
            crate::promql::parse_selector(m)
                .map(|_| m.to_string())
                .map_err(|e| ApiError::BadData(format!("invalid parameter \"match[]\": {e}")))
        })
        .collect()
}

/// `start`/`end` with Prometheus's defaults (all time).
pub(super) fn bounds(p: &Params) -> Result<(i64, i64), ApiError> {
    let start = p.time("start", i64::MIN / 2)?;
    let end = p.time("end", i64::MAX / 2)?;
    if end < start {
        return Err(ApiError::BadData(
            "invalid parameter \"end\": end timestamp must not be before start time".into(),
        ));
    }
    Ok((start, end))
}

/// Runs a lookup whose work is mostly reading index keys (label names) on
/// this worker: `block_in_place` hands the worker's other tasks to another
/// thread, which costs less than a hand-over to a query thread when the
/// lookup itself takes microseconds (label names: 0.13 against 0.20 ms in
/// the dashboard benchmark). A current-thread runtime (tests that drive
/// the router in process) cannot do that and uses the blocking pool.
async fn in_place<T: Send + 'static>(
    state: &AppState,
    f: impl FnOnce(&Storage) -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    let storage = state.storage().ok_or_else(not_ready)?;
    match tokio::runtime::Handle::current().runtime_flavor() {
        tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(move || f(&storage))
        }
        _ => tokio::task::spawn_blocking(move || f(&storage))
            .await
            .map_err(|e| ApiError::Internal(format!("request task failed: {e}")))?,
    }
}

/// Runs a lookup on a query thread; see the comment inside.
pub(super) async fn blocking<T: Send + 'static>(
    state: &AppState,
    f: impl FnOnce(&Storage) -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    let storage = state.storage().ok_or_else(not_ready)?;
    // The lookup runs on a parked query thread (`crate::threads`), off the
    // async workers, which a large lookup must not hold. Callers build the
    // answer's JSON inside `f`, so label sets are built, written and freed
    // on one thread. In the dashboard benchmark, against [`in_place`]:
    // series of 500 series 0.90 to 0.83 ms, label values 0.44 to 0.33 ms.
    // At most as many lookups run at once as tokio's blocking pool, which
    // ran them before, had threads; the rest wait here, not as threads.
    // The slot is the thread's until the lookup ends, even if the request
    // is dropped before.
    static SLOTS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(LOOKUP_THREADS);
    let slot = SLOTS
        .acquire()
        .await
        .map_err(|_| ApiError::Internal("lookup slots are closed".into()))?;
    crate::threads::run("lookup", move || {
        let _slot = slot;
        f(&storage)
    })
    .await
    .map_err(ApiError::Internal)?
}

/// Most metadata lookups running at once (tokio's default blocking pool).
const LOOKUP_THREADS: usize = 512;

fn string_list(items: &[String]) -> String {
    json_array(items, |s, v| json_str(s, v))
}

/// A JSON array of `items`, each written by `write`.
fn json_array<T>(items: &[T], write: impl Fn(&mut String, &T)) -> String {
    let mut s = String::from("[");
    for (i, v) in items.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        write(&mut s, v);
    }
    s.push(']');
    s
}

/// Truncates to `limit`, returning the warning Prometheus adds.
fn truncate<T>(v: &mut Vec<T>, limit: Option<usize>) -> Vec<String> {
    match limit {
        Some(n) if v.len() > n => {
            v.truncate(n);
            vec!["results truncated due to limit".to_string()]
        }
        _ => Vec::new(),
    }
}

/// `GET|POST /api/v1/series`.
pub(crate) async fn series(
    State(state): State<AppState>,
    reader: Reader,
    p: Params,
) -> Result<Response, ApiError> {
    let sets = match_sets(&p)?;
    if sets.is_empty() {
        return Err(ApiError::BadData("no match[] parameter provided".into()));
    }
    let (start, end) = bounds(&p)?;
    let limit = p.limit()?;
    blocking(&state, move |s| {
        let sel: Vec<&str> = sets.iter().map(String::as_str).collect();
        let mut all: Vec<Labels> = reader.scope(s)?.series(&sel, start, end)?;
        let warnings = truncate(&mut all, limit);
        Ok(success_warn(&json_array(&all, json_labels), &warnings))
    })
    .await
}

/// `GET|POST /api/v1/labels`.
pub(crate) async fn labels(
    State(state): State<AppState>,
    reader: Reader,
    p: Params,
) -> Result<Response, ApiError> {
    let sets = match_sets(&p)?;
    let (start, end) = bounds(&p)?;
    let limit = p.limit()?;
    in_place(&state, move |s| {
        let sel: Vec<&str> = sets.iter().map(String::as_str).collect();
        let mut names = reader.scope(s)?.label_names(&sel, start, end)?;
        let warnings = truncate(&mut names, limit);
        Ok(success_warn(&string_list(&names), &warnings))
    })
    .await
}

/// `GET /api/v1/label/<name>/values`.
pub(crate) async fn label_values(
    State(state): State<AppState>,
    reader: Reader,
    name: Result<Path<String>, axum::extract::rejection::PathRejection>,
    p: Params,
) -> Result<Response, ApiError> {
    // A name that is not UTF-8 once percent-decoded is Prometheus's
    // `bad_data`, in the API's JSON, not the router's plain-text 400.
    let Path(name) = name
        .map_err(|_| ApiError::BadData("invalid label name: the name is not valid UTF-8".into()))?;
    let name = unescape_label_name(&name);
    if name.is_empty() {
        return Err(ApiError::BadData(format!("invalid label name: {name:?}")));
    }
    let sets = match_sets(&p)?;
    let (start, end) = bounds(&p)?;
    let limit = p.limit()?;
    blocking(&state, move |s| {
        let sel: Vec<&str> = sets.iter().map(String::as_str).collect();
        let mut values = reader.scope(s)?.label_values(&name, &sel, start, end)?;
        let warnings = truncate(&mut values, limit);
        Ok(success_warn(&string_list(&values), &warnings))
    })
    .await
}

/// Prometheus 3 lets clients write UTF-8 label names in the path as
/// `U__` followed by `_`-separated escapes (`model.UnescapeName`); plain
/// names pass through.
fn unescape_label_name(name: &str) -> String {
    let Some(rest) = name.strip_prefix("U__") else {
        return name.to_string();
    };
    let mut out = String::new();
    let mut chars = rest.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '_' {
            out.push(c);
            continue;
        }
        if chars.peek() == Some(&'_') {
            chars.next();
            out.push('_');
            continue;
        }
        let hex: String = chars.by_ref().take_while(|c| *c != '_').collect();
        match u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32) {
            Some(ch) => out.push(ch),
            None => return name.to_string(),
        }
    }
    out
}

/// `GET /api/v1/metadata` (`metric`, `limit`, `limit_per_metric`).
pub(crate) async fn metadata(
    State(state): State<AppState>,
    reader: Reader,
    p: Params,
) -> Result<Response, ApiError> {
    let metric = p.get("metric").map(str::to_string);
    let limit = p.limit()?;
    let entries = blocking(&state, move |s| {
        // Metadata of every tenant in scope; a caller whose policy narrows
        // its view sees only metrics it can select.
        let scope = reader.scope(s)?;
        let visible: Option<Vec<String>> = if reader.is_restricted() || scope.is_federated() {
            Some(scope.label_values("__name__", &[], i64::MIN / 2, i64::MAX / 2)?)
        } else {
            None
        };
        let mut out: Vec<crate::storage::MetricMetadata> = Vec::new();
        for t in scope.tenants() {
            // The partition owners' in cluster mode, this node's otherwise.
            for m in reader.source(s).metadata(t, metric.as_deref())? {
                let seen = out.iter().any(|x| x.metric == m.metric);
                if !seen && visible.as_ref().is_none_or(|v| v.contains(&m.metric)) {
                    out.push(m);
                }
            }
        }
        out.sort_by(|a, b| a.metric.cmp(&b.metric));
        if let Some(n) = limit {
            out.truncate(n);
        }
        Ok(out)
    })
    .await?;
    let mut data = String::from("{");
    for (i, m) in entries.iter().enumerate() {
        if i > 0 {
            data.push(',');
        }
        json_str(&mut data, &m.metric);
        data.push_str(":[{\"type\":");
        json_str(&mut data, &m.kind);
        data.push_str(",\"help\":");
        json_str(&mut data, &m.help);
        data.push_str(",\"unit\":");
        json_str(&mut data, &m.unit);
        data.push_str("}]");
    }
    data.push('}');
    Ok(success(&data))
}

/// `GET|POST /api/v1/format_query`.
pub(crate) async fn format_query(p: Params) -> Result<Response, ApiError> {
    let q = p
        .get("query")
        .ok_or_else(|| ApiError::BadData("invalid parameter \"query\": no query given".into()))?;
    let f = crate::promql::format_query(q).map_err(|e| ApiError::BadData(e.to_string()))?;
    let mut data = String::new();
    json_str(&mut data, &f);
    Ok(success(&data))
}

/// `GET /api/v1/status/buildinfo`.
pub(crate) async fn buildinfo() -> Response {
    success(&format!(
        "{{\"version\":\"{COMPAT_VERSION}\",\"revision\":\"tessera-{}\",\"branch\":\"tessera\",\"buildUser\":\"tessera\",\"buildDate\":\"\",\"goVersion\":\"none (Rust)\",\"application\":\"tessera\",\"tesseraVersion\":\"{}\"}}",
        env!("CARGO_PKG_VERSION"),
        env!("CARGO_PKG_VERSION")
    ))
}

/// `GET /api/v1/status/runtimeinfo`.
pub(crate) async fn runtimeinfo(State(state): State<AppState>) -> Response {
    let cwd = std::env::current_dir()
        .map(|d| d.display().to_string())
        .unwrap_or_default();
    let mut s = String::from("{\"startTime\":");
    json_str(&mut s, &rfc3339(state.started_ms()));
    s.push_str(",\"CWD\":");
    json_str(&mut s, &cwd);
    let _ = write!(
        s,
        ",\"reloadConfigSuccess\":true,\"lastConfigTime\":\"{}\",\"corruptionCount\":0,\"goroutineCount\":0,\"GOMAXPROCS\":{},\"GOMEMLIMIT\":0,\"GOGC\":\"\",\"GODEBUG\":\"\",\"storageRetention\":\"per tenant\"}}",
        rfc3339(state.started_ms()),
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
    );
    success(&s)
}

/// `GET /api/v1/status/flags`: the effective query settings.
pub(crate) async fn flags(State(state): State<AppState>) -> Response {
    let c = state.engine().config();
    success(&format!(
        "{{\"query.lookback-delta\":\"{}ms\",\"query.max-samples\":\"{}\",\"query.max-series\":\"{}\",\"query.timeout\":\"{}ms\"}}",
        c.lookback_delta_ms,
        c.max_samples,
        c.max_series,
        c.timeout.as_millis()
    ))
}

/// `GET /api/v1/rules`: no rules are evaluated yet.
pub(crate) async fn rules(_reader: Reader) -> Response {
    success("{\"groups\":[]}")
}

/// `GET /api/v1/alerts`: no alerts are evaluated yet.
pub(crate) async fn alerts(_reader: Reader) -> Response {
    success("{\"alerts\":[]}")
}

/// Unix ms to RFC 3339 UTC (`2006-01-02T15:04:05.000Z`).
pub(crate) fn rfc3339(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        ms.rem_euclid(1000)
    )
}

/// Howard Hinnant's `civil_from_days`.
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_round_trips_with_the_parser() {
        for ms in [0i64, 1_435_781_451_781, 951_782_400_000, -86_400_000] {
            let s = rfc3339(ms);
            assert_eq!(super::super::params::parse_time(&s), Some(ms), "{s}");
        }
        assert_eq!(rfc3339(1_435_781_451_781), "2015-07-01T20:10:51.781Z");
    }

    #[test]
    fn utf8_label_names_unescape() {
        assert_eq!(unescape_label_name("job"), "job");
        assert_eq!(unescape_label_name("U__a_2e_b"), "a.b");
        assert_eq!(unescape_label_name("U__a__b"), "a_b");
    }
}
