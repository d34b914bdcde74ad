//! `/api/v1/query` and `/api/v1/query_range` (`query`, `queryRange` in
//! upstream's `web/api/v1/api.go`): parameters, limits, and results in
//! Prometheus's JSON shape. Evaluation runs on the blocking pool.

use std::fmt::Write as _;
use std::time::Duration;

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};

use super::{ApiError, AppState, Params, Reader};
use crate::model::{Histogram, Labels};
use crate::promql::{Annotations, Cancel, Engine, EngineConfig, QueryError, QueryOutput, Value};

/// Most points a range query may return per series (Prometheus's limit).
const MAX_POINTS: i64 = 11_000;

pub(crate) use crate::promql::format_value;

/// A timestamp in ms as Prometheus's JSON writes it: float seconds.
pub(crate) fn format_ts(t: i64) -> String {
    let secs = t.div_euclid(1000);
    let ms = t.rem_euclid(1000);
    if ms == 0 {
        format!("{secs}")
    } else {
        if t < 0 {
            return format!("{}", t as f64 / 1000.0);
        }
        let frac = format!("{ms:03}");
        format!("{secs}.{}", frac.trim_end_matches('0'))
    }
}

/// Writes a JSON string literal.
pub(crate) fn json_str(out: &mut String, s: &str) {
    // Label names and values rarely need escaping: those that do not are
    // copied as they are, which is what serde_json writes for them too.
    if !s.bytes().any(|b| b < 0x20 || b == b'"' || b == b'\\') {
        out.reserve(s.len() + 2);
        out.push('"');
        out.push_str(s);
        out.push('"');
        return;
    }
    // serde_json escapes exactly as JSON requires.
    out.push_str(&serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into()));
}

/// Writes `{"name":"value",...}`.
pub(crate) fn json_labels(out: &mut String, l: &Labels) {
    out.push('{');
    for (i, lb) in l.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        json_str(out, &lb.name);
        out.push(':');
        json_str(out, &lb.value);
    }
    out.push('}');
}

fn json_point(out: &mut String, t: i64, v: f64) {
    // Written in place: a range query's answer is mostly points, and two
    // temporary strings per point cost more than formatting them.
    out.push('[');
    if t.rem_euclid(1000) == 0 {
        out.push_str(itoa::Buffer::new().format(t.div_euclid(1000)));
    } else {
        out.push_str(&format_ts(t));
    }
    out.push_str(",\"");
    crate::promql::write_value(out, v);
    out.push_str("\"]");
}

/// A float as `MarshalFloat` in Prometheus' `util/jsonutil` writes it:
/// shortest round-trip digits, in exponent form (`1e-07`, `1.5e+21`) below
/// 1e-6 and from 1e21 on.
fn format_json_float(f: f64) -> String {
    let a = f.abs();
    if !f.is_finite() || a == 0.0 || (1e-6..1e21).contains(&a) {
        return format_value(f);
    }
    let e = format!("{f:e}");
    match e.split_once('e') {
        Some((mantissa, exp)) => {
            let (sign, digits) = match exp.strip_prefix('-') {
                Some(d) => ('-', d),
                None => ('+', exp),
            };
            format!("{mantissa}e{sign}{digits:0>2}")
        }
        None => e,
    }
}

