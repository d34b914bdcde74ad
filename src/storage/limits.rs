//! Per-tenant series and label limits, checked where series are created.
//!
//! Only storage knows whether a series is new, so the series-count limits
//! live here rather than in the API layer; the label limits sit next to
//! them so that every ingest path (remote write, push, import) gets them.

use crate::model::LabelRef;
use crate::storage::outcome::RejectReason;

/// Limits on a tenant's series and labels. 0 means unlimited.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SeriesLimits {
    /// Active (head) series per tenant.
    pub max_series_per_tenant: u64,
    /// Active (head) series per metric name.
    pub max_series_per_metric: u64,
    /// Label names per series, `__name__` included.
    pub max_label_names_per_series: u64,
    /// Bytes in a label name.
    pub max_label_name_length: u64,
    /// Bytes in a label value.
    pub max_label_value_length: u64,
}

/// Whether `n` passes `limit` (0 = unlimited).
fn over(n: u64, limit: u64) -> bool {
    limit != 0 && n > limit
}

impl SeriesLimits {
    /// Checks label count and lengths of normalized labels (`order` indexes
    /// `labels`, empty values already left out). Cheap: no lookups.
    pub(crate) fn check_labels(
        &self,
        labels: &[LabelRef<'_>],
        order: &[u32],
    ) -> Result<(), RejectReason> {
        let count = order.len() as u64;
        if over(count, self.max_label_names_per_series) {
            return Err(RejectReason::LabelNamesLimit {
                count,
                limit: self.max_label_names_per_series,
            });
        }
        if self.max_label_name_length == 0 && self.max_label_value_length == 0 {
            return Ok(());
        }
        for l in order.iter().filter_map(|&i| labels.get(i as usize)) {
            let name = || String::from_utf8_lossy(l.name).into_owned();
            if over(l.name.len() as u64, self.max_label_name_length) {
                return Err(RejectReason::LabelNameLength {
                    name: name(),
                    limit: self.max_label_name_length,
                });
            }
            if over(l.value.len() as u64, self.max_label_value_length) {
                return Err(RejectReason::LabelValueLength {
                    name: name(),
                    limit: self.max_label_value_length,
                });
            }
        }
        Ok(())
    }

    /// Checks whether one more series may be created, given the tenant's
    /// current series count and its metric's.
    pub(crate) fn check_new_series(
        &self,
        tenant_series: u64,
        metric: &str,
        metric_series: u64,
    ) -> Result<(), RejectReason> {
        if over(tenant_series.saturating_add(1), self.max_series_per_tenant) {
            return Err(RejectReason::SeriesLimit(self.max_series_per_tenant));
        }
        if over(metric_series.saturating_add(1), self.max_series_per_metric) {
            return Err(RejectReason::MetricSeriesLimit {
                limit: self.max_series_per_metric,
                metric: metric.to_string(),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lr<'a>(pairs: &'a [(&'a str, &'a str)]) -> Vec<LabelRef<'a>> {
        pairs.iter().map(|(n, v)| LabelRef::new(n, v)).collect()
    }

    #[test]
    fn label_limits_table() {
        let l = SeriesLimits {
            max_label_names_per_series: 2,
            max_label_name_length: 4,
            max_label_value_length: 3,
            ..Default::default()
        };
        type Case<'a> = (&'a [(&'a str, &'a str)], Option<&'a str>);
        let cases: &[Case] = &[
            (&[("a", "x")], None),
            (&[("a", "xyz"), ("abcd", "1")], None),
            (
                &[("a", "1"), ("b", "2"), ("c", "3")],
                Some("label_names_limit"),
            ),
            (&[("abcde", "1")], Some("label_name_length")),
            (&[("a", "wxyz")], Some("label_value_length")),
        ];
        for (pairs, want) in cases {
            let refs = lr(pairs);
            let order: Vec<u32> = (0..refs.len() as u32).collect();
            let got = l.check_labels(&refs, &order).err();
            assert_eq!(got.as_ref().map(|r| r.metric_name()), *want, "{pairs:?}");
        }
        let unlimited = SeriesLimits::default();
        let refs = lr(&[("a_very_long_name", "a very long value")]);
        assert_eq!(unlimited.check_labels(&refs, &[0]), Ok(()));
    }

    #[test]
    fn series_limits_are_inclusive_and_zero_is_unlimited() {
        let l = SeriesLimits {
            max_series_per_tenant: 3,
            max_series_per_metric: 2,
            ..Default::default()
        };
        assert_eq!(l.check_new_series(2, "up", 1), Ok(()));
        assert_eq!(
            l.check_new_series(3, "up", 0),
            Err(RejectReason::SeriesLimit(3))
        );
        let e = l.check_new_series(0, "up", 2).unwrap_err();
        assert_eq!(
            e.to_string(),
            r#"per-metric series limit of 2 exceeded for metric "up""#
        );
        assert_eq!(
            SeriesLimits::default().check_new_series(u64::MAX, "x", u64::MAX),
            Ok(())
        );
    }
}
