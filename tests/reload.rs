//! Config reload without a restart, against the release binary: a token
//! added by SIGHUP and by `POST /-/reload` works at once, a removed one is
//! refused with 401, a tenant limit changes, a broken file is refused whole
//! (the running config stays, the metric says so), settings that need a
//! restart are named; and all of it under continuous ingest and queries,
//! with every acknowledged sample present at the end. A tenant's OTLP
//! translation settings change the same way, and a refused file keeps them.

mod release_server;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use release_server::{now_ms, Tessera};
use tessera::auth::sha256_hex;

fn config(tokens: &[(&str, &str, &str)], rate: Option<u64>) -> String {
    let mut y = String::from("auth:\n  mode: tokens\n  admin_policy: admin\n  tokens:\n");
    for (name, secret, policy) in tokens {
        y.push_str(&format!(
            "    - {{name: {name}, sha256: \"{}\", tenant: acme, policy: {policy}}}\n",
            sha256_hex(secret.as_bytes())
        ));
    }
    y.push_str("  policies:\n    rw: {read: true, write: true}\n    admin: {read: true, write: true, admin: true}\n");
    if let Some(r) = rate {
        y.push_str(&format!(
            "tenants:\n  acme: {{ingestion_rate: {r}, ingestion_burst: {r}}}\n"
        ));
    }
    y
}

fn status(t: &Tessera, token: &str) -> u16 {
    t.client()
        .get(t.url("/api/v1/labels"))
        .bearer_auth(token)
        .send()
        .unwrap()
        .status()
        .as_u16()
}

fn reload_http(t: &Tessera, token: &str) -> (u16, String) {
    let r = t
        .client()
        .post(t.url("/-/reload"))
        .bearer_auth(token)
        .send()
        .unwrap();
    (r.status().as_u16(), r.text().unwrap())
}

fn sighup(t: &Tessera) {
    // SAFETY: kill(2) on our own child's pid.
    let rc = unsafe { libc::kill(t.pid() as i32, libc::SIGHUP) };
    assert_eq!(rc, 0);
}

