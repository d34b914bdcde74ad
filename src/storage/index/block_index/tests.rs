//! Index file tests: round trips against the in-memory model, order
//! enforcement, and corruption that must surface as errors, never panics.

use std::path::Path;

use super::{
    checksum, ChunkMeta, IndexReader, IndexWriter, CRC_LEN, HEADER_LEN, NUM_SECTIONS, TOC_LEN,
};
use crate::model::Labels;
use crate::storage::error::StorageError;
use crate::storage::index::select::{label_names, label_values, select, PostingsSource};
use crate::storage::index::select_tests::{brute_force, matchers_strategy};
use proptest::prelude::*;

type Series = Vec<(Labels, Vec<ChunkMeta>)>;

fn write(path: &Path, series: &Series) {
    let mut w = IndexWriter::create(path).unwrap();
    for (ls, chunks) in series {
        w.add_series(ls, chunks).unwrap();
    }
    w.finish().unwrap();
}

fn meta(mint: i64, maxt: i64, chunk_ref: u64) -> ChunkMeta {
    ChunkMeta {
        mint,
        maxt,
        chunk_ref,
    }
}

fn sample() -> Series {
    vec![
        (
            Labels::from_pairs([("__name__", "cpu"), ("job", "db")]),
            vec![meta(0, 10, 8), meta(11, 20, 99)],
        ),
        (
            Labels::from_pairs([("__name__", "up"), ("job", "api")]),
            vec![],
        ),
        (
            Labels::from_pairs([("__name__", "up"), ("job", "web")]),
            vec![meta(-5, i64::MAX, u64::MAX)],
        ),
        (
            Labels::from_pairs([("job", "zz")]),
            vec![meta(i64::MIN, i64::MIN, 0)],
        ),
    ]
}

fn all_values(r: &IndexReader, name: &str, from: &str) -> Vec<(String, Vec<u32>)> {
    let mut out = Vec::new();
    r.scan_values(name, from, &mut |v, ids| {
        out.push((v.to_owned(), ids.iter().collect()));
        true
    })
    .unwrap();
    out
}

#[test]
fn empty_index() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("index");
    write(&path, &vec![]);
    let r = IndexReader::open(&path).unwrap();
    assert_eq!(r.num_series(), 0);
    assert_eq!(r.num_symbols(), 0);
    assert!(r.all_series().unwrap().is_empty());
    assert!(r.names().unwrap().is_empty());
    assert!(r.postings("a", "b").unwrap().is_empty());
    assert!(all_values(&r, "a", "").is_empty());
    assert!(r.series(0).is_err());
    assert_eq!(r.find_series(&Labels::default()).unwrap(), None);
}

#[test]
fn reads_back_the_sample() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("index");
    let series = sample();
    write(&path, &series);
    let r = IndexReader::open(&path).unwrap();
    assert_eq!(r.num_series(), 4);
    for (id, s) in series.iter().enumerate() {
        assert_eq!(&r.series(id as u32).unwrap(), s);
        assert_eq!(r.find_series(&s.0).unwrap(), Some(id as u32));
    }
    assert!(r.series(4).is_err());
    assert_eq!(
        r.find_series(&Labels::from_pairs([("job", "nope")]))
            .unwrap(),
        None
    );
    assert_eq!(r.names().unwrap(), ["__name__", "job"]);
    assert_eq!(r.symbol(0).unwrap(), "__name__");
    assert_eq!(
        all_values(&r, "job", "b"),
        [
            ("db".into(), vec![0]),
            ("web".into(), vec![2]),
            ("zz".into(), vec![3])
        ]
    );
    assert_eq!(
        all_values(&r, "job", "web"),
        [("web".into(), vec![2]), ("zz".into(), vec![3])]
    );
    assert!(all_values(&r, "job", "zzz").is_empty());
    assert!(all_values(&r, "missing", "").is_empty());
    assert_eq!(
        r.postings("__name__", "up")
            .unwrap()
            .iter()
            .collect::<Vec<_>>(),
        [1, 2]
    );
    assert!(
        r.postings("__name__", "db").unwrap().is_empty(),
        "a symbol, but not a value of this name"
    );
    assert_eq!(
        label_values(&r, "job", None, Some(2)).unwrap(),
        ["api", "db"]
    );
}

