//! Behaviour of the WAL as a whole: round trips, segments, checkpoints,
//! group commit, write failures. Crash and corruption cases live in
//! `tests_crash.rs`.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use super::segment::{checkpoint_name, list, segment_name};
use super::writer::Fault;
use super::*;
use crate::model::stale_nan;
use crate::storage::error::StorageError;

/// A record with values as bit patterns, so NaNs compare equal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Norm {
    Series(Vec<(u32, Labels)>),
    Samples(Vec<(u32, i64, u64)>),
    Histograms(Vec<(u32, i64, Vec<u8>)>),
    Exemplars(Vec<(u32, i64, u64, Labels)>),
}

pub(super) fn norm(r: &WalRecord) -> Norm {
    match r {
        WalRecord::Series(s) => {
            Norm::Series(s.iter().map(|e| (e.series, e.labels.clone())).collect())
        }
        WalRecord::Samples(s) => {
            Norm::Samples(s.iter().map(|e| (e.series, e.t, e.v.to_bits())).collect())
        }
        WalRecord::Histograms(h) => Norm::Histograms(
            h.iter()
                .map(|e| {
                    let mut b = Vec::new();
                    crate::storage::chunk::put_histogram(&mut b, &e.h);
                    (e.series, e.t, b)
                })
                .collect(),
        ),
        WalRecord::Exemplars(x) => Norm::Exemplars(
            x.iter()
                .map(|e| {
                    let x = &e.exemplar;
                    (e.series, x.t, x.value.to_bits(), x.labels.clone())
                })
                .collect(),
        ),
    }
}

pub(super) fn replay_all(dir: &Path) -> (Vec<Norm>, ReplayStats) {
    let mut out = Vec::new();
    let stats = replay(dir, |r| out.push(norm(&r))).expect("replay");
    (out, stats)
}

pub(super) fn opts(segment_size: u64, sync: SyncPolicy) -> WalOptions {
    WalOptions { segment_size, sync }
}

/// Batch `i`: one new series (ids 0..) and samples for every series so far,
/// with a stale marker and a NaN payload mixed in.
pub(super) fn batch(i: u32) -> (Vec<SeriesEntry>, Vec<SampleEntry>) {
    let labels = Labels::from_pairs([
        ("__name__", format!("m{}", i % 3)),
        ("i", format!("{i}\n∑")),
    ]);
    let series = vec![SeriesEntry { series: i, labels }];
    let samples = (0..=i)
        .map(|s| {
            let v = match s % 3 {
                0 => stale_nan(),
                1 => f64::from_bits(0x7ff8_0000_0000_0000 | u64::from(i)),
                _ => f64::from(i) * 0.5,
            };
            SampleEntry {
                series: s,
                t: i64::from(i) * 1000 - 7,
                v,
                st: 0,
            }
        })
        .collect();
    (series, samples)
}

/// The records `log(series, samples)` writes.
pub(super) fn expect(series: &[SeriesEntry], samples: &[SampleEntry]) -> Vec<Norm> {
    let mut out = Vec::new();
    if !series.is_empty() {
        out.push(norm(&WalRecord::Series(series.to_vec())));
    }
    if !samples.is_empty() {
        out.push(norm(&WalRecord::Samples(samples.to_vec())));
    }
    out
}

/// Writes batches `range` and returns what replay should see.
pub(super) fn write_batches(wal: &Wal, range: std::ops::Range<u32>) -> Vec<Norm> {
    let mut want = Vec::new();
    for i in range {
        let (se, sa) = batch(i);
        wal.log(&se, &sa).expect("log");
        want.extend(expect(&se, &sa));
    }
    want
}

