//! Usage per tenant and the tenant lifecycle, against the release binary:
//! the figures a provider bills on, each provoked and read back from
//! `/api/v1/status/usage`, `/api/v1/admin/tenants` and `/metrics`; kept
//! across a restart; and deleting one of two tenants with identical series
//! removes all of its data and nothing of the other's.

mod release_server;

use release_server::{now_ms, Tessera};
use serde_json::Value;
use tessera::auth::sha256_hex;

fn config() -> String {
    let mut y = String::from("auth:\n  mode: tokens\n  admin_policy: admin\n  tokens:\n");
    for (name, tenant, policy) in [
        ("acme", "acme", "rw"),
        ("globex", "globex", "rw"),
        ("admin", "ops", "admin"),
    ] {
        y.push_str(&format!(
            "    - {{name: {name}, sha256: \"{}\", tenant: {tenant}, policy: {policy}}}\n",
            sha256_hex(format!("{name}-secret").as_bytes())
        ));
    }
    y.push_str("  policies:\n    rw: {read: true, write: true}\n    admin: {read: true, write: true, admin: true}\n");
    y
}

fn import(t: &Tessera, token: &str, body: &str) -> u16 {
    t.client()
        .post(t.url("/api/v1/import/prometheus"))
        .bearer_auth(token)
        .body(body.to_string())
        .send()
        .unwrap()
        .status()
        .as_u16()
}

fn get(t: &Tessera, token: &str, path: &str, params: &[(&str, &str)]) -> (u16, Value) {
    let r = t
        .client()
        .get(t.url(path))
        .bearer_auth(token)
        .query(params)
        .send()
        .unwrap();
    let code = r.status().as_u16();
    (code, r.json().unwrap_or(Value::Null))
}

fn count(t: &Tessera, token: &str, q: &str) -> f64 {
    let (code, v) = get(t, token, "/api/v1/query", &[("query", q)]);
    assert_eq!(code, 200, "{v}");
    v["data"]["result"][0]["value"][1]
        .as_str()
        .map_or(0.0, |s| s.parse().unwrap())
}

