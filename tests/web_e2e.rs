//! The built-in web UI, end to end: the release binary on a loopback
//! port, data imported for two tenants, and Debian's headless Chromium
//! driven through chromedriver with real key and mouse events.
//!
//! Screenshots are saved under `target/e2e-artifacts/` (next to the
//! cargo target dir's `tmp/`) and their paths printed.

mod release_server;
mod webdriver;

use std::path::{Path, PathBuf};
use std::time::Duration;

use release_server::{now_ms, Tessera};
use serde_json::{json, Value};
use webdriver::{keys, Driver, Session};

/// Tenant A: three `e2e_requests_total` series and one temperature over
/// the last 30 minutes, every 30s; the last counter values are 180, 60
/// and 120.
fn tenant_a_lines(now: i64) -> String {
    let mut s = String::new();
    for i in 0..=60i64 {
        let t = now - (60 - i) * 30_000;
        s += &format!(
            "e2e_requests_total{{code=\"200\",path=\"/api\"}} {} {t}\n",
            i * 3
        );
        s += &format!("e2e_requests_total{{code=\"500\",path=\"/api\"}} {i} {t}\n");
        s += &format!(
            "e2e_requests_total{{code=\"200\",path=\"/health\"}} {} {t}\n",
            i * 2
        );
        s += &format!(
            "e2e_temperature_celsius{{room=\"lab\"}} {} {t}\n",
            20 + i % 5
        );
    }
    s
}

/// Tenant B: names that must never show up while acting as tenant A.
fn tenant_b_lines(now: i64) -> String {
    let mut s = String::new();
    for i in 0..=60i64 {
        let t = now - (60 - i) * 30_000;
        s += &format!("secret_b_metric{{owner=\"b\"}} 42 {t}\n");
        s += &format!("e2e_requests_total{{code=\"404\",path=\"/b-only\"}} {i} {t}\n");
    }
    s
}

const A_SERIES: [&str; 3] = [
    r#"e2e_requests_total{code="200", path="/api"}"#,
    r#"e2e_requests_total{code="200", path="/health"}"#,
    r#"e2e_requests_total{code="500", path="/api"}"#,
];

/// Where screenshots go: `<target>/e2e-artifacts/`.
fn artifacts() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .unwrap()
        .join("e2e-artifacts")
}

fn shot(s: &Session, name: &str) {
    let p = s.screenshot(&artifacts().join(name));
    println!("screenshot: {}", p.display());
}

/// The result table's rows as [series, value] texts.
fn table_rows(s: &Session) -> Vec<(String, String)> {
    let v = s.script(
        "return [...document.querySelectorAll('#result-table tbody tr')].map(tr => [...tr.cells].map(c => c.textContent));",
        json!([]),
    );
    let mut rows: Vec<(String, String)> = serde_json::from_value::<Vec<Vec<String>>>(v)
        .unwrap()
        .into_iter()
        .map(|r| (r[0].clone(), r[1].clone()))
        .collect();
    rows.sort();
    rows
}

fn texts(s: &Session, css: &str) -> Vec<String> {
    let v = s.script(
        "return [...document.querySelectorAll(arguments[0])].map(e => e.textContent);",
        json!([css]),
    );
    serde_json::from_value(v).unwrap()
}

/// Visible text whose contrast with its background is under WCAG AA's
/// 4.5:1 (relative luminance as WCAG 2 defines it).
const CONTRAST: &str = r#"
    const channels = (c) => c.match(/[\d.]+/g).map(Number);
    const lum = (c) => {
        const [r, g, b] = channels(c).slice(0, 3).map((v) => {
            v /= 255;
            return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
        });
        return 0.2126 * r + 0.7152 * g + 0.0722 * b;
    };
    const opaque = (c) => { const ch = channels(c); return ch.length < 4 || ch[3] > 0; };
    const background = (el) => {
        for (let e = el; e; e = e.parentElement) {
            const c = getComputedStyle(e).backgroundColor;
            if (opaque(c)) return c;
        }
        return 'rgb(255, 255, 255)';
    };
    const bad = [];
    for (const el of document.querySelectorAll('body *')) {
        const svg = el instanceof SVGElement;
        if (svg ? el.getBBox === undefined || !el.getClientRects().length : !el.offsetParent) continue;
        if (![...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim())) continue;
        const fg = svg ? getComputedStyle(el).fill : getComputedStyle(el).color;
        const [hi, lo] = [lum(fg), lum(background(el))].sort((a, b) => b - a);
        const ratio = (hi + 0.05) / (lo + 0.05);
        if (ratio < 4.5) bad.push(`${el.tagName} ${JSON.stringify(el.textContent.slice(0, 40))}: ${ratio.toFixed(2)}`);
    }
    return bad;
