//! Serving connections with bounds that a server shared by untrusted
//! tenants needs and `axum::serve` does not offer: a cap on open
//! connections, a deadline for request headers (which also closes idle
//! keep-alive connections), a deadline for the whole request body, a cap on
//! header bytes, and a panic in a handler answered as a 500 for that request
//! alone.
//!
//! The defaults follow what Go's `net/http` servers (Prometheus) and hyper
//! ship, tightened where they are unbounded.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use axum::Router;
use hyper::body::{Body as HttpBody, Frame, SizeHint};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower::ServiceExt;

/// Connection and request bounds (`web.*` settings).
#[derive(Debug, Clone, PartialEq)]
pub struct ConnLimits {
    /// Most connections open at once; further clients wait in the kernel's
    /// accept queue until one closes (`--web.max-connections`).
    pub max_connections: usize,
    /// Time a client has to send a request's headers, counted from when the
    /// server starts waiting for them; an idle keep-alive connection is
    /// closed after the same time (`--web.header-read-timeout`).
    pub header_read_timeout: Duration,
    /// Time a client has to send a whole request body, counted from when
    /// the headers arrived (`--web.read-timeout`, as Prometheus's).
    pub read_timeout: Duration,
    /// Most bytes of request line and headers (`--web.max-header-bytes`).
    pub max_header_bytes: usize,
    /// Slowest a request body may arrive once [`BODY_RATE_GRACE`] has
    /// passed, bytes per second; 0 turns the check off
    /// (`--web.min-body-rate`, as Kestrel's `MinRequestBodyDataRate`).
    pub min_body_rate: u64,
    /// Most request body bytes held by all requests together, from the
    /// first byte read until the request is done with its body; a request
    /// whose body would exceed it is answered 503 and may retry
    /// (`--web.max-inflight-body-bytes`). Kept by [`BodyBudget`].
    pub max_inflight_body_bytes: u64,
}

/// How long a body may arrive slower than `min_body_rate` before the
/// rate is enforced.
pub const BODY_RATE_GRACE: Duration = Duration::from_secs(5);

impl Default for ConnLimits {
    fn default() -> ConnLimits {
        ConnLimits {
            max_connections: 4096,
            header_read_timeout: Duration::from_secs(30),
            read_timeout: Duration::from_secs(5 * 60),
            max_header_bytes: 64 << 10,
            min_body_rate: 240,
            max_inflight_body_bytes: 1 << 30,
        }
    }
}

/// Serves `router` on `listener` until `shutdown` resolves, then stops
/// accepting (dropping the listener, so new connections are refused) and
/// waits for the open connections to finish their in-flight requests.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ConnLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let builder = Arc::new(builder(&limits));
    let body = BodyRules {
        read_timeout: limits.read_timeout,
        min_rate: limits.min_body_rate,
    };
    tokio::pin!(shutdown);
    loop {
        let slot = tokio::select! {
            _ = &mut shutdown => break,
            slot = slots.clone().acquire_owned() => match slot {
                Ok(s) => s,
                Err(_) => break,
            },
        };
        let (stream, _peer) = tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors and the like: back off instead
                    // of spinning, as Go's http.Server does.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let service = hyper::service::service_fn({
            let router = router.clone();
            let body = body.clone();
            move |req: hyper::Request<hyper::body::Incoming>| {
                let router = router.clone();
                let body = body.clone();
                async move { Ok::<_, Infallible>(handle(router, req, body).await) }
            }
        });
        let conn = builder.serve_connection(TokioIo::new(stream), service);
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            let _slot = slot;
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "connection ended with an error");
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

/// HTTP/1.1 only. Remote-write senders, Grafana and browsers speak it over
/// plain TCP; HTTP/2 without TLS (prior knowledge) would need a version
/// sniffing phase that reads the first bytes with no deadline of its own,
/// so an idle connection could sit there forever.
fn builder(limits: &ConnLimits) -> hyper::server::conn::http1::Builder {
    let mut b = hyper::server::conn::http1::Builder::new();
    b.timer(TokioTimer::new())
        // A client that closes its side has gone away (as Go's net/http
        // sees it): its in-flight request is dropped, which cancels a
        // running query through its guard.
        .half_close(false)
        .header_read_timeout(limits.header_read_timeout)
        .max_header_size(limits.max_header_bytes)
        .max_headers(200);
    b
}

