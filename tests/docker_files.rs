//! Checks on the files under `docker/`: nothing there can be run in CI (no
//! container engine), so this test reads them instead. It parses the compose
//! file, the Grafana provisioning and dashboard, the Prometheus agent config
//! and the alert rules, and checks that every local path they name exists,
//! that ports and URLs agree, that every metric they query is one Tessera
//! exports (by the text of `src/api/metrics.rs`), that the demo tokens hash
//! to what `tessera.yml` stores, and that `tessera.yml` loads. When
//! `promtool` is on `PATH` it also checks the rules and the agent config.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value as Json;
use serde_yaml::Value as Yaml;
use sha2::{Digest, Sha256};
use tessera::promql::parser::{self, Expr};

const TESSERA_URL: &str = "http://tessera:9201";
const WRITE_URL: &str = "http://tessera:9201/api/v1/write";
/// Series a scraper makes up itself, not exported by Tessera.
const SCRAPER_SERIES: [&str; 1] = ["up"];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn docker_dir() -> PathBuf {
    root().join("docker")
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn yaml(rel: &str) -> Yaml {
    let path = docker_dir().join(rel);
    serde_yaml::from_str(&read(&path)).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The files that render `/metrics`.
fn metrics_source() -> String {
    read(&root().join("src/api/metrics.rs"))
        + &read(&root().join("src/api/metrics_bucket.rs"))
        + &read(&root().join("src/cluster/node.rs"))
}

fn str_at<'a>(v: &'a Yaml, path: &[&str]) -> &'a str {
    let mut cur = v;
    for k in path {
        cur = &cur[*k];
    }
    cur.as_str()
        .unwrap_or_else(|| panic!("{path:?} is not a string"))
}

fn seq(v: &Yaml) -> &Vec<Yaml> {
    v.as_sequence()
        .unwrap_or_else(|| panic!("not a sequence: {v:?}"))
}

// ---- metric names ----------------------------------------------------------

/// Collects the metric names of every selector in an expression.
fn collect_names(e: &Expr, out: &mut BTreeSet<String>) -> Result<(), String> {
    let selector = match e {
        Expr::Vector(vs) => Some(&**vs),
        Expr::Matrix(ms) => Some(&ms.vs),
        _ => None,
    };
    if let Some(vs) = selector {
        if vs.name.is_empty() {
            return Err(format!("selector without a metric name: {vs}"));
        }
        out.insert(vs.name.clone());
        return Ok(());
    }
    let children: Vec<&Expr> = match e {
        Expr::Subquery(s) => vec![&s.expr],
        Expr::Paren(p) => vec![&p.expr],
        Expr::Unary(u) => vec![&u.expr],
        Expr::Binary(b) => vec![&b.lhs, &b.rhs],
        Expr::Aggregate(a) => a.param.iter().chain([&a.expr]).collect(),
        Expr::Call(c) => c.args.iter().collect(),
        _ => Vec::new(),
    };
    children.into_iter().try_for_each(|c| collect_names(c, out))
}

/// The metric names an expression selects; Grafana's variables are replaced
/// by values that parse first.
fn metric_names(expr: &str) -> BTreeSet<String> {
    let text = expr
        .replace("$__rate_interval", "5m")
        .replace("$__interval", "1m")
        .replace("$tenant", ".*");
    let ast = parser::parse(&text).unwrap_or_else(|e| panic!("{expr}: {e}"));
    let mut names = BTreeSet::new();
    collect_names(&ast, &mut names).unwrap_or_else(|e| panic!("{expr}: {e}"));
    names
}