"#;

fn assert_contrast(s: &Session, when: &str) {
    let bad = s.script(CONTRAST, json!([]));
    assert_eq!(bad, json!([]), "text under 4.5:1 contrast {when}");
}

/// Replaces the query box's text by typing, then runs it with Enter.
fn run_query(s: &Session, expr: &str) {
    let box_ = s.find("#expr");
    s.clear(&box_);
    s.send_keys(&box_, expr);
    s.send_keys(&box_, keys::ENTER);
}

fn wait_rows(s: &Session, n: usize) -> Vec<(String, String)> {
    s.wait(&format!("{n} table rows"), || {
        let rows = table_rows(s);
        (rows.len() == n).then_some(rows)
    })
}

/// Mode `none`: the tenant typed in the page is the one queried.
#[test]
fn expression_browser_graph_and_explorer_see_one_tenant() {
    let srv = Tessera::start(None);
    let now = now_ms();
    srv.import(("X-Scope-OrgID", "team-a"), tenant_a_lines(now));
    srv.import(("X-Scope-OrgID", "team-b"), tenant_b_lines(now));
    let driver = Driver::start();
    let s = driver.session();
    s.goto(&srv.url("/"));
    s.find("body[data-ready=true]");
    let unlabelled = s.script(
        "return [...document.querySelectorAll('input, textarea, select, button')]\
           .filter(e => e.tagName === 'BUTTON' ? !e.textContent.trim() : !e.labels.length)\
           .map(e => e.id)",
        json!([]),
    );
    assert_eq!(unlabelled, json!([]), "controls without a label");
    s.wait_script(
        "the default tenant",
        "return document.getElementById('current-tenant').textContent",
        &json!("anonymous"),
    );

    // An invalid tenant id: the API's 400 message, and back to the default.
    let tenant = s.find("#tenant-input");
    s.send_keys(&tenant, &format!("bad/tenant{}", keys::ENTER));
    let api = srv.get_json(
        "/api/v1/status/whoami",
        ("X-Scope-OrgID", "bad/tenant"),
        &[],
    );
    let shown = s.wait("the 400 message", || {
        texts(&s, "#messages .msg.error .text").into_iter().next()
    });
    assert_eq!(shown, api["error"].as_str().expect("whoami refuses the id"));
    s.wait_script(
        "the default tenant again",
        "return document.getElementById('current-tenant').textContent",
        &json!("anonymous"),
    );

    // Choose the tenant by typing it, as a user would.
    let tenant = s.find("#tenant-input");
    s.clear(&tenant);
    s.send_keys(&tenant, &format!("team-a{}", keys::ENTER));
    s.wait_script(
        "tenant team-a",
        "return document.getElementById('current-tenant').textContent",
        &json!("team-a"),
    );

    autocomplete_and_table_checks(&s);
    graph_checks(&s);
    error_and_isolation_checks(&s, &srv);
    explorer_checks(&s);
    prometheus_link_checks(&s, &srv);
}