#[test]
fn sync_policy_parse_table() {
    let ok = [
        ("none", SyncPolicy::None),
        ("always", SyncPolicy::Always),
        ("batch", SyncPolicy::Batch(Duration::from_millis(1000))),
        ("batch:1ms", SyncPolicy::Batch(Duration::from_millis(1))),
        ("batch:250ms", SyncPolicy::Batch(Duration::from_millis(250))),
        ("batch:2s", SyncPolicy::Batch(Duration::from_secs(2))),
    ];
    for (s, want) in ok {
        assert_eq!(s.parse::<SyncPolicy>(), Ok(want), "{s}");
    }
    for bad in [
        "",
        "Always",
        "batch:",
        "batch:ms",
        "batch:0ms",
        "batch:-1s",
        "batch:5",
        "batch:5m",
        "batch:+5s",
    ] {
        let err = bad.parse::<SyncPolicy>().unwrap_err();
        assert!(err.contains(&format!("{bad:?}")), "{bad}: {err}");
    }
    assert!("batch:99999999999999999999ms"
        .parse::<SyncPolicy>()
        .is_err());
}

#[test]
fn missing_and_empty_dirs_replay_nothing() {
    let d = tempfile::tempdir().unwrap();
    let (recs, stats) = replay_all(&d.path().join("absent"));
    assert!(recs.is_empty());
    assert_eq!(stats, ReplayStats::default());
    let wal = Wal::open(d.path(), WalOptions::default()).unwrap();
    wal.close().unwrap();
    let (recs, stats) = replay_all(d.path());
    assert!(recs.is_empty());
    assert_eq!(
        (stats.segments, stats.records, stats.repaired),
        (1, 0, None)
    );
}

#[test]
fn one_batch_round_trip_and_positions() {
    let d = tempfile::tempdir().unwrap();
    let wal = Wal::open(d.path(), WalOptions::default()).unwrap();
    let empty = wal.log(&[], &[]).unwrap();
    assert_eq!(
        empty,
        WalPos {
            segment: 0,
            offset: segment::SEGMENT_HEADER_LEN
        }
    );
    let (se, sa) = batch(2);
    let pos = wal.log(&se, &sa).unwrap();
    assert_eq!(pos.segment, 0);
    assert_eq!(
        pos.offset,
        std::fs::metadata(d.path().join("00000000")).unwrap().len()
    );
    assert_eq!(wal.log(&[], &sa[..1]).unwrap().segment, 0);
    drop(wal);
    let (recs, stats) = replay_all(d.path());
    let mut want = expect(&se, &sa);
    want.extend(expect(&[], &sa[..1]));
    assert_eq!(recs, want);
    assert_eq!((stats.records, stats.series, stats.samples), (3, 1, 4));
}

#[test]
fn many_batches_across_segments() {
    let d = tempfile::tempdir().unwrap();
    let wal = Wal::open(d.path(), opts(600, SyncPolicy::None)).unwrap();
    let want = write_batches(&wal, 0..40);
    wal.close().unwrap();
    let segs = list(d.path()).unwrap().segments;
    assert!(
        segs.len() > 5,
        "expected rollover, got {} segments",
        segs.len()
    );
    let mut biggest = Vec::new();
    record::append_series(&mut biggest, &batch(39).0).unwrap();
    record::append_samples(&mut biggest, &batch(39).1).unwrap();
    let limit = 600.max(segment::SEGMENT_HEADER_LEN + biggest.len() as u64);
    for (_, p) in &segs {
        let len = std::fs::metadata(p).unwrap().len();
        assert!(len <= limit, "{} is {len} bytes", p.display());
    }
    let (recs, stats) = replay_all(d.path());
    assert_eq!(recs, want);
    assert_eq!(stats.segments, segs.len());
    assert_eq!(stats.repaired, None);
}

#[test]
fn batch_larger_than_segment_goes_in_one_segment() {
    let d = tempfile::tempdir().unwrap();
    let wal = Wal::open(d.path(), opts(64, SyncPolicy::None)).unwrap();
    let p1 = wal.log(&batch(30).0, &batch(30).1).unwrap();
    let p2 = wal.log(&batch(31).0, &batch(31).1).unwrap();
    assert_eq!((p1.segment, p2.segment), (0, 1));
    drop(wal);
    let (recs, _) = replay_all(d.path());
    assert_eq!(recs.len(), 4);
}

