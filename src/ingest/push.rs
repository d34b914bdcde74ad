//! Pushgateway-compatible grouping paths:
//! `/metrics/job/<job>{/<label>/<value>}`, with `<label>@base64/<value>`.
//!
//! Semantics follow the Pushgateway's `handler/push.go` (`Push` and
//! `splitLabels`), which is what `prometheus_client.push_to_gateway` and
//! the other official clients are written against:
//!
//! - the path is `job/<job>` followed by `<label>/<value>` pairs; a lone
//!   `/` right after the job is ignored, as the Pushgateway router does;
//! - a name ending in `@base64` carries a base64url value (RFC 4648 §5);
//!   `=` alone, or any value decoding to nothing, is the empty string,
//!   which is allowed for every label but `job`;
//! - label names must be legacy names (`[a-zA-Z_][a-zA-Z0-9_]*`) and must
//!   not start with the reserved `__`.
//!
//! Deliberately more lenient than the Pushgateway: each segment is
//! percent-decoded here (the Pushgateway sees the already-decoded path,
//! so `%2F` splits a segment there and base64 is the only way to send a
//! `/`), and base64 values may use the standard alphabet (`+`, `/`) as
//! well as the URL-safe one. Deliberately stricter: a repeated label name
//! is refused instead of the last one silently winning.

use std::collections::HashSet;

use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine;

use super::IngestError;

/// Marks a label name whose value is base64url-encoded.
const BASE64_SUFFIX: &str = "@base64";

/// URL-safe alphabet, padding stripped beforehand, and lenient about
/// unused trailing bits like Go's `base64.RawURLEncoding`.
const BASE64URL: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::URL_SAFE,
    GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::RequireNone)
        .with_decode_allow_trailing_bits(true),
);

/// Parses the part of the path after `/metrics/` (e.g.
/// `job/backup/instance@base64/aG9zdA`) into grouping labels, `job` first
/// and the rest in path order. Refuses a missing or empty job, an odd
/// number of segments, invalid base64, duplicate names, and invalid label names.
pub fn parse_grouping_path(rest: &str) -> Result<Vec<(String, String)>, IngestError> {
    let mut segments: Vec<&str> = rest.split('/').collect();
    let first = percent_decode(segments.first().copied().unwrap_or(""))?;
    if first != "job" && first != "job@base64" {
        return Err(fail(format!(
            "the path must start with \"job/<job>\" or \"job@base64/<job>\", found {first:?}"
        )));
    }
    if segments.len() == 3 && segments.last() == Some(&"") {
        segments.pop();
    }
    if !segments.len().is_multiple_of(2) {
        let last = segments.last().copied().unwrap_or("");
        return Err(fail(format!(
            "odd number of path segments ({}): label {last:?} has no value",
            segments.len()
        )));
    }
    let mut labels = Vec::with_capacity(segments.len() / 2);
    let mut seen = HashSet::new();
    for pair in segments.chunks_exact(2) {
        let (name, value) = decode_pair(pair[0], pair[1])?;
        if !seen.insert(name.clone()) {
            return Err(fail(format!("duplicate label name {name:?}")));
        }
        labels.push((name, value));
    }
    match labels.first() {
        Some((_, job)) if job.is_empty() => Err(fail("the job name is empty".to_string())),
        _ => Ok(labels),
    }
}

fn fail(msg: String) -> IngestError {
    IngestError::PushPath(msg)
}

/// One `<name>/<value>` pair: percent-decoding, then base64 if marked.
fn decode_pair(raw_name: &str, raw_value: &str) -> Result<(String, String), IngestError> {
    let name = percent_decode(raw_name)?;
    let (name, is_base64) = match name.strip_suffix(BASE64_SUFFIX) {
        Some(stem) => (stem.to_string(), true),
        None => (name, false),
    };
    check_label_name(&name)?;
    let value = percent_decode(raw_value)?;
    if !is_base64 {
        return Ok((name, value));
    }
    let value = decode_base64(&value).map_err(|e| {
        fail(format!(
            "invalid base64 value {value:?} for label {name:?}: {e}"
        ))
    })?;
    Ok((name, value))
}

/// Legacy label name, not reserved (`model.LabelNameRE` and the
/// `__` check in `splitLabels`).
fn check_label_name(name: &str) -> Result<(), IngestError> {
    let mut bytes = name.bytes();
    let valid = bytes
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if !valid {
        return Err(fail(format!("invalid label name {name:?}")));
    }
    if name.starts_with("__") {
        return Err(fail(format!(
            "label name {name:?} is reserved (names starting with \"__\" are internal)"
        )));
    }
    Ok(())
}

