//! Tenant isolation in the bucket, next to `tests/isolation.rs`: two
//! tenants with identical series in one bucket never mix, not after the
//! machine is replaced, not through a tenant whose name is a prefix of
//! another's, and not when one tenant's index is made to name another's
//! blocks. Retention applies per tenant. Both backends: SeaweedFS (S3)
//! and `object_store`'s local filesystem.

mod bucket;
mod weed;

use bucket::{answers, load, open, storage_config, tenant, with_retention, Backend, RANGE};
use tessera::storage::bucket::Bucket;
use tessera::storage::{MatchOp, Matcher};

fn all() -> Matcher {
    Matcher::new(MatchOp::Regex, "__name__", ".+").unwrap()
}

#[test]
fn tenants_in_one_bucket_never_mix() {
    for backend in Backend::both() {
        let data = tempfile::tempdir().unwrap();
        let cfg = storage_config(data.path(), &backend);
        // "team" is a prefix of "team-a": keys must not confuse them.
        let (a, b, c) = (tenant("team"), tenant("team-a"), tenant("nobody"));
        let st = open(&cfg);
        load(&st, &a, 4, 1.0);
        load(&st, &b, 4, 5.0);
        st.ship().unwrap();
        let before = (answers(&st, &a, 4), answers(&st, &b, 4));
        drop(st);
        std::fs::remove_dir_all(data.path()).unwrap();
        let st = open(&cfg);
        assert_eq!(
            (answers(&st, &a, 4), answers(&st, &b, 4)),
            before,
            "{}",
            backend.name()
        );
        for t in [&a, &b] {
            let got = st.querier(t, 0, 4 * 3_600_000).select(&[all()]).unwrap();
            let k = if t == &a { 1.0 } else { 5.0 };
            for s in &got {
                let i: f64 = s.labels.get("instance").unwrap()[5..].parse().unwrap();
                for x in &s.samples {
                    assert_eq!(
                        x.v,
                        k * (i + 1.0) * x.t as f64 / 1000.0,
                        "{} {t}",
                        backend.name()
                    );
                }
            }
        }
        assert!(st
            .querier(&c, 0, i64::MAX)
            .select(&[all()])
            .unwrap()
            .is_empty());
    }
}

/// Tenant `a`'s index is overwritten with tenant `b`'s (a bug or a
/// hostile writer): `a`'s queries fail or come back empty, and never hold
/// `b`'s samples, because every key is built under `a`'s own prefix.
#[test]
fn an_index_naming_another_tenants_blocks_cannot_read_them() {
    let backend = Backend::file();
    let data = tempfile::tempdir().unwrap();
    let cfg = storage_config(data.path(), &backend);
    let (a, b) = (tenant("a"), tenant("b"));
    let st = open(&cfg);
    load(&st, &a, 2, 1.0);
    load(&st, &b, 2, 7.0);
    st.ship().unwrap();
    drop(st);
    let os = cfg.object_storage.clone().unwrap();
    let bucket = Bucket::connect(&os).unwrap();
    let b_index = bucket
        .get(&bucket.path(["b", "bucket-index.json.gz"]))
        .unwrap()
        .unwrap();
    bucket
        .put(&bucket.path(["a", "bucket-index.json.gz"]), b_index)
        .unwrap();
    std::fs::remove_dir_all(data.path()).unwrap();
    let st = open(&cfg);
    match st.querier(&a, 0, RANGE).select(&[all()]) {
        Err(e) => eprintln!("refused as expected: {e}"),
        Ok(got) => {
            let samples: usize = got.iter().map(|s| s.samples.len()).sum();
            assert_eq!(samples, 0, "tenant a read tenant b's blocks: {got:?}");
        }
    }
}

/// Retention is the tenant's own: `short` loses its old blocks in the
/// bucket (marked, then deleted), `long` keeps everything.
#[test]
fn retention_in_the_bucket_is_per_tenant() {
    for backend in Backend::both() {
        let data = tempfile::tempdir().unwrap();
        let mut cfg = storage_config(data.path(), &backend);
        let (short, long) = (tenant("short"), tenant("long"));
        cfg.tenant_overrides
            .insert(short.clone(), with_retention(4 * 3_600_000));
        let st = open(&cfg);
        load(&st, &short, 12, 1.0);
        load(&st, &long, 12, 1.0);
        st.ship().unwrap();
        let keep_long = answers(&st, &long, 12);
        // The first round marks and (with no delay) deletes.
        st.maintain_bucket().unwrap();
        st.maintain_bucket().unwrap();
        let oldest = st.blocks(&short).iter().map(|b| b.min_time).min().unwrap();
        assert!(
            oldest >= 6 * 3_600_000,
            "{}: short kept {oldest}",
            backend.name()
        );
        assert!(st
            .querier(&short, 0, 3_600_000)
            .select(&[all()])
            .unwrap()
            .is_empty());
        assert_eq!(answers(&st, &long, 12), keep_long);
        let os = cfg.object_storage.clone().unwrap();
        let bucket = Bucket::connect(&os).unwrap();
        let short_objects = bucket.list(&bucket.path(["short"])).unwrap();
        let long_objects = bucket.list(&bucket.path(["long"])).unwrap();
        // short: 3 blocks of 3 files left (and its index); long: all 6 (or compacted).
        assert!(
            short_objects.len() <= 3 * 3 + 1,
            "{}: {short_objects:?}",
            backend.name()
        );
        assert!(!long_objects.is_empty());
        drop(st);
        std::fs::remove_dir_all(data.path()).unwrap();
        let st = open(&cfg);
        assert_eq!(answers(&st, &long, 12), keep_long, "{}", backend.name());
        assert!(st
            .querier(&short, 0, 3_600_000)
            .select(&[all()])
            .unwrap()
            .is_empty());
    }
}

/// Deleting tenant `team` removes its blocks from the bucket too (a new
/// machine on the same bucket finds nothing of it), while `team-a`, whose
/// name it prefixes and whose series are the same, keeps every answer.
#[test]
fn deleting_a_tenant_removes_its_objects_and_nothing_of_another() {
    for backend in Backend::both() {
        let data = tempfile::tempdir().unwrap();
        let cfg = storage_config(data.path(), &backend);
        let (a, b) = (tenant("team"), tenant("team-a"));
        let st = open(&cfg);
        load(&st, &a, 4, 1.0);
        load(&st, &b, 4, 1.0);
        st.ship().unwrap();
        let before_b = answers(&st, &b, 4);
        assert!(st.delete_tenant(&a).unwrap(), "{}", backend.name());
        assert!(st
            .querier(&a, 0, i64::MAX)
            .select(&[all()])
            .unwrap()
            .is_empty());
        assert_eq!(answers(&st, &b, 4), before_b, "{}", backend.name());
        drop(st);
        std::fs::remove_dir_all(data.path()).unwrap();
        let st = open(&cfg);
        assert!(
            st.querier(&a, 0, i64::MAX)
                .select(&[all()])
                .unwrap()
                .is_empty(),
            "{}: the deleted tenant came back from the bucket",
            backend.name()
        );
        // (SeaweedFS may keep the emptied prefix as a directory, so the
        // tenant can still be listed, with nothing in it.)
        assert_eq!(answers(&st, &b, 4), before_b, "{}", backend.name());
    }
}
