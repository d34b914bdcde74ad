//! Start (created) timestamps through the storage engine: the head, a WAL
//! replay after a restart, a WAL checkpoint, block flushes and compaction.
//! Series without start timestamps read back none. Histograms keep theirs
//! the same way, in the series' one list of `(t, st)` pairs.

mod common;

use tessera::model::{Histogram, HistogramSample, LabelRef, Labels, Sample};
use tessera::storage::{MatchOp, Matcher, SeriesInput, Storage};
use tessera::tenant::TenantId;

fn all() -> Matcher {
    Matcher::new(MatchOp::Regex, "__name__", ".+").unwrap()
}

/// Appends one series with per-sample start timestamps (0: none).
fn append_st(st: &Storage, t: &TenantId, l: &Labels, samples: &[Sample], sts: &[i64]) {
    let refs: Vec<LabelRef> = l.refs();
    let out = st
        .append_with_start_times(
            t,
            &[SeriesInput {
                labels: &refs,
                samples,
                histograms: &[],
            }],
            &[sts],
        )
        .unwrap();
    assert_eq!(out.accepted, samples.len() as u64, "{out:?}");
}

/// Appends one series' histograms (at the given times) with their start
/// timestamps (0: none).
fn append_hist_st(st: &Storage, t: &TenantId, l: &Labels, times: &[i64], sts: &[i64]) {
    let refs: Vec<LabelRef> = l.refs();
    let hists: Vec<HistogramSample> = times
        .iter()
        .map(|&t| HistogramSample {
            t,
            h: Histogram::empty_int(0),
        })
        .collect();
    let out = st
        .append_with_start_times(
            t,
            &[SeriesInput {
                labels: &refs,
                samples: &[],
                histograms: &hists,
            }],
            &[sts],
        )
        .unwrap();
    assert_eq!(out.accepted, times.len() as u64, "{out:?}");
}

/// Every series in `[mint, maxt]` with its `(t, st)` pairs.
fn read(st: &Storage, t: &TenantId, mint: i64, maxt: i64) -> Vec<(String, Vec<(i64, i64)>)> {
    let mut out = Vec::new();
    st.querier(t, mint, maxt)
        .select_each_values(&[all()], true, |l, v| {
            let name = l.get("__name__").unwrap_or_default().to_string();
            out.push((name, v.start_times));
            true
        })
        .unwrap();
    out
}

/// A delta-style series (ST = previous sample time), a cumulative one with a
/// fixed ST and a plain one; sample times `i * 60s` for `i in from..to`.
fn write_shapes(st: &Storage, t: &TenantId, from: i64, to: i64) {
    let samples: Vec<Sample> = (from..to)
        .map(|i| Sample::new(i * 60_000, i as f64))
        .collect();
    let delta: Vec<i64> = (from..to).map(|i| (i - 1) * 60_000 + 1).collect();
    let cumulative: Vec<i64> = (from..to).map(|_| -5).collect();
    append_st(
        st,
        t,
        &common::labels(&[("__name__", "d_total")]),
        &samples,
        &delta,
    );
    append_st(
        st,
        t,
        &common::labels(&[("__name__", "c_total")]),
        &samples,
        &cumulative,
    );
    common::append(st, t, &common::labels(&[("__name__", "p_total")]), &samples).unwrap();
    // Histograms: delta-style, and a series that holds floats in the first
    // half of the range and histograms in the second, all in one input
    // (histograms' start timestamps follow the samples').
    let times: Vec<i64> = (from..to).map(|i| i * 60_000).collect();
    append_hist_st(
        st,
        t,
        &common::labels(&[("__name__", "hd_total")]),
        &times,
        &delta,
    );
    let mid = (from + to) / 2;
    let floats: Vec<Sample> = (from..mid).map(|i| Sample::new(i * 60_000, 1.0)).collect();
    let hists: Vec<HistogramSample> = (mid..to)
        .map(|i| HistogramSample {
            t: i * 60_000,
            h: Histogram::empty_int(0),
        })
        .collect();
    let mixed_sts: Vec<i64> = (from..to).map(|i| i * 60_000 - mixed_back(i)).collect();
    let l = common::labels(&[("__name__", "m_total")]);
    let refs: Vec<LabelRef> = l.refs();
    let input = SeriesInput {
        labels: &refs,
        samples: &floats,
        histograms: &hists,
    };
    let out = st
        .append_with_start_times(t, &[input], &[&mixed_sts])
        .unwrap();
    assert_eq!(out.accepted, (to - from) as u64, "{out:?}");
}