/// `[<time>,{"count":..,"sum":..,"buckets":[[rule,lower,upper,count],..]}]`,
/// the histogram point of Prometheus' JSON (`marshalHPointJSON` in
/// `web/api/v1/json_codec.go` with `jsonutil.MarshalHistogram`). Empty
/// buckets are left out, and `buckets` is absent when none has a count.
/// The boundary rule: 0 upper bound inclusive, 1 lower, 2 neither, 3 both.
fn json_histogram_point(out: &mut String, t: i64, h: &Histogram) {
    let _ = write!(
        out,
        "[{},{{\"count\":\"{}\",\"sum\":\"{}\"",
        format_ts(t),
        format_json_float(h.count_f64()),
        format_json_float(h.sum)
    );
    let buckets = h.nonempty_buckets();
    if !buckets.is_empty() {
        out.push_str(",\"buckets\":[");
        for (i, b) in buckets.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            let rule = match (b.lower_inclusive, b.upper_inclusive) {
                (false, true) => 0,
                (true, false) => 1,
                (false, false) => 2,
                (true, true) => 3,
            };
            let _ = write!(
                out,
                "[{rule},\"{}\",\"{}\",\"{}\"]",
                format_json_float(b.lower),
                format_json_float(b.upper),
                format_json_float(b.count)
            );
        }
        out.push(']');
    }
    out.push_str("}]");
}

/// The success body for a query result.
pub(crate) fn result_json(out: &QueryOutput) -> String {
    // About what a matrix takes (a point is ~30 bytes), so the body is not
    // copied while it grows.
    let guess = match &out.value {
        Value::Matrix(m) => m.iter().map(|x| 128 + x.samples.len() * 32).sum::<usize>(),
        Value::Vector(v) => v.len() * 128,
        _ => 0,
    };
    let mut s = String::with_capacity(256 + guess.min(1 << 30));
    s.push_str("{\"status\":\"success\",\"data\":{");
    match &out.value {
        Value::Scalar { t, v } => {
            s.push_str("\"resultType\":\"scalar\",\"result\":");
            json_point(&mut s, *t, *v);
        }
        Value::String { t, v } => {
            let _ = write!(
                s,
                "\"resultType\":\"string\",\"result\":[{},",
                format_ts(*t)
            );
            json_str(&mut s, v);
            s.push(']');
        }
        Value::Vector(v) => {
            s.push_str("\"resultType\":\"vector\",\"result\":[");
            for (i, x) in v.iter().enumerate() {
                if i > 0 {
                    s.push(',');
                }
                s.push_str("{\"metric\":");
                json_labels(&mut s, &x.labels);
                match &x.histogram {
                    Some(h) => {
                        s.push_str(",\"histogram\":");
                        json_histogram_point(&mut s, x.t, h);
                    }
                    None => {
                        s.push_str(",\"value\":");
                        json_point(&mut s, x.t, x.v);
                    }
                }
                s.push('}');
            }
            s.push(']');
        }
        Value::Matrix(m) => {
            s.push_str("\"resultType\":\"matrix\",\"result\":[");
            for (i, x) in m.iter().enumerate() {
                if i > 0 {
                    s.push(',');
                }
                s.push_str("{\"metric\":");
                json_labels(&mut s, &x.labels);
                // As upstream's `marshalSeriesJSON`: each list only when
                // the series has points of that kind.
                if !x.samples.is_empty() {
                    s.push_str(",\"values\":[");
                    for (j, p) in x.samples.iter().enumerate() {
                        if j > 0 {
                            s.push(',');
                        }
                        json_point(&mut s, p.t, p.v);
                    }
                    s.push(']');
                }
                if !x.histograms.is_empty() {
                    s.push_str(",\"histograms\":[");
                    for (j, p) in x.histograms.iter().enumerate() {
                        if j > 0 {
                            s.push(',');
                        }
                        json_histogram_point(&mut s, p.t, &p.h);
                    }
                    s.push(']');
                }
                s.push('}');
            }
            s.push(']');
        }
    }
    s.push('}');
    annotations_json(&mut s, &out.annotations);
    s.push('}');
    s
}

/// `,"warnings":[...],"infos":[...]` when there are any.
pub(crate) fn annotations_json(s: &mut String, a: &Annotations) {
    for (key, list) in [("warnings", &a.warnings), ("infos", &a.infos)] {
        if list.is_empty() {
            continue;
        }
        let _ = write!(s, ",\"{key}\":[");
        for (i, w) in list.iter().enumerate() {
            if i > 0 {
                s.push(',');
            }
            json_str(s, w);
        }
        s.push(']');
    }
}

