//! Start (created) timestamps of head samples.
//!
//! A series keeps the start timestamps (STs) of the samples that have one in
//! a [`StWriter`] stream in its side data, in time order. In-order samples
//! (the normal case) append to the stream; an out-of-order sample with an ST
//! rebuilds it, which is rare enough not to matter. Series without STs have
//! no stream, and readers that do not ask for STs never look at it.

use super::series::MemSeries;
use crate::storage::chunk::{StEntry, StWriter};
use crate::storage::error::{Result, StorageError};

fn corrupt(e: crate::storage::chunk::ChunkDecodeError) -> StorageError {
    StorageError::corruption("head start timestamps", e.offset as u64, e.reason)
}

impl MemSeries {
    /// Records `st` (non-zero) as the start timestamp of the sample at `t`,
    /// replacing one recorded there before.
    pub fn set_start_time(&mut self, t: i64, st: i64) {
        let side = self.side.get_or_insert_with(Default::default);
        if side.sts.last_t().is_none_or(|last| t > last) {
            side.sts.push(t, st);
            return;
        }
        let mut all = Vec::with_capacity(side.sts.len() + 1);
        // The stream was written by this process; if it does not decode the
        // sample keeps only the ST given now rather than failing the append.
        if side.sts.entries(&mut all).is_err() {
            all.clear();
        }
        match all.binary_search_by_key(&t, |e| e.0) {
            Ok(i) => all[i].1 = st,
            Err(i) => all.insert(i, (t, st)),
        }
        side.sts = StWriter::from_entries(&all);
    }

    /// Appends the `(t, st)` of samples in `[mint, maxt]` that have a start
    /// timestamp to `out`, in time order.
    pub fn start_times_in(&self, mint: i64, maxt: i64, out: &mut Vec<StEntry>) -> Result<()> {
        let Some(side) = self.side.as_deref().filter(|s| !s.sts.is_empty()) else {
            return Ok(());
        };
        let start = out.len();
        side.sts.entries(out).map_err(corrupt)?;
        let mut w = start;
        for r in start..out.len() {
            if (mint..=maxt).contains(&out[r].0) {
                out[w] = out[r];
                w += 1;
            }
        }
        out.truncate(w);
        Ok(())
    }

    /// Drops the start timestamps of samples older than `before`.
    pub(super) fn truncate_start_times(&mut self, before: i64) -> Result<()> {
        let Some(side) = self.side.as_deref_mut() else {
            return Ok(());
        };
        if side.sts.is_empty() {
            return Ok(());
        }
        let mut all = Vec::with_capacity(side.sts.len());
        side.sts.entries(&mut all).map_err(corrupt)?;
        if all.first().is_some_and(|e| e.0 >= before) {
            return Ok(());
        }
        all.retain(|e| e.0 >= before);
        side.sts = StWriter::from_entries(&all);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Sample;

    #[test]
    fn start_times_follow_samples_in_and_out_of_order() {
        let mut s = MemSeries::new();
        s.append_in_order(10, 1.0, i64::MAX);
        s.set_start_time(10, 5);
        s.append_in_order(20, 2.0, i64::MAX);
        s.append_in_order(30, 3.0, i64::MAX);
        s.set_start_time(30, 20);
        s.insert_ooo(Sample::new(15, 1.5));
        s.set_start_time(15, -7);
        let mut got = Vec::new();
        s.start_times_in(i64::MIN, i64::MAX, &mut got).unwrap();
        assert_eq!(got, [(10, 5), (15, -7), (30, 20)]);
        got.clear();
        s.start_times_in(11, 30, &mut got).unwrap();
        assert_eq!(got, [(15, -7), (30, 20)]);
        s.set_start_time(15, 9);
        s.truncate_before(12, i64::MAX).unwrap();
        got.clear();
        s.start_times_in(i64::MIN, i64::MAX, &mut got).unwrap();
        assert_eq!(got, [(15, 9), (30, 20)]);
        s.truncate_before(31, i64::MAX).unwrap();
        assert!(s.side.is_none(), "side data freed once empty");
    }

    #[test]
    fn series_without_start_times_have_no_side_data() {
        let mut s = MemSeries::new();
        for i in 0..500 {
            s.append_in_order(i, i as f64, i64::MAX);
        }
        assert!(s.side.is_none());
        let mut got = Vec::new();
        s.start_times_in(i64::MIN, i64::MAX, &mut got).unwrap();
        assert!(got.is_empty());
    }
}
