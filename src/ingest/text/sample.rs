//! Sample lines: `name{label="value",...} value [timestamp] [# exemplar]`.
//!
//! One function per grammar piece, each taking the format so the two
//! dialects' differences stay side by side: the Prometheus lexer
//! (`promlex.l`) skips runs of spaces and tabs between any two tokens,
//! while the OpenMetrics one (`openmetricslex.l`) wants exactly one space
//! where the grammar has `SP` and nothing anywhere else.

use std::collections::HashSet;

use super::cursor::{unescape, Cursor, Escapes};
use super::number::{parse_go_float, parse_om_timestamp, parse_prom_timestamp};
use super::{TextExemplar, TextFormat, TextSample};

/// Parses one sample line. Mirrors `PromParser.Next` / `OpenMetricsParser.Next`
/// for series entries, plus the duplicate-label check Prometheus runs on
/// the resulting label set.
/// Keeps the line's (OpenMetrics) exemplar with the sample.
pub(crate) fn parse_sample(line: &str, format: TextFormat) -> Result<TextSample, String> {
    let mut c = Cursor::new(line);
    let mut name = None;
    let mut labels = Vec::new();
    blanks(&mut c, format);
    if let Some(n) = c.metric_name() {
        name = Some(n.to_string());
        blanks(&mut c, format);
        if c.eat(b'{') {
            parse_labels(&mut c, format, Some(&mut name), &mut labels)?;
        }
    } else if c.eat(b'{') {
        parse_labels(&mut c, format, Some(&mut name), &mut labels)?;
    } else {
        return Err(format!(
            "expected a metric name or '{{' at the start of a sample, found {}",
            c.found()
        ));
    }
    let name = name.ok_or_else(|| {
        "metric name missing: no name before '{' and no quoted name inside the braces".to_string()
    })?;
    if name.is_empty() {
        return Err("empty metric name".to_string());
    }
    let mut all = Vec::with_capacity(labels.len() + 1);
    all.push(("__name__".to_string(), name));
    all.extend(labels);
    check_unique(&all, "")?;
    let (value, timestamp_ms, exemplar) = match format {
        TextFormat::Prometheus => {
            let (v, t) = prom_suffix(&mut c)?;
            (v, t, None)
        }
        TextFormat::OpenMetrics => om_suffix(&mut c)?,
    };
    Ok(TextSample {
        labels: all,
        value,
        timestamp_ms,
        exemplar,
    })
}

/// Whitespace between tokens: free in Prometheus format, none in OpenMetrics.
fn blanks(c: &mut Cursor<'_>, format: TextFormat) {
    if format == TextFormat::Prometheus {
        c.skip_blanks();
    }
}

/// The inside of `{...}`, after the `{`. Mirrors `parseLVals` in both
/// upstream parsers. `name` is `None` for exemplars, where a bare quoted
/// string (a metric name) is not allowed.
fn parse_labels(
    c: &mut Cursor<'_>,
    format: TextFormat,
    mut name: Option<&mut Option<String>>,
    out: &mut Vec<(String, String)>,
) -> Result<(), String> {
    loop {
        blanks(c, format);
        if c.eat(b'}') {
            return Ok(());
        }
        let (label, quoted) = label_token(c)?;
        blanks(c, format);
        // A quoted string standing alone is the metric name (Prometheus 3
        // UTF-8 syntax: `{"my.metric", "a.b"="v"}`).
        if quoted && matches!(c.peek(), Some(b',' | b'}')) {
            let slot = name.as_deref_mut().ok_or_else(|| {
                format!("exemplar labels cannot contain a metric name, found {label:?}")
            })?;
            if let Some(first) = slot {
                return Err(format!(
                    "metric name set twice: {first:?} and then {label:?}"
                ));
            }
            *slot = Some(label);
            c.eat(b',');
            continue;
        }
        if !c.eat(b'=') {
            return Err(format!(
                "expected '=' after label name {label:?}, found {}",
                c.found()
            ));
        }
        blanks(c, format);
        let value = match c.quoted() {
            Ok(Some(raw)) => unescape(raw, Escapes::Quoted),
            Ok(None) => {
                return Err(format!(
                    "expected a quoted label value after '=' for label {label:?}, found {}",
                    c.found()
                ))
            }
            Err(_) => return Err(format!("unterminated value for label {label:?}")),
        };
        if label.is_empty() {
            return Err("empty label name".to_string());
        }
        after_label_value(c, format, &label)?;
        out.push((label, value));
    }
}

/// A label name: legacy identifier or quoted UTF-8 string (unescaped).
fn label_token(c: &mut Cursor<'_>) -> Result<(String, bool), String> {
    if let Some(n) = c.label_name() {
        return Ok((n.to_string(), false));
    }
    match c.quoted() {
        Ok(Some(raw)) => Ok((unescape(raw, Escapes::Quoted), true)),
        Ok(None) => Err(format!(
            "expected a label name or '}}', found {}",
            c.found()
        )),
        Err(_) => Err("unterminated quoted name".to_string()),
    }
}

