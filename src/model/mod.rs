//! The data model shared by every layer: labels, samples, timestamps,
//! native histograms, exemplars.

use std::fmt;

pub mod exemplar;
pub mod histogram;

pub use exemplar::{Exemplar, EXEMPLAR_MAX_LABEL_SET_LENGTH};
pub use histogram::{CounterResetHint, Histogram, HistogramCounts, HistogramSample, Span};

/// Milliseconds since the Unix epoch, as Prometheus counts time.
pub type Timestamp = i64;

/// The bit pattern Prometheus uses to mark a series as stale
/// (`value.StaleNaN` in `model/value/value.go`).
pub const STALE_NAN_BITS: u64 = 0x7ff0_0000_0000_0002;

/// The stale marker as an `f64`. Compare with [`is_stale_nan`], never with `==`.
pub fn stale_nan() -> f64 {
    f64::from_bits(STALE_NAN_BITS)
}

/// Whether `v` is the stale marker, compared bit for bit.
pub fn is_stale_nan(v: f64) -> bool {
    v.to_bits() == STALE_NAN_BITS
}

/// The label that holds the metric name.
pub const METRIC_NAME: &str = "__name__";

/// One sample: a timestamp and a float value. Values are compared bit for bit
/// wherever equality matters (NaN payloads and stale markers survive storage).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    /// Milliseconds since the epoch.
    pub t: Timestamp,
    /// The value.
    pub v: f64,
}

impl Sample {
    /// A sample at `t` with value `v`.
    pub fn new(t: Timestamp, v: f64) -> Sample {
        Sample { t, v }
    }

    /// Equality that treats values as bit patterns.
    pub fn bit_eq(&self, other: &Sample) -> bool {
        self.t == other.t && self.v.to_bits() == other.v.to_bits()
    }
}

/// An owned label pair.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Label {
    /// Label name.
    pub name: LabelStr,
    /// Label value (never empty inside a stored [`Labels`]).
    pub value: LabelStr,
}

/// A label name or value: up to 24 bytes are held inline, so most label
/// sets cost one allocation (their `Vec`) rather than one per string.
pub type LabelStr = compact_str::CompactString;

/// A label set sorted by name, with unique names and no empty values.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Labels(Vec<Label>);

impl Labels {
    /// Builds a label set from pairs, sorting by name and dropping empty values.
    /// Duplicate names are kept; use storage validation to reject them.
    pub fn from_pairs<N: Into<LabelStr>, V: Into<LabelStr>>(
        pairs: impl IntoIterator<Item = (N, V)>,
    ) -> Labels {
        let mut v: Vec<Label> = pairs
            .into_iter()
            .map(|(n, v)| Label {
                name: n.into(),
                value: v.into(),
            })
            .filter(|l| !l.value.is_empty())
            .collect();
        v.sort();
        Labels(v)
    }

    /// Wraps labels that the caller guarantees are sorted, unique and non-empty.
    pub(crate) fn from_sorted_unchecked(v: Vec<Label>) -> Labels {
        debug_assert!(v.windows(2).all(|w| w[0].name < w[1].name));
        Labels(v)
    }

    /// The value of label `name`, if present.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .binary_search_by(|l| l.name.as_str().cmp(name))
            .ok()
            .map(|i| self.0[i].value.as_str())
    }

    /// The metric name, if present.
    pub fn metric_name(&self) -> Option<&str> {
        self.get(METRIC_NAME)
    }

    /// The labels in name order.
    pub fn iter(&self) -> std::slice::Iter<'_, Label> {
        self.0.iter()
    }

    /// Number of labels.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The underlying sorted pairs.
    pub fn as_slice(&self) -> &[Label] {
        &self.0
    }

    /// Sorts `items` by their label sets in [`Labels`]' order, stably.
    ///
    /// Comparing label sets pair by pair costs a few string comparisons
    /// each, many times per item; here each set is written once as one
    /// byte string (`name 0 value 0 ...`) and those are compared instead.
    /// Without zero bytes in names and values that order is the same
    /// (a shorter string, or a set with fewer pairs, ends where the other
    /// has a non-zero byte); with any, the pairwise comparison is used.
    pub fn sort_items<T>(items: &mut Vec<T>, labels: impl Fn(&T) -> &Labels) {
        if items.len() < 64 {
            items.sort_by(|a, b| labels(a).cmp(labels(b)));
            return;
        }
        let mut keys: Vec<u8> = Vec::new();
        let mut spans: Vec<(usize, usize)> = Vec::with_capacity(items.len());
        for item in items.iter() {
            let start = keys.len();
            for l in labels(item).iter() {
                let (name, value) = (l.name.as_bytes(), l.value.as_bytes());
                if name.contains(&0) || value.contains(&0) {
                    items.sort_by(|a, b| labels(a).cmp(labels(b)));
                    return;
                }
                keys.extend_from_slice(name);
                keys.push(0);
                keys.extend_from_slice(value);
                keys.push(0);
            }
            spans.push((start, keys.len()));
        }
        let mut keyed: Vec<((usize, usize), T)> = spans.into_iter().zip(items.drain(..)).collect();
        keyed.sort_by(|a, b| keys[a.0 .0..a.0 .1].cmp(&keys[b.0 .0..b.0 .1]));
        items.extend(keyed.into_iter().map(|(_, t)| t));
    }

    /// The pairs as borrowed [`LabelRef`]s, the form `Storage::append` takes.
    pub fn refs(&self) -> Vec<LabelRef<'_>> {
        self.0
            .iter()
            .map(|l| LabelRef::new(&l.name, &l.value))
            .collect()
    }

    /// Consumes the set into its sorted pairs.
    pub fn into_vec(self) -> Vec<Label> {
        self.0
    }
}