/// Runs one request through the router: its body is held to
/// [`BodyRules`], and a panic in the handler is answered with a 500 (and
/// logged) instead of taking the connection, or anything else, down.
async fn handle(
    router: Router,
    req: hyper::Request<hyper::body::Incoming>,
    body: BodyRules,
) -> Response {
    let req = req.map(|b| Body::new(GuardedBody::new(b, body)));
    let fut = std::panic::AssertUnwindSafe(router.oneshot(req));
    match futures_catch_unwind(fut).await {
        Ok(Ok(resp)) => resp,
        Ok(Err(never)) => match never {},
        Err(()) => super::ApiError::Internal("internal error: the request handler panicked".into())
            .into_response(),
    }
}

/// Polls `fut`, turning a panic into `Err` (logged and counted).
async fn futures_catch_unwind<F: Future>(fut: std::panic::AssertUnwindSafe<F>) -> Result<F::Output, ()> {
    CatchUnwind { fut: Box::pin(fut.0) }.await
}

struct CatchUnwind<F: Future> {
    fut: Pin<Box<F>>,
}

impl<F: Future> Future for CatchUnwind<F> {
    type Output = Result<F::Output, ()>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let fut = self.fut.as_mut();
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| fut.poll(cx))) {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(v)) => Poll::Ready(Ok(v)),
            Err(payload) => {
                crate::panics::record("handler", payload.as_ref());
                Poll::Ready(Err(()))
            }
        }
    }
}



/// What every request body is held to: a deadline and a minimum rate.
#[derive(Debug, Clone, Copy)]
struct BodyRules {
    read_timeout: Duration,
    min_rate: u64,
}

/// A request body that fails when it arrives too late or too slowly, so a
/// client that trickles a body cannot hold a handler and its memory.
struct GuardedBody {
    inner: hyper::body::Incoming,
    rules: BodyRules,
    started: tokio::time::Instant,
    received: u64,
    /// The earlier of the read deadline and the time the body falls below
    /// the minimum rate if nothing more arrives.
    wake: Pin<Box<tokio::time::Sleep>>,
}

impl GuardedBody {
    fn new(inner: hyper::body::Incoming, rules: BodyRules) -> GuardedBody {
        let started = tokio::time::Instant::now();
        let mut b = GuardedBody {
            inner,
            rules,
            started,
            received: 0,
            wake: Box::pin(tokio::time::sleep_until(started)),
        };
        let next = b.next_check();
        b.wake.as_mut().reset(next);
        b
    }

    /// When the body fails if no more bytes arrive.
    fn next_check(&self) -> tokio::time::Instant {
        let deadline = self.started + self.rules.read_timeout;
        if self.rules.min_rate == 0 {
            return deadline;
        }
        let secs = (self.received as f64 / self.rules.min_rate as f64).min(1e9);
        deadline.min(self.started + BODY_RATE_GRACE + Duration::from_secs_f64(secs))
    }
}

/// Why a request body was cut off.
#[derive(Debug, thiserror::Error)]
pub(crate) enum BodyError {
    /// The body did not arrive within `web.read-timeout`.
    #[error("request body not received within {0:?} (web.read-timeout)")]
    Timeout(Duration),
    /// The body arrived slower than `web.min-body-rate`.
    #[error("request body arrived slower than {0} bytes per second (web.min-body-rate)")]
    TooSlow(u64),
}

