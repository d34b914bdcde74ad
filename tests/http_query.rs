//! The Prometheus query API over real HTTP: whole JSON bodies against
//! golden files, a request sequence shaped like Grafana's Prometheus data
//! source, promtool from Debian's `prometheus` package, and tenant scoping.
//!
//! Golden files live in `tests/golden/query/`; run with
//! `UPDATE_GOLDEN=1` to rewrite them after an intended change (and review
//! the diff: they are the Prometheus shapes this API promises).

mod http;

use std::path::PathBuf;

use serde_json::Value;
use tessera::model::{LabelRef, Labels, Sample};
use tessera::storage::SeriesInput;
use tessera::tenant::TenantId;

/// 2023-11-14T22:13:20Z, a round number of seconds.
const T0: i64 = 1_700_000_000_000;
const MIN: i64 = 60_000;

fn append(server: &http::Server, tenant: &str, pairs: &[(&str, &str)], samples: &[Sample]) {
    let labels = Labels::from_pairs(pairs.iter().copied());
    let refs: Vec<LabelRef> = labels.refs();
    let out = server
        .storage()
        .append(
            &TenantId::new(tenant).unwrap(),
            &[SeriesInput {
                labels: &refs,
                samples,
                histograms: &[],
            }],
        )
        .unwrap();
    assert_eq!(out.accepted as usize, samples.len());
}

/// Ten minutes of data for tenant `acme` and a look-alike for `globex`.
async fn fixture(dir: &std::path::Path) -> http::Server {
    let server = http::start(dir).await;
    let series: &[(&[(&str, &str)], f64, f64)] = &[
        (
            &[
                ("__name__", "http_requests_total"),
                ("job", "api"),
                ("instance", "a"),
            ],
            0.0,
            10.0,
        ),
        (
            &[
                ("__name__", "http_requests_total"),
                ("job", "api"),
                ("instance", "b"),
            ],
            100.0,
            20.0,
        ),
        (
            &[
                ("__name__", "http_requests_total"),
                ("job", "web"),
                ("instance", "a"),
            ],
            5.0,
            1.0,
        ),
        (&[("__name__", "temperature"), ("room", "lab")], 21.5, 0.0),
    ];
    for (labels, base, step) in series {
        let samples: Vec<Sample> = (0..=10)
            .map(|i| Sample::new(T0 + i * MIN, base + step * i as f64))
            .collect();
        append(&server, "acme", labels, &samples);
    }
    append(
        &server,
        "acme",
        &[("__name__", "odd"), ("kind", "nan")],
        &[Sample::new(T0 + 10 * MIN, f64::NAN)],
    );
    append(
        &server,
        "acme",
        &[("__name__", "odd"), ("kind", "inf")],
        &[Sample::new(T0 + 10 * MIN, f64::INFINITY)],
    );
    let other: Vec<Sample> = (0..=10).map(|i| Sample::new(T0 + i * MIN, 1e6)).collect();
    append(
        &server,
        "globex",
        &[
            ("__name__", "http_requests_total"),
            ("job", "secret"),
            ("instance", "z"),
        ],
        &other,
    );
    server
}

fn golden_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden/query")
        .join(format!("{name}.json"))
}

/// Compares a response (status and whole JSON body) with its golden file.
async fn check_golden(name: &str, resp: reqwest::Response) {
    let status = resp.status().as_u16();
    let ctype = resp
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    assert_eq!(ctype, "application/json", "{name}");
    let body: Value = serde_json::from_str(&resp.text().await.unwrap()).unwrap();
    let got = serde_json::json!({ "status_code": status, "body": body });
    let path = golden_path(name);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, serde_json::to_string_pretty(&got).unwrap() + "\n").unwrap();
        return;
    }
    let want: Value = serde_json::from_str(
        &std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())),
    )
    .unwrap();
    assert_eq!(
        got,
        want,
        "{name}: response differs from {}",
        path.display()
    );
}

