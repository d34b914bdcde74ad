//! Exemplars: a labelled value (usually a trace id) attached to one sample
//! of a series, as OpenMetrics and remote_write carry them.

use super::{LabelRef, Labels, Timestamp};

/// Most runes an exemplar's label names and values may hold together
/// (OpenMetrics; Prometheus' `exemplar.ExemplarMaxLabelSetLength`).
pub const EXEMPLAR_MAX_LABEL_SET_LENGTH: usize = 128;

/// One exemplar: its own labels, a value and a timestamp (ms).
#[derive(Debug, Clone, PartialEq)]
pub struct Exemplar {
    /// The exemplar's labels (`trace_id`, ...); may be empty.
    pub labels: Labels,
    /// The observed value.
    pub value: f64,
    /// Milliseconds since the epoch.
    pub t: Timestamp,
}

impl Exemplar {
    /// Builds an exemplar from label bytes as a sender gave them, checking
    /// what Prometheus checks before storing one: UTF-8, non-empty and
    /// unique names, and at most [`EXEMPLAR_MAX_LABEL_SET_LENGTH`] runes of
    /// names and values together (`CircularExemplarStorage.validateExemplar`).
    /// The error says which rule failed.
    pub fn from_refs(
        labels: &[LabelRef<'_>],
        value: f64,
        t: Timestamp,
    ) -> Result<Exemplar, String> {
        let mut pairs = Vec::with_capacity(labels.len());
        let mut runes = 0usize;
        for l in labels {
            let name = std::str::from_utf8(l.name)
                .map_err(|_| "exemplar label name is not valid UTF-8".to_string())?;
            let v = std::str::from_utf8(l.value)
                .map_err(|_| format!("value of exemplar label {name:?} is not valid UTF-8"))?;
            if name.is_empty() {
                return Err("exemplar label with an empty name".into());
            }
            runes += name.chars().count() + v.chars().count();
            if runes > EXEMPLAR_MAX_LABEL_SET_LENGTH {
                return Err(format!(
                    "exemplar labels are longer than {EXEMPLAR_MAX_LABEL_SET_LENGTH} runes"
                ));
            }
            pairs.push((name, v));
        }
        pairs.sort_unstable();
        if let Some(w) = pairs.windows(2).find(|w| w[0].0 == w[1].0) {
            return Err(format!("duplicate exemplar label name {:?}", w[0].0));
        }
        Ok(Exemplar {
            labels: Labels::from_pairs(pairs),
            value,
            t,
        })
    }

    /// Prometheus' `Exemplar.Equals` for exemplars that all carry a
    /// timestamp: same labels, timestamp and value (values compared by
    /// `==`, so a NaN exemplar never equals another).
    pub fn same_as(&self, other: &Exemplar) -> bool {
        self.labels == other.labels && self.t == other.t && self.value == other.value
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refs<'a>(pairs: &[(&'a str, &'a str)]) -> Vec<LabelRef<'a>> {
        pairs.iter().map(|(n, v)| LabelRef::new(n, v)).collect()
    }

    #[test]
    fn label_rules() {
        let ok = Exemplar::from_refs(&refs(&[("trace_id", "abc"), ("a", "b")]), 1.5, 7).unwrap();
        assert_eq!(ok.labels.get("trace_id"), Some("abc"));
        assert_eq!(ok.labels.as_slice()[0].name, "a", "sorted");
        assert!(Exemplar::from_refs(&[], 1.0, 1).unwrap().labels.is_empty());
        let cases: &[(&[(&str, &str)], &str)] = &[
            (&[("", "x")], "empty name"),
            (
                &[("a", "1"), ("a", "2")],
                "duplicate exemplar label name \"a\"",
            ),
        ];
        for (pairs, want) in cases {
            let e = Exemplar::from_refs(&refs(pairs), 1.0, 1).unwrap_err();
            assert!(e.contains(want), "{e}");
        }
        let bad = [LabelRef {
            name: b"a",
            value: b"\xff",
        }];
        assert!(Exemplar::from_refs(&bad, 1.0, 1)
            .unwrap_err()
            .contains("not valid UTF-8"));
    }

    #[test]
    fn label_set_length_counts_runes_up_to_128() {
        // 8 + 120 = 128 runes: allowed; one more is not. "é" is one rune
        // of two bytes, so the limit is in runes, not bytes.
        let v = "é".repeat(120);
        assert!(Exemplar::from_refs(&refs(&[("trace_id", &v)]), 1.0, 1).is_ok());
        let v = "é".repeat(121);
        let e = Exemplar::from_refs(&refs(&[("trace_id", &v)]), 1.0, 1).unwrap_err();
        assert!(e.contains("longer than 128 runes"), "{e}");
    }

    #[test]
    fn sameness_needs_labels_time_and_value() {
        let a = Exemplar::from_refs(&refs(&[("t", "1")]), 2.0, 5).unwrap();
        let mut b = a.clone();
        assert!(a.same_as(&b));
        b.t = 6;
        assert!(!a.same_as(&b));
        let mut c = a.clone();
        c.value = 3.0;
        assert!(!a.same_as(&c));
        let n = Exemplar::from_refs(&[], f64::NAN, 5).unwrap();
        assert!(!n.same_as(&n.clone()));
    }
}