/// Base64url with or without padding (Pushgateway's `decodeBase64`:
/// `RawURLEncoding` after trimming `=`), also taking `+` and `/`.
fn decode_base64(text: &str) -> Result<String, String> {
    let unpadded = text.trim_end_matches('=');
    let url_safe: String = unpadded
        .chars()
        .map(|c| match c {
            '+' => '-',
            '/' => '_',
            c => c,
        })
        .collect();
    let bytes = BASE64URL.decode(url_safe).map_err(|e| e.to_string())?;
    String::from_utf8(bytes).map_err(|_| "decoded value is not valid UTF-8".to_string())
}

/// RFC 3986 percent-decoding of one path segment. `+` stays `+`: that
/// form-encoding rule does not apply to paths.
fn percent_decode(segment: &str) -> Result<String, IngestError> {
    if !segment.contains('%') {
        return Ok(segment.to_string());
    }
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b != b'%' {
            out.push(b);
            i += 1;
            continue;
        }
        let hi = bytes.get(i + 1).and_then(|&h| hex_digit(h));
        let lo = bytes.get(i + 2).and_then(|&l| hex_digit(l));
        match (hi, lo) {
            (Some(hi), Some(lo)) => out.push(hi << 4 | lo),
            _ => {
                return Err(fail(format!(
                    "invalid percent-encoding at byte {i} of path segment {segment:?}"
                )))
            }
        }
        i += 3;
    }
    String::from_utf8(out).map_err(|_| {
        fail(format!(
            "path segment {segment:?} is not valid UTF-8 once percent-decoded"
        ))
    })
}

