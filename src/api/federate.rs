//! `GET/POST /federate`: the newest sample of every matching series of the
//! caller's tenant, in the Prometheus text exposition format
//! (`Handler.federation` in `web/federate.go`).
//!
//! The body is streamed: the storage walk runs on the blocking pool and
//! hands fixed-size chunks through a bounded channel to the response, so a
//! federation of millions of series holds one series and a few chunks in
//! memory, and a client that stops reading stops the walk.

use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use hyper::body::Frame;
use tokio::sync::mpsc;

use super::{ApiError, AppState, Params, Reader};
use crate::model::{is_stale_nan, Sample, METRIC_NAME};
use crate::promql::QueryError;
use crate::write::text::now_ms;

/// The content type of the text exposition format.
const TEXT_FORMAT: &str = "text/plain; version=0.0.4; charset=utf-8";
/// The body is handed on in chunks of about this size.
const CHUNK_BYTES: usize = 64 << 10;
/// Chunks in flight between the walk and the connection.
const CHANNEL_CHUNKS: usize = 4;

/// The `/federate` handler.
///
/// Unlike upstream, which answers 200 with an empty body, a request without
/// `match[]` is refused as `/api/v1/series` refuses it, since federating
/// nothing is always a configuration mistake. Upstream also negotiates
/// protobuf; this speaks the text format only (floats are all it stores).
pub(crate) async fn federate(
    State(state): State<AppState>,
    reader: Reader,
    params: Params,
) -> Result<Response, ApiError> {
    let exprs = params.all("match[]");
    if exprs.is_empty() {
        return Err(ApiError::BadData("no match[] parameter provided".into()));
    }
    let tenant = reader.single_tenant("/federate")?;
    let storage = state.require_storage()?;
    // The caller's policy applies as in a query: each selector is bound
    // to the scope (forced matchers, restricted labels).
    let scope = reader.scope(&storage)?;
    let mut selectors = Vec::with_capacity(exprs.len());
    for e in &exprs {
        selectors.push(scope.bind_selector(e).map_err(match_err)?);
    }
    drop(scope);
    let maxt = now_ms();
    let mint = maxt.saturating_sub(state.engine().config().lookback_delta_ms);
    let (tx, rx) = mpsc::channel(CHANNEL_CHUNKS);
    let cluster = reader.1.clone();
    tokio::task::spawn_blocking(move || {
        let mut out = Writer::new(tx);
        let res = match &cluster {
            Some(source) => newest_from(&**source, &tenant, &selectors, mint, maxt, &mut out),
            None => storage.for_each_newest(&tenant, &selectors, mint, maxt, &mut |labels, s| {
                out.series(labels, s)
            }),
        };
        match res {
            Ok(()) => out.finish(),
            Err(e) => {
                tracing::error!(tenant = %tenant, error = %e, "federation failed");
                out.fail(e.to_string());
            }
        }
    });
    Ok((
        [(header::CONTENT_TYPE, TEXT_FORMAT)],
        Body::new(ChannelBody(rx)),
    )
        .into_response())
}

/// Federation through a read source (cluster mode: the partition
/// owners): the union of the selectors' series, grouped by metric name,
/// each with its newest sample. Unlike the local walk this holds the
/// newest sample of every matching series at once.
fn newest_from(
    source: &dyn crate::storage::ReadSource,
    tenant: &crate::tenant::TenantId,
    selectors: &[Vec<crate::storage::Matcher>],
    mint: i64,
    maxt: i64,
    out: &mut Writer,
) -> Result<(), crate::storage::StorageError> {
    let reader = source.reader(tenant, mint, maxt);
    let mut newest: std::collections::BTreeMap<(String, crate::model::Labels), Sample> =
        std::collections::BTreeMap::new();
    for sel in selectors {
        reader.select_each_st(sel, false, &mut |labels, v| {
            if let Some(&last) = v.samples.last() {
                let name = labels.get(METRIC_NAME).unwrap_or_default().to_string();
                newest.insert((name, labels), last);
            }
            true
        })?;
    }
    for ((_, labels), s) in newest {
        let pairs: Vec<(&str, &str)> = labels
            .iter()
            .map(|l| (l.name.as_str(), l.value.as_str()))
            .collect();
        if !out.series(&pairs, s) {
            break;
        }
    }
    Ok(())
}

/// A `match[]` selector's error in upstream's wording; policy refusals
/// keep their own status.
fn match_err(e: QueryError) -> ApiError {
    match e {
        QueryError::BadData(m) => ApiError::BadData(format!("invalid parameter \"match[]\": {m}")),
        other => other.into(),
    }
}

