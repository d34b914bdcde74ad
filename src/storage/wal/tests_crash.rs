//! Torn writes, flipped bits, lost segments and garbage files: replay keeps
//! every record before the damage, cuts the rest, and the log stays usable.

use std::fs;
use std::path::{Path, PathBuf};

use proptest::prelude::*;

use super::segment::{list, segment_header, segment_name, SEGMENT_HEADER_LEN};
use super::tests::{batch, expect, opts, replay_all, write_batches, Norm};
use super::*;
use crate::storage::error::StorageError;

/// The files of a WAL directory (segments only), for cheap re-creation.
struct Snapshot {
    files: Vec<(String, Vec<u8>)>,
    /// Records replay should see when nothing is damaged, minus the last one.
    good: Vec<Norm>,
    /// The last record in full.
    last: Norm,
    /// Where the last record starts and ends (in the last segment).
    start: WalPos,
    end: WalPos,
}

/// A log over several segments whose last segment ends in a samples record.
fn build() -> Snapshot {
    let d = tempfile::tempdir().unwrap();
    let wal = Wal::open(d.path(), opts(400, SyncPolicy::None)).unwrap();
    let mut good = write_batches(&wal, 0..16);
    wal.cut_segment().unwrap();
    good.extend(write_batches(&wal, 16..17));
    let start = wal.log(&[], &[]).unwrap();
    let sa = batch(6).1;
    let end = wal.log(&[], &sa).unwrap();
    assert_eq!(start.segment, end.segment);
    wal.close().unwrap();
    let files = list(d.path())
        .unwrap()
        .segments
        .into_iter()
        .map(|(i, p)| (segment_name(i), fs::read(p).unwrap()))
        .collect();
    Snapshot {
        files,
        good,
        last: expect(&[], &sa).remove(0),
        start,
        end,
    }
}

impl Snapshot {
    /// Re-creates the log in a fresh directory.
    fn restore(&self) -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        for (name, bytes) in &self.files {
            fs::write(d.path().join(name), bytes).unwrap();
        }
        d
    }

    fn last_path(&self, dir: &Path) -> PathBuf {
        dir.join(segment_name(self.end.segment))
    }
}

/// Replay after damage to the last record: everything before it, a repair
/// at its start, the file cut there; then the log takes new writes.
fn check_repaired_tail(s: &Snapshot, dir: &Path, what: &str) {
    let (recs, stats) = replay_all(dir);
    assert_eq!(recs, s.good, "{what}");
    let rep = stats
        .repaired
        .unwrap_or_else(|| panic!("{what}: no repair"));
    assert_eq!(rep.segment, s.last_path(dir), "{what}");
    assert_eq!(
        (rep.offset, rep.dropped_segments),
        (s.start.offset, 0),
        "{what}: {}",
        rep.reason
    );
    assert_eq!(
        fs::metadata(s.last_path(dir)).unwrap().len(),
        s.start.offset,
        "{what}"
    );
    let wal = Wal::open(dir, WalOptions::default()).unwrap();
    let more = write_batches(&wal, 20..22);
    drop(wal);
    let (recs, stats) = replay_all(dir);
    assert_eq!(stats.repaired, None, "{what}");
    assert_eq!(recs, [s.good.clone(), more].concat(), "{what}");
}

#[test]
fn torn_last_record_at_every_offset() {
    let s = build();
    assert!(
        s.end.offset - s.start.offset > 50,
        "last record too small to be a good test"
    );
    for cut in s.start.offset + 1..s.end.offset {
        let d = s.restore();
        let f = fs::OpenOptions::new()
            .write(true)
            .open(s.last_path(d.path()))
            .unwrap();
        f.set_len(cut).unwrap();
        check_repaired_tail(&s, d.path(), &format!("cut at {cut}"));
    }
}

#[test]
fn cuts_at_record_boundaries_are_clean() {
    let s = build();
    for (cut, want_last) in [(s.start.offset, false), (s.end.offset, true)] {
        let d = s.restore();
        let f = fs::OpenOptions::new()
            .write(true)
            .open(s.last_path(d.path()))
            .unwrap();
        f.set_len(cut).unwrap();
        let (recs, stats) = replay_all(d.path());
        let mut want = s.good.clone();
        if want_last {
            want.push(s.last.clone());
        }
        assert_eq!((recs, stats.repaired), (want, None), "cut at {cut}");
    }
}

#[test]
fn torn_tail_is_cut_by_open_without_replay() {
    let s = build();
    let d = s.restore();
    let f = fs::OpenOptions::new()
        .write(true)
        .open(s.last_path(d.path()))
        .unwrap();
    f.set_len(s.end.offset - 3).unwrap();
    let wal = Wal::open(d.path(), WalOptions::default()).unwrap();
    let more = write_batches(&wal, 30..31);
    drop(wal);
    let (recs, stats) = replay_all(d.path());
    assert_eq!(stats.repaired, None);
    assert_eq!(recs, [s.good.clone(), more].concat());
}

