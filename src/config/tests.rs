use std::time::Duration;

use clap::Parser;

use super::*;

/// The example from README.md, kept in step with it by this test.
pub(crate) const EXAMPLE: &str = r#"
listen: "0.0.0.0:9201"
data_dir: /var/lib/tessera
wal:
  sync: batch:200ms
  segment_size: 134217728
block_range: 2h
maintenance_interval: 1m
shutdown_timeout: 45s
query:
  lookback_delta: 10m
  max_samples: 1000000
  max_series: 50000
  timeout: 30s
limits:
  ingestion_rate: 100000
  ingestion_burst: 200000
  max_series_per_tenant: 1000000
  max_series_per_metric: 50000
  max_label_names_per_series: 30
  max_label_name_length: 1024
  max_label_value_length: 2048
  retention: 15d
tenants:
  team-a:
    ingestion_rate: 10000
    max_series_per_tenant: 150000
    out_of_order_window: 10m
  team-b:
    max_series_per_metric: 0
    retention: 90d
auth:
  mode: tokens
  tokens:
    # sha256 of "team-a-grafana-token" and "team-b-writer-token"
    - {name: team-a-grafana, sha256: "733313f21edb5da29790f74de3058719669d0d0742a7fbfead0ac344c92d4b92", tenant: team-a, policy: reader}
    - {name: team-b-writer, sha256: "8fc8a7ea3f14bbd83b08aff45242c4716fe838803ff86d8f67a50b62c2d68aad", tenant: team-b, policy: writer}
  policies:
    reader: {read: true}
    writer: {write: true}
"#;

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    flags: ServeFlags,
}

fn t(s: &str) -> TenantId {
    TenantId::new(s).unwrap()
}

#[test]
fn example_with_two_tenants_resolves_overrides() {
    let cfg = Config::from_yaml(EXAMPLE).unwrap();
    assert_eq!(cfg.tenants.len(), 2);
    let sc = cfg.server_config().unwrap();
    assert_eq!(sc.listen.port(), 9201);
    assert_eq!(
        sc.storage.wal.sync,
        SyncPolicy::Batch(Duration::from_millis(200))
    );
    assert_eq!(sc.storage.wal.segment_size, 128 << 20);
    assert_eq!(sc.storage.block_range_ms, 7_200_000);
    assert_eq!(
        sc.storage.maintenance_interval,
        Some(Duration::from_secs(60))
    );
    assert_eq!(sc.shutdown_timeout, Duration::from_secs(45));
    let d = &sc.storage.tenant_defaults;
    assert_eq!(d.ooo_window_ms, 0);
    assert_eq!(d.retention_ms, Some(15 * 86_400_000));
    assert_eq!(d.limits.max_series_per_tenant, 1_000_000);
    assert_eq!(d.limits.max_label_value_length, 2048);
    let a = &sc.storage.tenant_overrides[&t("team-a")];
    assert_eq!(a.ooo_window_ms, 600_000);
    assert_eq!(a.limits.max_series_per_tenant, 150_000);
    // Inherited from `limits:`.
    assert_eq!(a.limits.max_series_per_metric, 50_000);
    assert_eq!(a.retention_ms, Some(15 * 86_400_000));
    let b = &sc.storage.tenant_overrides[&t("team-b")];
    assert_eq!(b.limits.max_series_per_metric, 0);
    assert_eq!(b.retention_ms, Some(90 * 86_400_000));
    assert_eq!(sc.rate_defaults.rate, 100_000.0);
    assert_eq!(sc.rate_overrides[&t("team-a")].rate, 10_000.0);
    assert_eq!(sc.rate_overrides[&t("team-a")].burst, 200_000);
    assert_eq!(sc.rate_overrides[&t("team-b")].rate, 100_000.0);
    assert_eq!(sc.engine.lookback_delta_ms, 600_000);
    assert_eq!(sc.engine.max_samples, 1_000_000);
    assert_eq!(sc.engine.max_series, 50_000);
    assert_eq!(sc.engine.timeout, Duration::from_secs(30));
    // The example's tokens authenticate to their tenants.
    let auth = sc.auth.as_ref().expect("an authenticator");
    let mut h = axum::http::HeaderMap::new();
    h.insert(
        "authorization",
        "Bearer team-a-grafana-token".parse().unwrap(),
    );
    let caller = auth.authenticate(&h).unwrap();
    assert_eq!(caller.tenant.as_str(), "team-a");
    assert!(caller.policy.read && !caller.policy.write);
}

