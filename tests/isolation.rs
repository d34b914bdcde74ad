//! The isolation attack suite. Tenants `acme` and `globex` write identical
//! series; inside `acme`, series of organisations other than `org1` and
//! series with `metric_purpose="internal"` are hidden from the customer
//! token by its policy. Every API and PromQL construct that could reach
//! hidden data is tried with acme's customer token; not one byte of hidden
//! data (its marker values and label values) may come back.

mod http;
mod read_frames;

use serde_json::Value;
use tessera::auth::{sha256_hex, AuthConfig, Authenticator};
use tessera::model::{Exemplar, LabelRef, Labels, Sample};
use tessera::storage::{ExemplarInput, SeriesInput, StorageConfig};
use tessera::tenant::TenantId;

const T0: i64 = 1_700_000_000_000;
const MIN: i64 = 60_000;

/// Marker values and label values that only hidden series carry.
const HIDDEN: &[&str] = &["777777", "555555", "333333", "org2", "internal", "globex"];

const CONFIG: &str = r#"
mode: tokens
tokens:
  - {name: customer, sha256: "SHA_CUSTOMER", tenant: acme, policy: customer}
  - {name: writer, sha256: "SHA_WRITER", tenant: acme, policy: writer}
  - {name: other, sha256: "SHA_OTHER", tenant: globex, policy: reader}
  - {name: ops, sha256: "SHA_OPS", tenant: acme, policy: ops}
policies:
  customer:
    read: true
    forced_matchers: ['{metric_purpose="external"}']
    restricted_labels: {organisation_id: [org1]}
    limits: {max_concurrent_queries: 4}
  writer: {write: true}
  reader: {read: true}
  ops: {read: true, admin: true, federation: true, allowed_tenants: [globex]}
admin_policy: ops
"#;

fn append(server: &http::Server, tenant: &str, pairs: &[(&str, &str)], v: f64) {
    let labels = Labels::from_pairs(pairs.iter().copied());
    let refs: Vec<LabelRef> = labels.refs();
    // Recent samples, so /federate (now - 5m) sees them too.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let mut samples: Vec<Sample> = (0..=10).map(|i| Sample::new(T0 + i * MIN, v)).collect();
    samples.push(Sample::new(now - 30_000, v));
    let t = TenantId::new(tenant).unwrap();
    server
        .storage()
        .append(
            &t,
            &[SeriesInput {
                labels: &refs,
                samples: &samples,
                histograms: &[],
            }],
        )
        .unwrap();
    // An exemplar carrying the series' marker value, as label and value.
    let trace = format!("trace-{v}");
    let ex = Exemplar::from_refs(&[LabelRef::new("trace_id", &trace)], v, T0).unwrap();
    let out = server
        .storage()
        .append_exemplars(
            &t,
            &[ExemplarInput {
                labels: &refs,
                exemplars: std::slice::from_ref(&ex),
            }],
        )
        .unwrap();
    assert_eq!(out.stored, 1, "{out:?}");
}

async fn fixture() -> (tempfile::TempDir, http::Server) {
    let dir = tempfile::tempdir().unwrap();
    let yaml = CONFIG
        .replace("SHA_CUSTOMER", &sha256_hex(b"customer-secret"))
        .replace("SHA_WRITER", &sha256_hex(b"writer-secret"))
        .replace("SHA_OTHER", &sha256_hex(b"other-secret"))
        .replace("SHA_OPS", &sha256_hex(b"ops-secret"));
    let cfg: AuthConfig = serde_yaml::from_str(&yaml).unwrap();
    let auth = Authenticator::new(&cfg, dir.path()).unwrap();
    let mut scfg = StorageConfig::new(dir.path().join("data"));
    scfg.maintenance_interval = None;
    scfg.tenant_defaults.max_exemplars = 100;
    let server =
        http::start_with(scfg, tessera::api::AppState::new().with_authenticator(auth)).await;
    let ext = ("metric_purpose", "external");
    append(
        &server,
        "acme",
        &[
            ("__name__", "req_total"),
            ("organisation_id", "org1"),
            ext,
            ("job", "api"),
        ],
        1.0,
    );
    append(
        &server,
        "acme",
        &[
            ("__name__", "req_total"),
            ("organisation_id", "org2"),
            ext,
            ("job", "api"),
        ],
        555555.0,
    );
    append(
        &server,
        "acme",
        &[
            ("__name__", "req_total"),
            ("organisation_id", "org1"),
            ("metric_purpose", "internal"),
            ("job", "api"),
        ],
        333333.0,
    );
    append(
        &server,
        "acme",
        &[
            ("__name__", "internal_cost"),
            ("organisation_id", "org1"),
            ("metric_purpose", "internal"),
        ],
        333333.0,
    );
    // globex: the same series as acme's visible one.
    append(
        &server,
        "globex",
        &[
            ("__name__", "req_total"),
            ("organisation_id", "org1"),
            ext,
            ("job", "api"),
        ],
        777777.0,
    );
    (dir, server)
}