#[test]
fn usage_is_counted_kept_across_restarts_and_deleting_a_tenant_touches_no_other() {
    let mut t = Tessera::start(Some(&config()));
    let t0 = now_ms() - 600_000;
    // The same 3 series × 10 samples in both tenants.
    let body: String = (0..10)
        .flat_map(|i| {
            (0..3).map(move |s| format!("usage_m{{s=\"{s}\"}} {i} {}\n", t0 + i * 15_000))
        })
        .collect();
    assert_eq!(import(&t, "acme-secret", &body), 204);
    assert_eq!(import(&t, "globex-secret", &body), 204);
    // One sample refused for its label value (2048 bytes at most).
    let long = format!("usage_bad{{v=\"{}\"}} 1 {t0}\n", "x".repeat(3000));
    assert_eq!(import(&t, "acme-secret", &long), 400);
    for _ in 0..3 {
        assert_eq!(
            count(&t, "acme-secret", "count_over_time(usage_m[1h])"),
            10.0
        );
    }

    let today = {
        let (code, v) = get(&t, "acme-secret", "/api/v1/status/usage", &[]);
        assert_eq!(code, 200, "{v}");
        let d = &v["data"];
        assert_eq!(d["tenant"], "acme");
        assert_eq!(d["total"]["samples_ingested"], 30, "{v}");
        assert_eq!(d["total"]["series_created"], 3, "{v}");
        assert_eq!(
            d["total"]["samples_rejected"]["label_value_length"], 1,
            "{v}"
        );
        assert_eq!(d["total"]["queries"], 3, "{v}");
        assert!(d["total"]["samples_read"].as_u64().unwrap() >= 30, "{v}");
        assert_eq!(d["active_series"], 3, "{v}");
        assert!(d["bytes_on_disk"].as_u64().unwrap() > 0, "{v}");
        assert_eq!(d["days"].as_array().unwrap().len(), 1, "{v}");
        d["days"][0]["date"].as_str().unwrap().to_string()
    };
    assert_eq!(today.len(), 10);
    // Another tenant's usage: admins only.
    let (code, _) = get(
        &t,
        "acme-secret",
        "/api/v1/status/usage",
        &[("tenant", "globex")],
    );
    assert_eq!(code, 403);
    let (code, v) = get(
        &t,
        "admin-secret",
        "/api/v1/status/usage",
        &[("tenant", "globex")],
    );
    assert_eq!(code, 200, "{v}");
    assert_eq!(v["data"]["total"]["samples_ingested"], 30, "{v}");
    assert_eq!(v["data"]["total"]["queries"], 0, "{v}");
    assert_eq!(
        t.metric("tessera_tenant_samples_ingested_total{tenant=\"acme\"}"),
        30.0
    );
    assert_eq!(
        t.metric("tessera_tenant_queries_total{tenant=\"acme\"}"),
        3.0
    );

    // The daily totals survive a restart.
    t.restart();
    let (_, v) = get(&t, "acme-secret", "/api/v1/status/usage", &[]);
    assert_eq!(v["data"]["total"]["samples_ingested"], 30, "{v}");
    assert_eq!(v["data"]["total"]["queries"], 3, "{v}");
    assert_eq!(v["data"]["days"][0]["date"], today.as_str(), "{v}");

    // The tenant list, admins only.
    assert_eq!(get(&t, "acme-secret", "/api/v1/admin/tenants", &[]).0, 403);
    let (code, v) = get(&t, "admin-secret", "/api/v1/admin/tenants", &[]);
    assert_eq!(code, 200, "{v}");
    let names: Vec<&str> = v["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["tenant"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"acme") && names.contains(&"globex"), "{v}");

    // Deleting: confirmation required, admins only, then acme is empty
    // and globex's identical series are whole.
    let del = |token: &str, confirm: Option<&str>| {
        let mut r = t
            .client()
            .delete(t.url("/api/v1/admin/tenants/acme"))
            .bearer_auth(token);
        if let Some(c) = confirm {
            r = r.query(&[("confirm", c)]);
        }
        let r = r.send().unwrap();
        (r.status().as_u16(), r.text().unwrap())
    };
    let (code, body) = del("admin-secret", None);
    assert_eq!(code, 400, "{body}");
    assert!(body.contains("confirm=acme"), "{body}");
    assert_eq!(del("admin-secret", Some("globex")).0, 400);
    assert_eq!(del("acme-secret", Some("acme")).0, 403);
    let (code, body) = del("admin-secret", Some("acme"));
    assert_eq!(code, 200, "{body}");
    assert!(body.contains("\"deleted\":true"), "{body}");
    assert!(t.log().contains("tenant deleted"), "audit line missing");

    let (_, v) = get(&t, "admin-secret", "/api/v1/admin/tenants", &[]);
    let names: Vec<&str> = v["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["tenant"].as_str().unwrap())
        .collect();
    assert!(!names.contains(&"acme") && names.contains(&"globex"), "{v}");
    assert_eq!(
        count(&t, "globex-secret", "count_over_time(usage_m[1h])"),
        10.0
    );
    assert_eq!(
        count(&t, "globex-secret", "count(count_over_time(usage_m[1h]))"),
        3.0
    );
    assert_eq!(
        count(&t, "acme-secret", "count(count_over_time(usage_m[1h]))"),
        0.0
    );
    // And it stays deleted after a restart (nothing left in the WAL).
    t.restart();
    assert_eq!(
        count(&t, "acme-secret", "count(count_over_time(usage_m[1h]))"),
        0.0
    );
    assert_eq!(
        count(&t, "globex-secret", "count(count_over_time(usage_m[1h]))"),
        3.0
    );
    // The tenant starts afresh when it writes again.
    assert_eq!(import(&t, "acme-secret", "usage_m{s=\"new\"} 1\n"), 204);
    assert_eq!(
        count(&t, "acme-secret", "count(count_over_time(usage_m[1h]))"),
        1.0
    );
}
