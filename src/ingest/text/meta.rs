//! Comment lines: `# HELP`, `# TYPE`, `# UNIT` and, in Prometheus format,
//! free comments.

use super::cursor::{unescape, Cursor, Escapes};
use super::TextFormat;

/// Which metadata field a line sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MetaField {
    Help,
    Type,
    Unit,
}

/// What a comment line turned out to be.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Comment {
    /// A free comment (Prometheus format only).
    Ignored,
    /// A metadata line for `family`.
    Meta {
        family: String,
        field: MetaField,
        text: String,
    },
}

const PROM_TYPES: &[&str] = &["counter", "gauge", "histogram", "summary", "untyped"];
const OM_TYPES: &[&str] = &[
    "counter",
    "gauge",
    "histogram",
    "gaugehistogram",
    "summary",
    "info",
    "stateset",
    "unknown",
];

/// Parses a line starting (after blanks, in Prometheus format) with `#`.
/// The OpenMetrics `# EOF` line is handled by the caller.
pub(crate) fn parse_comment(line: &str, format: TextFormat) -> Result<Comment, String> {
    let mut c = Cursor::new(line);
    let field = match format {
        TextFormat::Prometheus => match prom_keyword(&mut c) {
            Some(field) => field,
            None => return Ok(Comment::Ignored),
        },
        TextFormat::OpenMetrics => om_keyword(&mut c)?,
    };
    let family = family_name(&mut c, field)?;
    let raw = match format {
        TextFormat::Prometheus => prom_text(&c, field)?,
        TextFormat::OpenMetrics => om_text(&mut c, field)?,
    };
    let text = check_text(&family, field, raw, format)?;
    Ok(Comment::Meta {
        family,
        field,
        text,
    })
}

/// `#[ \t]+(HELP|TYPE)[ \t]+`, as `promlex.l` reads it: anything else,
/// `# HELPER` included, is a free comment.
fn prom_keyword(c: &mut Cursor<'_>) -> Option<MetaField> {
    c.skip_blanks();
    c.eat(b'#');
    if c.skip_blanks() == 0 {
        return None;
    }
    let field = if c.eat_str("HELP") {
        MetaField::Help
    } else if c.eat_str("TYPE") {
        MetaField::Type
    } else {
        return None;
    };
    (c.skip_blanks() > 0).then_some(field)
}

/// `# HELP `, `# TYPE ` or `# UNIT `: OpenMetrics allows no other comments
/// (`openmetricslex.l` has no rule for them, so upstream refuses them).
fn om_keyword(c: &mut Cursor<'_>) -> Result<MetaField, String> {
    for (word, field) in [
        ("# HELP ", MetaField::Help),
        ("# TYPE ", MetaField::Type),
        ("# UNIT ", MetaField::Unit),
    ] {
        if c.eat_str(word) {
            return Ok(field);
        }
    }
    Err(format!(
        "expected '# HELP ', '# TYPE ', '# UNIT ' or '# EOF' (OpenMetrics has no free comments), found {:?}",
        truncate(c.rest(), 20)
    ))
}

/// The family name after the keyword: legacy or quoted UTF-8. Upstream
/// strips the quotes of a quoted family name but leaves escapes in place;
/// we unescape it like a quoted series name so the two always match.
fn family_name(c: &mut Cursor<'_>, field: MetaField) -> Result<String, String> {
    let name = if let Some(n) = c.metric_name() {
        n.to_string()
    } else {
        match c.quoted() {
            Ok(Some(raw)) => unescape(raw, Escapes::Quoted),
            Ok(None) => {
                return Err(format!(
                    "expected a metric name after {}, found {}",
                    keyword(field),
                    c.found()
                ))
            }
            Err(_) => return Err(format!("unterminated quoted name after {}", keyword(field))),
        }
    };
    if name.is_empty() {
        return Err(format!("empty metric name after {}", keyword(field)));
    }
    Ok(name)
}

/// Prometheus format: the lexer's `{C}*` takes the rest of the line and
/// the parser drops its first byte (normally the separating blank). So
/// `# HELP x  two` has help ` two`, and a lone character becomes empty.
fn prom_text<'a>(c: &Cursor<'a>, field: MetaField) -> Result<&'a str, String> {
    let rest = c.rest();
    if rest.len() <= 1 {
        return Ok("");
    }
    rest.get(1..)
        .ok_or_else(|| format!("{} text is not valid UTF-8", keyword(field)))
}

/// OpenMetrics: exactly one space, then the text (`<sMeta2>{S}{C}*\n`).
fn om_text<'a>(c: &mut Cursor<'a>, field: MetaField) -> Result<&'a str, String> {
    if !c.eat(b' ') {
        return Err(format!(
            "expected a space and text after the metric name in {}, found {}",
            keyword(field),
            c.found()
        ));
    }
    Ok(c.rest())
}

/// Field-specific checks and unescaping.
fn check_text(
    family: &str,
    field: MetaField,
    raw: &str,
    format: TextFormat,
) -> Result<String, String> {
    match field {
        MetaField::Help => Ok(match format {
            TextFormat::Prometheus => unescape(raw, Escapes::Help),
            // OpenMetrics help uses label-value escaping (upstream `Help`).
            TextFormat::OpenMetrics => unescape(raw, Escapes::Quoted),
        }),
        MetaField::Type => {
            let allowed = match format {
                TextFormat::Prometheus => PROM_TYPES,
                TextFormat::OpenMetrics => OM_TYPES,
            };
            if allowed.contains(&raw) {
                Ok(raw.to_string())
            } else {
                Err(format!("invalid metric type {raw:?}"))
            }
        }
        MetaField::Unit => {
            // Upstream: a non-empty unit must be a `_`-separated suffix of the name.
            let ok = raw.is_empty()
                || family
                    .strip_suffix(raw)
                    .is_some_and(|head| head.ends_with('_'));
            if ok {
                Ok(raw.to_string())
            } else {
                Err(format!("unit {raw:?} is not a suffix of metric {family:?}"))
            }
        }
    }
}

fn keyword(field: MetaField) -> &'static str {
    match field {
        MetaField::Help => "HELP",
        MetaField::Type => "TYPE",
        MetaField::Unit => "UNIT",
    }
}

/// At most `n` chars of `s`, for quoting input in messages.
fn truncate(s: &str, n: usize) -> &str {
    match s.char_indices().nth(n) {
        Some((i, _)) => s.get(..i).unwrap_or(s),
        None => s,
    }
}