/// Whether `src/api/metrics.rs` renders `name`: the family name appears as
/// a string literal, or `name` is `<base>_bucket`/`_sum`/`_count` and the
/// code binding `let name = "<base>";` writes `{name}<suffix>` before the
/// next such binding (that is how the histogram and the summary are written).
fn exported(src: &str, name: &str) -> bool {
    if src.contains(&format!("\"{name}\"")) {
        return true;
    }
    ["_bucket", "_sum", "_count"].iter().any(|suffix| {
        let Some(base) = name.strip_suffix(suffix) else {
            return false;
        };
        let Some(at) = src.find(&format!("let name = \"{base}\";")) else {
            return false;
        };
        let rest = &src[at + 1..];
        let scope = &rest[..rest.find("let name = ").unwrap_or(rest.len())];
        // A family declared a histogram has all three series; a summary
        // only `_sum` and `_count`.
        let kinds: &[&str] = match *suffix {
            "_bucket" => &["\"histogram\""],
            _ => &["\"histogram\"", "\"summary\""],
        };
        kinds.iter().any(|k| scope.contains(k)) || scope.contains(&format!("{{name}}{suffix}"))
    })
}

fn assert_exported(names: &BTreeSet<String>, origin: &str) {
    let src = metrics_source();
    for n in names {
        assert!(
            exported(&src, n) || SCRAPER_SERIES.contains(&n.as_str()),
            "{origin}: metric {n} is not exported by src/api/metrics*.rs"
        );
    }
}

#[test]
fn metric_name_extraction_and_lookup() {
    let got = metric_names(
        r#"sum by (tenant) (rate(a_total{tenant=~"$tenant"}[$__rate_interval])) / ignoring(x) b offset 5m"#,
    );
    assert_eq!(got, BTreeSet::from(["a_total".into(), "b".into()]));
    let src = metrics_source();
    assert!(exported(&src, "tessera_samples_rejected_total"));
    assert!(exported(
        &src,
        "tessera_http_request_duration_seconds_bucket"
    ));
    assert!(exported(&src, "tessera_wal_fsync_duration_seconds_count"));
    assert!(exported(&src, "tessera_query_duration_seconds_bucket"));
    assert!(!exported(&src, "tessera_samples_dropped_total"));
    assert!(!exported(&src, "tessera_active_series_bucket"));
    assert!(!exported(&src, "tessera_wal_fsync_duration_seconds_bucket"));
    assert!(!exported(
        &src,
        "tessera_http_request_duration_seconds_total"
    ));
}

// ---- docker-compose.yml ----------------------------------------------------

fn compose() -> Yaml {
    yaml("docker-compose.yml")
}

/// `(source, target)` of each short-syntax volume of a service.
fn volumes(service: &Yaml) -> Vec<(String, String)> {
    let Some(list) = service["volumes"].as_sequence() else {
        return Vec::new();
    };
    list.iter()
        .map(|v| {
            let s = v.as_str().expect("short volume syntax");
            let mut parts = s.splitn(3, ':');
            let src = parts.next().unwrap_or_default().to_string();
            let dst = parts
                .next()
                .unwrap_or_else(|| panic!("volume {s}: no target"));
            (src, dst.to_string())
        })
        .collect()
}

#[test]
fn compose_paths_exist() {
    let c = compose();
    let services = c["services"].as_mapping().expect("services");
    let named = c["volumes"].as_mapping().expect("top-level volumes");
    for (name, svc) in services {
        for (src, dst) in volumes(svc) {
            if src.starts_with('.') {
                let p = docker_dir().join(&src);
                assert!(p.exists(), "{name:?}: {src} ({}) is missing", p.display());
            } else if !src.starts_with('/') {
                assert!(
                    named.contains_key(src.as_str()),
                    "{name:?}: named volume {src} is not declared"
                );
            }
            assert!(
                dst.starts_with('/'),
                "{name:?}: target {dst} is not absolute"
            );
        }
    }
    let build = &c["services"]["tessera"]["build"];
    let context = docker_dir().join(str_at(build, &["context"]));
    assert!(
        context.join("Cargo.toml").is_file(),
        "build context is not the repo root"
    );
    let dockerfile = context.join(str_at(build, &["dockerfile"]));
    assert!(dockerfile.is_file(), "{} is missing", dockerfile.display());
    assert_eq!(
        dockerfile.canonicalize().ok(),
        docker_dir().join("Dockerfile").canonicalize().ok()
    );
}

