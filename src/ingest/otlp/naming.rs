//! OTLP metric, unit and label names as Prometheus 3 translates them.
//!
//! Reproduces the `github.com/prometheus/otlptranslator` package:
//! `MetricNamer.Build` (`buildCompliantMetricName`, `normalizeName`,
//! `buildMetricName`), `UnitNamer.Build`, `LabelNamer.Build` with
//! Prometheus's defaults (no `key_` for a leading underscore, repeated
//! underscores collapsed).

use serde::Deserialize;

/// How OTLP names become Prometheus names (`otlp.translation_strategy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
pub enum TranslationStrategy {
    /// Names escaped to `[a-zA-Z0-9_:]`, with unit and type suffixes.
    #[default]
    UnderscoreEscapingWithSuffixes,
    /// Names escaped, without suffixes.
    UnderscoreEscapingWithoutSuffixes,
    /// UTF-8 names kept, with unit and type suffixes.
    #[serde(rename = "NoUTF8EscapingWithSuffixes")]
    NoUtf8EscapingWithSuffixes,
    /// Names kept exactly as sent.
    NoTranslation,
}

impl TranslationStrategy {
    /// `ShouldEscape`.
    pub fn escapes(self) -> bool {
        matches!(
            self,
            TranslationStrategy::UnderscoreEscapingWithSuffixes
                | TranslationStrategy::UnderscoreEscapingWithoutSuffixes
        )
    }

    /// `ShouldAddSuffixes`.
    pub fn adds_suffixes(self) -> bool {
        matches!(
            self,
            TranslationStrategy::UnderscoreEscapingWithSuffixes
                | TranslationStrategy::NoUtf8EscapingWithSuffixes
        )
    }
}

/// The translator's view of a metric's type (`otlptranslator.MetricType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameType {
    /// Gauge.
    Gauge,
    /// Monotonic sum.
    MonotonicCounter,
    /// Non-monotonic sum.
    NonMonotonicCounter,
    /// Histogram of either kind, or a summary.
    Other,
}

/// OTel (UCUM) units to Prometheus unit words (`unitMap`).
fn unit_word(unit: &str) -> &str {
    match unit {
        "d" => "days",
        "h" => "hours",
        "min" => "minutes",
        "s" => "seconds",
        "ms" => "milliseconds",
        "us" => "microseconds",
        "ns" => "nanoseconds",
        "By" => "bytes",
        "KiBy" => "kibibytes",
        "MiBy" => "mebibytes",
        "GiBy" => "gibibytes",
        "TiBy" => "tibibytes",
        "KBy" => "kilobytes",
        "MBy" => "megabytes",
        "GBy" => "gigabytes",
        "TBy" => "terabytes",
        "m" => "meters",
        "V" => "volts",
        "A" => "amperes",
        "J" => "joules",
        "W" => "watts",
        "g" => "grams",
        "Cel" => "celsius",
        "Hz" => "hertz",
        "1" => "",
        "%" => "percent",
        other => other,
    }
}

/// The unit after `/` (`perUnitMap`).
fn per_unit_word(unit: &str) -> &str {
    match unit {
        "s" => "second",
        "m" => "minute",
        "h" => "hour",
        "d" => "day",
        "w" => "week",
        "mo" => "month",
        "y" => "year",
        other => other,
    }
}

/// The main and per-unit suffixes of a unit (`buildUnitSuffixes`):
/// `By/s` is (`bytes`, `per_second`); annotations in braces give nothing.
fn unit_suffixes(unit: &str) -> (String, String) {
    let mut parts = unit.splitn(2, '/');
    let main = parts.next().unwrap_or_default().trim();
    let main = if !main.is_empty() && !main.contains(['{', '}']) {
        unit_word(main).to_string()
    } else {
        String::new()
    };
    let per = match parts.next() {
        Some(p) if !p.is_empty() => {
            let p = p.trim();
            if !p.is_empty() && !p.contains(['{', '}']) {
                format!("per_{}", per_unit_word(p))
            } else {
                String::new()
            }
        }
        _ => String::new(),
    };
    (main, per)
}

fn is_metric_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == ':'
}

/// Invalid characters to `_`, runs of `_` collapsed, a leading `_` dropped
/// (`cleanUpUnit`).
fn clean_unit(unit: &str) -> String {
    let mut out = String::with_capacity(unit.len());
    for c in unit.chars() {
        let c = if is_metric_char(c) { c } else { '_' };
        if c == '_' && out.ends_with('_') {
            continue;
        }
        out.push(c);
    }
    out.strip_prefix('_').map(str::to_string).unwrap_or(out)
}