fn q(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

async fn get_as(server: &http::Server, tenant: &str, path: &str) -> reqwest::Response {
    server
        .client
        .get(server.url(path))
        .header("X-Scope-OrgID", tenant)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn responses_match_golden_files() {
    let dir = tempfile::tempdir().unwrap();
    let s = fixture(dir.path()).await;
    let t10 = (T0 + 10 * MIN) / 1000;
    let cases: Vec<(&str, String)> = vec![
        ("instant_vector", format!("/api/v1/query?query={}&time={t10}", q("http_requests_total{job=\"api\"}"))),
        ("instant_sum_by", format!("/api/v1/query?query={}&time={t10}", q("sum by (job) (rate(http_requests_total[5m]))"))),
        ("instant_scalar", format!("/api/v1/query?query={}&time={t10}", q("1 + 2 * 3"))),
        ("instant_string", format!("/api/v1/query?query={}&time={t10}", q("\"hello\""))),
        ("instant_matrix", format!("/api/v1/query?query={}&time={t10}", q("temperature[3m]"))),
        ("special_values", format!("/api/v1/query?query={}&time={t10}", q("odd"))),
        ("info_annotation", format!("/api/v1/query?query={}&time={t10}", q("rate(temperature[5m])"))),
        ("range_query", format!("/api/v1/query_range?query={}&start={}&end={t10}&step=120", q("http_requests_total{instance=\"a\"}"), T0 / 1000)),
        ("range_rfc3339", format!("/api/v1/query_range?query={}&start=2023-11-14T22:13:20Z&end=2023-11-14T22:19:20Z&step=3m", q("sum(http_requests_total)"))),
        ("error_parse", format!("/api/v1/query?query={}", q("sum("))),
        ("error_time", "/api/v1/query?query=up&time=yesterday".to_string()),
        ("error_many_to_many", format!("/api/v1/query?query={}&time={t10}", q("http_requests_total * on(instance) http_requests_total"))),
        ("error_too_many_points", "/api/v1/query_range?query=up&start=0&end=100000&step=1".to_string()),
        ("error_step", "/api/v1/query_range?query=up&start=0&end=10&step=0".to_string()),
        ("error_end_before_start", "/api/v1/query_range?query=up&start=10&end=0&step=1".to_string()),
        ("series", format!("/api/v1/series?match[]={}&match[]={}", q("http_requests_total{job=\"web\"}"), q("temperature"))),
        ("series_limit", format!("/api/v1/series?match[]={}&limit=2", q("{__name__=~\".+\"}"))),
        ("series_no_match", "/api/v1/series".to_string()),
        ("labels", "/api/v1/labels".to_string()),
        ("labels_match", format!("/api/v1/labels?match[]={}", q("temperature"))),
        ("label_values", "/api/v1/label/job/values".to_string()),
        ("label_values_name", "/api/v1/label/__name__/values".to_string()),
        ("metadata_empty", "/api/v1/metadata".to_string()),
        ("exemplars", format!("/api/v1/query_exemplars?query={}&start=0&end=1", q("http_requests_total"))),
        ("format_query", format!("/api/v1/format_query?query={}", q("sum(rate(x[5m]))by(job)"))),
        ("rules", "/api/v1/rules".to_string()),
        ("alerts", "/api/v1/alerts".to_string()),
        ("buildinfo", "/api/v1/status/buildinfo".to_string()),
    ];
    for (name, path) in cases {
        let resp = get_as(&s, "acme", &path).await;
        check_golden(name, resp).await;
    }
    s.stop().await;
}

#[tokio::test]
async fn every_endpoint_is_scoped_to_the_tenant() {
    let dir = tempfile::tempdir().unwrap();
    let s = fixture(dir.path()).await;
    let t10 = (T0 + 10 * MIN) / 1000;
    for path in [
        format!(
            "/api/v1/query?query={}&time={t10}",
            q("http_requests_total")
        ),
        format!("/api/v1/query?query={}&time={t10}", q("{__name__=~\".+\"}")),
        format!(
            "/api/v1/query_range?query={}&start={}&end={t10}&step=60",
            q("http_requests_total"),
            T0 / 1000
        ),
        format!("/api/v1/series?match[]={}", q("{__name__=~\".+\"}")),
        "/api/v1/labels".to_string(),
        "/api/v1/label/job/values".to_string(),
        "/api/v1/label/instance/values".to_string(),
    ] {
        let acme = get_as(&s, "acme", &path).await.text().await.unwrap();
        let globex = get_as(&s, "globex", &path).await.text().await.unwrap();
        assert!(
            !acme.contains("secret") && !acme.contains("\"z\""),
            "{path}: {acme}"
        );
        assert!(
            !globex.contains("\"api\"") && !globex.contains("temperature"),
            "{path}: {globex}"
        );
        assert!(
            globex.contains("secret") || globex.contains("\"z\"") || path.contains("labels"),
            "{path}: {globex}"
        );
        let nobody = get_as(&s, "initech", &path).await.text().await.unwrap();
        assert!(
            !nobody.contains("secret") && !nobody.contains("\"api\""),
            "{path}: {nobody}"
        );
    }
    s.stop().await;
}

/// What Grafana's Prometheus data source sends: the "Save & test" check,
/// Explore's metric browser, and a dashboard panel's range query (POST
/// form body, start/end aligned to the step).
#[tokio::test]
async fn grafana_sequence() {
    let dir = tempfile::tempdir().unwrap();
    let s = fixture(dir.path()).await;
    let post = |path: &str, form: Vec<(&str, String)>| {
        s.client
            .post(s.url(path))
            .header("X-Scope-OrgID", "acme")
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(
                form_urlencoded::Serializer::new(String::new())
                    .extend_pairs(form)
                    .finish(),
            )
            .send()
    };
    // Save & test: buildinfo, then `1+1` as an instant query.
    let b: Value = get_as(&s, "acme", "/api/v1/status/buildinfo")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(b["status"], "success");
    let version = b["data"]["version"].as_str().unwrap();
    assert!(version.split('.').count() == 3, "{version}");
    let r: Value = post(
        "/api/v1/query",
        vec![("query", "1+1".into()), ("time", format!("{}", T0 / 1000))],
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(r["data"]["resultType"], "scalar");
    assert_eq!(r["data"]["result"][1], "2");
    // Explore: label names, metric names, metadata, series for a metric.
    let start = T0 / 1000;
    let end = (T0 + 10 * MIN) / 1000;
    let names: Value = get_as(
        &s,
        "acme",
        &format!("/api/v1/labels?start={start}&end={end}"),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(
        names["data"],
        serde_json::json!(["__name__", "instance", "job", "kind", "room"])
    );
    let metrics: Value = get_as(
        &s,
        "acme",
        &format!("/api/v1/label/__name__/values?start={start}&end={end}"),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(
        metrics["data"],
        serde_json::json!(["http_requests_total", "odd", "temperature"])
    );
    let md: Value = get_as(&s, "acme", "/api/v1/metadata")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(md["status"], "success");
    let series: Value = post(
        "/api/v1/series",
        vec![
            ("match[]", "http_requests_total".into()),
            ("start", start.to_string()),
            ("end", end.to_string()),
        ],
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(series["data"].as_array().unwrap().len(), 3);
    // A panel: Grafana aligns start/end down to a multiple of the step.
    let step = 60;
    let (a, z) = (start / step * step, end / step * step);
    let resp = post(
        "/api/v1/query_range",
        vec![
            (
                "query",
                "sum by (job) (rate(http_requests_total[2m]))".into(),
            ),
            ("start", a.to_string()),
            ("end", z.to_string()),
            ("step", step.to_string()),
        ],
    )
    .await
    .unwrap();
    assert_eq!(resp.status(), 200);
    let m: Value = resp.json().await.unwrap();
    assert_eq!(m["data"]["resultType"], "matrix");
    let res = m["data"]["result"].as_array().unwrap();
    assert_eq!(res.len(), 2);
    let api = res.iter().find(|x| x["metric"]["job"] == "api").unwrap();
    // Two counters growing 10/min and 20/min: 0.5 per second together.
    let last = api["values"].as_array().unwrap().last().unwrap();
    assert_eq!(last[0], serde_json::json!(z));
    assert_eq!(last[1].as_str().unwrap().parse::<f64>().unwrap(), 0.5);
    s.stop().await;
}

fn promtool(args: &[&str]) -> Option<String> {
    let out = std::process::Command::new("promtool")
        .args(args)
        .output()
        .ok()?;
    assert!(
        out.status.success(),
        "promtool {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// promtool from Debian's `prometheus` package as an unmodified client.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn promtool_queries_work() {
    if std::process::Command::new("promtool")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("promtool not installed; skipping (CI installs it)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let s = fixture(dir.path()).await;
    // promtool sends no tenant header: these series go to `anonymous`.
    let samples: Vec<Sample> = (0..=10)
        .map(|i| Sample::new(T0 + i * MIN, i as f64))
        .collect();
    append(
        &s,
        "anonymous",
        &[("__name__", "up"), ("job", "node")],
        &samples,
    );
    let url = format!("http://{}", s.addr);
    let t10 = ((T0 + 10 * MIN) / 1000).to_string();
    let start = (T0 / 1000).to_string();
    let (u, ts, st) = (url.clone(), t10.clone(), start.clone());
    let out = tokio::task::spawn_blocking(move || {
        let instant = promtool(&["query", "instant", "--time", &ts, &u, "up"]);
        let range = promtool(&[
            "query", "range", "--start", &st, "--end", &ts, "--step", "5m", &u, "up",
        ]);
        let series = promtool(&[
            "query", "series", "--match", "up", "--start", &st, "--end", &ts, &u,
        ]);
        let labels = promtool(&["query", "labels", "--start", &st, "--end", &ts, &u, "job"]);
        (instant, range, series, labels)
    })
    .await
    .unwrap();
    let (instant, range, series, labels) = (
        out.0.unwrap(),
        out.1.unwrap(),
        out.2.unwrap(),
        out.3.unwrap(),
    );
    assert!(instant.contains("up{job=\"node\"} => 10 @["), "{instant}");
    assert!(range.contains("up{job=\"node\"} =>"), "{range}");
    assert!(
        range.contains("0 @[") && range.contains("5 @[") && range.contains("10 @["),
        "{range}"
    );
    assert!(
        series.contains("{__name__=\"up\", job=\"node\"}"),
        "{series}"
    );
    assert_eq!(labels.trim(), "node");
    // And nothing from other tenants.
    assert!(!instant.contains("http_requests_total") && !series.contains("secret"));
    s.stop().await;
}