#[test]
fn empty_file_gives_defaults() {
    let cfg = Config::from_yaml("").unwrap();
    assert_eq!(cfg, Config::default());
    let sc = cfg.server_config().unwrap();
    // Storage's own defaults, except the label limits a shared server
    // needs (Mimir's values).
    let mut want = TenantConfig::default();
    want.limits.max_label_names_per_series = 30;
    want.limits.max_label_name_length = 1024;
    want.limits.max_label_value_length = 2048;
    // ...and Prometheus's exemplar buffer size.
    want.max_exemplars = 100_000;
    assert_eq!(sc.storage.tenant_defaults, want);
    assert_eq!(
        sc.storage.block_range_ms,
        crate::storage::DEFAULT_BLOCK_RANGE_MS
    );
}

#[test]
fn label_limits_default_to_mimirs_and_zero_makes_them_unlimited() {
    let sc = Config::from_yaml(
        "limits:
  max_label_value_length: 0
",
    )
    .unwrap()
    .server_config()
    .unwrap();
    let l = &sc.storage.tenant_defaults.limits;
    assert_eq!(l.max_label_value_length, 0);
    assert_eq!(l.max_label_name_length, 1024);
    assert_eq!(l.max_label_names_per_series, 30);
    let sc = Config::from_yaml(
        "limits:
  max_label_names_per_series: 0
tenants:
  big:
    max_label_names_per_series: 100
",
    )
    .unwrap()
    .server_config()
    .unwrap();
    assert_eq!(
        sc.storage.tenant_defaults.limits.max_label_names_per_series,
        0
    );
    let big = &sc.storage.tenant_overrides[&crate::tenant::TenantId::new("big").unwrap()];
    assert_eq!(big.limits.max_label_names_per_series, 100);
    assert_eq!(big.limits.max_label_value_length, 2048);
}

#[test]
fn unknown_keys_are_errors_naming_key_and_line() {
    let cases = [
        ("listen: \"127.0.0.1:1\"\nbogus: 1\n", "bogus", "line 2"),
        (
            "wal:\n  sync: none\n  segmnt_size: 1\n",
            "segmnt_size",
            "line 3",
        ),
        ("limits:\n  ingestion_rte: 5\n", "ingestion_rte", "line 2"),
        (
            "tenants:\n  a:\n    max_series: 5\n",
            "max_series",
            "line 3",
        ),
    ];
    for (yaml, key, line) in cases {
        let e = Config::from_yaml(yaml).unwrap_err().to_string();
        assert!(e.contains(key) && e.contains(line), "{yaml:?}: {e}");
    }
}

#[test]
fn bad_values_are_errors() {
    for yaml in [
        "block_range: 2 hours\n",
        "block_range: 7200\n",
        "wal:\n  sync: sometimes\n",
        "block_range: 0s\n",
        "tenants:\n  \"a/b\": {}\n",
    ] {
        let r = Config::from_yaml(yaml).and_then(|c| c.server_config().map(|_| ()));
        assert!(r.is_err(), "{yaml:?} was accepted");
    }
}

#[test]
fn flags_override_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tessera.yml");
    std::fs::write(&path, EXAMPLE).unwrap();
    let cli = Cli::try_parse_from([
        "serve",
        "--config",
        path.to_str().unwrap(),
        "--listen",
        "127.0.0.1:7777",
        "--wal.sync",
        "always",
        "--block-range",
        "1h",
        "--maintenance-interval",
        "0",
    ])
    .unwrap();
    let cfg = Config::from_flags(&cli.flags).unwrap();
    assert_eq!(cfg.listen.to_string(), "127.0.0.1:7777");
    assert_eq!(cfg.wal.sync, SyncPolicy::Always);
    // Not given as flags: the file's values stand.
    assert_eq!(cfg.data_dir, PathBuf::from("/var/lib/tessera"));
    assert_eq!(cfg.wal.segment_size, 128 << 20);
    let sc = cfg.server_config().unwrap();
    assert_eq!(sc.storage.block_range_ms, 3_600_000);
    assert_eq!(sc.storage.maintenance_interval, None);
    assert!(Cli::try_parse_from(["serve", "--block-range", "1 hour"]).is_err());
}