/// The metric name for an OTLP metric (`MetricNamer.Build`, no namespace),
/// or why none can be made.
pub fn metric_name(
    name: &str,
    unit: &str,
    kind: NameType,
    strategy: TranslationStrategy,
) -> Result<String, String> {
    if !strategy.escapes() {
        let out = utf8_metric_name(name, unit, kind, strategy.adds_suffixes());
        return if out.is_empty() {
            Err(format!("metric name {name:?} is empty"))
        } else {
            Ok(out)
        };
    }
    let out = if strategy.adds_suffixes() {
        normalize_name(name, unit, kind)
    } else {
        let joined = name
            .split(|c: char| !is_metric_char(c) && c != '_')
            .filter(|t| !t.is_empty())
            .collect::<Vec<_>>()
            .join("_");
        match joined.chars().next() {
            Some(c) if c.is_ascii_digit() => format!("_{joined}"),
            _ => joined,
        }
    };
    if out.is_empty() {
        return Err(format!(
            "normalization for metric {name:?} resulted in empty name"
        ));
    }
    if out != name && out.chars().all(|c| c == '_') {
        return Err(format!(
            "normalization for metric {name:?} resulted in invalid name {out:?}"
        ));
    }
    Ok(out)
}

/// `normalizeName`: tokens of valid characters, unit tokens, `total` for
/// monotonic counters and `ratio` for gauges of unit `1`, joined by `_`.
fn normalize_name(name: &str, unit: &str, kind: NameType) -> String {
    let mut tokens: Vec<String> = name
        .split(|c: char| !is_metric_char(c))
        .filter(|t| !t.is_empty())
        .map(str::to_string)
        .collect();
    let (main, per) = unit_suffixes(unit);
    let (mut main, per) = (clean_unit(&main), clean_unit(&per));
    let per = if per == "per_" {
        String::new()
    } else {
        let p = per.strip_suffix('_').unwrap_or(&per).to_string();
        if tokens.contains(&p) {
            String::new()
        } else {
            p
        }
    };
    if tokens.contains(&main) {
        main.clear();
    }
    if !per.is_empty() {
        main = main.strip_suffix('_').unwrap_or(&main).to_string();
    }
    if !main.is_empty() {
        tokens.push(main);
    }
    if !per.is_empty() {
        tokens.push(per);
    }
    if kind == NameType::MonotonicCounter {
        tokens.retain(|t| t != "total");
        tokens.push("total".into());
    }
    if unit == "1" && kind == NameType::Gauge {
        tokens.retain(|t| t != "ratio");
        tokens.push("ratio".into());
    }
    let out = tokens.join("_");
    match out.chars().next() {
        Some(c) if c.is_ascii_digit() => format!("_{out}"),
        _ => out,
    }
}

/// `buildMetricName`: the name as sent, with suffixes added when asked.
fn utf8_metric_name(name: &str, unit: &str, kind: NameType, suffixes: bool) -> String {
    if !suffixes {
        return name.to_string();
    }
    let trim = |n: &str, suffix: &str| -> String {
        match n.strip_suffix(suffix) {
            Some(stem) if n.len() > suffix.len() + 1 => stem[..stem.len() - 1].to_string(),
            _ => n.to_string(),
        }
    };
    let mut name = name.to_string();
    let ratio = unit == "1" && kind == NameType::Gauge;
    if ratio {
        name = trim(&name, "ratio");
    }
    let total = kind == NameType::MonotonicCounter;
    if total {
        name = trim(&name, "total");
    }
    let (main, per) = unit_suffixes(unit);
    if !per.is_empty() {
        name = trim(&name, &per);
    }
    if !main.is_empty() && !name.ends_with(&main) {
        name = format!("{name}_{main}");
    }
    if !per.is_empty() {
        name = format!("{name}_{per}");
    }
    if total {
        name.push_str("_total");
    }
    if ratio {
        name.push_str("_ratio");
    }
    name
}

/// The unit as metadata carries it (`UnitNamer.Build` without escaping).
pub fn unit_name(unit: &str) -> String {
    let (main, per) = unit_suffixes(unit);
    let u = match (main.is_empty(), per.is_empty()) {
        (false, false) => format!("{main}_{per}"),
        (false, true) => main,
        _ => per,
    };
    let u = u.strip_prefix('_').unwrap_or(&u);
    u.strip_suffix('_').unwrap_or(u).to_string()
}

