//! The text exposition format (`text/plain; version=0.0.4`) of
//! `/federate`, as upstream's protobuf families come out of
//! `expfmt.MetricFamilyToText`.

use super::proto::classic_histogram;
use super::{exposed_labels, Encoder, Kind, Series};
use crate::api::federate::Newest;
use crate::model::histogram::CUSTOM_BUCKETS_SCHEMA;

/// The content type of the text exposition format.
pub(super) const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Writes `# TYPE` lines and one line per float series; a histogram with
/// custom buckets becomes a classic histogram (`_bucket` lines with `le`,
/// `_sum`, `_count`), as upstream federates it since it learnt NHCB.
///
/// Exponential native histograms are left out, as upstream leaves them
/// out of every format but protobuf (the text format cannot carry them),
/// and so are gauge histograms with custom buckets, which the text format
/// has no type for.
#[derive(Default)]
pub(super) struct TextEncoder {
    last: Option<(String, Kind)>,
}

impl Encoder for TextEncoder {
    fn series(&mut self, buf: &mut Vec<u8>, s: &Series<'_>) {
        let classic = match s.value {
            Newest::Histogram(h)
                if s.kind == Kind::Histogram && h.h.schema == CUSTOM_BUCKETS_SCHEMA =>
            {
                Some(classic_histogram(&h.h))
            }
            Newest::Histogram(_) => return,
            Newest::Float(_) => None,
        };
        if self.last.as_ref().map(|(n, k)| (n.as_str(), *k)) != Some((s.name, s.kind)) {
            buf.extend_from_slice(b"# TYPE ");
            write_name(buf, s.name);
            buf.push(b' ');
            buf.extend_from_slice(s.kind.text_name().as_bytes());
            buf.push(b'\n');
            self.last = Some((s.name.to_string(), s.kind));
        }
        let line = |buf: &mut Vec<u8>, suffix: &str, le: Option<f64>, v: f64, t: i64| {
            write_line(buf, s.name, suffix, s.labels, le, v, t);
        };
        match (s.value, classic) {
            (Newest::Float(f), _) => line(buf, "", None, f.v, f.t),
            (Newest::Histogram(h), Some(c)) => {
                let count = c
                    .sample_count
                    .map_or(c.sample_count_float.unwrap_or(0.0), |n| n as f64);
                for b in &c.bucket {
                    let cum = b
                        .cumulative_count
                        .map_or(b.cumulative_count_float.unwrap_or(0.0), |n| n as f64);
                    line(buf, "_bucket", b.upper_bound, cum, h.t);
                }
                line(buf, "_bucket", Some(f64::INFINITY), count, h.t);
                line(buf, "_sum", None, h.h.sum, h.t);
                line(buf, "_count", None, count, h.t);
            }
            (Newest::Histogram(_), None) => {}
        }
    }

    fn finish(&mut self, _buf: &mut Vec<u8>) {}
}

/// One sample line: `name<suffix>{labels[,le="<le>"]} value timestamp`
/// (`writeSample` in `expfmt/text_create.go`).
fn write_line(
    buf: &mut Vec<u8>,
    name: &str,
    suffix: &str,
    labels: &[(&str, &str)],
    le: Option<f64>,
    v: f64,
    t: i64,
) {
    if suffix.is_empty() {
        write_name(buf, name);
    } else {
        write_name(buf, &format!("{name}{suffix}"));
    }
    let mut sep = b'{';
    for (n, v) in exposed_labels(labels) {
        buf.push(sep);
        sep = b',';
        write_label(buf, n, v);
    }
    if let Some(le) = le {
        buf.push(sep);
        sep = b',';
        write_label(buf, "le", &format_value(le));
    }
    if sep == b',' {
        buf.push(b'}');
    }
    buf.push(b' ');
    buf.extend_from_slice(format_value(v).as_bytes());
    buf.push(b' ');
    buf.extend_from_slice(t.to_string().as_bytes());
    buf.push(b'\n');
}

