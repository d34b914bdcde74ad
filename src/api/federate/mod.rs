//! `GET/POST /federate`: the newest value of every matching series of the
//! caller's tenant, in the text exposition format or, when the scraper asks
//! for it, the delimited protobuf format (`Handler.federation` in
//! `web/federate.go`).
//!
//! One walk over storage feeds either encoder ([`Encoder`]): the walk
//! applies the tenant, the policy, the lookback window and the stale-marker
//! rule, and decides each family's type; the encoders only format.
//!
//! The body is streamed: the storage walk runs on the blocking pool and
//! hands fixed-size chunks through a bounded channel to the response, so a
//! federation of millions of series holds one series and a few chunks in
//! memory, and a client that stops reading stops the walk.

pub mod dto;
mod negotiate;
mod proto;
mod text;

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use hyper::body::Frame;
use tokio::sync::mpsc;

use super::{ApiError, AppState, Params, Reader};
use crate::model::{CounterResetHint, METRIC_NAME};
use crate::promql::QueryError;
pub(crate) use crate::storage::Newest;
use crate::storage::Storage;
use crate::tenant::TenantId;
use crate::write::text::now_ms;
pub(crate) use negotiate::Format;

/// The body is handed on in chunks of about this size.
const CHUNK_BYTES: usize = 64 << 10;
/// Chunks in flight between the walk and the connection.
const CHANNEL_CHUNKS: usize = 4;

/// The `/federate` handler.
///
/// Unlike upstream, which answers 200 with an empty body, a request without
/// `match[]` is refused as `/api/v1/series` refuses it, since federating
/// nothing is always a configuration mistake.
pub(crate) async fn federate(
    State(state): State<AppState>,
    headers: HeaderMap,
    reader: Reader,
    params: Params,
) -> Result<Response, ApiError> {
    let exprs = params.all("match[]");
    if exprs.is_empty() {
        return Err(ApiError::BadData("no match[] parameter provided".into()));
    }
    let format = Format::negotiate(headers.get(header::ACCEPT).map(|v| v.as_bytes()));
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
        let mut out = Writer::new(tx, format, storage.clone(), tenant.clone());
        let res = match &cluster {
            Some(source) => newest_from(&**source, &tenant, &selectors, mint, maxt, &mut out),
            None => storage.for_each_newest(&tenant, &selectors, mint, maxt, &mut |labels, v| {
                out.series(labels, v)
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
        [(header::CONTENT_TYPE, format.content_type())],
        Body::new(ChannelBody(rx)),
    )
        .into_response())
}

/// Federation through a read source (cluster mode: the partition
/// owners): the union of the selectors' series, grouped by metric name,
/// each with its newest value. Unlike the local walk this holds the
/// newest value of every matching series at once.
fn newest_from(
    source: &dyn crate::storage::ReadSource,
    tenant: &TenantId,
    selectors: &[Vec<crate::storage::Matcher>],
    mint: i64,
    maxt: i64,
    out: &mut Writer,
) -> Result<(), crate::storage::StorageError> {
    let reader = source.reader(tenant, mint, maxt);
    let mut newest: std::collections::BTreeMap<(String, crate::model::Labels), Newest> =
        std::collections::BTreeMap::new();
    for sel in selectors {
        reader.select_each_st(sel, false, &mut |labels, mut v| {
            if let Some(last) = Newest::of(&v.samples, &mut v.histograms) {
                let name = labels.get(METRIC_NAME).unwrap_or_default().to_string();
                newest.insert((name, labels), last);
            }
            true
        })?;
    }
    for ((_, labels), v) in newest {
        let pairs: Vec<(&str, &str)> = labels
            .iter()
            .map(|l| (l.name.as_str(), l.value.as_str()))
            .collect();
        if !out.series(&pairs, v) {
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

/// The type of a federated series' family.
///
/// Upstream federates every float as untyped; here a float whose metric
/// name has `counter` or `gauge` metadata (from remote write) is federated
/// with that type, so the scraping server keeps it. Histograms are
/// `histogram`, or `gaugehistogram` when their reset hint says gauge, as
/// upstream decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A float of unknown type.
    Untyped,
    /// A float with counter metadata.
    Counter,
    /// A float with gauge metadata.
    Gauge,
    /// A native histogram that is a counter.
    Histogram,
    /// A native gauge histogram.
    GaugeHistogram,
}

impl Kind {
    /// The name of the type in a text `# TYPE` line.
    fn text_name(self) -> &'static str {
        match self {
            Kind::Untyped => "untyped",
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Histogram => "histogram",
            Kind::GaugeHistogram => "gaugehistogram",
        }
    }
}

/// One series as the encoders see it: never a stale marker, always named.
pub(crate) struct Series<'a> {
    /// The metric name.
    name: &'a str,
    /// All labels, sorted by name, `__name__` included.
    labels: &'a [(&'a str, &'a str)],
    /// The newest value.
    value: &'a Newest,
    /// The family's type.
    kind: Kind,
}

/// One exposition format's encoding of the federation walk.
pub(crate) trait Encoder: Send {
    /// Appends one series to `buf` (or holds it back until its family is
    /// complete).
    fn series(&mut self, buf: &mut Vec<u8>, s: &Series<'_>);
    /// Appends whatever is still held back at the end of the walk.
    fn finish(&mut self, buf: &mut Vec<u8>);
}

/// The labels an exposition carries for a series, in order: its labels
/// without `__name__` and without empty values (an empty value means
/// unset), then `instance=""` when it has no `instance`, as upstream adds
/// its always-present instance external label.
pub(crate) fn exposed_labels<'a>(
    labels: &'a [(&'a str, &'a str)],
) -> impl Iterator<Item = (&'a str, &'a str)> + 'a {
    let has_instance = labels
        .iter()
        .any(|(n, v)| *n == "instance" && !v.is_empty());
    labels
        .iter()
        .copied()
        .filter(|(n, v)| *n != METRIC_NAME && !v.is_empty())
        .chain((!has_instance).then_some(("instance", "")))
}