/// Formats series into the exposition format and sends full chunks.
struct Writer {
    buf: Vec<u8>,
    last_name: Option<String>,
    tx: mpsc::Sender<Result<Bytes, std::io::Error>>,
}

impl Writer {
    fn new(tx: mpsc::Sender<Result<Bytes, std::io::Error>>) -> Writer {
        Writer {
            buf: Vec::with_capacity(CHUNK_BYTES + 4096),
            last_name: None,
            tx,
        }
    }

    /// Writes one series' sample, skipping stale markers as upstream does
    /// (the format cannot carry them). Returns false once the client is gone.
    fn series(&mut self, labels: &[(&str, &str)], s: Sample) -> bool {
        if is_stale_nan(s.v) {
            return true;
        }
        write_sample(&mut self.buf, &mut self.last_name, labels, s);
        if self.buf.len() < CHUNK_BYTES {
            return true;
        }
        let chunk = std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK_BYTES + 4096));
        self.tx.blocking_send(Ok(Bytes::from(chunk))).is_ok()
    }

    fn finish(mut self) {
        if !self.buf.is_empty() {
            let chunk = std::mem::take(&mut self.buf);
            let _ = self.tx.blocking_send(Ok(Bytes::from(chunk)));
        }
    }

    /// Ends the body with an error: the status is already sent, so the
    /// connection is cut and the client sees a truncated response.
    fn fail(self, msg: String) {
        let _ = self.tx.blocking_send(Err(std::io::Error::other(msg)));
    }
}

/// Appends `name{labels} value timestamp` (with a `# TYPE name untyped`
/// line when the metric name changes), as upstream's protobuf families come
/// out of `expfmt.MetricFamilyToText`. Empty label values are left out, and
/// `instance=""` is added when the series has no `instance` label, as
/// upstream does for its always-present instance external label.
pub(crate) fn write_sample(
    buf: &mut Vec<u8>,
    last_name: &mut Option<String>,
    labels: &[(&str, &str)],
    s: Sample,
) {
    let Some(name) = labels
        .iter()
        .find(|(n, _)| *n == METRIC_NAME)
        .map(|(_, v)| *v)
        .filter(|v| !v.is_empty())
    else {
        return;
    };
    if last_name.as_deref() != Some(name) {
        buf.extend_from_slice(b"# TYPE ");
        write_name(buf, name);
        buf.extend_from_slice(b" untyped\n");
        *last_name = Some(name.to_string());
    }
    write_name(buf, name);
    let mut sep = b'{';
    let mut has_instance = false;
    for (n, v) in labels {
        if *n == METRIC_NAME || v.is_empty() {
            continue;
        }
        has_instance |= *n == "instance";
        buf.push(sep);
        sep = b',';
        write_label(buf, n, v);
    }
    if !has_instance {
        buf.push(sep);
        write_label(buf, "instance", "");
    }
    buf.extend_from_slice(b"} ");
    buf.extend_from_slice(format_value(s.v).as_bytes());
    buf.push(b' ');
    buf.extend_from_slice(s.t.to_string().as_bytes());
    buf.push(b'\n');
}

/// A legacy name as is; any other name quoted, as the UTF-8 aware text
/// format writes it.
fn write_name(buf: &mut Vec<u8>, name: &str) {
    if is_legacy_name(name, true) {
        buf.extend_from_slice(name.as_bytes());
    } else {
        write_quoted(buf, name);
    }
}

fn write_label(buf: &mut Vec<u8>, name: &str, value: &str) {
    if is_legacy_name(name, false) {
        buf.extend_from_slice(name.as_bytes());
    } else {
        write_quoted(buf, name);
    }
    buf.push(b'=');
    write_quoted(buf, value);
}

/// `[a-zA-Z_:][a-zA-Z0-9_:]*` for metric names; no colons in label names.
fn is_legacy_name(s: &str, colons: bool) -> bool {
    let ok = |c: u8, first: bool| {
        c.is_ascii_alphabetic()
            || c == b'_'
            || (colons && c == b':')
            || (!first && c.is_ascii_digit())
    };
    let mut bytes = s.bytes();
    bytes.next().is_some_and(|c| ok(c, true)) && bytes.all(|c| ok(c, false))
}

/// A double-quoted string with `\`, `"` and newline escaped.
fn write_quoted(buf: &mut Vec<u8>, s: &str) {
    buf.push(b'"');
    for c in s.bytes() {
        match c {
            b'\\' => buf.extend_from_slice(b"\\\\"),
            b'"' => buf.extend_from_slice(b"\\\""),
            b'\n' => buf.extend_from_slice(b"\\n"),
            c => buf.push(c),
        }
    }
    buf.push(b'"');
}

