//! Engine-level behaviour: tenant isolation, bad input, the out-of-order
//! window and duplicate samples, stale markers, and WAL crash recovery.

mod common;

use tessera::model::{is_stale_nan, stale_nan, LabelRef, Sample};
use tessera::storage::{
    LabelError, MatchOp, Matcher, RejectReason, SampleReject, SeriesInput, StorageError,
    TenantConfig,
};
use tessera::tenant::TenantId;

fn name_is(n: &str) -> Matcher {
    Matcher::new(MatchOp::Equal, "__name__", n).unwrap()
}

fn all() -> Matcher {
    Matcher::new(MatchOp::Regex, "__name__", ".+").unwrap()
}

#[test]
fn two_tenants_with_identical_series_are_never_mixed() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = common::config(dir.path(), 7_200_000);
    let st = common::open(&cfg);
    let (a, b) = (common::tenant("a"), common::tenant("b"));
    let l = common::labels(&[("__name__", "up"), ("job", "x")]);
    common::append(&st, &a, &l, &[Sample::new(1000, 1.0)]).unwrap();
    common::append(
        &st,
        &b,
        &l,
        &[Sample::new(1000, 2.0), Sample::new(2000, 3.0)],
    )
    .unwrap();
    let check = |st: &tessera::storage::Storage| {
        let ga = st.querier(&a, 0, 10_000).select(&[all()]).unwrap();
        let gb = st.querier(&b, 0, 10_000).select(&[all()]).unwrap();
        assert_eq!(
            common::bits(&ga[0].samples),
            common::bits(&[Sample::new(1000, 1.0)])
        );
        assert_eq!(gb[0].samples.len(), 2);
        assert_eq!(gb[0].samples[0].v, 2.0);
        assert_eq!(
            st.querier(&a, 0, 10_000)
                .label_values("job", &[], None)
                .unwrap(),
            ["x"]
        );
        assert!(st
            .querier(&common::tenant("c"), 0, 10_000)
            .select(&[all()])
            .unwrap()
            .is_empty());
    };
    check(&st);
    st.flush(&a).unwrap();
    check(&st);
    st.close().unwrap();
    let st = common::open(&cfg);
    check(&st);
    assert_eq!(st.blocks(&a).len(), 1);
    assert_eq!(
        st.blocks(&b).len(),
        0,
        "flushing tenant a must not touch tenant b"
    );
}

#[test]
fn invalid_tenant_ids_are_refused_before_storage() {
    for bad in ["", ".", "..", "a/b", "x y"] {
        assert!(TenantId::new(bad).is_err(), "{bad:?}");
    }
    let e: StorageError = TenantId::new("a/b").unwrap_err().into();
    assert_eq!(
        e.to_string(),
        "invalid tenant id: tenant id contains the unsupported character '/'"
    );
}