fn q(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

async fn get(s: &http::Server, token: &str, path: &str) -> (u16, String) {
    let r = s
        .client
        .get(s.url(path))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

/// No hidden marker in `body`, except markers the caller itself sent in
/// `what` (error messages and relabelling echo the caller's own input).
fn assert_clean(what: &str, body: &str) {
    for h in HIDDEN {
        if what.contains(h) {
            continue;
        }
        assert!(
            !body.contains(h),
            "{what}: hidden data {h:?} leaked: {body}"
        );
    }
}

/// Runs each query as the customer (instant and range) and checks the
/// answer is a success without hidden bytes, or a 4xx refusal.
async fn attack(queries: &[&str]) {
    let (_d, s) = fixture().await;
    let t = (T0 + 10 * MIN) / 1000;
    for query in queries {
        for path in [
            format!("/api/v1/query?query={}&time={t}", q(query)),
            format!(
                "/api/v1/query_range?query={}&start={}&end={t}&step=60",
                q(query),
                T0 / 1000
            ),
        ] {
            let (code, body) = get(&s, "customer-secret", &path).await;
            assert!(
                code == 200 || (400..500).contains(&code),
                "{query}: {code} {body}"
            );
            assert_clean(query, &body);
        }
    }
    s.stop().await;
}

#[tokio::test]
async fn regex_over_all_metric_names() {
    attack(&[
        r#"{__name__=~".+"}"#,
        r#"count({__name__=~".*", job=~".*"})"#,
        r#"{__name__!=""}"#,
    ])
    .await;
}

#[tokio::test]
async fn or_unless_and_on_joins() {
    attack(&[
        r#"req_total or on() vector(1)"#,
        r#"vector(1) or on() req_total"#,
        r#"req_total unless on() absent(nothing)"#,
        r#"req_total * on() group_left() vector(2)"#,
        r#"sum(req_total) or {__name__=~"req.*"}"#,
        r#"req_total and on(job) {__name__="internal_cost"}"#,
    ])
    .await;
}

#[tokio::test]
async fn label_replace_cannot_forge_tenant_or_restricted_label() {
    attack(&[
        r#"label_replace(req_total, "__tenant_id__", "globex", "", "")"#,
        r#"sum by (__tenant_id__) (label_replace(req_total, "__tenant_id__", "globex", "", ""))"#,
        r#"label_replace(req_total, "job", "x", "organisation_id", "org1") * 0 + on(job) group_left req_total"#,
    ])
    .await;
    // Relabelling the restricted label only renames the caller's own data:
    // the values stay those of org1.
    let (_d, s) = fixture().await;
    let path = format!(
        "/api/v1/query?query={}&time={}",
        q(r#"label_replace(req_total, "organisation_id", "org9", "", "")"#),
        (T0 + 10 * MIN) / 1000
    );
    let (code, body) = get(&s, "customer-secret", &path).await;
    assert_eq!(code, 200);
    assert!(body.contains("org9") && body.contains("\"1\""), "{body}");
    for h in ["777777", "555555", "333333"] {
        assert!(!body.contains(h), "{body}");
    }
    s.stop().await;
}

#[tokio::test]
async fn subqueries_at_and_offset() {
    attack(&[
        r#"max_over_time(req_total[1h:1m])"#,
        r#"max_over_time({__name__=~".+"}[2h:30s] @ end())"#,
        r#"req_total offset -5m"#,
        r#"req_total @ 1700000600"#,
        r#"last_over_time(req_total[10m] offset 1m)"#,
    ])
    .await;
}

#[tokio::test]
async fn restricted_label_regex_tricks_are_refused() {
    let (_d, s) = fixture().await;
    for m in [
        r#"organisation_id=~".*""#,
        r#"organisation_id=~"org1|.*""#,
        r#"organisation_id=~"(?i)ORG1""#,
        r#"organisation_id!="""#,
        r#"organisation_id=~"org1|org2""#,
        r#"organisation_id="org2""#,
        r#"organisation_id!~"org1""#,
    ] {
        let path = format!("/api/v1/query?query={}", q(&format!("req_total{{{m}}}")));
        let (code, body) = get(&s, "customer-secret", &path).await;
        assert_eq!(code, 403, "{m}: {body}");
        assert!(body.contains("restricted label"), "{m}: {body}");
        assert_clean(m, &body);
    }
    // The allowed value works, and no matcher means the allowed set.
    let (code, body) = get(
        &s,
        "customer-secret",
        &format!(
            "/api/v1/query?query={}&time={}",
            q(r#"count(req_total)"#),
            (T0 + 10 * MIN) / 1000
        ),
    )
    .await;
    assert_eq!(code, 200);
    assert!(body.contains("\"1\"]"), "{body}");
    s.stop().await;
}

#[tokio::test]
async fn repeated_parameters_and_url_plus_body() {
    let (_d, s) = fixture().await;
    let t = (T0 + 10 * MIN) / 1000;
    let hidden = q(r#"req_total{organisation_id="org2"}"#);
    // Two `query` parameters: the first counts, like Go's FormValue.
    let (code, body) = get(
        &s,
        "customer-secret",
        &format!("/api/v1/query?query=req_total&query={hidden}&time={t}"),
    )
    .await;
    assert_eq!(code, 200);
    assert_clean("repeated", &body);
    let (code, body) = get(
        &s,
        "customer-secret",
        &format!("/api/v1/query?query={hidden}&query=req_total&time={t}"),
    )
    .await;
    assert_eq!(code, 403, "{body}");
    // A query in both the URL and the form body.
    let r = s
        .client
        .post(s.url(&format!("/api/v1/query?query={hidden}&time={t}")))
        .bearer_auth("customer-secret")
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body("query=req_total")
        .send()
        .await
        .unwrap();
    let body = r.text().await.unwrap();
    assert_clean("url+body", &body);
    s.stop().await;
}

#[tokio::test]
async fn match_params_on_series_labels_and_federate() {
    let (_d, s) = fixture().await;
    for path in [
        format!("/api/v1/series?match[]={}", q(r#"{__name__=~".+"}"#)),
        format!(
            "/api/v1/series?match[]={}&match[]={}",
            q("req_total"),
            q("internal_cost")
        ),
        "/api/v1/labels".to_string(),
        format!("/api/v1/labels?match[]={}", q(r#"{__name__=~".+"}"#)),
        "/api/v1/label/organisation_id/values".to_string(),
        "/api/v1/label/metric_purpose/values".to_string(),
        "/api/v1/label/__name__/values".to_string(),
        format!("/federate?match[]={}", q(r#"{__name__=~".+"}"#)),
        format!("/federate?match[]={}", q("req_total")),
    ] {
        let (code, body) = get(&s, "customer-secret", &path).await;
        assert_eq!(code, 200, "{path}: {body}");
        assert_clean(&path, &body);
    }
    let (_, body) = get(
        &s,
        "customer-secret",
        "/api/v1/label/organisation_id/values",
    )
    .await;
    assert!(body.contains("org1"), "{body}");
    let (_, fed) = get(
        &s,
        "customer-secret",
        &format!("/federate?match[]={}", q("req_total")),
    )
    .await;
    assert!(fed.contains("req_total{") && fed.contains(" 1 "), "{fed}");
    for path in [
        format!(
            "/api/v1/series?match[]={}",
            q(r#"req_total{organisation_id="org2"}"#)
        ),
        format!(
            "/federate?match[]={}",
            q(r#"req_total{organisation_id=~".+"}"#)
        ),
    ] {
        let (code, body) = get(&s, "customer-secret", &path).await;
        assert_eq!(code, 403, "{path}: {body}");
        assert_clean(&path, &body);
    }
    s.stop().await;
}

/// `/federate` in the delimited protobuf format is bound by the same
/// policy as the text format: no hidden label or series in its bytes, and
/// widening a restricted label is the same 403.
#[tokio::test]
async fn federate_in_protobuf_is_policy_bound() {
    let (_d, s) = fixture().await;
    let proto =
        "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited";
    let cases = [
        (
            format!("/federate?match[]={}", q(r#"{__name__=~".+"}"#)),
            200,
        ),
        (format!("/federate?match[]={}", q("req_total")), 200),
        (
            format!(
                "/federate?match[]={}",
                q(r#"req_total{organisation_id=~".+"}"#)
            ),
            403,
        ),
    ];
    for (path, want) in cases {
        let r = s
            .client
            .get(s.url(&path))
            .bearer_auth("customer-secret")
            .header("Accept", proto)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), want, "{path}");
        let ok = r.status() == 200;
        if ok {
            assert!(r.headers()["content-type"]
                .to_str()
                .unwrap()
                .contains("encoding=delimited"));
        }
        let body = String::from_utf8_lossy(&r.bytes().await.unwrap()).into_owned();
        assert_clean(&path, &body);
        if ok {
            assert!(
                body.contains("req_total") && body.contains("org1"),
                "{path}: {body:?}"
            );
        }
    }
    s.stop().await;
}

/// A remote-read request for `matchers` (name, op, value) over the
/// fixture's range, in the sampled form; returns the status and, on 200,
/// every series as `labels => values`.
async fn remote_read(
    s: &http::Server,
    token: &str,
    matchers: &[(&str, i32, &str)],
    streamed: bool,
) -> (u16, Vec<(Vec<(String, String)>, Vec<f64>)>, String) {
    use prost::Message;
    use tessera::ingest::proto::read;
    let req = read::ReadRequest {
        queries: vec![read::Query {
            start_timestamp_ms: T0,
            end_timestamp_ms: i64::MAX / 2,
            matchers: matchers
                .iter()
                .map(|(n, t, v)| read::LabelMatcher {
                    r#type: *t,
                    name: n.to_string(),
                    value: v.to_string(),
                })
                .collect(),
            hints: None,
        }],
        accepted_response_types: vec![i32::from(streamed)],
    };
    let r = s
        .client
        .post(s.url("/api/v1/read"))
        .bearer_auth(token)
        .body(tessera::ingest::proto::encode_snappy(&req))
        .send()
        .await
        .unwrap();
    let code = r.status().as_u16();
    let body = r.bytes().await.unwrap();
    if code != 200 {
        return (
            code,
            Vec::new(),
            String::from_utf8_lossy(&body).into_owned(),
        );
    }
    let pairs = |l: &[read::Label]| {
        l.iter()
            .map(|l| (l.name.clone(), l.value.clone()))
            .collect::<Vec<_>>()
    };
    let mut out = Vec::new();
    if streamed {
        for frame in read_frames::frames(&body) {
            for cs in frame.chunked_series {
                let mut values = Vec::new();
                for c in &cs.chunks {
                    let samples = tessera::storage::chunk::decode_prom_xor(&c.data).unwrap();
                    values.extend(samples.iter().map(|s| s.v));
                }
                out.push((pairs(&cs.labels), values));
            }
        }
    } else {
        let raw = snap::raw::Decoder::new().decompress_vec(&body).unwrap();
        let resp = read::ReadResponse::decode(raw.as_slice()).unwrap();
        for ts in &resp.results[0].timeseries {
            out.push((
                pairs(&ts.labels),
                ts.samples.iter().map(|s| s.value).collect(),
            ));
        }
    }
    let dump = format!("{out:?}");
    (code, out, dump)
}

#[tokio::test]
async fn remote_read_is_scoped_to_the_tenant_and_filtered_by_the_policy() {
    let (_d, s) = fixture().await;
    const EQ: i32 = 0;
    const RE: i32 = 2;
    const NRE: i32 = 3;
    for streamed in [false, true] {
        // Everything the customer may see: acme's one external org1 series.
        for m in [
            vec![("__name__", RE, ".+")],
            vec![("__name__", EQ, "req_total")],
            vec![("__name__", EQ, "internal_cost")],
            vec![("job", EQ, "api"), ("metric_purpose", NRE, "external")],
        ] {
            let (code, series, dump) = remote_read(&s, "customer-secret", &m, streamed).await;
            assert_eq!(code, 200, "{m:?}: {dump}");
            assert_clean(&format!("{m:?}"), &dump);
            for (labels, values) in &series {
                assert!(
                    labels.contains(&("organisation_id".into(), "org1".into())),
                    "{dump}"
                );
                assert!(values.iter().all(|v| *v == 1.0), "{dump}");
            }
            if m[0].2 != "internal_cost" && m.len() == 1 {
                assert_eq!(series.len(), 1, "{m:?}: {dump}");
                assert_eq!(series[0].1.len(), 12, "{dump}");
            }
        }
        // Widening the restricted label is refused, as in a query.
        for m in [
            vec![
                ("__name__", EQ, "req_total"),
                ("organisation_id", RE, "org.*"),
            ],
            vec![
                ("__name__", EQ, "req_total"),
                ("organisation_id", EQ, "org2"),
            ],
        ] {
            let (code, _, body) = remote_read(&s, "customer-secret", &m, streamed).await;
            assert_eq!(code, 403, "{m:?}: {body}");
            assert_clean(&format!("{m:?}"), &body);
        }
        // globex's token reads globex's identical series, never acme's.
        let (code, series, dump) = remote_read(
            &s,
            "other-secret",
            &[("__name__", EQ, "req_total")],
            streamed,
        )
        .await;
        assert_eq!(code, 200, "{dump}");
        assert_eq!(series.len(), 1, "{dump}");
        assert!(series[0].1.iter().all(|v| *v == 777777.0), "{dump}");
        // A writer may not read.
        let (code, _, body) = remote_read(
            &s,
            "writer-secret",
            &[("__name__", EQ, "req_total")],
            streamed,
        )
        .await;
        assert_eq!(code, 403, "{body}");
    }
    s.stop().await;
}

#[tokio::test]
async fn status_metadata_and_admin_endpoints() {
    let (_d, s) = fixture().await;
    let (code, body) = get(&s, "customer-secret", "/api/v1/status/tsdb").await;
    assert_eq!(code, 403, "{body}");
    assert_clean("tsdb", &body);
    let (code, body) = get(&s, "customer-secret", "/api/v1/metadata").await;
    assert_eq!(code, 200);
    assert_clean("metadata", &body);
    let (code, body) = get(
        &s,
        "customer-secret",
        "/api/v1/query_exemplars?query=req_total",
    )
    .await;
    assert_eq!(code, 200);
    assert_clean("exemplars", &body);
    // The visible series' exemplar is there; hidden ones never are,
    // whatever the selectors ask for.
    assert!(body.contains("\"trace-1\""), "{body}");
    for sel in [
        "{__name__=~\".+\"}",
        "internal_cost",
        "req_total{metric_purpose=\"internal\"}",
        "req_total{organisation_id=~\"org.*\"}",
        "{__tenant_id__=\"globex\"}",
        "rate(req_total[5m]) or internal_cost",
    ] {
        let path = format!("/api/v1/query_exemplars?query={}", q(sel));
        let (code, body) = get(&s, "customer-secret", &path).await;
        assert!(
            code == 200 || code == 403 || code == 400,
            "{sel}: {code} {body}"
        );
        assert_clean(&format!("exemplars {sel}"), &body);
    }
    let r = s
        .client
        .post(s.url("/api/v1/admin/tsdb/flush"))
        .bearer_auth("customer-secret")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    // The other tenant's reader sees status of its own tenant only.
    let (code, body) = get(&s, "other-secret", "/api/v1/status/tsdb").await;
    assert_eq!(code, 200);
    assert!(
        !body.contains("org2") && !body.contains("internal"),
        "{body}"
    );
    s.stop().await;
}

#[tokio::test]
async fn header_tenant_never_overrides_the_token() {
    let (_d, s) = fixture().await;
    for header in ["globex", "acme|globex", "globex|acme"] {
        let r = s
            .client
            .get(s.url(&format!("/api/v1/query?query={}", q("req_total"))))
            .bearer_auth("customer-secret")
            .header("X-Scope-OrgID", header)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403, "{header}");
        assert_clean(header, &r.text().await.unwrap());
    }
    // The other tenant's token sees its own series, never acme's.
    let t = (T0 + 10 * MIN) / 1000;
    let (code, body) = get(
        &s,
        "other-secret",
        &format!("/api/v1/query?query={}&time={t}", q("req_total")),
    )
    .await;
    assert_eq!(code, 200);
    assert!(
        body.contains("777777") && !body.contains("555555") && !body.contains("\"1\""),
        "{body}"
    );
    s.stop().await;
}

#[tokio::test]
async fn federation_needs_a_federation_policy() {
    let (_d, s) = fixture().await;
    let t = (T0 + 10 * MIN) / 1000;
    let fed = |token: &'static str, path: String| {
        s.client
            .get(s.url(&path))
            .bearer_auth(token)
            .header("X-Scope-OrgID", "acme|globex")
            .send()
    };
    let r = fed("ops-secret", format!("/api/v1/query?query={}&time={t}", q(r#"sum by (__tenant_id__) (req_total{organisation_id="org1", metric_purpose="external"})"#)))
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    let res = v["data"]["result"].as_array().unwrap();
    assert_eq!(res.len(), 2, "{v}");
    let r = fed("ops-secret", "/api/v1/label/__tenant_id__/values".into())
        .await
        .unwrap();
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["data"], serde_json::json!(["acme", "globex"]));
    // Matchers on __tenant_id__ narrow the tenants.
    let r = fed(
        "ops-secret",
        format!(
            "/api/v1/query?query={}&time={t}",
            q(r#"req_total{__tenant_id__="globex"}"#)
        ),
    )
    .await
    .unwrap();
    let body = r.text().await.unwrap();
    assert!(
        body.contains("777777") && !body.contains("555555"),
        "{body}"
    );
    // Without federation in its policy, the header is refused.
    let r = fed(
        "customer-secret",
        "/api/v1/label/__tenant_id__/values".into(),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 403);
    s.stop().await;
}

#[tokio::test]
async fn credentials_are_required_and_permissions_enforced() {
    let (_d, s) = fixture().await;
    // No or bad credentials: 401 with a challenge, whatever the header says.
    for token in [None, Some("wrong"), Some("")] {
        let mut req = s
            .client
            .get(s.url("/api/v1/query?query=req_total"))
            .header("X-Scope-OrgID", "acme");
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let r = req.send().await.unwrap();
        assert_eq!(r.status(), 401, "{token:?}");
        assert!(r.headers().get("www-authenticate").is_some());
        assert_clean("401", &r.text().await.unwrap());
    }
    // Write-only cannot read; read-only cannot write.
    let (code, _) = get(&s, "writer-secret", "/api/v1/query?query=req_total").await;
    assert_eq!(code, 403);
    let r = s
        .client
        .post(s.url("/api/v1/import/prometheus"))
        .bearer_auth("customer-secret")
        .body("forged_total{organisation_id=\"org2\"} 1\n")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let r = s
        .client
        .post(s.url("/api/v1/import/prometheus"))
        .bearer_auth("writer-secret")
        .body("pushed_total 1\n")
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    // Health stays public.
    let r = s.client.get(s.url("/-/ready")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    // Malformed credentials and oversized headers are clear 4xx.
    let r = s
        .client
        .get(s.url("/api/v1/labels"))
        .header("Authorization", "Basic !!!not-base64")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let r = s
        .client
        .get(s.url("/api/v1/labels"))
        .header("Authorization", format!("Bearer {}", "x".repeat(9000)))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    s.stop().await;
}

#[tokio::test]
async fn query_limits_from_the_policy() {
    let dir = tempfile::tempdir().unwrap();
    let yaml = format!(
        "mode: tokens\ntokens:\n  - {{name: t, sha256: \"{}\", tenant: acme, policy: small}}\npolicies:\n  small:\n    read: true\n    limits: {{max_series_per_query: 1, max_query_range: 5m}}\n",
        sha256_hex(b"small-secret")
    );
    let cfg: AuthConfig = serde_yaml::from_str(&yaml).unwrap();
    let auth = Authenticator::new(&cfg, dir.path()).unwrap();
    let mut scfg = StorageConfig::new(dir.path().join("data"));
    scfg.tenant_defaults.max_exemplars = 100;
    scfg.maintenance_interval = None;
    let s = http::start_with(scfg, tessera::api::AppState::new().with_authenticator(auth)).await;
    append(&s, "acme", &[("__name__", "m"), ("i", "1")], 1.0);
    append(&s, "acme", &[("__name__", "m"), ("i", "2")], 2.0);
    let t = (T0 + 10 * MIN) / 1000;
    let (code, body) = get(
        &s,
        "small-secret",
        &format!("/api/v1/query?query=m&time={t}"),
    )
    .await;
    assert_eq!(code, 422, "{body}");
    assert!(body.contains("max series per query"), "{body}");
    let (code, body) = get(
        &s,
        "small-secret",
        &format!(
            "/api/v1/query_range?query={}&start={}&end={t}&step=60",
            q(r#"m{i="1"}"#),
            T0 / 1000
        ),
    )
    .await;
    assert_eq!(code, 200, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        v["data"]["result"][0]["values"].as_array().unwrap().len(),
        6,
        "{v}"
    );
    assert!(
        v["warnings"][0]
            .as_str()
            .unwrap()
            .contains("max_query_range"),
        "{v}"
    );
    s.stop().await;
}

/// Grafana with "Forward OAuth identity": every request carries the
/// signed-in user's JWT; the tenant comes from its claim. The same
/// sequence as `http_query.rs::grafana_sequence` (which uses a custom
/// `X-Scope-OrgID` header), through the JWT mode.
#[tokio::test]
async fn grafana_with_a_forwarded_oauth_token() {
    use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
    let dir = tempfile::tempdir().unwrap();
    let secret = "a-shared-hs256-secret-of-at-least-32-bytes";
    std::fs::write(dir.path().join("hs256.key"), secret).unwrap();
    let yaml = r#"
mode: jwt
jwt:
  keys_file: hs256.key
  algorithms: [HS256]
  issuer: https://idp.example.com/
  audience: tessera
  tenant_claim: https://example.com/tenant
  default_policy: viewer
policies:
  viewer: {read: true}
"#;
    let cfg: AuthConfig = serde_yaml::from_str(yaml).unwrap();
    let auth = Authenticator::new(&cfg, dir.path()).unwrap();
    let mut scfg = StorageConfig::new(dir.path().join("data"));
    scfg.tenant_defaults.max_exemplars = 100;
    scfg.maintenance_interval = None;
    let s = http::start_with(scfg, tessera::api::AppState::new().with_authenticator(auth)).await;
    append(&s, "acme", &[("__name__", "up"), ("job", "node")], 1.0);
    append(
        &s,
        "globex",
        &[("__name__", "up"), ("job", "node")],
        777777.0,
    );
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let claims = serde_json::json!({
        "sub": "alice", "iss": "https://idp.example.com/", "aud": "tessera",
        "exp": now + 600, "https://example.com/tenant": "acme"
    });
    let token = encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap();
    let t10 = (T0 + 10 * MIN) / 1000;
    let form = |pairs: &[(&str, String)]| {
        form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs.iter().map(|(k, v)| (*k, v.as_str())))
            .finish()
    };
    let post = |path: &str, body: String| {
        s.client
            .post(s.url(path))
            .bearer_auth(&token)
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
    };
    let (code, body) = get(&s, &token, "/api/v1/status/buildinfo").await;
    assert_eq!(code, 200, "{body}");
    let r = post(
        "/api/v1/query",
        form(&[("query", "1+1".into()), ("time", t10.to_string())]),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 200);
    let (code, body) = get(&s, &token, "/api/v1/labels").await;
    assert_eq!(
        (code, body.as_str()),
        (200, r#"{"status":"success","data":["__name__","job"]}"#)
    );
    let (_, body) = get(&s, &token, "/api/v1/label/__name__/values").await;
    assert_eq!(body, r#"{"status":"success","data":["up"]}"#);
    let r = post("/api/v1/series", form(&[("match[]", "up".into())]))
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let step = 60;
    let r = post(
        "/api/v1/query_range",
        form(&[
            ("query", "sum(up)".into()),
            ("start", (T0 / 1000 / step * step).to_string()),
            ("end", (t10 / step * step).to_string()),
            ("step", step.to_string()),
        ]),
    )
    .await
    .unwrap();
    let body = r.text().await.unwrap();
    assert!(
        body.contains("\"matrix\"") && body.contains("\"1\"") && !body.contains("777777"),
        "{body}"
    );
    // An expired token is refused, with the reason.
    let old = serde_json::json!({
        "sub": "alice", "iss": "https://idp.example.com/", "aud": "tessera",
        "exp": now - 3600, "https://example.com/tenant": "acme"
    });
    let expired = encode(
        &Header::new(Algorithm::HS256),
        &old,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap();
    let (code, body) = get(&s, &expired, "/api/v1/labels").await;
    assert_eq!(code, 401);
    assert!(body.contains("expired"), "{body}");
    s.stop().await;
}