impl fmt::Display for Labels {
    /// Prometheus' notation: `name{a="b", c="d"}`, with the name outside the braces.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(n) = self.metric_name() {
            f.write_str(n)?;
        }
        f.write_str("{")?;
        let mut first = true;
        for l in self.0.iter().filter(|l| l.name != METRIC_NAME) {
            if !first {
                f.write_str(", ")?;
            }
            first = false;
            write!(f, "{}={:?}", l.name, l.value)?;
        }
        f.write_str("}")
    }
}

impl fmt::Debug for Labels {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// A label pair borrowed from an input buffer, not yet validated.
///
/// Ingest decoders hand the engine bytes straight from the request so that
/// nothing is allocated for series the engine already knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LabelRef<'a> {
    /// Label name bytes (must be non-empty UTF-8 to be accepted).
    pub name: &'a [u8],
    /// Label value bytes (must be UTF-8; empty means "absent").
    pub value: &'a [u8],
}

impl<'a> LabelRef<'a> {
    /// A borrowed pair from two strings.
    pub fn new(name: &'a str, value: &'a str) -> LabelRef<'a> {
        LabelRef {
            name: name.as_bytes(),
            value: value.as_bytes(),
        }
    }
}

/// Renders unvalidated label bytes for an error message, lossily.
pub fn describe_label_refs(labels: &[LabelRef<'_>]) -> String {
    let mut s = String::from("{");
    for (i, l) in labels.iter().enumerate() {
        if i > 0 {
            s.push_str(", ");
        }
        s.push_str(&String::from_utf8_lossy(l.name));
        s.push('=');
        s.push_str(&format!("{:?}", String::from_utf8_lossy(l.value)));
    }
    s.push('}');
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn label_set() -> impl Strategy<Value = Labels> {
        // Short names and values from a few characters, so prefixes,
        // equal names and equal sets are common; `\0` now and then.
        let name = prop_oneof![Just("a"), Just("ab"), Just("b"), Just("__name__")];
        let value = "[ab\\x00é]{1,3}";
        proptest::collection::vec((name, value), 0..4).prop_map(Labels::from_pairs)
    }

    proptest! {
        #[test]
        fn sort_items_is_the_labels_order(
            sets in proptest::collection::vec(label_set(), 0..150),
            no_zero in any::<bool>(),
        ) {
            let sets: Vec<(Labels, usize)> = sets
                .into_iter()
                .map(|l| {
                    if no_zero {
                        Labels::from_pairs(l.iter().map(|x| (x.name.clone(), x.value.replace('\0', "z"))))
                    } else {
                        l
                    }
                })
                .enumerate()
                .map(|(i, l)| (l, i))
                .collect();
            let mut want = sets.clone();
            want.sort_by(|a, b| a.0.cmp(&b.0));
            let mut got = sets;
            Labels::sort_items(&mut got, |x| &x.0);
            // Stable too: equal sets keep their input order.
            prop_assert_eq!(got, want);
        }
    }

    #[test]
    fn labels_sort_and_drop_empty() {
        let l = Labels::from_pairs([("b", "2"), ("a", "1"), ("c", ""), ("__name__", "up")]);
        let names: Vec<_> = l.iter().map(|l| l.name.as_str()).collect();
        assert_eq!(names, ["__name__", "a", "b"]);
        assert_eq!(l.get("a"), Some("1"));
        assert_eq!(l.get("c"), None);
        assert_eq!(l.to_string(), "up{a=\"1\", b=\"2\"}");
        let refs = l.refs();
        assert_eq!(refs.len(), 3);
        assert_eq!(refs[1], LabelRef::new("a", "1"));
    }

    #[test]
    fn stale_marker_is_bit_exact() {
        assert!(is_stale_nan(stale_nan()));
        assert!(!is_stale_nan(f64::NAN));
        assert!(Sample::new(1, stale_nan()).bit_eq(&Sample::new(1, stale_nan())));
        assert!(!Sample::new(1, stale_nan()).bit_eq(&Sample::new(1, f64::NAN)));
    }
}