#[test]
fn bad_series_are_reported_by_name_and_do_not_disturb_the_batch() {
    let dir = tempfile::tempdir().unwrap();
    let st = common::open(&common::config(dir.path(), 7_200_000));
    let t = common::tenant("t");
    let good = [LabelRef::new("__name__", "ok"), LabelRef::new("i", "1")];
    let good2 = [LabelRef::new("__name__", "ok"), LabelRef::new("i", "2")];
    let empty: [LabelRef; 0] = [];
    let dup = [
        LabelRef::new("__name__", "d"),
        LabelRef::new("a", "1"),
        LabelRef::new("a", "2"),
    ];
    let empty_name = [LabelRef::new("__name__", "e"), LabelRef::new("", "1")];
    let bad_name = [
        LabelRef::new("__name__", "u"),
        LabelRef {
            name: b"a\xff",
            value: b"1",
        },
    ];
    let bad_value = [
        LabelRef::new("__name__", "v"),
        LabelRef {
            name: b"a",
            value: b"\xc3\x28",
        },
    ];
    let s = [Sample::new(10, 1.0), Sample::new(20, 2.0)];
    let batch = [
        SeriesInput {
            labels: &good,
            samples: &s,
            histograms: &[],
        },
        SeriesInput {
            labels: &empty,
            samples: &s,
            histograms: &[],
        },
        SeriesInput {
            labels: &dup,
            samples: &s,
            histograms: &[],
        },
        SeriesInput {
            labels: &empty_name,
            samples: &s,
            histograms: &[],
        },
        SeriesInput {
            labels: &bad_name,
            samples: &s,
            histograms: &[],
        },
        SeriesInput {
            labels: &bad_value,
            samples: &s,
            histograms: &[],
        },
        SeriesInput {
            labels: &good2,
            samples: &s,
            histograms: &[],
        },
    ];
    let out = st.append(&t, &batch).unwrap();
    assert_eq!(out.accepted, 4);
    assert_eq!(out.rejected, 10);
    let reasons: Vec<(String, RejectReason)> = out
        .rejections
        .iter()
        .map(|r| (r.series.clone(), r.reason.clone()))
        .collect();
    assert_eq!(
        reasons,
        vec![
            (
                "{}".to_string(),
                RejectReason::Labels(LabelError::EmptyLabelSet)
            ),
            (
                "{__name__=\"d\", a=\"1\", a=\"2\"}".to_string(),
                RejectReason::Labels(LabelError::DuplicateLabelName("a".into()))
            ),
            (
                "{__name__=\"e\", =\"1\"}".to_string(),
                RejectReason::Labels(LabelError::EmptyLabelName)
            ),
            (
                "{__name__=\"u\", a\u{fffd}=\"1\"}".to_string(),
                RejectReason::Labels(LabelError::InvalidUtf8Name("a\u{fffd}".into()))
            ),
            (
                "{__name__=\"v\", a=\"\u{fffd}(\"}".to_string(),
                RejectReason::Labels(LabelError::InvalidUtf8Value("a".into()))
            ),
        ]
    );
    assert_eq!(
        out.rejections[1].to_string(),
        "invalid labels: duplicate label name \"a\" for series {__name__=\"d\", a=\"1\", a=\"2\"}"
    );
    let got = st.querier(&t, 0, 100).select(&[name_is("ok")]).unwrap();
    assert_eq!(got.len(), 2, "both valid series stored");
    assert!(got.iter().all(|s| s.samples.len() == 2));
}

#[test]
fn out_of_order_window_and_duplicates() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = common::config(dir.path(), 7_200_000);
    let (strict, lax) = (common::tenant("strict"), common::tenant("lax"));
    cfg.tenant_overrides.insert(
        lax.clone(),
        TenantConfig {
            ooo_window_ms: 30 * 60_000,
            retention_ms: None,
            ..Default::default()
        },
    );
    let st = common::open(&cfg);
    let l = common::labels(&[("__name__", "m")]);
    let base = 10 * 3_600_000;
    let first = [Sample::new(base, 1.0), Sample::new(base + 60_000, 2.0)];
    for t in [&strict, &lax] {
        assert_eq!(common::append(&st, t, &l, &first).unwrap().accepted, 2);
    }
    let late = [
        Sample::new(base + 30_000, 1.5),               // inside the window
        Sample::new(base + 60_000 - 31 * 60_000, 0.5), // older than the window
        Sample::new(base + 60_000, 2.0),               // duplicate, same value
        Sample::new(base, 9.0),                        // duplicate, other value
    ];
    let reasons = |o: &tessera::storage::AppendOutcome| {
        o.rejections
            .iter()
            .map(|r| (r.timestamp.unwrap(), r.reason.clone()))
            .collect::<Vec<_>>()
    };
    let s = common::append(&st, &strict, &l, &late).unwrap();
    assert_eq!((s.accepted, s.duplicates_ignored), (0, 1));
    assert_eq!(
        reasons(&s),
        vec![
            (
                base + 30_000,
                RejectReason::Sample(SampleReject::OutOfOrder)
            ),
            (
                base + 60_000 - 31 * 60_000,
                RejectReason::Sample(SampleReject::OutOfOrder)
            ),
            (base, RejectReason::Sample(SampleReject::DuplicateTimestamp)),
        ]
    );
    assert_eq!(s.rejections[0].reason.to_string(), "out of order sample");
    let x = common::append(&st, &lax, &l, &late).unwrap();
    assert_eq!((x.accepted, x.duplicates_ignored), (1, 1));
    assert_eq!(
        reasons(&x),
        vec![
            (
                base + 60_000 - 31 * 60_000,
                RejectReason::Sample(SampleReject::TooOld)
            ),
            (base, RejectReason::Sample(SampleReject::DuplicateTimestamp)),
        ]
    );
    assert_eq!(
        x.rejections[1].reason.to_string(),
        "duplicate sample for timestamp"
    );
    let got = st
        .querier(&lax, 0, i64::MAX)
        .select(&[name_is("m")])
        .unwrap();
    let ts: Vec<i64> = got[0].samples.iter().map(|s| s.t).collect();
    assert_eq!(
        ts,
        [base, base + 30_000, base + 60_000],
        "merged in time order"
    );
    // The merge survives flush and restart.
    st.flush(&lax).unwrap();
    st.close().unwrap();
    let st = common::open(&cfg);
    let got = st
        .querier(&lax, 0, i64::MAX)
        .select(&[name_is("m")])
        .unwrap();
    assert_eq!(
        got[0].samples.iter().map(|s| s.t).collect::<Vec<_>>(),
        [base, base + 30_000, base + 60_000]
    );
}