#[test]
fn reopen_continues_in_a_new_segment() {
    let d = tempfile::tempdir().unwrap();
    let wal = Wal::open(d.path(), WalOptions::default()).unwrap();
    let mut want = write_batches(&wal, 0..3);
    drop(wal);
    let wal = Wal::open(d.path(), WalOptions::default()).unwrap();
    let pos = wal.log(&batch(3).0, &batch(3).1).unwrap();
    assert_eq!(pos.segment, 1);
    want.extend(expect(&batch(3).0, &batch(3).1));
    drop(wal);
    assert_eq!(replay_all(d.path()).0, want);
}

#[test]
fn closed_wal_refuses_writes() {
    let d = tempfile::tempdir().unwrap();
    let wal = Wal::open(
        d.path(),
        opts(1 << 20, SyncPolicy::Batch(Duration::from_secs(1))),
    )
    .unwrap();
    write_batches(&wal, 0..2);
    wal.close().unwrap();
    wal.close().unwrap();
    assert!(matches!(
        wal.log(&batch(5).0, &[]),
        Err(StorageError::Closed)
    ));
    assert!(matches!(wal.cut_segment(), Err(StorageError::Closed)));
    wal.sync().unwrap();
    assert_eq!(replay_all(d.path()).0.len(), 4);
}

#[test]
fn sync_only_when_dirty() {
    let d = tempfile::tempdir().unwrap();
    let wal = Wal::open(
        d.path(),
        opts(1 << 20, SyncPolicy::Batch(Duration::from_secs(1))),
    )
    .unwrap();
    let (n0, _) = wal.fsync_stats();
    wal.sync().unwrap();
    assert_eq!(wal.fsync_stats().0, n0, "clean WAL fsynced");
    let pos = wal.log(&batch(0).0, &batch(0).1).unwrap();
    wal.sync_to(pos).unwrap();
    assert_eq!(wal.fsync_stats().0, n0, "sync_to fsynced under Batch");
    wal.sync().unwrap();
    wal.sync().unwrap();
    assert_eq!(wal.fsync_stats().0, n0 + 1);
}