/// The container path a compose service mounts `source` at.
fn mount_target(service: &Yaml, source: &str) -> String {
    volumes(service)
        .into_iter()
        .find(|(s, _)| s == source)
        .map(|(_, d)| d)
        .unwrap_or_else(|| panic!("{source} is not mounted"))
}

#[test]
fn compose_ports_and_commands_agree() {
    let c = compose();
    let t = &c["services"]["tessera"];
    let ports: Vec<&str> = seq(&t["ports"]).iter().filter_map(Yaml::as_str).collect();
    assert_eq!(ports, ["9201:9201"]);
    let cmd: Vec<&str> = seq(&t["command"]).iter().filter_map(Yaml::as_str).collect();
    assert_eq!(cmd, ["--config", mount_target(t, "./tessera.yml").as_str()]);
    let agent = &c["services"]["prometheus-agent"];
    let args: Vec<&str> = seq(&agent["command"])
        .iter()
        .filter_map(Yaml::as_str)
        .collect();
    assert!(args.contains(&"--enable-feature=agent"), "{args:?}");
    let cfg = mount_target(agent, "./prometheus/prometheus.yml");
    assert!(
        args.contains(&format!("--config.file={cfg}").as_str()),
        "{args:?}"
    );
    let image = str_at(agent, &["image"]);
    assert!(
        image.starts_with("prom/prometheus:v2."),
        "agent flag needs 2.x: {image}"
    );
}

// ---- docker-compose.cluster.yml ----------------------------------------------

/// The cluster stack: every mounted path exists, named volumes are
/// declared, each Tessera node has a unique id and advertises its own
/// service name, and the shared config names the NATS services and the
/// SeaweedFS service the compose file runs, and loads.
#[test]
fn cluster_compose_agrees_with_its_config() {
    let c = yaml("docker-compose.cluster.yml");
    let services = c["services"].as_mapping().expect("services");
    let named = c["volumes"].as_mapping().expect("top-level volumes");
    let mut ids = BTreeSet::new();
    let mut host_ports = BTreeSet::new();
    for (name, svc) in services {
        let name = name.as_str().unwrap();
        for (src, dst) in volumes(svc) {
            if src.starts_with('.') {
                assert!(docker_dir().join(&src).exists(), "{name}: {src} is missing");
            } else {
                assert!(
                    named.contains_key(src.as_str()),
                    "{name}: volume {src} is not declared"
                );
            }
            assert!(dst.starts_with('/'), "{name}: target {dst}");
        }
        if !name.starts_with("tessera-") {
            continue;
        }
        let cmd: Vec<&str> = seq(&svc["command"])
            .iter()
            .filter_map(Yaml::as_str)
            .collect();
        let flag = |f: &str| {
            cmd[cmd
                .iter()
                .position(|a| *a == f)
                .unwrap_or_else(|| panic!("{name}: no {f}"))
                + 1]
        };
        assert!(
            ids.insert(flag("--cluster.node-id").to_string()),
            "{name}: duplicate node id"
        );
        assert_eq!(
            flag("--cluster.advertise-url"),
            format!("http://{name}:9201")
        );
        assert_eq!(flag("--config"), mount_target(svc, "./tessera-cluster.yml"));
        for p in seq(&svc["ports"]) {
            assert!(
                host_ports.insert(p.as_str().unwrap().to_string()),
                "{name}: port reused"
            );
        }
    }
    assert_eq!(ids.len(), 3, "three Tessera nodes");
    let cfg = yaml("tessera-cluster.yml");
    for url in str_at(&cfg, &["cluster", "nats_url"]).split(',') {
        let host = url.trim_start_matches("nats://").split(':').next().unwrap();
        assert!(services.contains_key(host), "{url}: no such service");
    }
    let endpoint = str_at(&cfg, &["object_storage", "endpoint"]);
    let host = endpoint
        .trim_start_matches("http://")
        .split(':')
        .next()
        .unwrap();
    assert!(services.contains_key(host), "{endpoint}: no such service");
    tessera::config::Config::load(&docker_dir().join("tessera-cluster.yml"))
        .and_then(|c| c.server_config())
        .expect("tessera-cluster.yml loads");
}

