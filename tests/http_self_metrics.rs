//! Self-monitoring: `/metrics` reports what the last start's WAL replay did
//! (time, samples, repaired tails) and failed maintenance rounds.

mod http;

use tessera::model::{LabelRef, Labels, Sample};
use tessera::storage::SeriesInput;
use tessera::tenant::TenantId;

fn value(body: &str, name: &str) -> f64 {
    body.lines()
        .find(|l| l.starts_with(name) && l[name.len()..].starts_with(' '))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("{name} missing from /metrics:\n{body}"))
}

#[tokio::test]
async fn replay_and_repairs_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    let s = http::start(dir.path()).await;
    let labels = Labels::from_pairs([("__name__", "m"), ("job", "x")]);
    let refs: Vec<LabelRef> = labels.refs();
    let samples: Vec<Sample> = (0..500).map(|i| Sample::new(i * 1000, i as f64)).collect();
    s.storage()
        .append(
            &TenantId::new("acme").unwrap(),
            &[SeriesInput {
                labels: &refs,
                samples: &samples,
            }],
        )
        .unwrap();
    let body = s.get("/metrics").await.text().await.unwrap();
    assert_eq!(value(&body, "tessera_wal_repairs_total"), 0.0);
    assert_eq!(value(&body, "tessera_wal_replayed_samples"), 0.0);
    assert_eq!(
        value(&body, "tessera_storage_maintenance_failures_total"),
        0.0
    );
    s.stop().await;

    // A torn write at the end of the newest WAL segment.
    let wal = dir.path().join("tenants").join("acme").join("wal");
    let mut segs: Vec<_> = std::fs::read_dir(&wal)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.is_file()
                && p.file_name()
                    .unwrap()
                    .to_str()
                    .unwrap()
                    .chars()
                    .all(|c| c.is_ascii_digit())
        })
        .collect();
    segs.sort();
    let newest = segs.pop().expect("a WAL segment");
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&newest)
        .unwrap();
    std::io::Write::write_all(&mut f, &[0xAB; 13]).unwrap();
    drop(f);

    let s = http::start(dir.path()).await;
    let body = s.get("/metrics").await.text().await.unwrap();
    assert_eq!(value(&body, "tessera_wal_repairs_total"), 1.0, "{body}");
    assert_eq!(value(&body, "tessera_wal_replayed_samples"), 500.0);
    assert!(value(&body, "tessera_wal_replay_duration_seconds") > 0.0);
    s.stop().await;
}