/// A legacy name as is; any other name quoted, as the UTF-8 aware text
/// format writes it.
fn write_name(buf: &mut Vec<u8>, name: &str) {
    if is_legacy_name(name, true) {
        buf.extend_from_slice(name.as_bytes());
    } else {
        write_quoted(buf, name);
    }
}

fn write_label(buf: &mut Vec<u8>, name: &str, value: &str) {
    if is_legacy_name(name, false) {
        buf.extend_from_slice(name.as_bytes());
    } else {
        write_quoted(buf, name);
    }
    buf.push(b'=');
    write_quoted(buf, value);
}

/// `[a-zA-Z_:][a-zA-Z0-9_:]*` for metric names; no colons in label names.
fn is_legacy_name(s: &str, colons: bool) -> bool {
    let ok = |c: u8, first: bool| {
        c.is_ascii_alphabetic()
            || c == b'_'
            || (colons && c == b':')
            || (!first && c.is_ascii_digit())
    };
    let mut bytes = s.bytes();
    bytes.next().is_some_and(|c| ok(c, true)) && bytes.all(|c| ok(c, false))
}

/// A double-quoted string with `\`, `"` and newline escaped.
fn write_quoted(buf: &mut Vec<u8>, s: &str) {
    buf.push(b'"');
    for c in s.bytes() {
        match c {
            b'\\' => buf.extend_from_slice(b"\\\\"),
            b'"' => buf.extend_from_slice(b"\\\""),
            b'\n' => buf.extend_from_slice(b"\\n"),
            c => buf.push(c),
        }
    }
    buf.push(b'"');
}