#[test]
fn special_values_are_bit_exact_through_head_wal_and_blocks() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = common::config(dir.path(), 7_200_000);
    let t = common::tenant("t");
    let l = common::labels(&[("__name__", "special")]);
    let vals = [
        stale_nan(),
        f64::NAN,
        f64::from_bits(0x7ff8_0000_0000_0001),
        f64::INFINITY,
        f64::NEG_INFINITY,
        -0.0,
        1.5,
    ];
    let samples: Vec<Sample> = vals
        .iter()
        .enumerate()
        .map(|(i, v)| Sample::new(i as i64 * 1000, *v))
        .collect();
    let want = common::bits(&samples);
    let st = common::open(&cfg);
    common::append(&st, &t, &l, &samples).unwrap();
    let read = |st: &tessera::storage::Storage| {
        common::bits(
            &st.querier(&t, 0, i64::MAX)
                .select(&[name_is("special")])
                .unwrap()[0]
                .samples,
        )
    };
    assert_eq!(read(&st), want, "head");
    drop(st);
    let st = common::open(&cfg);
    assert_eq!(read(&st), want, "after WAL replay");
    st.flush(&t).unwrap();
    assert_eq!(read(&st), want, "from a block");
    let got = st
        .querier(&t, 0, i64::MAX)
        .select(&[name_is("special")])
        .unwrap();
    assert!(is_stale_nan(got[0].samples[0].v));
}

