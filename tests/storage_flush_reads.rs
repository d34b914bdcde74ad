//! A querier created before a flush must still see every sample after the
//! flush moved them from the head into a block: the flush waits for it
//! before truncating the head.

mod common;

use std::time::Duration;

use tessera::model::Sample;
use tessera::storage::{MatchOp, Matcher};

#[test]
fn a_querier_older_than_a_flush_still_sees_the_flushed_samples() {
    let dir = tempfile::tempdir().unwrap();
    let st = std::sync::Arc::new(common::open(&common::config(dir.path(), 3_600_000)));
    let t = common::tenant("reads");
    let samples: Vec<Sample> = (0..100).map(|i| Sample::new(i * 1000, i as f64)).collect();
    common::append(&st, &t, &common::labels(&[("__name__", "m")]), &samples).unwrap();
    let q = st.querier(&t, i64::MIN, i64::MAX);
    let flush = {
        let (st, t) = (st.clone(), t.clone());
        std::thread::spawn(move || st.flush(&t))
    };
    std::thread::sleep(Duration::from_millis(200));
    assert!(
        !flush.is_finished(),
        "the flush truncated the head under an open querier"
    );
    let m = Matcher::new(MatchOp::Equal, "__name__", "m").unwrap();
    let got = q.select(std::slice::from_ref(&m)).unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(common::bits(&got[0].samples), common::bits(&samples));
    drop(q);
    let block = flush.join().unwrap().unwrap().expect("a block");
    assert_eq!(block.stats.num_samples, 100);
    // A querier made after the flush reads the block.
    let after = st.querier(&t, i64::MIN, i64::MAX).select(&[m]).unwrap();
    assert_eq!(common::bits(&after[0].samples), common::bits(&samples));
}