#[test]
fn writer_enforces_order() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("index");
    let mut w = IndexWriter::create(&path).unwrap();
    let b = Labels::from_pairs([("a", "2")]);
    w.add_series(&b, &[]).unwrap();
    for bad in [
        Labels::from_pairs([("a", "1")]),
        b.clone(),
        Labels::from_pairs([("a", "1"), ("b", "1")]),
    ] {
        match w.add_series(&bad, &[]) {
            Err(StorageError::DataCorruption { reason, .. }) => {
                assert!(reason.contains("out of order"), "{reason}")
            }
            other => panic!("{bad}: {other:?}"),
        }
    }
    let dup = Labels::from_pairs([("z", "1"), ("z", "2")]);
    assert!(matches!(
        w.add_series(&dup, &[]),
        Err(StorageError::DataCorruption { .. })
    ));
    w.add_series(&Labels::from_pairs([("a", "3")]), &[])
        .unwrap();
    w.finish().unwrap();
    assert_eq!(
        IndexReader::open(&path).unwrap().num_series(),
        2,
        "refused series are not written"
    );
}

#[test]
fn missing_file_is_io_error() {
    let dir = tempfile::tempdir().unwrap();
    assert!(matches!(
        IndexReader::open(&dir.path().join("nope")),
        Err(StorageError::Io { .. })
    ));
}

/// Reads everything a reader offers; must not panic whatever the bytes.
fn read_everything(r: &IndexReader) {
    for id in 0..r.num_series().min(64) {
        if let Ok((ls, _)) = r.series(id) {
            let _ = r.find_series(&ls);
        }
    }
    for i in 0..r.num_symbols().min(64) {
        let _ = r.symbol(i);
    }
    if let Ok(names) = r.names() {
        for n in names.iter().take(16) {
            let _ = r.scan_values(n, "", &mut |v, _| {
                let _ = r.postings(n, v);
                true
            });
        }
    }
    let _ = label_names(r, None, None);
}

/// Fixes every section checksum and the TOC checksum after a mutation, so
/// the structural decoders behind them get exercised.
fn reseal(b: &mut [u8]) {
    let toc_at = b.len() - TOC_LEN;
    for i in 0..NUM_SECTIONS {
        let field = |k: usize| {
            u64::from_be_bytes(b[toc_at + i * 16 + k..][..8].try_into().unwrap()) as usize
        };
        let (at, len) = (field(0), field(8));
        if at.checked_add(len).is_some_and(|e| e + CRC_LEN <= toc_at) {
            let crc = checksum(&b[at..at + len]);
            b[at + len..at + len + CRC_LEN].copy_from_slice(&crc.to_be_bytes());
        }
    }
    let crc = checksum(&b[toc_at..b.len() - CRC_LEN]);
    let n = b.len();
    b[n - CRC_LEN..].copy_from_slice(&crc.to_be_bytes());
    let crc = checksum(&b[..8]);
    b[8..HEADER_LEN].copy_from_slice(&crc.to_be_bytes());
}

fn labels_strategy() -> impl Strategy<Value = Labels> {
    let value = prop::sample::select(vec!["", "a", "b", "ab", "ba", "x\ny", "é"]);
    prop::collection::vec(value, 4).prop_map(|v| {
        Labels::from_pairs([("__name__", v[0]), ("a", v[1]), ("b", v[2]), ("c", v[3])])
    })
}