/// Truncates or corrupts the WAL tail at many offsets; after restart every
/// batch that was completely written before the damage is present, and
/// nothing is half-applied.
#[test]
fn wal_tail_damage_keeps_every_complete_batch() {
    let l = |i: usize| common::labels(&[("__name__", "c"), ("i", &i.to_string())]);
    let batches = 12usize;
    // First, find the byte offset at which each batch ended.
    let probe = tempfile::tempdir().unwrap();
    let cfg = common::config(probe.path(), 7_200_000);
    let t = common::tenant("t");
    let mut ends = Vec::new();
    let seg = {
        let st = common::open(&cfg);
        for b in 0..batches {
            common::append(&st, &t, &l(b % 3), &[Sample::new(b as i64 * 10, b as f64)]).unwrap();
            ends.push(newest_segment(probe.path()).1);
        }
        newest_segment(probe.path()).0
    };
    let total = std::fs::metadata(&seg).unwrap().len();
    let mut rng = 0x9e3779b97f4a7c15u64;
    for round in 0..40 {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        let cut = rng % total;
        let corrupt = round % 2 == 1;
        let dir = tempfile::tempdir().unwrap();
        copy_dir(probe.path(), dir.path());
        let seg_copy = dir.path().join(seg.strip_prefix(probe.path()).unwrap());
        if corrupt {
            let mut bytes = std::fs::read(&seg_copy).unwrap();
            bytes[cut as usize] ^= 0x5a;
            std::fs::write(&seg_copy, bytes).unwrap();
        } else {
            std::fs::OpenOptions::new()
                .write(true)
                .open(&seg_copy)
                .unwrap()
                .set_len(cut)
                .unwrap();
        }
        let (st, stats) =
            tessera::storage::Storage::open(common::config(dir.path(), 7_200_000)).unwrap();
        let complete = ends.iter().filter(|e| **e <= cut).count();
        let got: usize = st
            .querier(&t, i64::MIN, i64::MAX)
            .select(&[all()])
            .unwrap()
            .iter()
            .map(|s| s.samples.len())
            .sum();
        assert_eq!(
            got, complete,
            "cut={cut} corrupt={corrupt}: every batch that ended before the damage, and no other"
        );
        if complete < batches {
            assert!(
                !stats.repairs.is_empty(),
                "damage at {cut} must be repaired and reported"
            );
        }
        // The repaired log accepts new writes and replays them.
        common::append(&st, &t, &l(7), &[Sample::new(1_000_000, 1.0)]).unwrap();
        drop(st);
        let st = common::open(&common::config(dir.path(), 7_200_000));
        let after: usize = st
            .querier(&t, i64::MIN, i64::MAX)
            .select(&[all()])
            .unwrap()
            .iter()
            .map(|s| s.samples.len())
            .sum();
        assert_eq!(after, complete + 1);
    }
}

fn newest_segment(root: &std::path::Path) -> (std::path::PathBuf, u64) {
    let p = common::newest_wal_segment(root, "t");
    let len = std::fs::metadata(&p).unwrap().len();
    (p, len)
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    for e in std::fs::read_dir(from).unwrap() {
        let p = e.unwrap().path();
        let dst = to.join(p.file_name().unwrap());
        if p.is_dir() {
            std::fs::create_dir_all(&dst).unwrap();
            copy_dir(&p, &dst);
        } else {
            std::fs::copy(&p, &dst).unwrap();
        }
    }
}

#[test]
fn selector_matching_everything_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let st = common::open(&common::config(dir.path(), 7_200_000));
    let t = common::tenant("t");
    common::append(
        &st,
        &t,
        &common::labels(&[("__name__", "x")]),
        &[Sample::new(1, 1.0)],
    )
    .unwrap();
    let empty = Matcher::new(MatchOp::Regex, "job", ".*").unwrap();
    let err = st.querier(&t, 0, 10).select(&[empty]).unwrap_err();
    assert!(matches!(err, StorageError::EmptyMatchers), "{err}");
    let err = st.querier(&t, 0, 10).select(&[]).unwrap_err();
    assert!(matches!(err, StorageError::EmptyMatchers), "{err}");
}

#[test]
fn label_names_and_values_follow_matchers_time_and_limit() {
    let dir = tempfile::tempdir().unwrap();
    let st = common::open(&common::config(dir.path(), 1000));
    let t = common::tenant("t");
    common::append(
        &st,
        &t,
        &common::labels(&[("__name__", "a"), ("x", "1")]),
        &[Sample::new(100, 1.0)],
    )
    .unwrap();
    common::append(
        &st,
        &t,
        &common::labels(&[("__name__", "b"), ("y", "2")]),
        &[Sample::new(5000, 1.0)],
    )
    .unwrap();
    common::append(
        &st,
        &t,
        &common::labels(&[("__name__", "c"), ("y", "3")]),
        &[Sample::new(5000, 1.0)],
    )
    .unwrap();
    st.flush(&t).unwrap();
    common::append(
        &st,
        &t,
        &common::labels(&[("__name__", "d"), ("z", "4")]),
        &[Sample::new(9000, 1.0)],
    )
    .unwrap();
    let q = st.querier(&t, i64::MIN, i64::MAX);
    assert_eq!(
        q.label_names(&[], None).unwrap(),
        ["__name__", "x", "y", "z"]
    );
    assert_eq!(q.label_names(&[], Some(2)).unwrap(), ["__name__", "x"]);
    assert_eq!(
        q.label_names(&[name_is("b")], None).unwrap(),
        ["__name__", "y"]
    );
    assert_eq!(
        q.label_values("__name__", &[], None).unwrap(),
        ["a", "b", "c", "d"]
    );
    assert_eq!(q.label_values("y", &[], Some(1)).unwrap(), ["2"]);
    let sel = Matcher::new(MatchOp::Regex, "__name__", "c|d").unwrap();
    assert_eq!(
        q.label_values("__name__", &[sel], None).unwrap(),
        ["c", "d"]
    );
    let late = st.querier(&t, 4000, 6000);
    let m = Matcher::new(MatchOp::Regex, "__name__", ".+").unwrap();
    assert_eq!(
        late.label_values("__name__", &[m.clone()], None).unwrap(),
        ["b", "c"]
    );
    assert_eq!(late.select_labels(&[m]).unwrap().len(), 2);
}

