//! Property tests: no input panics the parser, and valid bodies survive
//! being reformatted.

use proptest::prelude::*;

use super::*;

const FIXTURES: &[(&str, TextFormat)] = &[
    (
        include_str!("../../../tests/fixtures/text/python_client.prom"),
        TextFormat::Prometheus,
    ),
    (
        include_str!("../../../tests/fixtures/text/python_client.om.txt"),
        TextFormat::OpenMetrics,
    ),
    (
        include_str!("../../../tests/fixtures/text/python_client_extras.om.txt"),
        TextFormat::OpenMetrics,
    ),
];

fn any_format() -> impl Strategy<Value = TextFormat> {
    prop_oneof![Just(TextFormat::Prometheus), Just(TextFormat::OpenMetrics)]
}

/// Characters that matter to the grammar, plus some that do not.
fn grammar_char() -> impl Strategy<Value = char> {
    prop_oneof![
        4 => prop::sample::select(vec![
            '{', '}', '"', '\\', '=', ',', ' ', '\t', '\n', '#', 'a', '_', ':', '.', '1', 'e',
            '+', '-', 'n', 'N', 'I', 'f', 'p', 'x', '@', '\r', '\0', 'é', '€',
        ]),
        1 => any::<char>(),
    ]
}

fn every_line_accounted_for(body: &str, parsed: &ParsedText) {
    let lines = body.strip_suffix('\n').unwrap_or(body).split('\n').count();
    for e in &parsed.errors {
        match e {
            IngestError::Text { line, .. } => assert!(*line >= 1 && *line <= lines + 1),
            other => panic!("unexpected error kind {other:?}"),
        }
    }
    assert!(parsed.samples.len() + parsed.errors.len() <= lines + 1);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn random_strings_never_panic(body in ".{0,200}", format in any_format()) {
        let parsed = parse(&body, format);
        every_line_accounted_for(&body, &parsed);
    }

    #[test]
    fn grammar_soup_never_panics(
        chars in prop::collection::vec(grammar_char(), 0..200),
        format in any_format(),
    ) {
        let body: String = chars.into_iter().collect();
        let parsed = parse(&body, format);
        every_line_accounted_for(&body, &parsed);
    }

    #[test]
    fn mutated_fixtures_never_panic(
        which in 0..FIXTURES.len(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), 0u8..3, grammar_char()), 1..8),
    ) {
        let (body, format) = FIXTURES[which];
        let mut chars: Vec<char> = body.chars().collect();
        for (at, op, c) in edits {
            let i = at.index(chars.len() + 1);
            match op {
                0 => chars.insert(i, c),
                1 if i < chars.len() => { chars.remove(i); }
                _ if i < chars.len() => chars[i] = c,
                _ => chars.push(c),
            }
        }
        let body: String = chars.into_iter().collect();
        let parsed = parse(&body, format);
        every_line_accounted_for(&body, &parsed);
    }

    /// Any label value written with the standard escapes reads back exactly,
    /// and a body of N such lines yields N samples in both formats.
    #[test]
    fn escaped_label_values_round_trip(
        values in prop::collection::vec(".{0,20}", 1..5),
        value in any::<f64>(),
        ts in 0i64..4_000_000_000_000,
    ) {
        let mut prom = String::new();
        let mut om = String::new();
        for (i, v) in values.iter().enumerate() {
            let esc = v.replace('\\', "\\\\").replace('\n', "\\n").replace('"', "\\\"");
            prom.push_str(&format!("m{{i=\"{i}\",v=\"{esc}\"}} {value:?} {ts}\n"));
            om.push_str(&format!("m{{i=\"{i}\",v=\"{esc}\"}} {value:?} {}.{:03}\n", ts / 1000, ts % 1000));
        }
        om.push_str("# EOF\n");
        for (body, format) in [(prom, TextFormat::Prometheus), (om, TextFormat::OpenMetrics)] {
            let parsed = parse(&body, format);
            prop_assert!(parsed.errors.is_empty(), "{:?}", parsed.errors);
            prop_assert_eq!(parsed.samples.len(), values.len());
            for (i, (s, v)) in parsed.samples.iter().zip(&values).enumerate() {
                prop_assert_eq!(&s.labels[1].1, &i.to_string());
                prop_assert_eq!(&s.labels[2].1, v);
                if value.is_nan() {
                    prop_assert!(s.value.is_nan());
                } else {
                    prop_assert_eq!(s.value.to_bits(), value.to_bits());
                }
                prop_assert_eq!(s.timestamp_ms, Some(ts));
            }
        }
    }
}