pub(crate) fn json_response(body: String) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

pub(crate) use crate::write::text::now_ms;

/// The engine for this request: the server's, with the request's
/// `timeout` (never longer than the server's) and `lookback_delta`.
fn request_engine(state: &AppState, p: &Params, reader: &Reader) -> Result<Engine, ApiError> {
    let mut cfg = caller_engine_config(state, reader);
    if let Some(ms) = p.duration("timeout")? {
        if ms > 0 {
            cfg.timeout = cfg.timeout.min(Duration::from_millis(ms as u64));
        }
    }
    if let Some(ms) = p.duration("lookback_delta")? {
        if ms > 0 {
            cfg.lookback_delta_ms = ms;
        }
    }
    Ok(Engine::new(cfg))
}

/// The server's engine settings with the series and sample limits
/// narrowed by the caller's policy (`max_series` 0 stays unlimited).
pub(crate) fn caller_engine_config(state: &AppState, reader: &Reader) -> EngineConfig {
    let mut cfg = state.engine().config().clone();
    let limits = &reader.0.policy.limits;
    if let Some(n) = limits.max_series_per_query {
        let n = usize::try_from(n).unwrap_or(usize::MAX);
        cfg.max_series = if cfg.max_series == 0 {
            n
        } else {
            cfg.max_series.min(n)
        };
    }
    if let Some(n) = limits.max_samples_per_query {
        cfg.max_samples = cfg
            .max_samples
            .min(usize::try_from(n).unwrap_or(usize::MAX));
    }
    cfg
}

fn query_param(p: &Params) -> Result<String, ApiError> {
    p.get("query")
        .map(str::to_string)
        .ok_or_else(|| ApiError::BadData("invalid parameter \"query\": no query given".into()))
}

/// `GET|POST /api/v1/query`.
pub(crate) async fn instant(
    State(state): State<AppState>,
    reader: Reader,
    p: Params,
) -> Result<Response, ApiError> {
    let query = query_param(&p)?;
    let t = p.time("time", now_ms())?;
    let engine = request_engine(&state, &p, &reader)?;
    let _slot = state.query_slot(&reader)?;
    if let Some(lb) = reader.0.policy.limits.max_query_lookback {
        if t < now_ms() - lb.as_millis() as i64 {
            let mut out = QueryOutput {
                value: Value::Vector(Vec::new()),
                annotations: Annotations::default(),
            };
            out.annotations.warn(format!(
                "the query time is older than max_query_lookback ({}s); nothing is returned",
                lb.as_secs()
            ));
            return Ok(json_response(result_json(&out)));
        }
    }
    let out = run_query(&state, reader, engine, move |engine, scope| {
        engine.instant_query(scope, &query, t)
    })
    .await?;
    Ok(json_response(result_json(&out)))
}

/// `GET|POST /api/v1/query_range`.
pub(crate) async fn range(
    State(state): State<AppState>,
    reader: Reader,
    p: Params,
) -> Result<Response, ApiError> {
    let query = query_param(&p)?;
    let start = required_time(&p, "start")?;
    let end = required_time(&p, "end")?;
    if end < start {
        return Err(ApiError::BadData(
            "end timestamp must not be before start time".into(),
        ));
    }
    let step = p.duration("step")?.ok_or_else(|| {
        ApiError::BadData(
            "invalid parameter \"step\": cannot parse \"\" to a valid duration".into(),
        )
    })?;
    if step <= 0 {
        return Err(ApiError::BadData(
            "zero or negative query resolution step widths are not accepted. Try a positive integer"
                .into(),
        ));
    }
    if end.saturating_sub(start) / step > MAX_POINTS {
        return Err(ApiError::BadData(
            "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)".into(),
        ));
    }
    let engine = request_engine(&state, &p, &reader)?;
    let _slot = state.query_slot(&reader)?;
    let (start, warnings) = clamp_range(&reader, start, end, step);
    let mut out = if start > end {
        QueryOutput {
            value: Value::Matrix(Vec::new()),
            annotations: Annotations::default(),
        }
    } else {
        let cache = cached_range(&state, &p, &reader, &engine, &query, step);
        run_query(&state, reader, engine, move |engine, scope| match cache {
            Some((cache, storage, key, tenants)) => {
                let req = crate::promql::cache::CachedRange {
                    key,
                    tenants: &tenants,
                    start,
                    end,
                    step,
                };
                cache.range_query(&storage, &req, &mut |s, e| {
                    engine.range_query(scope, &query, s, e, step)
                })
            }
            None => engine.range_query(scope, &query, start, end, step),
        })
        .await?
    };
    for w in warnings {
        out.annotations.warn(w);
    }
    Ok(json_response(result_json(&out)))
}

