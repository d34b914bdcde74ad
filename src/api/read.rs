//! `POST /api/v1/read`: Prometheus's remote-read API, as its `readHandler`
//! (`storage/remote/read_handler.go`) serves it.
//!
//! The body is a snappy-compressed `ReadRequest`. Each query's matchers go
//! through the caller's [`TenantScope`] like any selector (tenant, forced
//! matchers, restricted labels), so remote read shows nothing a PromQL
//! query would not. The answer is either one snappy-compressed
//! `ReadResponse` with raw samples (`SAMPLES`, the default) or, when the
//! client lists `STREAMED_XOR_CHUNKS` first, a stream of frames, each a
//! `ChunkedReadResponse` holding one series and some of its chunks in
//! Prometheus's XOR encoding: `uvarint(len) | crc32c(msg) big-endian | msg`
//! (upstream's `ChunkedWriter.Write`).
//!
//! Limits: the samples a request returns count against `query.max-samples`
//! (and the policy's `max_samples_per_query`), the series against the
//! policy's `max_series_per_query`, as for a PromQL query; past either the
//! request is refused with 400 before anything is sent (upstream's
//! `exceeded sample limit`). Stale markers are returned as stored.

use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, Request, State};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use prost::Message;

use super::{blocking, ApiError, AppState, HeldBody, Reader};
use crate::ingest::proto::read::{
    Chunk, ChunkedReadResponse, ChunkedSeries, Label, LabelMatcher, MatcherType, Query,
    QueryResult, ReadRequest, ReadResponse, ResponseType, TimeSeries, CHUNK_XOR,
};
use crate::ingest::proto::v1;
use crate::ingest::remote_write::snappy_decompress;
use crate::model::{Labels, Sample};
use crate::promql::QueryError;
use crate::storage::chunk::encode_prom_xor;
use crate::storage::index::{MatchOp, Matcher};

/// Content type of the sampled response.
const SAMPLES_TYPE: &str = "application/x-protobuf";
/// Content type of the streamed response (upstream's
/// `ContentTypeRemoteReadStreamedChunks`).
const STREAMED_TYPE: &str = "application/x-streamed-protobuf; proto=prometheus.ChunkedReadResponse";
/// Largest decompressed request.
const MAX_REQUEST_BYTES: usize = 32 << 20;
/// Queries one request may carry.
const MAX_QUERIES: usize = 1000;
/// Samples per streamed chunk (what Prometheus's head cuts at).
const SAMPLES_PER_CHUNK: usize = 120;
/// Bytes of chunk data per frame before the series continues in the next
/// one (upstream's `--storage.remote.read-max-bytes-in-frame` default).
const MAX_BYTES_IN_FRAME: usize = 1 << 20;

/// One query's answer: its series, sorted by labels, with their samples.
type Answer = Vec<(Labels, Vec<Sample>)>;

/// The `/api/v1/read` handler.
pub(crate) async fn remote_read(
    State(state): State<AppState>,
    reader: Reader,
    req: Request,
) -> Result<Response, ApiError> {
    let storage = state.require_storage()?;
    let _slot = state.query_slot(&reader)?;
    let body = HeldBody::from_request(req, &state).await?;
    let request = decode_request(&body)?;
    drop(body);
    let streamed = wants_streamed(&request)?;
    let (max_samples, max_series) = limits(&state, &reader);
    state.metrics().usage().add_query(&reader.0.tenant);
    blocking(move || {
        let scope = reader.scope(&storage)?;
        let mut budget = Budget {
            samples_left: max_samples,
            max_samples,
            series_left: max_series,
            max_series,
        };
        let mut answers = Vec::with_capacity(request.queries.len());
        for q in &request.queries {
            answers.push(run_query(&scope, q, &mut budget)?);
        }
        Ok(if streamed {
            streamed_response(answers)
        } else {
            sampled_response(answers)
        })
    })
    .await
}

/// Decompresses and decodes the request.
fn decode_request(body: &[u8]) -> Result<ReadRequest, ApiError> {
    let raw = snappy_decompress(body, MAX_REQUEST_BYTES)
        .map_err(|e| ApiError::BadData(format!("remote read request: {e}")))?;
    let req = ReadRequest::decode(raw.as_slice())
        .map_err(|e| ApiError::BadData(format!("remote read request: bad protobuf: {e}")))?;
    if req.queries.len() > MAX_QUERIES {
        return Err(ApiError::BadData(format!(
            "remote read request has {} queries, more than the limit of {MAX_QUERIES}",
            req.queries.len()
        )));
    }
    Ok(req)
}

/// Upstream answers with the first accepted type it supports; no type
/// means samples. A list of only unknown types is refused.
fn wants_streamed(req: &ReadRequest) -> Result<bool, ApiError> {
    if req.accepted_response_types.is_empty() {
        return Ok(false);
    }
    for t in &req.accepted_response_types {
        match ResponseType::try_from(*t) {
            Ok(ResponseType::Samples) => return Ok(false),
            Ok(ResponseType::StreamedXorChunks) => return Ok(true),
            Err(_) => {}
        }
    }
    Err(ApiError::BadData(format!(
        "server does not support any of the requested response types: {:?}; supported: SAMPLES, STREAMED_XOR_CHUNKS",
        req.accepted_response_types
    )))
}

/// The sample and series limits of the caller, as for a PromQL query.
fn limits(state: &AppState, reader: &Reader) -> (usize, usize) {
    let cfg = super::query::caller_engine_config(state, reader);
    let series = if cfg.max_series == 0 {
        usize::MAX
    } else {
        cfg.max_series
    };
    (cfg.max_samples, series)
}