/// Waits until `f` holds (a SIGHUP is handled asynchronously).
fn eventually(what: &str, f: impl Fn() -> bool) {
    for _ in 0..200 {
        if f() {
            return;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    panic!("never: {what}");
}

#[test]
fn credentials_and_limits_change_without_a_restart_under_load() {
    let base = [
        ("admin", "admin-secret", "admin"),
        ("writer", "writer-secret", "rw"),
    ];
    let t = Tessera::start(Some(&config(&base, None)));
    let pid = t.pid();

    // Continuous ingest (one sample per request, a counter as the value)
    // and queries, through every reload below.
    let stop = Arc::new(AtomicBool::new(false));
    let acked = Arc::new(AtomicU64::new(0));
    let failures = Arc::new(parking_lot::Mutex::new(Vec::<String>::new()));
    let writer = {
        let (stop, acked, failures) = (stop.clone(), acked.clone(), failures.clone());
        let url = t.url("/api/v1/import/prometheus");
        let t0 = now_ms() - 3_600_000;
        std::thread::spawn(move || {
            let http = reqwest::blocking::Client::new();
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let body = format!("load_seq {i} {}\n", t0 + i as i64);
                match http
                    .post(&url)
                    .bearer_auth("writer-secret")
                    .body(body)
                    .send()
                {
                    Ok(r) if r.status() == 204 => {
                        acked.store(i + 1, Ordering::Relaxed);
                        i += 1;
                    }
                    Ok(r) => failures.lock().push(format!(
                        "{}: {}",
                        r.status(),
                        r.text().unwrap_or_default()
                    )),
                    Err(e) => failures.lock().push(e.to_string()),
                }
            }
        })
    };
    let reader = {
        let (stop, failures) = (stop.clone(), failures.clone());
        let url = t.url("/api/v1/query");
        std::thread::spawn(move || {
            let http = reqwest::blocking::Client::new();
            while !stop.load(Ordering::Relaxed) {
                let r = http
                    .get(&url)
                    .bearer_auth("writer-secret")
                    .query(&[("query", "count(load_seq)")])
                    .send();
                match r {
                    Ok(r) if r.status() == 200 => {}
                    Ok(r) => failures.lock().push(format!("query {}", r.status())),
                    Err(e) => failures.lock().push(format!("query {e}")),
                }
            }
        })
    };

    assert_eq!(status(&t, "new-secret"), 401);
    // Add a token, reload by SIGHUP: it works.
    let with_new = [base[0], base[1], ("new", "new-secret", "rw")];
    std::fs::write(t.config_path(), config(&with_new, None)).unwrap();
    sighup(&t);
    eventually("the new token works after SIGHUP", || {
        status(&t, "new-secret") == 200
    });

    // Remove it again, reload over HTTP: 401.
    std::fs::write(t.config_path(), config(&base, None)).unwrap();
    let (code, body) = reload_http(&t, "admin-secret");
    assert_eq!(code, 200, "{body}");
    assert_eq!(status(&t, "new-secret"), 401);
    // Only admins may reload.
    assert_eq!(reload_http(&t, "writer-secret").0, 403);

    // A broken file is refused whole: old tokens keep working, the new
    // one in the broken file does not, the metric turns 0.
    std::fs::write(
        t.config_path(),
        config(&with_new, None).replace("policy: rw}\n", "policy: missing_policy}\n"),
    )
    .unwrap();
    let (code, body) = reload_http(&t, "admin-secret");
    assert_eq!(code, 500, "{body}");
    assert!(
        body.contains("failed to reload config") && body.contains("missing_policy"),
        "{body}"
    );
    assert_eq!(status(&t, "new-secret"), 401);
    assert_eq!(status(&t, "writer-secret"), 200);
    assert_eq!(t.metric("tessera_config_last_reload_successful"), 0.0);
    std::fs::write(t.config_path(), "auth: [not, a, mapping\n").unwrap();
    sighup(&t);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        status(&t, "writer-secret"),
        200,
        "a bad SIGHUP reload keeps the running config"
    );

    // A tenant limit, then a setting that needs a restart.
    let mut limited = config(&base, Some(1));
    limited.push_str("block_range: 4h\n");
    std::fs::write(t.config_path(), &limited).unwrap();
    let (code, body) = reload_http(&t, "admin-secret");
    assert_eq!(code, 200, "{body}");
    assert!(
        body.contains("block_range changed: it applies at the next restart"),
        "{body}"
    );
    assert_eq!(t.metric("tessera_config_last_reload_successful"), 1.0);
    let burst = "rate_limited 1\n".repeat(5);
    let r = t
        .client()
        .post(t.url("/api/v1/import/prometheus"))
        .bearer_auth("writer-secret")
        .body(burst)
        .send()
        .unwrap();
    assert_eq!(r.status(), 429, "the new ingestion rate applies at once");
    std::fs::write(t.config_path(), config(&base, None)).unwrap();
    assert_eq!(reload_http(&t, "admin-secret").0, 200);

    std::thread::sleep(Duration::from_millis(300));
    stop.store(true, Ordering::Relaxed);
    writer.join().unwrap();
    reader.join().unwrap();
    let failures = failures.lock().clone();
    // Writes under the 1 sample/s limit may be refused with 429 (nothing
    // of them stored, and the writer retries the same sample).
    let real: Vec<_> = failures.iter().filter(|f| !f.starts_with("429")).collect();
    assert!(real.is_empty(), "requests failed during reloads: {real:?}");
    let n = acked.load(Ordering::Relaxed);
    assert!(n > 20, "only {n} writes acknowledged");
    let v = t.get_json(
        "/api/v1/query",
        ("Authorization", "Bearer writer-secret"),
        &[("query", "count_over_time(load_seq[2h])")],
    );
    let got: u64 = v["data"]["result"][0]["value"][1]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(
        got, n,
        "every acknowledged sample is stored exactly once: {v}"
    );
    assert_eq!(t.pid(), pid, "same process throughout");
}

/// A config whose tenant `u` has its own `otlp:` block (`extra` lines
/// under it) and whose other tenants keep the defaults.
fn otlp_config(strategy: &str, extra: &str) -> String {
    format!("tenants:\n  u:\n    otlp:\n      translation_strategy: {strategy}\n{extra}")
}

