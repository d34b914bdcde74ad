//! Blocks in object storage, through the storage API, against a real S3
//! server (SeaweedFS) and against `object_store`'s local filesystem:
//! shipping, a machine replaced by one with an empty data directory,
//! compaction and retention in the bucket, and reads that fetch only the
//! ranges they need.

mod bucket;
mod weed;

use bucket::{answers, load, open, storage_config, tenant, Backend};
use tessera::storage::{MatchOp, Matcher};

/// Ships, wipes the data directory, starts again: every answer is the
/// same; then compacts in the bucket and wipes again: still the same.
#[test]
fn a_replaced_machine_answers_exactly_as_before() {
    for backend in Backend::both() {
        let data = tempfile::tempdir().unwrap();
        let cfg = storage_config(data.path(), &backend);
        let (a, b) = (tenant("team-a"), tenant("team-b"));
        let st = open(&cfg);
        load(&st, &a, 12, 1.0);
        load(&st, &b, 12, 2.0);
        assert_eq!(st.ship().unwrap(), 12, "{}", backend.name());
        let before = (answers(&st, &a, 12), answers(&st, &b, 12));
        assert_ne!(before.0, before.1, "the tenants' values differ");
        drop(st);

        std::fs::remove_dir_all(data.path()).unwrap();
        let st = open(&cfg);
        assert_eq!(st.tenant_ids(), vec![a.clone(), b.clone()]);
        let status = st.bucket_status().unwrap();
        let cold = (answers(&st, &a, 12), answers(&st, &b, 12));
        assert_eq!(
            cold,
            before,
            "{}: after replacing the machine",
            backend.name()
        );
        assert!(st.bucket_status().unwrap().fetched_bytes > status.fetched_bytes);

        st.maintain_bucket().unwrap();
        let blocks = st.blocks(&a);
        assert!(
            blocks.len() < 6,
            "{}: compacted in the bucket: {blocks:?}",
            backend.name()
        );
        assert!(blocks.iter().any(|b| b.compaction.level > 1));
        assert_eq!((answers(&st, &a, 12), answers(&st, &b, 12)), before);
        drop(st);

        std::fs::remove_dir_all(data.path()).unwrap();
        let st = open(&cfg);
        assert_eq!(
            (answers(&st, &a, 12), answers(&st, &b, 12)),
            before,
            "{}",
            backend.name()
        );
    }
}

/// A cold query for one series of a remote block fetches its index and
/// the pages holding that series, not the whole chunk file.
#[test]
fn a_cold_narrow_query_fetches_only_what_it_needs() {
    let backend = Backend::file();
    let data = tempfile::tempdir().unwrap();
    let cfg = storage_config(data.path(), &backend);
    let t = tenant("narrow");
    let st = open(&cfg);
    // One big block: 2000 series over two hours.
    for i in 0..2000 {
        let inst = format!("host-{i:04}");
        let labels = [
            tessera::model::LabelRef::new("__name__", "m"),
            tessera::model::LabelRef::new("instance", &inst),
        ];
        let samples: Vec<tessera::model::Sample> = (0..240)
            .map(|k| tessera::model::Sample::new(k * 30_000, (k * i) as f64 * 0.37))
            .collect();
        st.append(
            &t,
            &[tessera::storage::SeriesInput {
                labels: &labels,
                samples: &samples,
                histograms: &[],
            }],
        )
        .unwrap();
    }
    st.flush(&t).unwrap();
    st.ship().unwrap();
    drop(st);
    std::fs::remove_dir_all(data.path()).unwrap();
    let st = open(&cfg);
    let before = st.bucket_status().unwrap().fetched_bytes;
    let one = [
        Matcher::new(MatchOp::Equal, "__name__", "m").unwrap(),
        Matcher::new(MatchOp::Equal, "instance", "host-1234").unwrap(),
    ];
    let got = st.querier(&t, 0, 7_200_000).select(&one).unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].samples.len(), 240);
    let fetched = st.bucket_status().unwrap().fetched_bytes - before;
    let files = std::fs::read_dir(match &backend {
        Backend::File(d) => d.path().join("narrow"),
        Backend::S3(_) => unreachable!(),
    })
    .unwrap()
    .flatten()
    .find(|e| e.path().is_dir())
    .unwrap()
    .path();
    let chunks = std::fs::metadata(files.join("chunks")).unwrap().len();
    let index = std::fs::metadata(files.join("index")).unwrap().len();
    eprintln!("chunks {chunks} B, index {index} B, fetched {fetched} B");
    assert!(
        chunks > 4 * 128 * 1024,
        "the chunk file spans several pages: {chunks}"
    );
    assert!(
        fetched <= index + 2 * 128 * 1024,
        "fetched {fetched} B for one series (index {index} B, chunks {chunks} B)"
    );
    // Warm: nothing more is fetched.
    let warm_before = st.bucket_status().unwrap().fetched_bytes;
    st.querier(&t, 0, 7_200_000).select(&one).unwrap();
    assert_eq!(st.bucket_status().unwrap().fetched_bytes, warm_before);
}