#[test]
fn retention_deletes_whole_expired_blocks_per_tenant() {
    let dir = tempfile::tempdir().unwrap();
    let hour = 3_600_000i64;
    let mut cfg = common::config(dir.path(), 2 * hour);
    let (short, long) = (common::tenant("short"), common::tenant("long"));
    cfg.tenant_overrides.insert(
        short.clone(),
        TenantConfig {
            ooo_window_ms: 0,
            retention_ms: Some(3 * hour),
            ..Default::default()
        },
    );
    let st = common::open(&cfg);
    let l = common::labels(&[("__name__", "m")]);
    // Ten hours of one sample a minute; maintenance flushes 2 h blocks as the head grows.
    for i in 0..600i64 {
        for t in [&short, &long] {
            common::append(&st, t, &l, &[Sample::new(i * 60_000, i as f64)]).unwrap();
        }
        if i % 60 == 0 {
            st.maintain().unwrap();
        }
    }
    st.maintain().unwrap();
    let newest = 599 * 60_000;
    let kept = st.blocks(&short);
    assert!(!kept.is_empty());
    assert!(
        kept.iter().all(|b| b.max_time > newest - 3 * hour),
        "expired blocks deleted: {kept:?}"
    );
    let first_short = st
        .querier(&short, 0, i64::MAX)
        .select(&[name_is("m")])
        .unwrap()[0]
        .samples[0]
        .t;
    assert!(
        first_short > 0,
        "the oldest samples of tenant short are gone"
    );
    let first_long = st
        .querier(&long, 0, i64::MAX)
        .select(&[name_is("m")])
        .unwrap()[0]
        .samples[0]
        .t;
    assert_eq!(
        first_long, 0,
        "tenant long has no retention and keeps everything"
    );
}

#[test]
fn select_each_streams_the_same_series_as_select_across_blocks_and_head() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = common::config(dir.path(), 3_600_000);
    let st = common::open(&cfg);
    let t = common::tenant("acme");
    // Three hours at one sample a minute: flushing cuts blocks at the hour
    // boundaries and leaves the newest samples in the head.
    for i in 0..30 {
        let l = common::labels(&[("__name__", "m"), ("i", &format!("{i:02}"))]);
        let samples: Vec<Sample> = (0..180)
            .map(|k| Sample::new(k * 60_000, (i * 1000 + k) as f64))
            .collect();
        common::append(&st, &t, &l, &samples[..120]).unwrap();
    }
    st.flush(&t).unwrap();
    for i in 0..30 {
        let l = common::labels(&[("__name__", "m"), ("i", &format!("{i:02}"))]);
        let samples: Vec<Sample> = (120..180)
            .map(|k| Sample::new(k * 60_000, (i * 1000 + k) as f64))
            .collect();
        common::append(&st, &t, &l, &samples).unwrap();
    }
    assert!(!st.blocks(&t).is_empty(), "the test needs data in blocks");
    let q = st.querier(&t, 30 * 60_000, 170 * 60_000);
    let matchers = [
        name_is("m"),
        Matcher::new(MatchOp::Regex, "i", "0.|1.").unwrap(),
    ];
    let want = q.select(&matchers).unwrap();
    let mut got = Vec::new();
    q.select_each(&matchers, |labels, samples| {
        got.push((labels, samples));
        true
    })
    .unwrap();
    assert_eq!(got.len(), 20);
    assert_eq!(got.len(), want.len());
    for ((l, s), w) in got.iter().zip(&want) {
        assert_eq!(*l, w.labels);
        assert_eq!(common::bits(s), common::bits(&w.samples));
        assert_eq!(s.len(), 141, "{l:?}");
    }
    // Stopping early stops the walk.
    let mut n = 0;
    q.select_each(&matchers, |_, _| {
        n += 1;
        n < 3
    })
    .unwrap();
    assert_eq!(n, 3);
}