// ---- Prometheus agent --------------------------------------------------------

#[test]
fn agent_scrapes_and_writes_to_tessera() {
    let p = yaml("prometheus/prometheus.yml");
    let targets: Vec<&str> = seq(&p["scrape_configs"])
        .iter()
        .flat_map(|sc| seq(&sc["static_configs"]))
        .flat_map(|st| seq(&st["targets"]))
        .filter_map(Yaml::as_str)
        .collect();
    assert!(targets.contains(&"tessera:9201"), "{targets:?}");
    assert!(targets.contains(&"node-exporter:9100"), "{targets:?}");
    let rw = seq(&p["remote_write"]);
    assert!(!rw.is_empty());
    for w in rw {
        assert_eq!(str_at(w, &["url"]), WRITE_URL);
        let token = str_at(w, &["authorization", "credentials"]);
        token_tenant(token);
    }
}

// ---- tessera.yml -------------------------------------------------------------

/// The tenant `tessera.yml` maps a plain bearer token to, by its SHA-256.
fn token_tenant(token: &str) -> String {
    let cfg = yaml("tessera.yml");
    let digest: String = Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let entry = seq(&cfg["auth"]["tokens"])
        .iter()
        .find(|t| t["sha256"].as_str() == Some(digest.as_str()))
        .unwrap_or_else(|| panic!("token {token} is not in tessera.yml"));
    str_at(entry, &["tenant"]).to_string()
}

#[test]
fn tessera_config_loads_with_one_token_per_tenant() {
    let text = read(&docker_dir().join("tessera.yml"));
    let cfg = tessera::config::Config::from_yaml(&text).expect("tessera.yml parses");
    cfg.server_config()
        .expect("server_config accepts tessera.yml");
    assert_eq!(cfg.listen.port(), 9201);
    let raw = yaml("tessera.yml");
    assert_eq!(str_at(&raw, &["auth", "mode"]), "tokens");
    let tenants: BTreeSet<String> = seq(&raw["auth"]["tokens"])
        .iter()
        .map(|t| str_at(t, &["tenant"]).to_string())
        .collect();
    assert_eq!(tenants, BTreeSet::from(["team-a".into(), "team-b".into()]));
    assert_eq!(token_tenant("team-a-demo-token"), "team-a");
    assert_eq!(token_tenant("team-b-demo-token"), "team-b");
    for t in seq(&raw["auth"]["tokens"]) {
        let policy = &raw["auth"]["policies"][str_at(t, &["policy"])];
        assert_eq!(policy["read"].as_bool(), Some(true), "{t:?}");
        assert_eq!(policy["write"].as_bool(), Some(true), "{t:?}");
    }
}

// ---- Grafana -----------------------------------------------------------------

/// `(name, value)` of the custom HTTP headers of a Grafana data source.
fn custom_headers(ds: &Yaml) -> Vec<(String, String)> {
    (1..10)
        .map_while(|i| {
            let name = ds["jsonData"][format!("httpHeaderName{i}").as_str()].as_str()?;
            let value = ds["secureJsonData"][format!("httpHeaderValue{i}").as_str()]
                .as_str()
                .unwrap_or_else(|| panic!("httpHeaderValue{i} missing"));
            Some((name.to_string(), value.to_string()))
        })
        .collect()
}