/// Autocomplete of metric names and label values, accepted with Tab or
/// chosen with the arrows, and the table of the query it builds.
fn autocomplete_and_table_checks(s: &Session) {
    // Autocomplete: a prefix, the suggestion list, Tab accepts.
    let box_ = s.find("#expr");
    s.click(&box_);
    s.send_keys(&box_, "e2e_req");
    s.wait("the metric suggestion", || {
        let items = texts(s, "#suggestions li span:first-child");
        items
            .contains(&"e2e_requests_total".to_string())
            .then_some(())
    });
    s.send_keys(&box_, keys::TAB);
    s.wait_script(
        "the accepted completion",
        "return document.getElementById('expr').value",
        &json!("e2e_requests_total"),
    );
    s.send_keys(&box_, keys::ENTER);
    let rows = wait_rows(s, 3);
    let want: Vec<(String, String)> = [
        (A_SERIES[0], "180"),
        (A_SERIES[1], "120"),
        (A_SERIES[2], "60"),
    ]
    .iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect();
    assert_eq!(rows, want);
    assert_contrast(s, "with the table");
    shot(s, "table.png");

    // Label values complete inside braces, for that metric only.
    s.clear(&box_);
    s.send_keys(&box_, "e2e_requests_total{path=\"/h");
    s.wait("the label value suggestion", || {
        let items = texts(s, "#suggestions li span:first-child");
        (items == ["/health"]).then_some(())
    });
    s.send_keys(&box_, &format!("{}}}{}", keys::TAB, keys::ENTER));
    let rows = wait_rows(s, 1);
    assert_eq!(rows[0].0, A_SERIES[1]);

    // Arrows choose a suggestion and Enter takes it (without running);
    // the next Enter runs.
    s.clear(&box_);
    s.send_keys(&box_, "e2e_");
    s.wait("two metric suggestions", || {
        let items = texts(s, "#suggestions li span:first-child");
        (items == ["e2e_requests_total", "e2e_temperature_celsius"]).then_some(())
    });
    s.send_keys(&box_, &format!("{0}{0}{1}", keys::ARROW_DOWN, keys::ENTER));
    s.wait_script(
        "the second suggestion",
        "return document.getElementById('expr').value",
        &json!("e2e_temperature_celsius"),
    );
    assert_eq!(
        table_rows(s)[0].0,
        A_SERIES[1],
        "Enter on a suggestion ran the query"
    );
    s.send_keys(&box_, keys::ENTER);
    s.wait("the temperature row", || {
        let rows = table_rows(s);
        (rows.len() == 1 && rows[0].0 == r#"e2e_temperature_celsius{room="lab"}"#).then_some(())
    });
}

/// The graph of the three series: paths with points, an exact legend and
/// hover values; stacking changes the drawn lines.
fn graph_checks(s: &Session) {
    let box_ = s.find("#expr");
    s.clear(&box_);
    s.send_keys(&box_, "e2e_requests_total");
    s.click(&s.find("#tab-graph"));
    let paths = s.wait("three drawn series", || {
        let d = texts_attr(s, "#chart svg path.series", "d");
        (d.len() == 3).then_some(d)
    });
    for d in &paths {
        let points = d.matches(['M', 'L']).count();
        assert!(
            points >= 100,
            "a series drawn with only {points} points: {d}"
        );
    }
    let mut legend = texts(s, "#legend .legend-label");
    legend.sort();
    assert_eq!(legend, A_SERIES);
    let svg = s.find("#chart svg");
    s.hover(&svg, 100, 0);
    let tip = s.wait("the hover tooltip", || {
        let rows = texts(s, "#chart-tooltip:not([hidden]) .row");
        (rows.len() == 3).then_some(rows)
    });
    for series in A_SERIES {
        assert!(
            tip.iter().any(|r| r.ends_with(series)),
            "{series} missing in {tip:?}"
        );
    }
    assert_contrast(s, "with the graph and its tooltip");
    shot(s, "graph.png");
    s.click(&s.find("#stacked"));
    let stacked = s.wait("redrawn stacked lines", || {
        let d = texts_attr(s, "#chart svg path.series", "d");
        (d.len() == 3 && d != paths).then_some(d)
    });
    assert_eq!(stacked.len(), 3);
    shot(s, "graph-stacked.png");
    s.click(&s.find("#stacked"));

    // A typed step replaces the automatic one: one point a minute over
    // the 30 minutes of data (plus the 5m lookback after the last).
    let step = s.find("#step");
    s.send_keys(&step, &format!("1m{}", keys::TAB));
    s.wait_script(
        "the typed step",
        "return document.getElementById('graph-summary').textContent",
        &json!("3 series, step 1m"),
    );
    let d = texts_attr(s, "#chart svg path.series", "d");
    let points = d[0].matches(['M', 'L']).count();
    assert!((30..=37).contains(&points), "{points} points at a 1m step");
    s.clear(&step);
    s.click(&s.find("#tab-table"));
}

fn texts_attr(s: &Session, css: &str, attr: &str) -> Vec<String> {
    let v = s.script(
        "return [...document.querySelectorAll(arguments[0])].map(e => e.getAttribute(arguments[1]));",
        json!([css, attr]),
    );
    serde_json::from_value(v).unwrap()
}

/// A bad query shows the API's own words; nothing of tenant B shows up.
fn error_and_isolation_checks(s: &Session, srv: &Tessera) {
    run_query(s, "sum(e2e_requests_total");
    let api = srv.get_json(
        "/api/v1/query",
        ("X-Scope-OrgID", "team-a"),
        &[("query", "sum(e2e_requests_total")],
    );
    let want = api["error"].as_str().expect("the API refuses the query");
    let shown = s.wait("the error message", || {
        texts(s, "#messages .msg.error .text").into_iter().next()
    });
    assert_eq!(shown, want);
    assert_contrast(s, "with an error shown");
    assert_eq!(
        texts(s, "#messages [role=alert] .text"),
        [want],
        "errors are announced"
    );

    run_query(s, "{__name__=~\".+\"}");
    let rows = wait_rows(s, 4);
    for (series, _) in &rows {
        assert!(series.starts_with("e2e_"), "{series} is not tenant A's");
        assert!(
            !series.contains("b-only"),
            "tenant B's series shown: {series}"
        );
    }
    // Tenant B's metric is not offered either.
    let box_ = s.find("#expr");
    s.clear(&box_);
    s.send_keys(&box_, "e2e_t");
    s.wait("suggestions for e2e_t", || {
        let items = texts(s, "#suggestions li span:first-child");
        (items == ["e2e_temperature_celsius"]).then_some(())
    });
    s.clear(&box_);
    s.send_keys(&box_, "secret_");
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(texts(s, "#suggestions li"), Vec::<String>::new());
}

/// The cardinality explorer shows tenant A's top metric; clicking it
/// opens the expression browser on it.
fn explorer_checks(s: &Session) {
    s.click(&s.find("#view-cardinality-tab"));
    let top = s.wait("the top metric", || {
        let names = texts(s, "#card-metrics tbody tr td:first-child");
        let counts = texts(s, "#card-metrics tbody tr td:last-child");
        (!names.is_empty()).then_some((names, counts))
    });
    assert_eq!(top.0, ["e2e_requests_total", "e2e_temperature_celsius"]);
    assert_eq!(top.1, ["3", "1"]);
    let labels = texts(s, "#card-labels tbody tr td:first-child");
    assert!(labels.contains(&"path".to_string()), "{labels:?}");
    // The usage view: tenant A's one day, its 244 imported samples in 4
    // series (tenant B's import is not counted here).
    let usage = s.wait("the usage by day", || {
        let cells = texts(s, "#usage-days tbody tr:first-child td");
        (!cells.is_empty()).then_some(cells)
    });
    assert_eq!(usage.len(), 6, "{usage:?}");
    assert_eq!(
        (usage[1].as_str(), usage[2].as_str()),
        ("244", "4"),
        "{usage:?}"
    );
    let now_text = s.script(
        "return document.getElementById('usage-now').textContent",
        json!([]),
    );
    assert!(
        now_text.as_str().unwrap().starts_with("4 active series"),
        "{now_text}"
    );
    let page = s.script("return document.body.textContent", json!([]));
    assert!(!page.as_str().unwrap().contains("secret_b_metric"));
    assert_contrast(s, "in the explorer");
    shot(s, "cardinality.png");
    s.click(&s.find("#card-metrics tbody tr td:first-child button"));
    s.wait_script(
        "the metric's query",
        "return document.getElementById('expr').value",
        &json!("e2e_requests_total"),
    );
    assert_eq!(wait_rows(s, 3).len(), 3);
}

/// Prometheus's own links open in the page (the tenant stays for the tab).
fn prometheus_link_checks(s: &Session, srv: &Tessera) {
    s.goto(&srv.url("/graph?g0.expr=e2e_temperature_celsius&g0.tab=1"));
    s.find("body[data-ready=true]");
    let rows = wait_rows(s, 1);
    assert_eq!(rows[0].0, r#"e2e_temperature_celsius{room="lab"}"#);
}

const TOKENS_CONFIG: &str = r#"
auth:
  mode: tokens
  tokens:
    - {name: alpha, sha256: "SHA_ALPHA", tenant: team-a, policy: member}
    - {name: beta, sha256: "SHA_BETA", tenant: team-b, policy: member}
    - {name: ops, sha256: "SHA_OPS", tenant: ops, policy: ops}
  policies:
    member: {read: true, write: true}
    ops: {read: true, federation: true, allowed_tenants: [team-a, team-b]}
"#;

fn current_tenant(s: &Session, want: &str) {
    s.wait_script(
        &format!("current tenant {want:?}"),
        "return document.getElementById('current-tenant').textContent",
        &json!(want),
    );
}

/// Mode `tokens`: the page asks for a token, keeps it for the tab only,
/// and a federation policy can choose several tenants.
#[test]
fn tokens_are_asked_for_kept_per_session_and_federation_chooses_tenants() {
    use tessera::auth::sha256_hex;
    let config = TOKENS_CONFIG
        .replace("SHA_ALPHA", &sha256_hex(b"alpha-secret"))
        .replace("SHA_BETA", &sha256_hex(b"beta-secret"))
        .replace("SHA_OPS", &sha256_hex(b"ops-secret"));
    let srv = Tessera::start(Some(&config));
    let now = now_ms();
    srv.import(
        ("Authorization", "Bearer alpha-secret"),
        tenant_a_lines(now),
    );
    srv.import(("Authorization", "Bearer beta-secret"), tenant_b_lines(now));
    let driver = Driver::start();
    let s = driver.session();
    s.goto(&srv.url("/"));
    s.find("body[data-ready=true]");
    current_tenant(&s, "not signed in");

    // A wrong token: the API's 401 message, verbatim.
    let token = s.find("#token-input");
    s.send_keys(&token, &format!("wrong{}", keys::ENTER));
    let shown = s.wait("the 401 message", || {
        texts(&s, "#messages .msg.error .text").into_iter().next()
    });
    assert_eq!(shown, "unknown bearer token");
    current_tenant(&s, "not signed in");

    s.send_keys(&token, &format!("alpha-secret{}", keys::ENTER));
    current_tenant(&s, "team-a");
    let stored = s.script(
        "return [sessionStorage.getItem('tessera.authorization'), localStorage.length, document.cookie]",
        json!([]),
    );
    assert_eq!(stored, json!(["Bearer alpha-secret", 0, ""]));
    assert!(texts(&s, "#federate-form:not([hidden])").is_empty());
    run_query(&s, "e2e_requests_total");
    let rows = wait_rows(&s, 3);
    assert!(
        rows.iter().all(|(series, _)| !series.contains("b-only")),
        "{rows:?}"
    );

    // The token lasts for the tab: a reload keeps it.
    s.goto(&srv.url("/"));
    s.find("body[data-ready=true]");
    current_tenant(&s, "team-a");

    s.click(&s.find("#sign-out"));
    current_tenant(&s, "not signed in");
    let stored = s.script("return sessionStorage.length", json!([]));
    assert_eq!(stored, json!(0));
    assert!(table_rows(&s).is_empty(), "results stay after sign out");
    assert_eq!(texts(&s, "#messages .msg"), Vec::<String>::new());

    // Federation: the ops token names both tenants.
    let token = s.find("#token-input");
    s.send_keys(&token, &format!("ops-secret{}", keys::ENTER));
    current_tenant(&s, "ops");
    let fed = s.find("#federate-form:not([hidden]) #federate-input");
    s.clear(&fed);
    s.send_keys(&fed, &format!("team-a|team-b{}", keys::ENTER));
    current_tenant(&s, "team-a | team-b");
    run_query(&s, "e2e_requests_total");
    let rows = wait_rows(&s, 4);
    let b: Vec<_> = rows.iter().filter(|(s, _)| s.contains("b-only")).collect();
    assert_eq!(b.len(), 1, "{rows:?}");
    assert!(b[0].0.contains(r#"__tenant_id__="team-b""#), "{rows:?}");
    shot(&s, "federated.png");
}

/// Mode `jwt`: the page takes a signed token the same way, shows an
/// expired token's 401 verbatim, and acts for the tenant in the token's
/// claim only.
#[test]
fn jwt_tokens_sign_in_to_the_tenant_of_their_claim() {
    use jsonwebtoken::{encode, EncodingKey, Header};
    let keys = tempfile::tempdir().unwrap();
    let secret = keys.path().join("hs256.secret");
    std::fs::write(&secret, "e2e-shared-secret-of-some-length").unwrap();
    let config = format!(
        "auth:\n  mode: jwt\n  jwt:\n    keys_file: {}\n    algorithms: [HS256]\n    \
         issuer: e2e-issuer\n    audience: tessera\n    tenant_claim: org_id\n    \
         policy_claim: role\n  policies:\n    member: {{read: true, write: true}}\n",
        secret.display()
    );
    let srv = Tessera::start(Some(&config));
    let key = EncodingKey::from_secret(b"e2e-shared-secret-of-some-length");
    let token = |org: &str, exp_offset_s: i64| {
        let now = now_ms() / 1000;
        let claims = json!({"iss": "e2e-issuer", "aud": "tessera", "sub": "e2e",
            "org_id": org, "role": "member", "exp": now + exp_offset_s, "nbf": now - 10});
        encode(&Header::default(), &claims, &key).unwrap()
    };
    let (a, b) = (token("team-a", 600), token("team-b", 600));
    let now = now_ms();
    srv.import(
        ("Authorization", &format!("Bearer {a}")),
        tenant_a_lines(now),
    );
    srv.import(
        ("Authorization", &format!("Bearer {b}")),
        tenant_b_lines(now),
    );
    let driver = Driver::start();
    let s = driver.session();
    s.goto(&srv.url("/"));
    s.find("body[data-ready=true]");
    current_tenant(&s, "not signed in");

    let input = s.find("#token-input");
    s.send_keys(&input, &format!("{}{}", token("team-a", -600), keys::ENTER));
    let shown = s.wait("the expired token's 401", || {
        texts(&s, "#messages .msg.error .text").into_iter().next()
    });
    assert_eq!(shown, "JWT has expired (exp is in the past)");
    current_tenant(&s, "not signed in");

    s.clear(&input);
    s.send_keys(&input, &format!("{a}{}", keys::ENTER));
    current_tenant(&s, "team-a");
    let stored = s.script(
        "return [sessionStorage.getItem('tessera.authorization'), localStorage.length, document.cookie]",
        json!([]),
    );
    assert_eq!(stored, json!([format!("Bearer {a}"), 0, ""]));
    run_query(&s, "e2e_requests_total");
    let rows = wait_rows(&s, 3);
    assert!(
        rows.iter().all(|(series, _)| !series.contains("b-only")),
        "{rows:?}"
    );
}

/// The page's own helpers, run in the browser on tables of cases: where
/// the cursor is for autocomplete, PromQL quoting and the explorer's
/// queries, durations and the automatic step.
#[test]
fn page_helpers_in_the_browser() {
    let srv = Tessera::start(None);
    let driver = Driver::start();
    let s = driver.session();
    s.goto(&srv.url("/"));
    s.find("body[data-ready=true]");
    // `¦` marks the cursor (the end when absent).
    let contexts: &[(&str, Value)] = &[
        ("", Value::Null),
        ("up", json!({"kind": "metric", "prefix": "up", "start": 0})),
        (
            "rate(http_re",
            json!({"kind": "metric", "prefix": "http_re", "start": 5}),
        ),
        (
            "rate(http_re¦ + 1",
            json!({"kind": "metric", "prefix": "http_re", "start": 5}),
        ),
        (
            "sum by (jo",
            json!({"kind": "label", "prefix": "jo", "start": 8}),
        ),
        (
            "sum(x) without (",
            json!({"kind": "label", "prefix": "", "start": 16}),
        ),
        (
            "a / on(inst",
            json!({"kind": "label", "prefix": "inst", "start": 7}),
        ),
        (
            "x{",
            json!({"kind": "label", "prefix": "", "start": 2, "metric": "x"}),
        ),
        (
            "{jo",
            json!({"kind": "label", "prefix": "jo", "start": 1, "metric": null}),
        ),
        (
            "x{job=\"a\", inst",
            json!({"kind": "label", "prefix": "inst", "start": 11, "metric": "x"}),
        ),
        (
            "x{a=\"}\", b",
            json!({"kind": "label", "prefix": "b", "start": 9, "metric": "x"}),
        ),
        (
            "x{job=\"ap",
            json!({"kind": "value", "label": "job", "prefix": "ap", "start": 7, "metric": "x", "quoted": true}),
        ),
        (
            "x{job=~\"a|b",
            json!({"kind": "value", "label": "job", "prefix": "a|b", "start": 8, "metric": "x", "quoted": true}),
        ),
        (
            "x{job!=",
            json!({"kind": "value", "label": "job", "prefix": "", "start": 7, "metric": "x", "quoted": false}),
        ),
        (
            "x{job=\"a\"} + y",
            json!({"kind": "metric", "prefix": "y", "start": 13}),
        ),
        ("x{job=\"a\"}", Value::Null),
        ("x[5m", Value::Null),
        ("x offset 5m", Value::Null),
        ("label_replace(x, \"dst", Value::Null),
    ];
    let script = r#"
        const [cases, done] = arguments;
        Promise.all([import('/ui/js/promql.js'), import('/ui/js/time.js')]).then(([p, t]) => done({
            contexts: cases.map((c) => {
                const i = c.indexOf('¦');
                const text = c.replace('¦', '');
                return p.completionContext(text, i < 0 ? text.length : i);
            }),
            quote: p.quote('a"b\\c\n'),
            series: [p.formatSeries({__name__: 'up', job: 'a'}), p.formatSeries({}),
                     p.formatSeries({job: 'a', 'a.b': 'x'})],
            queries: [p.metricQuery('up'), p.metricQuery('a.b'), p.labelQuery('job'),
                      p.pairQuery('job=a=b')],
            durations: ['1h30m', '90s', '1d', '100ms', '', '1x', '5m3', '0s'].map(t.parseDuration),
            formatted: [t.formatDuration(5400000), t.formatDuration(14000)],
            steps: [t.autoStepMs(3600000), t.autoStepMs(60000), t.autoStepMs(7 * 86400000)],
        })).catch((e) => done(String(e)));
    "#;
    let cases: Vec<&str> = contexts.iter().map(|(c, _)| *c).collect();
    let got = s.script_async(script, json!([cases]));
    assert!(got.is_object(), "the modules did not load: {got}");
    for (i, (case, want)) in contexts.iter().enumerate() {
        assert_eq!(&got["contexts"][i], want, "context of {case:?}");
    }
    assert_eq!(got["quote"], r#""a\"b\\c\n""#);
    assert_eq!(
        got["series"],
        json!(["up{job=\"a\"}", "{}", "{job=\"a\", \"a.b\"=\"x\"}"])
    );
    assert_eq!(
        got["queries"],
        json!([
            "up",
            "{__name__=\"a.b\"}",
            "count by (job) ({job!=\"\"})",
            "count by (__name__) ({job=\"a=b\"})"
        ])
    );
    assert_eq!(
        got["durations"],
        json!([5_400_000, 90_000, 86_400_000, 100, null, null, null, null])
    );
    assert_eq!(got["formatted"], json!(["1h30m", "14s"]));
    assert_eq!(got["steps"], json!([14_000, 1_000, 2_419_000]));
}

/// `e2e_latency_seconds{path="/a"}`: an integer native histogram every 30s
/// over the last 30 minutes; at the k-th (from 1) it holds k observations
/// in each of [-1, -0.5), the zero bucket, (0.5, 1] and (2, 4], and 2k in
/// (1, 2]: count 6k, sum 1.5k. The last has k = 61.
fn write_histograms(srv: &Tessera, now: i64) {
    use tessera::ingest::proto::{encode_snappy, v1};
    let span = |offset, length| v1::BucketSpan { offset, length };
    let histograms = (1..=61i64)
        .map(|k| v1::Histogram {
            count: Some(v1::Count::CountInt(6 * k as u64)),
            sum: 1.5 * k as f64,
            schema: 0,
            zero_threshold: 0.001,
            zero_count: Some(v1::ZeroCount::ZeroCountInt(k as u64)),
            negative_spans: vec![span(0, 1)],
            negative_deltas: vec![k],
            positive_spans: vec![span(0, 3)],
            positive_deltas: vec![k, k, -k],
            timestamp: now - (61 - k) * 30_000,
            ..Default::default()
        })
        .collect();
    let label = |name: &str, value: &str| v1::Label {
        name: name.into(),
        value: value.into(),
    };
    let body = encode_snappy(&v1::WriteRequest {
        timeseries: vec![v1::TimeSeries {
            labels: vec![
                label("__name__", "e2e_latency_seconds"),
                label("path", "/a"),
            ],
            histograms,
            ..Default::default()
        }],
        metadata: Vec::new(),
    });
    let resp = srv
        .client()
        .post(srv.url("/api/v1/write"))
        .header("Content-Type", "application/x-protobuf")
        .header("Content-Encoding", "snappy")
        .header("X-Prometheus-Remote-Write-Version", "0.1.0")
        .body(body)
        .send()
        .unwrap();
    assert_eq!(resp.status(), 204, "{}", resp.text().unwrap());
}

/// A native histogram in the table (count, sum, one row per bucket with
/// Prometheus's boundary rules) and in the graph (p50, p90 and p99 lines
/// whose values are the server's `histogram_quantile`).
#[test]
fn native_histograms_in_the_table_and_as_quantiles_in_the_graph() {
    let srv = Tessera::start(None);
    write_histograms(&srv, now_ms());
    let driver = Driver::start();
    let s = driver.session();
    s.goto(&srv.url("/"));
    s.find("body[data-ready=true]");
    run_query(&s, "e2e_latency_seconds");
    let buckets = s.wait("the bucket rows", || {
        let v = s.script(
            "return [...document.querySelectorAll('#result-table .buckets tbody tr')]\
               .map(tr => [...tr.cells].map(c => c.textContent));",
            json!([]),
        );
        let rows: Vec<Vec<String>> = serde_json::from_value(v).unwrap();
        (!rows.is_empty()).then_some(rows)
    });
    assert_eq!(
        buckets,
        [
            ["[-1, -0.5)", "61"],
            ["[-0.001, 0.001]", "61"],
            ["(0.5, 1]", "61"],
            ["(1, 2]", "122"],
            ["(2, 4]", "61"]
        ]
    );
    assert_eq!(
        texts(&s, "#result-table .histogram .totals"),
        ["Count: 366, Sum: 91.5"]
    );
    assert_eq!(
        texts(&s, "#result-table > tbody > tr > td:first-child"),
        ["e2e_latency_seconds{path=\"/a\"}"]
    );
    let rules = s.script_async(
        "const [done] = arguments; import('/ui/js/histogram.js')\
           .then((h) => done([0, 1, 2, 3].map((r) => h.bucketRange([r, '1', '2', '5']))))\
           .catch((e) => done(String(e)));",
        json!([]),
    );
    assert_eq!(rules, json!(["(1, 2]", "[1, 2)", "(1, 2)", "[1, 2]"]));
    assert_contrast(&s, "with a histogram in the table");
    shot(&s, "histogram-table.png");

    s.click(&s.find("#tab-graph"));
    let paths = s.wait("three quantile lines", || {
        let d = texts_attr(&s, "#chart svg path.series", "d");
        (d.len() == 3).then_some(d)
    });
    for d in &paths {
        let points = d.matches(['M', 'L']).count();
        assert!(
            points >= 100,
            "a quantile drawn with only {points} points: {d}"
        );
    }
    let names = ["p50", "p90", "p99"].map(|q| format!("{q} e2e_latency_seconds{{path=\"/a\"}}"));
    assert_eq!(texts(&s, "#legend .legend-label"), names);
    let summary = texts(&s, "#graph-summary");
    assert!(
        summary[0].ends_with("(3 of them quantiles of native histograms)"),
        "{summary:?}"
    );
    // The proportions never change, so every step's quantile is the
    // server's quantile now.
    let svg = s.find("#chart svg");
    s.hover(&svg, 200, 0);
    let tip = s.wait("the hover tooltip", || {
        let rows = texts(&s, "#chart-tooltip:not([hidden]) .row strong");
        (rows.len() == 3).then_some(rows)
    });
    for (q, shown) in ["0.5", "0.9", "0.99"].iter().zip(&tip) {
        let api = srv.get_json(
            "/api/v1/query",
            ("X-Scope-OrgID", "anonymous"),
            &[(
                "query",
                &format!("histogram_quantile({q}, e2e_latency_seconds)"),
            )],
        );
        let want: f64 = api["data"]["result"][0]["value"][1]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        let got: f64 = shown.parse().unwrap();
        assert!(
            (got - want).abs() <= 1e-9 * want.abs(),
            "p{q}: {got} vs {want}"
        );
    }
    assert!(tip[0] != tip[1] && tip[1] != tip[2], "{tip:?}");
    assert_contrast(&s, "with quantile lines");
    shot(&s, "histogram-graph.png");

    // Floats next to histograms: the float is drawn as itself.
    run_query(&s, "e2e_latency_seconds or vector(0.5)");
    s.wait_script(
        "a float line and three quantile lines",
        "return document.querySelectorAll('#chart svg path.series').length",
        &json!(4),
    );
    let legend = texts(&s, "#legend .legend-label");
    assert_eq!(legend[0], "{}");
    assert_eq!(legend[1..], names);

    // A range vector in the table lists each histogram with its time.
    s.click(&s.find("#tab-table"));
    run_query(&s, "e2e_latency_seconds[1m]");
    let cell = s.wait("the histograms of the last minute", || {
        texts(&s, "#result-table > tbody > tr > td:last-child")
            .into_iter()
            .next()
            .filter(|c| c.contains("histogram"))
    });
    assert!(
        cell.starts_with("histogram (count 360, sum 90)")
            || cell.starts_with("histogram (count 354, sum 88.5)"),
        "{cell}"
    );
    assert!(cell.contains("histogram (count 366, sum 91.5) @"), "{cell}");
}
