//! Native histograms in script notation, `{{schema:0 sum:5 count:4
//! buckets:[1 2 1]}}`, as upstream's series-description grammar reads them
//! (`histogram_desc` in `generated_parser.y`, `buildHistogramFromMap`), and
//! the comparison of result histograms (`compareNativeHistogram` after
//! `Compact(0)` in `promqltest/test.go`).
//!
//! The runner keeps its own sparse form (bucket index → count) so that
//! expected values and expansions (`{{A}}+{{B}}x3`) are computed without the
//! engine's histogram arithmetic, which is what the scripts check.

use std::collections::BTreeMap;

use tessera::model::{CounterResetHint, Histogram, HistogramCounts, Span};

use super::compare::almost_equal;
use super::values::parse_go_number;

/// Relative error allowed between floats (upstream `defaultEpsilon`).
const EPSILON: f64 = 1e-6;

/// A float histogram as the scripts write it.
#[derive(Debug, Clone, PartialEq)]
pub struct HistDesc {
    /// Schema (-4..8, or -53 for custom buckets).
    pub schema: i32,
    /// Sum of observations.
    pub sum: f64,
    /// Count of observations.
    pub count: f64,
    /// Zero bucket count.
    pub zero_count: f64,
    /// Zero bucket width.
    pub zero_threshold: f64,
    /// Positive buckets by index.
    pub pos: BTreeMap<i32, f64>,
    /// Negative buckets by index.
    pub neg: BTreeMap<i32, f64>,
    /// Custom bucket bounds (schema -53).
    pub custom: Vec<f64>,
    /// The counter-reset hint, when the text gives one.
    pub hint: Option<CounterResetHint>,
}

impl HistDesc {
    /// Schema 0, nothing observed.
    pub fn empty() -> HistDesc {
        HistDesc {
            schema: 0,
            sum: 0.0,
            count: 0.0,
            zero_count: 0.0,
            zero_threshold: 0.0,
            pos: BTreeMap::new(),
            neg: BTreeMap::new(),
            custom: Vec::new(),
            hint: None,
        }
    }

    /// Parses the text between `{{` and `}}`.
    pub fn parse(body: &str) -> Result<HistDesc, String> {
        let mut h = HistDesc::empty();
        let (mut pos, mut neg) = (Vec::new(), Vec::new());
        let (mut offset, mut n_offset) = (0i32, 0i32);
        let mut rest = body.trim();
        while !rest.is_empty() {
            let (key, after) = rest
                .split_once(':')
                .ok_or_else(|| format!("expected key:value in histogram {body:?}"))?;
            let after = after.trim_start();
            let (value, next) = if let Some(list) = after.strip_prefix('[') {
                let end = list.find(']').ok_or("unterminated '[' in histogram")?;
                (&list[..end], &list[end + 1..])
            } else {
                let end = after.find(char::is_whitespace).unwrap_or(after.len());
                (&after[..end], &after[end..])
            };
            match key.trim() {
                "schema" => h.schema = int(value)?,
                "sum" => h.sum = num(value)?,
                "count" => h.count = num(value)?,
                "z_bucket" => h.zero_count = num(value)?,
                "z_bucket_w" => h.zero_threshold = num(value)?,
                "offset" => offset = int(value)?,
                "n_offset" => n_offset = int(value)?,
                "buckets" => pos = list(value)?,
                "n_buckets" => neg = list(value)?,
                "custom_values" => h.custom = list(value)?,
                "counter_reset_hint" => h.hint = Some(hint(value)?),
                other => return Err(format!("unknown histogram key {other:?}")),
            }
            rest = next.trim_start();
        }
        h.pos = (offset..).zip(pos).collect();
        h.neg = (n_offset..).zip(neg).collect();
        Ok(h)
    }

    /// `self + k*d` bucket by bucket (upstream expands `{{A}}+{{B}}xN`
    /// with `FloatHistogram.Add`/`Sub`, which for the scripts' same-schema
    /// histograms is this).
    pub fn plus(&self, d: &HistDesc, k: f64) -> HistDesc {
        let mut h = self.clone();
        let mut d = d.clone();
        // Exponential schemas meet at the lower resolution (upstream
        // `targetIdx`): index i of schema s is index ((i-1) >> (s-t)) + 1 of t.
        if h.schema != -53 && d.schema != -53 && h.schema != d.schema {
            let to = h.schema.min(d.schema);
            for x in [&mut h, &mut d] {
                let shift = x.schema - to;
                let reduce = |m: &BTreeMap<i32, f64>| {
                    let mut out = BTreeMap::new();
                    for (i, c) in m {
                        *out.entry(((i - 1) >> shift) + 1).or_insert(0.0) += c;
                    }
                    out
                };
                x.pos = reduce(&x.pos);
                x.neg = reduce(&x.neg);
                x.schema = to;
            }
        }
        h.sum += k * d.sum;
        h.count += k * d.count;
        h.zero_count += k * d.zero_count;
        for (i, c) in &d.pos {
            *h.pos.entry(*i).or_default() += k * c;
        }
        for (i, c) in &d.neg {
            *h.neg.entry(*i).or_default() += k * c;
        }
        h
    }