/// What the rest of the request may still return.
struct Budget {
    samples_left: usize,
    max_samples: usize,
    series_left: usize,
    max_series: usize,
}

/// Runs one query, charging its series and samples to the budget.
fn run_query(
    scope: &crate::promql::TenantScope<'_>,
    q: &Query,
    budget: &mut Budget,
) -> Result<Answer, ApiError> {
    let matchers = q
        .matchers
        .iter()
        .map(matcher)
        .collect::<Result<Vec<_>, _>>()?;
    let mut out: Answer = Vec::new();
    let mut over = None;
    scope
        .select_samples(
            matchers,
            q.start_timestamp_ms,
            q.end_timestamp_ms,
            |labels, samples| {
                if budget.series_left == 0 {
                    over = Some(QueryError::TooManySeries(budget.max_series));
                    return false;
                }
                if samples.len() > budget.samples_left {
                    over = Some(QueryError::TooManySamples(budget.max_samples));
                    return false;
                }
                budget.series_left -= 1;
                budget.samples_left -= samples.len();
                if !samples.is_empty() {
                    out.push((labels, samples));
                }
                true
            },
        )
        .map_err(ApiError::from)?;
    if let Some(e) = over {
        return Err(ApiError::BadData(format!("remote read: {e}")));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

/// A protobuf matcher as a storage matcher.
fn matcher(m: &LabelMatcher) -> Result<Matcher, ApiError> {
    let op = match MatcherType::try_from(m.r#type) {
        Ok(MatcherType::Eq) => MatchOp::Equal,
        Ok(MatcherType::Neq) => MatchOp::NotEqual,
        Ok(MatcherType::Re) => MatchOp::Regex,
        Ok(MatcherType::Nre) => MatchOp::NotRegex,
        Err(_) => {
            return Err(ApiError::BadData(format!(
                "remote read: unknown matcher type {} on label {:?}",
                m.r#type, m.name
            )))
        }
    };
    Matcher::new(op, &m.name, &m.value).map_err(|e| ApiError::BadData(e.to_string()))
}

fn proto_labels(labels: &Labels) -> Vec<Label> {
    labels
        .iter()
        .map(|l| Label {
            name: l.name.to_string(),
            value: l.value.to_string(),
        })
        .collect()
}

/// One snappy-compressed `ReadResponse`.
fn sampled_response(answers: Vec<Answer>) -> Response {
    let results = answers
        .into_iter()
        .map(|series| QueryResult {
            timeseries: series
                .into_iter()
                .map(|(labels, samples)| TimeSeries {
                    labels: proto_labels(&labels),
                    samples: samples
                        .iter()
                        .map(|s| v1::Sample {
                            value: s.v,
                            timestamp: s.t,
                        })
                        .collect(),
                    exemplars: Vec::new(),
                    histograms: Vec::new(),
                })
                .collect(),
        })
        .collect();
    let body = crate::ingest::proto::encode_snappy(&ReadResponse { results });
    let mut resp = Body::from(body).into_response();
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(SAMPLES_TYPE));
    h.insert(header::CONTENT_ENCODING, HeaderValue::from_static("snappy"));
    resp
}

/// The frames of a streamed response: per query, per series, chunks of at
/// most 120 samples, a series split over frames past 1 MiB of chunk data.
fn stream_frames(answers: Vec<Answer>) -> impl Iterator<Item = Bytes> {
    answers
        .into_iter()
        .enumerate()
        .flat_map(|(i, series)| series.into_iter().map(move |s| (i, s)))
        .flat_map(|(i, (labels, samples))| series_frames(i as i64, &labels, &samples))
}

fn series_frames(query_index: i64, labels: &Labels, samples: &[Sample]) -> Vec<Bytes> {
    let labels = proto_labels(labels);
    let mut frames = Vec::new();
    let mut chunks = Vec::new();
    let mut bytes = 0usize;
    for part in samples.chunks(SAMPLES_PER_CHUNK) {
        let data = encode_prom_xor(part);
        bytes += data.len();
        chunks.push(Chunk {
            min_time_ms: part[0].t,
            max_time_ms: part[part.len() - 1].t,
            r#type: CHUNK_XOR,
            data,
        });
        if bytes >= MAX_BYTES_IN_FRAME {
            frames.push(frame(query_index, &labels, std::mem::take(&mut chunks)));
            bytes = 0;
        }
    }
    if !chunks.is_empty() {
        frames.push(frame(query_index, &labels, chunks));
    }
    frames
}

/// `uvarint(len) | crc32c(msg) big-endian | msg`.
fn frame(query_index: i64, labels: &[Label], chunks: Vec<Chunk>) -> Bytes {
    let msg = ChunkedReadResponse {
        chunked_series: vec![ChunkedSeries {
            labels: labels.to_vec(),
            chunks,
        }],
        query_index,
    }
    .encode_to_vec();
    let mut out = Vec::with_capacity(msg.len() + 14);
    crate::storage::varint::put_uvarint(&mut out, msg.len() as u64);
    out.extend_from_slice(&crc32c::crc32c(&msg).to_be_bytes());
    out.extend_from_slice(&msg);
    Bytes::from(out)
}

fn streamed_response(answers: Vec<Answer>) -> Response {
    let frames = stream_frames(answers).map(Ok::<_, std::io::Error>);
    let mut resp = Body::from_stream(futures::stream::iter(frames)).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(STREAMED_TYPE),
    );
    resp
}
