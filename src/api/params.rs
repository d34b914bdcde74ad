//! Request parameters the Prometheus way: from the URL query and, for
//! form-encoded POSTs, from the body (body values first, as Go's
//! `Request.FormValue` sees them), with Prometheus's time and duration
//! syntaxes and error wording (`parseTime`, `parseDuration` in
//! `web/api/v1/api.go`).

use axum::extract::{FromRequest, Request};
use axum::http::{header, Method};

use super::ApiError;
use crate::duration::PromDuration;

/// Largest form body accepted on query endpoints.
const MAX_FORM_BODY: usize = 8 << 20;

/// All parameters of a request, in Go's `r.Form` order.
#[derive(Debug, Clone, Default)]
pub struct Params(Vec<(String, String)>);

impl FromRequest<super::AppState> for Params {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &super::AppState) -> Result<Self, Self::Rejection> {
        let url_pairs = parse_pairs(req.uri().query().unwrap_or("").as_bytes());
        let is_form = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
        let mut pairs = Vec::new();
        if req.method() == Method::POST && is_form {
            let body =
                super::read_body(req.into_body(), MAX_FORM_BODY, state.body_budget()).await?;
            pairs = parse_pairs(&body);
        }
        pairs.extend(url_pairs);
        Ok(Params(pairs))
    }
}

fn parse_pairs(b: &[u8]) -> Vec<(String, String)> {
    form_urlencoded::parse(b).into_owned().collect()
}

impl Params {
    /// Parameters from pairs (for tests and internal callers).
    pub fn from_pairs(pairs: Vec<(String, String)>) -> Params {
        Params(pairs)
    }

    /// The first value of `key`, if present and non-empty.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    }

    /// Every value of `key` (e.g. `match[]`).
    pub fn all(&self, key: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// A timestamp parameter in ms; `default` when absent.
    pub fn time(&self, key: &str, default: i64) -> Result<i64, ApiError> {
        match self.get(key) {
            None => Ok(default),
            Some(v) => parse_time(v).ok_or_else(|| {
                ApiError::BadData(format!(
                    "invalid parameter \"{key}\": cannot parse \"{v}\" to a valid timestamp"
                ))
            }),
        }
    }

    /// A duration parameter in ms (a Prometheus duration or float seconds).
    pub fn duration(&self, key: &str) -> Result<Option<i64>, ApiError> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => parse_duration(v).map(Some).ok_or_else(|| {
                ApiError::BadData(format!(
                    "invalid parameter \"{key}\": cannot parse \"{v}\" to a valid duration"
                ))
            }),
        }
    }

    /// A non-negative integer `limit` parameter; 0 or absent means none.
    pub fn limit(&self) -> Result<Option<usize>, ApiError> {
        match self.get("limit") {
            None => Ok(None),
            Some(v) => match v.parse::<i64>() {
                Ok(n) if n > 0 => Ok(Some(n as usize)),
                Ok(0) => Ok(None),
                _ => Err(ApiError::BadData(format!(
                    "invalid parameter \"limit\": cannot parse \"{v}\" to a valid limit"
                ))),
            },
        }
    }
}

/// Prometheus's `parseTime`: float Unix seconds or RFC 3339, to ms. The
/// extreme values Prometheus uses for "unbounded" map to `i64::MIN/MAX`.
pub fn parse_time(s: &str) -> Option<i64> {
    if let Ok(f) = s.parse::<f64>() {
        if !f.is_finite() {
            return None;
        }
        let ms = (f * 1000.0).round();
        if ms >= i64::MAX as f64 || ms <= i64::MIN as f64 {
            return None;
        }
        return Some(ms as i64);
    }
    match s {
        "-292273086-05-16T16:47:06Z" => return Some(i64::MIN / 1000),
        "292277025-08-18T07:12:54.999999999Z" => return Some(i64::MAX / 1000),
        _ => {}
    }
    parse_rfc3339(s)
}