/// Picks each series' family type, encodes it, and sends full chunks.
struct Writer {
    buf: Vec<u8>,
    enc: Box<dyn Encoder>,
    tx: mpsc::Sender<Result<Bytes, std::io::Error>>,
    storage: Arc<Storage>,
    tenant: TenantId,
    /// The last metric name seen and the float type its metadata gives.
    last_meta: Option<(String, Kind)>,
}

impl Writer {
    fn new(
        tx: mpsc::Sender<Result<Bytes, std::io::Error>>,
        format: Format,
        storage: Arc<Storage>,
        tenant: TenantId,
    ) -> Writer {
        let enc: Box<dyn Encoder> = match format {
            Format::Text => Box::<text::TextEncoder>::default(),
            Format::ProtoDelimited => Box::<proto::ProtoEncoder>::default(),
        };
        Writer {
            buf: Vec::with_capacity(CHUNK_BYTES + 4096),
            enc,
            tx,
            storage,
            tenant,
            last_meta: None,
        }
    }

    /// Encodes one series' newest value, skipping stale markers as upstream
    /// does (the formats cannot carry them) and nameless series. Returns
    /// false once the client is gone.
    fn series(&mut self, labels: &[(&str, &str)], v: Newest) -> bool {
        if v.is_stale() {
            return true;
        }
        let Some(name) = labels
            .iter()
            .find(|(n, _)| *n == METRIC_NAME)
            .map(|(_, v)| *v)
            .filter(|v| !v.is_empty())
        else {
            return true;
        };
        let kind = match &v {
            Newest::Histogram(h) if h.h.reset_hint == CounterResetHint::Gauge => {
                Kind::GaugeHistogram
            }
            Newest::Histogram(_) => Kind::Histogram,
            Newest::Float(_) => self.float_kind(name),
        };
        let s = Series {
            name,
            labels,
            value: &v,
            kind,
        };
        self.enc.series(&mut self.buf, &s);
        if self.buf.len() < CHUNK_BYTES {
            return true;
        }
        let chunk = std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK_BYTES + 4096));
        self.tx.blocking_send(Ok(Bytes::from(chunk))).is_ok()
    }

    /// The float type metadata gives `name`, looked up once per run of
    /// series with that name (the walk comes grouped by name).
    fn float_kind(&mut self, name: &str) -> Kind {
        if let Some((n, k)) = &self.last_meta {
            if n == name {
                return *k;
            }
        }
        let meta = self.storage.metadata(&self.tenant, Some(name), Some(1));
        let kind = match meta.first().map(|m| m.kind.as_str()) {
            Some("counter") => Kind::Counter,
            Some("gauge") => Kind::Gauge,
            _ => Kind::Untyped,
        };
        self.last_meta = Some((name.to_string(), kind));
        kind
    }

    fn finish(mut self) {
        self.enc.finish(&mut self.buf);
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
    fn exposed_labels_drop_name_and_empty_values_and_add_instance() {
        type Case<'a> = (&'a [(&'a str, &'a str)], &'a [(&'a str, &'a str)]);
        let cases: &[Case] = &[
            (&[], &[("instance", "")]),
            (&[("__name__", "up")], &[("instance", "")]),
            (
                &[("__name__", "up"), ("instance", "a"), ("x", "")],
                &[("instance", "a")],
            ),
            (
                &[("__name__", "up"), ("instance", ""), ("job", "j")],
                &[("job", "j"), ("instance", "")],
            ),
        ];
        for (labels, want) in cases {
            let got: Vec<_> = exposed_labels(labels).collect();
            assert_eq!(&got, want, "{labels:?}");
        }
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
