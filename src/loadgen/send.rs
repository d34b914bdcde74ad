//! Senders: keep-alive HTTP/1.1 connections posting pre-encoded bodies.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1;
use hyper::{Request, Uri};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// Where and as whom to send.
#[derive(Clone)]
pub(crate) struct Target {
    pub(crate) uri: Uri,
    pub(crate) tenant: Option<String>,
}

/// What the server answered, summed over senders.
#[derive(Default, Debug)]
pub(crate) struct Outcome {
    /// Responses per HTTP status code; `0` counts transport errors.
    pub(crate) statuses: BTreeMap<u16, u64>,
    /// Samples in requests answered with 2xx.
    pub(crate) samples_ok: u64,
    /// The first non-2xx body or transport error seen.
    pub(crate) first_error: Option<String>,
}

impl Outcome {
    fn merge(&mut self, other: Outcome) {
        for (code, n) in other.statuses {
            *self.statuses.entry(code).or_default() += n;
        }
        self.samples_ok += other.samples_ok;
        if self.first_error.is_none() {
            self.first_error = other.first_error;
        }
    }

    /// Requests not answered with 2xx.
    pub(crate) fn errors(&self) -> u64 {
        self.statuses
            .iter()
            .filter(|(c, _)| !(200..300).contains(*c))
            .map(|(_, n)| n)
            .sum()
    }
}

/// Sends every body of `bodies` once over `concurrency` connections, each
/// taking the next unsent body, and waits for all answers. Every body holds
/// `samples_per_body[i]` samples. Stops taking new bodies at `deadline`.
pub(crate) async fn send_all(
    target: &Target,
    bodies: Arc<Vec<(Bytes, u64)>>,
    concurrency: usize,
    deadline: Option<Instant>,
) -> anyhow::Result<Outcome> {
    let next = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..concurrency.max(1) {
        let (target, bodies, next) = (target.clone(), bodies.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            sender(&target, &bodies, &next, deadline).await
        }));
    }
    let mut total = Outcome::default();
    for t in tasks {
        total.merge(t.await.context("sender task")??);
    }
    Ok(total)
}

/// One connection's loop; reconnects after a transport error.
async fn sender(
    target: &Target,
    bodies: &[(Bytes, u64)],
    next: &AtomicUsize,
    deadline: Option<Instant>,
) -> anyhow::Result<Outcome> {
    let mut out = Outcome::default();
    let mut conn = None;
    loop {
        if deadline.is_some_and(|d| Instant::now() >= d) {
            return Ok(out);
        }
        let Some((body, samples)) = bodies.get(next.fetch_add(1, Ordering::Relaxed)) else {
            return Ok(out);
        };
        if conn.is_none() {
            conn = Some(connect(&target.uri).await?);
        }
        let Some(c) = conn.as_mut() else { continue };
        match post(c, target, body.clone()).await {
            Ok((status, text)) => {
                *out.statuses.entry(status).or_default() += 1;
                if (200..300).contains(&status) {
                    out.samples_ok += samples;
                } else if out.first_error.is_none() {
                    out.first_error = Some(format!("HTTP {status}: {text}"));
                }
            }
            Err(e) => {
                *out.statuses.entry(0).or_default() += 1;
                out.first_error.get_or_insert_with(|| format!("{e:#}"));
                conn = None;
            }
        }
    }
}

async fn connect(uri: &Uri) -> anyhow::Result<http1::SendRequest<Full<Bytes>>> {
    let host = uri.host().context("--url has no host")?;
    let port = uri.port_u16().unwrap_or(80);
    let stream = TcpStream::connect((host, port))
        .await
        .with_context(|| format!("connecting to {host}:{port}"))?;
    stream.set_nodelay(true)?;
    let (sender, conn) = http1::handshake(TokioIo::new(stream)).await?;
    // The connection future drives the socket; it ends when the sender is
    // dropped or the server closes.
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(sender)
}

/// Posts one body; returns the status and, for non-2xx, the response text.
async fn post(
    conn: &mut http1::SendRequest<Full<Bytes>>,
    target: &Target,
    body: Bytes,
) -> anyhow::Result<(u16, String)> {
    conn.ready().await?;
    let path = target
        .uri
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_owned();
    let mut req = Request::post(path)
        .header(
            hyper::header::HOST,
            target.uri.authority().map_or("", |a| a.as_str()),
        )
        .header(hyper::header::CONTENT_TYPE, "application/x-protobuf")
        .header(hyper::header::CONTENT_ENCODING, "snappy")
        .header("X-Prometheus-Remote-Write-Version", "0.1.0")
        .header(hyper::header::USER_AGENT, "tessera-bench-write");
    if let Some(t) = &target.tenant {
        req = req.header("X-Scope-OrgID", t);
    }
    let resp = conn.send_request(req.body(Full::new(body))?).await?;
    let status = resp.status().as_u16();
    // Reading the body to its end keeps the connection reusable.
    let bytes = resp.into_body().collect().await?.to_bytes();
    let text = if (200..300).contains(&status) {
        String::new()
    } else {
        String::from_utf8_lossy(&bytes).into_owned()
    };
    Ok((status, text))
}