#[test]
fn missing_file_names_the_path() {
    let flags = ServeFlags {
        config: Some(PathBuf::from("does-not-exist.yml")),
        ..Default::default()
    };
    let e = Config::from_flags(&flags).unwrap_err().to_string();
    assert!(e.contains("does-not-exist.yml"), "{e}");
}

#[test]
fn query_flags_override_the_file_and_zero_durations_are_refused() {
    let cli = Cli::try_parse_from([
        "serve",
        "--query.lookback-delta",
        "2m",
        "--query.max-samples",
        "123",
        "--query.timeout",
        "5s",
    ])
    .unwrap();
    let mut cfg = Config::from_yaml(EXAMPLE).unwrap();
    cfg.apply_flags(&cli.flags);
    let sc = cfg.server_config().unwrap();
    assert_eq!(sc.engine.lookback_delta_ms, 120_000);
    assert_eq!(sc.engine.max_samples, 123);
    assert_eq!(sc.engine.max_series, 50_000, "from the file");
    assert_eq!(sc.engine.timeout, Duration::from_secs(5));
    let defaults = Config::default().server_config().unwrap();
    assert_eq!(defaults.engine.lookback_delta_ms, 300_000);
    assert_eq!(defaults.engine.max_samples, 50_000_000);
    let zero = Config::from_yaml("query:\n  lookback_delta: 0s\n").unwrap();
    let e = zero.server_config().unwrap_err().to_string();
    assert!(e.contains("query.lookback_delta"), "{e}");
    assert!(Config::from_yaml("query:\n  lookback: 5m\n").is_err());
}

#[test]
fn object_storage_from_the_file_and_flags() {
    let yaml = r#"
data_dir: /data
object_storage:
  url: s3://metrics/tessera
  endpoint: http://127.0.0.1:8333
  region: us-east-1
  access_key_id: key
  secret_access_key: secret
  allow_http: true
  local_retention: 6h
  cache: {dir: /data/cache, max_bytes: 10GiB}
"#;
    let cfg = Config::from_yaml(yaml).unwrap();
    let os = cfg.server_config().unwrap().storage.object_storage.unwrap();
    assert_eq!(os.url, "s3://metrics/tessera");
    assert_eq!(os.endpoint.as_deref(), Some("http://127.0.0.1:8333"));
    assert_eq!(os.access_key_id.as_deref(), Some("key"));
    assert!(os.allow_http);
    assert_eq!(os.local_retention, Duration::from_secs(6 * 3600));
    assert_eq!(os.cache_dir, PathBuf::from("/data/cache"));
    assert_eq!(os.cache_max_bytes, 10 << 30);

    let cli = Cli::try_parse_from([
        "serve",
        "--object-storage.url",
        "file:///srv/bucket",
        "--object-storage.allow-http",
        "--object-storage.cache.max-bytes",
        "512MiB",
        "--object-storage.deletion-delay",
        "30s",
    ])
    .unwrap();
    let os = Config::from_flags(&cli.flags)
        .unwrap()
        .server_config()
        .unwrap()
        .storage
        .object_storage
        .unwrap();
    assert_eq!(os.url, "file:///srv/bucket");
    assert!(os.allow_http);
    assert_eq!(os.cache_max_bytes, 512 << 20);
    assert_eq!(os.deletion_delay, Duration::from_secs(30));
    assert_eq!(os.cache_dir, PathBuf::from("./data/cache"));

    // No url: no bucket, whatever else is set.
    let none = Config::from_yaml("object_storage: {allow_http: true}").unwrap();
    assert!(none
        .server_config()
        .unwrap()
        .storage
        .object_storage
        .is_none());
    for bad in [
        "object_storage: {cache: {max_bytes: 10 gigs}}",
        "object_storage: {cache: {max_bytes: -1}}",
        "object_storage: {bucket: x}",
    ] {
        assert!(Config::from_yaml(bad).is_err(), "{bad}");
    }
}