/// A value as Go's `strconv.FormatFloat(v, 'g', -1, 64)` writes it, with
/// `NaN`, `+Inf` and `-Inf` (`writeFloat` in `expfmt/text_create.go`):
/// the shortest digits that round-trip, in exponent form when the decimal
/// exponent is below -4 or at least 6 (Go's rule for the
/// shortest precision).
pub(crate) fn format_value(v: f64) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "+Inf" } else { "-Inf" }.into();
    }
    // `{:e}` gives the shortest round-trip digits: `-1.2345e-7`.
    let sci = format!("{v:e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let (sign, mantissa) = match mantissa.strip_prefix('-') {
        Some(m) => ("-", m),
        None => ("", mantissa),
    };
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    if !(-4..6).contains(&exp) {
        let exp_sign = if exp < 0 { '-' } else { '+' };
        return format!("{sign}{mantissa}e{exp_sign}{:02}", exp.abs());
    }
    let point = exp + 1; // digits before the decimal point
    if point <= 0 {
        let zeros = "0".repeat(point.unsigned_abs() as usize);
        return format!("{sign}0.{zeros}{digits}");
    }
    let point = point as usize;
    if digits.len() <= point {
        let zeros = "0".repeat(point - digits.len());
        return format!("{sign}{digits}{zeros}");
    }
    format!("{sign}{}.{}", &digits[..point], &digits[point..])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Sample;

    #[test]
    fn values_format_like_go() {
        let cases: &[(f64, &str)] = &[
            (0.0, "0"),
            (-0.0, "-0"),
            (1.0, "1"),
            (-2.5, "-2.5"),
            (10000.0, "10000"),
            (123456.7, "123456.7"),
            (100000.0, "100000"),
            (1e6, "1e+06"),
            (1234567.0, "1.234567e+06"),
            (1.5e20, "1.5e+20"),
            (1e21, "1e+21"),
            (0.0001, "0.0001"),
            (0.00012, "0.00012"),
            (0.00001, "1e-05"),
            (1.5e-300, "1.5e-300"),
            (f64::MAX, "1.7976931348623157e+308"),
            (0.1 + 0.2, "0.30000000000000004"),
            (f64::NAN, "NaN"),
            (f64::INFINITY, "+Inf"),
            (f64::NEG_INFINITY, "-Inf"),
        ];
        for (v, want) in cases {
            assert_eq!(format_value(*v), *want, "{v:?}");
        }
    }

    fn write(
        enc: &mut TextEncoder,
        buf: &mut Vec<u8>,
        labels: &[(&str, &str)],
        v: Newest,
        kind: Kind,
    ) {
        let name = labels.iter().find(|(n, _)| *n == "__name__").unwrap().1;
        let s = Series {
            name,
            labels,
            value: &v,
            kind,
        };
        enc.series(buf, &s);
    }

    #[test]
    fn samples_write_with_type_lines_escapes_and_instance() {
        let mut buf = Vec::new();
        let mut enc = TextEncoder::default();
        let s = Newest::Float(Sample::new(1000, 1.0));
        write(
            &mut enc,
            &mut buf,
            &[("__name__", "up")],
            s.clone(),
            Kind::Untyped,
        );
        let labels = [("__name__", "up"), ("instance", "a"), ("x", "")];
        write(&mut enc, &mut buf, &labels, s.clone(), Kind::Untyped);
        let labels = [("__name__", "m.x"), ("a", "q\"\\\n"), ("b.c", "1")];
        let nan = Newest::Float(Sample::new(-5, f64::NAN));
        write(&mut enc, &mut buf, &labels, nan, Kind::Untyped);
        write(
            &mut enc,
            &mut buf,
            &[("__name__", "c_total")],
            s.clone(),
            Kind::Counter,
        );
        let h = Newest::Histogram(crate::model::HistogramSample {
            t: 1000,
            h: crate::model::Histogram::empty_int(0),
        });
        write(&mut enc, &mut buf, &[("__name__", "h")], h, Kind::Histogram);
        let mut nhcb =
            crate::model::Histogram::empty_int(crate::model::histogram::CUSTOM_BUCKETS_SCHEMA);
        nhcb.custom_values = vec![0.5, 1.0];
        nhcb.positive_spans = vec![crate::model::Span {
            offset: 0,
            length: 3,
        }];
        nhcb.counts = crate::model::HistogramCounts::Int {
            count: 6,
            zero_count: 0,
            positive_deltas: vec![1, 1, 1],
            negative_deltas: vec![],
        };
        nhcb.sum = 4.25;
        let nhcb = crate::model::HistogramSample { t: 2000, h: nhcb };
        let labels = [("__name__", "req_seconds"), ("job", "j")];
        write(
            &mut enc,
            &mut buf,
            &labels,
            Newest::Histogram(nhcb.clone()),
            Kind::Histogram,
        );
        write(
            &mut enc,
            &mut buf,
            &labels,
            Newest::Histogram(nhcb),
            Kind::GaugeHistogram,
        );
        let want = "# TYPE up untyped\n\
                    up{instance=\"\"} 1 1000\n\
                    up{instance=\"a\"} 1 1000\n\
                    # TYPE \"m.x\" untyped\n\
                    \"m.x\"{a=\"q\\\"\\\\\\n\",\"b.c\"=\"1\",instance=\"\"} NaN -5\n\
                    # TYPE c_total counter\n\
                    c_total{instance=\"\"} 1 1000\n\
                    # TYPE req_seconds histogram\n\
                    req_seconds_bucket{job=\"j\",instance=\"\",le=\"0.5\"} 1 2000\n\
                    req_seconds_bucket{job=\"j\",instance=\"\",le=\"1\"} 3 2000\n\
                    req_seconds_bucket{job=\"j\",instance=\"\",le=\"+Inf\"} 6 2000\n\
                    req_seconds_sum{job=\"j\",instance=\"\"} 4.25 2000\n\
                    req_seconds_count{job=\"j\",instance=\"\"} 6 2000\n";
        assert_eq!(String::from_utf8(buf).unwrap(), want);
    }
}