/// Checks a data source's headers and returns the tenant its token maps to.
fn datasource_tenant(ds: &Yaml) -> String {
    assert_eq!(str_at(ds, &["type"]), "prometheus");
    assert_eq!(str_at(ds, &["url"]), TESSERA_URL);
    let headers = custom_headers(ds);
    let bearer = headers
        .iter()
        .find(|(n, _)| n == "Authorization")
        .and_then(|(_, v)| v.strip_prefix("Bearer "))
        .unwrap_or_else(|| panic!("{ds:?}: no bearer token (tokens mode needs one)"));
    let tenant = token_tenant(bearer);
    // A differing X-Scope-OrgID would be a 403 for a non-federation policy.
    if let Some((_, org)) = headers.iter().find(|(n, _)| n == "X-Scope-OrgID") {
        assert_eq!(
            org, &tenant,
            "{ds:?}: X-Scope-OrgID differs from the token's tenant"
        );
    }
    tenant
}

#[test]
fn grafana_datasources_one_per_tenant() {
    let d = yaml("grafana/provisioning/datasources/tessera.yml");
    let list = seq(&d["datasources"]);
    let mut tenants = Vec::new();
    for ds in list {
        tenants.push((str_at(ds, &["uid"]).to_string(), datasource_tenant(ds)));
    }
    assert_eq!(
        tenants,
        [
            ("tessera-team-a".to_string(), "team-a".to_string()),
            ("tessera-team-b".to_string(), "team-b".to_string())
        ]
    );
    let team_a = custom_headers(&list[0]);
    assert!(
        team_a.contains(&("X-Scope-OrgID".into(), "team-a".into())),
        "{team_a:?}"
    );
    assert_eq!(
        custom_headers(&list[1]).len(),
        1,
        "team-b sends only its token"
    );
}

#[test]
fn grafana_provisioning_paths_match_compose_mounts() {
    let c = compose();
    let g = &c["services"]["grafana"];
    for kind in ["datasources", "dashboards"] {
        let src = format!("./grafana/provisioning/{kind}");
        assert_eq!(
            mount_target(g, &src),
            format!("/etc/grafana/provisioning/{kind}")
        );
    }
    let p = yaml("grafana/provisioning/dashboards/tessera.yml");
    let providers = seq(&p["providers"]);
    assert_eq!(providers.len(), 1);
    let path = str_at(&providers[0], &["options", "path"]);
    assert_eq!(path, mount_target(g, "./grafana/dashboards"));
    let ports: Vec<&str> = seq(&g["ports"]).iter().filter_map(Yaml::as_str).collect();
    assert_eq!(ports, ["3000:3000"]);
}

fn dashboard() -> Json {
    let path = docker_dir().join("grafana/dashboards/tessera.json");
    serde_json::from_str(&read(&path)).expect("dashboard JSON parses")
}

#[test]
fn dashboard_queries_only_exported_metrics() {
    let d = dashboard();
    let panels = d["panels"].as_array().expect("panels");
    let mut names = BTreeSet::new();
    for p in panels {
        assert_eq!(p["datasource"]["uid"], "tessera-team-a", "{}", p["title"]);
        let targets = p["targets"].as_array().expect("targets");
        assert!(!targets.is_empty(), "{} has no query", p["title"]);
        for t in targets {
            names.extend(metric_names(t["expr"].as_str().expect("expr")));
        }
    }
    for v in d["templating"]["list"].as_array().expect("templating") {
        let q = v["query"]["query"].as_str().expect("variable query");
        let arg = q
            .strip_prefix("label_values(")
            .and_then(|r| r.split(',').next())
            .expect("label_values(metric, label)");
        names.extend(metric_names(arg));
    }
    assert_exported(&names, "tessera.json");
    for wanted in [
        "tessera_samples_received_total",
        "tessera_samples_rejected_total",
        "tessera_active_series",
        "tessera_http_request_duration_seconds_bucket",
    ] {
        assert!(names.contains(wanted), "dashboard lacks {wanted}");
    }
}

// ---- alerts.yml --------------------------------------------------------------