#[test]
fn group_commit_shares_fsyncs() {
    let d = tempfile::tempdir().unwrap();
    let wal = Arc::new(Wal::open(d.path(), opts(1 << 30, SyncPolicy::Always)).unwrap());
    let (n0, _) = wal.fsync_stats();
    let (threads, per) = (8u32, 40u32);
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let wal = Arc::clone(&wal);
            std::thread::spawn(move || {
                for i in 0..per {
                    let s = SampleEntry {
                        series: t,
                        t: i64::from(i),
                        v: f64::from(i),
                        st: 0,
                    };
                    let pos = wal.log(&[], &[s])?;
                    wal.sync_to(pos)?;
                }
                Ok::<_, StorageError>(())
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap().unwrap();
    }
    let (n, _) = wal.fsync_stats();
    assert!(n > n0, "Always never fsynced");
    assert!(
        n - n0 <= u64::from(threads * per),
        "{} fsyncs for {} calls",
        n - n0,
        threads * per
    );
    let (recs, _) = replay_all(d.path());
    assert_eq!(recs.len() as u32, threads * per);
}

#[test]
fn sync_to_a_covered_position_does_not_fsync() {
    let d = tempfile::tempdir().unwrap();
    let wal = Wal::open(d.path(), opts(1 << 20, SyncPolicy::Always)).unwrap();
    let p1 = wal.log(&[], &batch(1).1).unwrap();
    let p2 = wal.log(&[], &batch(2).1).unwrap();
    let n = wal.fsync_stats().0;
    wal.sync_to(p2).unwrap();
    wal.sync_to(p2).unwrap();
    wal.sync_to(p1).unwrap();
    assert_eq!(
        wal.fsync_stats().0,
        n + 1,
        "one fsync covers both positions"
    );
    wal.sync().unwrap();
    assert_eq!(wal.fsync_stats().0, n + 1, "sync() of a clean WAL fsynced");
    let p3 = wal.log(&[], &batch(3).1).unwrap();
    wal.sync_to(p3).unwrap();
    assert_eq!(wal.fsync_stats().0, n + 2);
}

#[test]
fn sync_to_a_closed_segment_returns_at_once() {
    let d = tempfile::tempdir().unwrap();
    let wal = Wal::open(d.path(), opts(1 << 20, SyncPolicy::Always)).unwrap();
    let pos = wal.log(&[], &batch(1).1).unwrap();
    wal.cut_segment().unwrap();
    let n = wal.fsync_stats().0;
    wal.sync_to(pos).unwrap();
    assert_eq!(
        wal.fsync_stats().0,
        n,
        "closing the segment already covered pos"
    );
}

#[test]
fn failed_write_is_undone_and_recoverable() {
    for fault in [Fault::HalfWrite, Fault::HalfWriteStuck] {
        let d = tempfile::tempdir().unwrap();
        let wal = Wal::open(d.path(), WalOptions::default()).unwrap();
        let mut want = write_batches(&wal, 0..3);
        let before = std::fs::metadata(d.path().join("00000000")).unwrap().len();
        wal.inject_fault(fault);
        let err = wal.log(&batch(3).0, &batch(3).1).unwrap_err();
        assert!(err.is_disk_full(), "{err}");
        let after = std::fs::metadata(d.path().join("00000000")).unwrap().len();
        if fault == Fault::HalfWrite {
            assert_eq!(after, before, "partial batch left behind");
        } else {
            assert!(after > before, "fault did not leave a partial batch");
        }
        want.extend(write_batches(&wal, 4..6));
        drop(wal);
        let (recs, stats) = replay_all(d.path());
        assert_eq!(recs, want, "{fault:?}");
        assert_eq!(stats.repaired, None, "{fault:?}");
    }
}

fn even(id: u32) -> bool {
    id.is_multiple_of(2)
}

/// What replay of a checkpoint made from `recs` holds: kept series (last
/// definition wins) by id, then kept samples in order.
fn filtered(recs: &[Norm], min_t: i64) -> Vec<(u32, i64, u64)> {
    let mut out = Vec::new();
    for r in recs {
        if let Norm::Samples(s) = r {
            out.extend(s.iter().filter(|e| even(e.0) && e.1 >= min_t));
        }
    }
    out
}

#[test]
fn checkpoint_filters_and_replays() {
    let d = tempfile::tempdir().unwrap();
    let wal = Wal::open(d.path(), opts(800, SyncPolicy::None)).unwrap();
    let old = write_batches(&wal, 0..20);
    // Redefine series 4: the checkpoint keeps the last definition only.
    let relabel = SeriesEntry {
        series: 4,
        labels: Labels::from_pairs([("__name__", "renamed")]),
    };
    wal.log(std::slice::from_ref(&relabel), &[]).unwrap();
    assert!(
        wal.checkpoint(wal.current_segment(), &even, 0).is_err(),
        "checkpointed the open segment"
    );
    let upto = wal.cut_segment().unwrap();
    let newer = write_batches(&wal, 20..22);
    let min_t = 5000;
    let st = wal.checkpoint(upto, &even, min_t).unwrap();
    assert_eq!(st.index, upto);
    assert_eq!(st.series, 10);
    assert_eq!(st.segments_deleted as u32, upto + 1);
    let want_samples = filtered(&old, min_t);
    assert_eq!(st.samples, want_samples.len() as u64);
    let l = list(d.path()).unwrap();
    assert_eq!(
        l.checkpoints.iter().map(|c| c.0).collect::<Vec<_>>(),
        [upto]
    );
    assert!(l.segments.iter().all(|s| s.0 > upto));

    let (recs, stats) = replay_all(d.path());
    assert_eq!(stats.checkpoint, Some(upto));
    let Norm::Series(series) = &recs[0] else {
        panic!("checkpoint must start with series")
    };
    let mut want_series: Vec<(u32, Labels)> = (0..20)
        .filter(|i| even(*i))
        .map(|i| (i, batch(i).0[0].labels.clone()))
        .collect();
    want_series[2].1 = relabel.labels;
    assert_eq!(series, &want_series);
    let n = recs.len() - newer.len();
    assert_eq!(filtered(&recs[1..n], i64::MIN), want_samples);
    assert_eq!(&recs[n..], &newer[..]);
    drop(wal);

    // A second checkpoint builds on the first and replaces it.
    let wal = Wal::open(d.path(), opts(800, SyncPolicy::None)).unwrap();
    let upto2 = wal.cut_segment().unwrap();
    let st2 = wal.checkpoint(upto2, &|id| id == 0, 0).unwrap();
    assert_eq!(st2.series, 1);
    assert!(
        wal.checkpoint(upto, &even, 0).is_err(),
        "older checkpoint accepted"
    );
    let l = list(d.path()).unwrap();
    assert_eq!(
        l.checkpoints.iter().map(|c| c.0).collect::<Vec<_>>(),
        [upto2]
    );
    let (recs, _) = replay_all(d.path());
    let ids: Vec<u32> = recs
        .iter()
        .flat_map(|r| match r {
            Norm::Series(s) => s.iter().map(|e| e.0).collect::<Vec<_>>(),
            Norm::Samples(s) => s.iter().map(|e| e.0).collect(),
            Norm::Histograms(h) => h.iter().map(|e| e.0).collect(),
            Norm::Exemplars(x) => x.iter().map(|e| e.0).collect(),
        })
        .collect();
    assert!(!ids.is_empty() && ids.iter().all(|&i| i == 0), "{ids:?}");
}

#[test]
fn interrupted_checkpoints_leave_a_replayable_log() {
    let d = tempfile::tempdir().unwrap();
    let wal = Wal::open(d.path(), opts(500, SyncPolicy::None)).unwrap();
    let want = write_batches(&wal, 0..10);
    let upto = wal.cut_segment().unwrap();
    drop(wal);
    // Crash before the rename: a stray temporary is ignored and removed.
    let tmp = d.path().join(format!("{}.tmp", checkpoint_name(upto)));
    std::fs::create_dir(&tmp).unwrap();
    std::fs::write(tmp.join(segment_name(0)), b"half a checkpoint").unwrap();
    assert_eq!(replay_all(d.path()).0, want);
    assert!(!tmp.exists());
    // Crash after the rename, before the deletions: the checkpoint wins and
    // the covered segments are cleaned up.
    let wal = Wal::open(d.path(), opts(500, SyncPolicy::None)).unwrap();
    let keep: Vec<_> = list(d.path()).unwrap().segments;
    let copies: Vec<_> = keep
        .iter()
        .map(|(_, p)| (p.clone(), std::fs::read(p).unwrap()))
        .collect();
    wal.checkpoint(upto, &|_| true, i64::MIN).unwrap();
    drop(wal);
    for (p, bytes) in copies {
        std::fs::write(p, bytes).unwrap();
    }
    let (recs, stats) = replay_all(d.path());
    assert_eq!(stats.checkpoint, Some(upto));
    assert_eq!(filtered(&recs, i64::MIN), filtered(&want, i64::MIN));
    assert!(list(d.path()).unwrap().segments.iter().all(|s| s.0 > upto));
}

fn hist_entry(series: u32, t: i64) -> HistogramEntry {
    let mut h = crate::model::Histogram::empty_int(2);
    h.sum = t as f64;
    if t % 3 == 0 {
        h = crate::model::Histogram::stale_marker();
    }
    HistogramEntry {
        series,
        t,
        h,
        st: 0,
    }
}

#[test]
fn histograms_survive_replay_and_checkpoints() {
    let d = tempfile::tempdir().unwrap();
    let wal = Wal::open(d.path(), opts(1 << 20, SyncPolicy::None)).unwrap();
    let series: Vec<SeriesEntry> = (0..4)
        .map(|i| SeriesEntry {
            series: i,
            labels: crate::model::Labels::from_pairs([("__name__", format!("h{i}"))]),
        })
        .collect();
    let hists: Vec<HistogramEntry> = (0..40)
        .map(|i| hist_entry(i % 4, i64::from(i) * 10))
        .collect();
    let floats = vec![SampleEntry {
        series: 1,
        t: 5,
        v: 1.5,
        st: 0,
    }];
    wal.log_with_histograms(&series, &floats, &hists).unwrap();
    let want: Vec<(u32, i64, Vec<u8>)> = match norm(&WalRecord::Histograms(hists.clone())) {
        Norm::Histograms(h) => h,
        _ => unreachable!(),
    };
    let (recs, stats) = replay_all(d.path());
    assert_eq!(recs.len(), 3);
    assert_eq!(recs[2], Norm::Histograms(want.clone()));
    assert_eq!(stats.samples, 41);
    // A checkpoint keeps the histograms of kept series at or after min_t.
    let upto = wal.cut_segment().unwrap();
    let st = wal.checkpoint(upto, &even, 200).unwrap();
    assert_eq!(st.samples, 10);
    let (recs, _) = replay_all(d.path());
    let kept: Vec<(u32, i64, Vec<u8>)> = want
        .into_iter()
        .filter(|e| e.0 % 2 == 0 && e.1 >= 200)
        .collect();
    assert_eq!(recs.last(), Some(&Norm::Histograms(kept)));
}

#[test]
fn segment_versions_old_read_newer_refused() {
    use super::segment::{segment_header_of, SEGMENT_VERSION};
    let d = tempfile::tempdir().unwrap();
    // A version-1 segment (before histogram records) replays as before.
    let mut v1 = segment_header_of(1).to_vec();
    let (series, samples) = batch(0);
    super::record::append_series(&mut v1, &series).unwrap();
    super::record::append_samples(&mut v1, &samples).unwrap();
    std::fs::write(d.path().join(segment_name(0)), &v1).unwrap();
    let (recs, stats) = replay_all(d.path());
    assert_eq!(recs, expect(&series, &samples));
    assert!(stats.repaired.is_none(), "{:?}", stats.repaired);
    // A segment from a newer build is an error, and is left untouched.
    let newer = segment_header_of(SEGMENT_VERSION + 1);
    let path = d.path().join(segment_name(1));
    std::fs::write(&path, newer).unwrap();
    let err = replay(d.path(), |_| {}).unwrap_err().to_string();
    assert!(err.contains("newer build"), "{err}");
    assert_eq!(std::fs::read(&path).unwrap(), newer);
}

#[test]
fn exemplars_survive_replay_and_checkpoints() {
    let d = tempfile::tempdir().unwrap();
    let wal = Wal::open(d.path(), opts(1 << 20, SyncPolicy::None)).unwrap();
    let (series, _) = batch(0);
    let ex: Vec<super::ExemplarEntry> = (0..20)
        .map(|i: i64| super::ExemplarEntry {
            series: (i % 4) as u32,
            exemplar: crate::model::Exemplar {
                labels: Labels::from_pairs([("trace_id", format!("t{i}"))]),
                value: i as f64,
                t: i * 10,
            },
        })
        .collect();
    wal.log(&series, &[]).unwrap();
    wal.log_exemplars(&ex).unwrap();
    let (recs, stats) = replay_all(d.path());
    assert_eq!(recs[1], norm(&WalRecord::Exemplars(ex.clone())));
    assert_eq!(stats.exemplars, 20);
    // A checkpoint keeps the exemplars of kept series at or after min_t.
    let upto = wal.cut_segment().unwrap();
    let st = wal.checkpoint(upto, &even, 100).unwrap();
    let kept: Vec<_> = ex
        .into_iter()
        .filter(|e| e.series % 2 == 0 && e.exemplar.t >= 100)
        .collect();
    assert_eq!(st.exemplars, kept.len() as u64);
    let (recs, _) = replay_all(d.path());
    assert_eq!(recs.last(), Some(&norm(&WalRecord::Exemplars(kept))));
}