/// Separator after `name="value"`. Prometheus format makes the comma
/// optional (upstream notes this as a possibly accidental leniency and
/// keeps it); OpenMetrics wants `,` or `}` right away.
fn after_label_value(c: &mut Cursor<'_>, format: TextFormat, label: &str) -> Result<(), String> {
    match format {
        TextFormat::Prometheus => {
            c.skip_blanks();
            c.eat(b',');
            Ok(())
        }
        TextFormat::OpenMetrics => {
            if c.eat(b',') || c.peek() == Some(b'}') {
                Ok(())
            } else {
                Err(format!(
                    "expected ',' or '}}' after the value of label {label:?}, found {}",
                    c.found()
                ))
            }
        }
    }
}

/// Refuses a repeated label name (`labels.Labels.HasDuplicateLabelNames`,
/// which the scrape loop applies to every parsed series).
fn check_unique(labels: &[(String, String)], what: &str) -> Result<(), String> {
    let mut seen = HashSet::with_capacity(labels.len());
    for (name, _) in labels {
        if !seen.insert(name.as_str()) {
            return Err(format!("duplicate {what}label name {name:?}"));
        }
    }
    Ok(())
}

/// Value and optional integer-millisecond timestamp, Prometheus format
/// (`PromParser.parseMetricSuffix`): the value is `[^{ \t\n]+`.
fn prom_suffix(c: &mut Cursor<'_>) -> Result<(f64, Option<i64>), String> {
    c.skip_blanks();
    let tok = c.take_while(|b| !matches!(b, b'{' | b' ' | b'\t'));
    if tok.is_empty() {
        return Err(format!(
            "expected a value after the metric, found {}",
            c.found()
        ));
    }
    let value = parse_go_float(tok).map_err(|e| format!("bad value: {e}"))?;
    c.skip_blanks();
    if c.at_end() {
        return Ok((value, None));
    }
    let ts = c.take_while(|b| b.is_ascii_digit());
    if ts.is_empty() {
        return Err(format!(
            "expected a timestamp or end of line after the value, found {}",
            c.found()
        ));
    }
    let ts = parse_prom_timestamp(ts)?;
    c.skip_blanks();
    if !c.at_end() {
        return Err(format!(
            "expected end of line after the timestamp, found {}",
            c.found()
        ));
    }
    Ok((value, Some(ts)))
}

/// Marks the start of an exemplar (`<sTimestamp>{S}#{S}\{`).
const EXEMPLAR_START: &str = " # {";

/// Value, optional float-seconds timestamp and optional exemplar,
/// OpenMetrics (`OpenMetricsParser.parseMetricSuffix`).
fn om_suffix(c: &mut Cursor<'_>) -> Result<(f64, Option<i64>, Option<TextExemplar>), String> {
    let value = om_value(c, "the metric")?;
    if c.at_end() {
        return Ok((value, None, None));
    }
    if c.eat_str(EXEMPLAR_START) {
        return Ok((value, None, Some(parse_exemplar(c)?)));
    }
    let ts = om_token(c, "a timestamp or exemplar after the value")?;
    let ts = parse_om_timestamp(ts)?;
    let mut exemplar = None;
    if c.eat_str(EXEMPLAR_START) {
        exemplar = Some(parse_exemplar(c)?);
    } else if !c.at_end() {
        return Err(format!(
            "expected end of line or an exemplar after the timestamp, found {}",
            c.found()
        ));
    }
    Ok((value, Some(ts), exemplar))
}

/// ` <float>` (`getFloatValue`).
fn om_value(c: &mut Cursor<'_>, after: &str) -> Result<f64, String> {
    let tok = om_token(c, &format!("a value after {after}"))?;
    parse_go_float(tok).map_err(|e| format!("bad value: {e}"))
}

/// One `SP` and a run of non-space characters (`{S}[^ \n]+`).
fn om_token<'a>(c: &mut Cursor<'a>, what: &str) -> Result<&'a str, String> {
    if !c.eat(b' ') {
        return Err(format!("expected a space and {what}, found {}", c.found()));
    }
    let tok = c.take_while(|b| b != b' ');
    if tok.is_empty() {
        return Err(format!("expected {what}, found {}", c.found()));
    }
    Ok(tok)
}

/// `{labels} value [timestamp]` after ` # {` (`OpenMetricsParser.parseComment`).
/// The 128-rune limit is not a syntax rule: storage checks it.
fn parse_exemplar(c: &mut Cursor<'_>) -> Result<TextExemplar, String> {
    let mut labels = Vec::new();
    parse_labels(c, TextFormat::OpenMetrics, None, &mut labels)
        .map_err(|e| format!("exemplar: {e}"))?;
    check_unique(&labels, "exemplar ")?;
    let value = om_value(c, "the exemplar labels").map_err(|e| format!("exemplar: {e}"))?;
    let mut e = TextExemplar {
        labels,
        value,
        timestamp_ms: None,
    };
    if c.at_end() {
        return Ok(e);
    }
    let ts = om_token(c, "an exemplar timestamp")?;
    e.timestamp_ms = Some(parse_om_timestamp(ts).map_err(|e| format!("exemplar: {e}"))?);
    if !c.at_end() {
        return Err(format!(
            "expected end of line after the exemplar timestamp, found {}",
            c.found()
        ));
    }
    Ok(e)
}