/// Every float is stored bit for bit, negative zero included, in the head
/// (open and closed chunks) and after a flush into a block.
#[test]
fn every_float_is_stored_bit_for_bit() {
    let dir = tempfile::tempdir().unwrap();
    let st = common::open(&common::config(dir.path(), 7_200_000));
    let t = common::tenant("bits");
    let labels = tessera::model::Labels::from_pairs([("__name__", "bits")]);
    let values = [
        1.0,
        -0.0,
        0.0,
        -0.0,
        1e300,
        -0.0,
        f64::INFINITY,
        -0.0,
        3.5,
        -0.0,
        f64::NEG_INFINITY,
    ];
    let samples: Vec<Sample> = (0..300)
        .map(|i| Sample::new(i * 1000, values[i as usize % values.len()]))
        .collect();
    common::append(&st, &t, &labels, &samples).unwrap();
    let check = |what: &str| {
        let got = st
            .querier(&t, 0, i64::MAX)
            .select(&[name_is("bits")])
            .unwrap();
        let got = &got[0].samples;
        assert_eq!(got.len(), samples.len(), "{what}");
        for (g, w) in got.iter().zip(&samples) {
            assert_eq!(
                (g.t, g.v.to_bits()),
                (w.t, w.v.to_bits()),
                "{what} at {}",
                w.t
            );
        }
    };
    check("head");
    st.flush(&t).unwrap();
    check("block");
}

/// Large selections decode on two threads while the caller works:
/// every series arrives once, in label order, merged across a block and
/// the head, and a caller that stops early stops the decoders.
#[test]
fn large_selections_stream_every_series_once_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = common::config(dir.path(), 7_200_000);
    let st = common::open(&cfg);
    let t = common::tenant("a");
    let n = 1_000usize;
    let name = |i: usize| format!("s{i:05}");
    for i in 0..n {
        let l = common::labels(&[("__name__", "m"), ("k", &name(i))]);
        common::append(&st, &t, &l, &[Sample::new(1_000, i as f64)]).unwrap();
    }
    st.flush(&t).unwrap();
    for i in 0..n {
        let l = common::labels(&[("__name__", "m"), ("k", &name(i))]);
        common::append(&st, &t, &l, &[Sample::new(2_000, -(i as f64))]).unwrap();
    }
    let q = st.querier(&t, 0, 10_000);
    let mut seen = Vec::new();
    q.select_each(&[name_is("m")], |l, s| {
        seen.push((l.get("k").unwrap().to_string(), common::bits(&s)));
        true
    })
    .unwrap();
    let want: Vec<(String, Vec<(i64, u64)>)> = (0..n)
        .map(|i| {
            let s = [
                Sample::new(1_000, i as f64),
                Sample::new(2_000, -(i as f64)),
            ];
            (name(i), common::bits(&s))
        })
        .collect();
    assert_eq!(seen, want);

    let mut calls = 0;
    q.select_each(&[name_is("m")], |_, _| {
        calls += 1;
        calls < 300
    })
    .unwrap();
    assert_eq!(calls, 300);
}