/// A value as Go's `strconv.FormatFloat(v, 'g', -1, 64)` writes it, with
/// `NaN`, `+Inf` and `-Inf` (`writeFloat` in `expfmt/text_create.go`):
/// the shortest digits that round-trip, in exponent form when the decimal
/// exponent is below -4 or at least 6 (Go's rule for the
/// shortest precision).
pub(crate) fn format_value(v: f64) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "+Inf" } else { "-Inf" }.into();
    }
    // `{:e}` gives the shortest round-trip digits: `-1.2345e-7`.
    let sci = format!("{v:e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let (sign, mantissa) = match mantissa.strip_prefix('-') {
        Some(m) => ("-", m),
        None => ("", mantissa),
    };
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    if !(-4..6).contains(&exp) {
        let exp_sign = if exp < 0 { '-' } else { '+' };
        return format!("{sign}{mantissa}e{exp_sign}{:02}", exp.abs());
    }
    let point = exp + 1; // digits before the decimal point
    if point <= 0 {
        let zeros = "0".repeat(point.unsigned_abs() as usize);
        return format!("{sign}0.{zeros}{digits}");
    }
    let point = point as usize;
    if digits.len() <= point {
        let zeros = "0".repeat(point - digits.len());
        return format!("{sign}{digits}{zeros}");
    }
    format!("{sign}{}.{}", &digits[..point], &digits[point..])
}

/// A response body fed by the channel the storage walk writes into.
struct ChannelBody(mpsc::Receiver<Result<Bytes, std::io::Error>>);

impl hyper::body::Body for ChannelBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
        self.0
            .poll_recv(cx)
            .map(|next| next.map(|chunk| chunk.map(Frame::data)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_format_like_go() {
        let cases: &[(f64, &str)] = &[
            (0.0, "0"),
            (-0.0, "-0"),
            (1.0, "1"),
            (-2.5, "-2.5"),
            (10000.0, "10000"),
            (123456.7, "123456.7"),
            (100000.0, "100000"),
            (1e6, "1e+06"),
            (1234567.0, "1.234567e+06"),
            (1.5e20, "1.5e+20"),
            (1e21, "1e+21"),
            (0.0001, "0.0001"),
            (0.00012, "0.00012"),
            (0.00001, "1e-05"),
            (1.5e-300, "1.5e-300"),
            (f64::MAX, "1.7976931348623157e+308"),
            (0.1 + 0.2, "0.30000000000000004"),
            (f64::NAN, "NaN"),
            (f64::INFINITY, "+Inf"),
            (f64::NEG_INFINITY, "-Inf"),
        ];
        for (v, want) in cases {
            assert_eq!(format_value(*v), *want, "{v:?}");
        }
    }

    #[test]
    fn samples_write_with_type_lines_escapes_and_instance() {
        let mut buf = Vec::new();
        let mut last = None;
        let s = Sample::new(1000, 1.0);
        write_sample(&mut buf, &mut last, &[("__name__", "up")], s);
        write_sample(
            &mut buf,
            &mut last,
            &[("__name__", "up"), ("instance", "a"), ("x", "")],
            s,
        );
        write_sample(
            &mut buf,
            &mut last,
            &[("__name__", "m.x"), ("a", "q\"\\\n"), ("b.c", "1")],
            Sample::new(-5, f64::NAN),
        );
        write_sample(&mut buf, &mut last, &[("job", "nameless")], s);
        let want = "# TYPE up untyped\n\
                    up{instance=\"\"} 1 1000\n\
                    up{instance=\"a\"} 1 1000\n\
                    # TYPE \"m.x\" untyped\n\
                    \"m.x\"{a=\"q\\\"\\\\\\n\",\"b.c\"=\"1\",instance=\"\"} NaN -5\n";
        assert_eq!(String::from_utf8(buf).unwrap(), want);
    }

    #[test]
    fn selectors_parse_or_are_refused() {
        let ok: &[(&str, usize)] = &[("up", 1), ("{job=\"a\"}", 1), ("up{job=~\"a|b\"}", 2)];
        for (text, n) in ok {
            let parsed = crate::promql::parse_selector(text).map_err(match_err);
            assert_eq!(parsed.unwrap().len(), *n, "{text}");
        }
        for bad in [
            "",
            "rate(up[5m])",
            "{job=\"\"}",
            "{job=~\".*\"}",
            "up{",
            "1",
        ] {
            let err = crate::promql::parse_selector(bad)
                .map_err(match_err)
                .unwrap_err();
            assert!(matches!(err, ApiError::BadData(_)), "{bad}: {err:?}");
        }
    }
}
