//! The built-in web UI: a static page at `/` (and `/graph`, as in
//! Prometheus) with its scripts and styles under `/ui/`.
//!
//! The assets live in `web/` and are embedded at compile time, so the
//! binary needs nothing on disk. The page holds no data: everything it
//! shows comes from the tenant-scoped query APIs, called by the browser
//! with the user's own `X-Scope-OrgID` or bearer token. These routes
//! therefore take no caller and answer the same bytes to everyone.
//!
//! Caching: every asset carries a strong `ETag` (a hash of its bytes) and
//! `Cache-Control: no-cache`, so browsers revalidate and get `304` until a
//! new binary changes the bytes.

use std::sync::OnceLock;

use axum::extract::Path;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use super::AppState;

/// One embedded file.
struct Asset {
    /// The name under `/ui/` (the page itself is `index.html`).
    name: &'static str,
    content_type: &'static str,
    bytes: &'static [u8],
}

macro_rules! asset {
    ($name:literal, $type:expr) => {
        Asset {
            name: $name,
            content_type: $type,
            bytes: include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/web/", $name)),
        }
    };
}

/// The MIME type of the ES modules (HTML's preferred one).
const JS: &str = "text/javascript; charset=utf-8";

/// Every file in `web/`; a test checks that none is missing.
static ASSETS: &[Asset] = &[
    asset!("index.html", "text/html; charset=utf-8"),
    asset!("style.css", "text/css; charset=utf-8"),
    asset!("favicon.svg", "image/svg+xml"),
    asset!("js/main.js", JS),
    asset!("js/api.js", JS),
    asset!("js/auth.js", JS),
    asset!("js/complete.js", JS),
    asset!("js/chart.js", JS),
    asset!("js/table.js", JS),
    asset!("js/histogram.js", JS),
    asset!("js/explorer.js", JS),
    asset!("js/promql.js", JS),
    asset!("js/time.js", JS),
];

/// What the page may load and where it may connect: only this origin, no
/// inline script, and no framing (the page asks for tokens).
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
    img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; \
    frame-ancestors 'none'; form-action 'none'";

/// The UI routes: the page at `/` and `/graph`, assets at `/ui/{path}`.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(page))
        .route("/graph", get(page))
        .route("/ui/{*path}", get(asset))
}

async fn page(headers: HeaderMap) -> Response {
    serve("index.html", &headers)
}

async fn asset(Path(path): Path<String>, headers: HeaderMap) -> Response {
    if path == "index.html" {
        // One address for the page keeps relative links unambiguous.
        return (StatusCode::NOT_FOUND, "not found\n").into_response();
    }
    serve(&path, &headers)
}

/// Answers one asset, or `304` when the client's `If-None-Match` already
/// names its ETag, or `404` for a name not embedded.
fn serve(name: &str, headers: &HeaderMap) -> Response {
    let Some((i, a)) = ASSETS.iter().enumerate().find(|(_, a)| a.name == name) else {
        return (StatusCode::NOT_FOUND, "not found\n").into_response();
    };
    let etag = &etags()[i];
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    let status = if fresh {
        StatusCode::NOT_MODIFIED
    } else {
        StatusCode::OK
    };
    let mut resp = if fresh {
        status.into_response()
    } else {
        (status, a.bytes).into_response()
    };
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(a.content_type),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    if let Ok(v) = HeaderValue::from_str(etag) {
        h.insert(header::ETAG, v);
    }
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    if a.name == "index.html" {
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CSP),
        );
        h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    }
    resp
}

/// The ETag of each asset, in [`ASSETS`] order: a quoted prefix of the
/// SHA-256 of its bytes, computed once.
fn etags() -> &'static [String] {
    static ETAGS: OnceLock<Vec<String>> = OnceLock::new();
    ETAGS.get_or_init(|| {
        ASSETS
            .iter()
            .map(|a| format!("\"{}\"", &crate::auth::sha256_hex(a.bytes)[..20]))
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every file under `web/` must be embedded, or the page would 404 on
    /// it in a release build.
    #[test]
    fn every_web_file_is_embedded() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("web");
        let mut found = Vec::new();
        let mut stack = vec![root.clone()];
        while let Some(dir) = stack.pop() {
            for e in std::fs::read_dir(&dir).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    stack.push(p);
                } else {
                    let rel = p.strip_prefix(&root).unwrap().to_string_lossy();
                    found.push(rel.replace('\\', "/"));
                }
            }
        }
        found.sort();
        let mut embedded: Vec<String> = ASSETS.iter().map(|a| a.name.to_string()).collect();
        embedded.sort();
        assert_eq!(found, embedded);
    }

    #[test]
    fn etags_differ_per_asset_and_are_quoted() {
        let tags = etags();
        assert_eq!(tags.len(), ASSETS.len());
        for t in tags {
            assert!(
                t.starts_with('"') && t.ends_with('"') && t.len() == 22,
                "{t}"
            );
        }
        let mut uniq = tags.to_vec();
        uniq.sort();
        uniq.dedup();
        assert_eq!(uniq.len(), tags.len());
    }

    #[test]
    fn revalidation_with_the_current_etag_is_304() {
        let mut h = HeaderMap::new();
        h.insert(header::IF_NONE_MATCH, etags()[1].parse().unwrap());
        assert_eq!(serve("style.css", &h).status(), StatusCode::NOT_MODIFIED);
        h.insert(header::IF_NONE_MATCH, "\"stale\"".parse().unwrap());
        assert_eq!(serve("style.css", &h).status(), StatusCode::OK);
        assert_eq!(serve("nope.js", &h).status(), StatusCode::NOT_FOUND);
    }
}