#[test]
fn cluster_section_from_the_file_and_flags() {
    let yaml = r#"
listen: "10.0.0.1:9201"
block_range: 2h
object_storage: {url: "s3://b/p"}
limits: {partitions: 4}
tenants:
  big: {partitions: 0}
cluster:
  nats_url: "nats://n1:4222, nats://n2:4222"
  node_id: node-a
  partitions: 32
  replicas: 3
"#;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.yml");
    std::fs::write(&path, yaml).unwrap();
    let cli = Cli::try_parse_from([
        "serve",
        "--config",
        path.to_str().unwrap(),
        "--cluster.node-id",
        "node-b",
        "--cluster.lease-ttl",
        "5s",
    ])
    .unwrap();
    let sc = Config::from_flags(&cli.flags)
        .unwrap()
        .server_config()
        .unwrap();
    let c = sc.cluster.expect("cluster mode");
    assert_eq!(c.nats_urls, ["nats://n1:4222", "nats://n2:4222"]);
    assert_eq!(c.node_id, "node-b");
    assert_eq!(c.advertise_url, "http://10.0.0.1:9201");
    assert_eq!((c.partitions, c.replicas), (32, 3));
    assert_eq!(c.lease_ttl, Duration::from_secs(5));
    // Default retention: twice the block range plus an hour.
    assert_eq!(c.retention, Duration::from_secs(5 * 3600));
    assert_eq!(c.shard(&t("small")).len(), 4);
    assert_eq!(c.shard(&t("big")).len(), 32);
    // Without nats_url: a single node, whatever else the section says.
    let single = Config::from_yaml("cluster: {partitions: 3}").unwrap();
    assert!(single.server_config().unwrap().cluster.is_none());
}

/// NATS credentials and TLS files: relative paths are the config file's
/// directory's, each must be readable, a client certificate needs its key,
/// and the flags override the file.
#[test]
fn cluster_nats_files_resolve_and_are_checked() {
    let dir = tempfile::tempdir().unwrap();
    for f in ["ca.pem", "n.creds", "c.pem", "k.pem", "other.pem"] {
        std::fs::write(dir.path().join(f), "x").unwrap();
    }
    let load = |section: &str, flags: &[&str]| {
        let yaml = format!(
            "object_storage: {{url: \"s3://b/p\"}}\ncluster: {{nats_url: \"nats://n1:4222\", node_id: a, {section}}}\n"
        );
        let path = dir.path().join("c.yml");
        std::fs::write(&path, yaml).unwrap();
        let mut args = vec!["serve", "--config", path.to_str().unwrap()];
        args.extend_from_slice(flags);
        let cli = Cli::try_parse_from(args).unwrap();
        Config::from_flags(&cli.flags)
            .and_then(|c| c.server_config())
            .map(|sc| sc.cluster.expect("cluster mode").nats_auth)
            .map_err(|e| e.to_string())
    };
    let a = load(
        "nats_creds: n.creds, nats_tls_ca: ca.pem, nats_tls_cert: c.pem, nats_tls_key: k.pem",
        &[],
    )
    .unwrap();
    assert_eq!(a.creds, Some(dir.path().join("n.creds")));
    assert_eq!(a.tls_ca, Some(dir.path().join("ca.pem")));
    assert_eq!(
        a.tls_client,
        Some((dir.path().join("c.pem"), dir.path().join("k.pem")))
    );
    let other = dir.path().join("other.pem");
    let a = load(
        "nats_tls_ca: ca.pem",
        &["--cluster.nats-tls-ca", other.to_str().unwrap()],
    )
    .unwrap();
    assert_eq!(a.tls_ca, Some(other));
    assert_eq!(load("", &[]).unwrap(), crate::cluster::NatsAuth::default());
    let e = load("nats_creds: missing.creds", &[]).unwrap_err();
    assert!(
        e.contains("cluster.nats_creds") && e.contains("missing.creds"),
        "{e}"
    );
    let e = load("nats_tls_cert: c.pem", &[]).unwrap_err();
    assert!(e.contains("cluster.nats_tls_key"), "{e}");
}

