//! The real Python client against the push endpoints:
//! `prometheus_client.push_to_gateway` then `delete_from_gateway`.
//!
//! Needs `python3` with `prometheus_client` (`pip install prometheus-client`);
//! without them the test fails and says so rather than passing vacuously.

mod http;

use std::process::Command;

use http::{read, start};
use tessera::model::is_stale_nan;

const PUSH: &str = r#"
import sys
from prometheus_client import CollectorRegistry, Counter, Gauge, push_to_gateway
reg = CollectorRegistry()
c = Counter("jobs_done", "Jobs finished.", ["kind"], registry=reg)
c.labels(kind="full").inc(3)
g = Gauge("last_success_seconds", "Last success.", ["kind"], registry=reg)
g.labels(kind="full").set(42.5)
push_to_gateway(sys.argv[1], job="batch", registry=reg, grouping_key={"instance": "a/b"})
"#;

const DELETE: &str = r#"
import sys
from prometheus_client import delete_from_gateway
delete_from_gateway(sys.argv[1], job="batch", grouping_key={"instance": "a/b"})
"#;

/// Runs a Python script with the gateway address as its argument,
/// panicking with its stderr if it fails.
fn python(script: &str, addr: String) {
    let out = Command::new("python3")
        .args(["-c", script, &addr])
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run python3 ({e}); install Python 3 and `pip install prometheus-client`")
        });
    assert!(
        out.status.success(),
        "python3 failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn require_client() {
    let out = Command::new("python3")
        .args(["-c", "import prometheus_client"])
        .output();
    match out {
        Ok(o) if o.status.success() => {}
        Ok(o) => panic!(
            "the Python package prometheus_client is missing; run `pip install prometheus-client`\n{}",
            String::from_utf8_lossy(&o.stderr)
        ),
        Err(e) => panic!("cannot run python3 ({e}); install Python 3 and `pip install prometheus-client`"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn python_client_push_then_delete() {
    require_client();
    let dir = tempfile::tempdir().unwrap();
    let srv = start(dir.path()).await;
    let addr = srv.addr.to_string();
    let a = addr.clone();
    tokio::task::spawn_blocking(move || python(PUSH, a))
        .await
        .unwrap();
    let st = srv.storage();
    let total = read(&st, "anonymous", "jobs_done_total");
    assert_eq!(total.len(), 1, "{total:?}");
    assert_eq!(
        total[0].0,
        r#"jobs_done_total{instance="a/b", job="batch", kind="full"}"#
    );
    assert_eq!(total[0].1.len(), 1);
    assert_eq!(total[0].1[0].v, 3.0);
    let gauge = read(&st, "anonymous", "last_success_seconds");
    assert_eq!(
        gauge[0].0,
        r#"last_success_seconds{instance="a/b", job="batch", kind="full"}"#
    );
    assert_eq!(gauge[0].1[0].v, 42.5);
    // The 0.0.4 text output names the counter family with its `_total`.
    let md = st.metadata(
        &tessera::tenant::TenantId::anonymous(),
        Some("jobs_done_total"),
        None,
    );
    assert_eq!(
        md.first().map(|m| m.kind.as_str()),
        Some("counter"),
        "{md:?}"
    );

    tokio::task::spawn_blocking(move || python(DELETE, addr))
        .await
        .unwrap();
    // Every series of the group, `_created` included, ends in a stale marker.
    for name in [
        "jobs_done_total",
        "jobs_done_created",
        "last_success_seconds",
    ] {
        let got = read(&st, "anonymous", name);
        assert_eq!(got.len(), 1, "{name}: {got:?}");
        let last = got[0].1.last().unwrap();
        assert!(is_stale_nan(last.v), "{name}: {:?}", got[0].1);
        assert_eq!(got[0].1.len(), 2, "{name}: {:?}", got[0].1);
    }
    drop(st);
    srv.stop().await;
}
