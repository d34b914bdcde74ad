//! The web UI's routes and `status/whoami` over real HTTP: embedded
//! assets with their content types and ETags, every module the page
//! imports being served, and whoami describing only the caller.

mod http;

use serde_json::Value;
use tessera::auth::{sha256_hex, AuthConfig, Authenticator};
use tessera::storage::StorageConfig;

/// GETs `path` with extra headers; returns status, headers and body.
async fn get(
    s: &http::Server,
    path: &str,
    headers: &[(&str, &str)],
) -> (u16, reqwest::header::HeaderMap, String) {
    let mut req = s.client.get(s.url(path));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let h = resp.headers().clone();
    (status, h, resp.text().await.unwrap())
}

fn header<'a>(h: &'a reqwest::header::HeaderMap, name: &str) -> &'a str {
    h.get(name).map(|v| v.to_str().unwrap()).unwrap_or("")
}

#[tokio::test(flavor = "multi_thread")]
async fn page_and_assets_have_their_types_and_etags() {
    let dir = tempfile::tempdir().unwrap();
    let srv = http::start(dir.path()).await;
    let (status, h, page) = get(&srv, "/", &[]).await;
    assert_eq!(status, 200);
    assert_eq!(header(&h, "content-type"), "text/html; charset=utf-8");
    assert!(page.contains(r#"<script type="module" src="/ui/js/main.js">"#));
    assert!(header(&h, "content-security-policy").contains("script-src 'self'"));
    assert_eq!(header(&h, "x-frame-options"), "DENY");
    assert_eq!(header(&h, "cache-control"), "no-cache");
    let etag = header(&h, "etag").to_string();
    assert!(etag.starts_with('"') && etag.len() > 2, "{etag}");
    let (status, _, graph) = get(&srv, "/graph", &[]).await;
    assert_eq!((status, graph == page), (200, true));
    let (status, h304, body) = get(&srv, "/", &[("If-None-Match", &etag)]).await;
    assert_eq!((status, body.as_str()), (304, ""));
    assert_eq!(header(&h304, "etag"), etag);

    let cases = [
        ("/ui/style.css", "text/css; charset=utf-8"),
        ("/ui/favicon.svg", "image/svg+xml"),
        ("/ui/js/main.js", "text/javascript; charset=utf-8"),
        ("/ui/js/histogram.js", "text/javascript; charset=utf-8"),
    ];
    for (path, want) in cases {
        let (status, h, body) = get(&srv, path, &[]).await;
        assert_eq!(status, 200, "{path}");
        assert_eq!(header(&h, "content-type"), want, "{path}");
        assert_eq!(header(&h, "x-content-type-options"), "nosniff", "{path}");
        assert!(!body.is_empty(), "{path}");
        assert_ne!(header(&h, "etag"), etag, "{path} shares the page's ETag");
    }
    for path in [
        "/ui/nope.js",
        "/ui/index.html",
        "/ui/../Cargo.toml",
        "/ui/js/",
    ] {
        let (status, _, _) = get(&srv, path, &[]).await;
        assert_eq!(status, 404, "{path}");
    }
    srv.stop().await;
}

/// Every stylesheet, script and module import the page names is served,
/// so a file renamed on disk but not in the page (or the reverse) fails here.
#[tokio::test(flavor = "multi_thread")]
async fn everything_the_page_loads_is_served() {
    let dir = tempfile::tempdir().unwrap();
    let srv = http::start(dir.path()).await;
    let (_, _, page) = get(&srv, "/", &[]).await;
    let mut todo: Vec<String> = ["src=\"", "href=\""]
        .iter()
        .flat_map(|k| {
            page.split(k)
                .skip(1)
                .map(|s| s.split('"').next().unwrap().to_string())
        })
        .filter(|p| p.starts_with("/ui/"))
        .collect();
    assert!(todo.len() >= 3, "{todo:?}");
    let mut seen = Vec::new();
    while let Some(path) = todo.pop() {
        if seen.contains(&path) {
            continue;
        }
        let (status, _, body) = get(&srv, &path, &[]).await;
        assert_eq!(status, 200, "{path}");
        if path.ends_with(".js") {
            for part in body.split("from './").skip(1) {
                let name = part.split('\'').next().unwrap();
                todo.push(format!("/ui/js/{name}"));
            }
        }
        seen.push(path);
    }
    assert!(seen.len() >= 11, "only {seen:?} reached from the page");
    // Native histograms' table cells and quantile lines come from here.
    assert!(seen.iter().any(|p| p == "/ui/js/histogram.js"), "{seen:?}");
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn whoami_in_mode_none_echoes_the_header() {
    let dir = tempfile::tempdir().unwrap();
    let srv = http::start(dir.path()).await;
    let (status, _, body) = get(&srv, "/api/v1/status/whoami", &[]).await;
    assert_eq!(status, 200);
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["data"]["authMode"], "none");
    assert_eq!(v["data"]["tenant"], "anonymous");
    let (_, _, body) = get(&srv, "/api/v1/status/whoami", &[("X-Scope-OrgID", "a|b")]).await;
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["data"]["tenants"], serde_json::json!(["a", "b"]));
    assert_eq!(v["data"]["policy"]["allowedTenants"], "any");
    let (status, _, _) = get(
        &srv,
        "/api/v1/status/whoami",
        &[("X-Scope-OrgID", "bad/..")],
    )
    .await;
    assert_eq!(status, 400);
    srv.stop().await;
}

const CONFIG: &str = r#"
mode: tokens
tokens:
  - {name: alpha, sha256: "SHA_ALPHA", tenant: team-a, policy: member}
  - {name: ops, sha256: "SHA_OPS", tenant: ops, policy: ops}
policies:
  member: {read: true, write: true}
  ops: {read: true, federation: true, allowed_tenants: [team-a, team-b]}
"#;

async fn tokens_server(dir: &std::path::Path) -> http::Server {
    let yaml = CONFIG
        .replace("SHA_ALPHA", &sha256_hex(b"alpha-secret"))
        .replace("SHA_OPS", &sha256_hex(b"ops-secret"));
    let cfg: AuthConfig = serde_yaml::from_str(&yaml).unwrap();
    let auth = Authenticator::new(&cfg, dir).unwrap();
    let mut scfg = StorageConfig::new(dir.join("data"));
    scfg.maintenance_interval = None;
    http::start_with(scfg, tessera::api::AppState::new().with_authenticator(auth)).await
}

#[tokio::test(flavor = "multi_thread")]
async fn whoami_under_tokens_is_the_credential_and_401s_without_one() {
    let dir = tempfile::tempdir().unwrap();
    let srv = tokens_server(dir.path()).await;
    // The page itself needs no credential; whoami does.
    assert_eq!(get(&srv, "/", &[]).await.0, 200);
    let (status, h, body) = get(&srv, "/api/v1/status/whoami", &[]).await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(header(&h, "www-authenticate"), r#"Bearer realm="tessera""#);
    assert!(body.contains("missing Authorization header"), "{body}");
    let bad = [("Authorization", "Bearer wrong")];
    assert_eq!(get(&srv, "/api/v1/status/whoami", &bad).await.0, 401);

    let alpha = ("Authorization", "Bearer alpha-secret");
    let (status, _, body) = get(&srv, "/api/v1/status/whoami", &[alpha]).await;
    assert_eq!(status, 200, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    let d = &v["data"];
    assert_eq!(d["authMode"], "tokens");
    assert_eq!(d["tenant"], "team-a");
    assert_eq!(d["tenants"], serde_json::json!(["team-a"]));
    assert_eq!(d["credential"], "token:alpha");
    assert_eq!(d["policy"]["federation"], false);
    assert_eq!(d["policy"]["allowedTenants"], serde_json::json!([]));
    assert!(!body.contains("ops"), "another credential leaked: {body}");
    // A credential cannot claim another tenant through the header.
    let (status, _, _) = get(
        &srv,
        "/api/v1/status/whoami",
        &[alpha, ("X-Scope-OrgID", "team-b")],
    )
    .await;
    assert_eq!(status, 403);

    let ops = ("Authorization", "Bearer ops-secret");
    let fed = [ops, ("X-Scope-OrgID", "team-a|team-b")];
    let (status, _, body) = get(&srv, "/api/v1/status/whoami", &fed).await;
    assert_eq!(status, 200, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["data"]["tenant"], "ops");
    assert_eq!(
        v["data"]["tenants"],
        serde_json::json!(["team-a", "team-b"])
    );
    assert_eq!(
        v["data"]["policy"]["allowedTenants"],
        serde_json::json!(["team-a", "team-b"])
    );
    srv.stop().await;
}