/// Prometheus's `parseDuration`: float seconds or a duration string, to ms.
pub fn parse_duration(s: &str) -> Option<i64> {
    if let Ok(f) = s.parse::<f64>() {
        let ms = f * 1000.0;
        if !ms.is_finite() || ms >= i64::MAX as f64 || ms <= i64::MIN as f64 {
            return None;
        }
        return Some(ms.round() as i64);
    }
    s.parse::<PromDuration>().ok().map(|d| d.as_millis_i64())
}

/// RFC 3339 (`2006-01-02T15:04:05.999999999Z07:00`) to Unix ms.
fn parse_rfc3339(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't') {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let t = s.get(r)?;
        if t.bytes().all(|c| c.is_ascii_digit()) {
            t.parse().ok()
        } else {
            None
        }
    };
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let (h, mi, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || sec > 60 {
        return None;
    }
    let mut i = 19;
    let mut frac_ms = 0i64;
    if b.get(i) == Some(&b'.') {
        let start = i + 1;
        i = start;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        let digits = s.get(start..i)?;
        if digits.is_empty() {
            return None;
        }
        let mut padded: String = digits.chars().take(3).collect();
        while padded.len() < 3 {
            padded.push('0');
        }
        frac_ms = padded.parse().ok()?;
    }
    let offset_s = match s.get(i..)? {
        "Z" | "z" => 0,
        tz if tz.len() == 6
            && matches!(tz.as_bytes()[0], b'+' | b'-')
            && tz.as_bytes()[3] == b':' =>
        {
            let oh = num(i + 1..i + 3)?;
            let om = num(i + 4..i + 6)?;
            let sign = if tz.starts_with('-') { -1 } else { 1 };
            sign * (oh * 3600 + om * 60)
        }
        _ => return None,
    };
    let days = days_from_civil(y, mo, d);
    let secs = days * 86_400 + h * 3600 + mi * 60 + sec - offset_s;
    secs.checked_mul(1000)?.checked_add(frac_ms)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
/// `days_from_civil`).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_parse_like_prometheus() {
        let cases: &[(&str, Option<i64>)] = &[
            ("0", Some(0)),
            ("1435781451.781", Some(1_435_781_451_781)),
            ("-1.5", Some(-1500)),
            ("2015-07-01T20:10:51.781Z", Some(1_435_781_451_781)),
            ("2015-07-01T20:10:51Z", Some(1_435_781_451_000)),
            ("2015-07-01T22:10:51.7+02:00", Some(1_435_781_451_700)),
            ("1970-01-01T00:00:00Z", Some(0)),
            ("2015-07-01", None),
            ("abc", None),
            ("NaN", None),
            ("2015-13-01T00:00:00Z", None),
        ];
        for (s, want) in cases {
            assert_eq!(parse_time(s), *want, "{s}");
        }
    }

    #[test]
    fn durations_parse_like_prometheus() {
        let cases: &[(&str, Option<i64>)] = &[
            ("15", Some(15_000)),
            ("0.5", Some(500)),
            ("1m", Some(60_000)),
            ("1h30m", Some(5_400_000)),
            ("5x", None),
            ("", None),
        ];
        for (s, want) in cases {
            assert_eq!(parse_duration(s), *want, "{s}");
        }
    }

    #[test]
    fn body_values_come_before_url_values() {
        let p = Params::from_pairs(vec![
            ("query".into(), "up".into()),
            ("match[]".into(), "a".into()),
            ("query".into(), "down".into()),
            ("match[]".into(), "b".into()),
        ]);
        assert_eq!(p.get("query"), Some("up"));
        assert_eq!(p.all("match[]"), vec!["a", "b"]);
        assert!(p.time("time", 7).unwrap() == 7);
        let bad = Params::from_pairs(vec![("time".into(), "x".into())]);
        assert_eq!(
            bad.time("time", 0).unwrap_err().to_string(),
            "invalid parameter \"time\": cannot parse \"x\" to a valid timestamp"
        );
    }
}