#[test]
fn bad_cluster_settings_name_the_key() {
    let cases = [
        ("cluster: {nats_url: \"nats://x:4222\", node_id: a}", "object_storage.url"),
        ("object_storage: {url: \"memory://x\"}\ncluster: {nats_url: \" , \", node_id: a}", "cluster.nats_url"),
        ("object_storage: {url: \"memory://x\"}\ncluster: {nats_url: \"nats://x\", node_id: a, partitions: 2000}", "cluster.partitions"),
        ("object_storage: {url: \"memory://x\"}\ncluster: {nats_url: \"nats://x\", node_id: a, replicas: 0}", "cluster.replicas"),
        ("object_storage: {url: \"memory://x\"}\ncluster: {nats_url: \"nats://x\", node_id: \"a/b\"}", "cluster.node_id"),
        ("object_storage: {url: \"memory://x\"}\ncluster: {nats_url: \"nats://x\", node_id: a, lease_ttl: 100ms}", "cluster.lease_ttl"),
        ("object_storage: {url: \"memory://x\"}\ncluster: {nats_url: \"nats://x\", node_id: a, advertise_url: \"10.0.0.1:9201\"}", "cluster.advertise_url"),
        ("object_storage: {url: \"memory://x\"}\ncluster: {nats_url: \"nats://x\", node_id: a, retention: 1h}", "cluster.retention"),
        ("cluster: {no_such_key: 1}", "no_such_key"),
    ];
    for (yaml, key) in cases {
        let e = Config::from_yaml(yaml)
            .and_then(|c| c.server_config().map(|_| ()))
            .expect_err(yaml);
        assert!(e.to_string().contains(key), "{yaml}: {e}");
    }
}

#[test]
fn max_exemplars_inherits_and_is_bounded() {
    let cfg = Config::from_yaml(
        "limits:\n  max_exemplars: 500\ntenants:\n  a:\n    max_exemplars: 0\n  b: {}\n",
    )
    .unwrap();
    let sc = cfg.server_config().unwrap();
    assert_eq!(sc.storage.tenant_defaults.max_exemplars, 500);
    let t = |s: &str| crate::tenant::TenantId::new(s).unwrap();
    assert_eq!(sc.storage.tenant_overrides[&t("a")].max_exemplars, 0);
    assert_eq!(sc.storage.tenant_overrides[&t("b")].max_exemplars, 500);
    let err = Config::from_yaml("tenants:\n  a:\n    max_exemplars: 20000000\n")
        .unwrap()
        .server_config()
        .unwrap_err()
        .to_string();
    assert!(err.contains("tenants.a.max_exemplars is 20000000"), "{err}");
}

#[test]
fn otlp_settings_default_and_per_tenant() {
    use crate::ingest::otlp::TranslationStrategy;
    let sc = Config::from_yaml(
        "limits:\n  otlp:\n    translation_strategy: NoUTF8EscapingWithSuffixes\n    promote_resource_attributes: [cloud.region]\ntenants:\n  a:\n    otlp:\n      promote_all_resource_attributes: true\n  b:\n    ingestion_rate: 5\n",
    )
    .unwrap()
    .server_config()
    .unwrap();
    assert_eq!(
        sc.otlp_defaults.translation_strategy,
        TranslationStrategy::NoUtf8EscapingWithSuffixes
    );
    assert_eq!(
        sc.otlp_defaults.promote_resource_attributes,
        ["cloud.region"]
    );
    // A tenant's `otlp:` replaces the default whole; without one it inherits.
    let a = &sc.otlp_overrides[&t("a")];
    assert!(a.promote_all_resource_attributes);
    assert_eq!(
        a.translation_strategy,
        TranslationStrategy::UnderscoreEscapingWithSuffixes
    );
    assert_eq!(sc.otlp_overrides[&t("b")], sc.otlp_defaults);
    let e = Config::from_yaml("limits:\n  otlp:\n    translation_strategy: Sometimes\n")
        .unwrap_err()
        .to_string();
    assert!(e.contains("Sometimes"), "{e}");
}