/// Flips bits at `at` (an offset into the file `i`-th segment).
fn flip(dir: &Path, name: &str, at: u64, x: u8) {
    let p = dir.join(name);
    let mut b = fs::read(&p).unwrap();
    b[at as usize] ^= x;
    fs::write(&p, b).unwrap();
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn flipped_byte_in_last_record_is_cut(at in any::<prop::sample::Index>(), x in 1u8..) {
        let s = build();
        let d = s.restore();
        let off = s.start.offset + at.index((s.end.offset - s.start.offset) as usize) as u64;
        flip(d.path(), &segment_name(s.end.segment), off, x);
        check_repaired_tail(&s, d.path(), &format!("flip {x:#x} at {off}"));
    }

    #[test]
    fn random_segment_never_panics(with_header in any::<bool>(), bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        let d = tempfile::tempdir().unwrap();
        let mut content = if with_header { segment_header().to_vec() } else { Vec::new() };
        content.extend_from_slice(&bytes);
        let p = d.path().join(segment_name(0));
        fs::write(&p, &content).unwrap();
        let (first, stats) = replay_all(d.path());
        if let Some(rep) = &stats.repaired {
            prop_assert_eq!(fs::metadata(&p).unwrap().len(), rep.offset);
        }
        // The repaired log replays cleanly and identically.
        let (again, stats) = replay_all(d.path());
        prop_assert_eq!(stats.repaired, None);
        prop_assert_eq!(again, first);
    }
}

/// Replays only the segments with index `< k` of `s`: what survives damage in `k`.
fn replay_prefix(s: &Snapshot, k: usize) -> Vec<Norm> {
    let d = tempfile::tempdir().unwrap();
    for (name, bytes) in &s.files[..k] {
        fs::write(d.path().join(name), bytes).unwrap();
    }
    replay_all(d.path()).0
}

#[test]
fn damage_in_a_middle_segment_drops_later_ones() {
    let s = build();
    let n = s.files.len();
    assert!(n >= 4, "need several segments, got {n}");
    let k = 2;
    let d = s.restore();
    flip(d.path(), &s.files[k].0, SEGMENT_HEADER_LEN + 4, 0x40);
    let (recs, stats) = replay_all(d.path());
    assert_eq!(recs, replay_prefix(&s, k));
    let rep = stats.repaired.unwrap();
    assert_eq!(rep.segment, d.path().join(&s.files[k].0));
    assert_eq!(
        (rep.offset, rep.dropped_segments),
        (SEGMENT_HEADER_LEN, n - k - 1)
    );
    let left: Vec<String> = list(d.path())
        .unwrap()
        .segments
        .iter()
        .map(|x| segment_name(x.0))
        .collect();
    assert_eq!(
        left,
        s.files[..=k]
            .iter()
            .map(|f| f.0.clone())
            .collect::<Vec<_>>()
    );
}

#[test]
fn missing_middle_segment_drops_later_ones() {
    let s = build();
    let n = s.files.len();
    let k = 1;
    let d = s.restore();
    fs::remove_file(d.path().join(&s.files[k].0)).unwrap();
    let (recs, stats) = replay_all(d.path());
    assert_eq!(recs, replay_prefix(&s, k));
    let rep = stats.repaired.unwrap();
    assert!(rep.reason.contains("missing"), "{}", rep.reason);
    assert_eq!(rep.dropped_segments, n - k - 1);
    assert_eq!(list(d.path()).unwrap().segments.len(), k);
}

#[test]
fn bad_segment_headers_are_cut_to_empty() {
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("short", segment_header()[..5].to_vec()),
        (
            "magic",
            [b"XWAL".as_slice(), &segment_header()[4..]].concat(),
        ),
        ("version", {
            let mut h = segment_header().to_vec();
            h[4] = 9;
            h
        }),
        ("crc", {
            let mut h = segment_header().to_vec();
            h[11] ^= 1;
            h
        }),
    ];
    for (what, header) in cases {
        let s = build();
        let d = s.restore();
        let last = s.last_path(d.path());
        let mut bytes = header;
        if what != "short" {
            bytes.extend_from_slice(&fs::read(&last).unwrap()[SEGMENT_HEADER_LEN as usize..]);
        }
        fs::write(&last, bytes).unwrap();
        let (recs, stats) = replay_all(d.path());
        assert_eq!(recs, replay_prefix(&s, s.files.len() - 1), "{what}");
        assert_eq!(stats.repaired.map(|r| r.offset), Some(0), "{what}");
        assert_eq!(fs::metadata(&last).unwrap().len(), 0, "{what}");
        assert_eq!(
            replay_all(d.path()).1.repaired,
            None,
            "{what}: empty segment not clean"
        );
    }
}

#[test]
fn damaged_checkpoint_is_an_error() {
    let d = tempfile::tempdir().unwrap();
    let wal = Wal::open(d.path(), opts(1 << 20, SyncPolicy::None)).unwrap();
    write_batches(&wal, 0..5);
    let upto = wal.cut_segment().unwrap();
    wal.checkpoint(upto, &|_| true, i64::MIN).unwrap();
    drop(wal);
    let cp = d
        .path()
        .join(segment::checkpoint_name(upto))
        .join(segment_name(0));
    let len = fs::metadata(&cp).unwrap().len();
    flip(cp.parent().unwrap(), &segment_name(0), len - 1, 0x01);
    match replay(d.path(), |_| {}) {
        Err(StorageError::DataCorruption { file, offset, .. }) => {
            assert!(file.ends_with(&segment_name(0)), "{file}");
            assert!(offset >= SEGMENT_HEADER_LEN && offset < len, "{offset}");
        }
        other => panic!("expected corruption, got {other:?}"),
    }
    fs::remove_file(&cp).unwrap();
    assert!(matches!(
        replay(d.path(), |_| {}),
        Err(StorageError::DataCorruption { .. })
    ));
}