/// A Prometheus label name for an attribute key (`LabelNamer.Build`), or
/// why none can be made.
pub fn label_name(key: &str, strategy: TranslationStrategy) -> Result<String, String> {
    if key.is_empty() {
        return Err("label name is empty".into());
    }
    let only_underscores = |s: &str| s.chars().all(|c| c == '_');
    if !strategy.escapes() {
        if only_underscores(key) {
            return Err(format!("label name {key:?} contains only underscores"));
        }
        return Ok(key.to_string());
    }
    let reserved = key.len() >= 4 && key.starts_with("__") && key.ends_with("__");
    let inner = if reserved {
        &key[2..key.len() - 2]
    } else {
        key
    };
    let mut out = String::with_capacity(key.len() + 4);
    if reserved {
        out.push_str("__");
    }
    let mut prev_underscore = false;
    for c in inner.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c);
            prev_underscore = false;
        } else if !prev_underscore {
            out.push('_');
            prev_underscore = true;
        }
    }
    if reserved {
        out.push_str("__");
    }
    if out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert_str(0, "key_");
    }
    if only_underscores(&out) {
        return Err(format!(
            "normalization for label name {key:?} resulted in invalid name {out:?}"
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use NameType::*;
    use TranslationStrategy::*;

    #[test]
    fn metric_names_follow_prometheus() {
        // (name, unit, type, strategy, want); cases from otlptranslator's tests.
        let cases: &[(&str, &str, NameType, TranslationStrategy, &str)] = &[
            (
                "system.io",
                "By",
                MonotonicCounter,
                UnderscoreEscapingWithSuffixes,
                "system_io_bytes_total",
            ),
            (
                "http.server.duration",
                "ms",
                Other,
                UnderscoreEscapingWithSuffixes,
                "http_server_duration_milliseconds",
            ),
            (
                "queue.size",
                "{items}",
                Gauge,
                UnderscoreEscapingWithSuffixes,
                "queue_size",
            ),
            (
                "cpu.utilization",
                "1",
                Gauge,
                UnderscoreEscapingWithSuffixes,
                "cpu_utilization_ratio",
            ),
            (
                "requests",
                "1",
                MonotonicCounter,
                UnderscoreEscapingWithSuffixes,
                "requests_total",
            ),
            (
                "throughput",
                "By/s",
                Gauge,
                UnderscoreEscapingWithSuffixes,
                "throughput_bytes_per_second",
            ),
            (
                "requests_total",
                "",
                MonotonicCounter,
                UnderscoreEscapingWithSuffixes,
                "requests_total",
            ),
            (
                "total.requests",
                "",
                MonotonicCounter,
                UnderscoreEscapingWithSuffixes,
                "requests_total",
            ),
            (
                "latency_seconds",
                "s",
                Other,
                UnderscoreEscapingWithSuffixes,
                "latency_seconds",
            ),
            (
                "temp",
                "Cel",
                Gauge,
                UnderscoreEscapingWithSuffixes,
                "temp_celsius",
            ),
            (
                "2xx.count",
                "",
                Gauge,
                UnderscoreEscapingWithSuffixes,
                "_2xx_count",
            ),
            ("a..b", "", Gauge, UnderscoreEscapingWithoutSuffixes, "a_b"),
            (
                "system.io",
                "By",
                MonotonicCounter,
                UnderscoreEscapingWithoutSuffixes,
                "system_io",
            ),
            (
                "system.io",
                "By",
                MonotonicCounter,
                NoUtf8EscapingWithSuffixes,
                "system.io_bytes_total",
            ),
            (
                "cpu.utilization",
                "1",
                Gauge,
                NoUtf8EscapingWithSuffixes,
                "cpu.utilization_ratio",
            ),
            (
                "x_total",
                "",
                MonotonicCounter,
                NoUtf8EscapingWithSuffixes,
                "x_total",
            ),
            (
                "system.io",
                "By",
                MonotonicCounter,
                NoTranslation,
                "system.io",
            ),
        ];
        for (name, unit, kind, strategy, want) in cases {
            assert_eq!(
                metric_name(name, unit, *kind, *strategy).as_deref(),
                Ok(*want),
                "{name} {unit} {kind:?} {strategy:?}"
            );
        }
        assert!(metric_name("", "", Gauge, UnderscoreEscapingWithSuffixes).is_err());
        assert!(metric_name("...", "", Gauge, UnderscoreEscapingWithoutSuffixes).is_err());
        assert!(metric_name("", "", Gauge, NoTranslation).is_err());
    }

    #[test]
    fn label_names_follow_prometheus() {
        let cases: &[(&str, TranslationStrategy, Result<&str, &str>)] = &[
            (
                "service.name",
                UnderscoreEscapingWithSuffixes,
                Ok("service_name"),
            ),
            (
                "host__name",
                UnderscoreEscapingWithSuffixes,
                Ok("host_name"),
            ),
            (
                "__reserved__",
                UnderscoreEscapingWithSuffixes,
                Ok("__reserved__"),
            ),
            ("_private", UnderscoreEscapingWithSuffixes, Ok("_private")),
            ("0day", UnderscoreEscapingWithSuffixes, Ok("key_0day")),
            ("résumé", UnderscoreEscapingWithSuffixes, Ok("r_sum_")),
            ("...", UnderscoreEscapingWithSuffixes, Err("invalid name")),
            ("", UnderscoreEscapingWithSuffixes, Err("empty")),
            (
                "service.name",
                NoUtf8EscapingWithSuffixes,
                Ok("service.name"),
            ),
            ("__", NoTranslation, Err("only underscores")),
        ];
        for (key, strategy, want) in cases {
            match (label_name(key, *strategy), want) {
                (Ok(got), Ok(w)) => assert_eq!(got, *w, "{key}"),
                (Err(e), Err(w)) => assert!(e.contains(w), "{key}: {e}"),
                (got, want) => panic!("{key}: got {got:?}, want {want:?}"),
            }
        }
    }

    #[test]
    fn units_for_metadata() {
        for (unit, want) in [
            ("By/s", "bytes_per_second"),
            ("1", ""),
            ("{req}", ""),
            ("ms", "milliseconds"),
            ("", ""),
        ] {
            assert_eq!(unit_name(unit), want, "{unit}");
        }
    }
}