/// Exports one cumulative sum `http.requests` of `v` at `ms` for a
/// resource in region `eu`, as OTLP/JSON, for `tenant`.
fn export(t: &Tessera, tenant: &str, ms: i64, v: u64) {
    let body = serde_json::json!({"resourceMetrics": [{
        "resource": {"attributes": [
            {"key": "service.name", "value": {"stringValue": "svc"}},
            {"key": "cloud.region", "value": {"stringValue": "eu"}}]},
        "scopeMetrics": [{"metrics": [{"name": "http.requests", "sum": {
            "aggregationTemporality": 2, "isMonotonic": true,
            "dataPoints": [{"timeUnixNano": (ms as u64 * 1_000_000).to_string(),
                            "asInt": v.to_string()}]}}]}]
    }]});
    let r = t
        .client()
        .post(t.url("/otlp/v1/metrics"))
        .header("Content-Type", "application/json")
        .header("X-Scope-OrgID", tenant)
        .body(body.to_string())
        .send()
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().unwrap_or_default());
}

/// The label sets (as JSON text, keys sorted) of `tenant`'s series (not
/// `target_info`) whose value is `v`, over the last hour.
fn series_with_value(t: &Tessera, tenant: &str, v: u64) -> Vec<String> {
    let q = format!(r#"last_over_time({{job="svc",__name__!="target_info"}}[1h]) == {v}"#);
    let res = t.get_json(
        "/api/v1/query",
        ("X-Scope-OrgID", tenant),
        &[("query", q.as_str())],
    );
    let mut out: Vec<String> = res["data"]["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["metric"].to_string())
        .collect();
    out.sort();
    out
}

fn reload_as_admin(t: &Tessera) -> (u16, String) {
    // Auth mode `none`: every caller has the permissive policy.
    let r = t.client().post(t.url("/-/reload")).send().unwrap();
    (r.status().as_u16(), r.text().unwrap())
}

#[test]
fn otlp_settings_change_per_tenant_without_a_restart() {
    let t = Tessera::start(Some(&otlp_config("UnderscoreEscapingWithSuffixes", "")));
    let now = now_ms();
    export(&t, "u", now - 3000, 1);
    export(&t, "d", now - 3000, 1);
    let escaped = r#"{"__name__":"http_requests_total","job":"svc"}"#;
    assert_eq!(series_with_value(&t, "u", 1), [escaped]);

    // Tenant u keeps UTF-8 names and promotes cloud.region; reloaded by
    // SIGHUP, the next export is translated with the new settings.
    std::fs::write(
        t.config_path(),
        otlp_config(
            "NoUTF8EscapingWithSuffixes",
            "      promote_resource_attributes: [cloud.region]\n",
        ),
    )
    .unwrap();
    sighup(&t);
    let utf8 = r#"{"__name__":"http.requests_total","cloud.region":"eu","job":"svc"}"#;
    let v = std::cell::Cell::new(1);
    eventually("tenant u's next export uses the reloaded settings", || {
        v.set(v.get() + 1);
        export(&t, "u", now - 2000 + v.get() as i64, v.get());
        series_with_value(&t, "u", v.get()) == [utf8]
    });
    // Tenant d, without an override, is translated as before.
    export(&t, "d", now - 2000, 7);
    assert_eq!(
        series_with_value(&t, "d", 7),
        [r#"{"__name__":"http_requests_total","job":"svc"}"#]
    );

    // A file with an unknown strategy is refused whole; u keeps the
    // settings that run.
    std::fs::write(t.config_path(), otlp_config("Bogus", "")).unwrap();
    let (code, body) = reload_as_admin(&t);
    assert_eq!(code, 500, "{body}");
    assert!(body.contains("Bogus"), "{body}");
    assert_eq!(t.metric("tessera_config_last_reload_successful"), 0.0);
    export(&t, "u", now - 1000, 100);
    assert_eq!(series_with_value(&t, "u", 100), [utf8]);

    // Back to the defaults for u (no override): escaped names again.
    std::fs::write(t.config_path(), "limits: {}\n").unwrap();
    let (code, body) = reload_as_admin(&t);
    assert_eq!(code, 200, "{body}");
    export(&t, "u", now - 500, 200);
    assert_eq!(series_with_value(&t, "u", 200), [escaped]);
}