fn series_strategy() -> impl Strategy<Value = Series> {
    let chunk = (any::<i64>(), any::<i64>(), any::<u64>()).prop_map(|(a, b, r)| meta(a, b, r));
    prop::collection::btree_map(labels_strategy(), prop::collection::vec(chunk, 0..4), 0..24)
        .prop_map(|m| m.into_iter().collect())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn round_trip(series in series_strategy(), ms in matchers_strategy()) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("index");
        write(&path, &series);
        let r = IndexReader::open(&path).unwrap();
        prop_assert_eq!(r.num_series() as usize, series.len());
        for (id, s) in series.iter().enumerate() {
            prop_assert_eq!(&r.series(id as u32).unwrap(), s);
            prop_assert_eq!(r.find_series(&s.0).unwrap(), Some(id as u32));
        }
        for name in ["__name__", "a", "b", "c", "d"] {
            let mut want: Vec<(String, Vec<u32>)> = Vec::new();
            let mut values: Vec<&str> = series.iter().filter_map(|(ls, _)| ls.get(name)).collect();
            values.sort();
            values.dedup();
            for v in values {
                let ids: Vec<u32> = (0..series.len() as u32).filter(|&i| series[i as usize].0.get(name) == Some(v)).collect();
                prop_assert_eq!(r.postings(name, v).unwrap().iter().collect::<Vec<u32>>(), ids.clone());
                want.push((v.to_owned(), ids));
            }
            prop_assert_eq!(all_values(&r, name, ""), want);
        }
        let labels: Vec<Labels> = series.iter().map(|(ls, _)| ls.clone()).collect();
        match (select(&r, &ms), brute_force(&labels, &ms)) {
            (Ok(got), Ok(want)) => prop_assert_eq!(got.iter().collect::<Vec<_>>(), want),
            (Err(StorageError::EmptyMatchers), Err(_)) => {}
            (got, want) => prop_assert!(false, "{:?}: got {:?}, want {:?}", ms, got, want),
        }
    }

    #[test]
    fn any_flipped_byte_fails_open(series in series_strategy(), at in any::<prop::sample::Index>(), x in 1u8..) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("index");
        write(&path, &series);
        let mut b = std::fs::read(&path).unwrap();
        let i = at.index(b.len());
        b[i] ^= x;
        std::fs::write(&path, &b).unwrap();
        match IndexReader::open(&path) {
            Err(StorageError::DataCorruption { file, .. }) => prop_assert!(file.ends_with("index")),
            Err(e) => prop_assert!(false, "unexpected error {}", e),
            Ok(_) => prop_assert!(false, "flip at {} went unnoticed", i),
        }
    }

    #[test]
    fn truncation_fails_open(series in series_strategy(), at in any::<prop::sample::Index>()) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("index");
        write(&path, &series);
        let b = std::fs::read(&path).unwrap();
        std::fs::write(&path, &b[..at.index(b.len())]).unwrap();
        let refused = matches!(IndexReader::open(&path), Err(StorageError::DataCorruption { .. }));
        prop_assert!(refused);
    }

    #[test]
    fn resealed_garbage_never_panics(
        series in series_strategy(),
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("index");
        write(&path, &series);
        let mut b = std::fs::read(&path).unwrap();
        for (at, x) in flips {
            let i = at.index(b.len());
            b[i] ^= x;
        }
        reseal(&mut b);
        std::fs::write(&path, &b).unwrap();
        if let Ok(r) = IndexReader::open(&path) {
            read_everything(&r);
        }
    }

    #[test]
    fn random_files_never_panic(b in prop::collection::vec(any::<u8>(), 0..256)) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("index");
        let mut b = b;
        if b.len() >= HEADER_LEN + TOC_LEN {
            b[..8].copy_from_slice(&[0x54, 0x49, 0x44, 0x58, 1, 0, 0, 0]);
            reseal(&mut b);
        }
        std::fs::write(&path, &b).unwrap();
        if let Ok(r) = IndexReader::open(&path) {
            read_everything(&r);
        }
    }
}

#[test]
fn resealed_structural_damage_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("index");
    write(&path, &sample());
    let good = std::fs::read(&path).unwrap();
    // Section 1 (series) starts right after the symbols section: point its
    // first entry offset past the end of the data.
    let toc_at = good.len() - TOC_LEN;
    let series_at = u64::from_be_bytes(good[toc_at + 16..][..8].try_into().unwrap()) as usize;
    let mut b = good.clone();
    b[series_at + 4..series_at + 8].copy_from_slice(&u32::MAX.to_be_bytes());
    reseal(&mut b);
    std::fs::write(&path, &b).unwrap();
    let r = IndexReader::open(&path).unwrap();
    match r.series(0) {
        Err(StorageError::DataCorruption { offset, .. }) => {
            assert_eq!(offset, series_at as u64 + 4)
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        r.series(1).unwrap(),
        sample()[1],
        "damage stays local to the entry"
    );

    // The last row of the postings offset table is job="zz"; give it a
    // length that runs past the postings section.
    let table_at = u64::from_be_bytes(good[toc_at + 48..][..8].try_into().unwrap()) as usize;
    let table_len = u64::from_be_bytes(good[toc_at + 56..][..8].try_into().unwrap()) as usize;
    let mut b = good.clone();
    let len_at = table_at + table_len - 4;
    b[len_at..len_at + 4].copy_from_slice(&1_000_000u32.to_be_bytes());
    reseal(&mut b);
    std::fs::write(&path, &b).unwrap();
    let r = IndexReader::open(&path).unwrap();
    assert!(matches!(
        r.postings("job", "zz"),
        Err(StorageError::DataCorruption { .. })
    ));
    assert!(r.scan_values("job", "", &mut |_, _| true).is_err());
    assert_eq!(
        r.postings("job", "api").unwrap().iter().collect::<Vec<_>>(),
        [1]
    );
}