fn hex_digit(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn labels(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    const OK: &[(&str, &[(&str, &str)])] = &[
        // Pushgateway README.
        ("job/some_job", &[("job", "some_job")]),
        (
            "job/some_job/instance/some_instance",
            &[("job", "some_job"), ("instance", "some_instance")],
        ),
        (
            "job/directory_cleaner/path@base64/L3Zhci90bXA",
            &[("job", "directory_cleaner"), ("path", "/var/tmp")],
        ),
        (
            "job/example/first_label@base64/=",
            &[("job", "example"), ("first_label", "")],
        ),
        // Written by prometheus_client's `push_to_gateway` (0.26).
        ("job/backup", &[("job", "backup")]),
        (
            "job@base64/YmF0Y2gvbmlnaHRseQ==/empty@base64/=/instance/host%3A9100\
             /path@base64/L3Zhci90bXA=/space@base64/YSBi/utf/%C3%BCn%C3%AF%2Bx%3F",
            &[
                ("job", "batch/nightly"),
                ("empty", ""),
                ("instance", "host:9100"),
                ("path", "/var/tmp"),
                ("space", "a b"),
                ("utf", "ünï+x?"),
            ],
        ),
        (
            "job@base64/YSBi/x@base64/w6kvw7w=",
            &[("job", "a b"), ("x", "é/ü")],
        ),
        // Written by the Java client.
        (
            "job@base64/YS9i/l/v/l2@base64/75-_Lw==",
            &[("job", "a/b"), ("l", "v"), ("l2", "\u{F7FF}/")],
        ),
        // Leniencies: padding optional, standard alphabet, percent-encoding.
        ("job/x/p@base64/75-_Lw", &[("job", "x"), ("p", "\u{F7FF}/")]),
        ("job/x/p@base64/75+_Lw", &[("job", "x"), ("p", "\u{F7FF}/")]),
        (
            "job/x/p@base64/75%2B%2FLw%3D%3D",
            &[("job", "x"), ("p", "\u{F7FF}/")],
        ),
        ("job/x/p@base64/", &[("job", "x"), ("p", "")]),
        ("job/x/p/a%2Fb", &[("job", "x"), ("p", "a/b")]),
        ("job/a+b", &[("job", "a+b")]),
        ("jo%62/x", &[("job", "x")]),
        ("job/x/in%73tance/i", &[("job", "x"), ("instance", "i")]),
        // Pushgateway's router: a lone `/` after the job is ignored, and
        // an empty plain value is the empty string.
        ("job/x/", &[("job", "x")]),
        ("job/x/instance/", &[("job", "x"), ("instance", "")]),
        ("job/x/_a/1/B9/2", &[("job", "x"), ("_a", "1"), ("B9", "2")]),
    ];

    #[test]
    fn accepted_paths() {
        for (path, want) in OK {
            match parse_grouping_path(path) {
                Ok(got) => assert_eq!(got, labels(want), "{path:?}"),
                Err(e) => panic!("{path:?}: {e}"),
            }
        }
    }

    const ERRORS: &[(&str, &str)] = &[
        ("", "must start with \"job/<job>\""),
        ("instance/i1", "or \"job@base64/<job>\", found \"instance\""),
        ("/job/x", "must start with"),
        ("jobs/x", "must start with"),
        (
            "job",
            "odd number of path segments (1): label \"job\" has no value",
        ),
        (
            "job/x/instance",
            "odd number of path segments (3): label \"instance\" has no value",
        ),
        ("job/x/a/b/", "odd number of path segments (5)"),
        ("job/", "the job name is empty"),
        ("job//a/b", "the job name is empty"),
        ("job@base64/=", "the job name is empty"),
        ("job@base64/", "the job name is empty"),
        ("job/x/job/y", "duplicate label name \"job\""),
        ("job/x/a/1/a@base64/MQ", "duplicate label name \"a\""),
        ("job/x/1a/v", "invalid label name \"1a\""),
        ("job/x/a-b/v", "invalid label name \"a-b\""),
        ("job/x//v", "invalid label name \"\""),
        ("job/x/@base64/v", "invalid label name \"\""),
        ("job/x/a.b/v", "invalid label name \"a.b\""),
        ("job/x/__name__/v", "label name \"__name__\" is reserved"),
        ("job/x/__a@base64/dg", "label name \"__a\" is reserved"),
        (
            "job/x/a@base64/!!",
            "invalid base64 value \"!!\" for label \"a\"",
        ),
        ("job/x/a@base64/Y", "invalid base64 value \"Y\""),
        (
            "job@base64/!!",
            "invalid base64 value \"!!\" for label \"job\"",
        ),
        ("job/x/a@base64/_w", "decoded value is not valid UTF-8"),
        (
            "job/x/a/%zz",
            "invalid percent-encoding at byte 0 of path segment \"%zz\"",
        ),
        ("job/x/a/ab%2", "invalid percent-encoding at byte 2"),
        ("job/x/a/%FF", "not valid UTF-8 once percent-decoded"),
    ];

    #[test]
    fn refused_paths() {
        for (path, want) in ERRORS {
            match parse_grouping_path(path) {
                Ok(got) => panic!("{path:?} was accepted as {got:?}"),
                Err(IngestError::PushPath(msg)) => {
                    assert!(msg.contains(want), "{path:?}: {msg:?} lacks {want:?}")
                }
                Err(other) => panic!("{path:?}: wrong error kind {other:?}"),
            }
        }
    }

    #[test]
    fn error_message_is_prefixed() {
        let err = parse_grouping_path("job/x/1a/v").unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid push path: invalid label name \"1a\""
        );
    }

    /// Encodes a grouping key the way `prometheus_client` does.
    fn client_path(job: &str, others: &[(String, String)]) -> String {
        use base64::engine::general_purpose::URL_SAFE;
        let escape = |k: &str, v: &str| {
            if v.is_empty() {
                format!("{k}@base64/=")
            } else if v.contains(['/', ' ']) || v.contains('%') {
                format!("{k}@base64/{}", URL_SAFE.encode(v))
            } else {
                format!("{k}/{v}")
            }
        };
        let mut path = escape("job", job);
        for (k, v) in others {
            path.push('/');
            path.push_str(&escape(k, v));
        }
        path
    }

    proptest! {
        #[test]
        fn client_encoding_round_trips(
            job in "[^\u{0}]{1,12}",
            others in prop::collection::btree_map("[a-z][a-z0-9_]{0,6}", ".{0,12}", 0..5),
        ) {
            let others: Vec<(String, String)> = others
                .into_iter()
                .filter(|(k, _)| k != "job")
                .collect();
            let path = client_path(&job, &others);
            let got = parse_grouping_path(&path).map_err(|e| TestCaseError::fail(e.to_string()))?;
            let mut want = vec![("job".to_string(), job.clone())];
            want.extend(others);
            prop_assert_eq!(got, want);
        }

        #[test]
        fn random_paths_never_panic(path in ".{0,80}") {
            let _ = parse_grouping_path(&path);
        }

        #[test]
        fn path_soup_never_panics(
            chars in prop::collection::vec(
                prop::sample::select(vec!['j', 'o', 'b', '/', '@', 'a', 's', 'e', '6', '4', '%', '2', 'F', '=', '_', '+', 'é']),
                0..60,
            )
        ) {
            let path: String = chars.into_iter().collect();
            if let Ok(labels) = parse_grouping_path(&path) {
                prop_assert_eq!(labels[0].0.as_str(), "job");
                prop_assert!(!labels[0].1.is_empty());
            }
        }
    }
}