impl HttpBody for GuardedBody {
    type Data = bytes::Bytes;
    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        if let Poll::Ready(frame) = Pin::new(&mut self.inner).poll_frame(cx) {
            if let Some(Ok(f)) = &frame {
                if let Some(data) = f.data_ref() {
                    self.received = self.received.saturating_add(data.len() as u64);
                    let next = self.next_check();
                    self.wake.as_mut().reset(next);
                }
            }
            return Poll::Ready(frame.map(|f| f.map_err(Into::into)));
        }
        if self.wake.as_mut().poll(cx).is_ready() {
            let e = if self.started.elapsed() >= self.rules.read_timeout {
                BodyError::Timeout(self.rules.read_timeout)
            } else {
                BodyError::TooSlow(self.rules.min_rate)
            };
            return Poll::Ready(Some(Err(Box::new(e))));
        }
        Poll::Pending
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// The server-wide budget of request body bytes (`web.max-inflight-body-bytes`),
/// counted in KiB. Cheap to clone.
#[derive(Debug, Clone)]
pub struct BodyBudget {
    kib: Arc<Semaphore>,
    bytes: u64,
}

impl Default for BodyBudget {
    fn default() -> BodyBudget {
        BodyBudget::new(ConnLimits::default().max_inflight_body_bytes)
    }
}

impl BodyBudget {
    /// A budget of `bytes` (at least 1 KiB).
    pub fn new(bytes: u64) -> BodyBudget {
        let kib = (bytes / 1024).clamp(1, u64::from(u32::MAX >> 3));
        BodyBudget {
            kib: Arc::new(Semaphore::new(kib as usize)),
            bytes,
        }
    }
}

/// A whole request body and its share of the [`BodyBudget`], which is
/// given back when this is dropped: a handler keeps it until it is done
/// with the bytes (decoding and storing included).
#[derive(Debug)]
pub(crate) struct HeldBody {
    pub bytes: bytes::Bytes,
    _share: Option<tokio::sync::OwnedSemaphorePermit>,
}

impl std::ops::Deref for HeldBody {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.bytes
    }
}

/// Reads a whole request body within `limit` bytes, taking its bytes from
/// `budget` as they arrive. Failures carry the status that fits: 413 too
/// large, 408 too slow, 503 when the server-wide budget is spent (the
/// client may retry), 400 otherwise.
pub(crate) async fn read_body(
    body: Body,
    limit: usize,
    budget: &BodyBudget,
) -> Result<HeldBody, super::ApiError> {
    use super::ApiError;
    use http_body_util::BodyExt;
    let mut body = body;
    // A declared length past the limit is refused before anything is read.
    if let Some(declared) = hyper::body::Body::size_hint(&body).exact() {
        if declared > limit as u64 {
            return Err(ApiError::PayloadTooLarge(format!(
                "request body too large: {declared} bytes declared, the limit is {limit} bytes"
            )));
        }
    }
    let mut buf = bytes::BytesMut::new();
    let mut share: Option<tokio::sync::OwnedSemaphorePermit> = None;
    let mut held_kib: u32 = 0;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| body_error(&e))?;
        let Ok(data) = frame.into_data() else { continue };
        if buf.len().saturating_add(data.len()) > limit {
            return Err(ApiError::PayloadTooLarge(format!(
                "request body too large: more than {limit} bytes"
            )));
        }
        let want = u32::try_from((buf.len() + data.len()).div_ceil(1024)).unwrap_or(u32::MAX);
        if want > held_kib {
            let more = budget
                .kib
                .clone()
                .try_acquire_many_owned(want - held_kib)
                .map_err(|_| {
                    ApiError::Unavailable(format!(
                        "the server is holding more than {} bytes of request bodies at once (web.max-inflight-body-bytes); retry later",
                        budget.bytes
                    ))
                })?;
            match &mut share {
                Some(s) => s.merge(more),
                None => share = Some(more),
            }
            held_kib = want;
        }
        buf.extend_from_slice(&data);
    }
    Ok(HeldBody {
        bytes: buf.freeze(),
        _share: share,
    })
}

/// The API error for a body that failed while being read.
fn body_error(e: &axum::Error) -> super::ApiError {
    use super::ApiError;
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if let Some(b) = err.downcast_ref::<BodyError>() {
            return ApiError::RequestTimeout(b.to_string());
        }
        cur = err.source();
    }
    ApiError::BadData(format!("reading body: {e}"))
}

impl axum::extract::FromRequest<super::AppState> for HeldBody {
    type Rejection = super::ApiError;

    /// The whole body within [`super::MAX_REQUEST_BODY`] and the state's
    /// [`BodyBudget`].
    async fn from_request(
        req: axum::extract::Request,
        state: &super::AppState,
    ) -> Result<Self, Self::Rejection> {
        read_body(req.into_body(), super::MAX_REQUEST_BODY, state.body_budget()).await
    }
}