/// Selections of 4096 head series or more build and sort their label sets
/// on two threads and merge the halves: series appended out of label
/// order, some with an extra label, come back once each, in label order.
#[test]
fn large_head_selections_are_labelled_and_sorted_on_two_threads() {
    let dir = tempfile::tempdir().unwrap();
    let st = common::open(&common::config(dir.path(), 7_200_000));
    let t = common::tenant("a");
    let n = 6_000usize;
    let key = |i: usize| format!("s{:04}", i / 2);
    let extra = |i: usize| i % 2 == 1;
    let labels_of = |i: usize| {
        let k = key(i);
        if extra(i) {
            common::labels(&[("__name__", "m"), ("k", &k), ("z", "1")])
        } else {
            common::labels(&[("__name__", "m"), ("k", &k)])
        }
    };
    // Appended in a scrambled order, so ids are not in label order.
    for j in 0..n {
        let i = (j * 7919) % n;
        common::append(&st, &t, &labels_of(i), &[Sample::new(1_000, i as f64)]).unwrap();
    }
    let q = st.querier(&t, 0, 10_000);
    let mut seen = Vec::new();
    q.select_each(&[name_is("m")], |l, s| {
        seen.push((l, common::bits(&s)));
        true
    })
    .unwrap();
    let want: Vec<_> = (0..n)
        .map(|i| (labels_of(i), common::bits(&[Sample::new(1_000, i as f64)])))
        .collect();
    assert_eq!(seen.len(), n);
    assert_eq!(seen, want);
}

/// A large selection's label order is kept and reused for the same set of
/// series: selecting again gives the same series in the same order, and
/// a set that changed (a new series in the middle of the order, or a time
/// range that leaves some series out) is sorted afresh, never served in
/// an old order.
#[test]
fn repeated_large_selections_keep_label_order_as_the_series_change() {
    let dir = tempfile::tempdir().unwrap();
    let st = common::open(&common::config(dir.path(), 7_200_000));
    let t = common::tenant("a");
    let n = 3_000usize;
    let labels_of = |i: usize| common::labels(&[("__name__", "m"), ("k", &format!("s{i:05}"))]);
    // Every third series only has a late sample; ids are not in label order.
    let time_of = |i: usize| if i % 3 == 0 { 9_000 } else { 1_000 };
    for j in 0..n {
        let i = (j * 7919) % n;
        let s = Sample::new(time_of(i), i as f64);
        common::append(&st, &t, &labels_of(i * 2), &[s]).unwrap();
    }
    let select = |mint: i64, maxt: i64| {
        let q = st.querier(&t, mint, maxt);
        let mut seen = Vec::new();
        q.select_each(&[name_is("m")], |l, s| {
            seen.push((l, common::bits(&s)));
            true
        })
        .unwrap();
        seen
    };
    let want = |present: &dyn Fn(usize) -> bool, extra: &[usize]| {
        let mut w: Vec<_> = (0..n)
            .filter(|&i| present(i))
            .map(|i| {
                let s = Sample::new(time_of(i), i as f64);
                (labels_of(i * 2), common::bits(&[s]))
            })
            .collect();
        for &e in extra {
            let s = Sample::new(5_000, -1.0);
            w.push((labels_of(e), common::bits(&[s])));
        }
        w.sort_by(|a, b| a.0.cmp(&b.0));
        w
    };
    let all = want(&|_| true, &[]);
    for _ in 0..3 {
        assert_eq!(select(0, 10_000), all);
    }
    // Without the late-only series: another set of ids.
    let early = want(&|i| i % 3 != 0, &[]);
    for _ in 0..2 {
        assert_eq!(select(0, 5_000), early);
    }
    assert_eq!(select(0, 10_000), all);
    // New series between existing ones in label order (odd keys).
    for e in [1usize, 2_999, 5_001] {
        common::append(&st, &t, &labels_of(e), &[Sample::new(5_000, -1.0)]).unwrap();
    }
    let grown = want(&|_| true, &[1, 2_999, 5_001]);
    for _ in 0..2 {
        assert_eq!(select(0, 10_000), grown);
    }
}