    /// The histogram to store: float counts, one span per run of indices.
    pub fn to_model(&self) -> Histogram {
        let (positive_spans, positive) = spans(&self.pos);
        let (negative_spans, negative) = spans(&self.neg);
        Histogram {
            schema: self.schema,
            reset_hint: self.hint.unwrap_or(CounterResetHint::Unknown),
            zero_threshold: self.zero_threshold,
            sum: self.sum,
            counts: HistogramCounts::Float {
                count: self.count,
                zero_count: self.zero_count,
                positive,
                negative,
            },
            positive_spans,
            negative_spans,
            custom_values: self.custom.clone(),
        }
    }

    /// A result histogram in this form, empty buckets dropped (`Compact(0)`).
    pub fn from_model(h: &Histogram) -> HistDesc {
        let side = |spans: &[Span], counts: Vec<f64>| {
            let mut out = BTreeMap::new();
            let mut idx = 0i32;
            let mut c = counts.into_iter();
            for s in spans {
                idx += s.offset;
                for k in 0..s.length as i32 {
                    if let Some(v) = c.next() {
                        if v != 0.0 {
                            out.insert(idx + k, v);
                        }
                    }
                }
                idx += s.length as i32;
            }
            out
        };
        HistDesc {
            schema: h.schema,
            sum: h.sum,
            count: h.count_f64(),
            zero_count: h.zero_count_f64(),
            zero_threshold: h.zero_threshold,
            pos: side(&h.positive_spans, h.bucket_counts(true)),
            neg: side(&h.negative_spans, h.bucket_counts(false)),
            custom: h.custom_values.clone(),
            hint: Some(h.reset_hint),
        }
    }

    /// Upstream `compareNativeHistogram` of compacted histograms: `self` is
    /// the expected one; its hint is compared only when the script gives it.
    pub fn matches(&self, got: &Histogram) -> bool {
        let got = HistDesc::from_model(got);
        let buckets_eq = |a: &BTreeMap<i32, f64>, b: &BTreeMap<i32, f64>| {
            let a: Vec<_> = a.iter().filter(|(_, c)| **c != 0.0).collect();
            let b: Vec<_> = b.iter().collect();
            a.len() == b.len()
                && a.iter()
                    .zip(&b)
                    .all(|((i, x), (j, y))| i == j && almost_equal(**x, **y, EPSILON))
        };
        self.schema == got.schema
            && almost_equal(self.count, got.count, EPSILON)
            && almost_equal(self.sum, got.sum, EPSILON)
            && (self.schema != -53 || self.custom == got.custom)
            && self.zero_threshold == got.zero_threshold
            && almost_equal(self.zero_count, got.zero_count, EPSILON)
            && buckets_eq(&self.neg, &got.neg)
            && buckets_eq(&self.pos, &got.pos)
            && self.hint.is_none_or(|h| Some(h) == got.hint)
    }

    /// Script notation, for messages.
    pub fn fmt(&self) -> String {
        let b = |m: &BTreeMap<i32, f64>| {
            let v: Vec<String> = m.iter().map(|(i, c)| format!("{i}:{c}")).collect();
            v.join(" ")
        };
        format!(
            "{{{{schema:{} count:{} sum:{} z_bucket:{} z_bucket_w:{} buckets:[{}] n_buckets:[{}] custom_values:{:?} hint:{:?}}}}}",
            self.schema,
            self.count,
            self.sum,
            self.zero_count,
            self.zero_threshold,
            b(&self.pos),
            b(&self.neg),
            self.custom,
            self.hint
        )
    }
}

/// Spans and counts of a side, one span per run of consecutive indices.
fn spans(side: &BTreeMap<i32, f64>) -> (Vec<Span>, Vec<f64>) {
    let mut out: Vec<Span> = Vec::new();
    let mut counts = Vec::new();
    let mut next: Option<i32> = None;
    for (&i, &c) in side {
        match (next, out.last_mut()) {
            (Some(n), Some(s)) if n == i => s.length += 1,
            _ => out.push(Span {
                offset: next.map_or(i, |n| i - n),
                length: 1,
            }),
        }
        counts.push(c);
        next = Some(i + 1);
    }
    (out, counts)
}

fn num(s: &str) -> Result<f64, String> {
    parse_go_number(s.trim()).ok_or_else(|| format!("bad number {s:?} in histogram"))
}

fn int(s: &str) -> Result<i32, String> {
    s.trim()
        .parse()
        .map_err(|_| format!("bad integer {s:?} in histogram"))
}

fn list(s: &str) -> Result<Vec<f64>, String> {
    s.split_whitespace().map(num).collect()
}

fn hint(s: &str) -> Result<CounterResetHint, String> {
    Ok(match s.trim() {
        "unknown" => CounterResetHint::Unknown,
        "reset" => CounterResetHint::Reset,
        "not_reset" => CounterResetHint::NotReset,
        "gauge" => CounterResetHint::Gauge,
        other => return Err(format!("unknown counter_reset_hint {other:?}")),
    })
}