/// How far before its sample the mixed series' start timestamp lies.
fn mixed_back(i: i64) -> i64 {
    5 + i % 3
}

fn expected(from: i64, to: i64) -> Vec<(String, Vec<(i64, i64)>)> {
    vec![
        (
            "c_total".into(),
            (from..to).map(|i| (i * 60_000, -5)).collect(),
        ),
        (
            "d_total".into(),
            (from..to)
                .map(|i| (i * 60_000, (i - 1) * 60_000 + 1))
                .collect(),
        ),
        (
            "hd_total".into(),
            (from..to)
                .map(|i| (i * 60_000, (i - 1) * 60_000 + 1))
                .collect(),
        ),
        (
            "m_total".into(),
            (from..to)
                .map(|i| (i * 60_000, i * 60_000 - mixed_back(i)))
                .collect(),
        ),
        ("p_total".into(), vec![]),
    ]
}

#[test]
fn start_times_survive_restart_checkpoint_flush_and_compaction() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = common::config(dir.path(), 3_600_000);
    let t = common::tenant("st");
    let st = common::open(&cfg);
    write_shapes(&st, &t, 1, 200);
    assert_eq!(read(&st, &t, 0, i64::MAX), expected(1, 200), "head");
    // A sub-range returns only the start timestamps of samples in it.
    let part = read(&st, &t, 60_000 * 10, 60_000 * 12);
    assert_eq!(
        part[1].1,
        vec![(600_000, 540_001), (660_000, 600_001), (720_000, 660_001)]
    );
    // Maintenance flushes the older hours into blocks and checkpoints the
    // WAL, keeping the newer samples (and their start timestamps) in it.
    st.maintain().unwrap();
    assert!(!st.blocks(&t).is_empty(), "maintenance flushed a block");
    assert_eq!(
        read(&st, &t, 0, i64::MAX),
        expected(1, 200),
        "partial flush"
    );
    st.close().unwrap();

    let st = common::open(&cfg);
    assert_eq!(
        read(&st, &t, 0, i64::MAX),
        expected(1, 200),
        "after checkpoint replay"
    );
    // Flush writes blocks and checkpoints the WAL; add more after it.
    st.flush(&t).unwrap();
    write_shapes(&st, &t, 200, 260);
    assert_eq!(
        read(&st, &t, 0, i64::MAX),
        expected(1, 260),
        "blocks + head"
    );
    st.close().unwrap();

    let st = common::open(&cfg);
    assert_eq!(
        read(&st, &t, 0, i64::MAX),
        expected(1, 260),
        "after WAL replay"
    );
    st.flush(&t).unwrap();
    st.compact(&t).unwrap();
    assert_eq!(
        read(&st, &t, 0, i64::MAX),
        expected(1, 260),
        "after compaction"
    );
    st.close().unwrap();
}

#[test]
fn out_of_order_samples_keep_their_start_times() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = common::config(dir.path(), 3_600_000);
    cfg.tenant_defaults.ooo_window_ms = 3_600_000;
    let t = common::tenant("ooo");
    let st = common::open(&cfg);
    let l = common::labels(&[("__name__", "x_total")]);
    append_st(
        &st,
        &t,
        &l,
        &[Sample::new(10_000, 1.0), Sample::new(30_000, 3.0)],
        &[1, 0],
    );
    append_st(&st, &t, &l, &[Sample::new(20_000, 2.0)], &[15_000]);
    let want = vec![("x_total".to_string(), vec![(10_000, 1), (20_000, 15_000)])];
    assert_eq!(read(&st, &t, 0, i64::MAX), want);
    st.close().unwrap();
    let st = common::open(&cfg);
    assert_eq!(read(&st, &t, 0, i64::MAX), want, "after replay");
}