#[test]
fn alerts_use_only_exported_metrics() {
    let a = yaml("alerts.yml");
    let mut names = BTreeSet::new();
    let mut alerts = 0;
    for g in seq(&a["groups"]) {
        for r in seq(&g["rules"]) {
            names.extend(metric_names(str_at(r, &["expr"])));
            alerts += usize::from(r["alert"].is_string());
        }
    }
    assert!(alerts >= 5, "only {alerts} alerts");
    assert_exported(&names, "alerts.yml");
    assert!(names.contains("tessera_wal_fsync_duration_seconds_sum"));
    assert!(names.contains("tessera_samples_rejected_total"));
}

// ---- Dockerfile ----------------------------------------------------------------

/// Instructions of the final stage (after the last `FROM`), continuation
/// lines joined.
fn runtime_stage() -> Vec<String> {
    let text = read(&docker_dir().join("Dockerfile")).replace("\\\n", " ");
    let lines: Vec<String> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(String::from)
        .collect();
    let last_from = lines
        .iter()
        .rposition(|l| l.starts_with("FROM "))
        .expect("FROM");
    assert!(lines[0].starts_with("FROM rust:"), "builder: {}", lines[0]);
    assert!(lines
        .iter()
        .any(|l| l.contains("cargo build --release --locked")));
    lines[last_from..].to_vec()
}

fn instruction<'a>(stage: &'a [String], keyword: &str) -> &'a str {
    stage
        .iter()
        .rev()
        .find_map(|l| l.strip_prefix(keyword).map(str::trim))
        .unwrap_or_else(|| panic!("runtime stage has no {keyword}"))
}

#[test]
fn dockerfile_runtime_stage() {
    let stage = runtime_stage();
    assert_eq!(instruction(&stage, "EXPOSE "), "9201");
    assert_eq!(instruction(&stage, "VOLUME "), "/data");
    let user = instruction(&stage, "USER ");
    let uid = user.split(':').next().unwrap_or_default();
    assert!(!["root", "0", ""].contains(&uid), "USER {user}");
    let health = instruction(&stage, "HEALTHCHECK ");
    assert!(
        health.contains("http://127.0.0.1:9201/-/healthy"),
        "{health}"
    );
    let tool = if health.contains("curl ") {
        "curl"
    } else {
        "wget"
    };
    assert!(
        stage
            .iter()
            .any(|l| l.starts_with("RUN ") && l.contains(&format!(" {tool}"))),
        "HEALTHCHECK uses {tool}, which is not installed"
    );
    assert_eq!(
        instruction(&stage, "ENTRYPOINT "),
        r#"["tessera", "serve", "--data-dir", "/data"]"#
    );
}

// ---- promtool ----------------------------------------------------------------

/// Runs `promtool` with `args` in `docker/`; `None` when it is not installed.
fn promtool(args: &[&str]) -> Option<std::process::Output> {
    match Command::new("promtool")
        .args(args)
        .current_dir(docker_dir())
        .output()
    {
        Ok(out) => Some(out),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            eprintln!("promtool not on PATH; skipping promtool {args:?}");
            None
        }
        Err(e) => panic!("promtool: {e}"),
    }
}

fn assert_success(out: &std::process::Output, what: &str) {
    assert!(
        out.status.success(),
        "{what} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn promtool_checks_rules() {
    if let Some(out) = promtool(&["check", "rules", "alerts.yml"]) {
        assert_success(&out, "promtool check rules alerts.yml");
    }
}

#[test]
fn promtool_checks_agent_config() {
    let Some(help) = promtool(&["check", "config", "--help"]) else {
        return;
    };
    let text = String::from_utf8_lossy(&help.stdout) + String::from_utf8_lossy(&help.stderr);
    if !text.contains("--agent") {
        eprintln!("this promtool has no `check config --agent`; skipping");
        return;
    }
    if let Some(out) = promtool(&["check", "config", "--agent", "prometheus/prometheus.yml"]) {
        assert_success(&out, "promtool check config --agent");
    }
}
