//! Range functions over `anchored` and `smoothed` range selectors: which
//! functions may take them (upstream `AnchoredSafeFunctions`,
//! `SmoothedSafeFunctions`) and one step's value over the widened window.

use super::Result;
use crate::promql::error::QueryError;
use crate::promql::functions::{self, extended, RangeFn, Window};
use crate::promql::plan::{Call, Node};

/// For a range argument with `anchored` or `smoothed`: whether it is
/// smoothed, after checking the function may take it (upstream
/// `AnchoredSafeFunctions` / `SmoothedSafeFunctions`); `None` otherwise.
pub(super) fn extended_modifier(c: &Call, mi: usize, f: RangeFn) -> Result<Option<bool>> {
    let Some(Node::Matrix(sel, _)) = c.args.get(mi) else {
        return Ok(None);
    };
    let (allowed, word, list) = if sel.anchored {
        (
            matches!(f, RangeFn::Changes | RangeFn::Delta | RangeFn::Increase | RangeFn::Rate | RangeFn::Resets),
            "anchored",
            "changes, delta, increase, rate, resets",
        )
    } else if sel.smoothed {
        (
            matches!(f, RangeFn::Delta | RangeFn::Increase | RangeFn::Rate),
            "smoothed",
            "delta, increase, rate",
        )
    } else {
        return Ok(None);
    };
    if !allowed {
        return Err(QueryError::Execution(format!(
            "{word} modifier can only be used with: {list} - not with {}",
            c.name
        )));
    }
    Ok(Some(sel.smoothed))
}

/// One step of a range function over an anchored or smoothed window
/// (`extendedRate`, and `pickFirstSampleIndices` for `changes`/`resets`).
pub(super) fn extended_range(f: RangeFn, w: Window<'_>, smoothed: bool, sts: Option<&[i64]>) -> Option<f64> {
    let range = (w.start, w.end);
    match f {
        RangeFn::Rate => extended::extended_rate(w.samples, range, smoothed, true, true),
        RangeFn::Increase => extended::extended_rate(w.samples, range, smoothed, true, false),
        RangeFn::Delta => extended::extended_rate(w.samples, range, smoothed, false, false),
        _ => {
            let first = extended::anchored_first(w.samples, w.start)?;
            let inner = Window {
                samples: &w.samples[first..],
                ..w
            };
            match sts.and_then(|v| v.get(first..)) {
                Some(sts) => functions::eval_range_st(f, inner, sts),
                None => functions::eval_range(f, inner, &[]),
            }
        }
    }
}