/// Runs one query on the server's query pool for the caller's scope.
///
/// The request's future holds a guard that cancels the query when it is
/// dropped, which is what happens when the client disconnects or the
/// request times out: the query then stops at its next check instead of
/// running to `query.timeout`. Errors are counted for the caller's tenant.
async fn run_query<F>(
    state: &AppState,
    reader: Reader,
    engine: Engine,
    f: F,
) -> Result<QueryOutput, ApiError>
where
    F: FnOnce(&Engine, &crate::promql::TenantScope<'_>) -> Result<QueryOutput, QueryError>
        + Send
        + 'static,
{
    let storage = state.storage().ok_or_else(not_ready)?;
    let cancel = Cancel::new();
    let _stop_on_drop = cancel.on_drop();
    let engine = engine.with_cancel(cancel.clone());
    let metrics = state.metrics().clone();
    let tenant = reader.0.tenant.clone();
    metrics.usage().add_query(&tenant);
    state
        .query_pool()
        .run(&cancel, move || {
            let scope = reader.scope(&storage)?;
            let out = f(&engine, &scope);
            Ok::<_, ApiError>(out.inspect_err(|e| metrics.add_query_error(&tenant, e))?)
        })
        .await
}

/// What a range query needs to go through the results cache, when it
/// may: the cache is on, the request did not ask `nocache=1` (as
/// VictoriaMetrics' API), the node reads its own storage (not a cluster's
/// owners, whose writes it does not see) and the query's steps depend only
/// on data up to their own time. The key holds the tenants, the whole
/// policy, the engine settings, the step and the query text.
type CacheUse = (
    std::sync::Arc<crate::promql::cache::ResultsCache>,
    std::sync::Arc<crate::storage::Storage>,
    String,
    Vec<crate::tenant::TenantId>,
);

fn cached_range(
    state: &AppState,
    p: &Params,
    reader: &Reader,
    engine: &Engine,
    query: &str,
    step: i64,
) -> Option<CacheUse> {
    let cache = state.results_cache();
    let off = matches!(p.get("nocache"), Some("1" | "true"));
    if !cache.enabled() || off || reader.1.is_some() {
        return None;
    }
    if !crate::promql::cache::ResultsCache::cacheable(query) {
        return None;
    }
    let storage = state.storage()?;
    let c = &reader.0;
    let key = format!(
        "{:?}|{:?}|{:?}|{step}|{query}",
        c.tenants,
        c.policy,
        engine.config()
    );
    Some((cache.clone(), storage, key, c.tenants.clone()))
}

/// Clamps a range query's start to the policy's `max_query_range` and
/// `max_query_lookback`, as Mimir does, keeping it on the step grid; each
/// clamp adds a warning. A start past `end` means nothing is left.
fn clamp_range(reader: &Reader, start: i64, end: i64, step: i64) -> (i64, Vec<String>) {
    let limits = &reader.0.policy.limits;
    let mut start = start;
    let mut warnings = Vec::new();
    let align_up = |s: i64, min: i64| s + (min - s + step - 1).div_euclid(step) * step;
    if let Some(r) = limits.max_query_range {
        let min = end - r.as_millis() as i64;
        if start < min {
            start = align_up(start, min);
            warnings.push(format!(
                "the query range was clamped to max_query_range ({}s)",
                r.as_secs()
            ));
        }
    }
    if let Some(lb) = limits.max_query_lookback {
        let min = now_ms() - lb.as_millis() as i64;
        if start < min {
            start = align_up(start, min);
            warnings.push(format!(
                "the query start was clamped to max_query_lookback ({}s)",
                lb.as_secs()
            ));
        }
    }
    (start, warnings)
}

fn required_time(p: &Params, key: &str) -> Result<i64, ApiError> {
    match p.get(key) {
        Some(_) => p.time(key, 0),
        None => Err(ApiError::BadData(format!(
            "invalid parameter \"{key}\": cannot parse \"\" to a valid timestamp"
        ))),
    }
}

pub(crate) fn not_ready() -> ApiError {
    ApiError::Unavailable("storage is not ready yet (WAL replay in progress)".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// The copy-through path writes what serde_json writes.
        #[test]
        fn json_str_is_serde_jsons(s in "(\\PC|[\"\\\\\u{0}-\u{1f}]){0,24}") {
            let mut out = String::from("x");
            json_str(&mut out, &s);
            proptest::prop_assert_eq!(&out[1..], serde_json::to_string(&s).unwrap());
        }
    }

    #[test]
    fn histogram_points_as_prometheus_writes_them() {
        use crate::model::{HistogramCounts, Span};
        assert_eq!(format_json_float(1e-7), "1e-07");
        assert_eq!(format_json_float(-2.5e21), "-2.5e+21");
        assert_eq!(format_json_float(1e21), "1e+21");
        assert_eq!(format_json_float(0.25), "0.25");
        assert_eq!(format_json_float(f64::INFINITY), "+Inf");
        let mut out = String::new();
        json_histogram_point(&mut out, 1500, &Histogram::empty_int(0));
        assert_eq!(out, r#"[1.5,{"count":"0","sum":"0"}]"#);
        // Buckets at the far ends of the index range: bounds saturate.
        let far = Histogram {
            schema: 8,
            counts: HistogramCounts::Float {
                count: 2.0,
                zero_count: 0.0,
                positive: vec![1.0, 1.0],
                negative: vec![],
            },
            positive_spans: vec![
                Span {
                    offset: i32::MAX,
                    length: 1,
                },
                Span {
                    offset: i32::MAX,
                    length: 1,
                },
            ],
            ..Histogram::empty_int(8)
        };
        let mut out = String::new();
        json_histogram_point(&mut out, 0, &far);
        assert_eq!(
            out,
            r#"[0,{"count":"2","sum":"0","buckets":[[0,"+Inf","+Inf","1"],[0,"+Inf","+Inf","1"]]}]"#
        );
    }

    #[test]
    fn timestamps_and_values_are_written_like_prometheus() {
        assert_eq!(format_ts(1_435_781_451_781), "1435781451.781");
        assert_eq!(format_ts(1_435_781_451_000), "1435781451");
        assert_eq!(format_ts(1_435_781_451_500), "1435781451.5");
        assert_eq!(format_ts(1_435_781_451_050), "1435781451.05");
        assert_eq!(format_ts(0), "0");
        assert_eq!(format_ts(-1500), "-1.5");
        assert_eq!(format_value(f64::NAN), "NaN");
        assert_eq!(format_value(f64::INFINITY), "+Inf");
        assert_eq!(format_value(f64::NEG_INFINITY), "-Inf");
        assert_eq!(format_value(1e21), "1000000000000000000000");
        assert_eq!(format_value(0.1), "0.1");
        assert_eq!(format_value(-0.0), "-0");
    }
}
